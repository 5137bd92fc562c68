"""Prove that an hls4ml project computes a model's outputs bit for bit: the library under ``l1ad validate``.

:func:`check` compares, on every event given, the C simulation (in process) with the model evaluated
exactly (:mod:`.reference`), every hls4ml layer's type with the exact values it must hold (fixed-point
audit), and the project's own test bench with the in-process simulation on the test bench's events.
When an output differs (or on request) it traces the differing events layer by layer through hls4ml's
own trace and names the first layer that differs.
"""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

import numpy as np

from l1ad.common.errors import L1adError

from . import reference
from .csim import Csim, run_testbench, testbench_expected
from .reader import as_graph
from .fixed import Fixed, Value, concatenate
from .project import layer_holders, project_graph, project_info


class _Audit:
    """Observed ranges of every hls4ml layer's exact values against its types, accumulated over chunks."""

    def __init__(self, layers: list[dict], held: dict[str, str]):
        self.rows, computed = [], set()
        for layer in layers:
            # the first layer that holds a node computes it (rounds its input: the audit reads the values before the
            # rounding); a later one (a copy for an output) receives it rounded
            copy = held.get(layer["name"]) in computed
            computed.add(held.get(layer["name"]))
            for kind in ("type", "accum_type"):
                if layer.get(kind) and layer["name"] in held:
                    t = Fixed.parse(layer[kind])
                    self.rows.append({"layer": layer["name"], "keras": held[layer["name"]],
                                      "what": "output" if kind == "type" else "accumulator", "type": layer[kind],
                                      "type_min": t.min, "type_max": t.max, "lsb": t.lsb,
                                      "saturating": t.overflow.startswith("SAT"), "observed_min": np.inf,
                                      "observed_max": -np.inf, "values": 0, "rounded": 0, "outside": 0,
                                      "copy": copy})

    def add(self, values: dict) -> None:
        for row in self.rows:
            pre = values[row["keras"]].out if row["copy"] else values[row["keras"]].pre
            row["observed_min"] = min(row["observed_min"], float(pre.min(initial=np.inf)))
            row["observed_max"] = max(row["observed_max"], float(pre.max(initial=-np.inf)))
            row["values"] += int(pre.size)
            row["rounded"] += int(np.count_nonzero(pre / row["lsb"] != np.round(pre / row["lsb"])))
            row["outside"] += int(np.count_nonzero((pre > row["type_max"]) | (pre < row["type_min"])))

    def result(self) -> list[dict]:
        out = []
        for row in self.rows:
            row = dict(row)
            saturating, outside = row.pop("saturating"), row.pop("outside")
            row.pop("lsb"), row.pop("copy")
            row["saturated"], row["wrapped"] = (outside, 0) if saturating else (0, outside)
            out.append(row)
        return out


def _agreement(got: Value, expected: Value) -> dict:
    """Events whose values are identical in every bit, compared as exact integers, and the widest value compared.
    Nothing compared, or arrays of different lengths (e.g. a test bench that wrote fewer lines), is a failure
    (fraction 0), never "exact"."""
    n = len(got.num)
    if n == 0 or n != len(expected.num):
        return {"compared": 0, "bit_identical": 0, "fraction": 0.0, "max_abs_difference": None, "widest_bits": 0}
    same = got.identical(expected)
    difference = np.abs(got.out.reshape(n, -1) - expected.out.reshape(n, -1))
    return {"compared": int(n), "bit_identical": int(same.sum()), "fraction": float(same.mean()),
            "max_abs_difference": float(np.max(difference)) if np.all(same) or np.any(difference) else None,
            "widest_bits": max(got.widest_bits(), expected.widest_bits())}


def trace_layers(graph, project_dir: str | Path, x: list[np.ndarray], info: dict) -> dict:
    """hls4ml's layer-by-layer trace of events ``x`` against their exact values; the first layer that differs.

    Each hls4ml layer is compared with the node whose values it holds. hls4ml traces only a model it built in this
    process, so the project's graph (``graph``) is converted again with the project's options (``info``, its
    record) into a temporary folder; its
    firmware sources must equal the project's. hls4ml's trace reads values as float64: a diagnosis of where values
    part, not the proof of exactness (that is the outputs' comparison, in integers).
    """
    import shutil
    import tempfile

    from .convert import FirmwareOptions, hls_model

    project_dir = Path(project_dir)
    tmp = Path(tempfile.mkdtemp(prefix="l1ad-trace-"))
    try:
        hls, _ = hls_model(graph, FirmwareOptions(**info["options"]), tmp / "prj")
        with contextlib.redirect_stdout(io.StringIO()):  # hls4ml narrates the writing and compilation
            hls.write()
            same = all((tmp / "prj" / "firmware" / f.relative_to(project_dir / "firmware")).read_bytes() == f.read_bytes()
                       for f in (project_dir / "firmware").rglob("*") if f.is_file() and f.suffix in (".cpp", ".h")
                       and "ap_types" not in f.parts and "nnet_utils" not in f.parts)
            _, traced = hls.trace(x[0] if len(x) == 1 else [np.ascontiguousarray(a) for a in x])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    values = reference.evaluate(graph, x)
    held = layer_holders(info)
    first, rows = None, []
    layers = info["layers"]
    for layer in layers:
        name = layer["name"]
        if name not in traced:
            continue
        if name not in held:
            rows.append({"layer": name, "identical_events": None, "note": "no node of the model's graph"})
            continue
        expected = values[held[name]].out.reshape(len(x[0]), -1)
        identical = int(np.sum(np.all(traced[name].reshape(len(x[0]), -1) == expected, axis=1)))
        rows.append({"layer": name, "node": held[name], "identical_events": identical})
        if identical < len(x[0]) and first is None:
            first = name
    compared = {r["layer"] for r in rows if r["identical_events"] is not None}
    # hls4ml traces every layer but the inputs; complete means every one of them was compared
    missing = [layer["name"] for layer in layers if layer["class"] != "Input" and layer["name"] not in compared]
    return {"events": int(len(x[0])), "layers": rows, "layers_compared": len(compared), "layers_not_compared": missing,
            "run": True, "project_sources_identical": bool(same), "first_divergent_layer": first,
            "first_divergent_node": held.get(first), "complete": not missing and len(compared) > 0}


def check(model, project_dir: str | Path, x, testbench: bool = True, trace: str = "auto", trace_events: int = 500,
          threads: int | None = None, info: dict | None = None) -> dict:
    """Check the project in ``project_dir`` against ``model`` on inputs ``x``; return a dict of findings.

    ``model``: the Keras model or its graph; None takes the graph the project was converted from.

    ``trace``: "auto" (trace only when an output differs), "always" or "never". Keys: ``outputs``
    (agreement per output), ``audit``, ``testbench``, ``trace``, ``csim`` and ``exact`` (the outputs),
    ``mismatched`` (event indices), ``timings`` and ``checks``/``passed``. ``info``: the project's record, when
    the caller holds it already (read from ``l1ad.json`` otherwise).
    """
    xs = [np.asarray(a) for a in (x if isinstance(x, (list, tuple)) else [x])]
    if len(xs[0]) == 0:
        raise L1adError("no events given: nothing would be compared, so nothing would be shown exact")
    info = info or project_info(project_dir)
    graph = as_graph(model) if model is not None else project_graph(project_dir)
    labels = dict(zip(graph.outputs, info.get("outputs", graph.outputs)))
    timings = {}
    start = time.perf_counter()
    sim = Csim(project_dir, threads, info)
    timings["csim_build_s" if sim.built else "csim_load_s"] = time.perf_counter() - start
    with _timed(timings, "exact_reference_s"):
        exact, audit = _exact_with_audit(graph, xs, info, layer_holders(info))
    with _timed(timings, "csim_s"):
        csim = sim.predict_exact(xs)
    doc = {"events": int(len(xs[0])),
           "outputs": {labels[n]: _agreement(c, e) for n, c, e in zip(graph.outputs, csim, exact)}, "audit": audit}
    mismatched = _mismatched_events(csim, exact)
    if testbench:  # the project's own test bench (as a vendor C simulation runs it) against the exact outputs
        with _timed(timings, "testbench_s"):
            bench, expected = run_testbench(project_dir), testbench_expected(project_dir)
        doc["testbench"] = {labels[n]: _agreement(b, e) for n, b, e in zip(graph.outputs, bench, expected)}
    if trace == "always" or (trace == "auto" and len(mismatched) > 0):
        with _timed(timings, "trace_s"):
            doc["trace"] = _trace(graph, project_dir, xs, info, mismatched, trace_events, trace == "always")
    else:
        doc["trace"] = {"run": False, "reason": "every output bit-identical" if trace == "auto" else "not requested"}
    doc["checks"] = _checks(doc, mismatched)
    doc["passed"] = all(doc["checks"].values())
    doc["timings"] = {k: round(v, 3) for k, v in timings.items()}
    doc.update(csim=[v.out for v in csim], exact=[v.out for v in exact], csim_values=csim, exact_values=exact,
               mismatched=mismatched)
    return doc


@contextlib.contextmanager
def _timed(timings: dict, key: str):
    start = time.perf_counter()
    yield
    timings[key] = time.perf_counter() - start


def _exact_with_audit(graph, xs: list[np.ndarray], info: dict, held: dict) -> tuple[list[Value], dict]:
    """The exact reference's outputs and the fixed-point audit of every layer (saturations, wraps), in one pass."""
    audit = _Audit(info["layers"], held)
    exact = [[] for _ in graph.outputs]
    for _, values in reference.chunks(graph, xs):
        for i, name in enumerate(graph.outputs):
            exact[i].append(values[name])
        audit.add(values)
    rows = audit.result()
    summary = {"layers": rows, "total_saturated": sum(r["saturated"] for r in rows),
               "total_wrapped": sum(r["wrapped"] for r in rows),
               "layers_without_counterpart": [l["name"] for l in info["layers"] if l["name"] not in held]}
    return [concatenate(parts) for parts in exact], summary


def _mismatched_events(csim: list[Value], exact: list[Value]) -> np.ndarray:
    """Indices of the events where any output differs in any bit."""
    same = np.ones(len(csim[0].num), dtype=bool)
    for c, e in zip(csim, exact):
        same &= c.identical(e)
    return np.flatnonzero(~same)


def _trace(graph, project_dir, xs, info, mismatched, trace_events: int, with_sample: bool) -> dict:
    """Layer-by-layer comparison on the mismatched events (and a random sample when asked for)."""
    rng = np.random.default_rng(0)
    sample = rng.choice(len(xs[0]), size=min(trace_events, len(xs[0])), replace=False)
    picked = np.unique(np.concatenate([mismatched[:trace_events], sample if with_sample else []])).astype(int)
    # float64: hls4ml traces in the input dtype, and float32 cannot hold a layer wider than 24 significant bits
    doc = trace_layers(graph, project_dir, [a[picked].astype(np.float64) for a in xs], info)
    doc["mismatched_events_traced"] = int(min(len(mismatched), trace_events))
    return doc


def _checks(doc: dict, mismatched: np.ndarray) -> dict[str, bool]:
    checks = {
        "all_outputs_bit_identical": len(mismatched) == 0,
        "no_wraps": doc["audit"]["total_wrapped"] == 0,
        "every_layer_matched": not doc["audit"]["layers_without_counterpart"],
    }
    if "testbench" in doc:
        checks["testbench_equals_exact_reference"] = all(a["fraction"] == 1.0 for a in doc["testbench"].values())
    if doc["trace"]["run"]:
        checks["trace_complete"] = doc["trace"]["complete"] and doc["trace"]["project_sources_identical"]
        checks["trace_has_no_divergent_layer"] = doc["trace"]["first_divergent_layer"] is None
    return checks

"""Differential benchmark: seeded random QKeras models of the supported class (dense: l1ad.zoo.random; convolutional,
with --conv: l1ad.zoo.random_conv) through the library chain, reporting what happens to each. Measurement only.

Run on demand: `nice -n 5 .venv/bin/python benchmarks/bench_differential.py [--models N] [--start SEED]
[--events N] [--rtl-every K] [--json FILE] [--conv]` (about a minute per model on 2 cores, more when a trace runs).
Per model: check_model (acceptance); the exact reference against QKeras' own predict on the quantized inputs;
convert_model and check() (C simulation vs the exact reference on inputs that hit rounding ties and saturation,
with the first divergent layer); for every K-th model that converted build_rtl (Verilator vs the C simulation). Each
stage's exception is classified: refused (an L1adError, UnsupportedModel included) or crashed (anything else).
One line per model, then a summary. C++ and Verilator builds use -O1 / -O0 (as the tests) unless
L1AD_CSIM_OPT / L1AD_VERILATOR_OPT say otherwise.
"""

import argparse
import multiprocessing
import json
import os
import shutil
import tempfile
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("L1AD_CSIM_OPT", "-O1")
os.environ.setdefault("L1AD_VERILATOR_OPT", "-O0")


class Stop(Exception):
    """A stage ended the model's chain; ``outcome`` is refused or crashed."""

    def __init__(self, outcome: str, stage: str, detail: str):
        super().__init__(detail)
        self.outcome, self.stage, self.detail = outcome, stage, detail


def _stage(stage: str, job, *args, **kwargs):
    from l1ad.common.errors import L1adError

    try:
        return job(*args, **kwargs)
    except L1adError as error:
        raise Stop("refused", stage, f"{type(error).__name__}: {str(error).strip().splitlines()[0]}") from error
    except Exception as error:  # noqa: BLE001 - every other exception is a finding
        lines = [line for line in traceback.format_exception_only(error)[-1].strip().splitlines() if line.strip()]
        where = traceback.extract_tb(error.__traceback__)[-1]
        raise Stop("crashed", stage, f"{lines[-1][:200]} (at {Path(where.filename).name}:{where.lineno})") from error


def _lsb(graph, name: str):
    node = graph[name]
    return node.fixed.lsb if node.kind == "quantizer" else None


def _compare(graph, got: list, expected: list) -> dict:
    """Per output: fraction of events identical, max |difference| (and in LSBs of the output's quantizer)."""
    out = {}
    for name, g, e in zip(graph.outputs, got, expected):
        g, e = np.asarray(g, dtype=np.float64).reshape(len(g), -1), np.asarray(e).reshape(len(e), -1)
        diff = float(np.max(np.abs(g - e))) if len(g) else 0.0
        lsb = _lsb(graph, name)
        out[name] = {"fraction": float(np.mean(np.all(g == e, axis=1))), "max_abs": diff,
                     "max_lsb": diff / lsb if lsb else None}
    return out


def _qkeras_vs_exact(model, graph, x: np.ndarray, exact: list) -> dict:
    from l1ad.firmware import reference

    x_q = reference.evaluate(graph, x, only=set(graph.input_quantizers.values()))
    x_q = x_q[next(iter(graph.input_quantizers.values()))].out
    from l1ad.training.models import as_input

    predicted = model.predict(as_input(model, x_q.astype(np.float32)), verbose=0, batch_size=4096)
    compared = _compare(graph, predicted if isinstance(predicted, list) else [predicted], exact)
    for name, row in compared.items():  # Keras computes in float32: a 24-bit significand
        source = graph[graph[name].inputs[0]] if graph[name].inputs else graph[name]
        row["bits_before_quantizer"] = source.result.width
    return compared


def _divergence(result: dict, info: dict, graph) -> dict:
    """The first divergent hls4ml layer from check()'s trace, with its hls4ml type and the node's QKeras quantizer."""
    trace = result.get("trace", {})
    layer, node = trace.get("first_divergent_layer"), trace.get("first_divergent_node")
    types = {row["name"]: (row["type"], row["accum_type"]) for row in info["layers"]}
    identical = next((r["identical_events"] for r in trace.get("layers", []) if r["layer"] == layer), None)
    quantizer = getattr(graph[node], "quantizer", None) if node else None
    return {"layer": layer, "node": node, "hls_type": types.get(layer, (None, None))[0],
            "accum_type": types.get(layer, (None, None))[1], "identical_events": identical,
            "traced_events": trace.get("events"),
            "qkeras": None if quantizer is None else [quantizer.k, quantizer.i, quantizer.f],
            "kind": graph[node].kind if node else None}


def _firmware(model, graph, x, project: Path, with_rtl) -> dict:
    from l1ad.firmware import build_rtl, check, convert_model
    from l1ad.firmware.convert import project_info

    _stage("convert", convert_model, model, project)
    # float64: hls4ml's layer trace stores each layer's values in the input's dtype (float32 would round wide types)
    result = _stage("check", check, model, project, x.astype(np.float64), testbench=False, threads=1)
    info = project_info(project)
    doc = {"csim": _compare(graph, result["csim"], result["exact"]), "checks": result["checks"],
           "wrapped": result["audit"]["total_wrapped"], "saturated": result["audit"]["total_saturated"],
           "types": {row["name"]: row["type"] for row in info["layers"]}}
    if len(result["mismatched"]):
        doc["divergence"] = _divergence(result, info, graph)
    if with_rtl:
        rtl_dir = project.parent / project.name.replace("hls", "rtl")
        try:
            rtl = _stage("rtl", build_rtl, graph, rtl_dir, x, expected=result["csim_values"], synthesize=False,
                         breakdown=False, progress=False)
            doc["rtl"] = {"bit_exact": rtl["bit_exact"], "vs_csim": rtl["rtl_vs_reference"],
                          "cycles": rtl["latency"]["cycles"]}
        except Stop as stop:
            doc["rtl"] = {"bit_exact": None, "outcome": stop.outcome, "detail": stop.detail}
    return doc


def spec_of(seed: int, generation: int, conv: bool):
    """(the random model's spec, the function that builds it): a dense model of ``generation`` (1: without the forms
    of issue 33), or a convolutional one (``conv``)."""
    from l1ad.zoo.random import build, describe
    from l1ad.zoo.random_conv import build_conv, describe_conv

    return (describe_conv(seed), build_conv) if conv else (describe(seed, generation), build)


def run_one(seed: int, events: int, tmp: Path, with_rtl: bool, keep: bool = False, generation: int = 2,
            conv: bool = False) -> dict:
    """One model through the chain; ``with_rtl``: build its RTL if it reaches check(); ``keep`` leaves the projects
    in ``tmp``; the model as :func:`spec_of` draws it."""
    from l1ad.firmware import reference
    from l1ad.firmware.reader import check_model
    from l1ad.zoo.random import as_imported, random_inputs

    spec, build = spec_of(seed, generation, conv)
    doc = {"seed": seed, "spec": spec.short(), "score": spec.score, "input_quantizer": spec.input_q is not None}
    try:
        model = _stage("build", lambda: as_imported(build(spec)))  # no input quantizer: the default input type
        graph = _stage("accept", check_model, model)
        x = random_inputs(model, events, seed)
        exact = _stage("reference", reference.outputs, graph, x)
        doc["qkeras_vs_exact"] = _stage("qkeras", _qkeras_vs_exact, model, graph, x, exact)
        doc.update(_firmware(model, graph, x, tmp / f"hls{seed}", with_rtl))
        exact_csim = all(o["fraction"] == 1.0 for o in doc["csim"].values())
        doc.update(outcome="exact" if exact_csim else "not exact", stage="check")
    except Stop as stop:
        doc.update(outcome=stop.outcome, stage=stop.stage, detail=stop.detail)
    finally:
        for path in (tmp / f"hls{seed}", tmp / f"rtl{seed}") if not keep else ():
            shutil.rmtree(path, ignore_errors=True)
    return doc


def _fmt_compare(compare: dict) -> str:
    return ", ".join(f"{name} {c['fraction']:.4f} (max {c['max_abs']:.4g}"
                     + (f" = {c['max_lsb']:.3g} LSB)" if c["max_lsb"] is not None else ")")
                     for name, c in compare.items())


def line(doc: dict) -> str:
    """One line per model: seed, spec, outcome and its details."""
    head = f"seed {doc['seed']:>5} [{doc['spec']}] -> {doc['outcome'].upper()}"
    if doc["outcome"] in ("refused", "crashed"):
        return f"{head} at {doc['stage']}: {doc['detail']}"
    parts = [head]
    if doc["outcome"] == "not exact":
        parts.append("csim " + _fmt_compare(doc["csim"]))
        d = doc.get("divergence", {})
        parts.append(f"first divergent layer {d.get('layer')} ({d.get('kind')}, QKeras kif {d.get('qkeras')}, "
                     f"hls4ml {d.get('hls_type')}, accum {d.get('accum_type')}, {d.get('identical_events')}/"
                     f"{d.get('traced_events')} traced events identical)")
    failed = [name for name, ok in doc["checks"].items() if not ok and name != "all_outputs_bit_identical"]
    if failed:
        parts.append(f"failed checks {failed} (wraps {doc['wrapped']})")
    qk = doc["qkeras_vs_exact"]
    if any(c["fraction"] < 1.0 for c in qk.values()):
        parts.append("QKeras predict vs exact " + _fmt_compare(qk))
    if "rtl" in doc:
        rtl = doc["rtl"]
        parts.append(f"RTL {rtl['outcome']}: {rtl['detail']}" if rtl["bit_exact"] is None else
                     "RTL vs csim " + ("bit-exact" if rtl["bit_exact"] else json.dumps(rtl["vs_csim"])))
    return "\n    ".join(parts)


def _summary_row(d: dict) -> str | None:
    if d["outcome"] in ("refused", "crashed"):
        return f"  {d['outcome']}: seed {d['seed']} at {d['stage']}: {d['detail'][:160]}"
    if d["outcome"] != "not exact":
        return None
    div = d.get("divergence", {})
    worst = max(d["csim"].values(), key=lambda c: c["max_abs"])
    identical = min(c["fraction"] for c in d["csim"].values())
    lsb = f" = {worst['max_lsb']:.3g} LSB" if worst["max_lsb"] is not None else ""
    return (f"  not exact: seed {d['seed']}, layer {div.get('layer')} (QKeras kif {div.get('qkeras')}, hls4ml "
            f"{div.get('hls_type')}), identical {identical:.4f}, max difference {worst['max_abs']:.4g}{lsb}")


def summary(docs: list[dict]) -> list[str]:
    count = {o: sum(d["outcome"] == o for d in docs) for o in ("exact", "not exact", "refused", "crashed")}
    accepted = [d for d in docs if d["stage"] not in ("build", "accept")]
    rtl = [d["rtl"] for d in docs if "rtl" in d]
    qk = [d["qkeras_vs_exact"] for d in docs if "qkeras_vs_exact" in d]
    qk_same = sum(all(c["fraction"] == 1.0 for c in q.values()) for q in qk)
    qk_float32 = sum(all(c["fraction"] == 1.0 or c["bits_before_quantizer"] > 24 for c in q.values()) for q in qk)
    exact_failing = sum(any(not ok for ok in d["checks"].values()) for d in docs if d["outcome"] == "exact")
    rtl_counts = [sum(r["bit_exact"] is v for r in rtl) for v in (True, False, None)]
    lines = [f"{len(docs)} models: accepted {len(accepted)}, exact {count['exact']}, not exact {count['not exact']}, "
             f"refused {count['refused']}, crashed {count['crashed']}",
             f"QKeras predict identical to the exact reference on every event: {qk_same}/{len(qk)} models; of the "
             f"others, {qk_float32 - qk_same} differ only where the value before an output's quantizer has more than "
             "24 significant bits (float32's significand: Keras rounds it, the reference does not)",
             f"RTL built {len(rtl)}: bit-exact vs csim {rtl_counts[0]}, not {rtl_counts[1]}, "
             f"refused/crashed {rtl_counts[2]}",
             f"exact models failing another check (wraps, trace): {exact_failing}"]
    return lines + [row for row in map(_summary_row, docs) if row]


def _quiet():
    """Each model's process: one TensorFlow thread, no warnings (a process of its own, so that an abort in the C
    simulation ends one model, not the benchmark)."""
    from l1ad.common.processes import end_with_parent

    end_with_parent()
    warnings.filterwarnings("ignore")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--start", type=int, default=0, help="first seed")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rtl-every", type=int, default=10,
                        help="build the RTL of every K-th model that reached check() (0: never)")
    parser.add_argument("--json", type=Path, help="write every model's findings to this file")
    parser.add_argument("--keep", type=Path, help="write the projects here (hls<seed>, rtl<seed>) and keep them")
    parser.add_argument("--generation", type=int, default=2, choices=(1, 2),
                        help="dense random models as drawn before issue 33 (1) or with its forms (2, the default)")
    parser.add_argument("--conv", action="store_true", help="convolutional random models (l1ad.zoo.random_conv)")
    args = parser.parse_args()
    from tqdm import tqdm

    docs, checked, pool = [], 0, None
    with tempfile.TemporaryDirectory(prefix="l1ad-differential-") as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        for seed in tqdm(range(args.start, args.start + args.models), desc="models", unit="model"):
            pool = pool or ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_quiet)
            rtl = args.rtl_every > 0 and checked % args.rtl_every == 0
            try:
                docs.append(pool.submit(run_one, seed, args.events, where, rtl, args.keep is not None,
                                        args.generation, args.conv).result())
            except BrokenProcessPool:  # the model's process died (e.g. an ap_types assertion aborted the csim)
                pool = None
                docs.append({"seed": seed, "spec": spec_of(seed, args.generation, args.conv)[0].short(), "outcome": "crashed",
                             "stage": "process",
                             "detail": "the process running the model died (an abort in the C simulation?)"})
            checked += docs[-1].get("stage") not in ("build", "accept", "process")
            tqdm.write(line(docs[-1]))
            if args.json:
                args.json.write_text(json.dumps(docs, indent=1, default=str))
        if pool is not None:  # ended here, not by the interpreter's exit handler (which found its pipe closed)
            pool.shutdown()
    print("\n".join(["", "summary:", *summary(docs)]))


if __name__ == "__main__":
    main()

"""``l1ad validate``: prove the firmware computes the quantized model's outputs bit for bit.

Compares, on every test jet: the C simulation (in process and test bench) against the QKeras model
evaluated exactly (:mod:`firmware.reference`), layer types against the values they must hold
(fixed-point audit), and the physics of float, QKeras and csim scores.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from l1ad.training.evaluate import BACKGROUND_EFFICIENCIES, anomaly_metrics, eff_key, threshold_at
from l1ad.training.features import BACKGROUND
from l1ad.training.files import write_json

from . import reference
from .convert import FirmwareOptions, build_hls_model, load_firmware, test_inputs
from .csim import run_both
from .types import parse_type

def keras_name(hls_name: str, model) -> str:
    """The Keras layer whose values an hls4ml layer holds."""
    names = {layer.name for layer in model.layers}
    if hls_name == model.layers[0].name and type(model.layers[1]).__name__ == "QActivation":
        return model.layers[1].name  # hls4ml folds the input quantizer into the input type
    if hls_name in names:
        return hls_name
    if hls_name.endswith("_linear") and hls_name[: -len("_linear")] in names:
        base = model.get_layer(hls_name[: -len("_linear")])
        following = [n.layer.name for n in base._outbound_nodes]
        return following[0] if len(following) == 1 else hls_name
    raise KeyError(f"hls4ml layer {hls_name} has no counterpart in the Keras model")


def audit(layers: list[dict], values: dict, model) -> list[dict]:
    """Observed ranges against type ranges, with saturation and wrap counts, for every layer."""
    rows = []
    for layer in layers:
        pre = values[keras_name(layer["name"], model)]["pre"]
        for kind in ("type", "accum_type"):
            if not layer.get(kind):
                continue
            t = parse_type(layer[kind])
            outside = int(np.sum((pre > t["max"]) | (pre < t["min"])))
            off_grid = int(np.sum(pre / t["lsb"] != np.round(pre / t["lsb"])))
            rows.append({
                "layer": layer["name"], "what": "output" if kind == "type" else "accumulator", "type": layer[kind],
                "type_min": t["min"], "type_max": t["max"],
                "observed_min": float(pre.min()), "observed_max": float(pre.max()),
                "values": int(pre.size), "rounded": off_grid,
                "saturated": outside if t["overflow"].startswith("SAT") else 0,
                "wrapped": outside if not t["overflow"].startswith("SAT") else 0,
            })
    return rows


def _trace_first_divergence(fmodel, options: FirmwareOptions, x: np.ndarray, values: dict, project_dir: Path,
                            layers: list[dict]) -> dict:
    """Trace events through a fresh hls4ml model of the same project; name the first layer that differs."""
    tmp = Path(tempfile.mkdtemp(prefix="l1ad-trace-"))
    try:
        hls_model = build_hls_model(fmodel, options, tmp / "prj")
        with contextlib.redirect_stdout(io.StringIO()):
            hls_model.write()
        same = all((tmp / "prj" / "firmware" / f.relative_to(project_dir / "firmware")).read_bytes() == f.read_bytes()
                   for f in (project_dir / "firmware").rglob("*") if f.is_file() and f.suffix in (".cpp", ".h", ".txt")
                   and "ap_types" not in f.parts and "nnet_utils" not in f.parts)
        with contextlib.redirect_stdout(io.StringIO()):  # hls4ml announces the recompilation
            _, trace = hls_model.trace(np.ascontiguousarray(x, dtype=np.float64))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    first, per_layer = None, []
    for layer in layers:
        if layer["name"] not in trace:
            continue
        expected = values[keras_name(layer["name"], fmodel)]["out"].reshape(len(x), -1)
        got = trace[layer["name"]].reshape(len(x), -1)
        identical = int(np.sum(np.all(got == expected, axis=1)))
        per_layer.append({"layer": layer["name"], "identical_events": identical})
        if identical < len(x) and first is None:
            first = layer["name"]
    return {"events": int(len(x)), "project_sources_identical": bool(same), "first_divergent_layer": first,
            "layers": per_layer}


def _agreement(csim: np.ndarray, ref: np.ndarray) -> dict:
    same = np.all(csim.reshape(len(csim), -1) == ref.reshape(len(ref), -1), axis=1)
    return {"compared": int(len(same)), "bit_identical": int(same.sum()), "fraction": float(same.mean()),
            "max_abs_difference": float(np.max(np.abs(csim - ref))) if len(csim) else 0.0}


def _decisions_agree(a: np.ndarray, b: np.ndarray, labels: np.ndarray) -> dict:
    background = np.isin(labels, BACKGROUND)
    out = {}
    for eps in BACKGROUND_EFFICIENCIES:
        fire_a = a > threshold_at(a[background], eps)
        fire_b = b > threshold_at(b[background], eps)
        out[eff_key(eps)] = float(np.mean(fire_a == fire_b))
    return out


def validate(run: str | Path, trace_events: int = 500) -> dict:
    """Run every check on all test jets; write runs/NAME/validation.json and plots; return the document."""
    from l1ad.training import models, plots

    from . import plots as fw_plots

    run = Path(run)
    info = load_firmware(run)
    project_dir = Path(info["project_dir"])
    options = FirmwareOptions(**info["options"])
    fmodel = models.load(run / "firmware_model.h5")
    x, labels, _ = test_inputs(run)
    timings = {}

    start = time.perf_counter()
    values = reference.evaluate(fmodel, x)
    expected = [values[name]["out"] for name in fmodel.output_names]
    timings["exact_reference_s"] = time.perf_counter() - start

    sim = run_both(info, x)
    inproc, bench = sim["in_process"], sim["testbench"]
    timings.update(sim["timings"])
    lsbs = sim["lsbs"]

    doc = {"n_test_jets": int(len(x)), "jets_by_class": {c: int(n) for c, n in zip(*np.unique(labels, return_counts=True))},
           "reference": "QKeras model evaluated exactly (float64, fixed-point quantizers, round half to even)"}
    names = dict(zip(info["output_names"], info["outputs"]))
    doc["csim_vs_exact_qkeras"] = {names[n]: _agreement(inproc[i], expected[i]) for i, n in enumerate(fmodel.output_names)}
    doc["testbench_vs_in_process"] = {names[n]: _agreement(bench[i], inproc[i]) for i, n in enumerate(fmodel.output_names)}

    keras_scores = models.scores(models.load(run / "qkeras_model.h5"), x)[0]
    score_ref = expected[0][:, 0]
    doc["keras_float32_vs_exact_qkeras"] = {
        "score_bit_identical": int(np.sum(keras_scores == score_ref)),
        "note": "QKeras predict accumulates in float32; differences here are Keras rounding, not firmware errors"}

    layer_audit = audit(info["layers"], values, fmodel)
    doc["fixed_point_audit"] = {"layers": layer_audit, "total_saturated": sum(r["saturated"] for r in layer_audit),
                                "total_wrapped": sum(r["wrapped"] for r in layer_audit)}

    mismatched = np.flatnonzero(~np.all(np.column_stack([(c == e).reshape(len(x), -1).all(axis=1)
                                                        for c, e in zip(inproc, expected)]), axis=1))
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(len(x), size=min(trace_events, len(x)), replace=False))
    picked = np.unique(np.concatenate([mismatched[:trace_events], sample]))
    start = time.perf_counter()
    picked_values = {name: {"out": v["out"][picked]} for name, v in values.items()}
    doc["layer_trace"] = _trace_first_divergence(fmodel, options, x[picked], picked_values, project_dir, info["layers"])
    doc["layer_trace"]["mismatched_events_traced"] = int(min(len(mismatched), trace_events))
    timings["trace_s"] = time.perf_counter() - start
    if len(mismatched):
        diff = np.abs(inproc[0][:, 0] - score_ref)
        worst = np.argsort(-diff, kind="stable")[:10]
        doc["worst_events"] = [{"index": int(i), "jet_type": str(labels[i]), "csim_score": float(inproc[0][i, 0]),
                                "exact_score": float(score_ref[i]), "difference_lsb": float(diff[i] / lsbs[0])}
                               for i in worst if diff[i] > 0]

    float_scores = models.scores(models.load(run / "float_model.h5"), x)[0]
    csim_scores = inproc[0][:, 0]
    doc["physics"] = {
        "float": anomaly_metrics(float_scores, labels),
        "qkeras": anomaly_metrics(score_ref, labels),
        "csim": anomaly_metrics(csim_scores, labels),
        "spearman": {"float_vs_qkeras": float(spearmanr(float_scores, score_ref).statistic),
                     "float_vs_csim": float(spearmanr(float_scores, csim_scores).statistic)},
        "same_trigger_decision": {"float_vs_csim": _decisions_agree(float_scores, csim_scores, labels),
                                  "qkeras_vs_csim": _decisions_agree(score_ref, csim_scores, labels)},
        "sources": {"float": "Keras float32 predict of float_model.h5", "qkeras": "exact evaluation of qkeras model",
                    "csim": "hls4ml C simulation (in process)"},
    }
    if "trigger" in info["outputs"]:
        fired = inproc[-1][:, 0] == 1
        doc["trigger_bit"] = {"threshold": info["threshold"], "threshold_source": info["threshold_source"],
                              "fires_on_test_background": float(np.mean(fired[np.isin(labels, BACKGROUND)])),
                              "matches_score_above_threshold": bool(np.all(fired == (csim_scores > info["threshold"])))}
    doc["timings"] = {k: round(v, 3) for k, v in timings.items()}
    doc["throughput_events_per_s"] = {"csim_in_process": len(x) / timings["csim_in_process_s"]}
    checks = {
        "all_outputs_bit_identical": all(a["fraction"] == 1.0 for a in doc["csim_vs_exact_qkeras"].values()),
        "testbench_equals_in_process": all(a["fraction"] == 1.0 for a in doc["testbench_vs_in_process"].values()),
        "no_wraps": doc["fixed_point_audit"]["total_wrapped"] == 0,
        "trace_has_no_divergent_layer": doc["layer_trace"]["first_divergent_layer"] is None,
    }
    doc["checks"] = checks
    doc["passed"] = all(checks.values())

    plot_dir = run / "plots"
    plots.roc_curves({"float": float_scores, "QKeras (exact)": score_ref, "csim": csim_scores}, labels,
                     plot_dir / "roc_float_qkeras_csim.png", "test jets: float, QKeras, csim")
    fw_plots.score_correlation(float_scores, csim_scores, plot_dir / "score_float_vs_csim.png")
    fw_plots.audit(layer_audit, plot_dir / "fixed_point_audit.png")
    write_json(run / "validation.json", doc)
    return doc

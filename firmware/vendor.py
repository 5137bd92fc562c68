"""Vendor tools: run Vitis HLS (or Vivado HLS) where installed, and read their reports into numbers.

Reports are read with hls4ml's own reader, ``hls4ml.report.parse_vivado_report``; this module only
checks what it found and turns its strings into numbers with their source.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

TOOLS = ("vitis_hls", "vivado_hls")
RESOURCES = ("DSP", "LUT", "FF", "BRAM_18K", "URAM")


class ReportError(ValueError):
    """A vendor report that is missing or unreadable; the message names the file."""


class ToolMissing(RuntimeError):
    pass


def find_tool() -> str | None:
    return next((tool for tool in TOOLS if shutil.which(tool)), None)


def synth(project_dir: str | Path, vsynth: bool = False, cosim: bool = False) -> dict:
    """Run C synthesis (and optionally Vivado logic synthesis and co-simulation) with hls4ml's build."""
    project_dir = Path(project_dir)
    tool = find_tool()
    if tool is None:
        raise ToolMissing(
            f"neither vitis_hls nor vivado_hls is on PATH. The project folder {project_dir} is complete as it is: copy "
            f"it to a machine with Vitis HLS and run there: cd {project_dir.name} && vitis_hls -f build_prj.tcl "
            f"\"reset=1 csim=0 synth=1 cosim={int(cosim)} validation=0 export=0 vsynth={int(vsynth)}\"; then copy "
            "the folder back and run l1ad report.")
    import hls4ml

    model = hls4ml.converters.link_existing_project(str(project_dir))
    return model.build(reset=True, csim=False, synth=True, cosim=cosim, validation=False, export=False, vsynth=vsynth)


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

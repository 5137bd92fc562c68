"""C simulation of an hls4ml project, two ways.

1. In process: hls4ml's own bridge (``myproject_bridge.cpp``: input conversion, top function, output
   conversion) compiled with the firmware into a shared library, plus a batch loop over events that
   OpenMP spreads over the cores. hls4ml's ``predict`` calls the bridge once per event from Python;
   the loop in C++ gives the same numbers many times faster.
2. The project's own test bench (``myproject_test.cpp`` reading ``tb_data/``), compiled with g++
   against hls4ml's bundled ``ap_types`` and run as a vendor C simulation would run it.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np

CXXFLAGS = ["-O3", "-std=c++17", "-fPIC", "-Wno-unused-result"]

BATCH_BRIDGE = """// l1ad: batch loop around hls4ml's bridge, for fast in-process C simulation
#include "{project}_bridge.cpp"

extern "C" void l1ad_batch(double *x, {out_args}, long n, int threads) {{
    {project}_double(x, {first_event});  // first call loads weights (if read from files), serially
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (long i = 1; i < n; ++i) {{
        {project}_double(x + i * {n_in}, {event_args});
    }}
}}
"""


class CsimError(RuntimeError):
    """A C simulation that could not be built or run; the message holds the compiler's output."""


def _sources_digest(project_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted((project_dir / "firmware").rglob("*")) + [project_dir / "l1ad_batch.cpp"]:
        if path.is_file() and "ap_types" not in path.parts:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _compile(cmd: list[str], cwd: Path) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise CsimError(f"compilation failed in {cwd}:\n{' '.join(cmd)}\n{result.stderr[-4000:]}")


class InProcessCsim:
    """The project's firmware as a shared library, called on whole batches of events."""

    def __init__(self, project_dir: str | Path, output_sizes: list[int], n_inputs: int = 16,
                 project: str = "myproject", threads: int | None = None):
        self.project_dir = Path(project_dir).resolve()
        self.output_sizes = output_sizes
        self.n_inputs = n_inputs
        self.threads = threads or os.cpu_count() or 1
        out_args = ", ".join(f"double *y{i}" for i in range(len(output_sizes)))
        first = ", ".join(f"y{i}" for i in range(len(output_sizes)))
        event = ", ".join(f"y{i} + i * {size}" for i, size in enumerate(output_sizes))
        (self.project_dir / "l1ad_batch.cpp").write_text(BATCH_BRIDGE.format(
            project=project, out_args=out_args, first_event=first, n_in=n_inputs, event_args=event))
        library = self.project_dir / "firmware" / f"l1ad_csim-{_sources_digest(self.project_dir)}.so"
        if not library.exists():  # cached per source digest: a rebuilt project gets a new library
            weights = f'-DWEIGHTS_DIR="{self.project_dir / "firmware" / "weights"}"'
            _compile(["g++", *CXXFLAGS, "-fopenmp", "-Ifirmware/ap_types", weights, "-shared",
                      f"firmware/{project}.cpp", "l1ad_batch.cpp", "-o", str(library)], self.project_dir)
        self._lib = ctypes.CDLL(str(library))
        self._fn = self._lib.l1ad_batch
        self._fn.restype = None

    def predict(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"expected inputs of shape (n, {self.n_inputs}), got {x.shape}")
        outputs = [np.zeros((len(x), size), dtype=np.float64) for size in self.output_sizes]
        if len(x) == 0:
            return outputs
        pointers = [o.ctypes.data_as(ctypes.POINTER(ctypes.c_double)) for o in outputs]
        self._fn(x.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), *pointers, ctypes.c_long(len(x)),
                 ctypes.c_int(self.threads))
        return outputs


def build_testbench(project_dir: str | Path, project: str = "myproject") -> Path:
    """Compile the project's own test bench with g++ and hls4ml's ap_types."""
    project_dir = Path(project_dir).resolve()
    binary = project_dir / "csim_testbench"
    weights = f'-DWEIGHTS_DIR="{project_dir / "firmware" / "weights"}"'
    _compile(["g++", *CXXFLAGS, "-Ifirmware/ap_types", "-I.", weights, f"{project}_test.cpp",
              f"firmware/{project}.cpp", "-o", str(binary)], project_dir)
    return binary


def run_testbench(project_dir: str | Path, output_sizes: list[int], output_lsbs: list[float]) -> list[np.ndarray]:
    """Run the test bench over tb_data/ and read back its outputs, exactly.

    The bench prints each value with 6 significant digits; snapping to the output type's grid
    recovers the exact value whenever 6 digits resolve that grid, which is checked value by value.
    """
    project_dir = Path(project_dir).resolve()
    binary = build_testbench(project_dir)
    result = subprocess.run([str(binary)], cwd=project_dir, capture_output=True, text=True)
    if result.returncode != 0:
        raise CsimError(f"test bench failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    # print_result writes one line per output and event
    lines = (project_dir / "tb_data" / "csim_results.log").read_text().splitlines()
    if len(lines) % len(output_sizes):
        raise CsimError(f"test bench wrote {len(lines)} lines, not a multiple of {len(output_sizes)} outputs")
    rows = [lines[i::len(output_sizes)] for i in range(len(output_sizes))]
    try:
        printed = np.column_stack([np.array([r.split() for r in rows_i], dtype=np.float64).reshape(len(rows_i), -1)
                                   for rows_i in rows])
    except ValueError as err:
        raise CsimError(f"cannot read the test bench output: {err}") from err
    if printed.shape[1] != sum(output_sizes):
        raise CsimError(f"test bench wrote {printed.shape[1]} values per event, expected {sum(output_sizes)}")
    outputs, start = [], 0
    for size, lsb in zip(output_sizes, output_lsbs):
        values = printed[:, start:start + size]
        snapped = np.round(values / lsb) * lsb
        # 6 significant digits are within half an LSB of the printed value, or the grid is unresolvable
        resolution = 10.0 ** (np.floor(np.log10(np.maximum(np.abs(snapped), lsb))) - 5)
        if np.any(resolution >= lsb / 2):
            raise CsimError("the test bench prints too few digits to recover these outputs exactly")
        outputs.append(snapped)
        start += size
    return outputs


def run_both(info: dict, x: np.ndarray) -> dict:
    """Both C simulations of a converted run on inputs ``x`` (the project's tb_data holds the same jets)."""
    import time

    from .types import parse_type

    project_dir = Path(info["project_dir"])
    sizes, lsbs = info["output_sizes"], [parse_type(t)["lsb"] for t in info["output_types"]]
    timings = {}
    start = time.perf_counter()
    sim = InProcessCsim(project_dir, sizes, project=info["options"]["project_name"])
    timings["csim_build_s"] = time.perf_counter() - start
    start = time.perf_counter()
    inproc = sim.predict(x)
    timings["csim_in_process_s"] = time.perf_counter() - start
    start = time.perf_counter()
    bench = run_testbench(project_dir, sizes, lsbs)
    timings["csim_testbench_build_and_run_s"] = time.perf_counter() - start
    if len(bench[0]) != len(x):
        raise CsimError(f"the test bench ran {len(bench[0])} events, the test set has {len(x)}: reconvert the run")
    return {"in_process": inproc, "testbench": bench, "lsbs": lsbs, "timings": timings}


def compare_csim_ways(run: str | Path) -> dict:
    """``l1ad csim``: every test jet through both C simulations; they must agree exactly."""
    from .convert import load_firmware, test_inputs

    info = load_firmware(run)
    x, _, _ = test_inputs(Path(run))
    sim = run_both(info, x)
    lines, agree = [], True
    for name, a, b in zip(info["outputs"], sim["in_process"], sim["testbench"]):
        same = int(np.sum(np.all(a == b, axis=1)))
        agree &= same == len(x)
        lines.append(f"{name:15} in-process vs test bench: {same}/{len(x)} jets identical")
    t = sim["timings"]
    lines.append(f"in-process csim: {len(x) / t['csim_in_process_s']:,.0f} jets/s ({t['csim_in_process_s']:.2f} s; "
                 f"library build {t['csim_build_s']:.1f} s); test bench build + run: "
                 f"{t['csim_testbench_build_and_run_s']:.1f} s")
    return {"lines": lines, "agree": agree, **sim}

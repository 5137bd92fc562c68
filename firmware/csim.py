"""C simulation of an hls4ml project, two ways, each compiled once per project and reused.

1. In process: hls4ml's own bridge (``myproject_bridge.cpp``: input conversion, top function, output
   conversion) compiled with the firmware into a shared library, plus a batch loop over events that
   OpenMP spreads over the cores. hls4ml's ``predict`` calls the bridge once per event from Python;
   the loop in C++ gives the same numbers many times faster.
2. The project's own test bench (``myproject_test.cpp`` reading ``tb_data/``), compiled with g++
   against hls4ml's bundled ``ap_types`` and run as a vendor C simulation would run it.

The firmware itself is compiled once into an object file that both link (it is most of the compile time).

The object and both binaries live in the project's ``.l1ad/`` folder under a name made of a digest of every source
file and the compiler flags: a second call finds them and compiles nothing; an edited source gets a
new binary. ``L1AD_CSIM_OPT`` sets the optimisation flag (default -O3; the tests use -O1, where the
speed of the C++ does not matter).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np

from l1ad.common.errors import L1adError
from l1ad.common.files import atomic_path

from .convert import project_info

CACHE = ".l1ad"
BASE_FLAGS = ["-std=c++17", "-fPIC", "-Wno-unused-result"]

BATCH_BRIDGE = """// l1ad: batch loop around hls4ml's bridge, for fast in-process C simulation
#include "{project}_bridge.cpp"

extern "C" void l1ad_batch({in_args}, {out_args}, long n, int threads) {{
    {project}_double({first_event});  // the first call loads weights (if read from files), serially
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (long i = 1; i < n; ++i) {{
        {project}_double({event_args});
    }}
}}
"""


class CsimError(L1adError):
    """A C simulation that could not be built or run; the message holds the compiler's output."""


def flags() -> list[str]:
    return [os.environ.get("L1AD_CSIM_OPT", "-O3"), *BASE_FLAGS]


def _digest(project_dir: Path, extra: str) -> str:
    digest = hashlib.sha256(extra.encode())
    sources = sorted(p for p in (project_dir / "firmware").rglob("*") if p.is_file() and p.suffix in (".h", ".cpp", ".hpp", ".txt"))
    sources += sorted(project_dir.glob("*.cpp")) + sorted(project_dir.glob("*.h"))
    for path in sources:
        digest.update(path.relative_to(project_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _compile(cmd: list[str], cwd: Path, target: Path) -> None:
    """Compile into a temporary file and move it into place: concurrent callers never see half a binary."""
    with atomic_path(target) as tmp:
        result = subprocess.run([*cmd, "-o", str(tmp)], cwd=cwd, capture_output=True, text=True)
        if result.returncode != 0:
            raise CsimError(f"compilation failed in {cwd}:\n{' '.join(cmd)}\n{result.stderr[-4000:]}")
        tmp.chmod(0o755)


def _project_flags(project_dir: Path) -> list[str]:
    return [*flags(), "-Ifirmware/ap_types", "-I.", f'-DWEIGHTS_DIR="{project_dir / "firmware" / "weights"}"']


def _firmware_object(project_dir: Path) -> tuple[Path, bool]:
    """The firmware (``firmware/<project>.cpp``, most of the compile time) compiled once into an object file that
    the in-process library and the test bench both link; (object, built now?)."""
    project = project_info(project_dir)["options"]["project_name"]
    compile_flags = _project_flags(project_dir)
    target = project_dir / CACHE / f"firmware-{_digest(project_dir, ' '.join(compile_flags))}.o"
    built = not target.exists()
    if built:
        _compile(["g++", *compile_flags, "-c", f"firmware/{project}.cpp"], project_dir, target)
    return target, built


class Csim:
    """The project's firmware as a shared library, called on whole batches of events.

    ``built`` tells whether this instance had to compile (False when the cached library was reused).
    """

    def __init__(self, project_dir: str | Path, threads: int | None = None):
        self.project_dir = Path(project_dir).resolve()
        info = project_info(self.project_dir)
        self.input_sizes, self.output_sizes = info["input_sizes"], info["output_sizes"]
        self.threads = threads or os.cpu_count() or 1
        project = info["options"]["project_name"]
        n_in, n_out = len(self.input_sizes), len(self.output_sizes)
        source = BATCH_BRIDGE.format(
            project=project,
            in_args=", ".join(f"double *x{i}" for i in range(n_in)),
            out_args=", ".join(f"double *y{i}" for i in range(n_out)),
            first_event=", ".join([f"x{i}" for i in range(n_in)] + [f"y{i}" for i in range(n_out)]),
            event_args=", ".join([f"x{i} + i * {s}" for i, s in enumerate(self.input_sizes)]
                                 + [f"y{i} + i * {s}" for i, s in enumerate(self.output_sizes)]))
        compile_flags = [*_project_flags(self.project_dir), "-fopenmp"]
        self.library = self.project_dir / CACHE / f"csim-{_digest(self.project_dir, source + ' '.join(compile_flags))}.so"
        self.built = not self.library.exists()
        if self.built:
            firmware, _ = _firmware_object(self.project_dir)
            batch = self.library.with_suffix(".cpp")  # named by the digest, written whole: concurrent builds agree
            with atomic_path(batch) as tmp:
                tmp.write_text(source)
            _compile(["g++", *compile_flags, "-shared", str(batch), str(firmware)], self.project_dir, self.library)
        self._fn = ctypes.CDLL(str(self.library)).l1ad_batch
        self._fn.restype = None

    def predict(self, x) -> list[np.ndarray]:
        """Outputs for inputs ``x`` (an (n, width) array, or a list of them for several inputs)."""
        xs = [np.ascontiguousarray(a, dtype=np.float64) for a in (x if isinstance(x, (list, tuple)) else [x])]
        if len(xs) != len(self.input_sizes) or any(a.ndim != 2 or a.shape[1] != s for a, s in zip(xs, self.input_sizes)):
            raise ValueError(f"expected {len(self.input_sizes)} input arrays of widths {self.input_sizes}, got "
                             f"{[a.shape for a in xs]}")
        n = len(xs[0])
        outputs = [np.zeros((n, size), dtype=np.float64) for size in self.output_sizes]
        if n == 0:
            return outputs
        pointer = ctypes.POINTER(ctypes.c_double)
        self._fn(*[a.ctypes.data_as(pointer) for a in xs], *[o.ctypes.data_as(pointer) for o in outputs],
                 ctypes.c_long(n), ctypes.c_int(self.threads))
        return outputs


def testbench(project_dir: str | Path) -> tuple[Path, bool]:
    """The project's own test bench compiled with g++ and hls4ml's ap_types (cached); (binary, built now?)."""
    project_dir = Path(project_dir).resolve()
    project = project_info(project_dir)["options"]["project_name"]
    compile_flags = _project_flags(project_dir)
    binary = project_dir / CACHE / f"testbench-{_digest(project_dir, ' '.join(compile_flags))}"
    built = not binary.exists()
    if built:
        firmware, _ = _firmware_object(project_dir)
        _compile(["g++", *compile_flags, f"{project}_test.cpp", str(firmware)], project_dir, binary)
    return binary, built


def run_testbench(project_dir: str | Path) -> list[np.ndarray]:
    """Run the test bench over tb_data/ and read back its outputs, exactly.

    The bench prints each value with 6 significant digits; snapping to the output type's grid
    recovers the exact value whenever 6 digits resolve that grid, which is checked value by value.
    """
    from .types import parse_type

    project_dir = Path(project_dir).resolve()
    info = project_info(project_dir)
    sizes, lsbs = info["output_sizes"], [parse_type(t)["lsb"] for t in info["output_types"]]
    binary, _ = testbench(project_dir)
    result = subprocess.run([str(binary)], cwd=project_dir, capture_output=True, text=True)
    if result.returncode != 0:
        raise CsimError(f"test bench failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    # print_result writes one line per output and event
    lines = (project_dir / "tb_data" / "csim_results.log").read_text().splitlines()
    if len(lines) % len(sizes):
        raise CsimError(f"test bench wrote {len(lines)} lines, not a multiple of {len(sizes)} outputs")
    try:
        printed = np.column_stack([np.array([r.split() for r in lines[i::len(sizes)]], dtype=np.float64)
                                   .reshape(len(lines) // len(sizes), -1) for i in range(len(sizes))])
    except ValueError as err:
        raise CsimError(f"cannot read the test bench output: {err}") from err
    if printed.shape[1] != sum(sizes):
        raise CsimError(f"test bench wrote {printed.shape[1]} values per event, expected {sum(sizes)}")
    outputs, start = [], 0
    for size, lsb in zip(sizes, lsbs):
        values = printed[:, start:start + size]
        snapped = np.round(values / lsb) * lsb
        # printed with 40 digits (convert._print_every_digit), read as float64: exact while a value has at most 53
        # significant bits, i.e. float64's spacing at the value stays below half an LSB
        if np.any(np.spacing(np.maximum(np.abs(snapped), lsb)) >= lsb / 2):
            raise CsimError("the test bench's outputs have more than 53 significant bits: float64 cannot read them "
                            "back exactly (the in-process C simulation compares them exactly)")
        outputs.append(snapped)
        start += size
    return outputs


def testbench_inputs(project_dir: str | Path) -> list[np.ndarray]:
    """The inputs in the project's tb_data/, split per top-function input."""
    project_dir = Path(project_dir)
    sizes = project_info(project_dir)["input_sizes"]
    # the test bench reads float: parse as float32, like it does, so both simulations see the same inputs
    table = np.loadtxt(project_dir / "tb_data" / "tb_input_features.dat", dtype=np.float32, ndmin=2).astype(np.float64)
    bounds = np.cumsum([0, *sizes])
    return [table[:, a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def testbench_expected(project_dir: str | Path) -> list[np.ndarray]:
    """The exact outputs the project's tb_data/ expects for its inputs (written by l1ad with 17 digits), per output."""
    project_dir = Path(project_dir)
    sizes = project_info(project_dir)["output_sizes"]
    table = np.loadtxt(project_dir / "tb_data" / "tb_output_predictions.dat", dtype=np.float64, ndmin=2)
    bounds = np.cumsum([0, *sizes])
    return [table[:, a:b] for a, b in zip(bounds[:-1], bounds[1:])]

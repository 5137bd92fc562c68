"""C simulation of an hls4ml project, two ways, each compiled once per project and reused, both read bit for bit.

1. In process: a batch loop (written here) that converts each event's inputs as hls4ml's bridge does, calls the
   top function and copies every output's bits out as 64-bit words; compiled together with the firmware (one
   translation unit: hls4ml's headers are parsed once) into a shared library, the loop spread over the cores by
   OpenMP. Outputs come back as exact integers (:class:`.fixed.Value`) whatever their width, not as float64.
2. The project's own test bench (``myproject_test.cpp`` reading ``tb_data/``), compiled with g++ against hls4ml's
   bundled ``ap_types`` and run as a vendor C simulation would run it; it prints every value in full decimal digits,
   read back exactly.

:func:`compile_firmware` builds the library when the project is converted, so that code l1ad wrote and that does
not compile is found before anything reports success.

The firmware reads its weights at run time from a folder the caller names (a variable, not a path compiled in), so
a compiled simulation does not depend on where its project lies. Libraries and test benches are kept under a name
made of a digest of every source file (weights included) and the compiler flags, in the project's ``.l1ad/`` folder,
or in the folder ``L1AD_BUILD_CACHE`` names, where copies of a project share them (the test suite uses one): a
second call compiles nothing; an edited source gets a new binary. ``L1AD_CSIM_OPT`` sets the optimisation flag
(default -O3; the tests use -O1, where the speed of the C++ does not matter).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np

from l1ad.common.errors import L1adError
from l1ad.common.files import atomic_path

from .fixed import Fixed, Value
from .project import project_info

CACHE = ".l1ad"
BASE_FLAGS = ["-std=c++17", "-fPIC", "-Wno-unused-result"]
# hls4ml's csim reads each weight file from WEIGHTS_DIR "/" name (nnet_helpers.h): here a variable that each binary
# sets, instead of the project's path compiled in (declared in a lambda, so that no header has to declare it; the
# declaration is inside namespace nnet, so the variable is nnet::l1ad_weights_dir)
WEIGHTS_FLAG = "-DWEIGHTS_DIR=[]{extern const char *l1ad_weights_dir; return l1ad_weights_dir;}()"

BATCH_BRIDGE = """// l1ad: batch loop around the top function; inputs converted as hls4ml's bridge converts them, every output
// copied out bit for bit as 64-bit words (an ap_fixed of any width); the firmware in this translation unit
#include "firmware/{project}.cpp"
#include "firmware/nnet_utils/nnet_helpers.h"
#include <algorithm>
#include <tuple>
#include <type_traits>

namespace nnet {{ const char *l1ad_weights_dir = ""; }}

template <class F> struct l1ad_arguments;
template <class... A> struct l1ad_arguments<void(A...)> {{ using type = std::tuple<std::remove_pointer_t<A>...>; }};
template <int I> using l1ad_t = std::tuple_element_t<I, l1ad_arguments<decltype({project})>::type>;

template <class T> void l1ad_words(const T &value, unsigned long long *out) {{
    for (int w = 0; w * 64 < T::width; ++w) {{
        out[w] = value.range(std::min(T::width, 64 * (w + 1)) - 1, 64 * w).to_uint64();
    }}
}}

static void l1ad_event(long i, {in_args}, {out_args}) {{
{convert}
    {project}({call});
{copy}
}}

extern "C" void l1ad_batch(const char *weights_dir, {in_args}, {out_args}, long n, int threads) {{
    nnet::l1ad_weights_dir = weights_dir;
    if (n > 0) l1ad_event(0, {names});  // the first call loads the weights, serially
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (long i = 1; i < n; ++i) {{
        l1ad_event(i, {names});
    }}
}}
"""

# the project's own test bench and its firmware in one translation unit; run in the project's folder
TESTBENCH = """#include "{project}_test.cpp"
#include "firmware/{project}.cpp"

namespace nnet {{ const char *l1ad_weights_dir = "firmware/weights"; }}
"""


class CsimError(L1adError):
    """A C simulation that cannot run here (no compiler): a problem with the environment."""


class FirmwareBug(RuntimeError):
    """Code l1ad wrote that does not compile or run: a bug in l1ad, never the user's; the project is kept."""

    def kept_in(self, project: Path, written: Path) -> "FirmwareBug":
        """The failure of a project compiled where it was written, named where it is kept."""
        text = str(self).replace(str(written.resolve()), str(project.resolve())).replace(str(written), str(project))
        return FirmwareBug(f"{text} (the project is kept for a bug report: {project})")


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


def _builds(project_dir: Path) -> Path:
    """Where a project's compiled simulations are kept: its own ``.l1ad/``, or the shared ``L1AD_BUILD_CACHE``."""
    shared = os.environ.get("L1AD_BUILD_CACHE")
    return Path(shared) if shared else project_dir / CACHE


def _compile(cmd: list[str], cwd: Path, target: Path) -> None:
    """Compile into a temporary file and move it into place: concurrent callers never see half a binary."""
    if shutil.which(cmd[0]) is None:
        raise CsimError(f"{cmd[0]} not found: the C simulation needs a C++ compiler (install g++)")
    with atomic_path(target) as tmp:
        result = subprocess.run([*cmd, "-o", str(tmp)], cwd=cwd, capture_output=True, text=True)
        if result.returncode != 0:
            raise FirmwareBug(f"compilation failed in {cwd}:\n{' '.join(cmd)}\n{result.stderr[-4000:]}")
        tmp.chmod(0o755)


def _built(project_dir: Path, name: str, source: str, extra_flags: list[str]) -> tuple[Path, bool]:
    """``source`` (which includes the project's files) compiled in ``project_dir`` into ``name``-<digest>, or the
    binary an earlier call made from the same sources and flags; (binary, built now?)."""
    compile_flags = [*flags(), "-Ifirmware/ap_types", "-I.", WEIGHTS_FLAG, *extra_flags]
    digest = _digest(project_dir, source + " ".join(compile_flags))
    binary = _builds(project_dir) / f"{name}-{digest}{'.so' if '-shared' in extra_flags else ''}"
    if binary.exists():
        return binary, False
    binary.parent.mkdir(parents=True, exist_ok=True)
    unit = project_dir / CACHE / f"{name}-{digest}.cpp"  # named by the digest, written whole: concurrent builds agree
    with atomic_path(unit) as tmp:
        tmp.write_text(source)
    _compile(["g++", *compile_flags, str(unit)], project_dir, binary)
    return binary, True


def _library(project_dir: Path, info: dict) -> tuple[Path, bool]:
    """The in-process simulation of a project as a shared library; (library, built now?)."""
    source = _batch_source(info["options"]["project_name"], info["input_sizes"], info["output_sizes"],
                           [_words(t) for t in info["output_types"]])
    return _built(project_dir, "csim", source, ["-shared", "-fopenmp"])


def compile_firmware(project_dir: Path) -> FirmwareBug | None:
    """Compile a project's simulation where it is written; the failure, if any."""
    try:
        _library(project_dir.resolve(), project_info(project_dir))
    except FirmwareBug as bug:
        return bug
    return None


def _words(type_text: str) -> int:
    return (Fixed.parse(type_text).width + 63) // 64


def from_words(words: np.ndarray, type_text: str) -> Value:
    """Values of an ap_fixed type from their bits as 64-bit words, low word first: exact integers at the type's
    scale (int64 up to 62 bits, Python integers beyond)."""
    t = Fixed.parse(type_text)
    width, frac, signed = t.width, t.f, bool(t.k)
    if words.shape[-1] == 1 and width <= 62:
        num = words[..., 0].astype(np.int64) & ((1 << width) - 1)
        if signed:
            num = np.where(num >= 1 << (width - 1), num - (1 << width), num)
        return Value(num, frac)
    flat = words.reshape(-1, words.shape[-1])
    ints = []
    for row in flat:
        n = sum(int(w) << (64 * j) for j, w in enumerate(row)) & ((1 << width) - 1)
        ints.append(n - (1 << width) if signed and n >= 1 << (width - 1) else n)
    return Value(np.array(ints, dtype=object).reshape(words.shape[:-1]), frac)


class Csim:
    """The project's firmware as a shared library, called on whole batches of events.

    ``built`` tells whether this instance had to compile (False when the cached library was reused).
    """

    def __init__(self, project_dir: str | Path, threads: int | None = None, info: dict | None = None):
        self.project_dir = Path(project_dir).resolve()
        info = info or project_info(self.project_dir)
        self.input_sizes, self.output_sizes = info["input_sizes"], info["output_sizes"]
        self.output_types = info["output_types"]
        self.words = [_words(t) for t in self.output_types]
        self.threads = threads or os.cpu_count() or 1
        self.library, self.built = _library(self.project_dir, info)
        self._weights_dir = str(self.project_dir / "firmware" / "weights").encode()
        self._fn = ctypes.CDLL(str(self.library)).l1ad_batch
        self._fn.restype = None

    def predict_exact(self, x) -> list[Value]:
        """Outputs for inputs ``x`` (an (n, width) array, or a list of them for several inputs), bit for bit."""
        xs = [np.ascontiguousarray(a, dtype=np.float64) for a in (x if isinstance(x, (list, tuple)) else [x])]
        if len(xs) != len(self.input_sizes) or any(a.ndim != 2 or a.shape[1] != s for a, s in zip(xs, self.input_sizes)):
            raise ValueError(f"expected {len(self.input_sizes)} input arrays of widths {self.input_sizes}, got "
                             f"{[a.shape for a in xs]}")
        n = len(xs[0])
        words = [np.zeros((n, size, w), dtype=np.uint64) for size, w in zip(self.output_sizes, self.words)]
        if n:
            self._fn(self._weights_dir, *[a.ctypes.data_as(ctypes.POINTER(ctypes.c_double)) for a in xs],
                     *[o.ctypes.data_as(ctypes.POINTER(ctypes.c_ulonglong)) for o in words],
                     ctypes.c_long(n), ctypes.c_int(self.threads))
        return [from_words(w, t) for w, t in zip(words, self.output_types)]

    def predict(self, x) -> list[np.ndarray]:
        """Outputs as float64 (exact up to 53 significant bits; :meth:`predict_exact` for every bit)."""
        return [value.out for value in self.predict_exact(x)]


def _batch_source(project: str, input_sizes: list[int], output_sizes: list[int], words: list[int]) -> str:
    n_in = len(input_sizes)
    convert = "\n".join(f"    l1ad_t<{i}> a{i}[{s}];\n    nnet::convert_data<double, l1ad_t<{i}>, {s}>(x{i} + i * {s}, a{i});"
                        for i, s in enumerate(input_sizes))
    declare = "\n".join(f"    l1ad_t<{n_in + j}> b{j}[{s}];" for j, s in enumerate(output_sizes))
    copy = "\n".join(f"    for (int k = 0; k < {s}; ++k) l1ad_words(b{j}[k], y{j} + (i * {s} + k) * {w});"
                     for j, (s, w) in enumerate(zip(output_sizes, words)))
    return BATCH_BRIDGE.format(
        project=project,
        in_args=", ".join(f"double *x{i}" for i in range(n_in)),
        out_args=", ".join(f"unsigned long long *y{j}" for j in range(len(output_sizes))),
        convert=convert + "\n" + declare,
        call=", ".join([f"a{i}" for i in range(n_in)] + [f"b{j}" for j in range(len(output_sizes))]),
        copy=copy,
        names=", ".join([f"x{i}" for i in range(n_in)] + [f"y{j}" for j in range(len(output_sizes))]))


def testbench(project_dir: str | Path) -> tuple[Path, bool]:
    """The project's own test bench compiled with g++ and hls4ml's ap_types (cached); (binary, built now?)."""
    project_dir = Path(project_dir).resolve()
    return _built(project_dir, "testbench", TESTBENCH.format(project=project_info(project_dir)["options"]["project_name"]), [])


def read_exact(path: Path, sizes: list[int], types: list[str]) -> list[Value]:
    """A table of decimal numbers (one event per line, the outputs side by side), read exactly: each value must be
    a multiple of its output type's LSB, which it is when every digit was written."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if any(len(row) != sum(sizes) for row in rows):
        raise FirmwareBug(f"{path}: a line does not hold {sum(sizes)} values")
    values, start = [], 0
    for size, text in zip(sizes, types):
        frac = Fixed.parse(text).f
        scaled = [Fraction(token) * Fraction(2) ** frac for row in rows for token in row[start:start + size]]
        if any(v.denominator != 1 for v in scaled):
            raise FirmwareBug(f"{path}: a value is not a multiple of its type's LSB ({text}): a digit is missing")
        ints = [int(v) for v in scaled]
        wide = any(abs(v) >= 1 << 62 for v in ints)
        num = np.array(ints, dtype=object if wide else np.int64).reshape(len(rows), size)
        values.append(Value(num, frac))
        start += size
    return values


def run_testbench(project_dir: str | Path) -> list[Value]:
    """Run the test bench over tb_data/ and read back its outputs, exactly (printed with every digit)."""
    project_dir = Path(project_dir).resolve()
    info = project_info(project_dir)
    sizes = info["output_sizes"]
    binary, _ = testbench(project_dir)
    result = subprocess.run([str(binary)], cwd=project_dir, capture_output=True, text=True)
    if result.returncode != 0:
        raise FirmwareBug(f"test bench failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    # print_result writes one line per output and event: put each event's outputs on one line
    lines = (project_dir / "tb_data" / "csim_results.log").read_text().splitlines()
    if len(lines) % len(sizes):
        raise FirmwareBug(f"test bench wrote {len(lines)} lines, not a multiple of {len(sizes)} outputs")
    joined = project_dir / CACHE / "csim_results.joined"
    joined.parent.mkdir(exist_ok=True)
    joined.write_text("".join(" ".join(lines[i:i + len(sizes)]) + "\n" for i in range(0, len(lines), len(sizes))))
    return read_exact(joined, sizes, info["output_types"])


def testbench_inputs(project_dir: str | Path) -> list[np.ndarray]:
    """The inputs in the project's tb_data/, split per top-function input."""
    project_dir = Path(project_dir)
    sizes = project_info(project_dir)["input_sizes"]
    # the test bench reads float: parse as float32, like it does, so both simulations see the same inputs
    table = np.loadtxt(project_dir / "tb_data" / "tb_input_features.dat", dtype=np.float32, ndmin=2).astype(np.float64)
    bounds = np.cumsum([0, *sizes])
    return [table[:, a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def testbench_expected(project_dir: str | Path) -> list[Value]:
    """The exact outputs the project's tb_data/ expects for its inputs (written by l1ad in full digits), per output."""
    project_dir = Path(project_dir)
    info = project_info(project_dir)
    return read_exact(project_dir / "tb_data" / "tb_output_predictions.dat", info["output_sizes"], info["output_types"])

"""da4ml's numba kernels, compiled into numba's cache once after installing.

The first trace of a model otherwise spends about a minute in numba's compiler, every later one a second. The
Makefile runs this file as a script (``python -I firmware/da4ml_cache.py``) right after installing da4ml, while pip
installs the rest: it needs nothing but numpy and da4ml. The test suite and ``l1ad run`` call :func:`warm_up` in a
process of their own as well, a second or two when the cache is already filled.
"""

import os
import sys

import numpy as np


def warm_up() -> None:
    """Compile the kernels (a trace of a small constant matrix) into their cache.

    In a process of its own: if numba is not loaded yet, the kernels are compiled at LLVM -O1 (NUMBA_OPT=1), a third
    faster than at numba's -O3 (48 s against 72 s when compared; 62-71 s of CPU at -O1 on 2026-12-07/08, with
    /usr/bin/time), and every later process loads them from the cache. Measured on four random matrices
    (16x8, 8x16, 57x32, 32x16): the same solutions (da4ml's kernels use no fastmath, so the floating point is the
    same) in the same 2.0 s as at numba's -O3."""
    if "numba" not in sys.modules:
        os.environ.setdefault("NUMBA_OPT", "1")
    from da4ml.trace import FixedVariableArray, HWConfig

    x = FixedVariableArray.from_kif(np.ones(3, int), np.full(3, 3), np.full(3, 4), hwconf=HWConfig(1, -1, -1),
                                    solver_options={"hard_dc": 2})
    _ = x @ np.array([[0.5, -0.25], [1.0, 0.75], [-0.125, 2.0]])


if __name__ == "__main__":
    warm_up()

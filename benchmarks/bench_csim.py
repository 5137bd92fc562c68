"""C-simulation throughput, both ways, beside QKeras predict in the same run; time to validate.

Run on demand after `l1ad train` and `l1ad convert`: `.venv/bin/python benchmarks/bench_csim.py runs/NAME`.
"""

import argparse
import time
from pathlib import Path

import numpy as np

from l1ad.firmware.convert import load_firmware, test_inputs
from l1ad.firmware.csim import InProcessCsim, run_testbench
from l1ad.firmware.types import parse_type
from l1ad.firmware.validate import validate
from l1ad.firmware.vendor import link_project
from l1ad.training import models


def _rate(fn, n, repeat=3):
    best = min(_timed(fn) for _ in range(repeat))
    return n / best, best


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    args = parser.parse_args()
    info = load_firmware(args.run)
    x, _, _ = test_inputs(args.run)
    n = len(x)
    print(f"{n} test jets, project {info['project_dir']}")

    qkeras = models.load(args.run / "qkeras_model.h5")
    models.scores(qkeras, x[:1000])
    rate, best = _rate(lambda: models.scores(qkeras, x), n)
    print(f"QKeras predict (float32, batch 8192):     {rate:12,.0f} jets/s  ({best:.2f} s)")

    for threads in (1, 2):
        sim = InProcessCsim(info["project_dir"], info["output_sizes"], threads=threads,
                            project=info["options"]["project_name"])
        rate, best = _rate(lambda: sim.predict(x), n)
        print(f"csim in process, batch loop, {threads} thread(s): {rate:12,.0f} jets/s  ({best:.2f} s)")

    hm = link_project(info["project_dir"])
    hm.compile()
    sample = np.ascontiguousarray(x[:20000], dtype="float64")
    rate, best = _rate(lambda: hm.predict(sample), len(sample), repeat=1)
    print(f"csim in process, hls4ml predict (per event): {rate:9,.0f} jets/s  (20,000 jets)")

    lsbs = [parse_type(t)["lsb"] for t in info["output_types"]]
    seconds = _timed(lambda: run_testbench(info["project_dir"], info["output_sizes"], lsbs))
    print(f"csim test bench (g++ build + run over tb_data): {n / seconds:8,.0f} jets/s including the build "
          f"({seconds:.1f} s)")

    seconds = _timed(lambda: validate(args.run))
    print(f"l1ad validate, whole test set: {seconds:.1f} s")


if __name__ == "__main__":
    main()

"""Bring your own model: three QKeras models l1ad did not train, through `l1ad import` -> convert -> validate -> rtl.

Run on demand: `.venv/bin/python benchmarks/bench_byom.py [--events N]` (a few minutes on 2 cores). Prints, per
model, the bit-exactness of csim (against the exact QKeras evaluation) and of the RTL (against csim) on every
input, the latency (Verilator) and the resources (yosys), with the wall time of each stage.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    from l1ad.examples import MODELS

    l1ad = str(Path(sys.executable).parent / "l1ad")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, build in MODELS.items():
            model = build()
            model.save(tmp / f"{name}.h5")
            x = np.random.default_rng(0).normal(0, 2.5, (args.events, model.inputs[0].shape[-1]))
            np.save(tmp / f"{name}.npy", x)
            extra = ["--add-score", "16,8"] if name == "reconstruction_only" else []
            times = {}
            for stage, command in (("import", ["import", str(tmp / f"{name}.h5"), "--inputs", str(tmp / f"{name}.npy"),
                                               "--runs", str(tmp / "runs"), *extra]),
                                   ("convert", ["convert", str(tmp / "runs" / name), "--out", str(tmp / "hls" / name)]),
                                   ("validate", ["validate", str(tmp / "runs" / name)]),
                                   ("rtl", ["rtl", str(tmp / "runs" / name), "--out", str(tmp / "rtl" / name)])):
                start = time.perf_counter()
                result = subprocess.run([l1ad, *command], capture_output=True, text=True, cwd=tmp)
                times[stage] = time.perf_counter() - start
                if result.returncode != 0:
                    raise SystemExit(f"{name}: l1ad {stage} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
            validation = json.loads((tmp / "runs" / name / "validation.json").read_text())
            rtl = json.loads((tmp / "runs" / name / "rtl.json").read_text())
            csim = ", ".join(f"{k} {v['bit_identical']:,}/{v['compared']:,}" for k, v in validation["csim_vs_exact_qkeras"].items())
            hw = ", ".join(f"{k} {v['bit_identical']:,}/{v['compared']:,}" for k, v in rtl["rtl_vs_csim"].items())
            y, t = rtl["yosys"], rtl["timing_estimate"]
            print(f"{name} ({model.count_params():,} parameters, {x.shape[1]} inputs):")
            print(f"  csim vs exact QKeras: {csim}")
            print(f"  RTL (Verilator) vs csim: {hw}")
            print(f"  latency {rtl['latency']['cycles']} cycles at 200 MHz, II 1 (Verilator); yosys xcup: LUT {y['LUT']:,}, "
                  f"FF {y['FF']:,}, DSP {y['DSP']}; timing estimate {t['worst_stage_ns']:.2f} ns worst stage")
            print("  wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))


if __name__ == "__main__":
    main()

"""C-simulation throughput beside QKeras predict, and `l1ad validate` on a million jets.

Run on demand after `l1ad run` (or train + convert): `.venv/bin/python benchmarks/bench_csim.py runs/NAME`.
Prints: QKeras predict, the exact reference, the in-process csim (1 and all threads) and hls4ml's own
per-event predict in jets/s on the run's test jets; then the wall time of `l1ad validate RUN --data
<1M bootstrapped jets> --all-jets` as a user runs it (a fresh process, csim already compiled).
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("--jets", type=int, default=1_000_000, help="jets in the bootstrapped file")
    args = parser.parse_args()

    from l1ad.firmware import evaluate_exactly
    from l1ad.firmware.convert import project_graph
    from l1ad.firmware.csim import Csim
    from l1ad.firmware.vendor import link_project
    from l1ad.runs import Run
    from l1ad.stages import firmware_record
    from l1ad.training import models

    run = Run(args.run)
    info = firmware_record(run)
    x = run.test_events().x[0]
    n = len(x)
    print(f"{n:,} test jets, project {info.project_dir}")
    qkeras = run.model
    models.scores(qkeras, x[:1000])
    seconds = _best(lambda: models.scores(qkeras, x))
    print(f"QKeras predict (float32, batch 8192):        {n / seconds:12,.0f} jets/s  ({seconds:.2f} s)")
    model = project_graph(info.project_dir)
    seconds = _best(lambda: evaluate_exactly(model, x))
    print(f"exact reference (float64, all outputs):      {n / seconds:12,.0f} jets/s  ({seconds:.2f} s)")
    for threads in (1, None):
        sim = Csim(info.project_dir, threads=threads)
        seconds = _best(lambda: sim.predict(x))
        print(f"csim in process, batch loop, {sim.threads} thread(s):  {n / seconds:12,.0f} jets/s  ({seconds:.2f} s)")
    graph = link_project(info.project_dir)
    graph.compile()
    sample = np.ascontiguousarray(x[:20000], dtype="float64")
    seconds = _best(lambda: graph.predict(sample), repeat=1)
    print(f"csim, hls4ml predict (one call per jet):     {len(sample) / seconds:12,.0f} jets/s  (20,000 jets)")

    big = Path(args.run) / "bench" / f"bootstrap_{args.jets}.parquet"
    if not big.exists():
        subprocess.run([sys.executable, "-m", "l1ad.cli", "data", "bootstrap", str(big), "--jets", str(args.jets),
                        "--data", run.data_path()], check=True)
    command = [str(Path(sys.executable).parent / "l1ad"), "validate", str(args.run), "--data", str(big), "--all-jets"]
    for attempt in ("first (may compile)", "again"):
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            print(result.stdout[-2000:], result.stderr[-2000:])
            raise SystemExit("validate failed")
        print(f"l1ad validate, {args.jets:,} jets, all checked, {attempt}: {seconds:.1f} s wall")
    print(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()

"""`l1ad validate` of a converted run, run again: the wall time a user waits for bit-exactness, audit and physics
(AUC bootstrap intervals, plots) once the C simulation is compiled. Prints each rerun's wall time and the stage's own
split (validation.json timings).

Run on demand: `.venv/bin/python benchmarks/bench_validate.py runs/NAME [--repeat 3]` (the first call, which may
compile the C simulation and the test bench, is not counted).
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    command = [str(Path(sys.executable).parent / "l1ad"), "validate", str(args.run)]
    subprocess.run(command, check=True, capture_output=True)  # compiles what a first validation compiles
    walls = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
    doc = json.loads((args.run / "validation.json").read_text())
    print(f"l1ad validate {args.run} ({doc['events']:,} events), rerun {args.repeat} times: "
          f"min {min(walls):.1f} s, median {sorted(walls)[len(walls) // 2]:.1f} s, max {max(walls):.1f} s (wall)")
    print("last run's split (validation.json timings, s):",
          ", ".join(f"{k} {v:.1f}" for k, v in doc["timings"].items()))


if __name__ == "__main__":
    main()

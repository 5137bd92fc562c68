"""Generation throughput (jets per second per core) and loading time of the embedded sample.

Run on demand: `.venv/bin/python benchmarks/bench_data.py [--jets-per-class N]`.
"""

import argparse
import os
import time

from l1ad.training.datasets import DEFAULT_SAMPLE
from l1ad.training.io import load_jets
from l1ad.training.jetgen import generate


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jets-per-class", type=int, default=300)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--preset", default="official")
    args = parser.parse_args()

    start = time.perf_counter()
    table, provenance = generate(dict.fromkeys("gqtwz", args.jets_per_class), seed=1, workers=args.workers,
                                 preset=args.preset, progress=False)
    wall = time.perf_counter() - start
    events = sum(s["events"] for s in provenance["chunk_statistics"].values())
    print(f"generation, preset {args.preset} ({provenance['level']}): {len(table)} jets ({events} Pythia events used) in {wall:.1f} s wall on {args.workers} "
          f"workers = {len(table) / wall / args.workers:.1f} jets/s per core "
          f"(includes Pythia init per 500-event chunk and chunks generated beyond the need)")

    times = []
    for _ in range(3):
        start = time.perf_counter()
        jets = load_jets(DEFAULT_SAMPLE)
        times.append(time.perf_counter() - start)
    print(f"loading the embedded sample ({len(jets)} jets, {DEFAULT_SAMPLE.stat().st_size / 2**20:.1f} MiB): "
          f"best {min(times):.2f} s, worst {max(times):.2f} s over 3 loads (read + validation)")


if __name__ == "__main__":
    main()

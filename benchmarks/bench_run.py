"""`l1ad run` timed per stage on the embedded sample (a fresh run named bench).

Run on demand: `.venv/bin/python benchmarks/bench_run.py` (a few minutes on 2 cores).
"""

from pathlib import Path

from l1ad.pipeline import Pipeline


def main():
    run = Path("runs") / "bench"  # --restart replaces it only if it is an l1ad run
    summary = Pipeline(run=run, restart=True, echo=lambda line: None).execute()
    for stage in summary["stages"]:
        print(f"{stage['name']:33} {stage['status']:8} {stage['seconds']:8.1f} s")
    print(f"{'total':42} {summary['total_seconds']:8.1f} s")


if __name__ == "__main__":
    main()

"""The README's two set-up commands, timed from a fresh clone: `make run`, then `make test` in a second fresh clone.

Run on demand: `python3.11 benchmarks/bench_setup.py [--page docs/setup-times.md]` (about 15-20 minutes on 2 cores).
Each command runs in its own clone of this repository's HEAD, in a temporary folder that is removed afterwards,
with the machine otherwise quiet; `l1ad run`'s own per-stage timings are read from its output. With `--page` the
figures are written as the documentation's set-up page, with the date, the commit and the machine.
"""

import argparse
import datetime
import os
import platform
import re
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    # no cache outside the clone, as on a fresh machine: pip's, matplotlib's (fonts) and any other XDG cache in a
    # folder of the clone's own (numba's kernels and the bytecode live in the clone's .venv already)
    env = {**os.environ, "XDG_CACHE_HOME": str(cwd / ".fresh-cache"), "MPLCONFIGDIR": str(cwd / ".fresh-mpl")}
    start = time.monotonic()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    seconds = time.monotonic() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed in {cwd} ({done.returncode}):\n{done.stdout[-3000:]}"
                         f"\n{done.stderr[-3000:]}")
    return seconds, done.stdout + done.stderr


def fresh_clone(parent: Path, name: str) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(parent / name)], check=True)
    return parent / name


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    memory = next((int(line.split()[1]) // 1024**2 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    return f"{os.cpu_count()} cores ({cpu}), {memory} GB RAM, {platform.platform()}"


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {round(seconds % 60)} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", type=Path, help="write the figures as this markdown page")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="l1ad-setup-") as tmp:
        run_s, run_out = timed(["make", "run"], fresh_clone(Path(tmp), "run"))
        test_s, test_out = timed(["make", "test"], fresh_clone(Path(tmp), "test"))
    stages = re.findall(r"^(train|convert|validate \(csim, bit-exactness\)|rtl \(da4ml, Verilator, yosys\)|total)"
                        r"\s+(?:done\s+)?([\d.]+) s$", run_out, flags=re.M)
    tests = re.search(r"(\d+) passed.* in ([\d.]+)s", test_out)
    total = next((float(s) for name, s in stages if name == "total"), None)
    install = [f"install {run_s - total:.0f} s"] if total is not None else []
    rows = [("`make run`", minutes(run_s), "; ".join(install + [f"{name} {float(s):.0f} s" for name, s in stages])),
            ("`make test`", minutes(test_s), f"{tests.group(1)} tests passed in {float(tests.group(2)):.0f} s"
             if tests else "")]
    for row in rows:
        print(" | ".join(row))
    if args.page:
        args.page.write_text("\n".join([
            "# Set-up times", "",
            f"Made by `benchmarks/bench_setup.py --page {args.page}` on {datetime.date.today():%Y-%m-%d}, commit "
            f"`{commit}`, on {machine()}: each command in a fresh clone (a new `.venv`, the pinned packages "
            "installed from the registry, no cache outside the clone: `XDG_CACHE_HOME` and `MPLCONFIGDIR` point "
            "into it), one after the other on an otherwise quiet machine. Wall times of the whole command "
            "(`time.monotonic`); `l1ad run`'s stages as it printed them (install: the rest of `make run`, i.e. the "
            "`.venv` and da4ml's kernels); the tests as pytest counted them.", "",
            "| command | wall time | of which |", "|---|---|---|",
            *(f"| {a} | {b} | {c} |" for a, b, c in rows), "",
            "`make test` runs on two pytest-xdist workers; `pytest --durations 30` lists the slowest tests (the "
            "scan, the end-to-end and RTL runs, the notebooks, the bring-your-own-model chains).", ""]))


if __name__ == "__main__":
    main()

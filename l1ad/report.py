"""``l1ad report``: one page per run gathering model, physics, bit-exactness, latency and resources.

Every figure names the tool that produced it; sources that were not run are listed as missing, never
filled with zeros.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from l1ad.common.errors import L1adError
from l1ad.firmware.vendor import read_vendor_reports
from l1ad.training.evaluate import BACKGROUND_EFFICIENCIES, eff_key, format_value
from l1ad.common.files import read_json, write_json

from l1ad.common.style import figure, save, styled

from .anchors import ANCHORS
from .runs import as_run


def _maybe(path: Path) -> dict | None:
    return read_json(path) if path.exists() else None


def model_summary(run) -> dict:
    """The scoring model's trainable dense layers with their fixed-point types, for any run (trained or imported)."""
    r = as_run(run)
    graph = r.graph
    layers, total, nonzero = [], 0, 0
    for node in graph.operations():
        if node.kind != "dense" or not node.trainable:
            continue
        kernel, bias = node.constants["kernel"], node.constants["bias"]
        total += kernel.size + bias.size
        nonzero += int(np.count_nonzero(kernel) + np.count_nonzero(bias))
        following = graph.consumers(node.name)
        act = following[0].quantizer if len(following) == 1 and following[0].kind == "quantizer" else None
        types = {k: t.hls() for k, t in node.constant_types.items()}
        layers.append({"layer": node.name, "inputs": kernel.shape[0], "units": kernel.shape[1],
                       "weights": types.get("kernel", "float"), "biases": types.get("bias", "float"),
                       "activation": act.hls() if act is not None else "-"})
    summary = {"kind": r.kind, "layers": layers, "parameters": int(total), "nonzero_parameters": nonzero}
    if r.kind == "trained":
        config = r.config
        summary.update(architecture=config.model.architecture_string(), variant=config.training.variant,
                       score=getattr(getattr(config, "score", None), "kind", "mse"),
                       transform=getattr(config.data, "transform", "standard"),
                       pruning=config.pruning.target_sparsity if config.pruning.enabled else None)
    else:
        summary.update(architecture=graph.name, model_file=r.imported["model"]["path"])
    return summary


def hardware_rows(run) -> tuple[list[dict], list[str]]:
    """Latency and resources from every available source, each row naming its tool."""
    handle = as_run(run)
    run = handle.path
    rows, missing = [], []
    rtl = _maybe(run / "rtl.json")
    if rtl:
        lat = rtl["latency"]
        if "yosys" in rtl:
            y = rtl["yosys"]
            t = rtl.get("timing_estimate")
            clock = f"{lat['target_clock_mhz']:g} MHz target"
            if t:
                clock += f"; estimate {t['worst_stage_ns']:.2f} ns worst stage ({'meets' if t['meets_clock'] else 'misses'})"
            rows.append({"source": "Verilator (latency) + yosys synth_xilinx xcup (resources)", "short": "yosys + Verilator",
                         "latency_cycles": lat["cycles"], "ii": lat["initiation_interval"], "clock": clock,
                         "LUT": y["LUT"], "FF": y["FF"], "DSP": y["DSP"], "BRAM": y["BRAM"], "CARRY": y["CARRY"]})
        else:
            missing.append("yosys (rtl built with --no-synth)")
        e = rtl["da4ml_estimate"]
        rows.append({"source": "da4ml cost model (estimate)", "short": "da4ml estimate", "latency_cycles": lat["cycles"], "ii": 1,
                     "clock": "same pipeline", "LUT": round(e["lut_equivalent_cost"]), "FF": e["register_bits"],
                     "DSP": None, "BRAM": None, "CARRY": None})
    else:
        missing.append("open RTL flow (run: l1ad rtl RUN)")
    vendor = {}
    if (run / "firmware.json").exists():
        from l1ad.stages import firmware

        try:  # only reports of this run's own project: firmware() checks the project is the one it converted
            vendor = read_vendor_reports(firmware(handle)["project_dir"])
        except L1adError as err:
            missing.append(f"vendor reports not read: {err}")
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


def gather(run) -> dict:
    """report.json's content, from the run's records (a Run, or a run folder's path)."""
    handle = as_run(run)
    run = handle.path
    validation = _maybe(run / "validation.json")
    rtl = _maybe(run / "rtl.json")
    metrics = _maybe(run / "metrics.json")
    rows, missing = hardware_rows(handle)
    data = _maybe(run / "data.json") or {}
    distance = _maybe(run / "distance.json")
    if distance and not distance.get("passed"):
        missing.append("distance baseline: its firmware failed a check (distance.json), so its figures are not shown")
        distance = None
    physics, source = None, "not available (no labels)"
    if validation and validation.get("physics"):
        physics, source = validation["physics"], ("validation.json (float: Keras; qkeras: exact evaluation; csim: "
                                                  "hls4ml C simulation)")
    elif metrics:
        physics, source = metrics, "metrics.json (Keras predict; run l1ad validate for csim)"
    return {
        "run": run.resolve().name,
        "data": {k: data.get(k) for k in ("path", "embedded_default", "sha256")},
        "model": model_summary(handle),
        "physics": physics,
        "physics_source": source,
        "baselines": _baselines(metrics, distance),
        "baseline_costs": _baseline_costs(distance),
        "seeds": (metrics or {}).get("seeds"),
        "rates": _current_rates(_maybe(run / "rates.json"), _maybe(run / "firmware.json")),
        "bit_exactness": {
            "csim_vs_exact_qkeras": validation["csim_vs_exact_qkeras"] if validation else None,
            "testbench_vs_exact_qkeras": validation.get("testbench") if validation else None,
            "fixed_point_audit": {k: validation["audit"][k] for k in ("total_saturated", "total_wrapped")}
            if validation else None,
            "trigger_bit": validation.get("trigger_bit") if validation else None,
            "rtl_vs_csim": rtl["rtl_vs_csim"] if rtl else None,
        },
        "hardware": rows,
        "hardware_missing": missing,
        "rtl": {k: rtl[k] for k in ("breakdown", "timing_estimate") if k in rtl} if rtl else {},
        "anchors": ANCHORS,
    }


BASELINE_NAMES = {"distance": "distance, no network", "density": "density (GaussianMixture, not on chip)",
                  "supervised": "supervised (not on chip)"}


def _baselines(metrics: dict | None, distance: dict | None) -> dict | None:
    """The baselines' physics; the distance baseline's from its own C simulation once it has been built."""
    baselines = dict((metrics or {}).get("baselines") or {})
    if distance:
        baselines["distance"] = {**distance["physics"], "model": distance["model"], "source": distance["physics_source"]}
    return {BASELINE_NAMES.get(k, k): v for k, v in baselines.items()} or None


def _baseline_costs(distance: dict | None) -> dict:
    """LUT and cycles of the baselines that go on the chip (yosys and Verilator, as for the default)."""
    if not distance:
        return {}
    return {BASELINE_NAMES["distance"]: {"LUT": distance.get("yosys", {}).get("LUT"),
                                         "cycles": distance["latency"]["cycles"]}}


def seed_table(seeds: dict) -> list[str]:
    """Markdown: mean and spread over the training seeds, per signal."""
    if not seeds.get("signals"):
        return [f"{len(seeds['seeds'])} training seeds ({', '.join(map(str, seeds['seeds']))}; kept: "
                f"{seeds['kept_seed']}, by {seeds['kept_by']}); no signal jets, so no spread of signal figures."]
    keys = [k for k in next(iter(seeds["signals"].values())) if k != "auc"]
    lines = [f"Spread over {len(seeds['seeds'])} training seeds ({', '.join(map(str, seeds['seeds']))}; kept: "
             f"{seeds['kept_seed']}, by {seeds['kept_by']}); {seeds['source']}; mean ± sample standard deviation "
             "[lowest, highest]:", "",
             "| signal | AUC | " + " | ".join(f"eff @ bkg {float(k.split('@')[1]):g}" for k in keys) + " |",
             "|" + "---|" * (2 + len(keys))]
    for signal, figures in seeds["signals"].items():
        cells = [_spread(figures["auc"], 3)] + [_spread(figures[k], 4) for k in keys]
        lines.append(f"| {signal} | " + " | ".join(cells) + " |")
    return lines


def _current_rates(rates: dict | None, firmware_doc: dict | None) -> dict | None:
    """rates.json only if it was made from the run's current firmware (project and threshold) and passed."""
    if not rates or not firmware_doc or not rates.get("passed"):
        return None
    same = all(rates.get(k) == firmware_doc.get(k) for k in ("project_dir", "threshold"))
    return rates if same else None


def rates_table(rates: dict) -> list[str]:
    """Markdown: signal efficiencies at thresholds set on a large background-only sample."""
    signals = list(rates["levels"][0]["signals"]) if rates["levels"] else []
    score = rates["csim_vs_exact_qkeras"]["score"]
    lines = [f"Thresholds from {rates['background_jets']:,} background jets of `{Path(rates['background_file']).name}` "
             f"(sha256 {rates['background_sha256'][:12]}; csim = exact QKeras on {score['bit_identical']:,} of "
             f"{score['compared']:,}); signal efficiencies on the {rates['signal_source']}; 95% CL:", "",
             "| bkg eff | threshold | bkg jets above | " + " | ".join(f"eff {s} [95% CL]" for s in signals) + " |",
             "|" + "---|" * (3 + len(signals))]
    for level in rates["levels"]:
        cells = [format_value(level["signals"][s]["signal_efficiency"], level["signals"][s]["signal_efficiency_interval"],
                              4) for s in signals]
        lines.append(f"| {level['background_efficiency_target']:g} | {level['threshold']:g} | "
                     f"{level['background_jets_above']:,} | " + " | ".join(cells) + " |")
    return lines


def _spread(f: dict, digits: int) -> str:
    return f"{f['mean']:.{digits}f} ± {f['std']:.{digits}f} [{f['min']:.{digits}f}, {f['max']:.{digits}f}]"


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


def _physics_table(physics: dict, models: list[str] | None = None, costs: dict | None = None) -> list[str]:
    """Markdown rows: AUC and efficiencies at each background efficiency, with 95% intervals, per model; with
    ``costs`` (model -> LUT, cycles) two more columns, '-' for a model that is not on the chip."""
    models = models or [m for m in ("float", "qkeras", "csim") if isinstance(physics.get(m), dict)
                        and "signals" in physics[m]]
    first = physics[models[0]]
    keys = [eff_key(eps) for eps in BACKGROUND_EFFICIENCIES if eff_key(eps) in first["thresholds"]]
    extra = " LUT (yosys) | cycles |" if costs is not None else ""
    lines = ["| signal | model | AUC [95% CL] | " + " | ".join(f"eff @ bkg {float(k):g} [95% CL]" for k in keys) + " |"
             + extra, "|" + "---|" * (3 + len(keys) + (2 if costs is not None else 0))]
    for signal in first["signals"]:
        for m in models:
            entry = physics[m]["signals"].get(signal)
            if entry is None:
                continue
            cells = [format_value(entry["auc"], entry.get("auc_interval"))]
            cells += [format_value(entry["at_background_efficiency"][k]["signal_efficiency"],
                                   entry["at_background_efficiency"][k].get("signal_efficiency_interval"), 4)
                      for k in keys]
            if costs is not None:
                cost = costs.get(m) or {}
                cells += [_fmt(cost.get("LUT")), _fmt(cost.get("cycles"))]
            lines.append(f"| {signal} | {m} | " + " | ".join(cells) + " |")
    n = first["n_background"]
    lines += ["", "Thresholds set on " + ", ".join(f"{n:,} background test jets at {float(k):g} "
                                                   f"({first['threshold_background_jets'][k]} jets above)" for k in keys)
              + "."]
    return lines


def markdown(doc: dict) -> str:
    m = doc["model"]
    data = doc["data"]
    where = ("embedded default sample" if data.get("embedded_default") else data.get("path") or "imported inputs")
    out = [f"# l1ad report: {doc['run']}", "",
           f"Data: {where}" + (f" (sha256 {data['sha256'][:12]})." if data.get("sha256") else "."), "", "## Model", "",
           f"Model ({m['kind']} run): {m['architecture']}"
           + (f", score {m['score']}, input transform {m['transform']}, variant {m['variant']}" if m["kind"] == "trained" else "")
           + f"; {m['parameters']:,} parameters ({m['nonzero_parameters']:,} non-zero).", "",
           ]
    if m["layers"]:
        out += ["| layer | inputs | units | weights | biases | activation |", "|---|---|---|---|---|---|"]
        out += [f"| {l['layer']} | {l['inputs']} | {l['units']} | {l['weights']} | {l['biases']} | {l['activation']} |"
                for l in m["layers"]]
    else:
        out.append("No trained layers on the chip: the input quantizer, the squares and their fixed-weight sum. The "
                   "input transform (scaler.json) holds the constants applied before the FPGA.")
    out += ["", "## Physics on the test jets", ""]
    if doc["physics"]:
        out += [f"Source: {doc['physics_source']}. Efficiencies are signal efficiencies at fixed background "
                "efficiency; intervals are 95% CL (AUC: bootstrap; efficiencies: Clopper-Pearson).", ""]
        out += _physics_table(doc["physics"])
    else:
        out.append(f"Not available: {doc['physics_source']}.")
    if doc.get("seeds"):
        out += ["", "### Spread over training seeds", ""] + seed_table(doc["seeds"])
    if doc.get("baselines"):
        out += ["", "### Baselines, same test jets", "", "The distance baseline goes on the chip like the default "
                "(its physics from its C simulation, its cost from yosys and Verilator); the density and supervised "
                "baselines are context, not firmware.", ""]
        out += _physics_table(doc["baselines"], list(doc["baselines"]), doc.get("baseline_costs") or {})
    if doc.get("rates"):
        out += ["", "### Rates from a large background sample", "", *rates_table(doc["rates"])]
    b = doc["bit_exactness"]
    out += ["", "## Bit-exactness", ""]
    for title, key in (("csim vs QKeras evaluated exactly", "csim_vs_exact_qkeras"),
                       ("the project's test bench vs QKeras evaluated exactly (test bench events)",
                        "testbench_vs_exact_qkeras"),
                       ("RTL (Verilator) vs csim", "rtl_vs_csim")):
        if b[key]:
            out.append(f"- {title}: " + ", ".join(f"{k} {v['bit_identical']:,}/{v['compared']:,}" for k, v in b[key].items()))
        else:
            out.append(f"- {title}: not run")
    if b["fixed_point_audit"]:
        out.append(f"- fixed-point audit (all test events, every layer): {b['fixed_point_audit']['total_saturated']:,} "
                   f"saturations, {b['fixed_point_audit']['total_wrapped']:,} wraps")
    if b.get("trigger_bit"):
        t = b["trigger_bit"]
        out.append(f"- trigger bit equals score > {t['threshold']:g} on every event: {t['matches_score_above_threshold']} "
                   f"(threshold {t.get('threshold_mode')}: {t['threshold_source']})")
    out += ["", "## Latency and resources", "", *hardware_table(doc["hardware"]), *rtl_details(doc.get("rtl") or {})]
    out += ["", "Not available: " + "; ".join(doc["hardware_missing"]) if doc["hardware_missing"] else "",
            "", "yosys maps carries to CARRY4 (Vivado would use CARRY8) and gives no timing; latency in nanoseconds "
            "is cycles times the target period; whether a stage fits the period is the estimate above.", "",
            "![resources and latency](report.png)", "",
            "## Published figures of comparable systems (context, not our measurements)", "",
            "| system | latency | resources | citation |", "|---|---|---|---|"]
    out += [f"| {a['system']}{'' if a['verified'] else ' (unverified)'} | {a['latency']} | {a['resources']} | {a['citation']} |"
            for a in doc["anchors"]]
    return "\n".join(out) + "\n"


def hardware_table(rows: list[dict]) -> list[str]:
    lines = ["| source | latency (cycles) | II | clock | LUT | FF | DSP | BRAM | CARRY |", "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['source']} | {_fmt(r['latency_cycles'])} | {_fmt(r['ii'])} | {r['clock']} | {_fmt(r['LUT'])} | "
              f"{_fmt(r['FF'])} | {_fmt(r['DSP'])} | {_fmt(r['BRAM'])} | {_fmt(r['CARRY'])} |" for r in rows]
    return lines


def rtl_details(rtl: dict) -> list[str]:
    """The per-part breakdown and the timing estimate of the open RTL flow, where rtl.json has them."""
    out = []
    parts = (rtl.get("breakdown") or {}).get("parts")
    if parts:
        out += ["", "Where the resources go (open RTL flow; each part traced, pipelined and synthesized on its own "
                "with yosys; the whole design above is the figure of record):", "",
                "| part | LUT (yosys) | FF | CARRY | DSP | da4ml LUT-eq (estimate) | cycles alone |",
                "|---|---|---|---|---|---|---|"]
        out += [f"| {name} | {_fmt(p.get('LUT'))} | {_fmt(p.get('FF'))} | {_fmt(p.get('CARRY'))} | {_fmt(p.get('DSP'))} | "
                f"{p['da4ml_lut_equivalent_cost']:,.0f} | {p['cycles_alone']} |" for name, p in parts.items()]
    t = rtl.get("timing_estimate")
    if t:
        out += ["", f"Timing ESTIMATE (not timing closure): the slowest of {len(t['stages'])} pipeline stages is stage "
                f"{t['worst_stage']} at {t['worst_stage_ns']:.2f} ns against the {t['clock_period_ns']:g} ns clock: it "
                f"{'meets' if t['meets_clock'] else 'misses'} the clock by {abs(t['slack_ns']):.2f} ns. {t['source']}.", "",
                "| stage | LUT | CARRY | LUT levels | logic levels | estimated ns | da4ml delay (adder levels) |",
                "|---|---|---|---|---|---|---|"]
        out += [f"| {r['stage']} | {r['LUT']:,} | {r['CARRY']:,} | {r['lut_levels']} | {r['logic_levels']} | "
                f"{r['estimated_ns']:.2f} | {r['da4ml_delay_adder_levels']:g} |" for r in t["stages"]]
    return out


@styled
def hardware_figure(doc: dict, path: Path) -> Path:
    rows = [r for r in doc["hardware"] if r["LUT"] is not None]
    fig, (left, right) = figure(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [2.2, 1]})
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
    return save(fig, path)


def write_report(run) -> Path:
    """report.json, report.md and report.png of a run (a Run, or a run folder's path)."""
    doc = gather(run)
    run = as_run(run).path
    write_json(run / "report.json", doc)
    hardware_figure(doc, run / "report.png")
    (run / "report.md").write_text(markdown(doc))
    return run / "report.md"

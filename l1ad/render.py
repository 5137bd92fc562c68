"""Every text l1ad shows of its results, from the typed records (:mod:`l1ad.common.records`): the report's markdown,
the terminal output of each command and the ``l1ad run`` summary, and the README's results block. A field is read
here and nowhere else, so renaming it touches its record and this module.
"""

from __future__ import annotations

from pathlib import Path

from l1ad.common.records import (Distance, Figures, HardwareRow, Rates, Report, Rtl, RunSummary, SeedSpread, Spread,
                                 Validation)
from l1ad.training.evaluate import BACKGROUND_EFFICIENCIES, eff_key, format_value

BASELINE_NAMES = {"distance": "distance, no network", "density": "density (GaussianMixture, not on chip)",
                  "supervised": "supervised (not on chip)"}
EXACTNESS = (("csim vs QKeras evaluated exactly", "csim_vs_exact_qkeras"),
             ("the project's test bench vs QKeras evaluated exactly (test bench events)", "testbench_vs_exact_qkeras"),
             ("RTL (Verilator) vs csim", "rtl_vs_csim"))


def _fmt(value, digits=3):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _agreements(agreements: dict) -> str:
    return ", ".join(f"{k} {v.bit_identical:,}/{v.compared:,}" for k, v in agreements.items())


def _widest(agreement) -> str:
    """The widest value compared (as exact integers, whatever the width)."""
    return f" (compared as integers, widest value {agreement.widest_bits} bits)" if agreement.widest_bits else ""


BUNCH_CROSSING_HZ = 40e6  # the LHC's bunch-crossing rate: a background efficiency eps means a trigger rate eps x 40 MHz
RATE_NOTE = ("Rates: background efficiency × 40 MHz, the LHC's bunch-crossing rate (every crossing taken as one "
             "background event).")


def rate(eps: float) -> str:
    """The trigger rate a background efficiency means at the LHC's 40 MHz bunch crossings ("40 kHz" for 1e-3)."""
    hz = eps * BUNCH_CROSSING_HZ
    return f"{hz / 1e6:g} MHz" if hz >= 1e6 else f"{hz / 1e3:g} kHz" if hz >= 1e3 else f"{hz:g} Hz"


# --- terminal ------------------------------------------------------------------------------------------------

def figures_lines(models: dict[str, Figures]) -> list[str]:
    """Per model and signal: AUC, efficiencies at 1e-2 and 1e-3, with 95% intervals (a terminal table)."""
    lines = [f"{'model':8} {'signal':6} {'AUC [95% CL]':>22} {'eff@1e-2':>9} {'eff@1e-3 [95% CL]':>26}",
             f"{'':37} {'(400 kHz)':>9} {'(40 kHz at 40 MHz)':>26}"]
    for model, figures in models.items():
        for signal, entry in figures.signals.items():
            auc = entry.auc_interval or (entry.auc, entry.auc)
            at = entry.at_background_efficiency
            e2 = at["1e-02"].signal_efficiency if "1e-02" in at else float("nan")
            e3, interval = ((at["1e-03"].signal_efficiency, at["1e-03"].signal_efficiency_interval) if "1e-03" in at
                            else (float("nan"), (0.0, 0.0)))
            lines.append(f"{model:8} {signal:6} {entry.auc:6.3f} [{auc[0]:.3f}, {auc[1]:.3f}] {e2:9.4f} {e3:8.4f} "
                         f"[{interval[0]:.4f}, {interval[1]:.4f}]")
    return lines


def validation_lines(v: Validation) -> list[str]:
    lines = [f"{output:15} bit-identical csim vs exact QKeras: {a.bit_identical:,}/{a.compared:,}{_widest(a)}"
             for output, a in v.csim_vs_exact_qkeras.items()]
    lines.append(f"fixed-point audit: {v.audit.total_saturated:,} saturations, {v.audit.total_wrapped} wraps")
    if v.input_type:
        lines.append(input_type_line(v.input_type))
    if v.trace.first_divergent_layer:
        lines.append(f"first divergent layer: {v.trace.first_divergent_layer} (holds node "
                     f"{v.trace.first_divergent_node})")
    if v.physics:
        lines += figures_lines({k: f for k, f in (("float", v.physics.float_), ("qkeras", v.physics.qkeras),
                                                  ("csim", v.physics.csim)) if f is not None})
    else:
        lines.append(f"physics skipped: {v.physics_skipped}")
    lines.append(f"{v.events:,} events; csim {v.throughput_events_per_s['csim_in_process']:,.0f} events/s; timings "
                 + ", ".join(f"{k} {s:.1f}" for k, s in v.timings.items()))
    return lines


def rtl_lines(r: Rtl) -> list[str]:
    lines = [f"{name:15} bit-identical RTL (Verilator) vs csim: {c.bit_identical:,}/{c.compared:,}{_widest(c)}"
             for name, c in r.rtl_vs_csim.items()]
    lat = r.latency
    lines.append(f"latency {lat.cycles} cycles, II {lat.initiation_interval} (Verilator); "
                 f"{lat.ns_at_target_clock:.0f} ns at {lat.target_clock_mhz:g} MHz")
    if r.yosys:
        y, t = r.yosys, r.timing_estimate
        lines.append(f"yosys xcup: LUT {y.LUT:,}, FF {y.FF:,}, CARRY {y.CARRY:,}, DSP {y.DSP}, BRAM {y.BRAM}, "
                     f"SRL {y.SRL}; da4ml estimate {r.da4ml_estimate.lut_equivalent_cost:,.0f} LUT-eq")
        lines.append(f"timing ESTIMATE: worst stage {t.worst_stage_ns:.2f} ns against {t.clock_period_ns:g} ns "
                     f"({'meets' if t.meets_clock else 'misses'} the clock by {abs(t.slack_ns):.2f} ns; "
                     f"pipeline cut every {lat.latency_cutoff_adder_levels} adder levels); not timing closure")
    for name, part in (r.breakdown.parts.items() if r.breakdown else []):
        cells = f"LUT {part.LUT:,}, FF {part.FF:,}, DSP {part.DSP}" if part.LUT is not None else ""
        lines.append(f"  {name:8} {cells}; da4ml {part.da4ml_lut_equivalent_cost:,.0f} LUT-eq, "
                     f"{part.cycles_alone} cycles alone")
    return lines


def distance_lines(d: Distance) -> list[str]:
    lines = [f"{name:8} bit-identical csim vs exact QKeras: {c.bit_identical:,}/{c.compared:,}; RTL vs csim: "
             f"{d.rtl_vs_csim[name].bit_identical:,}/{d.rtl_vs_csim[name].compared:,}"
             for name, c in d.csim_vs_exact_qkeras.items()]
    cost = f", yosys LUT {d.yosys.LUT:,}, DSP {d.yosys.DSP}" if d.yosys else ""
    lines.append(f"latency {d.latency.cycles} cycles, II {d.latency.initiation_interval} (Verilator){cost}")
    lines.append(f"physics: {d.physics_source}")
    return lines + figures_lines({"distance": d.physics})


def rates_lines(r: Rates) -> list[str]:
    score = r.csim_vs_exact_qkeras["score"]
    lines = [f"{r.background_jets:,} background jets; csim vs exact QKeras: {score.bit_identical:,}/"
             f"{score.compared:,} scores bit-identical",
             "thresholds and signal efficiencies from the exact QKeras scores (= csim), 95% Clopper-Pearson:"]
    for level in r.levels:
        effs = ", ".join(f"{s} {e.signal_efficiency:.4f} [{e.signal_efficiency_interval[0]:.4f}, "
                         f"{e.signal_efficiency_interval[1]:.4f}]" for s, e in level.signals.items())
        lines.append(f"bkg eff {level.background_efficiency_target:g} (threshold {level.threshold:g}, "
                     f"{level.background_jets_above:,} jets above): {effs}")
    return lines


def hardware_line(row: HardwareRow) -> str:
    """One source's latency and resources on one line, for terminals; figures a source lacks are left out."""
    figures = [f"{key} {getattr(row, key):,}" for key in ("LUT", "FF", "DSP", "BRAM", "CARRY")
               if getattr(row, key) is not None]
    latency = f"latency {row.latency_cycles} cycles, II {row.ii}" if row.latency_cycles is not None else ""
    return f"{row.source}: " + ", ".join(filter(None, [latency, *figures]))


def summary_lines(summary: RunSummary, report: Report, report_path: Path) -> list[str]:
    """The ``l1ad run`` summary: stages, physics (default, seeds, baselines), bit-exactness, latency, resources."""
    lines = ["", f"{'stage':38} status    wall time"]
    lines += [f"{s.name:38} {s.status:9} {s.seconds:8.1f} s" for s in summary.stages]
    lines.append(f"{'total':48} {summary.total_seconds:8.1f} s")
    lines += _summary_physics(report)
    seeds = report.seeds
    if seeds:
        lines += ["", f"spread over seeds {', '.join(map(str, seeds.seeds))} (kept {seeds.kept_seed}: lowest "
                  f"background validation loss{failed_text(seeds)}), {seeds.source}, mean ± std:"]
        for signal, f in seeds.signals.items():
            eff = f.get("eff@1e-03")
            lines.append(f"  {signal}: AUC {f['auc'].mean:.3f} ± {f['auc'].std:.3f}" + (
                f", eff @ bkg 1e-3 (40 kHz at 40 MHz) {eff.mean:.4f} ± {eff.std:.4f}" if eff else ""))
    bits = report.bit_exactness
    lines.append("")
    for title, key in (("csim vs exact QKeras", "csim_vs_exact_qkeras"), ("RTL vs csim", "rtl_vs_csim")):
        if getattr(bits, key):
            lines.append(f"{title:22} " + _agreements(getattr(bits, key)))
    lines.append("")
    lines += [hardware_line(row) for row in report.hardware]
    lines.append(f"report: {report_path}; next: l1ad gallery {report_path.parent} to refresh the README's table "
                 "and docs/results.md")
    return lines


def _physics_rows(report: Report) -> list[tuple[str, Figures]]:
    physics = report.physics
    rows = [(m, getattr(physics, "float_" if m == "float" else m, None)) for m in ("float", "qkeras", "csim")]
    return [(m, f) for m, f in rows if f is not None] + list((report.baselines or {}).items())


def _summary_physics(report: Report) -> list[str]:
    rows = _physics_rows(report) if report.physics else []
    if not rows:
        return []
    lines = ["", f"physics: {report.physics_source}; baselines: distance from its own C simulation, density and "
             "supervised from scikit-learn; LUT (yosys) and cycles (Verilator) of the on-chip ones",
             f"{'signal':6}  {'model':38} {'AUC [95% CL]':24}  {'eff @ bkg 1e-3 (40 kHz) [95% CL]':34}  LUT, cycles"]
    for signal in rows[0][1].signals:
        for name, figures in rows:
            entry = figures.signals.get(signal)
            if entry is None:
                continue
            at = entry.at_background_efficiency.get("1e-03")
            eff = format_value(at.signal_efficiency, at.signal_efficiency_interval, 4) if at else "-"
            cost = report.baseline_costs.get(name)
            cost = f"{cost.LUT:,}, {cost.cycles}" if cost and cost.LUT is not None else ""
            lines.append(f"{signal:6}  {name:38} {format_value(entry.auc, entry.auc_interval):24}  {eff:34}  {cost}")
    return lines


# --- markdown ------------------------------------------------------------------------------------------------

def physics_table(models: dict[str, Figures], costs: dict | None = None) -> list[str]:
    """Markdown rows: AUC and efficiencies at each background efficiency, with 95% intervals, per model; with
    ``costs`` (model -> LUT, cycles) two more columns, '-' for a model that is not on the chip."""
    first = next(iter(models.values()))
    keys = [eff_key(eps) for eps in BACKGROUND_EFFICIENCIES if eff_key(eps) in first.thresholds]
    extra = " LUT (yosys) | cycles |" if costs is not None else ""
    lines = ["| signal | model | AUC [95% CL] | "
             + " | ".join(f"eff @ bkg {float(k):g} ({rate(float(k))}) [95% CL]" for k in keys) + " |"
             + extra, "|" + "---|" * (3 + len(keys) + (2 if costs is not None else 0))]
    for signal in first.signals:
        for m, figures in models.items():
            entry = figures.signals.get(signal)
            if entry is None:
                continue
            cells = [format_value(entry.auc, entry.auc_interval)]
            cells += [format_value(entry.at_background_efficiency[k].signal_efficiency,
                                   entry.at_background_efficiency[k].signal_efficiency_interval, 4) for k in keys]
            if costs is not None:
                cost = costs.get(m)
                cells += [_fmt(cost.LUT if cost else None), _fmt(cost.cycles if cost else None)]
            lines.append(f"| {signal} | {m} | " + " | ".join(cells) + " |")
    n = first.n_background
    lines += ["", "Thresholds set on " + ", ".join(f"{n:,} background test jets at {float(k):g} "
                                                   f"({first.threshold_background_jets[k]} jets above)" for k in keys)
              + ". " + RATE_NOTE]
    return lines


def _chip_models(report: Report) -> dict[str, Figures]:
    return {m: f for m, f in _physics_rows(report) if m in ("float", "qkeras", "csim")}


def failed_text(seeds: SeedSpread) -> str:
    """The failed trainings of a seed spread, named, or nothing."""
    from l1ad.training.train import FAILED_TRAINING

    if not seeds.failed:
        return ""
    losses = ", ".join(f"{s}: {seeds.validation_loss[str(s)]:.1f}" for s in seeds.failed)
    return (f"; failed trainings, outside mean ± std: {losses} (best background validation loss above "
            f"{FAILED_TRAINING:g} x the lowest, {min(v for v in seeds.validation_loss.values() if v is not None):.1f})")


def seed_table(seeds: SeedSpread) -> list[str]:
    """Markdown: mean and spread over the training seeds, per signal."""
    head = (f"{len(seeds.seeds)} training seeds ({', '.join(map(str, seeds.seeds))}; kept: {seeds.kept_seed}, by "
            f"{seeds.kept_by}{failed_text(seeds)})")
    if not seeds.signals:
        return [f"{head}; no signal jets, so no spread of signal figures."]
    keys = [k for k in next(iter(seeds.signals.values())) if k != "auc"]
    lines = [f"Spread over {head[0].lower()}{head[1:]}; {seeds.source}; mean ± sample standard deviation "
             "[lowest, highest]:", "",
             "| signal | AUC | " + " | ".join(f"eff @ bkg {float(k.split('@')[1]):g} ({rate(float(k.split('@')[1]))})"
                                              for k in keys) + " |",
             "|" + "---|" * (2 + len(keys))]
    for signal, figures in seeds.signals.items():
        cells = [_spread(figures["auc"], 3)] + [_spread(figures[k], 4) for k in keys]
        lines.append(f"| {signal} | " + " | ".join(cells) + " |")
    return lines


def _spread(f: Spread, digits: int) -> str:
    return f"{f.mean:.{digits}f} ± {f.std:.{digits}f} [{f.min:.{digits}f}, {f.max:.{digits}f}]"


def rates_table(rates: Rates) -> list[str]:
    """Markdown: signal efficiencies at thresholds set on a large background-only sample."""
    signals = list(rates.levels[0].signals) if rates.levels else []
    score = rates.csim_vs_exact_qkeras["score"]
    lines = [f"Thresholds from {rates.background_jets:,} background jets of `{Path(rates.background_file).name}` "
             f"(sha256 {rates.background_sha256[:12]}; csim = exact QKeras on {score.bit_identical:,} of "
             f"{score.compared:,}); signal efficiencies on the {rates.signal_source}; 95% CL:", "",
             "| bkg eff | rate at 40 MHz | threshold | bkg jets above | " + " | ".join(f"eff {s} [95% CL]" for s in signals)
             + " |", "|" + "---|" * (4 + len(signals))]
    for level in rates.levels:
        cells = [format_value(level.signals[s].signal_efficiency, level.signals[s].signal_efficiency_interval, 4)
                 for s in signals]
        lines.append(f"| {level.background_efficiency_target:g} | {rate(level.background_efficiency_target)} | "
                     f"{level.threshold:g} | {level.background_jets_above:,} | " + " | ".join(cells) + " |")
    return lines + ["", RATE_NOTE]


def hardware_table(rows: list[HardwareRow]) -> list[str]:
    lines = ["| source | latency (cycles) | II | clock | LUT | FF | DSP | BRAM | CARRY |", "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r.source} | {_fmt(r.latency_cycles)} | {_fmt(r.ii)} | {r.clock} | {_fmt(r.LUT)} | "
              f"{_fmt(r.FF)} | {_fmt(r.DSP)} | {_fmt(r.BRAM)} | {_fmt(r.CARRY)} |" for r in rows]
    return lines


def rtl_details(report: Report) -> list[str]:
    """The per-part breakdown and the timing estimate of the open RTL flow, where the run has them."""
    out = []
    parts = report.rtl.breakdown.parts if report.rtl.breakdown else None
    if parts:
        out += ["", "Where the resources go (open RTL flow; each part traced, pipelined and synthesized on its own "
                "with yosys; the whole design above is the figure of record):", "",
                "| part | LUT (yosys) | FF | CARRY | DSP | da4ml LUT-eq (estimate) | cycles alone |",
                "|---|---|---|---|---|---|---|"]
        out += [f"| {name} | {_fmt(p.LUT)} | {_fmt(p.FF)} | {_fmt(p.CARRY)} | {_fmt(p.DSP)} | "
                f"{p.da4ml_lut_equivalent_cost:,.0f} | {p.cycles_alone} |" for name, p in parts.items()]
    t = report.rtl.timing_estimate
    if t:
        out += ["", f"Timing ESTIMATE (not timing closure): the slowest of {len(t.stages)} pipeline stages is stage "
                f"{t.worst_stage} at {t.worst_stage_ns:.2f} ns against the {t.clock_period_ns:g} ns clock: it "
                f"{'meets' if t.meets_clock else 'misses'} the clock by {abs(t.slack_ns):.2f} ns. {t.source}.", "",
                "| stage | LUT | CARRY | LUT levels | logic levels | estimated ns | da4ml delay (adder levels) |",
                "|---|---|---|---|---|---|---|"]
        out += [f"| {r.stage} | {r.LUT:,} | {r.CARRY:,} | {r.lut_levels} | {r.logic_levels} | "
                f"{r.estimated_ns:.2f} | {r.da4ml_delay_adder_levels:g} |" for r in t.stages]
    return out


def report_markdown(doc: Report) -> str:
    """report.md."""
    out = [f"# l1ad report: {doc.run}", "", *_data_and_model(doc), "", "## Physics on the test jets", ""]
    if doc.physics:
        out += [f"Source: {doc.physics_source}. Efficiencies are signal efficiencies at fixed background "
                "efficiency; intervals are 95% CL (AUC: bootstrap; efficiencies: Clopper-Pearson).", ""]
        out += physics_table(_chip_models(doc))
    else:
        out.append(f"Not available: {doc.physics_source}.")
    if doc.seeds:
        out += ["", "### Spread over training seeds", ""] + seed_table(doc.seeds)
    if doc.baselines:
        out += ["", "### Baselines, same test jets", "", "The distance baseline goes on the chip like the default "
                "(its physics from its C simulation, its cost from yosys and Verilator); the density and supervised "
                "baselines are context, not firmware.", ""]
        out += physics_table(doc.baselines, doc.baseline_costs)
    if doc.rates:
        out += ["", "### Rates from a large background sample", "", *rates_table(doc.rates)]
    out += ["", "## Bit-exactness", "", *_exactness_items(doc)]
    out += ["", "## Latency and resources", "", *hardware_table(doc.hardware), *rtl_details(doc)]
    out += ["", "Not available: " + "; ".join(doc.hardware_missing) if doc.hardware_missing else "",
            "", "yosys maps carries to CARRY4 (Vivado would use CARRY8) and gives no timing; latency in nanoseconds "
            "is cycles times the target period; whether a stage fits the period is the estimate above.", "",
            "![resources and latency](report.png)", "",
            "## Published figures of comparable systems (context, not our measurements)", "",
            "| system | latency | resources | citation |", "|---|---|---|---|"]
    out += [f"| {a.system}{'' if a.verified else ' (unverified)'} | {a.latency} | {a.resources} | {a.citation} |"
            for a in doc.anchors]
    return "\n".join(out) + "\n"


def _data_and_model(doc: Report) -> list[str]:
    m, data = doc.model, doc.data
    where = "embedded default sample" if data.get("embedded_default") else data.get("path") or "imported inputs"
    out = [f"Data: {where}" + (f" (sha256 {data['sha256'][:12]})." if data.get("sha256") else "."), "", "## Model", "",
           f"Model ({m.kind} run): {m.architecture}"
           + (f", score {m.score}, input transform {m.transform}, variant {m.variant}" if m.kind == "trained" else "")
           + f"; {m.parameters:,} parameters ({m.nonzero_parameters:,} non-zero).", ""]
    if m.layers:
        out += ["| layer | inputs | units | weights | biases | activation |", "|---|---|---|---|---|---|"]
        out += [f"| {l.layer} | {l.inputs} | {l.units} | {l.weights} | {l.biases} | {l.activation} |" for l in m.layers]
    else:
        out.append("No trained layers on the chip: the input quantizer, the squares and their fixed-weight sum. The "
                   "input transform (scaler.json) holds the constants applied before the FPGA.")
    return out


def input_type_line(t) -> str:
    return (f"input type {t.type} (stated, no quantizer after the model's input; {t.layer}, rounding {t.rounding}, "
            f"{t.overflow}): {t.changed:,} of {t.values:,} input values changed by it, {t.saturated:,} saturated")


def _exactness_items(doc: Report) -> list[str]:
    b, out = doc.bit_exactness, []
    if b.input_type:
        out.append(f"- {input_type_line(b.input_type)}; exactness below is against QKeras on the inputs so quantized")
    for kind, what, doc in (("BatchNormalization", "scale and bias", b.batchnorm),
                            ("LeakyReLU", "slope", b.leaky_relu),
                            ("average pool", "1/N (now a depthwise convolution)", b.average_pool)):
        if not doc:
            continue
        agree = "; ".join(f"{name} {100 * v['values_identical']:.2f}% of values identical, max |difference| "
                          f"{v['max_abs_difference']:.3g}" for name, v in doc.get("vs_keras", {}).items())
        out.append(f"- {kind} {', '.join(doc['layers'])}: {what} "
                   + ("held exactly (Keras' float32 values)" if doc["type"] == "exact" else
                      f"rounded to {doc['type']} at import, as the firmware holds them; the exact reference follows "
                      f"(Keras with its float32 {what}, on the imported inputs: {agree})"))
    for title, key in EXACTNESS:
        out.append(f"- {title}: " + (_agreements(getattr(b, key)) if getattr(b, key) else "not run"))
    if b.fixed_point_audit:
        out.append(f"- fixed-point audit (all test events, every layer): {b.fixed_point_audit['total_saturated']:,} "
                   f"saturations, {b.fixed_point_audit['total_wrapped']:,} wraps")
    if b.trigger_bit:
        t = b.trigger_bit
        out.append(f"- trigger bit equals score > {t.threshold:g} on every event: {t.matches_score_above_threshold} "
                   f"(threshold {t.threshold_mode}: {t.threshold_source})")
    return out


# --- the README's results block --------------------------------------------------------------------------------

def scan_table(scan: Path) -> list[str]:
    """Markdown: every point of a finished scan (results.csv) with its physics, cost and Pareto front. The front is
    drawn on the selection half of the signal jets (``sel_`` columns) where the scan has one: the half choices are
    made on; AUCs and efficiencies are the report half's."""
    import pandas as pd

    from l1ad.scan_plots import pareto_front

    table = pd.read_csv(scan / "results.csv")
    cfg = [c for c in table.columns if c.startswith("cfg:")]
    ok = table.index[table["status"] == "ok"].tolist()
    selection = "sel_eff1e-3_t_qkeras" in table
    basis = "sel_eff1e-3_{}_qkeras" if selection else "eff1e-3_{}_qkeras"
    fronts = {s: {ok[i] for i in pareto_front(table.loc[ok, "LUT"].tolist(), table.loc[ok, basis.format(s)].tolist())}
              for s in "twz"}
    spread = "eff1e-3_t_seed_std" in table
    halves = ("AUC and eff: the report half of the signal jets; sel eff: efficiency at 1e-3 on the selection half, "
              "on which the front is drawn and choices are made" if selection else
              "made before the signal jets were split into selection and report halves: its points were chosen and "
              "are reported on the same jets (optimistic by about the seed spread)")
    lines = [f"Design-space scan `{scan.name}` ({len(table)} points; QKeras score of the kept seed; AUC and efficiencies "
             "at background 1e-3 with 95% CL; LUT and latency from yosys and Verilator; front: the signals for which the "
             "point is on the Pareto front of efficiency at 1e-3 against LUTs"
             + ("; seed std: standard deviation of the efficiency at 1e-3 over the point's training seeds" if spread
                else "") + f"; {halves}):", "",
             "| " + " | ".join(c[4:] for c in cfg) + " | status | AUC t | AUC w | AUC z | eff t | eff w | eff z | "
             + ("sel eff t / w / z | " if selection else "") + ("seed std t / w / z | " if spread else "")
             + "cycles | LUT | FF | front |",
             "|" + "---|" * (len(cfg) + 11 + selection + spread)]
    for i, row in table.iterrows():
        lines.append("| " + " | ".join(_scan_cells(row, cfg, selection, spread, [s for s in "twz" if i in fronts[s]]))
                     + " |")
    return lines + _choice_lines(table, cfg) + _kl_lines(table, cfg)


def _choice_lines(table, cfg: list[str]) -> list[str]:
    """Where a scan recorded seed spreads on the selection half: each point's seed means there (what choices are made
    on) beside the report half's, and whether it is as good as the scan's first point (its reference)."""
    from l1ad.scan_plots import as_good_as, short_value
    from l1ad.training.train import FAILED_TRAINING

    ok = table[table["status"] == "ok"]
    if "sel_eff1e-3_t_seed_mean" not in table or ok.empty:
        return []
    reference = ok.iloc[0]
    name = lambda row: " / ".join(short_value(row[c]) for c in cfg)  # noqa: E731

    def means(row, prefix, figure, scale, digits):
        return " / ".join(f"{scale * row[f'{prefix}{figure}_{s}_seed_mean']:.{digits}f} ± "
                          f"{scale * row[f'{prefix}{figure}_{s}_seed_std']:.{digits}f}" for s in "twz")

    lines = ["", f"Seed means ± sample std over each point's training seeds ({int(reference['seeds'])} for the first; "
             "QKeras, Keras float32 predict; failed trainings, whose background validation loss is above "
             f"{FAILED_TRAINING:g} times the lowest, are counted and left out), efficiencies at background 1e-3 in %. Choices are made on the selection "
             f"half: a point is as good as the first (`{name(reference)}`) if each of its selection-half seed means "
             "(AUC and efficiency, every signal) is at least the first point's minus the first point's seed std; the "
             "report half's efficiencies are beside them:", "",
             "| point | failed seeds | sel AUC t / w / z | sel eff t / w / z | report eff t / w / z | cycles | LUT | "
             "as good as the first |", "|---|---|---|---|---|---|---|---|"]
    for _, row in ok[ok["sel_eff1e-3_t_seed_mean"].notna()].iterrows():  # points with one training have no spread
        failed = f"{int(row['failed_seeds'])} of {int(row['seeds'])}" if "failed_seeds" in row else "-"
        lines.append(f"| {name(row)} | {failed} | {means(row, 'sel_', 'auc', 1, 3)} | {means(row, 'sel_', 'eff1e-3', 100, 2)} | "
                     f"{means(row, '', 'eff1e-3', 100, 2)} | {int(row['latency_cycles'])} | {int(row['LUT']):,} | "
                     f"{'yes' if as_good_as(row, reference) else 'no'} |")
    return lines


def _kl_lines(table, cfg: list[str]) -> list[str]:
    """For each VAE point: its figures when scored by the KL term (off chip) beside the mu^2 the chip computes."""
    if "kl_auc_t_qkeras" not in table:
        return []
    lines = []
    for _, row in table[table["kl_auc_t_qkeras"].notna()].iterrows():
        figures = lambda prefix: ", ".join(  # noqa: E731
            f"{s} {row[f'{prefix}auc_{s}_qkeras']:.3f} / {100 * row[f'{prefix}eff1e-3_{s}_qkeras']:.2f}%" for s in "twz")
        lines += ["", f"`{' / '.join(str(row[c]) for c in cfg)}` scored by its KL term instead of mu^2 (off chip, "
                  f"Keras float32; AUC / eff at 1e-3, report half): {figures('kl_')}; mu^2 (the chip's score): "
                  f"{figures('')}."]
    return lines


def _scan_cells(row, cfg: list[str], selection: bool, spread: bool, front: list[str]) -> list[str]:
    def fmt(value, interval=None, digits=3):
        return "-" if value is None or value != value else format_value(value, interval, digits)

    from l1ad.scan_plots import short_value

    cells = [short_value(row[c]) for c in cfg] + [row["status"]]
    if row["status"] != "ok":
        return cells + [str(row["error"])[:60]] + [""] * (9 + selection + spread)
    for s in "twz":
        key = f"auc_{s}_qkeras"
        cells.append(fmt(row[key], (row[key + "_low"], row[key + "_high"])))
    for s in "twz":
        key = f"eff1e-3_{s}_qkeras"
        cells.append(fmt(row[key], (row[key + "_low"], row[key + "_high"]), 4))
    if selection:
        cells.append(" / ".join(fmt(row[f"sel_eff1e-3_{s}_qkeras"], None, 4) for s in "twz"))
    if spread:
        cells.append(" / ".join(fmt(row[f"eff1e-3_{s}_seed_std"], None, 4) for s in "twz"))
    return cells + [str(int(row["latency_cycles"])), f"{int(row['LUT']):,}", f"{int(row['FF']):,}", ", ".join(front)]


def _percent(value: float, interval) -> str:
    return f"{100 * value:.2f}% [{100 * interval[0]:.2f}, {100 * interval[1]:.2f}]"


def summary_markdown(report: Report, command: str) -> str:
    """The README's one table: the default's on-chip score (csim) beside its baselines, with their costs and
    exactness, on the report half of the test jets."""
    m, bits = report.model, report.bit_exactness
    csim = report.physics.csim if report.physics else None
    if csim is None:
        return f"Produced by `{command}`: this run has no physics on labelled jets to summarise."
    chip = next((r for r in report.hardware if r.LUT is not None and "yosys" in r.source), None)
    checks = (("csim = exact QKeras", bits.csim_vs_exact_qkeras), ("RTL = csim", bits.rtl_vs_csim))
    exact = "; ".join(f"{title}: " + ("every event" if all(a.bit_identical == a.compared for a in agreements.values())
                                      else "NOT every event") for title, agreements in checks if agreements)
    costs = {"default (csim)": (chip.LUT, chip.latency_cycles) if chip else (None, None)}
    costs |= {name: (c.LUT, c.cycles) for name, c in report.baseline_costs.items()}
    models = {"default (csim)": csim, **(report.baselines or {})}
    signals = list(csim.signals)
    lines = [f"Produced by `{command}` (from `runs/{report.run}/report.json`; do not edit by hand). Default: "
             f"{m.architecture}, score {m.score}, {m.parameters:,} parameters; {exact}. Report half of the embedded "
             "sample's test jets; AUC and signal efficiency at a background efficiency of 1e-3 (40 kHz at 40 MHz), "
             "95% CL; LUT from yosys, cycles from Verilator at 200 MHz; the density and supervised baselines are not "
             "on the chip.", "",
             "| model | " + " | ".join(f"AUC {s}" for s in signals) + " | "
             + " | ".join(f"eff {s} @ 1e-3" for s in signals) + " | LUT | cycles |",
             "|" + "---|" * (3 + 2 * len(signals))]
    for name, figures in models.items():
        cells = [_fmt(figures.signals[s].auc) if s in figures.signals else "-" for s in signals]
        for s in signals:
            at = figures.signals[s].at_background_efficiency.get("1e-03") if s in figures.signals else None
            cells.append(_percent(at.signal_efficiency, at.signal_efficiency_interval) if at else "-")
        lut, cycles = costs.get(name, (None, None))
        lines.append(f"| {BASELINE_NAMES.get(name, name)} | " + " | ".join(cells) + f" | {_fmt(lut)} | {_fmt(cycles)} |")
        if name == "default (csim)" and report.seeds and report.seeds.signals:
            spread = report.seeds.signals
            cells = [f"{spread[s]['auc'].mean:.3f} ± {spread[s]['auc'].std:.3f}" if s in spread else "-" for s in signals]
            cells += [f"{100 * spread[s]['eff@1e-03'].mean:.2f} ± {100 * spread[s]['eff@1e-03'].std:.2f}%"
                      if s in spread and "eff@1e-03" in spread[s] else "-" for s in signals]
            failed = f", {len(report.seeds.failed)} failed" if report.seeds.failed else ""
            lines.append(f"| default, mean ± std over {len(report.seeds.seeds)} training seeds{failed} (QKeras) | "
                         + " | ".join(cells) + " | | |")
    return "\n".join(lines)


def results_markdown(report: Report, scans: list[Path], command: str) -> str:
    """The README's results block: the default's physics, seed spread, baselines, rates, exactness, hardware and
    every scan."""
    m = report.model
    lines = [f"Produced by `{command}` (numbers from `runs/{report.run}/report.json`; do not edit by hand).", "",
             f"Default model: {m.architecture}, score {m.score}, input transform {m.transform}; "
             f"{m.parameters:,} parameters. Physics on the test jets of the embedded sample (the report half of its "
             "signal jets; signal efficiency "
             "at fixed background efficiency, 95% CL intervals):", ""]
    lines += physics_table(_chip_models(report))
    if report.seeds:
        lines += ["", *seed_table(report.seeds)]
    if report.baselines:
        lines += ["", "The same test jets with the baselines: the distance from the QCD core without a network (on the "
                  "chip, built like the default), a density model and the supervised ceiling (not on the chip):", ""]
        lines += physics_table(report.baselines, report.baseline_costs)
    if report.rates:
        lines += ["", *rates_table(report.rates)]
    lines += ["", "| check | result |", "|---|---|"]
    bits = report.bit_exactness
    for title, key in (("csim vs QKeras evaluated exactly", "csim_vs_exact_qkeras"), ("RTL (Verilator) vs csim", "rtl_vs_csim")):
        if getattr(bits, key):
            lines.append(f"| {title} | " + _agreements(getattr(bits, key)) + " |")
    audit = bits.fixed_point_audit
    if audit:
        lines.append(f"| fixed-point audit | {audit['total_saturated']:,} saturations, {audit['total_wrapped']} wraps |")
    lines += ["", *hardware_table(report.hardware), *rtl_details(report)]
    for scan in scans:
        if (scan / "results.csv").exists():
            lines += ["", *scan_table(scan)]
    return "\n".join(lines)

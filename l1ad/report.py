"""``l1ad report``: one page per run gathering model, physics, bit-exactness, latency and resources.

:func:`gather` reads the run's records (:mod:`l1ad.common.records`) into one :class:`Report`; :mod:`l1ad.render` writes
it as markdown. Every figure names the tool that produced it; sources that were not run are listed as missing, never
filled with zeros.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from l1ad.common.errors import L1adError
from l1ad.common.records import (Cost, Distance, Figures, Firmware, HardwareRow, Metrics, ModelSummary, Rates, Report,
                                 Rtl, RtlDetails, Validation)
from l1ad.common.style import figure, save, styled
from l1ad.firmware.vendor import read_vendor_reports

from .anchors import ANCHORS
from .render import BASELINE_NAMES, report_markdown
from .runs import as_run


def model_summary(run) -> ModelSummary:
    """The scoring model's trainable dense layers with their fixed-point types, for any run (trained or imported)."""
    r = as_run(run)
    graph = r.graph
    layers, total, nonzero = [], 0, 0
    for node in graph.operations():
        if node.kind != "dense" or not node.trainable:
            continue
        kernel, bias = node.kernel, node.bias
        total += kernel.size + bias.size
        nonzero += int(np.count_nonzero(kernel) + np.count_nonzero(bias))
        following = graph.consumers(node.name)
        act = following[0].fixed if len(following) == 1 and following[0].kind == "quantizer" else None
        types = {k: t.short() for k, t in node.constant_types().items()}
        layers.append({"layer": node.name, "inputs": kernel.shape[0], "units": kernel.shape[1],
                       "weights": types.get("kernel", "float"), "biases": types.get("bias", "float"),
                       "activation": act.short() if act is not None else "-"})
    summary = {"kind": r.kind, "layers": layers, "parameters": int(total), "nonzero_parameters": nonzero,
               **r.summary()}
    return ModelSummary.model_validate(summary)


def hardware_rows(run) -> tuple[list[HardwareRow], list[str]]:
    """Latency and resources from every available source, each row naming its tool."""
    handle = as_run(run)
    run = handle.path
    rows, missing = [], []
    rtl = handle.rtl or Rtl.maybe(run / "rtl.json")
    if rtl:
        lat = rtl.latency
        if rtl.yosys:
            y, t = rtl.yosys, rtl.timing_estimate
            clock = f"{lat.target_clock_mhz:g} MHz target"
            if t:
                clock += f"; estimate {t.worst_stage_ns:.2f} ns worst stage ({'meets' if t.meets_clock else 'misses'})"
            rows.append({"source": "Verilator (latency) + yosys synth_xilinx xcup (resources)", "short": "yosys + Verilator",
                         "latency_cycles": lat.cycles, "ii": lat.initiation_interval, "clock": clock,
                         "LUT": y.LUT, "FF": y.FF, "DSP": y.DSP, "BRAM": y.BRAM, "CARRY": y.CARRY})
        else:
            missing.append("yosys (rtl built with --no-synth)")
        e = rtl.da4ml_estimate
        rows.append({"source": "da4ml cost model (estimate)", "short": "da4ml estimate", "latency_cycles": lat.cycles, "ii": 1,
                     "clock": "same pipeline", "LUT": round(e.lut_equivalent_cost), "FF": e.register_bits,
                     "DSP": None, "BRAM": None, "CARRY": None})
    else:
        missing.append("open RTL flow (run: l1ad rtl RUN)")
    vendor = {}
    if (run / "firmware.json").exists():
        from l1ad.stages import firmware_record

        try:  # only reports of this run's own project: firmware_record() checks the project is the one it converted
            vendor = read_vendor_reports(firmware_record(handle).project_dir)
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
    return [HardwareRow.model_validate(row) for row in rows], missing


def gather(run) -> Report:
    """The report of a run (a Run, or a run folder's path), from its records."""
    handle = as_run(run)
    run = handle.path
    validation, metrics = handle.validation or Validation.maybe(run / "validation.json"), Metrics.maybe(run / "metrics.json")
    handle.rtl = rtl = handle.rtl or Rtl.maybe(run / "rtl.json")
    distance = handle.distance or Distance.maybe(run / "distance.json")
    rows, missing = hardware_rows(handle)
    if distance and not distance.passed:
        missing.append("distance baseline: its firmware failed a check (distance.json), so its figures are not shown")
        distance = None
    physics, source = None, "not available (no labels)"
    if validation and validation.physics:
        physics, source = validation.physics, ("validation.json (float: Keras; qkeras: exact evaluation; csim: "
                                               "hls4ml C simulation)")
    elif metrics:
        physics, source = metrics, "metrics.json (Keras predict; run l1ad validate for csim)"
    data = handle.data_json
    return Report(
        run=run.resolve().name, data={k: data.get(k) for k in ("path", "embedded_default", "sha256")},
        model=model_summary(handle), physics=physics, physics_source=source,
        baselines=_baselines(metrics, distance), baseline_costs=_baseline_costs(distance),
        seeds=metrics.seeds if metrics else None,
        rates=_current_rates(Rates.maybe(run / "rates.json"),
                             handle.firmware_record or Firmware.maybe(run / "firmware.json")),
        bit_exactness={
            "csim_vs_exact_qkeras": validation.csim_vs_exact_qkeras if validation else None,
            "testbench_vs_exact_qkeras": validation.testbench if validation else None,
            "fixed_point_audit": {"total_saturated": validation.audit.total_saturated,
                                  "total_wrapped": validation.audit.total_wrapped} if validation else None,
            "trigger_bit": validation.trigger_bit if validation else None,
            "rtl_vs_csim": rtl.rtl_vs_csim if rtl else None,
            "input_type": validation.input_type if validation else None,
            "batchnorm": getattr(handle, "imported", {}).get("batchnorm"),
            "leaky_relu": getattr(handle, "imported", {}).get("leaky_relu"),
            "average_pool": getattr(handle, "imported", {}).get("average_pool")},
        hardware=rows, hardware_missing=missing,
        rtl=RtlDetails(**{k: getattr(rtl, k) for k in ("breakdown", "timing_estimate") if rtl and getattr(rtl, k)}),
        anchors=ANCHORS)


def _baselines(metrics: Metrics | None, distance: Distance | None) -> dict[str, Figures] | None:
    """The baselines' physics; the distance baseline's from its own C simulation once it has been built."""
    baselines = dict(metrics.baselines or {}) if metrics else {}
    if distance:
        baselines["distance"] = distance.physics.model_copy(update={"model": distance.model,
                                                                    "source": distance.physics_source})
    return {BASELINE_NAMES.get(k, k): v for k, v in baselines.items()} or None


def _baseline_costs(distance: Distance | None) -> dict[str, Cost]:
    """LUT and cycles of the baselines that go on the chip (yosys and Verilator, as for the default)."""
    if not distance:
        return {}
    return {BASELINE_NAMES["distance"]: Cost(LUT=distance.yosys.LUT if distance.yosys else None,
                                             cycles=distance.latency.cycles)}


def _current_rates(rates: Rates | None, firmware: Firmware | None) -> Rates | None:
    """rates.json only if it was made from the run's current firmware (project and threshold) and passed."""
    if not rates or not firmware or not rates.passed:
        return None
    return rates if (rates.project_dir, rates.threshold) == (firmware.project_dir, firmware.threshold) else None


@styled
def hardware_figure(doc: Report, path: Path) -> Path:
    rows = [r for r in doc.hardware if r.LUT is not None]
    fig, (left, right) = figure(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [2.2, 1]})
    kinds = ["LUT", "FF", "CARRY", "DSP"]
    width = 0.8 / max(len(rows), 1)
    for j, r in enumerate(rows):
        left.bar(np.arange(len(kinds)) + j * width, [getattr(r, k) or 0 for k in kinds], width, label=r.short)
    left.set_xticks(np.arange(len(kinds)) + width * (len(rows) - 1) / 2, kinds)
    left.set(yscale="log", ylabel="count")
    left.legend(fontsize="x-small")
    left.set_title("resources by source", fontsize="small", loc="left")
    lat = [(r.short, r.latency_cycles) for r in doc.hardware if r.latency_cycles is not None]
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
    doc.save(run / "report.json")
    hardware_figure(doc, run / "report.png")
    (run / "report.md").write_text(report_markdown(doc))
    return run / "report.md"

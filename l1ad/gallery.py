"""``l1ad gallery``: refresh the README's figures and results, and the data card's comparison with the official
data, from a finished run (and optionally a scan).

Everything shown is produced by the pipeline; this only copies (downscaled) plots and renders report.json,
scan results and the sample's comparison with the official data as markdown between markers.
"""

from __future__ import annotations

import re
from pathlib import Path

from l1ad.common.files import read_json

FIGURES = {  # README name -> file in the run folder
    "roc.png": "plots/roc_float_qkeras_csim.png",
    "scores.png": "plots/scores_qkeras.png",
    "latent.png": "plots/latent_qkeras.png",
    "residuals.png": "plots/residuals_qkeras.png",
    "loss.png": "plots/loss.png",
    "fixed_point_audit.png": "plots/fixed_point_audit.png",
    "resources_latency.png": "report.png",
}
SCAN_FIGURES = {"pareto": "plots/efficiency_vs_luts.png", "auc": "plots/auc_by_point.png"}  # scan_NAME_<key>.png
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
CARD_BEGIN, CARD_END = "<!-- comparison:begin -->", "<!-- comparison:end -->"


def _shrink(source: Path, target: Path, width: int = 720) -> None:
    """A small PNG for git: at most `width` pixels wide, 256-colour palette."""
    from PIL import Image

    with Image.open(source) as image:
        image = image.convert("RGB")
        if image.width > width:
            image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
        image.quantize(colors=256).save(target, optimize=True)


def _fmt(value, interval=None, digits=3):
    from l1ad.training.evaluate import format_value

    if value is None or value != value:
        return "-"
    return format_value(value, interval, digits)


def scan_table(scan: Path) -> list[str]:
    import pandas as pd

    from l1ad.scan_plots import pareto_front

    table = pd.read_csv(scan / "results.csv")
    cfg = [c for c in table.columns if c.startswith("cfg:")]
    ok = table.index[table["status"] == "ok"].tolist()
    fronts = {s: {ok[i] for i in pareto_front(table.loc[ok, "LUT"].tolist(), table.loc[ok, f"eff1e-3_{s}_qkeras"].tolist())}
              for s in "twz"}
    spread = "eff1e-3_t_seed_std" in table
    lines = [f"Design-space scan `{scan.name}` ({len(table)} points; QKeras score of the kept seed; AUC and efficiencies "
             "at background 1e-3 with 95% CL; LUT and latency from yosys and Verilator; front: the signals for which the "
             "point is on the Pareto front of efficiency at 1e-3 against LUTs"
             + ("; seed std: standard deviation of the efficiency at 1e-3 over the point's training seeds" if spread
                else "") + "):", "",
             "| " + " | ".join(c[4:] for c in cfg) + " | status | AUC t | AUC w | AUC z | eff t | eff w | eff z | "
             + ("seed std t / w / z | " if spread else "") + "cycles | LUT | FF | front |",
             "|" + "---|" * (len(cfg) + 11 + spread)]
    for i, row in table.iterrows():
        cells = [str(row[c]) for c in cfg] + [row["status"]]
        if row["status"] == "ok":
            for s in "twz":
                key = f"auc_{s}_qkeras"
                cells.append(_fmt(row[key], (row[key + "_low"], row[key + "_high"])))
            for s in "twz":
                key = f"eff1e-3_{s}_qkeras"
                cells.append(_fmt(row[key], (row[key + "_low"], row[key + "_high"]), 4))
            if spread:
                cells.append(" / ".join(_fmt(row[f"eff1e-3_{s}_seed_std"], None, 4) for s in "twz"))
            cells += [str(int(row["latency_cycles"])), f"{int(row['LUT']):,}", f"{int(row['FF']):,}",
                      ", ".join(s for s in "twz" if i in fronts[s])]
        else:
            cells += [str(row["error"])[:60]] + [""] * (9 + spread)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def results_markdown(run: Path, scans: list[Path], command: str) -> str:
    from l1ad.report import _physics_table, hardware_table, rates_table, rtl_details, seed_table

    report = read_json(run / "report.json")
    m = report["model"]
    lines = [f"Produced by `{command}` (numbers from `runs/{report['run']}/report.json`; do not edit by hand).", "",
             f"Default model: {m['architecture']}, score {m.get('score')}, input transform {m.get('transform')}; "
             f"{m['parameters']:,} parameters. Physics on the test jets of the embedded sample (signal efficiency "
             "at fixed background efficiency, 95% CL intervals):", ""]
    lines += _physics_table(report["physics"])
    if report.get("seeds"):
        lines += ["", *seed_table(report["seeds"])]
    if report.get("baselines"):
        lines += ["", "The same test jets with the baselines: the distance from the QCD core without a network (on the "
                  "chip, built like the default), a density model and the supervised ceiling (not on the chip):", ""]
        lines += _physics_table(report["baselines"], list(report["baselines"]), report.get("baseline_costs") or {})
    if report.get("rates"):
        lines += ["", *rates_table(report["rates"])]
    bits = report["bit_exactness"]
    lines += ["", "| check | result |", "|---|---|"]
    for title, key in (("csim vs QKeras evaluated exactly", "csim_vs_exact_qkeras"), ("RTL (Verilator) vs csim", "rtl_vs_csim")):
        if bits[key]:
            lines.append(f"| {title} | " + ", ".join(f"{k} {v['bit_identical']:,}/{v['compared']:,}"
                                                     for k, v in bits[key].items()) + " |")
    audit = bits["fixed_point_audit"]
    if audit:
        lines.append(f"| fixed-point audit | {audit['total_saturated']:,} saturations, {audit['total_wrapped']} wraps |")
    lines += ["", *hardware_table(report["hardware"]), *rtl_details(report.get("rtl") or {})]
    for scan in scans:
        if (scan / "results.csv").exists():
            lines += ["", *scan_table(scan)]
    return "\n".join(lines)


def _replace(path: Path, begin: str, end: str, block: str) -> None:
    text = path.read_text()
    if begin not in text or end not in text:
        raise ValueError(f"{path} has no {begin} ... {end} markers")
    path.write_text(re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: f"{begin}\n{block}\n{end}", text,
                           flags=re.S))


def data_card_markdown(sample: Path) -> str:
    """The sample's per-class medians and 5/95% quantiles beside the official ones, for the data card."""
    from l1ad.training.io import load_jets
    from l1ad.training.official import SOURCE, comparison

    table = load_jets(sample)
    cmp = comparison(table)
    lines = [f"Produced by `l1ad gallery` from `{sample.name}`; official values: {SOURCE} (training/official.py). "
             "Cells: this sample's median [5%, 95%] / official median [5%, 95%]; ratio of the medians; "
             "* marks an official reading that is unreliable (a spike at zero hidden behind other curves).", "",
             "| feature | " + " | ".join(sorted(set(cmp["class"]), key="gqwzt".index)) + " |", "|---|" + "---|" * 5]
    counts = table["jet_type"].value_counts()
    lines.append("| jets | " + " | ".join(f"{counts[c]:,}" for c in sorted(counts.index, key="gqwzt".index)) + " |")
    for feature in cmp["feature"].unique():
        part = cmp[cmp["feature"] == feature].set_index("class")
        cells = []
        for c in sorted(part.index, key="gqwzt".index):
            r = part.loc[c]
            cells.append(f"{r['median']:.3g} [{r['q05']:.3g}, {r['q95']:.3g}] / {r['official_median']:.3g} "
                         f"[{r['official_q05']:.3g}, {r['official_q95']:.3g}]{'' if r['official_reliable'] else '*'}; "
                         f"**{r['median_ratio']:.2f}**")
        lines.append(f"| {feature} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def update_data_card(gallery: Path, sample: Path | None = None) -> None:
    """The data card's comparison table and the overlay figure of the embedded sample against the official data."""
    from l1ad.training.datasets import DEFAULT_SAMPLE
    from l1ad.training.io import load_jets
    from l1ad.training.official import comparison_figure

    sample = sample or DEFAULT_SAMPLE
    gallery.mkdir(parents=True, exist_ok=True)
    comparison_figure(load_jets(sample), gallery / "features_vs_official_full.png", "embedded sample")
    _shrink(gallery / "features_vs_official_full.png", gallery / "features_vs_official.png", width=1100)
    (gallery / "features_vs_official_full.png").unlink()
    card = sample.parent / "DATACARD.md"
    if card.exists() and CARD_BEGIN in card.read_text():
        _replace(card, CARD_BEGIN, CARD_END, data_card_markdown(sample))


def update(run: Path, readme: Path, gallery: Path, scans: list[Path] = (), sample: Path | None = None) -> None:
    import pandas as pd

    gallery.mkdir(parents=True, exist_ok=True)
    for name, source in FIGURES.items():
        if (run / source).exists():
            _shrink(run / source, gallery / name)
    for scan in scans:
        for key, source in SCAN_FIGURES.items():
            if (scan / source).exists():
                _shrink(scan / source, gallery / f"scan_{scan.name}_{key}.png")
    tables = {scan.name: pd.read_csv(scan / "results.csv") for scan in scans if (scan / "results.csv").exists()}
    if tables:
        from .scan_plots import pareto_figure

        full = pareto_figure(tables, read_json(run / "report.json"), gallery / "pareto_full.png")
        _shrink(full, gallery / "pareto.png", width=1100)
        full.unlink()
    update_data_card(gallery, sample)
    command = f"l1ad gallery {run}" + "".join(f" --scan {scan}" for scan in scans)
    _replace(readme, BEGIN, END, results_markdown(run, list(scans), command))

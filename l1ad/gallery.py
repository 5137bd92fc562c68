"""``l1ad gallery``: refresh the README's summary table, the documentation's results page and figures, and the data
card's comparison with the official data, from a finished run (and optionally scans).

Everything shown is produced by the pipeline; this only copies (downscaled) plots and renders report.json,
scan results and the sample's comparison with the official data as markdown between markers.
"""

from __future__ import annotations

import re
from pathlib import Path

from l1ad.common.errors import RunError
from l1ad.common.records import Report

from .render import results_markdown, summary_markdown

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
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"  # the results page's block
SUMMARY_BEGIN, SUMMARY_END = "<!-- summary:begin -->", "<!-- summary:end -->"  # the README's
CARD_BEGIN, CARD_END = "<!-- comparison:begin -->", "<!-- comparison:end -->"


def _shrink(source: Path, target: Path, width: int = 720) -> None:
    """A small PNG for git: at most `width` pixels wide, 256-colour palette."""
    from PIL import Image

    with Image.open(source) as image:
        image = image.convert("RGB")
        if image.width > width:
            image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
        image.quantize(colors=256).save(target, optimize=True)


def replace_block(path: Path, begin: str, end: str, block: str) -> None:
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
        replace_block(card, CARD_BEGIN, CARD_END, data_card_markdown(sample))


def update(run: Path, readme: Path, results: Path, gallery: Path, scans: list[Path] = (),
           sample: Path | None = None) -> None:
    """Figures into ``gallery``, the summary table into ``readme``, every table into the ``results`` page."""
    import pandas as pd

    # everything checked before anything is written
    if not (run / "report.json").exists():
        raise RunError(f"{run}: no report.json; make it with `l1ad run` (or `l1ad report {run}`) first")
    for scan in scans:
        if not (scan / "results.csv").exists():
            raise RunError(f"{scan}: no results.csv; is it a finished `l1ad scan` folder?")
    for page, begin in ((readme, SUMMARY_BEGIN), (results, BEGIN)):
        if not page.exists() or begin not in page.read_text():
            raise RunError(f"{page} has no {begin} marker: run l1ad gallery from the repository root")
    gallery.mkdir(parents=True, exist_ok=True)
    report = Report.load(run / "report.json")
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

        full = pareto_figure(tables, report, gallery / "pareto_full.png")
        _shrink(full, gallery / "pareto.png", width=1100)
        full.unlink()
    update_data_card(gallery, sample)
    command = f"l1ad gallery {run}" + "".join(f" --scan {scan}" for scan in scans)
    replace_block(readme, SUMMARY_BEGIN, SUMMARY_END, summary_markdown(report, command))
    replace_block(results, BEGIN, END, results_markdown(report, list(scans), command))

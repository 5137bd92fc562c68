"""``l1ad gallery``: refresh the README's figure gallery and results table from a finished run.

Everything shown in the README is produced by the pipeline; this only copies (downscaled) plots and
renders report.json as markdown between the README's markers.
"""

from __future__ import annotations

import re
from pathlib import Path

from l1ad.training.files import read_json

FIGURES = {  # README name -> file in the run folder
    "roc.png": "plots/roc_float_qkeras_csim.png",
    "scores.png": "plots/scores_qkeras.png",
    "latent.png": "plots/latent_qkeras.png",
    "residuals.png": "plots/residuals_qkeras.png",
    "fixed_point_audit.png": "plots/fixed_point_audit.png",
    "resources_latency.png": "report.png",
}
SCAN_FIGURES = {"scan_pareto.png": "plots/efficiency_vs_luts.png", "scan_auc_vs_bits.png": "plots/auc_vs_bits.png"}
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _shrink(source: Path, target: Path, width: int = 640) -> None:
    """A small PNG for git: at most `width` pixels wide, 256-colour palette."""
    from PIL import Image

    with Image.open(source) as image:
        image = image.convert("RGB")
        if image.width > width:
            image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
        image.quantize(colors=256).save(target, optimize=True)


def results_markdown(run: Path, scan: Path | None, command: str) -> str:
    from l1ad.firmware.report import _physics_table

    report = read_json(run / "report.json")
    lines = [f"Produced by `{command}` (numbers from `runs/{report['run']}/report.json`; do not edit by hand).", "",
             "Physics on the test jets of the embedded sample (signal efficiency at fixed background efficiency):", ""]
    lines += _physics_table(report["physics"])
    bits = report["bit_exactness"]
    lines += ["", "| check | result |", "|---|---|"]
    for title, key in (("csim vs QKeras evaluated exactly", "csim_vs_exact_qkeras"), ("RTL (Verilator) vs csim", "rtl_vs_csim")):
        if bits[key]:
            lines.append(f"| {title} | " + ", ".join(f"{k} {v['bit_identical']:,}/{v['compared']:,}"
                                                     for k, v in bits[key].items()) + " |")
    audit = bits["fixed_point_audit"]
    if audit:
        lines.append(f"| fixed-point audit | {audit['total_saturated']:,} saturations, {audit['total_wrapped']} wraps |")
    lines += ["", "| source | latency (cycles) | II | LUT | FF | DSP | CARRY |", "|---|---|---|---|---|---|---|"]
    for r in report["hardware"]:
        lines.append(f"| {r['source']} | {r['latency_cycles']} | {r['ii']} | {r['LUT']} | {r['FF']} | "
                     f"{r['DSP'] if r['DSP'] is not None else '-'} | {r['CARRY'] if r['CARRY'] is not None else '-'} |")
    if scan is not None and (scan / "results.csv").exists():
        import pandas as pd

        table = pd.read_csv(scan / "results.csv")
        cols = [c for c in table.columns if c.startswith("cfg:")] + ["status", "auc_t_qkeras", "eff1e-3_t_qkeras",
                                                                     "latency_cycles", "LUT", "FF"]
        lines += ["", f"Design-space scan `{scan.name}` ({len(table)} points):", "",
                  "| " + " | ".join(c.replace("cfg:", "") for c in cols) + " |", "|" + "---|" * len(cols)]
        for _, row in table.iterrows():
            lines.append("| " + " | ".join(f"{row[c]:.3f}" if c.startswith("auc") else f"{row[c]:.4f}"
                                           if c.startswith("eff") else str(row[c]) for c in cols) + " |")
    return "\n".join(lines)


def update(run: Path, readme: Path, gallery: Path, scan: Path | None = None) -> None:
    gallery.mkdir(parents=True, exist_ok=True)
    for name, source in FIGURES.items():
        _shrink(run / source, gallery / name)
    if scan is not None:
        for name, source in SCAN_FIGURES.items():
            if (scan / source).exists():
                _shrink(scan / source, gallery / name)
    command = f"l1ad gallery {run}" + (f" --scan {scan}" if scan else "")
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{readme} has no {BEGIN} ... {END} markers")
    block = f"{BEGIN}\n{results_markdown(run, scan, command)}\n{END}"
    readme.write_text(re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S))

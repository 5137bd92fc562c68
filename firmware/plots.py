"""Firmware validation plots: score agreement and the fixed-point audit."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from l1ad.common.style import caption, figure, save, styled


@styled
def score_correlation(float_scores: np.ndarray, csim_scores: np.ndarray, path: Path) -> Path:
    fig, ax = figure(figsize=(6.5, 5.5))
    lo = max(min(float_scores.min(), csim_scores[csim_scores > 0].min(initial=1.0)), 1e-4)
    hi = max(float_scores.max(), csim_scores.max())
    bins = np.geomspace(lo, hi, 80)
    *_, image = ax.hist2d(np.clip(float_scores, lo, None), np.clip(csim_scores, lo, None), bins=[bins, bins],
                          cmin=1, norm="log", cmap="viridis")
    fig.colorbar(image, ax=ax, label="jets")
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--")
    ax.set(xscale="log", yscale="log", xlabel="float model score", ylabel="firmware (csim) score")
    caption(ax, "all test jets")
    return save(fig, path)


@styled
def audit(rows: list[dict], path: Path) -> Path:
    """Per layer: the range the type can hold (bar) and the range the values used (line)."""
    rows = [r for r in rows if r["what"] == "output"]
    fig, ax = figure(figsize=(8, 0.35 * len(rows) + 1.5))
    y = np.arange(len(rows))
    ax.barh(y, [r["type_max"] - r["type_min"] for r in rows], left=[r["type_min"] for r in rows], color="lightgrey",
            label="type range")
    ax.hlines(y, [r["observed_min"] for r in rows], [r["observed_max"] for r in rows], color="tab:blue", lw=3,
              label="exact values, all test jets")
    for yi, r in zip(y, rows):
        if r["saturated"] or r["wrapped"]:
            ax.text(r["type_max"], yi, f" sat {r['saturated']} wrap {r['wrapped']}", va="center", fontsize="xx-small",
                    color="tab:red")
    ax.set_yticks(y, [f"{r['layer']}  {r['type']}" for r in rows], fontsize="xx-small")
    ax.set_xscale("symlog", linthresh=1)
    ax.invert_yaxis()
    ax.set_xlabel("value")
    ax.legend(fontsize="x-small", loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    return save(fig, path)

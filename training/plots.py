"""Plots in mplhep style: loss curves, score distributions, ROC curves, latent space, residuals.

Figures are matplotlib ``Figure`` objects saved to files, never pyplot figures: plotting here changes no
backend, style or other global state of the caller's process (a notebook keeps its inline figures).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from l1ad.common.style import COLORS, STYLES, caption, figure, save, styled

from .evaluate import BACKGROUND_EFFICIENCIES, roc
from .features import BACKGROUND, CLASSES, FEATURES, SIGNALS


@styled
def history(histories: dict, path: Path) -> Path:
    """Loss curves of the float model and the kept QKeras model, and (thin) of every other QKeras seed."""
    fig, ax = figure(figsize=(7, 5))
    kept = histories["qkeras"].get("seed")
    for h in histories.get("qkeras_seeds", []):
        if h["seed"] != kept:
            epochs = np.arange(1, len(h["loss"]) + 1)
            ax.plot(epochs, h["val_loss"], "-", color="grey", lw=0.8, alpha=0.7)
    if len(histories.get("qkeras_seeds", [])) > 1:
        ax.plot([], [], "-", color="grey", lw=0.8, label="other QKeras seeds, validation")
    for (name, style) in (("float", "--"), ("qkeras", "-")):
        h = histories[name]
        epochs = np.arange(1, len(h["loss"]) + 1)
        label = name if h.get("seed") is None or name == "float" else f"{name} (seed {h['seed']}, kept)"
        ax.plot(epochs, h["loss"], style, color="tab:blue", label=f"{label} train")
        ax.plot(epochs, h["val_loss"], style, color="tab:red", label=f"{label} validation")
        if h.get("best_epoch") is not None:
            ax.axvline(h["best_epoch"] + 1, ls=style, color="grey", lw=1)
    ax.set(xlabel="epoch", ylabel="loss (scaled features)", yscale="log")
    ax.legend(fontsize="x-small")
    caption(ax, "training on background (q, g)")
    return save(fig, path)


@styled
def score_distributions(scores: np.ndarray, labels: np.ndarray, path: Path, title: str) -> Path:
    fig, ax = figure(figsize=(7, 5))
    signed = bool((scores < 0).any())  # a student's log-score: a linear axis
    positive = scores[scores > 0]
    low = scores.min() if signed else max(positive.min() if positive.size else 1e-4, 1e-4)
    bins = np.linspace(low, scores.max(), 60) if signed else np.geomspace(low, max(scores.max(), low * 10), 60)
    background = np.isin(labels, BACKGROUND)
    ax.hist(np.clip(scores[background], low, None), bins=bins, histtype="stepfilled", alpha=0.3,
            color=COLORS["background"], density=True, label="QCD (q + g)")
    for signal in SIGNALS:
        if (labels == signal).any():
            ax.hist(np.clip(scores[labels == signal], low, None), bins=bins, histtype="step", lw=2,
                    color=COLORS[signal], density=True, label=f"{signal} jets")
    ax.set(xscale="linear" if signed else "log", yscale="log", ylabel="density",
           xlabel="anomaly score (log-score)" if signed else "anomaly score")
    ax.legend(fontsize="small")
    caption(ax, title)
    return save(fig, path)


@styled
def roc_curves(model_scores: dict[str, np.ndarray], labels: np.ndarray, path: Path, title: str,
               background: tuple[str, ...] = tuple(BACKGROUND)) -> Path:
    """ROC curves of every class that is not ``background`` (t, w, z; or an imported run's own classes)."""
    fig, ax = figure(figsize=(7, 6))
    signals = [c for c in dict.fromkeys(labels.tolist()) if c not in background]
    signals = sorted(signals, key=lambda c: (c not in SIGNALS, SIGNALS.index(c) if c in SIGNALS else 0, c))
    for (name, scores), style in zip(model_scores.items(), STYLES):
        for i, signal in enumerate(signals):
            fpr, tpr = roc(scores, labels, signal, background)
            # at most ~3,000 points, spaced evenly in log background efficiency (a million jets give a million)
            keep = np.unique(np.minimum(np.searchsorted(fpr, np.geomspace(1e-6, 1, 3000)), len(fpr) - 1))
            ax.plot(tpr[keep], fpr[keep], style, color=COLORS.get(signal, f"C{i}"), label=f"{signal}, {name}")
    for eps in BACKGROUND_EFFICIENCIES:
        ax.axhline(eps, color="grey", lw=1, ls=":")
    ax.set(yscale="log", ylim=(1e-4, 1), xlim=(0, 1), xlabel="signal efficiency", ylabel="background efficiency")
    ax.legend(fontsize="x-small", ncol=2)
    caption(ax, title)
    return save(fig, path)


@styled
def latent_space(latent: np.ndarray, labels: np.ndarray, path: Path, title: str) -> Path:
    """The latent space per class: a 2-D histogram per class of the first two latent values, or, for a 1-wide
    latent, one histogram per class (binned on the quantizer's step, so that a pile-up at its floor shows)."""
    present = [c for c in CLASSES if (labels == c).any()]
    if latent.shape[1] == 1:
        return _latent_1d(latent[:, 0], labels, present, path, title)
    fig, axes = figure(1, len(present), figsize=(3.6 * len(present), 3.8), sharex=True, sharey=True)
    axes = np.atleast_1d(axes)
    xy = latent[:, :2]
    lo, hi = np.percentile(xy, [0.5, 99.5], axis=0)
    for ax, label in zip(axes, present):
        sel = xy[labels == label]
        ax.hist2d(sel[:, 0], sel[:, 1], bins=[value_bins(xy[:, 0], lo[0], hi[0]), value_bins(xy[:, 1], lo[1], hi[1])],
                  cmap="viridis", cmin=1)
        ax.set_title(f"{label} jets", fontsize="small")
        ax.set_xlabel("latent 1", fontsize="small")
    axes[0].set_ylabel("latent 2", fontsize="small")
    fig.suptitle(title, fontsize="small", y=1.04)
    return save(fig, path)


def _latent_1d(values: np.ndarray, labels: np.ndarray, present: list[str], path: Path, title: str) -> Path:
    fig, ax = figure(figsize=(8, 4.8))
    edges = value_bins(values, values.min(), values.max(), 80)  # the whole range: the ends are where jets pile up
    for label in present:
        ax.hist(values[labels == label], bins=edges, histtype="step", density=True, lw=1.5,
                color=COLORS.get(label), label=f"{label} jets")
    ax.set_yscale("log")
    ax.set(xlabel="latent value (the bottleneck's one number)", ylabel="density")
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title, fontsize="small")
    return save(fig, path)


def value_bins(values: np.ndarray, lo: float, hi: float, n: int = 50) -> np.ndarray:
    """Histogram edges over [lo, hi]. Values on a grid (a quantized variable) are binned on the coarsest grid (a
    power-of-two multiple of the finest step) on which at least 60% of them sit, with edges half-way between its
    points and a whole number of its steps per bin: no empty bin falls between filled ones (no comb of spikes),
    and the rarer values between its points are counted in the bin around them. Other values: ``n`` equal bins."""
    grid, counts = np.unique(values[np.isfinite(values)], return_counts=True)
    if len(grid) > 1 and hi > lo:
        step = float(np.min(np.diff(grid)))
        offsets = np.round((grid - grid[0]) / step).astype(np.int64)
        if step > 0 and np.allclose((grid - grid[0]) / step, offsets, atol=1e-6):
            k, residue = 1, 0
            while 2 * k * step <= (hi - lo) / 8:  # at least 8 bins
                cosets = np.bincount(offsets % (2 * k), weights=counts)
                if cosets.max() < 0.6 * counts.sum():
                    break
                k, residue = 2 * k, int(np.argmax(cosets))
            unit, anchor = k * step, grid[0] + residue * step
            per_bin = max(1, int(np.ceil((hi - lo) / unit / n)))
            start = anchor + unit * np.floor((lo - anchor) / unit) - unit / 2
            return np.arange(start, hi + unit * (per_bin + 0.5), unit * per_bin)
    return np.linspace(lo, hi if hi > lo else lo + 1.0, n + 1)


@styled
def residuals(inputs: np.ndarray, reconstruction: np.ndarray, labels: np.ndarray, path: Path, title: str) -> Path:
    from matplotlib.ticker import NullLocator

    fig, axes = figure(4, 4, figsize=(16, 13))
    diff = inputs - reconstruction
    groups = {"QCD (q + g)": np.isin(labels, BACKGROUND), **{f"{s} jets": labels == s for s in SIGNALS}}
    for i, (ax, feature) in enumerate(zip(axes.ravel(), FEATURES)):
        lo, hi = np.percentile(diff[:, i], [0.5, 99.5])
        for (name, mask), color in zip(groups.items(), [COLORS["background"], *(COLORS[s] for s in SIGNALS)]):
            if mask.any():
                counts, edges = np.histogram(diff[mask, i], bins=value_bins(diff[:, i], lo, hi), density=True)
                ax.stairs(counts, edges, color=color, label=name, lw=1.5)
        ax.set_xlabel(feature, fontsize="x-small")
        ax.tick_params(labelsize="x-small")
        ax.set_yscale("log")
        ax.yaxis.set_minor_locator(NullLocator())  # 16 log axes of minor ticks: most of the drawing time
    handles, names = axes[0, 0].get_legend_handles_labels()  # above the panels: never over the data
    fig.legend(handles, names, fontsize="x-small", loc="upper center", ncol=len(names), bbox_to_anchor=(0.5, 0.965))
    fig.suptitle(f"reconstruction residuals, input - output (scaled units), {title}", fontsize="small", y=0.995)
    # fixed spacing, not cropped: tight_layout or a tight bounding box each cost an extra draw of 16 panels
    fig.subplots_adjust(left=0.05, right=0.98, bottom=0.06, hspace=0.4, wspace=0.3, top=0.91)
    return save(fig, path, tight=False)

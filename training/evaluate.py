"""Anomaly-detection figures with their statistical uncertainty: ROC AUC and signal efficiency at fixed
background efficiency.

The trigger fires when score > threshold. The threshold for background efficiency eps is the
(floor(eps * n) + 1)-th highest background score, so at most eps of the background fires, ties
included; this works unchanged for fixed-point scores, whose threshold is then a representable value.
Every figure carries a 95% interval: AUCs from a bootstrap of the background and signal jets (resampled
as histograms over the distinct scores, which is the same as resampling jets), efficiencies from the
Clopper-Pearson binomial interval. Thresholds say how many background jets set them.
"""

from __future__ import annotations

import numpy as np

from .features import BACKGROUND, SIGNALS

BACKGROUND_EFFICIENCIES = (1e-2, 1e-3)
CL = 0.95
N_BOOTSTRAP = 200
MAX_BINS = 20_000  # float scores are binned in quantiles for the bootstrap only; the AUC itself is exact


def eff_key(eps: float) -> str:
    return f"{eps:.0e}"


def threshold_at(background_scores: np.ndarray, eps: float) -> float:
    ordered = np.sort(np.asarray(background_scores, dtype=np.float64))[::-1]
    k = int(np.floor(eps * len(ordered)))
    if k >= len(ordered):
        raise ValueError(f"background efficiency {eps} needs more than {len(ordered)} background jets")
    return float(ordered[k])


def binomial_interval(k: int, n: int, cl: float = CL) -> tuple[float, float]:
    """Clopper-Pearson interval of an efficiency k/n (scipy's exact binomial interval)."""
    from scipy.stats import binomtest

    interval = binomtest(int(k), int(n)).proportion_ci(confidence_level=cl, method="exact")
    return float(interval.low), float(interval.high)


def auc(background: np.ndarray, signal: np.ndarray) -> float:
    """ROC AUC of signal scoring above background (ties count one half): the Mann-Whitney U statistic over n_b n_s."""
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(signal, background, method="asymptotic").statistic / (signal.size * background.size))


def auc_interval(background: np.ndarray, signal: np.ndarray, n_boot: int = N_BOOTSTRAP, cl: float = CL,
                 seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval of the ROC AUC (signal scoring higher than background)."""
    values = np.concatenate([background, signal])
    unique, inverse = np.unique(values, return_inverse=True)
    if len(unique) > MAX_BINS:  # quantile bins read off one sort (np.quantile with 20,000 levels took seconds)
        ordered = np.sort(values)
        edges = ordered[(np.arange(1, MAX_BINS) * (len(values) - 1)) // MAX_BINS]
        inverse = np.searchsorted(edges, values, side="right")
    bins = int(inverse.max()) + 1
    b = np.bincount(inverse[: len(background)], minlength=bins)
    s = np.bincount(inverse[len(background):], minlength=bins)
    # Poisson bootstrap: every jet enters a resample Poisson(1) times, so a bin of c jets holds Poisson(c); the
    # standard large-sample equivalent of drawing n with replacement, and ten times faster than a multinomial
    rng = np.random.default_rng(seed)
    B = rng.poisson(b, size=(n_boot, bins)).astype(np.float64)
    S = rng.poisson(s, size=(n_boot, bins)).astype(np.float64)
    below = np.cumsum(B, axis=1) - B  # background strictly below each bin
    aucs = np.sum(S * (below + 0.5 * B), axis=1) / (B.sum(axis=1) * S.sum(axis=1))
    return float(np.quantile(aucs, (1 - cl) / 2)), float(np.quantile(aucs, 1 - (1 - cl) / 2))


def anomaly_metrics(scores: np.ndarray, labels: np.ndarray, background_classes=BACKGROUND,
                    n_boot: int = N_BOOTSTRAP) -> dict:
    """Figures per signal class for one model's scores on the test jets (labels: jet_type)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    background = scores[np.isin(labels, background_classes)]
    thresholds = {eff_key(eps): threshold_at(background, eps) for eps in BACKGROUND_EFFICIENCIES
                  if eps * len(background) >= 1}
    out = {"n_background": int(background.size), "confidence_level": CL, "thresholds": thresholds,
           "threshold_background_jets": {key: int(np.sum(background > cut)) for key, cut in thresholds.items()},
           "signals": {}}
    for signal in sorted(set(labels) - set(background_classes), key=lambda c: (c not in SIGNALS, c)):
        sig = scores[labels == signal]
        if sig.size == 0 or background.size == 0:
            continue
        entry = {"n": int(sig.size), "auc": auc(background, sig),
                 "auc_interval": auc_interval(background, sig, n_boot=n_boot) if n_boot else None, "at_background_efficiency": {}}
        for key, cut in thresholds.items():
            passed = int(np.sum(sig > cut))
            above = int(np.sum(background > cut))
            entry["at_background_efficiency"][key] = {
                "threshold": cut,
                "background_efficiency": above / background.size,
                "background_jets_above": above,
                "background_efficiency_interval": binomial_interval(above, background.size),
                "signal_efficiency": passed / sig.size,
                "signal_efficiency_interval": binomial_interval(passed, sig.size),
            }
        out["signals"][signal] = entry
    return out


def roc(scores: np.ndarray, labels: np.ndarray, signal: str, background_classes=BACKGROUND):
    """(background efficiency, signal efficiency) along the ROC curve of one signal class."""
    from sklearn.metrics import roc_curve

    mask = np.isin(labels, background_classes) | (labels == signal)
    fpr, tpr, _ = roc_curve(labels[mask] == signal, scores[mask])
    return fpr, tpr


def format_value(value: float, interval, digits: int = 3) -> str:
    """'0.812 [0.805, 0.819]': a figure with its interval, for tables."""
    if interval is None:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"

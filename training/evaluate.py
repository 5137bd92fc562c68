"""Anomaly-detection figures: ROC AUC and signal efficiency at fixed background efficiency.

The trigger fires when score > threshold. The threshold for background efficiency eps is the
(floor(eps * n) + 1)-th highest background score, so at most eps of the background fires, ties
included; this works unchanged for fixed-point scores, whose threshold is then a representable value.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from .features import BACKGROUND, SIGNALS

BACKGROUND_EFFICIENCIES = (1e-2, 1e-3)


def eff_key(eps: float) -> str:
    return f"{eps:.0e}"


def threshold_at(background_scores: np.ndarray, eps: float) -> float:
    ordered = np.sort(np.asarray(background_scores, dtype=np.float64))[::-1]
    k = int(np.floor(eps * len(ordered)))
    if k >= len(ordered):
        raise ValueError(f"background efficiency {eps} needs more than {len(ordered)} background jets")
    return float(ordered[k])


def anomaly_metrics(scores: np.ndarray, labels: np.ndarray) -> dict:
    """Figures per signal class for one model's scores on the test jets (labels: jet_type)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    background = scores[np.isin(labels, BACKGROUND)]
    thresholds = {eff_key(eps): threshold_at(background, eps) for eps in BACKGROUND_EFFICIENCIES}
    out = {"n_background": int(background.size), "thresholds": thresholds, "signals": {}}
    for signal in SIGNALS:
        sig = scores[labels == signal]
        if sig.size == 0:
            continue
        truth = np.concatenate([np.zeros(background.size), np.ones(sig.size)])
        entry = {"n": int(sig.size), "auc": float(roc_auc_score(truth, np.concatenate([background, sig]))),
                 "at_background_efficiency": {}}
        for key, cut in thresholds.items():
            eff = float(np.mean(sig > cut))
            entry["at_background_efficiency"][key] = {
                "threshold": cut,
                "background_efficiency": float(np.mean(background > cut)),
                "background_jets_above": int(np.sum(background > cut)),
                "signal_efficiency": eff,
                "signal_efficiency_stat_err": float(np.sqrt(eff * (1 - eff) / sig.size)),
            }
        out["signals"][signal] = entry
    return out


def roc(scores: np.ndarray, labels: np.ndarray, signal: str) -> tuple[np.ndarray, np.ndarray]:
    """(background efficiency, signal efficiency) along the ROC curve of one signal class."""
    mask = np.isin(labels, BACKGROUND) | (labels == signal)
    fpr, tpr, _ = roc_curve(labels[mask] == signal, scores[mask])
    return fpr, tpr


def summary_rows(metrics: dict) -> list[dict]:
    """Flat rows (model, signal, AUC, efficiencies) for tables and terminal output."""
    rows = []
    for model, figures in metrics.items():
        for signal, entry in figures["signals"].items():
            row = {"model": model, "signal": signal, "auc": entry["auc"]}
            for key, at in entry["at_background_efficiency"].items():
                row[f"sig_eff@{key}"] = at["signal_efficiency"]
            rows.append(row)
    return rows

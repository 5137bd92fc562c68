"""Baselines that put the on-chip score in context (never on the chip), on the same test jets.

* density: a scikit-learn ``GaussianMixture`` fitted on the background training jets, standardized (the same
  for every run, whatever its own input transform); the anomaly score is minus the log density. Unsupervised,
  like the on-chip score.
* supervised: per signal class, a ``HistGradientBoostingClassifier`` trained on background training jets
  against that class's ``signal_train`` jets (set aside, never test jets): the ceiling an anomaly
  detector that never saw the signal can approach.
"""

from __future__ import annotations

import numpy as np

from .evaluate import anomaly_metrics
from .features import BACKGROUND, LABEL, SIGNALS

# measured with `l1ad train` on the embedded sample (metrics.json, default config, one seed each):
MAX_FIT_JETS = 100_000  # the density fit: a 10-component mixture moves with a smaller sample (W AUC 0.64 to 0.71)
MAX_SUPERVISED_BACKGROUND = 50_000  # the classifiers: AUCs as with 100,000 background jets to 0.001, in half the time


def _subsample(x: np.ndarray, n: int, seed: int) -> np.ndarray:
    if len(x) <= n:
        return x
    return x[np.sort(np.random.default_rng(seed).choice(len(x), n, replace=False))]


def density_scores(x_train: np.ndarray, x_test: np.ndarray, components: int, seed: int) -> np.ndarray:
    from sklearn.mixture import GaussianMixture

    gmm = GaussianMixture(components, covariance_type="full", random_state=seed, reg_covar=1e-4)
    gmm.fit(_subsample(x_train, MAX_FIT_JETS, seed))
    return -gmm.score_samples(x_test)


def supervised_scores(x_train: np.ndarray, x_signal: np.ndarray, x_test: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingClassifier

    background = _subsample(x_train, MAX_SUPERVISED_BACKGROUND, seed)
    x = np.concatenate([background, x_signal])
    y = np.concatenate([np.zeros(len(background)), np.ones(len(x_signal))])
    weight = np.where(y == 1, len(background) / max(len(x_signal), 1), 1.0)  # balanced classes
    model = HistGradientBoostingClassifier(random_state=seed, max_iter=300, early_stopping=True)
    model.fit(x, y, sample_weight=weight)
    return model.predict_proba(x_test)[:, 1]


def baselines(parts, components: int, seed: int) -> dict:
    """Metrics of the density and the supervised baselines on the test jets of ``parts`` (a Splits)."""
    from .datasets import Scaler

    scaler = Scaler.fit(parts.train, "standard")
    x_train = scaler.transform(parts.train[parts.train[LABEL].isin(BACKGROUND)])
    x_test = scaler.transform(parts.test)
    labels = parts.test[LABEL].to_numpy()
    out = {"density": anomaly_metrics(density_scores(x_train, x_test, components, seed), labels)}
    out["density"]["model"] = f"GaussianMixture, {components} full-covariance components, on standardized inputs"
    supervised = {"signals": {}, "model": "HistGradientBoostingClassifier per signal class, trained on "
                  f"{len(parts.signal_train):,} set-aside signal jets against background training jets"}
    for signal in SIGNALS:
        x_signal = scaler.transform(parts.signal_train[parts.signal_train[LABEL] == signal])
        if not len(x_signal):
            continue
        keep = np.isin(labels, BACKGROUND) | (labels == signal)
        metrics = anomaly_metrics(supervised_scores(x_train, x_signal, x_test[keep], seed), labels[keep])
        supervised["signals"][signal] = metrics["signals"][signal]
        supervised.update({k: metrics[k] for k in ("n_background", "confidence_level", "thresholds",
                                                    "threshold_background_jets")})
    if supervised["signals"]:
        out["supervised"] = supervised
    return out

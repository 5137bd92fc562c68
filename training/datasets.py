"""The embedded default sample, deterministic splits and the feature scaler."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .features import BACKGROUND, FEATURES, LABEL, SIGNALS
from .io import DataError, load_jets

DEFAULT_SAMPLE = Path(__file__).parent / "data" / "jets_default.parquet"


def load_default_or(path: str | os.PathLike | None, **kwargs) -> pd.DataFrame:
    """Jets from ``path``, or the embedded default sample when no path is given."""
    return load_jets(path if path is not None else DEFAULT_SAMPLE, **kwargs)


@dataclass
class Splits:
    """Background train/validation for the autoencoder; test = background test + signal test jets.

    ``signal_train`` holds the signal jets set aside for the supervised baselines; no autoencoder sees them.
    """

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    signal_train: pd.DataFrame
    selection: pd.DataFrame

    def selection_jets(self) -> pd.DataFrame | None:
        """The jets choices are made on: the test background with the selection half of the signal jets (None
        without a selection half)."""
        if self.selection.empty:
            return None
        return pd.concat([self.test[self.test[LABEL].isin(BACKGROUND)], self.selection], ignore_index=True)


def split(table: pd.DataFrame, seed: int, val_fraction: float = 0.2, test_fraction: float = 0.2,
          signal_train_fraction: float = 0.0, selection_fraction: float = 0.0) -> Splits:
    """Background jets into train, validation and test; signal jets into the supervised baselines' share
    (``signal_train``), a selection half (``selection``: every choice made on signal jets is made on these) and the
    test split's signal jets, on which every figure is reported. Each draw is seeded and made after the ones
    before it, so that a share added later leaves the earlier splits as they were."""
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"split fractions must be in (0, 1) and sum below 1, got val={val_fraction}, test={test_fraction}")
    rng = np.random.default_rng(seed)
    background = np.flatnonzero(table[LABEL].isin(BACKGROUND).to_numpy())
    order = rng.permutation(background)
    n_test, n_val = round(len(order) * test_fraction), round(len(order) * val_fraction)
    test_bg, val, train = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    signal = np.flatnonzero(table[LABEL].isin(SIGNALS).to_numpy())
    signal_train = np.array([], dtype=np.int64)
    if signal_train_fraction > 0:  # drawn after the background split, so that split is the same either way
        signal = rng.permutation(signal)
        n_sig = round(len(signal) * signal_train_fraction)
        signal_train, signal = signal[:n_sig], signal[n_sig:]
    selection = np.array([], dtype=np.int64)
    if selection_fraction > 0:  # per class, from a stream of its own: the shares above do not move
        labels = table[LABEL].to_numpy()
        halves = np.random.default_rng([seed, 1]).permutation(np.sort(signal))
        chosen = [halves[labels[halves] == c][:round(np.sum(labels[halves] == c) * selection_fraction)] for c in SIGNALS]
        selection = np.concatenate(chosen)
        signal = np.setdiff1d(signal, selection)
    pick = lambda rows: table.iloc[np.sort(rows)].reset_index(drop=True)  # noqa: E731
    return Splits(train=pick(train), val=pick(val), test=pick(np.concatenate([test_bg, signal])),
                  signal_train=pick(signal_train), selection=pick(selection))


# features that are non-negative and heavy-tailed: the log transform acts on these
LOG_FEATURES = [f for f in FEATURES if f not in ("zlogz", "c1_b0_mmdt")]
# d2_a1_b1_mmdt equals d2_b1_mmdt by definition (D2 with alpha = beta = 1): a whitening leaves it out
DUPLICATE = "d2_a1_b1_mmdt"
TRANSFORMS = ("standard", "log", "power", "core", "log_core")
SHAPE_OF = {"core": "power", "log_core": "log"}  # the core transforms whiten on top of these shapes


@dataclass
class Scaler:
    """The input transform, fitted on background training jets only and saved as plain JSON.

    standard: (x - mean) / std. log: log(1 + x / m) with m the feature's background median for the
    non-negative heavy-tailed features, then standard. power: scipy's Yeo-Johnson with the lambda that
    maximises the background likelihood, then standard. core / log_core: power / log, then whitened around
    the dense core of the background: ``(x - c) W`` with c and the covariance C of the Minimum Covariance
    Determinant estimate (scikit-learn MinCovDet, the ``core_fraction`` of background jets with the
    smallest covariance determinant) and W = C^(-1/2) (symmetric); the duplicate d2_a1_b1_mmdt is left out
    of the fit and its input set to 0. Distances in these coordinates measure how far a jet is from
    ordinary light-quark and gluon jets, not from the mean of the whole QCD sample, whose heavy tails would
    make boosted W, Z and top jets look ordinary. Applied in float64, cast to float32: the values the
    FPGA receives before its input quantizer.
    """

    mean: np.ndarray
    scale: np.ndarray
    kind: str = "standard"
    params: np.ndarray | None = None  # log: medians; power: lambdas
    center: np.ndarray | None = None  # core: MCD location (after the standardization)
    matrix: np.ndarray | None = None  # core: C^(-1/2), 16 x 16 with a zero row and column for the duplicate

    @classmethod
    def fit(cls, train: pd.DataFrame, kind: str = "standard", core_fraction: float = 0.5, seed: int = 0) -> "Scaler":
        if kind not in TRANSFORMS:
            raise DataError(f"unknown input transform {kind!r}; choose from {', '.join(TRANSFORMS)}")
        values = train[FEATURES].to_numpy(dtype=np.float64)
        base = SHAPE_OF.get(kind, kind)
        params = None
        if base == "log":
            params = np.ones(len(FEATURES))
            for i, f in enumerate(FEATURES):
                if f in LOG_FEATURES:
                    positive = values[:, i][values[:, i] > 0]
                    params[i] = np.median(positive) if len(positive) else 1.0
        elif base == "power":
            from scipy.stats import yeojohnson_normmax

            params = np.array([yeojohnson_normmax(values[:, i]) for i in range(len(FEATURES))])
        shaped = cls._shape(values, base, params)
        scale = shaped.std(axis=0)
        constant = [f for f, s in zip(FEATURES, scale) if s == 0]
        if constant:
            raise DataError(f"features {', '.join(constant)} are constant in the training jets; cannot scale them")
        scaler = cls(mean=shaped.mean(axis=0), scale=scale, kind=kind, params=params)
        if kind in ("core", "log_core"):
            scaler.center, scaler.matrix = _core_whitening((shaped - scaler.mean) / scale, core_fraction, seed)
        return scaler

    @staticmethod
    def _shape(values: np.ndarray, kind: str, params: np.ndarray | None) -> np.ndarray:
        if kind == "log":
            out = values.copy()
            for i, f in enumerate(FEATURES):
                if f in LOG_FEATURES:
                    out[:, i] = np.log1p(np.maximum(values[:, i], 0.0) / params[i])
            return out
        if kind == "power":
            from scipy.stats import yeojohnson

            return np.column_stack([yeojohnson(values[:, i], params[i]) for i in range(values.shape[1])])
        return values

    def transform(self, table: pd.DataFrame) -> np.ndarray:
        base = SHAPE_OF.get(self.kind, self.kind)
        values = (self._shape(table[FEATURES].to_numpy(dtype=np.float64), base, self.params) - self.mean) / self.scale
        if self.matrix is not None:
            values = (values - self.center) @ self.matrix
        return values.astype(np.float32)

    def save(self, path: str | os.PathLike) -> None:
        # repr-exact floats: json writes the shortest string that round-trips each float64
        first = {"standard": "", "log": "log1p(max(x, 0) / params) for " + ", ".join(LOG_FEATURES) + ", then ",
                 "power": "scipy.stats.yeojohnson(x, params), then "}
        base = SHAPE_OF.get(self.kind, self.kind)
        definition = first[base] + "(x - mean) / scale"
        if self.matrix is not None:
            definition += ", then (x - center) @ matrix"
        doc = {"features": FEATURES, "transform": self.kind, "definition": definition + ", in float64, then cast "
               "to float32", "params": None if self.params is None else self.params.tolist(),
               "mean": self.mean.tolist(), "scale": self.scale.tolist(),
               "center": None if self.center is None else self.center.tolist(),
               "matrix": None if self.matrix is None else self.matrix.tolist()}
        Path(path).write_text(json.dumps(doc, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Scaler":
        doc = json.loads(Path(path).read_text())
        if doc.get("features") != FEATURES:
            raise DataError(f"{path}: the scaler was made for features {doc.get('features')}, not the hls4ml 16")
        arr = lambda key: None if doc.get(key) is None else np.array(doc[key], dtype=np.float64)  # noqa: E731
        return cls(mean=arr("mean"), scale=arr("scale"), kind=doc.get("transform", "standard"), params=arr("params"),
                   center=arr("center"), matrix=arr("matrix"))


CORE_FIT_JETS = 20_000  # MinCovDet's cost grows fast with the sample; 20k jets pin the core down


def _core_whitening(x: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """MCD location and C^(-1/2) of standardized background jets, the duplicate feature left out."""
    from sklearn.covariance import MinCovDet

    keep = [i for i, f in enumerate(FEATURES) if f != DUPLICATE]
    rng = np.random.default_rng(seed)
    sample = x[np.sort(rng.choice(len(x), min(CORE_FIT_JETS, len(x)), replace=False))][:, keep]
    mcd = MinCovDet(support_fraction=fraction, random_state=seed).fit(sample)
    values, vectors = np.linalg.eigh(mcd.covariance_)
    inverse_sqrt = vectors @ np.diag(values**-0.5) @ vectors.T
    center, matrix = np.zeros(len(FEATURES)), np.zeros((len(FEATURES), len(FEATURES)))
    center[keep] = mcd.location_
    matrix[np.ix_(keep, keep)] = inverse_sqrt
    return center, matrix


def bootstrap(data: str | os.PathLike | None, n: int, seed: int, out: str | os.PathLike) -> pd.DataFrame:
    """Draw ``n`` jets with replacement from a sample into an l1ad file (e.g. a million jets for benchmarks)."""
    from .io import read_provenance, write_jets

    source = Path(data) if data is not None else DEFAULT_SAMPLE
    table = load_jets(source)
    rows = np.sort(np.random.default_rng(seed).integers(0, len(table), n))
    drawn = table.iloc[rows].reset_index(drop=True)
    write_jets(drawn, out, {"bootstrap_of": str(source), "seed": seed, "jets": n,
                            "source_provenance": read_provenance(source) if source.is_file() else {}})
    return drawn

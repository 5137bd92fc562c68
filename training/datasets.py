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


def split(table: pd.DataFrame, seed: int, val_fraction: float = 0.2, test_fraction: float = 0.2,
          signal_train_fraction: float = 0.0) -> Splits:
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
    pick = lambda rows: table.iloc[np.sort(rows)].reset_index(drop=True)  # noqa: E731
    return Splits(train=pick(train), val=pick(val), test=pick(np.concatenate([test_bg, signal])),
                  signal_train=pick(signal_train))


# features that are non-negative and heavy-tailed: the log transform acts on these
LOG_FEATURES = [f for f in FEATURES if f not in ("zlogz", "c1_b0_mmdt")]
TRANSFORMS = ("standard", "log", "power")


@dataclass
class Scaler:
    """The input transform, fitted on background training jets only and saved as plain JSON.

    standard: (x - mean) / std. log: log(1 + x / m) with m the feature's background median for the
    non-negative heavy-tailed features, then standard. power: scipy's Yeo-Johnson with the lambda that
    maximises the background likelihood, then standard. Applied in float64, cast to float32: the values
    the FPGA receives before its input quantizer.
    """

    mean: np.ndarray
    scale: np.ndarray
    kind: str = "standard"
    params: np.ndarray | None = None  # log: medians; power: lambdas

    @classmethod
    def fit(cls, train: pd.DataFrame, kind: str = "standard") -> "Scaler":
        if kind not in TRANSFORMS:
            raise DataError(f"unknown input transform {kind!r}; choose from {', '.join(TRANSFORMS)}")
        values = train[FEATURES].to_numpy(dtype=np.float64)
        params = None
        if kind == "log":
            params = np.ones(len(FEATURES))
            for i, f in enumerate(FEATURES):
                if f in LOG_FEATURES:
                    positive = values[:, i][values[:, i] > 0]
                    params[i] = np.median(positive) if len(positive) else 1.0
        elif kind == "power":
            from scipy.stats import yeojohnson_normmax

            params = np.array([yeojohnson_normmax(values[:, i]) for i in range(len(FEATURES))])
        shaped = cls._shape(values, kind, params)
        scale = shaped.std(axis=0)
        constant = [f for f, s in zip(FEATURES, scale) if s == 0]
        if constant:
            raise DataError(f"features {', '.join(constant)} are constant in the training jets; cannot scale them")
        return cls(mean=shaped.mean(axis=0), scale=scale, kind=kind, params=params)

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
        values = self._shape(table[FEATURES].to_numpy(dtype=np.float64), self.kind, self.params)
        return ((values - self.mean) / self.scale).astype(np.float32)

    def save(self, path: str | os.PathLike) -> None:
        # repr-exact floats: json writes the shortest string that round-trips each float64
        doc = {"features": FEATURES, "transform": self.kind,
               "params": None if self.params is None else self.params.tolist(),
               "mean": self.mean.tolist(), "scale": self.scale.tolist(),
               "definition": {"standard": "(x - mean) / scale",
                              "log": "(log1p(max(x, 0) / params) - mean) / scale for the features "
                                     + ", ".join(LOG_FEATURES) + "; (x - mean) / scale for the others",
                              "power": "(scipy.stats.yeojohnson(x, params) - mean) / scale"}[self.kind]
                             + ", in float64, then cast to float32"}
        Path(path).write_text(json.dumps(doc, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Scaler":
        doc = json.loads(Path(path).read_text())
        if doc.get("features") != FEATURES:
            raise DataError(f"{path}: the scaler was made for features {doc.get('features')}, not the hls4ml 16")
        params = doc.get("params")
        return cls(mean=np.array(doc["mean"], dtype=np.float64), scale=np.array(doc["scale"], dtype=np.float64),
                   kind=doc.get("transform", "standard"), params=None if params is None else np.array(params))


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

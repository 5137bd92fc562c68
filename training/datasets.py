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
    """Background train/validation for the autoencoder; test = background test + every signal jet."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame


def split(table: pd.DataFrame, seed: int, val_fraction: float = 0.2, test_fraction: float = 0.2) -> Splits:
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"split fractions must be in (0, 1) and sum below 1, got val={val_fraction}, test={test_fraction}")
    background = np.flatnonzero(table[LABEL].isin(BACKGROUND).to_numpy())
    order = np.random.default_rng(seed).permutation(background)
    n_test, n_val = round(len(order) * test_fraction), round(len(order) * val_fraction)
    test_bg, val, train = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    signal = np.flatnonzero(table[LABEL].isin(SIGNALS).to_numpy())
    pick = lambda rows: table.iloc[np.sort(rows)].reset_index(drop=True)  # noqa: E731
    return Splits(train=pick(train), val=pick(val), test=pick(np.concatenate([test_bg, signal])))


@dataclass
class Scaler:
    """Standardisation fitted on background training jets only; saved as plain JSON."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, train: pd.DataFrame) -> "Scaler":
        values = train[FEATURES].to_numpy(dtype=np.float64)
        scale = values.std(axis=0)
        constant = [f for f, s in zip(FEATURES, scale) if s == 0]
        if constant:
            raise DataError(f"features {', '.join(constant)} are constant in the training jets; cannot scale them")
        return cls(mean=values.mean(axis=0), scale=scale)

    def transform(self, table: pd.DataFrame) -> np.ndarray:
        return ((table[FEATURES].to_numpy(dtype=np.float64) - self.mean) / self.scale).astype(np.float32)

    def save(self, path: str | os.PathLike) -> None:
        # repr-exact floats: json writes the shortest string that round-trips each float64
        doc = {"features": FEATURES, "mean": self.mean.tolist(), "scale": self.scale.tolist(),
               "transform": "(x - mean) / scale in float64, then cast to float32"}
        Path(path).write_text(json.dumps(doc, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Scaler":
        doc = json.loads(Path(path).read_text())
        if doc.get("features") != FEATURES:
            raise DataError(f"{path}: the scaler was made for features {doc.get('features')}, not the hls4ml 16")
        return cls(mean=np.array(doc["mean"], dtype=np.float64), scale=np.array(doc["scale"], dtype=np.float64))

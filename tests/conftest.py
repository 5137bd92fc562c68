import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))  # helper modules next to the tests

from l1ad.training.features import CLASSES, FEATURES, LABEL  # noqa: E402


def make_jets(n_per_class: int = 40, seed: int = 0) -> pd.DataFrame:
    """A small valid table with class-dependent feature values (not physics, just shape)."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, label in enumerate(CLASSES):
        values = rng.normal(loc=k, scale=1.0, size=(n_per_class, len(FEATURES))).astype(np.float32)
        part = pd.DataFrame(values, columns=FEATURES)
        part[LABEL] = label
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


@pytest.fixture
def jets() -> pd.DataFrame:
    return make_jets()

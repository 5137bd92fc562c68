"""Read jets from every form users have them in, validate them, and write l1ad's own files.

One in-memory form: a pandas DataFrame with the 16 features (hls4ml order, float32) and a
``jet_type`` column with labels in {g, q, t, w, z}. Supported inputs:

* parquet: the hls4ml course layout or l1ad's own files (16 features + ``jet_type``);
* CSV or ARFF as served by OpenML data id 42468 (16 features + ``class``);
* the original Zenodo h5 files (``jets`` array, ``jetFeatureNames`` with ``j_`` prefix, one-hot j_g..j_t);
* a directory: every supported file inside it, in name order (the Zenodo release is many h5 files).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from l1ad.common.errors import L1adError

from .features import CLASSES, FEATURES, LABEL
from l1ad.common.files import atomic_path

PROVENANCE_KEY = b"l1ad.provenance"
SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".arff": "arff", ".h5": "h5", ".hdf5": "h5", ".z": "h5"}


class DataError(L1adError, ValueError):
    """Bad input data; the message names the file, the column or row, and what to do."""


def load_jets(path: str | os.PathLike, require: list[str] | tuple[str, ...] = tuple(CLASSES)) -> pd.DataFrame:
    """Read, validate and return the jets in ``path``; every class in ``require`` must have jets."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        if not files:
            raise DataError(f"{path}: directory holds no jet files ({', '.join(sorted(SUFFIXES))})")
        table = pd.concat([_read_validated(f) for f in files], ignore_index=True)
    else:
        table = _read_validated(path)
    missing = [c for c in require if not (table[LABEL] == c).any()]
    if missing:
        raise DataError(f"{path}: no jets of class {', '.join(missing)}; l1ad needs jets of "
                        f"{', '.join(require)} (background g, q to train; signals t, w, z to evaluate)")
    return table


def _read_validated(path: Path) -> pd.DataFrame:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unknown file type {path.suffix!r}; l1ad reads "
                        f"{', '.join(sorted(SUFFIXES))} files (see docs/guide/data.md, 'The embedded data and the official dataset')")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    try:
        raw = {"parquet": _read_parquet, "csv": _read_csv, "arff": _read_arff, "h5": _read_h5}[kind](path)
    except DataError:
        raise
    except Exception as err:  # a reader's own message, with the file named
        raise DataError(f"{path}: cannot be read as {kind}: {err}") from err
    return validate(raw, source=str(path))


def _read_parquet(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path)


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path).rename(columns={"class": LABEL})


def _read_arff(path: Path) -> pd.DataFrame:
    import arff  # liac-arff, the reader scikit-learn uses for OpenML

    with open(path) as f:
        data = arff.load(f)
    table = pd.DataFrame(data["data"], columns=[name for name, _ in data["attributes"]])
    return table.rename(columns={"class": LABEL})


def _read_h5(path: Path) -> pd.DataFrame:
    import h5py

    with h5py.File(path, "r") as f:
        for key in ("jets", "jetFeatureNames"):
            if key not in f:
                raise DataError(f"{path}: no dataset {key!r}; expected a Zenodo hls4ml jet file "
                                f"(10.5281/zenodo.3602254) with 'jets' and 'jetFeatureNames'")
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["jetFeatureNames"][()]]
        jets = f["jets"][()]
    if jets.ndim != 2 or jets.shape[1] != len(names):
        raise DataError(f"{path}: 'jets' has shape {jets.shape} but 'jetFeatureNames' lists {len(names)} names")
    columns = {n: jets[:, i] for i, n in enumerate(names)}
    missing = [f"j_{c}" for c in FEATURES + CLASSES if f"j_{c}" not in columns]
    if missing:
        raise DataError(f"{path}: missing columns {', '.join(missing)} in 'jetFeatureNames'")
    onehot = np.stack([columns[f"j_{c}"] for c in CLASSES], axis=1)
    bad = np.flatnonzero((onehot != 0).sum(axis=1) != 1)
    if bad.size:
        raise DataError(f"{path}: row {bad[0]}: the one-hot label j_g..j_t must hold exactly one 1 "
                        f"({bad.size} rows affected)")
    table = pd.DataFrame({c: columns[f"j_{c}"] for c in FEATURES})
    table[LABEL] = np.array(CLASSES)[onehot.argmax(axis=1)]
    return table


def validate(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check columns, types, values and labels; return the canonical float32 table."""
    if len(table.columns) == 0 or len(table) == 0:
        raise DataError(f"{source}: no jets in the file")
    missing = [c for c in FEATURES + [LABEL] if c not in table.columns]
    if missing:
        hint = " (the label column is 'jet_type' in parquet, 'class' in OpenML CSV/ARFF)" if LABEL in missing else ""
        raise DataError(f"{source}: missing columns {', '.join(missing)}{hint}")
    extra = [c for c in table.columns if c not in FEATURES + [LABEL]]
    if extra:
        raise DataError(f"{source}: unexpected columns {', '.join(map(str, extra))}; "
                        f"l1ad expects exactly the 16 hls4ml features and '{LABEL}'")
    for column in FEATURES:
        values = table[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            row = int(np.argmax(pd.to_numeric(values, errors="coerce").isna().to_numpy()))
            raise DataError(f"{source}: column {column!r} has type {values.dtype}, not a number "
                            f"(row {row}: {values.iloc[row]!r})")
    features = table[FEATURES].to_numpy(dtype=np.float64)
    with np.errstate(over="ignore"):
        as_float32 = features.astype(np.float32)
    bad = ~np.isfinite(as_float32)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(f"{source}: column {FEATURES[col]!r}, row {row}: value {features[row, col]} is not a "
                        f"finite float32 ({int(bad.sum())} such values); remove or fix those jets")
    _check_physical(as_float32, source)
    labels = table[LABEL].astype(str).str.strip()
    unknown = ~labels.isin(CLASSES)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise DataError(f"{source}: column {LABEL!r}, row {row}: unknown label {table[LABEL].iloc[row]!r} "
                        f"(labels must be one of {', '.join(CLASSES)}; {int(unknown.sum())} rows affected)")
    out = pd.DataFrame(as_float32, columns=FEATURES)
    out[LABEL] = labels.to_numpy()
    return out


# what each feature's definition allows (training/substructure.py): a value outside is not a jet
_RANGES = {
    "zlogz": (None, 0.0, "sum of z ln z over energy fractions 0 < z <= 1, so at most 0"),
    "c1_b0_mmdt": (0.0, 0.5 + 1e-6, "C1 with beta = 0 is the sum over pairs of z_i z_j, between 0 and 1/2"),
    "mass_mmdt": (0.0, None, "a mass is not negative"),
    "multiplicity": (1.0, None, "a constituent count is a positive integer"),
}
_NON_NEGATIVE = [f for f in FEATURES if f not in _RANGES]  # energy-correlator ratios of non-negative terms


def _check_physical(values: np.ndarray, source: str) -> None:
    checks = [(f, *_RANGES[f]) for f in _RANGES] + [(f, 0.0, None, "energy-correlator ratios are not negative")
                                                    for f in _NON_NEGATIVE]
    for feature, low, high, why in checks:
        column = values[:, FEATURES.index(feature)]
        bad = np.zeros(len(column), dtype=bool)
        if low is not None:
            bad |= column < low
        if high is not None:
            bad |= column > high
        if feature == "multiplicity":
            bad |= column != np.round(column)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{source}: column {feature!r}, row {row}: value {column[row]:g} is impossible ({why}; "
                            f"{int(bad.sum())} such rows); fix or remove those jets")


def write_jets(table: pd.DataFrame, path: str | os.PathLike, provenance: dict) -> Path:
    """Write l1ad's own parquet file atomically: nothing appears at ``path`` unless it is complete."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    table = validate(table, source="table to write")
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    arrow = arrow.replace_schema_metadata({PROVENANCE_KEY: json.dumps(provenance, sort_keys=True).encode()})
    with atomic_path(path) as tmp:
        # byte-stream-split encoding lets zstd compress float32 physics values about 30% better
        floats = [c for c in FEATURES if c != "multiplicity"]
        pq.write_table(arrow, tmp, compression="zstd", compression_level=19,
                       use_dictionary=[LABEL, "multiplicity"], use_byte_stream_split=floats)
    return path


def read_provenance(path: str | os.PathLike) -> dict:
    """The provenance stored by :func:`write_jets`, or {} for files made elsewhere."""
    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".pq"):
        return {}
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata[PROVENANCE_KEY]) if PROVENANCE_KEY in metadata else {}

"""Run folders: what ``l1ad train`` and ``l1ad import`` write, and what the firmware stages read.

A run folder holds ``status.json`` (``complete`` only once every file is written), the QKeras scoring
model ``qkeras_model.h5`` and how to get its events: a trained run records its data file, config
(seed, split) and scaler; an imported run records the user's input (and label) files. Both record the
files' sha256, checked before any stage uses them. :class:`Run` hands models and arrays to the
library (:mod:`l1ad.firmware`), which knows nothing of run folders.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from l1ad.common.errors import L1adError, RunError
from l1ad.training.features import BACKGROUND, LABEL
from l1ad.common.files import read_json, run_state, sha256

IMPORT_JSON = "import.json"


@dataclass
class Events:
    """Inputs as the FPGA receives them (one array per model input) and their labels (None if unknown)."""

    x: list[np.ndarray]
    labels: np.ndarray | None
    source: str

    def __len__(self):
        return len(self.x[0])

    def background(self) -> np.ndarray | None:
        return None if self.labels is None else np.isin(self.labels, self.background_classes)

    background_classes: tuple[str, ...] = tuple(BACKGROUND)


def require_complete(run: Path) -> None:
    state = run_state(run)
    if state != "complete":
        what = "does not exist" if not Path(run).exists() else "is not an l1ad run" if state is None else f"is {state}"
        raise RunError(f"{run} {what}; make it with: l1ad train --out {run} (or l1ad import MODEL.h5 ... --name)")


def checked_file(path: str | Path, recorded: str, run: Path, what: str) -> Path:
    """``path`` if its sha256 is still the one recorded in the run; an edited file silently changes results."""
    path = Path(path)
    if not path.exists():
        raise RunError(f"{path}, the {what} of run {run}, is gone; restore it or make a new run")
    now = sha256(path)
    if now != recorded:
        raise RunError(f"{path} changed since run {run} was made (sha256 {recorded[:12]}... recorded, {now[:12]}... "
                       f"now): its {what} and the trigger threshold would silently change. Restore the file, or "
                       "make a new run from it")
    return path


class Run:
    """A finished run folder and what its stages need, each read once: the data file (hashed and parsed once), the
    models, the graph, the events, and the results one stage hands the next (``results``).

    ``trained`` (:class:`l1ad.training.train.Trained`): what training just loaded, adopted instead of read again.
    """

    def __init__(self, path: str | Path, trained=None):
        self.path = Path(path)
        require_complete(self.path)
        self.kind = read_json(self.path / "status.json").get("kind", "trained")
        self._trained = trained
        self.results: dict[str, object] = {}  # in-memory results of a stage for the next one (e.g. the csim outputs)

    @property
    def name(self) -> str:
        return self.path.resolve().name

    def default_dir(self, parent: str, suffix: str = "") -> Path:
        """hls_projects/NAME-<8 hex of the run's path>[-SUFFIX]: unique per run, even for runs of the same name."""
        key = hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:8]
        return Path(parent) / f"{self.name}-{key}{'-' + suffix if suffix else ''}"

    # --- models ----------------------------------------------------------------------------------------
    def _model(self, kind: str):
        if self._trained is not None and kind in self._trained.models:
            return self._trained.models[kind]
        from l1ad.training import models

        path = self.path / f"{kind}_model.h5"
        return models.load(path) if path.exists() else None

    @cached_property
    def model(self):
        """The QKeras scoring model, loaded once."""
        return self._model("qkeras")

    @cached_property
    def graph(self):
        """The scoring model's graph (:mod:`l1ad.firmware.graph`), read once."""
        from l1ad.firmware.reader import read_model

        return read_model(self.model)

    @cached_property
    def float_model(self):
        """The float model of a trained run (None for an imported one), loaded once."""
        return self._model("float")

    @cached_property
    def distance_model(self):
        """The zero-parameter distance baseline of a trained run (None if the run has none), loaded once."""
        return self._model("distance")

    @cached_property
    def imported(self) -> dict:
        return read_json(self.path / IMPORT_JSON) if self.kind == "imported" else {}

    @property
    def score_output(self) -> str | None:
        return self.imported.get("score_output") if self.kind == "imported" else "score"

    def output_labels(self) -> list[str]:
        """User-facing names of the scoring model's outputs."""
        names = self.graph.outputs
        if self.kind == "trained":
            return ["score", "reconstruction"][: len(names)]
        return ["score" if n == self.score_output else n for n in names]

    # --- data and events -------------------------------------------------------------------------------
    @cached_property
    def config(self):
        from l1ad.training.config import load_config

        return load_config(self.path / "config.yaml")

    @cached_property
    def data(self):
        """The run's data file (:class:`l1ad.training.train.DataFile`), checked against the sha256 the run recorded,
        then parsed: once."""
        from l1ad.training.io import load_jets
        from l1ad.training.train import DataFile

        if self.kind == "imported":
            raise RunError(f"{self.path} is an imported run: its events are its input file, not jets of a data file")
        info = read_json(self.path / "data.json")
        handed = self._trained.data if self._trained is not None else None
        if handed is not None and handed.info["sha256"] == info["sha256"]:
            return handed
        path = checked_file(info["path"], info["sha256"], self.path, "data")
        return DataFile(path, load_jets(path), info)

    def data_path(self) -> Path:
        return self.data.path

    @cached_property
    def _splits(self):
        from l1ad.training.train import splits

        return splits(self.data.table, self.config)

    @cached_property
    def scaler(self):
        from l1ad.training.datasets import Scaler

        return Scaler.load(self.path / "scaler.json")

    def test_jets(self, data: str | Path | None = None, all_jets: bool = False):
        """The run's test jets (a table), or the test split (or every jet) of other data with the run's seed."""
        from l1ad.training.io import load_jets
        from l1ad.training.train import splits

        table = self.data.table if data is None else load_jets(data)
        return table if all_jets else splits(table, self.config).test

    def transform(self, table) -> np.ndarray:
        """A jet table in the run's input coordinates (its scaler.json), as the FPGA receives them."""
        return self.scaler.transform(table)

    def test_events(self, data: str | Path | None = None, all_events: bool = False) -> Events:
        """The run's test events (made once), or (``data``) the test split, or every event, of another file."""
        if data is None and not all_events:
            return self._test_events
        if self.kind == "imported":
            raise RunError("an imported run's events are its input file; import again for other inputs")
        test = self.test_jets(data, all_events)
        source = f"{'all events' if all_events else 'test split'} of {data or self.data.path}"
        return Events([self.transform(test)], test[LABEL].to_numpy(), source)

    def adopt_events(self, test: Events, threshold: Events) -> None:
        """Use events another process of the same command made from this run (so it reads no data file)."""
        self.__dict__.update(_test_events=test, threshold_events=threshold)

    @cached_property
    def _test_events(self) -> Events:
        if self.kind == "imported":
            return self._imported_events("test")
        test = self._splits.test
        return Events([self.transform(test)], test[LABEL].to_numpy(), f"test split of {self.data.path}")

    @cached_property
    def threshold_events(self) -> Events:
        """Background events the trigger threshold is set on (never the test events it is judged on)."""
        if self.kind == "imported":
            return self._imported_events("threshold")
        val = self._splits.val
        val = val[val[LABEL].isin(BACKGROUND)]
        return Events([self.transform(val)], val[LABEL].to_numpy(), "validation background jets")

    @cached_property
    def _imported_inputs(self) -> tuple[np.ndarray, np.ndarray | None, Path]:
        """An imported run's inputs and labels (None without), hash-checked and read once."""
        doc = self.imported
        inputs = checked_file(doc["inputs"]["path"], doc["inputs"]["sha256"], self.path, "inputs")
        scaler = checked_file(doc["scaler"]["path"], doc["scaler"]["sha256"], self.path, "scaler") if doc["scaler"] else None
        x = read_inputs(inputs, scaler, doc["inputs"]["width"])
        if doc["labels"] is None:
            return x, None, inputs
        labels_path = checked_file(doc["labels"]["path"], doc["labels"]["sha256"], self.path, "labels")
        return x, read_table(labels_path, "labels").astype(str), inputs

    def _imported_events(self, which: str) -> Events:
        """The imported run's test events (``which="test"``) or threshold events ("threshold")."""
        x, y, inputs = self._imported_inputs
        background = tuple(self.imported["background"])
        if y is None:
            return Events([x], None, f"all {len(x):,} rows of {inputs}", background)
        rows = np.flatnonzero(np.isin(y, background))
        rows = np.random.default_rng(SPLIT_SEED).permutation(rows)
        half = rows[: len(rows) // 2]
        if which == "threshold":
            pick = np.sort(half)
            return Events([x[pick]], y[pick], f"background rows of {inputs} (half, seed {SPLIT_SEED})", background)
        pick = np.sort(np.setdiff1d(np.arange(len(x)), half))
        return Events([x[pick]], y[pick], f"test rows of {inputs} (the other background half and every other row)",
                      background)


def as_run(run) -> Run:
    """``run`` if it is a :class:`Run` already, else the run folder at that path."""
    return run if isinstance(run, Run) else Run(run)


# --- a user's input files (l1ad import) --------------------------------------------------------------

SPLIT_SEED = 0  # the background rows of an imported run split into threshold and test events with this seed


def read_table(path: Path, what: str) -> np.ndarray:
    path = Path(path)
    if not path.exists():
        raise L1adError(f"{path}: no such {what} file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        import pandas as pd

        if suffix in (".parquet", ".pq"):
            table = pd.read_parquet(path)
        elif suffix == ".csv":
            table = pd.read_csv(path)
        else:
            raise L1adError(f"{path}: {what} must be .npy, .parquet or .csv, not {suffix!r}")
    except L1adError:
        raise
    except Exception as err:
        raise L1adError(f"{path}: cannot read the {what} ({type(err).__name__}: {err})") from err
    if what == "labels":
        if table.shape[1] != 1:
            raise L1adError(f"{path}: a labels file has one column, found {list(table.columns)}")
        return table.iloc[:, 0].to_numpy()
    numeric = table.select_dtypes("number")
    if numeric.shape[1] != table.shape[1]:
        bad = [c for c in table.columns if c not in numeric.columns]
        raise L1adError(f"{path}: input columns {bad} are not numbers; give labels with --labels")
    return numeric.to_numpy(dtype=np.float64)


def read_inputs(path: Path, scaler: Path | None, width: int) -> np.ndarray:
    x = read_table(path, "inputs")
    if x.ndim != 2 or x.shape[1] != width:
        raise L1adError(f"{path}: the model takes {width} inputs per event, the file has shape {x.shape}")
    if not np.isfinite(x).all():
        row = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        raise L1adError(f"{path}: row {row} holds a value that is not a finite number")
    if scaler is not None:
        x = _scaled(Path(scaler), x, width)
    return x.astype(np.float32)  # what a float32 feature pipeline would hand the FPGA


def _scaled(path: Path, x: np.ndarray, width: int) -> np.ndarray:
    """Raw inputs through a scaler file: an l1ad scaler.json applies its whole transform (log, power, core
    whitening: l1ad.training.datasets.Scaler); any other JSON needs 'mean' and 'scale' lists, (x - mean) / scale."""
    doc = json.loads(path.read_text())
    if "transform" in doc:
        import pandas as pd

        from l1ad.training.datasets import Scaler
        from l1ad.training.features import FEATURES

        if width != len(FEATURES):
            raise L1adError(f"{path}: an l1ad scaler transforms the {len(FEATURES)} jet features; the model takes "
                            f"{width} inputs")
        return Scaler.load(path).transform(pd.DataFrame(x, columns=FEATURES))
    mean, scale = np.asarray(doc.get("mean"), dtype=np.float64), np.asarray(doc.get("scale"), dtype=np.float64)
    if mean.shape != (width,) or scale.shape != (width,) or np.any(scale == 0):
        raise L1adError(f"{path}: needs 'mean' and non-zero 'scale' lists of {width} numbers")
    return (x - mean) / scale

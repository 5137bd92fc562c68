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
from l1ad.common.files import read_json, sha256

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


def require_complete(run: Path) -> dict:
    """The run folder's status.json, which must say ``complete``."""
    path = Path(run) / "status.json"
    status = read_json(path) if path.exists() else None
    if status is None or status.get("state") != "complete":
        what = ("does not exist" if not Path(run).exists() else "is not an l1ad run" if status is None
                else f"is {status.get('state')}")
        raise RunError(f"{run} {what}; make it with: l1ad train --out {run} (or l1ad import MODEL.h5 ... --name)")
    return status


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


@dataclass
class TestOutputs:
    """The C simulation's outputs of a run's test events (exact values), for the project that computed them."""

    project_id: str
    csim: list


class Run:
    """A finished run folder and what its stages need, each read once: the models, the graph, the events, and what
    one stage hands the next (the firmware record, the project's graph, the test events' C simulation).

    ``Run(path)`` opens a :class:`TrainedRun` or an :class:`ImportedRun`, as the folder's status.json says.
    ``trained`` (:class:`l1ad.training.train.Trained`): what training just loaded, adopted instead of read again;
    ``events``: (test, threshold) events another process of the same command made from this run.
    """

    def __new__(cls, path, *args, **kwargs):
        status = require_complete(Path(path))
        if cls is Run:
            cls = ImportedRun if status.get("kind") == "imported" else TrainedRun
        run = super().__new__(cls)
        run.status = status
        return run

    def __init__(self, path: str | Path, trained=None, events: tuple[Events, Events] | None = None):
        self.path = Path(path)
        self._trained = trained
        self._handed_events = events
        # what a stage hands the next one within one command (typed; None until a stage sets it)
        self.firmware_record = None  # Firmware (l1ad.common.records), set by convert or read once from firmware.json
        self.project_graph = None  # the graph the project was converted from (l1ad.firmware.graph.Graph)
        self.test_outputs: TestOutputs | None = None  # set by validate, reused by rtl
        self.validation = None  # the Validation, Rtl and Distance records a stage of this command wrote
        self.rtl = None
        self.distance = None

    kind = "run"

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

    data_json: dict = {}  # data.json of a trained run
    float_model = None  # the float model of a trained run
    distance_model = None  # the zero-parameter distance baseline of a trained run
    score_output = "score"  # the scoring model's score output

    def output_labels(self) -> list[str]:
        """User-facing names of the scoring model's outputs."""
        raise NotImplementedError

    # --- events ----------------------------------------------------------------------------------------
    def test_events(self, data: str | Path | None = None, all_events: bool = False) -> Events:
        """The run's test events (made once), or (``data``) the test split, or every event, of another file."""
        if data is None and not all_events:
            return self._test_events
        return self._other_events(data, all_events)

    @cached_property
    def _test_events(self) -> Events:
        return self._handed_events[0] if self._handed_events else self._events("test")

    @cached_property
    def threshold_events(self) -> Events:
        """Background events the trigger threshold is set on (never the test events it is judged on)."""
        return self._handed_events[1] if self._handed_events else self._events("threshold")

    def selection_events(self) -> Events | None:
        """The events choices are made on: the test background with the selection half of the signal jets (None
        where there is no such half); every reported figure uses :meth:`test_events`, whose signals are the other half."""
        return None

    def _events(self, which: str) -> Events:
        raise NotImplementedError

    def _other_events(self, data, all_events: bool) -> Events:
        raise RunError("an imported run's events are its input file; import again for other inputs")

    def summary(self) -> dict:
        """What the report says of the run's model beyond its layers."""
        raise NotImplementedError

    def baseline(self, which: str) -> "BaselineRun":
        """A baseline model of the run (e.g. "distance") as a run of its own, sharing this run's events."""
        return BaselineRun(self, which)


class TrainedRun(Run):
    """A run ``l1ad train`` made: its data file (hash-checked), config, scaler and the splits they give."""

    kind = "trained"

    @cached_property
    def float_model(self):
        """The float model, loaded once."""
        return self._model("float")

    @cached_property
    def distance_model(self):
        """The zero-parameter distance baseline (None if the run has none), loaded once."""
        return self._model("distance")

    def output_labels(self) -> list[str]:
        return ["score", "reconstruction"][: len(self.graph.outputs)]

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

        info = self.data_json
        handed = self._trained.data if self._trained is not None else None
        if handed is not None and handed.info["sha256"] == info["sha256"]:
            return handed
        path = checked_file(info["path"], info["sha256"], self.path, "data")
        return DataFile(path, load_jets(path), info)

    def data_path(self) -> Path:
        return self.data.path

    @cached_property
    def data_json(self) -> dict:
        """data.json: the data file the run was trained on and its sha256, read once."""
        return read_json(self.path / "data.json")

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

    def selection_events(self) -> Events | None:
        table = self._splits.selection_jets()
        if table is None:
            return None
        return Events([self.transform(table)], table[LABEL].to_numpy(),
                      f"selection half of the signal jets, with the test background jets, of {self.data.path}")

    def _events(self, which: str) -> Events:
        if which == "test":
            test = self._splits.test
            return Events([self.transform(test)], test[LABEL].to_numpy(), f"test split of {self.data.path}")
        val = self._splits.val
        val = val[val[LABEL].isin(BACKGROUND)]
        return Events([self.transform(val)], val[LABEL].to_numpy(), "validation background jets")

    def _other_events(self, data, all_events: bool) -> Events:
        test = self.test_jets(data, all_events)
        source = f"{'all events' if all_events else 'test split'} of {data or self.data.path}"
        return Events([self.transform(test)], test[LABEL].to_numpy(), source)

    def summary(self) -> dict:
        config = self.config
        return dict(architecture=config.model.architecture_string(), variant=config.training.variant,
                    score=getattr(getattr(config, "score", None), "kind", "mse"),
                    transform=getattr(config.data, "transform", "standard"),
                    pruning=config.pruning.target_sparsity if config.pruning.enabled else None)


class ImportedRun(Run):
    """A run ``l1ad import`` made: the user's model, its inputs (and labels), hash-checked (import.json)."""

    kind = "imported"

    @cached_property
    def imported(self) -> dict:
        return read_json(self.path / IMPORT_JSON)

    @property
    def score_output(self) -> str | None:
        return self.imported.get("score_output")

    def output_labels(self) -> list[str]:
        return ["score" if n == self.score_output else n for n in self.graph.outputs]

    def data_path(self) -> Path:
        raise RunError(f"{self.path} is an imported run: its events are its input file, not jets of a data file")

    @cached_property
    def _imported_inputs(self) -> tuple[np.ndarray, np.ndarray | None, Path]:
        """The inputs and labels (None without), hash-checked and read once."""
        doc = self.imported
        inputs = checked_file(doc["inputs"]["path"], doc["inputs"]["sha256"], self.path, "inputs")
        scaler = checked_file(doc["scaler"]["path"], doc["scaler"]["sha256"], self.path, "scaler") if doc["scaler"] else None
        x = read_inputs(inputs, scaler, tuple(doc["inputs"].get("shape") or [doc["inputs"]["width"]]),
                        tuple(doc["inputs"]["stated_shape"]) if doc["inputs"].get("stated_shape") else None)
        if doc["labels"] is None:
            return x, None, inputs
        labels_path = checked_file(doc["labels"]["path"], doc["labels"]["sha256"], self.path, "labels")
        return x, read_table(labels_path, "labels").astype(str), inputs

    def _events(self, which: str) -> Events:
        """The test events (``which="test"``) or threshold events ("threshold"): without labels every row is both;
        with labels, half of the background rows (a fixed seed) set the threshold, the rest are test events."""
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

    def summary(self) -> dict:
        return dict(architecture=self.graph.name, model_file=self.imported["model"]["path"])


class BaselineRun(Run):
    """A baseline model of a trained run (the distance from the QCD core, no network), taken through the same
    stages as the run's own model: its records in the run's ``baselines/NAME/``, its events the run's."""

    kind = "baseline"

    def __new__(cls, parent: Run, which: str):
        run = object.__new__(cls)
        run.status = parent.status
        return run

    def __init__(self, parent: Run, which: str):
        super().__init__(parent.path / "baselines" / which, events=(parent.test_events(), parent.threshold_events))
        self.parent, self.which = parent, which
        self.path.mkdir(parents=True, exist_ok=True)

    @cached_property
    def model(self):
        return getattr(self.parent, f"{self.which}_model")

    def output_labels(self) -> list[str]:
        return ["score"]

    def default_dir(self, parent: str, suffix: str = "") -> Path:
        return self.parent.default_dir(parent, self.which + ("-" + suffix if suffix else ""))

    def summary(self) -> dict:
        return dict(architecture=self.graph.name)


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


def read_inputs(path: Path, scaler: Path | None, shape: int | tuple[int, ...],
                stated: tuple[int, ...] | None = None) -> np.ndarray:
    """The events of an inputs file as flat rows (as l1ad and the firmware hold them, row-major, channels last),
    float32. ``shape`` is the model's input per event (an int: a flat input of that width). A .npy may hold events of
    that shape or flat rows; a table (parquet, CSV) holds flat rows, and for an input with a shape (an image, a
    sequence) the shape its rows are read in is stated (``stated``, ``--input-shape``), so that a table of the right
    width but another layout is never taken silently."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    width = int(np.prod(shape))
    x = read_table(path, "inputs")
    found = x.shape[1:]
    if stated is not None and tuple(stated) != shape:
        raise L1adError(f"--input-shape {','.join(map(str, stated))}: the model's input takes events of shape "
                        f"{shape}")
    if found != shape and (x.ndim != 2 or found[0] != width):
        raise L1adError(f"{path}: the model takes events of shape {shape} ({width} values); the file holds events of "
                        f"shape {found}")
    if found != shape and len(shape) > 1 and stated is None:
        raise L1adError(f"{path}: flat rows of {width} values for a model whose input is {shape}: state the layout "
                        f"of a row with --input-shape {','.join(map(str, shape))} (row-major, channels last), or "
                        f"give a .npy of shape (events, {', '.join(map(str, shape))})")
    x = x.reshape(len(x), width)
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

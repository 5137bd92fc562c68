"""``l1ad train``: train the float and the QKeras autoencoder into a self-contained run folder.

A run folder holds ``status.json``; it says ``complete`` only once every file is written, so an
interrupted run never passes for a finished one. Each model checkpoints every epoch (weights,
optimizer state and early-stopping state); resuming continues bit-identically, because batch order
and input noise are drawn from the seed and the epoch number, not from a running random state.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from tqdm import tqdm

from l1ad.common.errors import RunError
from l1ad.common.files import atomic_path, read_json, run_state, sha256, write_json
from l1ad.common.records import Metrics

from .config import Config, load_config
from .datasets import DEFAULT_SAMPLE, Scaler, Splits, split
from .evaluate import anomaly_metrics
from .features import BACKGROUND, LABEL
from .io import load_jets, read_provenance

MODELS = ("float", "qkeras")  # the two models of a run
FLOAT_SCORES = "float_test_scores.npy"  # the float model's scores of the test split, for validate (no Keras there)


def _prepare(run: Path, resume: bool, restart: bool) -> None:
    state = run_state(run)
    if run.exists() and any(run.iterdir()) and state is None:
        raise RunError(f"{run} exists and is not an l1ad run folder; choose another --out")
    if state == "complete" and not restart:
        raise RunError(f"{run} is a finished run; pass --restart to train it again or choose another --out")
    if state == "training" and not (resume or restart):
        raise RunError(f"{run} holds an interrupted run; pass --resume to continue it or --restart to start over")
    if restart and run.exists():
        shutil.rmtree(run)


@dataclass
class DataFile:
    """A jet file read once: its table and its record for data.json (path, sha256, provenance)."""

    path: Path
    table: pd.DataFrame
    info: dict

    @classmethod
    def read(cls, data: str | Path | None = None) -> "DataFile":
        """``data`` (a file or folder; None: the embedded sample), parsed and hashed once."""
        path = Path(data) if data is not None else DEFAULT_SAMPLE
        table = load_jets(path)
        info = {"path": str(path.resolve()), "embedded_default": data is None, "sha256": sha256(path),
                "file_provenance": read_provenance(path) if path.is_file() else {}}
        return cls(path, table, info)


@dataclass
class Trained:
    """A finished run folder with what training loaded, for the stages after it: the data and the models."""

    path: Path
    data: DataFile
    models: dict[str, object]  # float, qkeras (the kept seed) and, with the baseline, distance


def _fingerprint(config: Config, data_info: dict) -> dict:
    return {"config": config.to_dict(), "data_sha256": data_info["sha256"]}


def config_changes(run: Path, config: Config) -> list[str]:
    """The config fields (dotted, with their values in the run and in ``config``) that differ between the config a
    run was trained with and ``config``: empty where they agree."""
    def flat(doc: dict, prefix: str = "") -> dict:
        out = {}
        for key, value in doc.items():
            if isinstance(value, dict) and value and not set(value) <= {"bits", "integer"}:
                out |= flat(value, f"{prefix}{key}.")
            else:
                out[prefix + key] = value
        return out

    recorded = read_json(run / "status.json").get("fingerprint", {}).get("config")
    if recorded is None:  # not a run l1ad trained (e.g. an imported model): nothing to compare
        return []
    was, now = flat(recorded), flat(config.to_dict())
    return [f"{key}: {was.get(key)} in the run, {now.get(key)} now" for key in sorted(set(was) | set(now))
            if was.get(key) != now.get(key)]


def _epoch_done(kind: str, epoch: int) -> None:
    """Called after every checkpoint; tests replace it to simulate an interruption."""


def keras_loss(config: Config):
    import tensorflow as tf

    return "mse" if config.training.loss == "mse" else tf.keras.losses.Huber(delta=1.0)


class _Checkpoints:
    """One model's training state under checkpoints/NAME: the last epoch's weights and optimizer (to resume), the
    best epoch's weights and the early-stopping state. state.json is written last: the commit point of an epoch."""

    def __init__(self, folder: Path, model):
        import tensorflow as tf

        self.dir, self.model = folder, model
        self.checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
        self.state = {"epoch": 0, "loss": [], "val_loss": [], "best_val_loss": None, "best_epoch": None, "wait": 0,
                      "stopped_early": False, "checkpoint": None}
        if (folder / "state.json").exists():
            self.state = read_json(folder / "state.json")
            model.optimizer.build(model.trainable_variables)
            self.checkpoint.read(str(folder / self.state["checkpoint"])).assert_consumed()

    def record(self, epoch: int, loss: float, val_loss: float, eligible: bool, early_stopping) -> None:
        """Add one epoch: keep its weights if it is the best eligible one so far, then commit it."""
        state = self.state
        state["loss"].append(loss)
        state["val_loss"].append(val_loss)
        if eligible:
            best = state["best_val_loss"]
            if best is None or val_loss < best - early_stopping.min_delta:
                state.update(best_val_loss=val_loss, best_epoch=epoch, wait=0)
                with atomic_path(self.dir / "best_weights.h5") as tmp:
                    self.model.save_weights(str(tmp))
            else:
                state["wait"] += 1
                state["stopped_early"] = state["wait"] >= early_stopping.patience
        state["epoch"] = epoch + 1
        tag = f"epoch-{epoch + 1}"
        self.checkpoint.write(str(self.dir / tag / "ckpt"))
        previous, state["checkpoint"] = state["checkpoint"], f"{tag}/ckpt"
        write_json(self.dir / "state.json", state)
        if previous:
            shutil.rmtree(self.dir / Path(previous).parent, ignore_errors=True)

    def load_best(self) -> None:
        self.model.load_weights(str(self.dir / "best_weights.h5"))


def _epoch_inputs(config: Config, x_train: np.ndarray, y_train: np.ndarray, seed: int, epoch: int):
    """This epoch's shuffled inputs (with noise for a denoising AE, sampling noise for a VAE) and targets, drawn from
    the seed and the epoch so that a resumed training sees the same batches."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(x_train))
    inputs, target = x_train[order], y_train[order]
    if config.training.variant == "denoising":
        inputs = (inputs + rng.normal(0.0, config.training.noise_std, inputs.shape)).astype(np.float32)
    if config.model.kind == "vae":
        inputs = (inputs, rng.normal(0.0, 1.0, (len(inputs), config.model.latent)).astype(np.float32))
    return inputs, target


def _compiled_model(config: Config, quantized: bool, seed: int, steps: int):
    """The training model (pruning wrappers if configured) and the scoring model that shares its layers."""
    from . import models

    models.set_seed(seed)
    model, scoring = models.build(config, quantized=quantized, pruned_steps_per_epoch=steps)
    model.compile(models.optimizer(config, steps), loss=keras_loss(config))
    return model, scoring


def _train_model(name: str, quantized: bool, seed: int, config: Config, x_train: np.ndarray, x_val: np.ndarray,
                 run: Path, progress: bool) -> tuple[object, dict]:
    """Train one model from ``seed`` (checkpointed every epoch under checkpoints/NAME); return its scoring model
    (pruning stripped, best epoch's weights) and its history."""
    from . import models

    cfg = config.training
    model, scoring = _compiled_model(config, quantized, seed, math.ceil(len(x_train) / cfg.batch_size))
    saved = _Checkpoints(run / "checkpoints" / name, model)
    callbacks = []
    if config.pruning.enabled:
        import tensorflow_model_optimization as tfmot

        callbacks.append(tfmot.sparsity.keras.UpdatePruningStep())
    target_of = _target(config, quantized, run)
    y_train = target_of(x_train)
    vae = config.model.kind == "vae"
    validation = (x_val, np.zeros((len(x_val), config.model.latent), dtype=np.float32)) if vae else x_val
    validation_data = (validation, target_of(x_val))  # no sampling noise in validation
    bar = tqdm(total=cfg.epochs, initial=saved.state["epoch"], desc=f"training {name} {config.model.kind}",
               unit="epoch", disable=not progress, leave=True)
    while saved.state["epoch"] < cfg.epochs and not saved.state["stopped_early"]:
        epoch = saved.state["epoch"]
        inputs, target = _epoch_inputs(config, x_train, y_train, seed, epoch)
        fit = model.fit(inputs, target, batch_size=cfg.batch_size, epochs=1, shuffle=False, verbose=0,
                        validation_data=validation_data, callbacks=callbacks)
        loss, val_loss = fit.history["loss"][0], fit.history["val_loss"][0]
        # with pruning, only fully pruned epochs may become the kept model
        eligible = not config.pruning.enabled or epoch + 1 >= config.pruning.end_epoch
        saved.record(epoch, loss, val_loss, eligible, cfg.early_stopping)
        bar.set_postfix(loss=f"{loss:.4f}", val_loss=f"{val_loss:.4f}")
        bar.update(1)
        _epoch_done(name, epoch)
    bar.close()
    saved.load_best()
    if config.model.kind == "vae":  # for the KL score, measured off chip beside mu^2
        with atomic_path(saved.dir / "moments.h5") as tmp:
            models.strip(models.vae_moments(model)).save(str(tmp), include_optimizer=False)
    final = models.strip(scoring)
    weights = _set_score_weights(config, final, x_val, validation_data[1])
    history = {k: saved.state[k] for k in ("loss", "val_loss", "best_val_loss", "best_epoch", "stopped_early")} | {
        "epochs_run": saved.state["epoch"], "seed": seed, "score_weights": None if weights is None else weights.tolist()}
    return final, history


def _target(config: Config, quantized: bool, run: Path):
    """What a model learns to produce from its inputs: a student the float teacher's log-score (the teacher is trained
    first, in checkpoints/float); the QKeras model its input as the chip receives it (config training.target); the
    float model its float input."""
    from . import models

    if quantized and config.model.kind == "student":
        teacher = models.load(run / "checkpoints" / "float" / "model.h5")
        return lambda x: models.teacher_log_scores(teacher, x)
    if quantized and config.training.target == "quantized":
        return lambda x: models.quantized_input(config, x)
    return lambda x: x


def _set_score_weights(config: Config, model, x_val: np.ndarray, y_val) -> np.ndarray | None:
    """With ``score.feature_weights: inverse_variance``, weight each squared residual by 1 / its background variance
    on the validation split (every feature counts alike); return the weights set, or None."""
    from . import models

    if config.model.kind != "ae" or config.score.feature_weights != "inverse_variance":
        return None
    reconstruction = models.scores(model, x_val)[1]
    weights = _inverse_variance_weights(np.asarray(y_val, dtype=np.float64) - reconstruction)
    models.set_score_weights(model, weights)
    return weights


def _inverse_variance_weights(residuals: np.ndarray) -> np.ndarray:
    """Weights 1 / variance of each feature's background residual, summing to 1 (a constant feature gets 0)."""
    variance = np.var(residuals, axis=0)
    weights = np.where(variance > 0, 1.0 / np.maximum(variance, 1e-30), 0.0)
    return weights / weights.sum()


def _fixed_model(config: Config, quantized: bool, x_val: np.ndarray) -> tuple[object, dict]:
    """Latent size 0 has nothing to train (the reconstruction is the origin): build and weight (if asked)."""
    from . import models

    _, scoring = models.build(config, quantized=quantized)
    weights = None
    if config.score.feature_weights == "inverse_variance":  # the residual is the input itself
        weights = _inverse_variance_weights(np.asarray(x_val, dtype=np.float64))
        models.set_score_weights(scoring, weights)
    return scoring, {"loss": [], "val_loss": [], "best_val_loss": None, "best_epoch": None, "stopped_early": False,
                     "epochs_run": 0, "seed": None, "score_weights": None if weights is None else weights.tolist()}


def trainings(config: Config) -> list[tuple[str, bool, int]]:
    """(name, quantized, seed) of every training of a run: the float model, then one QKeras model per seed."""
    if config.model.latent == 0:  # nothing to train: one fixed model of each kind
        return [("float", False, config.seed), ("qkeras", True, config.seed)]
    return [("float", False, config.seed)] + [(f"qkeras-seed{s}", True, s) for s in config.seeds()]


def _train_all(config: Config, x_train: np.ndarray, x_val: np.ndarray, run: Path, progress: bool,
               workers: int) -> dict[str, dict]:
    """Train (or, after an interruption, reuse) every training of the run; each model lands in its checkpoint folder.

    With ``workers`` > 1 the trainings run side by side in worker processes (each one deterministic on its own, so
    the models are the same either way); the progress bar then counts finished trainings instead of epochs."""
    todo = [t for t in trainings(config) if not (run / "checkpoints" / t[0] / "done.json").exists()]
    if config.model.kind == "student" and todo and todo[0][0] == "float":  # the students learn from it: first
        _train_and_save(*todo.pop(0), config, x_train, x_val, run, progress)
    if workers > 1 and len(todo) > 1 and config.model.latent > 0:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        bar = tqdm(total=len(todo), desc=f"training {len(todo)} models on {workers} processes", unit="model",
                   disable=not progress)
        with ProcessPoolExecutor(min(workers, len(todo)), mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_one_thread) as pool:
            futures = [pool.submit(_train_and_save, *t, config.to_dict(), x_train, x_val, run) for t in todo]
            for future in futures:
                future.result()
                bar.update(1)
        bar.close()
    else:
        for name, quantized, seed in todo:
            _train_and_save(name, quantized, seed, config, x_train, x_val, run, progress)
    return {name: read_json(run / "checkpoints" / name / "done.json") for name, _, _ in trainings(config)}


def _one_thread() -> None:
    """A training worker process: one TensorFlow thread per op (the workers share the cores); it ends with its
    parent."""
    import os

    from l1ad.common.processes import end_with_parent, quiet_libraries

    end_with_parent()
    quiet_libraries()

    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _train_and_save(name: str, quantized: bool, seed: int, config: Config | dict, x_train: np.ndarray,
                    x_val: np.ndarray, run: Path, progress: bool = False) -> None:
    """One training, its model saved as checkpoints/NAME/model.h5 and its history as done.json (written last)."""
    config = config if isinstance(config, Config) else Config.model_validate(config)
    ckdir = run / "checkpoints" / name
    if config.model.latent == 0:
        model, history = _fixed_model(config, quantized, x_val)
    else:
        model, history = _train_model(name, quantized, seed, config, x_train, x_val, run, progress)
    ckdir.mkdir(parents=True, exist_ok=True)
    with atomic_path(ckdir / "model.h5") as tmp:
        model.save(str(tmp), include_optimizer=False)
    write_json(ckdir / "done.json", history)


def kept_seed(histories: dict[str, dict]) -> str:
    """The QKeras training that is kept: the lowest background validation loss (the first on a tie)."""
    candidates = [n for n in histories if n.startswith("qkeras")]
    return min(candidates, key=lambda n: (histories[n]["best_val_loss"] is None, histories[n]["best_val_loss"] or 0.0))


def train(config: Config, data: str | Path | DataFile | None, out: str | Path, resume: bool = False,
          restart: bool = False, progress: bool = True, figures: bool = True, workers: int | None = None) -> Path:
    """Train both models and evaluate them; return the finished run folder (``figures``: draw plots/).

    The trainings run on ``workers`` processes (default: ``L1AD_TRAIN_WORKERS``, else 1: in this process, which a
    script without an ``if __name__ == "__main__"`` guard needs; the command line uses one per core, at most two) and
    the baselines (scikit-learn, not on the chip) in a thread beside them, so that they share the cores instead of
    taking turns. :func:`fit` does the same and returns the loaded data and models too.
    """
    return fit(config, data, out, resume, restart, progress, figures, workers).path


def fit(config: Config, data: str | Path | DataFile | None, out: str | Path, resume: bool = False,
        restart: bool = False, progress: bool = True, figures: bool = True, workers: int | None = None) -> Trained:
    """:func:`train`, returning the run with its data and models as loaded, so later stages read neither again."""
    from concurrent.futures import ThreadPoolExecutor

    data = data if isinstance(data, DataFile) else DataFile.read(data)
    run, parts, fingerprint = _start(config, data, Path(out), resume, restart)
    _import_sklearn()
    with ThreadPoolExecutor(1) as pool:
        context = pool.submit(_baselines, config, parts) if config.baselines.enabled else None
        scaler = Scaler.fit(parts.train, config.data.transform, config.data.core_fraction, config.seed)
        scaler.save(run / "scaler.json")
        x_train, x_val = scaler.transform(parts.train), scaler.transform(parts.val)
        workers = workers or int(os.environ.get("L1AD_TRAIN_WORKERS", 1))
        histories = _train_all(config, x_train, x_val, run, progress, workers)
        kept = _keep_models(config, histories, x_val, run)
        evaluate(run, parts, scaler, out_dir=run, progress=progress, figures=figures, models=kept,
                 baselines=context.result if context else None)
    shutil.rmtree(run / "checkpoints")
    write_json(run / "status.json", {"state": "complete", "fingerprint": fingerprint})
    return Trained(run, data, {k: v for k, v in kept.items() if not isinstance(k, int)})


def _import_sklearn() -> None:
    """Import the scikit-learn modules both threads of :func:`fit` use, before the baselines thread starts: two
    threads importing scikit-learn at once can see a half-initialised module (``cannot import name 'clone' from
    partially initialized module 'sklearn.base'``, seen in CI)."""
    import sklearn.covariance  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import sklearn.mixture  # noqa: F401


def _start(config: Config, data: DataFile, run: Path, resume: bool, restart: bool) -> tuple[Path, Splits, dict]:
    """Open (or continue) the run folder; write its config and data records; return it with the run's splits."""
    _prepare(run, resume, restart)
    fingerprint = _fingerprint(config, data.info)
    if run_state(run) == "training":
        if read_json(run / "status.json")["fingerprint"] != fingerprint:
            changed = "; ".join(config_changes(run, config)[:5]) or "the data file"
            raise RunError(f"{run} was started with another config or data ({changed}); pass --restart to start over")
    else:
        run.mkdir(parents=True, exist_ok=True)
        write_json(run / "status.json", {"state": "training", "fingerprint": fingerprint})
    parts = splits(data.table, config)
    (run / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    data_info = dict(data.info)
    data_info["split_counts"] = {name: getattr(parts, name)[LABEL].value_counts().sort_index().to_dict()
                                 for name in ("train", "val", "test", "signal_train", "selection")}
    write_json(run / "data.json", data_info)
    return run, parts, fingerprint


def _baselines(config: Config, parts: Splits) -> dict:
    """The baselines, in :func:`fit`'s thread at a lower priority (this thread and the OpenMP threads it starts):
    they take the cores the trainings leave idle (the input transform's fit, the last training, the evaluation)
    instead of slowing the trainings, which every later stage waits for."""
    import threading

    from .baselines import baselines

    with contextlib.suppress(OSError, AttributeError):  # Linux: a thread's priority is its own
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    return baselines(parts, config.baselines.gmm_components, config.seed)


def _keep_models(config: Config, histories: dict[str, dict], x_val: np.ndarray, run: Path) -> dict:
    """Put the float model and the kept QKeras seed (and the distance baseline) into the run folder; write
    history.json; return every model, each loaded once: ``float``, ``qkeras`` (the kept seed), ``distance`` and,
    by seed, every QKeras training (for the spread over seeds)."""
    from . import models

    kept = kept_seed(histories)
    for kind, name in (("float", "float"), ("qkeras", kept)):
        shutil.copyfile(run / "checkpoints" / name / "model.h5", run / f"{kind}_model.h5")
        if (run / "checkpoints" / name / "moments.h5").exists():
            shutil.copyfile(run / "checkpoints" / name / "moments.h5", run / f"{kind}_moments.h5")
    loaded = {"float": models.load(run / "float_model.h5")}
    for name in histories:
        if name.startswith("qkeras"):
            model = models.load(run / "checkpoints" / name / "model.h5")
            if histories[name]["seed"] is not None:
                loaded[histories[name]["seed"]] = model
            if name == kept:
                loaded["qkeras"] = model
    if config.baselines.enabled and config.baselines.distance and config.model.latent > 0:
        loaded["distance"], _ = _fixed_model(config.distance_baseline(), True, x_val)
        with atomic_path(run / "distance_model.h5") as tmp:
            loaded["distance"].save(str(tmp), include_optimizer=False)
    seeds = [n for n in histories if n.startswith("qkeras-")]
    write_json(run / "history.json", {"float": histories["float"], "qkeras": histories[kept],
                                      "qkeras_seeds": [histories[n] for n in seeds]})
    return loaded


def splits(table: pd.DataFrame, config: Config) -> Splits:
    """The run's splits of a table, fixed by the config's seed and fractions."""
    d = config.data
    return split(table, config.seed, d.val_fraction, d.test_fraction, d.signal_train_fraction, d.selection_fraction)


def evaluate(run: Path, parts: Splits | pd.DataFrame, scaler: Scaler | None = None, out_dir: Path | None = None,
             progress: bool = True, source: str | None = None, figures: bool = True, models: dict | None = None,
             baselines: dict | Callable[[], dict] | None = None) -> dict:
    """Score the test jets with both models; write metrics.json and (``figures``) plots to ``out_dir``.

    ``models``: the run's models as loaded (``float``, ``qkeras``, ``distance`` and, by seed, every QKeras training,
    scored for the spread over seeds); without it the run folder's float and QKeras models are loaded.
    ``baselines``: the baselines' figures on the same test jets, recorded beside the distance baseline's; a callable
    is called last, once everything else is scored and drawn (:func:`fit` computes them in a thread meanwhile).
    """
    from . import models as keras_models
    from . import plots

    loaded = models or {kind: keras_models.load(run / f"{kind}_model.h5") for kind in MODELS}
    scaler = scaler or Scaler.load(run / "scaler.json")
    out_dir = out_dir or run
    test = parts.test if isinstance(parts, Splits) else parts
    x = scaler.transform(test)
    labels = test[LABEL].to_numpy()
    metrics, scores = {}, {}
    for kind in tqdm(MODELS, desc="evaluating", unit="model", disable=not progress, leave=False):
        scores[kind], reconstruction = keras_models.scores(loaded[kind], x)
        metrics[kind] = anomaly_metrics(scores[kind], labels)
        metrics[kind]["background_mean_score"] = float(scores[kind][np.isin(labels, BACKGROUND)].mean())
        if figures:  # the QKeras model's residuals are those of the chip: from its quantized input
            inputs = keras_models.quantized_input(load_config(run / "config.yaml"), x) if kind == "qkeras" else x
            _model_figures(loaded[kind], kind, scores[kind], reconstruction, x, inputs, labels, out_dir)
    if (run / "qkeras_moments.h5").exists():  # a VAE: its KL term as the score, beside the mu^2 the chip computes
        metrics["kl"] = {kind: {**anomaly_metrics(keras_models.kl_scores(keras_models.load(run / f"{kind}_moments.h5"),
                                                                          x), labels),
                                "source": f"KL term of {kind}_moments.h5 (Keras float32 predict, off chip)"}
                         for kind in MODELS}
    if figures:
        plots.roc_curves(scores, labels, out_dir / "plots" / "roc.png", "test jets")
    if out_dir == run and isinstance(parts, Splits):  # the run's own test split
        with atomic_path(run / FLOAT_SCORES) as tmp:
            np.save(tmp, scores["float"])
    seeds = {seed: model for seed, model in loaded.items() if isinstance(seed, int)}
    history_path = run / "history.json"
    history = read_json(history_path) if history_path.exists() else None  # read once: the spread and the plot
    if len(seeds) > 1:
        metrics["seeds"] = seed_spread({seed: keras_models.scores(m, x)[0] for seed, m in seeds.items()}, labels,
                                       history, "the test split")
        chosen = parts.selection_jets() if isinstance(parts, Splits) else None  # what choices are made on
        if chosen is not None:
            x_chosen = scaler.transform(chosen)
            metrics["seeds_selection"] = seed_spread(
                {seed: keras_models.scores(m, x_chosen)[0] for seed, m in seeds.items()}, chosen[LABEL].to_numpy(),
                history, "the selection half of the signal jets with the test background jets")
    if figures and history is not None and history["qkeras"]["loss"]:
        plots.history(history, out_dir / "plots" / "loss.png")
    distance = anomaly_metrics(keras_models.scores(loaded["distance"], x)[0], labels) \
        if baselines is not None and "distance" in loaded else None
    if callable(baselines):
        baselines = baselines()
    if baselines is not None:
        metrics["baselines"] = ({"distance": {**distance, "model": DISTANCE_MODEL}} if distance else {}) | baselines
    doc = {"source": source or "Keras float32 predict of float_model.h5 and qkeras_model.h5 on the test split",
           "trigger": "score > threshold", **metrics}
    Metrics.model_validate(doc).save(out_dir / "metrics.json")
    return doc


DISTANCE_MODEL = ("distance, no network: mean of the squared quantized inputs, i.e. the squared distance from the "
                  "QCD core of the core transforms (distance_model.h5)")


def _model_figures(model, kind: str, scores: np.ndarray, reconstruction, x: np.ndarray, inputs: np.ndarray,
                   labels: np.ndarray, out_dir: Path) -> None:
    from . import models, plots

    title = "float model" if kind == "float" else "QKeras model"
    plots.score_distributions(scores, labels, out_dir / "plots" / f"scores_{kind}.png", title)
    if "latent" in [layer.name for layer in model.layers]:
        plots.latent_space(models.latent(model, x), labels, out_dir / "plots" / f"latent_{kind}.png",
                           f"latent space, {title}")
    if reconstruction is not None:
        plots.residuals(inputs, reconstruction, labels, out_dir / "plots" / f"residuals_{kind}.png", title)


FAILED_TRAINING = 1.5  # a seed whose best background validation loss exceeds this multiple of the lowest failed


def failed_seeds(val_loss: dict[str, float | None]) -> list[int]:
    """Seeds whose training failed, judged on background jets only: a best validation loss above FAILED_TRAINING
    times the lowest. Such a training has collapsed (its reconstruction is near constant: the embedded sample's
    failed seeds sit at 2.4 times the best loss, the converged ones within 1.2 times); nobody would put it on a chip,
    so it is counted and named, not averaged into the spread that compares settings."""
    losses = {int(s): v for s, v in val_loss.items() if v is not None}
    best = min(losses.values(), default=None)
    return sorted(s for s, v in losses.items() if v > FAILED_TRAINING * best)


def seed_spread(scores: dict[int, np.ndarray], labels: np.ndarray, history: dict, jets: str) -> dict:
    """Each training seed's figures (AUC, efficiencies) on ``jets`` and, per signal, their mean and spread (sample
    standard deviation) over the seeds whose training did not fail (:func:`failed_seeds`; over every seed where
    fewer than two converged); which seed was kept and why."""
    per_seed = {seed: anomaly_metrics(s, labels, n_boot=0) for seed, s in scores.items()}
    val_loss = {str(h["seed"]): h["best_val_loss"] for h in history["qkeras_seeds"]}
    failed = failed_seeds(val_loss)
    counted = [i for i, seed in enumerate(per_seed) if seed not in failed]
    counted = counted if len(counted) >= 2 else list(range(len(per_seed)))
    summary = {}
    for signal in next(iter(per_seed.values()))["signals"]:
        entries = [m["signals"][signal] for m in per_seed.values()]
        figures = {"auc": [e["auc"] for e in entries]}
        for key in entries[0]["at_background_efficiency"]:
            figures[f"eff@{key}"] = [e["at_background_efficiency"][key]["signal_efficiency"] for e in entries]
        summary[signal] = {name: _spread(v, counted) for name, v in figures.items()}
    return {"seeds": [int(s) for s in scores], "kept_seed": history["qkeras"]["seed"],
            "kept_by": "lowest background validation loss (never by signal jets)", "validation_loss": val_loss,
            "failed": failed, "source": f"Keras float32 predict of each seed's QKeras model on {jets}",
            "signals": summary}


def _spread(values: list[float], counted: list[int]) -> dict:
    """Mean, sample std and range of the ``counted`` values; ``values``: every seed's, in seed order."""
    kept = [values[i] for i in counted]
    return {"mean": float(np.mean(kept)), "std": float(np.std(kept, ddof=1)), "min": float(np.min(kept)),
            "max": float(np.max(kept)), "values": values}

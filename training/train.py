"""``l1ad train``: train the float and the QKeras autoencoder into a self-contained run folder.

A run folder holds ``status.json``; it says ``complete`` only once every file is written, so an
interrupted run never passes for a finished one. Each model checkpoints every epoch (weights,
optimizer state and early-stopping state); resuming continues bit-identically, because batch order
and input noise are drawn from the seed and the epoch number, not from a running random state.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from tqdm import tqdm

from l1ad.runs import RunError, run_state

from .config import Config, load_config
from .datasets import DEFAULT_SAMPLE, Scaler, Splits, split
from .evaluate import anomaly_metrics
from .features import BACKGROUND, LABEL
from .files import atomic_path, read_json, sha256, write_json
from .io import load_jets, read_provenance

MODELS = {"float": False, "qkeras": True}  # model kind -> quantized?


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


def load_data(data: str | Path | None) -> tuple[pd.DataFrame, dict]:
    path = Path(data) if data is not None else DEFAULT_SAMPLE
    table = load_jets(path)
    info = {"path": str(path.resolve()), "embedded_default": data is None, "sha256": sha256(path),
            "file_provenance": read_provenance(path) if path.is_file() else {}}
    return table, info


def _fingerprint(config: Config, data_info: dict) -> dict:
    return {"config": config.to_dict(), "data_sha256": data_info["sha256"]}


def _epoch_done(kind: str, epoch: int) -> None:
    """Called after every checkpoint; tests replace it to simulate an interruption."""


def keras_loss(config: Config):
    import tensorflow as tf

    return "mse" if config.training.loss == "mse" else tf.keras.losses.Huber(delta=1.0)


def _train_model(kind: str, config: Config, x_train: np.ndarray, x_val: np.ndarray, run: Path,
                 progress: bool) -> dict:
    import tensorflow as tf

    from . import models

    quantized = MODELS[kind]
    if config.model.latent == 0:
        return _fixed_model(kind, config, x_val, run)
    ckdir = run / "checkpoints" / kind
    state_file = ckdir / "state.json"
    cfg = config.training
    models.set_seed(config.seed)
    steps = math.ceil(len(x_train) / cfg.batch_size)
    model, scoring = models.build(config, quantized=quantized, steps_per_epoch=steps)
    model.compile(models.optimizer(config), loss=keras_loss(config))
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    state = {"epoch": 0, "loss": [], "val_loss": [], "best_val_loss": None, "best_epoch": None, "wait": 0,
             "stopped_early": False, "checkpoint": None}
    if state_file.exists():
        state = read_json(state_file)
        model.optimizer.build(model.trainable_variables)
        checkpoint.read(str(ckdir / state["checkpoint"])).assert_consumed()
    callbacks = []
    if config.pruning.enabled:
        import tensorflow_model_optimization as tfmot

        callbacks.append(tfmot.sparsity.keras.UpdatePruningStep())

    vae = config.model.kind == "vae"
    if vae:  # the sampling noise is an input: drawn from the seed and the epoch; none for validation
        x_val = (x_val, np.zeros((len(x_val), config.model.latent), dtype=np.float32))
    bar = tqdm(total=cfg.epochs, initial=state["epoch"], desc=f"training {kind} {config.model.kind}", unit="epoch",
               disable=not progress, leave=True)
    while state["epoch"] < cfg.epochs and not state["stopped_early"]:
        epoch = state["epoch"]
        rng = np.random.default_rng([config.seed, epoch])
        target = x_train[rng.permutation(len(x_train))]
        inputs = target
        if cfg.variant == "denoising":
            inputs = (target + rng.normal(0.0, cfg.noise_std, target.shape)).astype(np.float32)
        if vae:
            inputs = (inputs, rng.normal(0.0, 1.0, (len(target), config.model.latent)).astype(np.float32))
        fit = model.fit(inputs, target, batch_size=cfg.batch_size, epochs=1, shuffle=False, verbose=0,
                        validation_data=(x_val, x_val[0] if vae else x_val), callbacks=callbacks)
        loss, val_loss = fit.history["loss"][0], fit.history["val_loss"][0]
        state["loss"].append(loss)
        state["val_loss"].append(val_loss)
        # with pruning, only fully pruned epochs may become the kept model
        eligible = not config.pruning.enabled or epoch + 1 >= config.pruning.end_epoch
        if eligible:
            best = state["best_val_loss"]
            if best is None or val_loss < best - cfg.early_stopping.min_delta:
                state.update(best_val_loss=val_loss, best_epoch=epoch, wait=0)
                with atomic_path(ckdir / "best_weights.h5") as tmp:
                    model.save_weights(str(tmp))
            else:
                state["wait"] += 1
                state["stopped_early"] = state["wait"] >= cfg.early_stopping.patience
        state["epoch"] = epoch + 1
        name = f"epoch-{epoch + 1}"
        checkpoint.write(str(ckdir / name / "ckpt"))
        previous, state["checkpoint"] = state["checkpoint"], f"{name}/ckpt"
        write_json(state_file, state)  # the commit point of this epoch
        if previous:
            shutil.rmtree(ckdir / Path(previous).parent, ignore_errors=True)
        bar.set_postfix(loss=f"{loss:.4f}", val_loss=f"{val_loss:.4f}")
        bar.update(1)
        _epoch_done(kind, epoch)
    bar.close()

    model.load_weights(str(ckdir / "best_weights.h5"))
    final = models.strip(scoring)
    weights = None
    if config.model.kind == "ae" and config.score.feature_weights == "inverse_variance":
        # each squared residual weighted by 1 / its background variance: every feature counts alike
        reconstruction = models.scores(final, x_val[0] if vae else x_val)[1]
        weights = _inverse_variance_weights(np.asarray(x_val, dtype=np.float64) - reconstruction)
        models.set_score_weights(final, weights)
    with atomic_path(run / f"{kind}_model.h5") as tmp:
        final.save(str(tmp), include_optimizer=False)
    return {k: state[k] for k in ("loss", "val_loss", "best_val_loss", "best_epoch", "stopped_early")} | {
        "epochs_run": state["epoch"], "score_weights": None if weights is None else weights.tolist()}


def _inverse_variance_weights(residuals: np.ndarray) -> np.ndarray:
    """Weights 1 / variance of each feature's background residual, summing to 1 (a constant feature gets 0)."""
    variance = np.var(residuals, axis=0)
    weights = np.where(variance > 0, 1.0 / np.maximum(variance, 1e-30), 0.0)
    return weights / weights.sum()


def _fixed_model(kind: str, config: Config, x_val: np.ndarray, run: Path) -> dict:
    """Latent size 0 has nothing to train (the reconstruction is the origin): build, weight (if asked), save."""
    from . import models

    _, scoring = models.build(config, quantized=MODELS[kind])
    weights = None
    if config.score.feature_weights == "inverse_variance":  # the residual is the input itself
        weights = _inverse_variance_weights(np.asarray(x_val, dtype=np.float64))
        models.set_score_weights(scoring, weights)
    with atomic_path(run / f"{kind}_model.h5") as tmp:
        scoring.save(str(tmp), include_optimizer=False)
    return {"loss": [], "val_loss": [], "best_val_loss": None, "best_epoch": None, "stopped_early": False,
            "epochs_run": 0, "score_weights": None if weights is None else weights.tolist()}


def train(config: Config, data: str | Path | None, out: str | Path, resume: bool = False, restart: bool = False,
          progress: bool = True, figures: bool = True) -> Path:
    """Train both models and evaluate them; return the finished run folder (``figures``: draw plots/)."""
    run = Path(out)
    _prepare(run, resume, restart)
    table, data_info = load_data(data)
    fingerprint = _fingerprint(config, data_info)
    if run_state(run) == "training":
        if read_json(run / "status.json")["fingerprint"] != fingerprint:
            raise RunError(f"{run} was started with another config or data; pass --restart to start over")
    else:
        run.mkdir(parents=True, exist_ok=True)
        write_json(run / "status.json", {"state": "training", "fingerprint": fingerprint})

    parts = splits(table, config)
    scaler = Scaler.fit(parts.train, config.data.transform, config.data.core_fraction, config.seed)
    scaler.save(run / "scaler.json")
    (run / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    data_info["split_counts"] = {name: getattr(parts, name)[LABEL].value_counts().sort_index().to_dict()
                                 for name in ("train", "val", "test", "signal_train")}
    write_json(run / "data.json", data_info)

    x_train, x_val = scaler.transform(parts.train), scaler.transform(parts.val)
    histories = {}
    for kind in MODELS:
        if (run / f"{kind}_model.h5").exists() and (run / "checkpoints" / kind / "done.json").exists():
            histories[kind] = read_json(run / "checkpoints" / kind / "done.json")
            continue
        histories[kind] = _train_model(kind, config, x_train, x_val, run, progress)
        write_json(run / "checkpoints" / kind / "done.json", histories[kind])
    write_json(run / "history.json", histories)
    evaluate(run, parts, scaler, out_dir=run, progress=progress, figures=figures)
    shutil.rmtree(run / "checkpoints")
    write_json(run / "status.json", {"state": "complete", "fingerprint": fingerprint})
    return run


def splits(table: pd.DataFrame, config: Config) -> Splits:
    """The run's splits of a table, fixed by the config's seed and fractions."""
    d = config.data
    return split(table, config.seed, d.val_fraction, d.test_fraction, d.signal_train_fraction)


def test_jets(run: Path, data: str | Path | None = None, all_jets: bool = False) -> pd.DataFrame:
    """The run's test jets, or the test split (or every jet) of other data with the run's seed."""
    from l1ad.runs import Run

    config = load_config(run / "config.yaml")
    table = load_data(data if data is not None else Run(run).data_path())[0]
    return table if all_jets else splits(table, config).test


def evaluate(run: Path, parts: Splits | pd.DataFrame, scaler: Scaler | None = None, out_dir: Path | None = None,
             progress: bool = True, source: str | None = None, figures: bool = True) -> dict:
    """Score the test jets with both saved models; write metrics.json and (``figures``) plots to ``out_dir``."""
    from . import models, plots

    scaler = scaler or Scaler.load(run / "scaler.json")
    out_dir = out_dir or run
    test = parts.test if isinstance(parts, Splits) else parts
    x = scaler.transform(test)
    labels = test[LABEL].to_numpy()
    metrics, scores = {}, {}
    for kind in tqdm(MODELS, desc="evaluating", disable=not progress, leave=False):
        model = models.load(run / f"{kind}_model.h5")
        scores[kind], reconstruction = models.scores(model, x)
        metrics[kind] = anomaly_metrics(scores[kind], labels)
        metrics[kind]["background_mean_score"] = float(scores[kind][np.isin(labels, BACKGROUND)].mean())
        if not figures:
            continue
        title = "float model" if kind == "float" else "QKeras model"
        plots.score_distributions(scores[kind], labels, out_dir / "plots" / f"scores_{kind}.png", title)
        if "latent" in [layer.name for layer in model.layers]:
            plots.latent_space(models.latent(model, x), labels, out_dir / "plots" / f"latent_{kind}.png",
                               f"latent space, {title}")
        if reconstruction is not None:
            plots.residuals(x, reconstruction, labels, out_dir / "plots" / f"residuals_{kind}.png", title)
    if figures:
        plots.roc_curves(scores, labels, out_dir / "plots" / "roc.png", "test jets")
    config = load_config(run / "config.yaml")
    if isinstance(parts, Splits) and config.baselines.enabled:
        from .baselines import baselines

        metrics["baselines"] = baselines(parts, config.baselines.gmm_components, config.seed)
    history = run / "history.json"
    if figures and history.exists() and any(h["loss"] for h in read_json(history).values()):
        plots.history(read_json(history), out_dir / "plots" / "loss.png")
    doc = {"source": source or "Keras float32 predict of float_model.h5 and qkeras_model.h5 on the test split",
           "trigger": "score > threshold", **metrics}
    write_json(out_dir / "metrics.json", doc)
    return doc

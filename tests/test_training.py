"""Training: config validation, the score definition, determinism, resume, pruning and variants."""

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import l1ad.training.train as train_module
from conftest import AE, make_jets
from l1ad.cli import app
from l1ad.training import models
from l1ad.training.config import ConfigError, load_config
from l1ad.training.evaluate import anomaly_metrics, threshold_at
from l1ad.training.datasets import Scaler
from l1ad.training.features import BACKGROUND, LABEL
from l1ad.training.io import load_jets, write_jets
from l1ad.runs import Run, RunError, require_complete
from l1ad.training.train import train

# the tests that read the finished run run on one worker, which trains it once
ON_FINISHED_RUN = pytest.mark.xdist_group("finished_run")

TINY = {"model": {"encoder": [8], "latent": 2, "decoder": [8]},
        "training": {"epochs": 2, "batch_size": 128, "seeds": 1, "early_stopping": {"patience": 5, "min_delta": 0.0}},
        "pruning": {"enabled": False},
        "baselines": {"enabled": False, "gmm_components": 1}}


@pytest.fixture(scope="session")
def data_file(tmp_path_factory):
    return write_jets(make_jets(200, seed=2), tmp_path_factory.mktemp("data") / "jets.parquet", {"test": True})


def _weights(path):
    return [w for layer in models.load(path).layers for w in layer.get_weights()]


def _same_weights(a, b):
    wa, wb = _weights(a), _weights(b)
    return len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb))


# --- configuration ---------------------------------------------------------------------------------

def test_default_config_is_valid_and_documented():
    """The default is a trained autoencoder: an encoder with a hidden layer, a bottleneck, a decoder, several seeds."""
    config = load_config()
    assert config.model.kind == "ae" and config.model.encoder and config.model.latent >= 1
    assert config.model.layer_names()[-1] == "output" and config.score.kind == "mse" and config.training.seeds >= 3
    _, scoring = models.build(config, quantized=True)
    assert sum(int(np.prod(w.shape)) for w in scoring.trainable_weights) > 0 and config.data.transform == "log_core"
    text = (load_config.__globals__["DEFAULT_CONFIG"]).read_text()
    for line in text.splitlines():  # every field line carries a comment
        if ":" in line and not line.strip().startswith("#") and not line.rstrip().endswith(":"):
            assert "#" in line, line


@pytest.mark.parametrize("override, fragments", [
    ({"training": {"epochs": "many"}}, ["training.epochs", "valid integer", "'many'"]),
    ({"training": {"batch_size": 1.5}}, ["training.batch_size", "valid integer"]),
    ({"model": {"widths": [3]}}, ["model.widths", "Extra inputs"]),
    ({"model": {"activation": "sigmoid"}}, ["model.activation", "'relu'"]),
    ({"quantization": {"weights": {"bits": 4, "integer": 9}}}, ["quantization.weights", "integer bits (9)"]),
    ({"score": {"kind": "student"}}, ["score.kind student needs model.kind student"]),
    ({"quantization": {"layers": {"enc_7": {}}}}, ["unknown layers ['enc_7']"]),
    ({"data": {"val_fraction": 0.6, "test_fraction": 0.5}}, ["must be below 1"]),
    ({"data": {"transform": "sqrt"}}, ["data.transform", "'standard'"]),
    ({"score": {"kind": "mu2"}}, ["score.kind mu2 needs model.kind vae"]),
    # the default prunes until epoch 30; a shorter training would never reach a fully pruned epoch to keep
    ({"training": {"epochs": 10}}, ["pruning.end_epoch (30)", "training.epochs: 10", "pruning.enabled: false"]),
])
def test_bad_config_names_the_field(tmp_path, override, fragments):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(override))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    for fragment in ("bad.yaml", *fragments):
        assert fragment in str(err.value), str(err.value)


# --- the score -------------------------------------------------------------------------------------

def _quantize_unsigned(x, bits, integer):
    step = 2.0 ** (integer - bits)
    return np.clip(np.round(x / step) * step, 0, 2.0**integer - step)  # np.round: half to even, like QKeras


@pytest.mark.parametrize("kind", ["mse", "mae"])
def test_score_is_mean_squared_or_absolute_error_of_the_quantized_input(kind):
    config = load_config(overrides={**AE, "score": {**AE["score"], "kind": kind}})
    models.set_seed(3)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 2, (3000, 16)).astype(np.float32)
    for quantized in (False, True):
        _, scoring = models.build(config, quantized=quantized)
        for layer in scoring.layers:  # random weights so reconstructions are far from the inputs
            if layer.name != "mean" and layer.get_weights():
                layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])
        score, recon = models.scores(scoring, x)
        inputs = x.astype(np.float64)
        if quantized:
            import keras

            inputs = keras.Model(scoring.input, scoring.get_layer("input_q").output).predict(x, verbose=0)
            step = 2.0 ** (config.quantization.input.integer + 1 - config.quantization.input.bits)
            assert np.all(inputs / step == np.round(inputs / step))  # the input really is quantized
        residual = inputs.astype(np.float64) - recon.astype(np.float64)
        mse = (residual**2 if kind == "mse" else np.abs(residual)).mean(axis=1)
        if not quantized:
            np.testing.assert_allclose(score, mse, rtol=2e-6)
            continue
        fmt = config.quantization.score
        expected = _quantize_unsigned(mse, fmt.bits, fmt.integer)
        lsb = 2.0 ** (fmt.integer - fmt.bits)
        # Keras sums in float32; only where that rounding crosses a score step may it differ, by one step
        assert np.mean(score == expected) > 0.99
        assert np.max(np.abs(score - expected)) <= lsb


def test_quantized_values_are_binned_on_their_grid_and_a_1_wide_latent_is_drawn(tmp_path):
    """Histograms of quantized values: no empty bin between filled ones (no comb), whatever rarer values sit between
    the grid points most values are on; a 1-wide latent is drawn as one histogram per class, its ends included."""
    from PIL import Image

    from l1ad.training.plots import latent_space, value_bins

    rng = np.random.default_rng(0)
    bulk = 0.125 + 0.5 * np.round(rng.normal(0, 4, 8000))  # most values on a grid of 0.5 ...
    values = np.concatenate([bulk, 0.125 * np.round(rng.normal(0, 16, 2000))])  # ... some on a grid of 0.125
    edges = value_bins(values, *np.percentile(values, [0.5, 99.5]))
    counts, _ = np.histogram(values, edges)
    filled = np.flatnonzero(counts)
    assert np.all(counts[filled[0]:filled[-1] + 1] > 0) and np.allclose(np.diff(edges), np.diff(edges)[0])
    assert np.isclose(np.diff(edges)[0] % 0.5, 0)
    latent = np.concatenate([np.full(300, -16.0), 0.25 * np.round(rng.normal(0, 8, 700))])[:, None]
    labels = np.array(["q", "g", "t", "w", "z"] * 200)
    path = latent_space(latent, labels, tmp_path / "latent.png", "a 1-wide latent")
    with Image.open(path) as image:
        colors = {c for _, c in image.convert("RGB").getcolors(1 << 20)}
    assert len(colors) > 50  # lines of five colours drawn, not an empty frame


def test_thresholds_keep_background_efficiency_at_most_eps():
    rng = np.random.default_rng(1)
    background = np.round(rng.exponential(1.0, 20000), 2)  # many ties, like fixed-point scores
    signal = rng.exponential(3.0, 5000)
    for eps in (1e-2, 1e-3):
        cut = threshold_at(background, eps)
        assert np.mean(background > cut) <= eps
        assert np.mean(background >= cut) > eps  # and no lower threshold would do
    labels = np.array(["q"] * 20000 + ["t"] * 5000)
    metrics = anomaly_metrics(np.concatenate([background, signal]), labels)
    from sklearn.metrics import roc_auc_score

    assert metrics["signals"]["t"]["auc"] == pytest.approx(
        roc_auc_score(np.r_[np.zeros(20000), np.ones(5000)], np.r_[background, signal]))
    at = metrics["signals"]["t"]["at_background_efficiency"]["1e-03"]
    assert at["signal_efficiency"] == pytest.approx(np.mean(signal > at["threshold"]))


# --- runs: determinism, resume, evaluation ----------------------------------------------------------

@pytest.fixture(scope="session")
def finished_run(data_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "a"
    return train(load_config(overrides=TINY), data_file, out, progress=False)  # with its figures


@ON_FINISHED_RUN
def test_run_folder_is_self_contained(finished_run):
    for name in ("config.yaml", "scaler.json", "float_model.h5", "qkeras_model.h5", "history.json",
                 "metrics.json", "data.json", "status.json", "plots/roc.png", "plots/latent_qkeras.png",
                 "plots/residuals_float.png", "plots/scores_qkeras.png", "plots/loss.png"):
        assert (finished_run / name).exists(), name
    assert not (finished_run / "checkpoints").exists()
    metrics = train_module.read_json(finished_run / "metrics.json")
    for kind in ("float", "qkeras"):
        for signal in ("t", "w", "z"):
            entry = metrics[kind]["signals"][signal]
            assert 0 <= entry["auc"] <= 1
            assert set(entry["at_background_efficiency"]) <= {"1e-02", "1e-03"}
            low, high = entry["auc_interval"]
            assert low <= entry["auc"] <= high and high - low < 0.5


@ON_FINISHED_RUN
def test_training_is_bit_identical_for_the_same_seed(finished_run, data_file, tmp_path):
    again = train(load_config(overrides=TINY), data_file, tmp_path / "b", progress=False, figures=False)
    for kind in ("float", "qkeras"):
        assert _same_weights(finished_run / f"{kind}_model.h5", again / f"{kind}_model.h5")
    assert (finished_run / "metrics.json").read_text() == (again / "metrics.json").read_text()
    assert not (again / "plots").exists()  # figures=False: the same run without its figures
    other = train(load_config(overrides={**TINY, "seed": 99}), data_file, tmp_path / "c", progress=False, figures=False)
    assert not _same_weights(finished_run / "qkeras_model.h5", other / "qkeras_model.h5")


@ON_FINISHED_RUN
def test_interrupted_run_resumes_to_the_same_result(finished_run, data_file, tmp_path, monkeypatch):
    def interrupt(kind, epoch):
        if kind.startswith("qkeras") and epoch == 0:
            raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "_epoch_done", interrupt)
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        train(load_config(overrides=TINY), data_file, out, progress=False, figures=False)
    with pytest.raises(RunError, match="is training"):
        require_complete(out)  # an interrupted run never passes for a finished one
    assert not (out / "qkeras_model.h5").exists() and not (out / "metrics.json").exists()
    with pytest.raises(RunError, match="--resume"):
        train(load_config(overrides=TINY), data_file, out, progress=False, figures=False)
    with pytest.raises(RunError, match="another config"):
        train(load_config(overrides={**TINY, "seed": 5}), data_file, out, resume=True, progress=False, figures=False)
    monkeypatch.setattr(train_module, "_epoch_done", lambda kind, epoch: None)
    train(load_config(overrides=TINY), data_file, out, resume=True, progress=False, figures=False)
    require_complete(out)
    for kind in ("float", "qkeras"):
        assert _same_weights(finished_run / f"{kind}_model.h5", out / f"{kind}_model.h5")


@ON_FINISHED_RUN
def test_finished_run_is_not_overwritten_without_restart(finished_run, data_file):
    with pytest.raises(RunError, match="--restart"):
        train(load_config(overrides=TINY), data_file, finished_run, progress=False, figures=False)


@ON_FINISHED_RUN
def test_evaluate_on_other_data(finished_run, tmp_path):
    other = write_jets(make_jets(100, seed=9), tmp_path / "other.parquet", {})
    result = CliRunner().invoke(app, ["evaluate", str(finished_run), "--data", str(other), "--all-jets"])
    assert result.exit_code == 0, result.output
    metrics = train_module.read_json(finished_run / "evaluations" / "other-all" / "metrics.json")
    assert metrics["qkeras"]["n_background"] == 200 and metrics["qkeras"]["signals"]["t"]["n"] == 100


# --- pruning and variants ----------------------------------------------------------------------------

def test_pruning_reaches_target_sparsity(data_file, tmp_path):
    config = load_config(overrides={**TINY, "training": {**TINY["training"], "epochs": 4},
                                    "pruning": {"enabled": True, "target_sparsity": 0.5, "begin_epoch": 0,
                                                "end_epoch": 2}})
    run = train(config, data_file, tmp_path / "pruned", progress=False, figures=False)
    for kind in ("float", "qkeras"):
        model = models.load(run / f"{kind}_model.h5")
        assert not any("prune" in layer.name for layer in model.layers)
        for name in ("enc_1", "dec_1", "output"):
            kernel = model.get_layer(name).get_weights()[0]
            assert np.mean(kernel == 0) >= 0.45, (kind, name)


@ON_FINISHED_RUN
@pytest.mark.parametrize("variant", ["denoising", "sparse", "contractive"])
def test_variants_train_differently(finished_run, data_file, tmp_path, variant):
    config = load_config(overrides={**TINY, "training": {**TINY["training"], "variant": variant, "noise_std": 0.5,
                                                         "latent_l1": 0.1}})
    run = train(config, data_file, tmp_path / variant, progress=False, figures=False)
    assert not _same_weights(finished_run / "qkeras_model.h5", run / "qkeras_model.h5")


@pytest.mark.parametrize("quantized", [False, True])
def test_contractive_penalty_is_the_encoders_jacobian_and_stays_off_the_chip(quantized):
    """The loss of the contractive variant is the reconstruction error plus weight x the squared Frobenius norm of
    d(latent)/d(input) per jet (over the 16 features), computed here independently with a GradientTape; the scoring
    model, which is converted, has no part of it."""
    import tensorflow as tf

    config = load_config(overrides={**TINY, "training": {**TINY["training"], "variant": "contractive",
                                                         "contractive_weight": 3.0}})
    models.set_seed(0)
    training, scoring = models.build(config, quantized=quantized)
    training.compile("adam", loss="mse")
    x = np.random.default_rng(0).normal(0, 1, (64, 16)).astype(np.float32)
    y = np.random.default_rng(1).normal(0, 1, (64, 16)).astype(np.float32)
    latent = tf.keras.Model(training.inputs, training.get_layer("latent_q" if quantized else "latent").output)
    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        z = latent(inputs)
    jacobian = tape.batch_jacobian(z, inputs).numpy()
    expected = np.mean((training.predict(x, verbose=0) - y) ** 2) + 3.0 * np.mean(np.sum(jacobian**2, axis=(1, 2))) / 16
    assert np.sum(jacobian**2) > 0
    np.testing.assert_allclose(training.evaluate(x, y, verbose=0, batch_size=64), expected, rtol=1e-4)
    assert "encoder_jacobian" not in [layer.name for layer in scoring.layers]


def test_vae_trains_and_scores_with_its_encoder_only(data_file, tmp_path):
    config = load_config(overrides={**TINY, "model": {**TINY["model"], "kind": "vae"}, "score": {"kind": "mu2"}})
    run = train(config, data_file, tmp_path / "vae", progress=False, figures=False)
    model = models.load(run / "qkeras_model.h5")
    assert [layer.name for layer in model.layers if "dec" in layer.name] == []  # no decoder on the scoring model
    x = np.random.default_rng(0).normal(0, 1, (50, 16)).astype(np.float32)
    mu = models.latent(model, x).astype(np.float64)
    score, reconstruction = models.scores(model, x)
    assert reconstruction is None
    score_type = config.quantization.score
    lsb = 2.0 ** -(score_type.bits - score_type.integer)
    np.testing.assert_allclose(score, np.clip((mu**2).sum(axis=1), 0, 2.0**score_type.integer - lsb), atol=lsb / 2)
    # the KL term, measured off chip beside mu^2: the same means as the chip's, the log-variances of the training
    moments = models.load(run / "qkeras_moments.h5")
    means, logvar = moments.predict(x, verbose=0)
    np.testing.assert_array_equal(means, models.latent(model, x))
    kl = models.kl_scores(moments, x)
    assert np.all(kl >= -1e-9) and not np.allclose(kl, 0.5 * (mu**2).sum(axis=1))  # the variances count
    metrics = train_module.read_json(run / "metrics.json")
    assert set(metrics["kl"]) == {"float", "qkeras"} and "off chip" in metrics["kl"]["qkeras"]["source"]
    assert metrics["kl"]["qkeras"]["signals"].keys() == metrics["qkeras"]["signals"].keys()
    for quantized in (False, True):  # the moments of a training model whose layers are wrapped for pruning
        pruned = load_config(overrides={**TINY, "model": {**TINY["model"], "kind": "vae"}, "score": {"kind": "mu2"},
                                        "pruning": {"enabled": True, "begin_epoch": 0, "end_epoch": 1}})
        training, _ = models.build(pruned, quantized=quantized, pruned_steps_per_epoch=4)
        assert [t.shape[-1] for t in models.vae_moments(training).outputs] == [2, 2]


def test_student_learns_the_float_teachers_log_score_and_alone_goes_on_chip(data_file, tmp_path):
    student = {"kind": "student", "student": [6]}
    config = load_config(overrides={**TINY, "model": {**TINY["model"], **student}, "score": {"kind": "student"},
                                    "quantization": {"score": {"bits": 12, "integer": 4}},
                                    "training": {**TINY["training"], "epochs": 30, "batch_size": 32}})
    run = train(config, data_file, tmp_path / "student", progress=False, figures=False)
    teacher, model = models.load(run / "float_model.h5"), models.load(run / "qkeras_model.h5")
    assert [layer.name for layer in teacher.layers if layer.name == "latent"] == ["latent"]  # an autoencoder
    assert [layer.name for layer in model.layers if "dense" in type(layer).__name__.lower()] == ["student_1",
                                                                                                  "log_score"]
    jets = load_jets(data_file)
    x = Scaler.load(run / "scaler.json").transform(jets[jets[LABEL].isin(BACKGROUND)])  # 400 background jets
    target = models.teacher_log_scores(teacher, x)[:, 0]
    np.testing.assert_allclose(target, np.log(models.scores(teacher, x)[0]), rtol=1e-5)
    score, reconstruction = models.scores(model, x)
    assert reconstruction is None and (score < 0).any()  # a log-score, on the score's signed type
    assert np.corrcoef(score, target)[0, 1] > 0.4  # it learned the teacher's ranking of jets (0.62 when written)


def test_inverse_variance_weights_are_recorded_and_used(data_file, tmp_path):
    config = load_config(overrides={**TINY, "score": {"feature_weights": "inverse_variance"}})
    run = train(config, data_file, tmp_path / "weighted", progress=False, figures=False)
    weights = np.array(train_module.read_json(run / "history.json")["qkeras"]["score_weights"])
    assert weights.shape == (16,) and abs(weights.sum() - 1) < 1e-9 and weights.std() > 0
    kernel = models.load(run / "qkeras_model.h5").get_layer("mean").get_weights()[0][:, 0]
    np.testing.assert_allclose(kernel, weights, rtol=1e-6)


@pytest.mark.parametrize("transform", ["log", "power"])
def test_input_transforms_round_trip_through_the_scaler_file(transform, data_file, tmp_path):
    from l1ad.training.datasets import Scaler, split
    from l1ad.training.io import load_jets

    parts = split(load_jets(data_file), seed=1)
    scaler = Scaler.fit(parts.train, transform)
    x = scaler.transform(parts.train)
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(x.std(axis=0), 1, atol=1e-4)
    scaler.save(tmp_path / "scaler.json")
    again = Scaler.load(tmp_path / "scaler.json")
    np.testing.assert_array_equal(again.transform(parts.test), scaler.transform(parts.test))
    assert again.kind == transform


def test_latent_size_zero_scores_the_distance_from_the_core(data_file, tmp_path):
    """No network: the score is the mean square of the core-whitened input, nothing is trained."""
    config = load_config(overrides={"model": {"encoder": [], "latent": 0, "decoder": []}, "score": {"residual": None},
                                    "training": {"epochs": 1}, "baselines": {"enabled": False, "gmm_components": 1}})
    run = train(config, data_file, tmp_path / "core", progress=False, figures=False)
    assert train_module.read_json(run / "history.json")["qkeras"]["epochs_run"] == 0
    from l1ad.runs import Run

    x = Run(run).test_events().x[0].astype(np.float64)
    score, reconstruction = models.scores(models.load(run / "float_model.h5"), x)
    assert reconstruction is None
    np.testing.assert_allclose(score, (x**2).mean(axis=1), rtol=1e-5)


# --- seeds, schedule, the distance baseline -----------------------------------------------------------

def test_a_failed_training_is_named_and_left_out_of_the_seed_spread():
    """A seed whose background validation loss is far above the best (a collapsed training) is named and kept out of
    the mean and spread that settings are compared by; its figures stay in the per-seed values."""
    from l1ad.training.train import failed_seeds, seed_spread

    assert failed_seeds({"1": 25.5, "2": 27.9, "3": 61.0, "4": None}) == [3]
    assert failed_seeds({"1": 25.5, "2": 26.0}) == []
    rng = np.random.default_rng(0)
    labels = np.array(["q"] * 3000 + ["g"] * 3000 + ["t"] * 500 + ["w"] * 500 + ["z"] * 500)
    signal = ~np.isin(labels, BACKGROUND)
    scores = {seed: rng.normal(0, 1, len(labels)) + shift * signal for seed, shift in ((1, 1.0), (2, 1.2), (3, 0.0))}
    history = {"qkeras_seeds": [{"seed": 1, "best_val_loss": 25.5}, {"seed": 2, "best_val_loss": 26.0},
                                {"seed": 3, "best_val_loss": 61.0}], "qkeras": {"seed": 1}}
    spread = seed_spread(scores, labels, history, "test jets")
    assert spread["failed"] == [3]
    auc = spread["signals"]["w"]["auc"]
    assert len(auc["values"]) == 3 and auc["values"][2] < 0.55 < min(auc["values"][:2])  # the collapsed seed's
    assert auc["mean"] == pytest.approx(np.mean(auc["values"][:2])) and auc["min"] == min(auc["values"][:2])
    history["qkeras_seeds"][1]["best_val_loss"] = 80.0  # one converged seed: every seed counts, still named
    spread = seed_spread(scores, labels, history, "test jets")
    assert spread["failed"] == [2, 3] and spread["signals"]["w"]["auc"]["mean"] == pytest.approx(np.mean(auc["values"]))


def test_several_seeds_keep_the_lowest_validation_loss_and_report_their_spread(data_file, tmp_path):
    """Each seed trains on its own; the kept model is the one with the lowest background validation loss, and the
    spread over the seeds is recorded from each seed's own scores (the kept one's are the run's QKeras figures)."""
    config = load_config(overrides={**TINY, "training": {**TINY["training"], "seeds": 3},
                                    "baselines": {"enabled": True, "gmm_components": 2}})
    run = train(config, data_file, tmp_path / "seeds", progress=False, figures=False)
    history = train_module.read_json(run / "history.json")
    losses = {h["seed"]: h["best_val_loss"] for h in history["qkeras_seeds"]}
    assert sorted(losses) == [config.seed, config.seed + 1, config.seed + 2] and len(set(losses.values())) == 3
    assert history["qkeras"]["seed"] == min(losses, key=losses.get)
    metrics = train_module.read_json(run / "metrics.json")
    spread = metrics["seeds"]
    assert spread["kept_seed"] == history["qkeras"]["seed"] and spread["seeds"] == sorted(losses)
    kept = spread["seeds"].index(spread["kept_seed"])
    for signal in ("t", "w", "z"):
        auc = spread["signals"][signal]["auc"]
        assert auc["values"][kept] == metrics["qkeras"]["signals"][signal]["auc"]
        assert auc["min"] <= auc["mean"] <= auc["max"] and auc["std"] == pytest.approx(np.std(auc["values"], ddof=1))
    # the same seeds on the selection half (what a choice between settings is made on): the kept seed's figures
    # there are its model's on the selection events, not the report half's
    chosen = metrics["seeds_selection"]
    assert chosen["seeds"] == spread["seeds"] and "selection half" in chosen["source"]
    events = Run(run).selection_events()
    kept_scores = models.scores(models.load(run / "qkeras_model.h5"), events.x[0])[0]
    for signal, figures in anomaly_metrics(kept_scores, events.labels)["signals"].items():
        assert chosen["signals"][signal]["auc"]["values"][kept] == pytest.approx(figures["auc"], abs=1e-12)
        assert chosen["signals"][signal]["auc"]["values"] != spread["signals"][signal]["auc"]["values"]
    # the zero-parameter baseline: the squared distance of the quantized input from the origin
    distance = metrics["baselines"]["distance"]
    assert "no network" in distance["model"] and list(metrics["baselines"]) == ["distance", "density", "supervised"]
    model = models.load(run / "distance_model.h5")
    assert not [layer for layer in model.layers if layer.trainable and layer.get_weights()]
    x = np.random.default_rng(0).normal(0, 3, (200, 16)).astype(np.float32)
    fmt = load_config().quantization.input  # the default input type: signed, round half to even, saturating
    lsb = 2.0 ** (fmt.integer + 1 - fmt.bits)
    x_q = np.clip(np.round(x / lsb) * lsb, -(2.0**fmt.integer), 2.0**fmt.integer - lsb)
    np.testing.assert_allclose(models.scores(model, x)[0], _quantize_unsigned((x_q**2).mean(axis=1), 16, 12))


def test_cosine_schedule_decays_to_its_minimum():
    config = load_config(overrides={"training": {"schedule": "cosine", "learning_rate": 0.01,
                                                 "min_learning_rate": 0.001, "epochs": 10},
                                     "pruning": {"enabled": False}})
    rate = models.learning_rate(config, steps_per_epoch=5)
    assert float(rate(0)) == pytest.approx(0.01) and float(rate(50)) == pytest.approx(0.001)
    assert 0.001 < float(rate(25)) < 0.01
    constant = load_config(overrides={"training": {"schedule": "constant"}})
    assert models.learning_rate(constant, 5) == constant.training.learning_rate

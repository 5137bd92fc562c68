"""The float and the QKeras models, built from one config, with the anomaly score inside.

Autoencoder (``model.kind: ae``), scoring model features -> [score, reconstruction], from standard layers
only so hls4ml converts it: Subtract (input - reconstruction), optionally a quantizer on the residual,
Multiply (squares) and a frozen Dense(1) whose weights w_i are 1/16 (the mean) or per-feature weights
(``score.feature_weights``), quantized to ``score.weights``. Variational autoencoder (``model.kind: vae``):
the scoring model is the encoder alone, features -> [score] with score = sum of the squared latent
means (the CMS AXOL1TL v1-v4 choice); the decoder and the sampling exist only for training.
Distilled student (``model.kind: student``, as CMS CICADA does it): the float model is the autoencoder (the
teacher); the QKeras model is a small network, features -> [score], that regresses the log of the teacher's score
on background jets, so neither reconstruction nor squares go on the chip.
Latent size 0 (``model.latent: 0``, no hidden layers): the reconstruction is the origin, so the score is
sum_i w_i x_i^2 of the transformed input: its squared distance from the background core with the core
transforms (data.transform: core), with nothing to train.

The quantized model quantizes the input right away (the firmware's input type) and the score with an
unsigned quantizer, so the score has a defined fixed-point type.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow import keras

from .config import Config, QuantizerBits
from .features import FEATURES

N_FEATURES = len(FEATURES)


def _signed(fmt: QuantizerBits):
    from qkeras import quantized_bits

    return quantized_bits(fmt.bits, fmt.integer, keep_negative=True, alpha=1)


def _hidden_activation(config: Config, name: str, quantized: bool):
    """relu, or tanh: hard tanh (clip to [-1, 1)) in QKeras, which hls4ml reproduces bit for bit.

    (A leaky relu is not offered: hls4ml 1.3's bit-exact flow cannot derive its types.)
    """
    from qkeras import QActivation, quantized_relu, quantized_tanh

    if quantized:
        fmt = config.bits(name, "activation")
        quantizer = (quantized_relu(fmt.bits, fmt.integer) if config.model.activation == "relu"
                     else quantized_tanh(fmt.bits, use_real_tanh=False))
        return QActivation(quantizer, name=f"{name}_act")
    return keras.layers.Activation(config.model.activation, name=f"{name}_act")


def _dense(config: Config, name: str, width: int, quantized: bool, **kwargs):
    if not quantized:
        return keras.layers.Dense(width, name=name, **kwargs)
    from qkeras import QDense

    return QDense(width, name=name, kernel_quantizer=_signed(config.bits(name, "weights")),
                  bias_quantizer=_signed(config.bits(name, "biases")), **kwargs)


def _prunable(config: Config, layer, steps_per_epoch: int | None):
    if steps_per_epoch is None or not config.pruning.enabled:
        return layer
    import tensorflow_model_optimization as tfmot

    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=config.pruning.target_sparsity,
        begin_step=config.pruning.begin_epoch * steps_per_epoch, end_step=config.pruning.end_epoch * steps_per_epoch,
        frequency=steps_per_epoch)  # masks update once per epoch, the last time at end_epoch
    return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)


def _score_quantizer(fmt: QuantizerBits):
    from qkeras import quantized_relu

    return quantized_relu(fmt.bits, fmt.integer)


def squared_error_head(x, reconstruction, weights: np.ndarray, quantized: bool, score_fmt: QuantizerBits | None,
                       weights_fmt: QuantizerBits | None, residual_fmt: QuantizerBits | None = None,
                       absolute: bool = False):
    """score = sum_i w_i (x_i - reconstruction_i)^2, layers residual[_q], residual_sq, mean, score; with ``absolute``
    sum_i w_i |x_i - reconstruction_i| (layers residual[_q], residual_neg[_q], residual_abs, mean, score).

    ``reconstruction`` None: a constant reconstruction at the origin (latent size 0), so the residual is x.
    The weights are frozen constants; in the quantized model they are rounded to ``weights_fmt``, which
    both QKeras and the firmware use, so the score stays bit-exact whatever the weights (1/N for a
    number N of terms that is not a power of two is such a rounded constant).
    """
    residual = x if reconstruction is None else keras.layers.Subtract(name="residual")([x, reconstruction])
    if quantized and residual_fmt is not None:
        from qkeras import QActivation

        residual = QActivation(_signed(residual_fmt), name="residual_q")(residual)
    if absolute:  # |r| = max(r, -r), the negative computed as its own difference (and rounded like r): no squares
        negative = keras.layers.Subtract(name="residual_neg")([reconstruction, x])
        if quantized and residual_fmt is not None:
            negative = QActivation(_signed(residual_fmt), name="residual_neg_q")(negative)
        squared = keras.layers.Maximum(name="residual_abs")([residual, negative])
    else:
        squared = keras.layers.Multiply(name="residual_sq")([residual, residual])
    args = dict(use_bias=False, trainable=False, kernel_initializer="zeros")
    if quantized:
        from qkeras import QActivation, QDense

        mean = QDense(1, name="mean", kernel_quantizer=_signed(weights_fmt), **args)
    else:
        mean = keras.layers.Dense(1, name="mean", **args)
    score = mean(squared)
    mean.set_weights([np.asarray(weights, dtype=np.float32).reshape(-1, 1)])  # frozen constants
    if quantized:
        return QActivation(_score_quantizer(score_fmt), name="score")(score)
    return keras.layers.Activation("linear", name="score")(score)


def squared_sum_head(latent, quantized: bool, score_fmt: QuantizerBits | None):
    """score = sum_k mu_k^2 of a VAE's latent means: layers mu_sq, mu_sum, score."""
    squared = keras.layers.Multiply(name="mu_sq")([latent, latent])
    args = dict(use_bias=False, trainable=False, kernel_initializer=keras.initializers.Ones())
    if quantized:
        from qkeras import QActivation, QDense, quantized_bits

        score = QDense(1, name="mu_sum", kernel_quantizer=quantized_bits(2, 1, alpha=1), **args)(squared)
        return QActivation(_score_quantizer(score_fmt), name="score")(score)
    score = keras.layers.Dense(1, name="mu_sum", **args)(squared)
    return keras.layers.Activation("linear", name="score")(score)


class _Sample(keras.layers.Layer):
    """z = mu + eps * exp(logvar / 2), with the KL term added to the loss. eps is an input (drawn from the
    run's seed and the epoch, like the denoising noise), so training and resuming stay deterministic."""

    def __init__(self, beta: float, **kwargs):
        super().__init__(**kwargs)
        self.beta = beta

    def call(self, inputs):
        mu, logvar, eps = inputs
        kl = -0.5 * tf.reduce_sum(1.0 + logvar - tf.square(mu) - tf.exp(logvar), axis=1)
        self.add_loss(self.beta * tf.reduce_mean(kl) / N_FEATURES)
        return mu + eps * tf.exp(0.5 * logvar)


class _EncoderJacobian(keras.layers.Layer):
    """Per jet, the squared Frobenius norm of d(latent)/d(input): the contractive autoencoder's penalty. On the
    training model's loss only, never on the scoring model (nothing of it reaches the chip). Keras first calls a
    functional model's layers on unconnected placeholders, where there is no gradient (zero then); in training the
    graph connects them."""

    def call(self, inputs):
        x, latent = inputs
        norm = tf.zeros_like(x[:, 0])
        for k in range(latent.shape[-1]):  # a jet's latent depends on its own input only: summed gradients are per jet
            grad = tf.gradients(latent[:, k], x)[0]
            if grad is not None:
                norm += tf.reduce_sum(tf.square(grad), axis=1)
        return norm


def build(config: Config, quantized: bool, pruned_steps_per_epoch: int | None = None) -> tuple[keras.Model, keras.Model]:
    """Return (training model, scoring model), sharing their layers.

    ``pruned_steps_per_epoch``: the dense layers are wrapped for magnitude pruning (``config.pruning``) on that many
    steps per epoch, as a pruned training needs; without it (models to evaluate or convert) they are plain layers.

    Training model: features -> reconstruction (a VAE also takes the sampling noise eps as second input).
    Scoring model: features -> [score, reconstruction] (autoencoder) or [score] (VAE encoder).
    Weight initialisation follows TensorFlow's global seed (set it first).
    """
    from qkeras import QActivation

    m = config.model
    features = keras.Input((N_FEATURES,), name="features")
    x = QActivation(_signed(config.quantization.input), name="input_q")(features) if quantized else features
    kind = ("quantized_" if quantized else "float_") + m.kind
    score_fmt = config.quantization.score if quantized else None
    weights = np.full(N_FEATURES, 1.0 / N_FEATURES)
    if m.latent == 0:  # nothing to learn: the reconstruction is the origin, the background core (core transforms)
        score = squared_error_head(x, None, weights, quantized, score_fmt, config.score.weights, config.score.residual)
        return None, keras.Model(features, [score], name=kind + "0_scoring")
    if m.kind == "student" and quantized:
        scoring = _student(config, features, x, pruned_steps_per_epoch)
        return scoring, scoring
    h = x
    names = m.autoencoder_layer_names()
    widths = m.encoder + [m.latent] + m.decoder + [N_FEATURES]
    latent = encoded = None  # set at the latent layer: the means and what they are computed from
    for name, width in zip(names, widths):
        if name == "dec_1" or (name == "output" and not m.decoder):
            if m.kind == "vae":  # the decoder starts from a sample around the latent means
                logvar = keras.layers.Dense(m.latent, name="logvar")(encoded)
                eps = keras.Input((m.latent,), name="eps")
                h = _Sample(config.training.vae_beta, name="sample")([latent, logvar, eps])
        extra = {}
        if name == "latent" and config.training.variant == "sparse":
            extra["activity_regularizer"] = keras.regularizers.L1(config.training.latent_l1)
        if name == "latent":
            encoded = h
        h = _prunable(config, _dense(config, name, width, quantized, **extra), pruned_steps_per_epoch)(h)
        if name in ("latent", "output"):  # linear layers; quantized model rounds them to their type
            h = QActivation(_signed(config.bits(name, "activation")), name=f"{name}_q")(h) if quantized else h
        else:
            h = _hidden_activation(config, name, quantized)(h)
        if name == "latent":
            latent = h
    reconstruction = h
    if m.kind == "vae":
        score = squared_sum_head(latent, quantized, score_fmt)
        training = keras.Model([features, eps], reconstruction, name=kind)
        scoring = keras.Model(features, [score], name=kind + "_scoring")
        return training, scoring
    score = squared_error_head(x, reconstruction, weights, quantized, score_fmt, config.score.weights,
                               config.score.residual, absolute=config.score.kind == "mae")
    training = keras.Model(features, reconstruction, name=kind)
    if config.training.variant == "contractive":
        jacobian = _EncoderJacobian(name="encoder_jacobian")([x, latent])
        training.add_loss(config.training.contractive_weight * tf.reduce_mean(jacobian) / N_FEATURES)
    scoring = keras.Model(features, [score, reconstruction], name=kind + "_scoring")
    return training, scoring


def _student(config: Config, features, x, pruned_steps_per_epoch: int | None) -> keras.Model:
    """The student: hidden layers (the config's activation), then a linear 1-wide layer ``log_score`` and the score
    quantizer (signed: a log-score). Its training model is its scoring model."""
    from qkeras import QActivation

    h = x
    names = config.model.layer_names()
    for name, width in zip(names, config.model.student):
        h = _prunable(config, _dense(config, name, width, True), pruned_steps_per_epoch)(h)
        h = _hidden_activation(config, name, True)(h)
    h = _prunable(config, _dense(config, names[-1], 1, True), pruned_steps_per_epoch)(h)
    score = QActivation(_signed(config.quantization.score), name="score")(h)
    return keras.Model(features, [score], name="quantized_student")


def teacher_log_scores(teacher: keras.Model, x: np.ndarray) -> np.ndarray:
    """What a student learns: the log of the float teacher's score, per jet, as a column (Keras float32 predict)."""
    score = scores(teacher, x)[0].astype(np.float64)
    return np.log(np.maximum(score, 1e-12)).astype(np.float32)[:, None]


def vae_moments(training: keras.Model) -> keras.Model:
    """A VAE's latent means and log-variances (features -> [mu, logvar]) from its training model: the log-variances
    are computed only there (the chip scores mu^2 and needs neither them nor the decoder)."""
    mu, logvar, _ = training.get_layer("sample").input  # whatever wraps the layers (pruning), the sampler's inputs
    return keras.Model(training.inputs[0], [mu, logvar], name="vae_moments")


def kl_scores(moments: keras.Model, x: np.ndarray) -> np.ndarray:
    """Each jet's KL divergence of the VAE's posterior N(mu, exp(logvar)) from N(0, 1), summed over the latent
    dimensions (Keras float32 predict, then float64)."""
    mu, logvar = (np.asarray(a, dtype=np.float64) for a in moments.predict(x, batch_size=4096, verbose=0))
    return -0.5 * np.sum(1.0 + logvar - mu**2 - np.exp(logvar), axis=1)


def quantized_input(config: Config, x: np.ndarray) -> np.ndarray:
    """``x`` through the quantized model's input quantizer (round half to even, then saturate, as QKeras does):
    the values the chip receives."""
    fmt = config.quantization.input
    lsb = 2.0 ** (fmt.integer + 1 - fmt.bits)
    values = np.round(np.asarray(x, dtype=np.float64) / lsb) * lsb
    return np.clip(values, -(2.0**fmt.integer), 2.0**fmt.integer - lsb).astype(np.float32)


def set_score_weights(scoring: keras.Model, weights: np.ndarray) -> None:
    """Put per-feature weights into the score's frozen mean layer (rounded to its quantizer when quantized)."""
    scoring.get_layer("mean").set_weights([np.asarray(weights, dtype=np.float32).reshape(-1, 1)])


def learning_rate(config: Config, steps_per_epoch: int = 1):
    """The learning rate, or (``schedule: cosine``) its decay over ``epochs`` epochs, a function of the optimizer's
    step count (which the checkpoints keep, so a resumed training continues on the same curve)."""
    t = config.training
    if t.schedule == "constant":
        return t.learning_rate
    return keras.optimizers.schedules.CosineDecay(t.learning_rate, t.epochs * steps_per_epoch,
                                                  alpha=t.min_learning_rate / t.learning_rate)


def optimizer(config: Config, steps_per_epoch: int = 1) -> keras.optimizers.Optimizer:
    cls = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    return cls[config.training.optimizer](learning_rate=learning_rate(config, steps_per_epoch))


def strip(model: keras.Model) -> keras.Model:
    """Remove pruning wrappers (keeps the pruned weights), for saving and conversion."""
    if not any("prune_low_magnitude" in layer.name for layer in model.layers):
        return model
    import tensorflow_model_optimization as tfmot
    from qkeras.utils import _add_supported_quantized_objects

    objects = {}
    _add_supported_quantized_objects(objects)
    with keras.utils.custom_object_scope(objects):
        return tfmot.sparsity.keras.strip_pruning(model)


def load(path) -> keras.Model:
    """Load a saved float or QKeras model."""
    from qkeras.utils import load_qmodel

    return load_qmodel(str(path), compile=False)


def as_input(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Flat rows (as l1ad and the firmware hold them) in the shape of the model's input, e.g. (19, 3, 1)."""
    return np.reshape(x, (len(x), *model.inputs[0].shape[1:]))


def scores(model: keras.Model, x: np.ndarray, batch_size: int = 8192) -> tuple[np.ndarray, np.ndarray | None]:
    """Score and reconstruction (None for a VAE encoder) from a scoring model (Keras float32 arithmetic)."""
    out = model.predict(as_input(model, x), batch_size=batch_size, verbose=0)
    out = out if isinstance(out, list) else [out]
    return out[0][:, 0], (out[1] if len(out) > 1 else None)


def latent(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Latent coordinates (after the latent quantizer in the quantized model; a VAE's latent means)."""
    name = "latent_q" if "latent_q" in [layer.name for layer in model.layers] else "latent"
    sub = keras.Model(model.input, model.get_layer(name).output)
    return sub.predict(x, batch_size=8192, verbose=0)


def set_seed(seed: int) -> None:
    """Make TensorFlow deterministic on CPU for this seed."""
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

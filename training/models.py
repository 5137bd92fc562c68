"""The float and the QKeras autoencoders, built from one config, with the anomaly score inside.

Scoring model: features -> [score, reconstruction], from standard layers only so hls4ml converts it:
Subtract (input - reconstruction), Multiply (squares) and a frozen Dense(1) whose weights are all 1/16
(the mean over the 16 features). The quantized model quantizes the input right away (the firmware's
input type) and the score with an unsigned quantizer, so the score has a defined fixed-point type.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow import keras  # noqa: E402

tf.get_logger().setLevel("ERROR")
# h5 is what hls4ml reads; QKeras quantizers are not Keras constraints; both warnings are expected
warnings.filterwarnings("ignore", message=".*HDF5 file via `model.save\\(\\)`.*")
warnings.filterwarnings("ignore", message=".*keras.constraints.serialize.*")
warnings.filterwarnings("ignore", message="The initializer .* is unseeded")  # rebuilt layers get saved weights

from .config import Config, Fixed  # noqa: E402
from .features import FEATURES  # noqa: E402

N_FEATURES = len(FEATURES)
MEAN_WEIGHT = 1.0 / N_FEATURES


def _signed(fmt: Fixed):
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


def _prunable(config: Config, layer, steps_per_epoch: int):
    if not config.pruning.enabled:
        return layer
    import tensorflow_model_optimization as tfmot

    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=config.pruning.target_sparsity,
        begin_step=config.pruning.begin_epoch * steps_per_epoch, end_step=config.pruning.end_epoch * steps_per_epoch,
        frequency=steps_per_epoch)  # masks update once per epoch, the last time at end_epoch
    return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)


def build(config: Config, quantized: bool, steps_per_epoch: int = 1) -> tuple[keras.Model, keras.Model]:
    """Return (training model: features -> reconstruction, scoring model: features -> [score, reconstruction]).

    Both share their layers. Weight initialisation follows TensorFlow's global seed (set it first).
    """
    from qkeras import QActivation, QDense, quantized_relu

    features = keras.Input((N_FEATURES,), name="features")
    x = QActivation(_signed(config.quantization.input), name="input_q")(features) if quantized else features
    h = x
    widths = config.model.encoder + [config.model.latent] + config.model.decoder + [N_FEATURES]
    for name, width in zip(config.model.layer_names(), widths):
        extra = {}
        if name == "latent" and config.training.variant == "sparse":
            extra["activity_regularizer"] = keras.regularizers.L1(config.training.latent_l1)
        h = _prunable(config, _dense(config, name, width, quantized, **extra), steps_per_epoch)(h)
        if name in ("latent", "output"):  # linear layers; quantized model rounds them to their type
            h = QActivation(_signed(config.bits(name, "activation")), name=f"{name}_q")(h) if quantized else h
        else:
            h = _hidden_activation(config, name, quantized)(h)
    reconstruction = h

    residual = keras.layers.Subtract(name="residual")([x, reconstruction])
    squared = keras.layers.Multiply(name="residual_sq")([residual, residual])
    mean_args = dict(use_bias=False, trainable=False, kernel_initializer=keras.initializers.Constant(MEAN_WEIGHT))
    if quantized:
        # 1/16 is exact in 8-bit weights with 7 fractional bits
        from qkeras import quantized_bits

        score = QDense(1, name="mean", kernel_quantizer=quantized_bits(8, 0, alpha=1), **mean_args)(squared)
        score = QActivation(quantized_relu(config.quantization.score.bits, config.quantization.score.integer),
                            name="score")(score)
    else:
        score = keras.layers.Dense(1, name="mean", **mean_args)(squared)
        score = keras.layers.Activation("linear", name="score")(score)
    training = keras.Model(features, reconstruction, name="quantized_ae" if quantized else "float_ae")
    scoring = keras.Model(features, [score, reconstruction], name=training.name + "_scoring")
    return training, scoring


def optimizer(config: Config) -> keras.optimizers.Optimizer:
    cls = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    return cls[config.training.optimizer](learning_rate=config.training.learning_rate)


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


def scores(model: keras.Model, x: np.ndarray, batch_size: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Score and reconstruction from a scoring model (Keras float32 arithmetic)."""
    score, reconstruction = model.predict(x, batch_size=batch_size, verbose=0)
    return score[:, 0], reconstruction


def latent(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Latent coordinates (after the latent quantizer in the quantized model)."""
    name = "latent_q" if "latent_q" in [layer.name for layer in model.layers] else "latent"
    sub = keras.Model(model.input, model.get_layer(name).output)
    return sub.predict(x, batch_size=8192, verbose=0)


def set_seed(seed: int) -> None:
    """Make TensorFlow deterministic on CPU for this seed."""
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

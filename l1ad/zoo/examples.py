"""QKeras models unlike l1ad's own, built the way their authors build them: for the tests, the bring-your-own-model
benchmark and the README. Weights are random (seeded); what matters is that the chain reproduces them exactly.

* ``axol1tl_like``: 57 inputs -> 29 -> a 10-wide embedding, reconstructed by 10-9-6-4-6-9-10; the score is the
  squared distance between embedding and reconstruction, from Subtract and Dot (as CMS AXOL1TL v5/v6);
* ``reconstruction_only``: 16 -> 8 (BatchNormalization) -> 3 -> 8 -> 16, outputs only the reconstruction;
* ``encoder_only``: 20 inputs, two encoder branches concatenated into 4 latent means, score = sum of squares.
"""

import numpy as np

from .weights import randomize


def _q(bits, integer, signed=True):
    from qkeras import quantized_bits, quantized_relu

    return quantized_bits(bits, integer, alpha=1) if signed else quantized_relu(bits, integer)


def _dense(units, name, bits=6):
    from qkeras import QDense

    return QDense(units, name=name, kernel_quantizer=_q(bits, 1), bias_quantizer=_q(bits, 1))


def _layer(h, units, dense, activation, bits=8, integer=3, signed=True):
    """QDense ``dense`` followed by its own QActivation ``activation`` (hls4ml's bit-exact flow wants them apart)."""
    from qkeras import QActivation

    return QActivation(_q(bits, integer, signed), name=activation)(_dense(units, dense)(h))


def _input(width, name, bits, integer):
    """A Keras input and the quantizer right after it (the type the FPGA receives)."""
    from qkeras import QActivation
    from tensorflow import keras

    x = keras.Input((width,), name=name)
    return x, QActivation(_q(bits, integer), name="input_q")(x)


def _randomize(model, seed):
    return randomize(model, seed, 0.5, trainable_only=True, batchnorm=False)


def axol1tl_like():
    """57 inputs -> 29 -> 10-wide embedding, reconstructed by 10-9-6-4-6-9-10; score = Dot(d, d), d = emb - rec."""
    from qkeras import QActivation
    from tensorflow import keras

    x, h = _input(57, "objects", 10, 5)
    emb = _layer(_layer(h, 29, "d1", "h1", signed=False), 10, "emb", "embedding")
    r = emb
    for i, width in enumerate([9, 6, 4, 6, 9]):
        r = _layer(r, width, f"ae{i}", f"r{i}", signed=False)
    rec = _layer(r, 10, "ae_out", "rec")
    diff = keras.layers.Subtract(name="diff")([emb, rec])
    dist = keras.layers.Dot(axes=1, name="distance")([diff, diff])
    score = QActivation(_q(16, 9, signed=False), name="score")(dist)
    return _randomize(keras.Model(x, [score, rec], name="axol1tl_like"), 1)


def reconstruction_only():
    """16 -> 8 (BatchNormalization) -> 3 (LeakyReLU(0.3)) -> 8 -> 16: outputs only the reconstruction; l1ad adds
    the score."""
    from qkeras import QActivation
    from tensorflow import keras

    x, h = _input(16, "features", 10, 4)
    bn = keras.layers.BatchNormalization(name="bn")
    h = QActivation(_q(8, 3, signed=False), name="a1")(bn(_dense(8, "e1")(h)))
    latent = keras.layers.LeakyReLU(alpha=0.3, name="leaky")(_layer(h, 3, "zd", "z"))
    h = _layer(latent, 8, "d1", "a2", signed=False)
    rec = _layer(h, 16, "out", "reconstruction", bits=10, integer=4)
    model = _randomize(keras.Model(x, rec, name="reconstruction_only"), 2)
    rng = np.random.default_rng(5)
    bn.set_weights([rng.uniform(0.5, 1.5, 8), rng.normal(0, 0.3, 8), rng.normal(0, 0.5, 8), rng.uniform(0.5, 2, 8)])
    return model


def encoder_only():
    """20 inputs, two encoder branches concatenated into 4 latent means; score = sum of their squares."""
    from qkeras import QActivation, QDense
    from tensorflow import keras

    x, h = _input(20, "inputs", 9, 4)
    h = _layer(h, 12, "e1", "h", signed=False)
    mu = keras.layers.Concatenate(name="mu")([_layer(h, 2, "ea", "mu_a"), _layer(h, 2, "eb", "mu_b")])
    sq = keras.layers.Multiply(name="mu_sq")([mu, mu])
    total = QDense(1, name="mu_sum", use_bias=False, trainable=False, kernel_initializer="ones",
                   kernel_quantizer=_q(2, 1))(sq)
    score = QActivation(_q(16, 8, signed=False), name="score")(total)
    return _randomize(keras.Model(x, score, name="encoder_only"), 3)


MODELS = {"axol1tl_like": axol1tl_like, "reconstruction_only": reconstruction_only, "encoder_only": encoder_only}

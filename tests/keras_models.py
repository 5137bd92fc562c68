"""Small hand-written Keras models that more than one test module uses."""

import numpy as np

from l1ad.zoo.weights import randomize


def activations_inside():
    """Activations as the hls4ml tutorial and AXOL1TL write them: QDense(..., activation=quantized_relu(6, 2)),
    activation='relu' in a QDense and in a float Dense, a ReLU layer and Activation('relu'); input x_q, output y."""
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    x = keras.Input((6,), name="x")
    h = QActivation(quantized_bits(8, 3, alpha=1), name="x_q")(x)
    h = QDense(5, kernel_quantizer=quantized_bits(6, 1, alpha=1), bias_quantizer=quantized_bits(6, 1, alpha=1),
               activation=quantized_relu(6, 2), name="d")(h)
    h = QDense(4, kernel_quantizer=quantized_bits(6, 1, alpha=1), activation="relu", name="e")(h)
    h = keras.layers.ReLU(name="r")(QDense(3, kernel_quantizer=quantized_bits(5, 1, alpha=1), name="g")(h))
    h = keras.layers.Activation("relu", name="a")(keras.layers.Dense(3, activation="relu", name="f")(h))
    model = keras.Model(x, QActivation(quantized_bits(10, 4, alpha=1), name="y")(h))
    rng = np.random.default_rng(6)  # seeded (Keras' initializers are not); the float Dense f: exact constants
    model.set_weights([np.round(rng.uniform(-1, 1, w.shape) * 8) / 8 for w in model.get_weights()])
    return model


def symmetric():
    """quantized_bits(symmetric=1) as CICADA v1 writes its quantizers (weights and activations saturate at -max, not
    -2^i); input x_q, output y."""
    from qkeras import QActivation, QDense, quantized_bits
    from tensorflow import keras

    sym = dict(alpha=1, symmetric=1)
    x = keras.Input((8,), name="x")
    h = QActivation(quantized_bits(6, 2, **sym), name="x_q")(x)
    h = QDense(6, kernel_quantizer=quantized_bits(4, 0, **sym), bias_quantizer=quantized_bits(4, 0, **sym),
               name="d")(h)
    h = QActivation(quantized_bits(5, 1, **sym), name="h_q")(h)
    h = QDense(1, kernel_quantizer=quantized_bits(6, 1, **sym), name="e")(h)
    model = keras.Model(x, QActivation(quantized_bits(8, 3, **sym), name="y")(h))
    model.set_weights([np.random.default_rng(4).uniform(-1.5, 1.5, w.shape) for w in model.get_weights()])
    return model


def public_forms(bn_on_input: bool = True):
    """The forms of the public models in one (l1ad.zoo.public has them model by model): a (4, 3) input without
    quantizer, Flatten, BatchNormalization on the raw input, a QDense kernel with alpha=None (QKeras makes it a
    power-of-two scale per output), QBatchNormalization, LeakyReLU(0.25), Dropout, QDense(activation=
    quantized_relu), symmetric quantizers; input x, output y. ``bn_on_input`` False: without the BN on the raw
    input, whose exact float constants make values wider than da4ml's 64-bit interpreter (Verilator is exact)."""
    from qkeras import QActivation, QBatchNormalization, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    x = keras.Input((4, 3), name="x")
    h = keras.layers.Flatten(name="flat")(x)
    h = keras.layers.BatchNormalization(name="bn_in")(h) if bn_on_input else h
    h = QDense(6, kernel_quantizer=quantized_bits(6, 1, alpha=None), bias_quantizer=quantized_bits(6, 1, alpha=1),
               name="d")(h)
    h = QBatchNormalization(name="qbn", gamma_quantizer=quantized_bits(8, 2, alpha=1),
                            beta_quantizer=quantized_bits(8, 3, alpha=1), mean_quantizer=None,
                            variance_quantizer=None)(h)
    h = keras.layers.LeakyReLU(alpha=0.25, name="leaky")(h)
    h = keras.layers.Dropout(0.3, name="drop")(QActivation(quantized_bits(8, 3, alpha=1, symmetric=1), name="h_q")(h))
    h = QDense(4, kernel_quantizer=quantized_bits(6, 1, alpha=1), activation=quantized_relu(8, 3), name="e")(h)
    model = keras.Model(x, QActivation(quantized_bits(12, 5, alpha=1), name="y")(QDense(1, name="out")(h)))
    return randomize(model, 8, 0.6)

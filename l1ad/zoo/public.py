"""The public anomaly-detection models users bring, rebuilt as their authors wrote them (layer for layer, widths,
quantizers, input shapes; sources in the README's table and in ``SOURCES``), with seeded random weights: the chain's
exactness does not depend on training. The bring-your-own-model benchmark takes each through ``l1ad import`` ->
convert -> validate -> rtl and writes the README's table of public models.

None of them has a quantizer after its input (the FPGA's input type is stated at import, default ap_fixed<16,6>),
and none computes its anomaly score on chip except AXOL1TL's: ``l1ad import --add-score`` adds the MSE.
"""

import numpy as np

from .weights import randomize

SOURCES = {
    "adc2021_dnn_ae": "mpp-hep/ADC2021-examplecode, Dense_AE.ipynb (quantized variant)",
    "adc2021_dnn_ae_float": "mpp-hep/ADC2021-examplecode, Dense_AE.ipynb (float, LeakyReLU(alpha=0.3))",
    "mlperf_tiny_ad08": "fastmachinelearning/hls4ml-finn-mlperftiny, AnomalyDetection/keras_model.py, ad08.yml",
    "axol1tl_v4": "cms-hls4ml/AXOL1TL, AXOL1TL_v4/NN (defines.h, parameters.h)",
    "axol1tl_v5": "cms-hls4ml/AXOL1TL, AXOL1TL_v5/NN/defines.h (types of each layer)",
    "cicada_v1": "Princeton-AD/cicada models.py CicadaV1 (QDenseBatchnorm) as deployed in cms-hls4ml/CICADA "
                 "CICADA_v1 (QDense + QBatchNormalization)",
    "cicada_v2": "Princeton-AD/cicada models.py CicadaV2 (QConv2D; QDenseBatchnorm as QDense + QBatchNormalization, "
                 "as deployed)",
    "econt_encoder": "rohanshenoy/Ecoder-emd, qDenseCNN.py, network 8x8_c8_S2_qK",
    "adc2021_cnn_ae": "mpp-hep/ADC2021-examplecode, Convolutional_AE.ipynb (float)",
    "adc2021_cnn_ae_q8": "mpp-hep/ADC2021-examplecode, Convolutional_AE.ipynb (quantized, 8 bits)",
    "hls4ml_tutorial_cnn": "fastmachinelearning/hls4ml-tutorial, part 6 (CNNs), without the final softmax",
    "hls4ml_tutorial": "fastmachinelearning/hls4ml-tutorial, part 4 (quantization)",
    "kd_student": "mpp-hep/knowledge-distillation, autoencoders/models.py, StudentModel",
}


def _randomize(model, seed: int, scale: float = 0.4):
    return randomize(model, seed, scale)


def adc2021_dnn_ae():
    """57 inputs (19 objects x pT, eta, phi), BatchNormalization on the raw input, QDense 32-16-3-16-32-57 with
    quantized_bits(8, 3, 0, alpha=1), BatchNormalization and quantized_relu(8, 3); no input quantizer, MSE off chip."""
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    q = quantized_bits(8, 3, 0, alpha=1)
    x = keras.Input((57,), name="input_1")
    h = keras.layers.BatchNormalization()(x)
    for units in (32, 16):
        h = QDense(units, kernel_quantizer=q, bias_quantizer=q)(h)
        h = keras.layers.BatchNormalization()(h)
        h = QActivation(quantized_relu(8, 3))(h)
    h = QDense(3, kernel_quantizer=q, bias_quantizer=q)(h)  # latent
    for units in (16, 32):
        h = QDense(units, kernel_quantizer=q, bias_quantizer=q)(h)
        h = keras.layers.BatchNormalization()(h)
        h = QActivation(quantized_relu(8, 3))(h)
    out = QDense(57, kernel_quantizer=q, bias_quantizer=q)(h)
    return _randomize(keras.Model(x, out, name="adc2021_dnn_ae"), 1)


def adc2021_dnn_ae_float():
    """The float form of :func:`adc2021_dnn_ae`: Dense 32-16-3-16-32-57, each hidden layer followed by
    BatchNormalization and LeakyReLU(alpha=0.3) (a slope that is not a power of two: rounded at import)."""
    from tensorflow import keras

    x = keras.Input((57,), name="input_1")
    h = keras.layers.BatchNormalization()(x)
    for units in (32, 16):
        h = keras.layers.LeakyReLU(alpha=0.3)(keras.layers.BatchNormalization()(keras.layers.Dense(units)(h)))
    h = keras.layers.Dense(3)(h)  # latent
    for units in (16, 32):
        h = keras.layers.LeakyReLU(alpha=0.3)(keras.layers.BatchNormalization()(keras.layers.Dense(units)(h)))
    out = keras.layers.Dense(57)(h)
    return _randomize(keras.Model(x, out, name="adc2021_dnn_ae_float"), 1)


def mlperf_tiny_ad08():
    """ToyADMOS autoencoder, ad08: 64 inputs, QDense 72-72-8-72-72, 64 outputs (input_dim 64, hidden_dim 72,
    latent_dim 8, depth 2), each hidden QDense followed by BatchNormalization and quantized_relu(6, 6) (relu bits 6,
    integer 6), 6-bit weights, no input quantizer."""
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    q = quantized_bits(6, 0, alpha=1)
    x = keras.Input((64,), name="input_1")
    h = x
    for units in (72, 72, 8, 72, 72):
        h = QDense(units, kernel_quantizer=q, bias_quantizer=q)(h)
        h = keras.layers.BatchNormalization()(h)
        h = QActivation(quantized_relu(6, 6))(h)
    out = QDense(64, kernel_quantizer=q, bias_quantizer=q)(h)
    return _randomize(keras.Model(x, out, name="mlperf_tiny_ad08"), 2)


def axol1tl_v4():
    """57-28-15-8 (latent means mu), activations inside QDense, alpha=None quantizers, score sum(mu^2) as
    ufixed<18,14>."""
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    q = quantized_bits(8, 2, alpha=None)
    x = keras.Input((57,), name="inputs")
    h = QDense(28, kernel_quantizer=q, bias_quantizer=q, activation=quantized_relu(10, 6))(x)
    h = QDense(15, kernel_quantizer=q, bias_quantizer=q, activation=quantized_relu(10, 6))(h)
    mu = QDense(8, kernel_quantizer=q, bias_quantizer=q, activation=quantized_bits(12, 6, alpha=None), name="mu")(h)
    squares = keras.layers.Multiply(name="mu_sq")([mu, mu])
    total = QDense(1, use_bias=False, trainable=False, kernel_initializer="ones", kernel_quantizer=quantized_bits(2, 1),
                   name="mu_sum")(squares)
    score = QActivation(quantized_bits(18, 14, keep_negative=False, alpha=None), name="score")(total)
    model = _randomize(keras.Model(x, score, name="axol1tl_v4"), 3, scale=0.3)
    model.get_layer("mu_sum").set_weights([np.ones((8, 1))])
    return model


def axol1tl_v5():
    """57-29-10 embedding, then 10-9-6-4-6-9-10 reconstructing it; the score is the squared distance of the two,
    written with Keras's Subtract and Dot, quantized to fixed<18,14>. 6-bit weights (fixed<6,3>), 10-bit biases
    (fixed<10,7>), quantized_relu(10, 6) after every hidden layer; the 4-wide bottleneck and the reconstruction have
    no quantizer (hls4ml's default type in the published firmware, the exact result type in l1ad's)."""
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    w, b = quantized_bits(6, 2, alpha=1), quantized_bits(10, 6, alpha=1)

    def dense(h, units, relu=True):
        return QDense(units, kernel_quantizer=w, bias_quantizer=b,
                      activation=quantized_relu(10, 6) if relu else None)(h)

    x = keras.Input((57,), name="inputs")
    embedding = dense(dense(x, 29), 10)
    h = embedding
    for units in (9, 6):
        h = dense(h, units)
    h = dense(h, 4, relu=False)
    for units in (6, 9):
        h = dense(h, units)
    reconstruction = dense(h, 10, relu=False)
    diff = keras.layers.Subtract(name="diff")([embedding, reconstruction])
    distance = keras.layers.Dot(axes=1, name="distance")([diff, diff])
    score = QActivation(quantized_bits(18, 13, alpha=1), name="score")(distance)
    return _randomize(keras.Model(x, score, name="axol1tl_v5"), 8, scale=0.3)


def cicada_v1():
    """252 calorimeter regions -> QDense(15) + QBatchNormalization + quantized_relu, Dropout, QDense(1), symmetric
    quantizers (CICADA v1 as deployed; the training code's QDenseBatchnorm folds into the same arithmetic)."""
    from qkeras import QActivation, QBatchNormalization, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    q = quantized_bits(8, 1, 1, alpha=1)
    x = keras.Input((252,), name="inputs_")
    h = QDense(15, kernel_quantizer=q, bias_quantizer=q, name="dense1")(x)
    h = QBatchNormalization(name="QBN1")(h)
    h = QActivation(quantized_relu(10, 6), name="relu1")(h)
    h = keras.layers.Dropout(0.2)(h)
    h = QDense(1, kernel_quantizer=q, bias_quantizer=q, name="dense2")(h)
    out = QActivation(quantized_relu(16, 8), name="outputs")(h)
    return _randomize(keras.Model(x, out, name="cicada_v1"), 4, scale=0.2)


def cicada_v2():
    """CICADA v2 as deployed: 252 regions reshaped to an 18 x 14 image, QConv2D(4, 2x2, strides 2, no bias,
    quantized_bits(12, 3, 1)) + quantized_relu(10, 6), Flatten, Dropout, QDense(16) + QBatchNormalization (the
    training code's QDenseBatchnorm, which QKeras 0.9 lacks; the same arithmetic) + quantized_relu(10, 6), Dropout,
    QDense(1, no bias, quantized_bits(12, 3, 1)) + quantized_relu(16, 8)."""
    from qkeras import QActivation, QBatchNormalization, QConv2D, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    x = keras.Input((252,), name="inputs_")
    h = keras.layers.Reshape((18, 14, 1), name="reshape")(x)
    h = QConv2D(4, (2, 2), strides=2, padding="valid", use_bias=False, name="conv",
                kernel_quantizer=quantized_bits(12, 3, 1, alpha=1.0))(h)
    h = QActivation(quantized_relu(10, 6), name="relu0")(h)
    h = keras.layers.Dropout(1 / 9)(keras.layers.Flatten(name="flatten")(h))
    h = QDense(16, kernel_quantizer=quantized_bits(8, 1, 1, alpha=1.0), bias_quantizer=quantized_bits(8, 3, 1, alpha=1.0),
               name="dense1")(h)
    h = QBatchNormalization(name="bn1")(h)
    h = keras.layers.Dropout(1 / 8)(QActivation(quantized_relu(10, 6), name="relu1")(h))
    h = QDense(1, kernel_quantizer=quantized_bits(12, 3, 1, alpha=1.0), use_bias=False, name="dense2")(h)
    out = QActivation(quantized_relu(16, 8), name="outputs")(h)
    return _randomize(keras.Model(x, out, name="cicada_v2"), 5, scale=0.2)


def econt_encoder():
    """The HGCAL ECON-T encoder (network 8x8_c8_S2_qK): an 8 x 8 x 1 module image, input quantizer (10 bits, 3
    integer), QConv2D(8, 3x3, strides 2, same; weights 5 bits, 1 integer), accumulator quantizer (11 bits, 3 integer),
    Flatten (128), QDense(16), encoded quantizer (9 bits, 1 integer, unsigned)."""
    from qkeras import QActivation, QConv2D, QDense, quantized_bits
    from tensorflow import keras

    weights = quantized_bits(5, 1, 1, alpha=1)
    x = keras.Input((8, 8, 1), name="input_1")
    h = QActivation(quantized_bits(10, 3, 1, alpha=1), name="input_qa")(x)
    h = QConv2D(8, (3, 3), strides=(2, 2), padding="same", kernel_quantizer=weights, bias_quantizer=weights,
                name="conv2d_0_m")(h)
    h = QActivation(quantized_bits(11, 3, 1, alpha=1), name="accum1_qa")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h = QDense(16, kernel_quantizer=weights, bias_quantizer=weights, name="encoded_dense")(h)
    out = QActivation(quantized_bits(9, 1, 0, alpha=1), name="encod_qa")(h)
    return _randomize(keras.Model(x, out, name="econt_encoder"), 8, scale=0.4)


def adc2021_cnn_ae(bits: int | None = None):
    """The ADC2021 convolutional autoencoder on 19 objects x (pT, eta, phi): Conv2D(10, 3x3, same, no bias),
    AveragePooling2D((2, 1)), BatchNormalization, ReLU, Flatten (270), Dense(8), ReLU, Dense(270), ReLU,
    Reshape((9, 3, 10)), UpSampling2D((2, 1)), ZeroPadding2D(((1, 0), (0, 0))), Conv2D(1, 3x3, same, no bias),
    BatchNormalization, ReLU. Float (``bits`` None: the input type is stated at import), or its quantized form:
    QConv2D/QDense with quantized_bits(bits, integer, 0, alpha=1) and quantized_relu(bits, integer), integer bits by
    width as in the example code."""
    from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    integer = {2: 1, 4: 2, 6: 2, 8: 3, 10: 3, 12: 4, 14: 4, 16: 6}.get(bits or 0)
    L = keras.layers

    def conv(filters, name):
        if bits is None:
            return L.Conv2D(filters, (3, 3), padding="same", use_bias=False, name=name)
        q = quantized_bits(bits, integer, 0, alpha=1)
        return QConv2D(filters, (3, 3), padding="same", use_bias=False, kernel_quantizer=q, name=name)

    def dense(units, name):
        if bits is None:
            return L.Dense(units, name=name)
        q = quantized_bits(bits, integer, 0, alpha=1)
        return QDense(units, kernel_quantizer=q, bias_quantizer=q, name=name)

    def relu(name):
        return L.ReLU(name=name) if bits is None else QActivation(quantized_relu(bits, integer), name=name)

    x = keras.Input((19, 3, 1), name="input_1")
    h = conv(10, "conv2d")(x)
    h = L.AveragePooling2D((2, 1), name="average_pooling2d")(h)
    h = relu("relu_1")(L.BatchNormalization(name="bn_1")(h))
    h = relu("relu_2")(dense(8, "latent")(L.Flatten(name="flatten")(h)))
    h = relu("relu_3")(dense(270, "dense_1")(h))
    h = L.Reshape((9, 3, 10), name="reshape")(h)
    h = L.UpSampling2D((2, 1), name="up_sampling2d")(h)
    h = L.ZeroPadding2D(((1, 0), (0, 0)), name="zero_padding2d")(h)
    h = conv(1, "conv2d_1")(h)
    out = relu("output")(L.BatchNormalization(name="bn_2")(h))
    name = "adc2021_cnn_ae" if bits is None else f"adc2021_cnn_ae_q{bits}"
    return _randomize(keras.Model(x, out, name=name), 9, scale=0.3)


def hls4ml_tutorial_cnn():
    """The CNN of the hls4ml tutorial (part 6, SVHN), quantized as written there: 32 x 32 x 3 images, three blocks of
    QConv2D(16/16/24, 3x3, no bias, quantized_bits(6, 0, alpha=1)) + QBatchNormalization + quantized_relu(6) +
    MaxPooling2D(2), Flatten, QDense(42) and QDense(64) each + QBatchNormalization + quantized_relu(6), QDense(10):
    the logits (the tutorial's softmax is a float function, left to the software as a trigger would)."""
    from qkeras import QActivation, QBatchNormalization, QConv2D, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    q = quantized_bits(6, 0, alpha=1)
    x = keras.Input((32, 32, 3), name="input_1")
    h = x
    for i, filters in enumerate((16, 16, 24)):
        h = QConv2D(filters, (3, 3), use_bias=False, kernel_quantizer=q, name=f"conv_{i}")(h)
        h = QActivation(quantized_relu(6), name=f"conv_act_{i}")(QBatchNormalization(name=f"bn_conv_{i}")(h))
        h = keras.layers.MaxPooling2D(pool_size=(2, 2), name=f"pool_{i}")(h)
    h = keras.layers.Flatten()(h)
    for i, units in enumerate((42, 64)):
        h = QDense(units, kernel_quantizer=q, use_bias=False, name=f"dense_{i}")(h)
        h = QActivation(quantized_relu(6), name=f"dense_act_{i}")(QBatchNormalization(name=f"bn_dense_{i}")(h))
    out = QDense(10, kernel_quantizer=q, use_bias=False, name="output_dense")(h)
    return _randomize(keras.Model(x, out, name="hls4ml_tutorial_cnn"), 10, scale=0.3)


def hls4ml_tutorial():
    """Sequential 16-64-32-32-5 with QDense(..., activation=quantized_relu(6)) and 6-bit weights, as in part 4 of
    the hls4ml tutorial (a jet tagger, brought as users bring it; its five outputs are not a score)."""
    from qkeras import QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    q = quantized_bits(6, 0, alpha=1)
    model = keras.Sequential([keras.Input((16,), name="input_1")], name="hls4ml_tutorial")
    for i, units in enumerate((64, 32, 32)):
        model.add(QDense(units, kernel_quantizer=q, bias_quantizer=q, activation=quantized_relu(6), name=f"fc{i + 1}"))
    model.add(QDense(5, kernel_quantizer=q, bias_quantizer=q, name="output"))
    return _randomize(model, 6)


def kd_student():
    """Input (19, 3, 1) -> Flatten -> BatchNormalization -> QDense(32) relu -> QDense(8) relu -> QDense(1)."""
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu
    from tensorflow import keras

    q = quantized_bits(8, 3, 0, alpha=1)
    x = keras.Input((19, 3, 1), name="input_1")
    h = keras.layers.BatchNormalization()(keras.layers.Flatten()(x))
    h = QActivation(quantized_relu(8, 3))(QDense(32, kernel_quantizer=q, bias_quantizer=q)(h))
    h = QActivation(quantized_relu(8, 3))(QDense(8, kernel_quantizer=q, bias_quantizer=q)(h))
    out = QActivation(quantized_bits(16, 8, alpha=1), name="score")(QDense(1, kernel_quantizer=q, bias_quantizer=q)(h))
    return _randomize(keras.Model(x, out, name="kd_student"), 7)


MODELS = {"adc2021_dnn_ae": adc2021_dnn_ae, "adc2021_dnn_ae_float": adc2021_dnn_ae_float, "mlperf_tiny_ad08": mlperf_tiny_ad08, "axol1tl_v4": axol1tl_v4,
          "axol1tl_v5": axol1tl_v5, "cicada_v1": cicada_v1, "cicada_v2": cicada_v2, "econt_encoder": econt_encoder,
          "adc2021_cnn_ae": adc2021_cnn_ae, "adc2021_cnn_ae_q8": lambda: adc2021_cnn_ae(8),
          "hls4ml_tutorial_cnn": hls4ml_tutorial_cnn, "hls4ml_tutorial": hls4ml_tutorial, "kd_student": kd_student}
# reconstruction-only models: l1ad adds the MSE
ADD_SCORE = {"adc2021_dnn_ae": "16,8", "adc2021_dnn_ae_float": "16,8", "mlperf_tiny_ad08": "16,8", "adc2021_cnn_ae": "16,8", "adc2021_cnn_ae_q8": "16,8"}

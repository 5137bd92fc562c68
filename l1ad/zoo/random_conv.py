"""Seeded random convolutional QKeras models, for the differential benchmark (``bench_differential.py --conv``).

A 1-D (length, channels) or 2-D (height, width, channels) input, normally followed by a QActivation (1 in 10 without
one: taken as ``l1ad import`` takes it, with the default input type), then 1-4 blocks, each one of: a QConv1D/QConv2D
(1-8 filters, kernel 1-5, strides 1-3, padding valid or same, with or without bias, quantized_bits weights; 1 in 10
a float Conv), a QDepthwiseConv2D (2-D, depth multiplier 1-2), a max or average pool (average over a power-of-two
window), an up-sampling, a zero padding or a cropping; a convolution is followed by an optional BatchNormalization and
a quantizer (a QActivation, or inside the layer as ``activation=``; every quantizer kind and sign of
:mod:`.random`, tables included) and, 1 in 7, a LeakyReLU of any slope. The head is a global pool, or a Flatten
and one of the scores of :mod:`.random` (``sumsq``: a latent's sum of squares; ``distance``: Subtract + Dot), or
nothing (the last block is the output).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .random import Quant, _quant, _table_quant, _weight_quant
from .weights import randomize

BLOCKS = ("conv", "conv", "conv", "depthwise", "max_pool", "average_pool", "upsampling", "zero_padding", "cropping")
HEADS = ("none", "sumsq", "distance", "global")
# LeakyReLU slopes: powers of two (shifts), ADC2021's 0.3 as Keras holds it (float32, 24 fractional bits), 0.3 as
# l1ad import rounds it (ap_fixed<16,6>: 307/1024), and others of a few digits
LEAKY_SLOPES = (0.25, 2.0, 0.3, 307 / 1024, 0.1, 0.75, 1.5)


@dataclass(frozen=True)
class Block:
    kind: str  # one of BLOCKS
    window: tuple[int, ...] = ()  # kernel or pool size; padding/cropping (before, after) pairs flattened; factors
    strides: tuple[int, ...] = ()
    padding: str = "valid"
    filters: int = 0  # conv: filters; depthwise: depth multiplier
    kernel: Quant | None = None  # None: a float convolution
    bias: Quant | None = None
    batchnorm: bool = False
    activation: Quant | None = None
    inside: bool = False  # the quantizer as the layer's activation=
    leaky: float | None = None  # a LeakyReLU after the quantizer, any slope (0.3: its float32 value, 24 bits)

    def short(self) -> str:
        geometry = f"{'x'.join(map(str, self.window))}"
        if self.kind in ("conv", "depthwise"):
            weights = "F" if self.kernel is None else f"[{self.kernel.short()},{self.bias.short() if self.bias else '-'}]"
            parts = [f"{self.kind}{self.filters} {geometry}/{'x'.join(map(str, self.strides))} {self.padding}{weights}",
                     "bn" if self.batchnorm else "",
                     ("in:" if self.inside else "") + (self.activation.short() if self.activation else ""),
                     f"leaky{self.leaky:g}" if self.leaky else ""]
            return " ".join(p for p in parts if p)
        if self.kind.endswith("pool"):
            return f"{self.kind} {geometry}/{'x'.join(map(str, self.strides))} {self.padding}"
        return f"{self.kind} {geometry}"


@dataclass(frozen=True)
class ConvSpec:
    seed: int
    shape: tuple[int, ...]  # the input's (spatial..., channels)
    input_q: Quant | None
    blocks: tuple[Block, ...]
    head: str  # one of HEADS
    head_width: int
    head_q: Quant
    score_q: Quant
    head_weights: tuple[Quant, Quant]

    @property
    def score(self) -> str:
        return self.head

    def short(self) -> str:
        head = self.head if self.head in ("none", "global") else \
            f"{self.head}({self.head_width} {self.head_q.short()}) score {self.score_q.short()}"
        return " | ".join([f"in{'x'.join(map(str, self.shape))} {self.input_q.short() if self.input_q else 'NO-Q'}",
                           *(b.short() for b in self.blocks), head])


def _activation(rng) -> Quant:
    return _table_quant(rng) if rng.random() < 0.1 else _quant(rng)


def _block(rng, shape: tuple[int, ...]) -> tuple[Block, tuple[int, ...]]:
    """A block that fits ``shape`` (spatial..., channels) and the shape it gives."""
    spatial, channels = list(shape[:-1]), shape[-1]
    d = len(spatial)
    kind = BLOCKS[rng.integers(len(BLOCKS))]
    if kind == "depthwise" and d != 2:
        kind = "conv"
    if kind in ("conv", "depthwise"):
        padding = ("valid", "same")[rng.integers(2)]
        window = tuple(int(rng.integers(1, min(5, n) + 1)) if padding == "valid" else int(rng.integers(1, 6))
                       for n in spatial)
        strides = tuple(int(rng.integers(1, 4)) for _ in spatial)
        filters = int(rng.integers(1, 9)) if kind == "conv" else int(rng.integers(1, 3))
        kernel = None if rng.random() < 0.1 else _weight_quant(rng)
        bias = None if rng.random() < 0.25 else _weight_quant(rng)
        batchnorm = bool(rng.random() < 0.2)
        activation = _activation(rng)
        inside = not batchnorm and kernel is not None and bool(rng.random() < 0.3)
        leaky = LEAKY_SLOPES[rng.integers(len(LEAKY_SLOPES))] if rng.random() < 0.15 else None
        out = [_out(n, k, s, padding) for n, k, s in zip(spatial, window, strides)]
        block = Block(kind, window, strides, padding, filters, kernel, bias, batchnorm, activation, inside, leaky)
        return block, (*out, filters if kind == "conv" else channels * filters)
    if kind in ("max_pool", "average_pool"):
        if kind == "average_pool":  # a power-of-two window inside the input
            choices = [w for w in ((1, 2), (2, 1), (2, 2), (1, 4), (4, 1), (4, 2)) if
                       all(a <= n for a, n in zip(w[-d:], spatial)) and np.prod(w[-d:]) > 1] or [(1,) * d]
            window = tuple(choices[rng.integers(len(choices))][-d:])
            padding = "valid"
        else:
            padding = ("valid", "same")[rng.integers(2)]
            window = tuple(int(rng.integers(1, min(3, n) + 1)) for n in spatial)
        strides = tuple(int(rng.integers(1, 4)) if rng.random() < 0.3 else w for w in window)
        out = [_out(n, k, s, padding) for n, k, s in zip(spatial, window, strides)]
        return Block(kind, window, strides, padding), (*out, channels)
    if kind == "upsampling":
        factors = tuple(int(rng.integers(1, 4)) if n < 12 else 1 for n in spatial)
        return Block(kind, factors), (*(n * f for n, f in zip(spatial, factors)), channels)
    if kind == "zero_padding":
        pads = tuple(int(rng.integers(0, 3)) for _ in range(2 * d))
        return Block(kind, pads), (*(n + pads[2 * a] + pads[2 * a + 1] for a, n in enumerate(spatial)), channels)
    crops = []
    for n in spatial:  # at least one value left per axis
        before = int(rng.integers(0, max(1, min(2, n - 1)) + 1)) if n > 1 else 0
        after = int(rng.integers(0, max(1, min(2, n - 1 - before)) + 1)) if n - before > 1 else 0
        crops += [before, after]
    return Block("cropping", tuple(crops)), (*(n - crops[2 * a] - crops[2 * a + 1] for a, n in enumerate(spatial)),
                                             channels)


def _out(n: int, k: int, s: int, padding: str) -> int:
    return -(-n // s) if padding == "same" else (n - k) // s + 1


def describe_conv(seed: int) -> ConvSpec:
    """What :func:`build_conv` builds for ``seed``."""
    rng = np.random.default_rng([seed, 0xC0DE])
    if rng.random() < 0.4:
        shape = (int(rng.integers(4, 17)), int(rng.integers(1, 4)))
    else:
        shape = (int(rng.integers(3, 11)), int(rng.integers(3, 9)), int(rng.integers(1, 4)))
    head = HEADS[rng.integers(len(HEADS))]
    input_q = None if rng.random() < 0.1 else _quant(rng)
    blocks, current = [], shape
    for _ in range(int(rng.integers(1, 5))):
        block, after = _block(rng, current)
        if min(after) < 1 or int(np.prod(after)) > 400:  # nothing left, or too large for a quick build (da4ml)
            continue
        blocks.append(block)
        current = after
    if not any(b.kind in ("conv", "depthwise") for b in blocks):  # at least one convolution: a 1x1 one first
        ones = (1,) * (len(shape) - 1)
        blocks.insert(0, Block("conv", ones, ones, "valid", shape[-1], _weight_quant(rng), _weight_quant(rng), False,
                               _quant(rng)))
    bits = int(rng.integers(6, 17))
    integer = int(rng.integers(0, min(10, bits - 1) + 1))
    return ConvSpec(seed, shape, input_q, tuple(blocks), head, int(rng.integers(1, 9)), _quant(rng),
                    Quant("relu", bits, integer, False), (_weight_quant(rng), _weight_quant(rng)))


def build_conv(spec: ConvSpec):
    """The Keras model of a :class:`ConvSpec`."""
    import qkeras
    from qkeras import QActivation, QDense
    from tensorflow import keras

    d = len(spec.shape) - 1
    x = keras.Input(spec.shape, name="x")
    h = QActivation(spec.input_q.make(), name="input_q")(x) if spec.input_q else x
    for i, b in enumerate(spec.blocks):
        h = _layer(h, b, f"b{i}", d, keras, qkeras)
    if spec.head == "none":
        outputs = [h]
    elif spec.head == "global":
        pool = keras.layers.GlobalMaxPooling1D if d == 1 else keras.layers.GlobalMaxPooling2D
        outputs = [pool(name="global_pool")(h)]
    else:
        flat = keras.layers.Flatten(name="flatten")(h)
        kernel, bias = (q.make() for q in spec.head_weights)
        latent = QDense(spec.head_width, kernel_quantizer=kernel, bias_quantizer=bias, name="latent")(flat)
        latent = QActivation(spec.head_q.make(), name="latent_q")(latent)
        if spec.head == "distance":
            rec = QDense(spec.head_width, kernel_quantizer=spec.head_weights[0].make(),
                         bias_quantizer=spec.head_weights[1].make(), name="rec")(latent)
            rec = QActivation(spec.head_q.make(), name="rec_q")(rec)
            diff = keras.layers.Subtract(name="diff")([latent, rec])
            total = keras.layers.Dot(axes=1, name="distance")([diff, diff])
        else:
            square = keras.layers.Multiply(name="mu_sq")([latent, latent])
            total = QDense(1, name="mu_sum", use_bias=False, trainable=False, kernel_initializer="ones",
                           kernel_quantizer=qkeras.quantized_bits(2, 1, alpha=1))(square)
        outputs = [QActivation(spec.score_q.make(), name="score")(total)]
    model = keras.Model(x, outputs, name=f"random_conv_{spec.seed}")
    randomize(model, [spec.seed, 5], 0.5, trainable_only=True)
    return model


def _layer(h, b: Block, name: str, d: int, keras, qkeras):
    if b.kind in ("conv", "depthwise"):
        activation = b.activation.make() if b.inside else None
        common = dict(strides=b.strides, padding=b.padding, use_bias=b.bias is not None, name=name)
        if b.kind == "depthwise":
            h = qkeras.QDepthwiseConv2D(b.window, depth_multiplier=b.filters, activation=activation,
                                        depthwise_quantizer=b.kernel.make() if b.kernel else None,
                                        bias_quantizer=b.bias.make() if b.bias else None, **common)(h)
        elif b.kernel is None:
            h = (keras.layers.Conv1D if d == 1 else keras.layers.Conv2D)(b.filters, b.window, **common)(h)
        else:
            h = (qkeras.QConv1D if d == 1 else qkeras.QConv2D)(
                b.filters, b.window, kernel_quantizer=b.kernel.make(),
                bias_quantizer=b.bias.make() if b.bias else None, activation=activation, **common)(h)
        if b.batchnorm:
            h = keras.layers.BatchNormalization(name=f"{name}_bn")(h)
        if not b.inside:
            h = qkeras.QActivation(b.activation.make(), name=f"{name}_q")(h)
        if b.leaky:
            h = keras.layers.LeakyReLU(b.leaky, name=f"{name}_leaky")(h)
        return h
    if b.kind == "max_pool":
        return (keras.layers.MaxPooling1D if d == 1 else keras.layers.MaxPooling2D)(
            b.window, strides=b.strides, padding=b.padding, name=name)(h)
    if b.kind == "average_pool":
        return (keras.layers.AveragePooling1D if d == 1 else keras.layers.AveragePooling2D)(
            b.window, strides=b.strides, padding=b.padding, name=name)(h)
    if b.kind == "upsampling":
        return (keras.layers.UpSampling1D(b.window[0], name=name) if d == 1 else
                keras.layers.UpSampling2D(b.window, name=name))(h)
    pairs = tuple((b.window[2 * a], b.window[2 * a + 1]) for a in range(d))
    if b.kind == "zero_padding":
        return (keras.layers.ZeroPadding1D(pairs[0], name=name) if d == 1 else
                keras.layers.ZeroPadding2D(pairs, name=name))(h)
    return (keras.layers.Cropping1D(pairs[0], name=name) if d == 1 else keras.layers.Cropping2D(pairs, name=name))(h)

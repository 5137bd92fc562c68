"""Seeded random QKeras models over the class of models l1ad's firmware chain claims to support, for differential
tests (``benchmarks/bench_differential.py``).

The class (README, "Bring your own model"): one flat input, normally followed by a QActivation (without one, drawn
for 1 in 10 models, the model is taken as ``l1ad import`` takes it: :func:`as_imported` states the default input
type); 1-3 hidden layers of width 1-12, each a QDense (1 in 10: a
float Dense) with quantized_bits kernel and bias (or no bias), optionally BatchNormalization (random gamma, beta,
moving statistics) and Activation('linear'), then a QActivation with quantized_bits (bits 2-12, integer 0-8,
keep_negative either way, alpha 1 or None), quantized_relu (bits 2-10, integer 0-8) or quantized_tanh (hard tanh);
optionally merged with a parallel branch (Add, Subtract, Concatenate) or squared (Multiply of the layer with
itself), with or without a QActivation after the merge. On top, from a random stream of their own (so that the
models above stay what they were), the forms public models are written in: a QDense kernel quantizer with
alpha=None (QKeras makes it a power-of-two scale per output), the quantizer inside the QDense (``activation=``),
QBatchNormalization (quantized gamma and beta), Dropout, symmetric quantizers, a 2-D input flattened after its
quantizer. The score is one of

* ``mse``: a reconstruction of the input, with l1ad's MSE head (``firmware.convert.with_mse_score``);
* ``distance``: an embedding and its reconstruction, Subtract + Dot(axes=1) + QActivation (as AXOL1TL);
* ``sumsq``: a latent's sum of squares through a frozen Dense of ones (as ``examples.encoder_only``).

Weights are drawn from the seed; :func:`random_inputs` draws inputs that hit the input type's rounding ties and
saturation. TensorFlow is imported inside the functions only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .weights import randomize

MERGES = (None, None, None, "add", "subtract", "concatenate", "square")
SCORES = ("mse", "distance", "sumsq")


@dataclass(frozen=True)
class Quant:
    """A QKeras quantizer: kind "bits" (quantized_bits, alpha 1 or None), "relu" (quantized_relu) or "tanh"; or one
    that is an exact function of its input (:data:`TABLE_KINDS`), with ``param`` its number (a slope, a maximum, a
    threshold, a scale; 0 for the default) and ``flag`` its switch (use_01, symmetric)."""

    kind: str
    bits: int
    integer: int = 0
    signed: bool = True
    # QKeras 0.9's default alpha=None, scale 1 in a QActivation (a QDense turns it into alpha="auto_po2" for its
    # kernel, which is not plain fixed point: activations only)
    alpha_none: bool = False
    symmetric: bool = False  # quantized_bits(symmetric=1), signed only: saturates at -max (CICADA v1)
    param: float = 0.0
    flag: bool = False

    def make(self):
        import qkeras
        from qkeras import quantized_bits, quantized_relu, quantized_tanh

        if self.kind == "bits":
            alpha = None if self.alpha_none else 1
            return quantized_bits(self.bits, self.integer, keep_negative=self.signed, alpha=alpha,
                                  symmetric=int(self.symmetric))
        if self.kind == "relu":
            return quantized_relu(self.bits, self.integer)
        if self.kind == "tanh":
            return quantized_tanh(self.bits, symmetric=self.symmetric)
        param = self.param or None
        return {"po2": lambda: qkeras.quantized_po2(self.bits, max_value=param),
                "relu_po2": lambda: qkeras.quantized_relu_po2(self.bits, negative_slope=self.param),
                "binary": lambda: qkeras.binary(use_01=self.flag, alpha=param),
                "ternary": lambda: qkeras.ternary(threshold=param, alpha=2.0 if self.flag else None),
                "relu_slope": lambda: quantized_relu(self.bits, self.integer, negative_slope=self.param),
                "sigmoid": lambda: qkeras.quantized_sigmoid(self.bits, symmetric=self.flag),
                "hard_sigmoid": lambda: qkeras.quantizers.hard_sigmoid}[self.kind]()

    def short(self) -> str:
        if self.kind in TABLE_KINDS:
            return f"{self.kind}{self.bits}.{self.integer}:{self.param:g}{'f' if self.flag else ''}"
        if self.kind == "tanh":
            return f"t{self.bits}{'y' if self.symmetric else ''}"
        sign = ("s" if self.signed else "u") if self.kind == "bits" else ""
        return f"{self.kind[0]}{self.bits}.{self.integer}{sign}{'n' if self.alpha_none else ''}{'y' if self.symmetric else ''}"


# activation quantizers that are exact functions of their input (firmware/tables.py)
TABLE_KINDS = ("po2", "relu_po2", "binary", "ternary", "relu_slope", "sigmoid", "hard_sigmoid")


@dataclass(frozen=True)
class Hidden:
    width: int
    kernel: Quant | None  # None: a float Dense
    bias: Quant | None  # None: no bias
    batchnorm: bool
    linear: bool  # an Activation('linear') before the quantizer
    activation: Quant
    merge: str | None = None  # add, subtract, concatenate (with a parallel branch) or square
    merge_q: Quant | None = None  # a QActivation after the merge
    # forms as public models write them (drawn from a stream of their own, so the forms above stay as they were)
    inside: bool = False  # the quantizer as the QDense's activation= instead of a QActivation after it
    qbn: bool = False  # QBatchNormalization (quantized gamma and beta) instead of BatchNormalization
    dropout: bool = False  # a Dropout after the quantizer (a no-op at inference)
    # forms of issue 33 (a stream of their own again)
    table: Quant | None = None  # a second QActivation, an exact function of the quantized values (a table)
    leaky: float | None = None  # a LeakyReLU of slope 2^k after the quantizer

    def short(self) -> str:
        dense = "D" if self.kernel is None else f"Q[{self.kernel.short()},{self.bias.short() if self.bias else '-'}]"
        parts = [f"{dense}{self.width}", ("qbn" if self.qbn else "bn") if self.batchnorm else "",
                 "lin" if self.linear else "", ("in:" if self.inside else "") + self.activation.short(),
                 self.table.short() if self.table else "", f"leaky{self.leaky:g}" if self.leaky else "",
                 "drop" if self.dropout else "", self.merge or "", self.merge_q.short() if self.merge_q else ""]
        return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class Spec:
    seed: int
    inputs: int
    input_q: Quant | None
    hidden: tuple[Hidden, ...]
    score: str  # one of SCORES
    head_width: int  # distance, sumsq: embedding / latent width
    head_q: Quant  # mse: the reconstruction's quantizer; else the embedding's / latent's
    score_q: Quant
    head_weights: tuple[Quant, Quant]  # the head's QDense kernel and bias quantizers
    flatten: bool = False  # the input as (inputs / 2, 2), flattened after its quantizer (not with the MSE head)
    # outputs beside the score (issue 33): "input_q" the input's quantizer, "hidden" the first hidden layer (also read
    # inside), "repeat" the score once more, "wide" the square of float Dense layers (more than 53 significant bits)
    extra_outputs: tuple[str, ...] = ()

    def short(self) -> str:
        width = self.head_width if self.score != "mse" else self.inputs
        weights = ",".join(q.short() for q in self.head_weights)
        head = f"{self.score}(Q[{weights}]{width} {self.head_q.short()})"
        shape = f"in{self.inputs // 2}x2 flat" if self.flatten else f"in{self.inputs}"
        extra = [f"+out {','.join(self.extra_outputs)}"] if self.extra_outputs else []
        return " | ".join([f"{shape} {self.input_q.short() if self.input_q else 'NO-Q'}",
                           *(h.short() for h in self.hidden), head, f"score {self.score_q.short()}", *extra])


def _quant(rng, kinds=("bits", "bits", "relu", "tanh")) -> Quant:
    kind = kinds[rng.integers(len(kinds))]
    if kind == "bits":  # alpha=None where bits + integer is odd: no extra draw, so every seed keeps its model
        bits, integer, signed = int(rng.integers(2, 13)), int(rng.integers(0, 9)), bool(rng.random() < 0.6)
        return Quant("bits", bits, integer, signed, alpha_none=bool((bits + integer) % 2))
    if kind == "relu":
        return Quant("relu", int(rng.integers(2, 11)), int(rng.integers(0, 9)), False)
    return Quant("tanh", int(rng.integers(2, 9)))


def _weight_quant(rng) -> Quant:
    return Quant("bits", int(rng.integers(2, 13)), int(rng.integers(0, 5)), True)


def _hidden(rng) -> Hidden:
    kernel = None if rng.random() < 0.1 else _weight_quant(rng)
    bias = None if (kernel is not None and rng.random() < 0.15) else _weight_quant(rng)
    merge = MERGES[rng.integers(len(MERGES))]
    merge_q = _quant(rng) if merge and rng.random() < 0.5 else None
    return Hidden(int(rng.integers(1, 13)), kernel, bias, bool(rng.random() < 0.25), bool(rng.random() < 0.1),
                  _quant(rng), merge, merge_q)


def _table_quant(rng) -> Quant:
    """An activation quantizer of :data:`TABLE_KINDS`, with its options drawn (every power-of-two slope from 1/8 to
    1)."""
    kind = TABLE_KINDS[rng.integers(len(TABLE_KINDS))]
    bits, integer, flag = int(rng.integers(2, 7)), int(rng.integers(0, 4)), bool(rng.random() < 0.5)
    slope = float(2.0 ** -rng.integers(0, 4))
    param = {"po2": float(2.0 ** rng.integers(-1, 3)) if flag else 0.0, "relu_po2": slope if flag else 0.0,
             "binary": 0.5 if rng.random() < 0.3 else 0.0, "ternary": 0.5 if rng.random() < 0.3 else 0.0,
             "relu_slope": slope}.get(kind, 0.0)
    return Quant(kind, bits if kind != "relu_slope" else bits + 2, integer, True, param=param, flag=flag)


def _issue33_forms(spec: Spec, rng) -> Spec:
    """The forms of issue 33, from a stream of their own: tables after (rarely instead of) a quantizer, LeakyReLU of
    slope 2^k (1 included), the Average, Maximum and Minimum merges, and outputs beside the score (the input's
    quantizer, a layer read inside, the score twice, a value wider than 53 bits)."""
    from dataclasses import replace

    def forms(h: Hidden) -> Hidden:
        draws = rng.random(4)
        table = _table_quant(rng) if draws[0] < 0.3 else None
        leaky = float(2.0 ** rng.integers(-3, 2)) if draws[1] < 0.15 else None
        merge = h.merge
        if merge in ("add", "subtract") and draws[2] < 0.5:
            merge = ("average", "maximum", "minimum")[rng.integers(3)]
        activation = _table_quant(rng) if draws[3] < 0.05 else h.activation  # a wide input: refused or narrow
        return replace(h, table=table, leaky=leaky, merge=merge, activation=activation)

    hidden = tuple(forms(h) for h in spec.hidden)
    extra = tuple(name for name, p in (("input_q", 0.12), ("hidden", 0.12), ("repeat", 0.08), ("wide", 0.12))
                  if rng.random() < p and not (name == "input_q" and (spec.flatten or spec.input_q is None)))
    return replace(spec, hidden=hidden, extra_outputs=extra)


def describe(seed: int, generation: int = 2) -> Spec:
    """What :func:`random_model` builds for ``seed``; ``generation`` 1 leaves out the forms of issue 33 (the models
    the benchmark drew before it)."""
    rng = np.random.default_rng([seed, 0x11AD])
    score = SCORES[rng.integers(len(SCORES))]
    # without an input quantizer the model must be refused; the MSE head cannot even be built then
    input_q = None if score != "mse" and rng.random() < 0.1 else _quant(rng)
    hidden = tuple(_hidden(rng) for _ in range(rng.integers(1, 4)))
    head_q = _quant(rng, ("bits",) if score == "mse" else ("bits", "bits", "relu", "tanh"))
    bits = int(rng.integers(6, 17))
    integer = int(rng.integers(0, min(10, bits - 1) + 1))
    score_q = Quant("relu", bits, integer, False) if score == "mse" or rng.random() < 0.5 else \
        Quant("bits", bits, integer, False)
    spec = Spec(seed, int(rng.integers(2, 17)), input_q, hidden, score, int(rng.integers(1, 13)), head_q, score_q,
                (_weight_quant(rng), _weight_quant(rng)))
    spec = _as_written(spec, np.random.default_rng([seed, 0x24]))
    return spec if generation < 2 else _issue33_forms(spec, np.random.default_rng([seed, 0x33]))


def _as_written(spec: Spec, rng) -> Spec:
    """The forms public models are written in, drawn on top of a spec: a QDense kernel quantizer with alpha=None
    (a power-of-two scale per output), the activation inside the QDense, QBatchNormalization, Dropout, symmetric
    quantizers, a 2-D input flattened after its quantizer."""
    from dataclasses import replace

    def sym(q: Quant | None) -> Quant | None:
        draw = rng.random()
        return replace(q, symmetric=True) if q is not None and q.kind == "bits" and q.signed and draw < 0.2 else q

    def written(h: Hidden) -> Hidden:
        draws = rng.random(4)
        kernel = replace(h.kernel, alpha_none=True) if h.kernel is not None and draws[0] < 0.25 else h.kernel
        return replace(h, kernel=sym(kernel), activation=sym(h.activation), qbn=h.batchnorm and draws[1] < 0.5,
                       inside=not (h.batchnorm or h.linear) and h.kernel is not None and draws[2] < 0.3,
                       dropout=draws[3] < 0.1)

    hidden = tuple(written(h) for h in spec.hidden)
    flatten = spec.score != "mse" and spec.inputs % 2 == 0 and rng.random() < 0.2
    return replace(spec, hidden=hidden, input_q=sym(spec.input_q), flatten=flatten)


def _dense(h, width: int, kernel: Quant | None, bias: Quant | None, name: str, activation: Quant | None = None):
    from qkeras import QDense
    from tensorflow import keras

    if kernel is None:
        return keras.layers.Dense(width, use_bias=bias is not None, name=name)(h)
    return QDense(width, kernel_quantizer=kernel.make(), bias_quantizer=bias.make() if bias else None,
                  use_bias=bias is not None, name=name, activation=activation.make() if activation else None)(h)


def _layer(h, spec: Hidden, name: str):
    """One hidden layer: dense, [batchnorm], [linear], quantizer (or inside the dense), [dropout], [merge with a
    parallel branch or square]."""
    from qkeras import QActivation, QBatchNormalization, quantized_bits
    from tensorflow import keras

    if spec.inside:
        out = _dense(h, spec.width, spec.kernel, spec.bias, f"{name}_dense", spec.activation)
    else:
        out = _dense(h, spec.width, spec.kernel, spec.bias, f"{name}_dense")
    if spec.batchnorm and spec.qbn:
        out = QBatchNormalization(name=f"{name}_bn", gamma_quantizer=quantized_bits(8, 2, alpha=1),
                                  beta_quantizer=quantized_bits(8, 3, alpha=1), mean_quantizer=None,
                                  variance_quantizer=None)(out)
    elif spec.batchnorm:
        out = keras.layers.BatchNormalization(name=f"{name}_bn")(out)
    if spec.linear:
        out = keras.layers.Activation("linear", name=f"{name}_linear")(out)
    if not spec.inside:
        out = QActivation(spec.activation.make(), name=f"{name}_q")(out)
    if spec.table is not None:
        out = QActivation(spec.table.make(), name=f"{name}_table")(out)
    if spec.leaky is not None:
        out = keras.layers.LeakyReLU(spec.leaky, name=f"{name}_leaky")(out)
    if spec.dropout:
        out = keras.layers.Dropout(0.25, name=f"{name}_dropout")(out)
    if spec.merge == "square":
        out = keras.layers.Multiply(name=f"{name}_square")([out, out])
    elif spec.merge:
        other = _dense(h, spec.width, spec.kernel, spec.bias, f"{name}_dense_b")
        other = QActivation(spec.activation.make(), name=f"{name}_q_b")(other)
        merge = {"add": keras.layers.Add, "subtract": keras.layers.Subtract, "average": keras.layers.Average,
                 "maximum": keras.layers.Maximum, "minimum": keras.layers.Minimum,
                 "concatenate": keras.layers.Concatenate}[spec.merge]
        out = merge(name=f"{name}_{spec.merge}")([out, other])
    if spec.merge_q is not None:
        out = QActivation(spec.merge_q.make(), name=f"{name}_merge_q")(out)
    return out


def _block(h, width: int, spec: Spec, name: str):
    return _layer(h, Hidden(width, *spec.head_weights, False, False, spec.head_q), name)


def _head(x, h, spec: Spec):
    """The model's outputs after the hidden layers: the score (first) and the reconstruction, if any."""
    from qkeras import QActivation, QDense, quantized_bits
    from tensorflow import keras

    if spec.score == "mse":
        return [_block(h, spec.inputs, spec, "rec")]
    latent = _block(h, spec.head_width, spec, "latent")
    if spec.score == "distance":
        rec = _block(latent, spec.head_width, spec, "rec")
        diff = keras.layers.Subtract(name="diff")([latent, rec])
        total = keras.layers.Dot(axes=1, name="distance")([diff, diff])
    else:
        rec = None
        square = keras.layers.Multiply(name="mu_sq")([latent, latent])
        total = QDense(1, name="mu_sum", use_bias=False, trainable=False, kernel_initializer="ones",
                       kernel_quantizer=quantized_bits(2, 1, alpha=1))(square)
    score = QActivation(spec.score_q.make(), name="score")(total)
    return [score] + ([rec] if rec is not None and spec.head_width > 1 else [])  # the score: the only width-1 output


def build(spec: Spec):
    """The Keras model of a :class:`Spec`."""
    from qkeras import QActivation
    from tensorflow import keras

    x = keras.Input((spec.inputs // 2, 2) if spec.flatten else (spec.inputs,), name="x")
    h = QActivation(spec.input_q.make(), name="input_q")(x) if spec.input_q else x
    quantized_input = h
    if spec.flatten:
        h = keras.layers.Flatten(name="flatten")(h)
    hidden = []
    for i, layer in enumerate(spec.hidden):
        h = _layer(h, layer, f"h{i}")
        hidden.append(h)
    outputs = _head(x, h, spec)
    extra = {"input_q": lambda: quantized_input, "hidden": lambda: hidden[0], "repeat": lambda: outputs[0],
             "wide": lambda: _wide(h)}
    model = keras.Model(x, outputs + [extra[name]() for name in spec.extra_outputs], name=f"random_{spec.seed}")
    randomize(model, [spec.seed, 2], 0.5, trainable_only=True)
    if spec.score == "mse":
        from l1ad.firmware.convert import with_mse_score

        model = with_mse_score(model, spec.score_q.bits, spec.score_q.integer)
    return model


def _wide(h):
    """The square of two float Dense layers: exact values of more than 53 significant bits (float32 weights)."""
    from tensorflow import keras

    dense = keras.layers.Dense(2, name="wide_dense_b")(keras.layers.Dense(2, name="wide_dense")(h))
    return keras.layers.Multiply(name="wide_square")([dense, dense])


def random_model(seed: int):
    """A random QKeras model of the supported class, the same for the same seed (see :func:`describe`)."""
    return build(describe(seed))


def as_imported(model):
    """The model as ``l1ad import`` takes it: without an input quantizer, with the default input type stated."""
    from l1ad.firmware.fixed import Fixed
    from l1ad.firmware.reader import DEFAULT_INPUT_TYPE, inputs_without_quantizer, with_input_type

    return with_input_type(model, Fixed.input_type(DEFAULT_INPUT_TYPE)) if inputs_without_quantizer(model) else model


def _input_type(model):
    """The fixed-point type of the quantizer right after the (first) input; a default type without one."""
    from l1ad.common.errors import L1adError
    from l1ad.firmware.fixed import Fixed, quantizer_type

    name = model.inputs[0]._keras_history.layer.name
    for layer in model.layers:
        if type(layer).__name__ == "QActivation" and layer.input._keras_history.layer.name == name:
            try:
                return quantizer_type(layer.quantizer)[0]
            except L1adError:
                break
    return Fixed.quantizer(1, 3, 4)


def random_inputs(model, n: int, seed: int) -> np.ndarray:
    """``n`` events (float32) for the model's input, each value drawn from one of: a normal over the input type's
    range, a rounding tie ((k + 1/2) LSB, k of either parity), beyond the range (saturation), the range's edges and
    their half-LSB neighbours, +-LSB/2 and +-LSB/4, and zero. Negative values are drawn for every type."""
    fixed = _input_type(model)
    rng = np.random.default_rng([seed, 3])
    lsb, low, high = fixed.lsb, min(fixed.min, -fixed.max), fixed.max
    span = max(high - low, 2 * lsb)
    shape = (n, int(np.prod(model.inputs[0].shape[1:])))
    k = rng.integers(int(np.floor(low / lsb)) - 1, int(np.ceil(high / lsb)) + 1, shape)
    edges = np.array([high, fixed.min, high + lsb / 2, fixed.min - lsb / 2, lsb / 2, -lsb / 2, lsb / 4, -lsb / 4])
    beyond = np.where(rng.random(shape) < 0.5, -1.0, 1.0) * (high + lsb + np.abs(rng.normal(0, span, shape)))
    choices = np.stack([rng.normal((low + high) / 2, span / 3, shape), (k + 0.5) * lsb, beyond,
                        edges[rng.integers(len(edges), size=shape)], np.zeros(shape)])
    which = rng.choice(len(choices), size=shape, p=[0.35, 0.3, 0.15, 0.15, 0.05])
    return np.take_along_axis(choices, which[None], 0)[0].astype(np.float32)

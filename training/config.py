"""The training configuration: one YAML file, validated field by field.

The documented default is ``training/configs/default.yaml``; a user's file only needs the fields it
changes. Unknown fields and wrong types are errors that name the field.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from l1ad.common.errors import L1adError

DEFAULT_CONFIG = Path(__file__).parent / "configs" / "default.yaml"


class ConfigError(L1adError, ValueError):
    """A bad configuration; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class QuantizerBits(_Strict):
    """A quantizer's bits as a config writes them, in QKeras' convention: total bits (sign included when signed)
    and integer bits (sign excluded). The firmware's fixed-point types are :class:`l1ad.firmware.fixed.Fixed`."""

    bits: int = Field(ge=1, le=32)
    integer: int = Field(ge=-8, le=24)

    @model_validator(mode="after")
    def _fits(self):
        if self.integer > self.bits + 4:  # integer >= bits: steps of 2^(integer - bits + 1) (signed), coarser than 1
            raise ValueError(f"integer bits ({self.integer}) may exceed total bits ({self.bits}) by at most 4")
        return self


class LayerBits(_Strict):
    """Per-layer override of the default bit widths (any subset)."""

    weights: Optional[QuantizerBits] = None
    biases: Optional[QuantizerBits] = None
    activation: Optional[QuantizerBits] = None


class Quantization(_Strict):
    input: QuantizerBits
    weights: QuantizerBits
    biases: QuantizerBits
    activations: QuantizerBits
    latent: QuantizerBits
    output: QuantizerBits
    score: QuantizerBits
    layers: dict[str, LayerBits] = {}

    @model_validator(mode="after")
    def _signed_need_two_bits(self):
        # QKeras turns a 1-bit signed quantized_bits into a binary +-1 quantizer, not fixed point
        for name in ("input", "weights", "biases", "latent", "output"):
            if getattr(self, name).bits < 2:
                raise ValueError(f"{name}: signed formats need bits >= 2 (QKeras makes 1 bit a binary +-1 quantizer)")
        for layer, bits in self.layers.items():
            for kind in ("weights", "biases"):
                fmt = getattr(bits, kind)
                if fmt is not None and fmt.bits < 2:
                    raise ValueError(f"layers.{layer}.{kind}: signed formats need bits >= 2")
        return self


class Score(_Strict):
    kind: Literal["mse", "mae", "mu2", "student"]
    feature_weights: Literal["uniform", "inverse_variance"]
    weights: QuantizerBits
    residual: Optional[QuantizerBits] = None


class Data(_Strict):
    val_fraction: float = Field(gt=0, lt=1)
    test_fraction: float = Field(gt=0, lt=1)
    signal_train_fraction: float = Field(ge=0, lt=1)
    selection_fraction: float = Field(ge=0, lt=1)
    transform: Literal["standard", "log", "power", "core", "log_core"]
    core_fraction: float = Field(gt=0.2, le=1)


class Model(_Strict):
    kind: Literal["ae", "vae", "student"]
    encoder: list[int]
    latent: int = Field(ge=0)
    decoder: list[int]
    activation: Literal["relu", "tanh"]
    student: list[int]

    @model_validator(mode="after")
    def _positive(self):
        if any(w < 1 for w in self.encoder + self.decoder + self.student):
            raise ValueError("layer widths must be positive")
        return self

    def architecture_string(self) -> str:
        """e.g. '16-12-8-4-2-4-8-12-16' (input and output width 16)."""
        if self.latent == 0:
            return "latent size 0: no hidden layers, the reconstruction is the background core"
        autoencoder = "-".join(str(w) for w in [16, *self.encoder, self.latent, *self.decoder, 16])
        if self.kind == "vae":
            return "-".join(str(w) for w in [16, *self.encoder, self.latent]) + " VAE encoder (decoder off chip)"
        if self.kind == "student":
            return "-".join(str(w) for w in [16, *self.student, 1]) + f" student of the {autoencoder} autoencoder"
        return autoencoder

    def layer_names(self) -> list[str]:
        """Names of the quantized model's dense layers, input side first; used for per-layer bit widths and reports.
        A student's are its own (the autoencoder it learns from is a float model)."""
        if self.kind == "student":
            return [f"student_{i + 1}" for i in range(len(self.student))] + ["log_score"]
        return self.autoencoder_layer_names()

    def autoencoder_layer_names(self) -> list[str]:
        """Names of an autoencoder's dense layers (a student's teacher too), input side first."""
        if self.latent == 0:
            return []
        return ([f"enc_{i + 1}" for i in range(len(self.encoder))] + ["latent"]
                + [f"dec_{i + 1}" for i in range(len(self.decoder))] + ["output"])

    def firmware_layer_names(self) -> list[str]:
        """The dense layers that go on the chip: all of them, or a VAE's encoder and latent means."""
        names = self.layer_names()
        return names[: len(self.encoder) + 1] if self.kind == "vae" else names


class EarlyStopping(_Strict):
    patience: int = Field(ge=1)
    min_delta: float = Field(ge=0)


class Training(_Strict):
    optimizer: Literal["adam", "sgd", "rmsprop"]
    learning_rate: float = Field(gt=0)
    schedule: Literal["constant", "cosine"]
    min_learning_rate: float = Field(ge=0)
    batch_size: int = Field(ge=1)
    epochs: int = Field(ge=1)
    seeds: int = Field(ge=1, le=20)
    early_stopping: EarlyStopping
    variant: Literal["plain", "denoising", "sparse", "contractive"]
    noise_std: float = Field(ge=0)
    latent_l1: float = Field(ge=0)
    contractive_weight: float = Field(ge=0)
    loss: Literal["mse", "huber"]
    target: Literal["quantized", "float"]
    vae_beta: float = Field(ge=0)


class Pruning(_Strict):
    enabled: bool
    target_sparsity: float = Field(ge=0, lt=1)
    begin_epoch: int = Field(ge=0)
    end_epoch: int = Field(ge=1)


class Baselines(_Strict):
    enabled: bool
    gmm_components: int = Field(ge=1)
    distance: bool
    distance_score: QuantizerBits


class Config(_Strict):
    seed: int
    data: Data
    model: Model
    quantization: Quantization
    score: Score
    training: Training
    pruning: Pruning
    baselines: Baselines

    @model_validator(mode="after")
    def _consistent(self):
        names = self.model.layer_names()
        unknown = [n for n in self.quantization.layers if n not in names]
        if unknown:
            raise ValueError(f"quantization.layers names unknown layers {unknown}; layers are {names}")
        if self.data.val_fraction + self.data.test_fraction >= 1:
            raise ValueError("data.val_fraction + data.test_fraction must be below 1")
        if self.pruning.enabled and self.pruning.end_epoch <= self.pruning.begin_epoch:
            raise ValueError("pruning.end_epoch must come after pruning.begin_epoch")
        if self.pruning.enabled and self.model.latent > 0 and self.pruning.end_epoch > self.training.epochs:
            raise ValueError(f"pruning.end_epoch ({self.pruning.end_epoch}) is after the last epoch "
                             f"(training.epochs: {self.training.epochs}): the kept model must be a fully pruned epoch; "
                             "end pruning sooner, train longer, or set pruning.enabled: false")
        if self.training.min_learning_rate > self.training.learning_rate:
            raise ValueError("training.min_learning_rate must not exceed training.learning_rate")
        needs = {"mse": "ae", "mae": "ae", "mu2": "vae", "student": "student"}[self.score.kind]
        if self.model.kind != needs:
            raise ValueError(f"score.kind {self.score.kind} needs model.kind {needs} (mse, mae: an autoencoder's "
                             "reconstruction error; mu2: a VAE's encoder-only score; student: a distilled student's "
                             "output)")
        if self.model.kind == "student" and self.model.latent == 0:
            raise ValueError("model.kind student learns the log-score of a float autoencoder: give it model.latent > 0")
        if self.score.kind == "mae" and self.model.latent == 0:
            raise ValueError("score.kind mae needs a reconstruction (model.latent > 0); the distance baseline is mse")
        if self.model.kind == "vae" and self.score.feature_weights != "uniform":
            raise ValueError("score.feature_weights applies to an autoencoder's squared errors (model.kind ae)")
        if self.model.latent == 0 and (self.model.encoder or self.model.decoder or self.model.kind != "ae"):
            raise ValueError("model.latent 0 (the reconstruction is the origin: the background core of the core "
                             "transforms) takes no encoder or decoder layers and model.kind ae")
        if self.model.latent == 0 and self.score.residual is not None:
            # the residual is the input: a second quantizer right after the input's would be merged into it by
            # hls4ml (one rounding instead of two), so choose the input type instead
            raise ValueError("score.residual: with model.latent 0 the residual is the input; set quantization.input")
        return self

    def bits(self, layer: str, kind: Literal["weights", "biases", "activation"]) -> QuantizerBits:
        """Bit width of a layer's weights, biases or output activation, after per-layer overrides."""
        override = self.quantization.layers.get(layer)
        if override is not None and getattr(override, kind) is not None:
            return getattr(override, kind)
        if kind != "activation":
            return getattr(self.quantization, kind)
        return {"latent": self.quantization.latent, "output": self.quantization.output}.get(
            layer, self.quantization.activations)

    def seeds(self) -> list[int]:
        """The seeds of the QKeras trainings: seed, seed + 1, ... (training.seeds of them)."""
        return [self.seed + k for k in range(self.training.seeds)]

    def distance_baseline(self) -> "Config":
        """The zero-parameter baseline: this run's input transform and input type, no network, the squared distance
        from the origin (the QCD core of the core transforms) with the baseline's own score type."""
        doc = self.to_dict()
        doc["model"].update(kind="ae", encoder=[], latent=0, decoder=[])
        doc["score"].update(kind="mse", feature_weights="uniform", residual=None)
        doc["quantization"].update(score=doc["baselines"]["distance_score"], layers={})
        doc["pruning"]["enabled"] = False
        doc["baselines"].update(enabled=False, distance=False)
        return Config.model_validate(doc)

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")


def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _format(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(top level)"
        got = f" (got {e['input']!r})" if e["type"] not in ("missing",) and not isinstance(e["input"], dict) else ""
        lines.append(f"{source}: {field}: {e['msg']}{got}")
    return "\n".join(lines)


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> Config:
    """The default config, updated by the YAML file at ``path`` and then by ``overrides``."""
    base = yaml.safe_load(DEFAULT_CONFIG.read_text())
    source = str(path) if path else "config"
    if path is not None:
        try:
            user = yaml.safe_load(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {err}") from None
        if user is not None and not isinstance(user, dict):
            raise ConfigError(f"{path}: a config is a mapping of fields, got {type(user).__name__}")
        base = _merge(base, user or {})
    base = _merge(base, overrides or {})
    try:
        return Config.model_validate(base)
    except ValidationError as err:
        raise ConfigError(_format(err, source)) from None

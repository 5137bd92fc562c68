"""The results l1ad records, as typed records (pydantic): each JSON file of a run folder is one record class,
written by :meth:`Record.save` and read back by :meth:`Record.load`, and :mod:`l1ad.render` is the one module that
turns them into markdown, the terminal summary and the README's results. A record refuses a field it does not
declare, so a field is named in one place.

Files: ``metrics.json`` (:class:`Metrics`, training), ``firmware.json`` (:class:`Firmware`, convert),
``validation.json`` (:class:`Validation`), ``rtl.json`` (:class:`Rtl`), ``distance.json`` (:class:`Distance`),
``rates.json`` (:class:`Rates`), ``report.json`` (:class:`Report`), ``run_summary.json`` (:class:`RunSummary`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from .files import read_json, write_json

Interval = tuple[float, float]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, protected_namespaces=())

    def to_dict(self) -> dict:
        """The record as its JSON file holds it: the fields that were set, under their file names."""
        return self.model_dump(exclude_unset=True, by_alias=True)

    def save(self, path: str | Path) -> Path:
        """Write the record (atomically) as JSON; the one writer of l1ad's records."""
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path):
        """Read a record back; the one reader of l1ad's records."""
        return cls.model_validate(read_json(path))

    @classmethod
    def maybe(cls, path: str | Path):
        """The record at ``path``, or None if the file does not exist."""
        return cls.load(path) if Path(path).exists() else None


# --- physics -----------------------------------------------------------------------------------------------

class AtEfficiency(Record):
    threshold: float
    background_efficiency: float
    background_jets_above: int
    background_efficiency_interval: Interval
    signal_efficiency: float
    signal_efficiency_interval: Interval


class SignalFigures(Record):
    n: int
    auc: float
    auc_interval: Optional[Interval] = None
    at_background_efficiency: dict[str, AtEfficiency]


class Figures(Record):
    """A score's figures on one set of test jets: thresholds on the background, AUC and efficiencies per signal."""

    n_background: int
    confidence_level: float
    thresholds: dict[str, float]
    threshold_background_jets: dict[str, int]
    signals: dict[str, SignalFigures]
    background_mean_score: Optional[float] = None
    model: Optional[str] = None  # a baseline's description
    source: Optional[str] = None  # where a baseline's figures come from


class Spread(Record):
    mean: float
    std: float
    min: float
    max: float
    values: list[float]


class SeedSpread(Record):
    seeds: list[int]
    kept_seed: Optional[int]
    kept_by: str
    validation_loss: dict[str, Optional[float]]
    failed: list[int] = []  # seeds whose training failed (background validation loss), outside mean and std
    source: str
    signals: dict[str, dict[str, Spread]]


class Metrics(Record):
    """metrics.json: training's figures on the test split (Keras predict), the seed spread and the baselines."""

    source: str
    trigger: str
    float_: Figures = Field(alias="float")
    qkeras: Figures
    seeds: Optional[SeedSpread] = None
    seeds_selection: Optional[SeedSpread] = None  # the same seeds on the selection half: what choices are made on
    baselines: Optional[dict[str, Figures]] = None
    kl: Optional[dict[str, Figures]] = None  # a VAE scored by its KL term instead of mu^2, per model (off chip)


# --- firmware ------------------------------------------------------------------------------------------

class HlsLayer(Record):
    name: str
    class_: str = Field(alias="class")
    size: int
    inputs: list[str]
    type: str
    accum_type: Optional[str]
    node: str  # the graph node whose values the layer holds
    reuse_factor: Optional[int] = None  # as hls4ml writes it (a Resource layer's closest valid one to the asked)


class Firmware(Record):
    """firmware.json: the project a run was converted to (the project's own l1ad.json, and where it is)."""

    project_id: str
    options: dict[str, Any]
    inputs: list[str]
    input_sizes: list[int]
    input_types: list[str]
    output_names: list[str]
    outputs: list[str]
    output_types: list[str]
    output_sizes: list[int]
    output_variables: list[str]
    layers: list[HlsLayer]
    tb_events: int
    hls4ml_version: str
    run: Optional[str] = None
    threshold: Optional[float] = None
    threshold_source: Optional[str] = None
    threshold_mode: Optional[str] = None
    project_dir: Optional[str] = None


class Agreement(Record):
    compared: int
    bit_identical: int
    fraction: float
    max_abs_difference: Optional[float] = None
    widest_bits: Optional[int] = None  # the widest value compared, in bits (compared as exact integers)


class AuditRow(Record):
    layer: str
    keras: str
    what: str
    type: str
    type_min: float
    type_max: float
    observed_min: float
    observed_max: float
    values: int
    rounded: int
    saturated: int
    wrapped: int


class Audit(Record):
    layers: list[AuditRow]
    total_saturated: int
    total_wrapped: int
    layers_without_counterpart: list[str]


class TraceRow(Record):
    layer: str
    node: Optional[str] = None
    identical_events: Optional[int]
    note: Optional[str] = None


class Trace(Record):
    run: bool
    reason: Optional[str] = None
    events: Optional[int] = None
    layers: list[TraceRow] = []
    layers_compared: Optional[int] = None
    layers_not_compared: list[str] = []
    project_sources_identical: Optional[bool] = None
    first_divergent_layer: Optional[str] = None
    first_divergent_node: Optional[str] = None
    complete: Optional[bool] = None
    mismatched_events_traced: Optional[int] = None


class TriggerBit(Record):
    threshold: float
    threshold_source: str
    threshold_mode: Optional[str]
    matches_score_above_threshold: bool
    fires_on_events: float


class ValidationPhysics(Record):
    float_: Optional[Figures] = Field(None, alias="float")
    qkeras: Figures
    csim: Figures
    spearman_float_vs_csim: Optional[float] = None
    same_trigger_decision_float_vs_csim: Optional[dict[str, float]] = None
    sources: dict[str, str]


class WorstEvent(Record):
    index: int
    class_: Optional[str] = Field(alias="class")
    csim: float
    exact: float
    difference_lsb: float


class InputType(Record):
    """The input type l1ad stated for a model without input quantizer, and what it did to the inputs validated."""

    type: str
    layer: str
    rounding: str
    overflow: str
    values: int
    changed: int
    saturated: int


class Validation(Record):
    """validation.json: the C simulation against the exact reference on every event, the audit, the physics."""

    events: int
    events_source: str
    run: str
    project_dir: str
    reference: str
    csim_vs_exact_qkeras: dict[str, Agreement]
    audit: Audit
    testbench: Optional[dict[str, Agreement]] = None
    trace: Trace
    checks: dict[str, bool]
    passed: bool
    timings: dict[str, float]
    events_by_class: Optional[dict[str, int]] = None
    worst_events: Optional[list[WorstEvent]] = None
    trigger_bit: Optional[TriggerBit] = None
    physics: Optional[ValidationPhysics] = None
    physics_skipped: Optional[str] = None
    throughput_events_per_s: dict[str, float]
    input_type: Optional[InputType] = None


# --- the open RTL flow -----------------------------------------------------------------------------------

class Latency(Record):
    cycles: int
    initiation_interval: int
    target_clock_mhz: float
    ns_at_target_clock: float
    latency_cutoff_adder_levels: int
    source: str
    shifted_by_one_event_identical_fraction: float
    note: str


class Da4mlEstimate(Record):
    lut_equivalent_cost: float
    register_bits: int
    stage_delays_adder_levels: list[float]
    source: str


class Cells(Record):
    """yosys cell counts (a design's, or a part's)."""

    LUT: Optional[int] = None
    FF: Optional[int] = None
    CARRY: Optional[int] = None
    DSP: Optional[int] = None
    BRAM: Optional[int] = None
    SRL: Optional[int] = None
    MUXF: Optional[int] = None


class Yosys(Cells):
    cells: dict[str, int]
    source: str
    version: str


class Cutoff(Record):
    latency_cutoff: int
    cycles: int
    worst_stage_estimated_ns: Optional[float]


class TimingStage(Record):
    stage: int
    LUT: int
    CARRY: int
    lut_levels: int
    logic_levels: int
    estimated_ns: float
    da4ml_delay_adder_levels: float


class TimingEstimate(Record):
    source: str
    clock_period_ns: float
    worst_stage: int
    worst_stage_ns: float
    slack_ns: float
    meets_clock: bool
    cutoffs_tried: list[Cutoff]
    stages: list[TimingStage]


class Part(Cells):
    layers: list[str]
    da4ml_lut_equivalent_cost: float
    cycles_alone: int


class Breakdown(Record):
    parts: dict[str, Part]
    source: str


class Rtl(Record):
    """rtl.json: the da4ml pipeline simulated (Verilator) against csim, latency, yosys cells, timing estimate."""

    outputs: list[str]
    events: int
    bit_exact: bool
    latency: Latency
    da4ml_estimate: Da4mlEstimate
    dsp_allowed: bool
    build_dir: str
    tools: dict[str, str]
    yosys: Optional[Yosys] = None
    timing_estimate: Optional[TimingEstimate] = None
    breakdown: Optional[Breakdown] = None
    timings: dict[str, float]
    rtl_vs_csim: dict[str, Agreement]
    model: str


class Distance(Record):
    """distance.json: the zero-parameter baseline through the default's firmware chain."""

    model: str
    events: int
    csim_vs_exact_qkeras: dict[str, Agreement]
    rtl_vs_csim: dict[str, Agreement]
    threshold: float
    threshold_source: str
    checks: dict[str, bool]
    passed: bool
    physics: Figures
    physics_source: str
    project_dir: str
    latency: Latency
    da4ml_estimate: Da4mlEstimate
    yosys: Optional[Yosys] = None
    timing_estimate: Optional[TimingEstimate] = None
    build_dir: str


class RateSignal(Record):
    n: int
    passed: int
    signal_efficiency: float
    signal_efficiency_interval: Interval


class RateLevel(Record):
    background_efficiency_target: float
    threshold: float
    background_jets_above: int
    background_efficiency: float
    background_efficiency_interval: Interval
    signals: dict[str, RateSignal]


class Rates(Record):
    """rates.json: thresholds from a large background-only sample and the efficiencies they give."""

    background_file: str
    background_sha256: str
    project_dir: str
    threshold: Optional[float]
    background_jets: int
    background_classes: list[str]
    signal_source: str
    csim_vs_exact_qkeras: dict[str, Agreement]
    passed: bool
    checks: dict[str, bool]
    levels: list[RateLevel]
    min_jets_above: int
    source: str
    seconds: float


# --- the report ------------------------------------------------------------------------------------------

class ModelLayer(Record):
    layer: str
    inputs: int
    units: int
    weights: str
    biases: str
    activation: str


class ModelSummary(Record):
    kind: str
    layers: list[ModelLayer]
    parameters: int
    nonzero_parameters: int
    architecture: str
    variant: Optional[str] = None
    score: Optional[str] = None
    transform: Optional[str] = None
    pruning: Optional[float] = None
    model_file: Optional[str] = None


class HardwareRow(Record):
    source: str
    short: str
    latency_cycles: Optional[int]
    ii: Optional[int]
    clock: str
    LUT: Optional[int]
    FF: Optional[int]
    DSP: Optional[int]
    BRAM: Optional[int]
    CARRY: Optional[int]


class BitExactness(Record):
    csim_vs_exact_qkeras: Optional[dict[str, Agreement]]
    testbench_vs_exact_qkeras: Optional[dict[str, Agreement]]
    fixed_point_audit: Optional[dict[str, int]]
    trigger_bit: Optional[TriggerBit]
    rtl_vs_csim: Optional[dict[str, Agreement]]
    input_type: Optional[InputType] = None  # a stated input type (model without input quantizer)
    batchnorm: Optional[dict] = None  # imported models: the type of float BatchNormalization constants (import.json)
    leaky_relu: Optional[dict] = None  # imported models: the type LeakyReLU slopes were rounded to (import.json)
    average_pool: Optional[dict] = None  # imported models: the type 1/N of average pools was rounded to


class Cost(Record):
    LUT: Optional[int]
    cycles: int


class Anchor(Record):
    system: str
    citation: str
    latency: str
    resources: str
    verified: bool


class RtlDetails(Record):
    breakdown: Optional[Breakdown] = None
    timing_estimate: Optional[TimingEstimate] = None


class Report(Record):
    """report.json: everything the report shows, gathered from the run's other records."""

    run: str
    data: dict[str, Any]
    model: ModelSummary
    physics: Optional[ValidationPhysics | Metrics]
    physics_source: str
    baselines: Optional[dict[str, Figures]]
    baseline_costs: dict[str, Cost]
    seeds: Optional[SeedSpread]
    rates: Optional[Rates]
    bit_exactness: BitExactness
    hardware: list[HardwareRow]
    hardware_missing: list[str]
    rtl: RtlDetails
    anchors: list[Anchor]


class StageTime(Record):
    name: str
    status: str
    seconds: float
    detail: str


class RunSummary(Record):
    """run_summary.json: the stages of ``l1ad run`` with their status and wall time."""

    run: str
    total_seconds: float
    stages: list[StageTime]
    passed: bool
    failures: list[str]

"""``l1ad run``: the whole workflow on one run, stage by stage, with a summary at the end.

Stages: train, convert, validate (csim both ways), rtl (da4ml + Verilator + yosys), the distance baseline through
the same chain (its LUTs and cycles), vendor synthesis
(only where Vitis/Vivado HLS is installed; otherwise reported as skipped with the reason), report.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from l1ad.common.errors import L1adError
from l1ad.common.device import DEFAULT_CLOCK_MHZ
from l1ad.common.processes import end_with_parent
from l1ad.common.records import RunSummary


STAGE_NAMES = {"convert": "convert", "validate": "validate (csim, bit-exactness)",
               "rtl": "rtl (da4ml, Verilator, yosys)"}
STAGE_ORDER = ("train", *STAGE_NAMES.values(), "distance baseline (hls4ml, csim, RTL)", "vendor synthesis", "report")


@dataclass
class Stage:
    name: str
    status: str = "pending"  # done, reused, skipped, failed
    seconds: float = 0.0
    detail: str = ""


@dataclass
class Pipeline:
    run: Path
    config: Path | None = None
    data: Path | None = None
    restart: bool = False
    clock_mhz: float = DEFAULT_CLOCK_MHZ
    breakdown: bool = False  # per-part resources (each part synthesized on its own; `l1ad rtl` does it by default)
    synthesize: bool = True  # yosys; without it the RTL stage gives latency and bit-exactness only
    echo: Callable[[str], None] = print
    stages: list[Stage] = field(default_factory=list)

    def _stage(self, name: str, action: Callable[[], str | None]) -> Stage:
        stage = Stage(name)
        self.stages.append(stage)
        self.echo(f"[{len(self.stages)}/{len(STAGE_ORDER)}] {name}")
        start = time.perf_counter()
        try:
            stage.status, stage.detail = "done", action() or ""
        except _Reused as reused:
            stage.status, stage.detail = "reused", str(reused)
        except _Skip as skip:
            stage.status, stage.detail = "skipped", str(skip)
        except Exception as err:
            stage.status, stage.detail = "failed", f"{type(err).__name__}: {err}"
            raise
        finally:
            stage.seconds = time.perf_counter() - start
            self.echo(f"      {stage.status} in {stage.seconds:.1f} s{': ' + stage.detail if stage.detail else ''}")
        return stage

    _run: object = field(default=None, init=False, repr=False)  # the Run every stage after training shares
    _failures: list[str] = field(default_factory=list, init=False, repr=False)
    _beside: dict = field(default_factory=dict, init=False, repr=False)  # the distance baseline, in its own process

    def execute(self) -> RunSummary:
        steps = [("train", self._train), ("firmware", self._firmware), ("distance baseline (hls4ml, csim, RTL)",
                 self._distance), ("vendor synthesis", self._vendor), ("report", self._report)]
        start = time.perf_counter()
        before = set(multiprocessing.active_children())
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=end_with_parent)
        # da4ml's numba kernels: a cache load of a second or two after make's install compiled them; otherwise
        # (another install) a minute of compilation beside the training, not in front of the RTL stage
        self._warm = self._pool.submit(_warm_up)
        try:
            for name, action in steps:
                if name == "firmware":
                    action()
                else:
                    self._stage(name, action)
        except BaseException as err:
            # a failed stage ends the run now, not after the distance baseline's build in the other process
            self._pool.shutdown(wait=False, cancel_futures=True)
            for child in set(multiprocessing.active_children()) - before:
                child.terminate()
            if str(err) not in self._failures:
                self._failures.append(f"{self.stages[-1].name}: {err}" if self.stages else str(err))
            raise
        else:
            self._pool.shutdown()
        finally:
            summary = RunSummary(run=str(self.run), total_seconds=time.perf_counter() - start,
                                 stages=[vars(s) for s in self.stages], passed=not self._failures,
                                 failures=self._failures)
            if (self.run / "status.json").exists():  # only into a run folder l1ad made
                summary.save(self.run / "run_summary.json")
        return summary

    def _fail(self, message: str):
        self._failures.append(message)
        raise L1adError(message)

    def _train(self):
        from l1ad.common.files import run_state
        from l1ad.runs import Run
        from l1ad.training.config import load_config
        from l1ad.training.train import config_changes, fit

        if run_state(self.run) == "complete" and not self.restart:
            self._run = Run(self.run)
            self._run.data_path()  # a finished run is reused only if its data file and its config are unchanged
            changed = config_changes(self.run, load_config(self.config))
            if changed:
                self._fail(f"{self.run} was trained with another config ({'; '.join(changed[:5])}"
                           f"{'; ...' if len(changed) > 5 else ''}): pass --restart to train it again with this one, "
                           "or --out for a new run")
            raise _Reused(f"finished run {self.run} (pass --restart to train again)")
        resume = run_state(self.run) == "training" and not self.restart
        trained = fit(load_config(self.config), self.data, self.run, resume=resume, restart=self.restart,
                      workers=training_workers())
        self._run = Run(self.run, trained)
        return "resumed an interrupted run" if resume else ""

    def _firmware(self):
        """convert, validate and rtl: the run's chain (:func:`l1ad.stages.chain`), each a stage of its own."""
        from l1ad.stages import chain

        def step(name: str, action):
            made = {}

            def run():
                made["value"] = action()
                return getattr(self, f"_after_{name}")(made["value"])

            self._stage(STAGE_NAMES[name], run)
            return made["value"]

        validation, hardware = chain(self._run, validate={}, step=step,
                                     rtl=dict(clock_mhz=self.clock_mhz, breakdown=self.breakdown,
                                              synthesize=self.synthesize))
        if hardware is None:
            self._fail("validation failed: no RTL built for firmware that is not exact")

    def _after_convert(self, project) -> str:
        if self._run.distance_model is not None:
            events = (self._run.test_events(), self._run.threshold_events)  # handed over: read no data file again
            self._beside["distance"] = self._pool.submit(_distance, self.run, events, self.clock_mhz, self.synthesize)
        return f"project {project}"

    def _after_validate(self, doc) -> str:
        score = doc.csim_vs_exact_qkeras["score"]
        if not doc.passed:
            self._fail("validation: " + ", ".join(k for k, ok in doc.checks.items() if not ok))
        self._warm.result()  # the RTL stage comes next: da4ml's kernels ready
        return f"{score.bit_identical:,}/{score.compared:,} scores bit-identical"

    def _after_rtl(self, doc) -> str:
        if not doc.bit_exact:
            self._fail("RTL simulation differs from csim")
        return (f"{doc.latency.cycles} cycles, II {doc.latency.initiation_interval}"
                + ("" if self.synthesize else "; yosys skipped (--no-synth)"))

    def _distance(self):
        if "distance" not in self._beside:
            raise _Skip("this run has no distance baseline (baselines.distance off, or the model has no network)")
        doc, seconds = self._beside.pop("distance").result()
        if not doc.passed:
            self._fail("distance baseline: " + ", ".join(k for k, ok in doc.checks.items() if not ok))
        cost = f", {doc.yosys.LUT:,} LUT" if doc.yosys else ""
        return (f"bit-exact in csim and RTL, {doc.latency.cycles} cycles{cost} ({seconds:.0f} s in a process "
                "beside validate and rtl)")

    def _vendor(self):
        from l1ad.firmware.vendor import TOOLS, find_tool, synth
        from l1ad.stages import firmware_record

        info = firmware_record(self._run)
        backend = info.options["backend"]
        tool = find_tool(backend)
        if tool is None:
            raise _Skip(f"none of {', '.join(TOOLS[backend])} on PATH (the hls4ml project can be synthesized "
                        "elsewhere: see docs/guide/firmware.md, 'Vendor synthesis')")
        synth(info.project_dir)
        return f"{tool} C synthesis"

    def _report(self):
        from l1ad.report import write_report

        return str(write_report(self._run))


def training_workers() -> int:
    """Processes for the trainings of the command line: one per core, at most two (the trainings of a run are few)."""
    import os

    return int(os.environ.get("L1AD_TRAIN_WORKERS", min(2, os.cpu_count() or 1)))


def _warm_up() -> None:
    from l1ad.firmware.da4ml_cache import warm_up

    warm_up()


def _distance(run: Path, events: tuple, clock_mhz: float, synthesize: bool) -> tuple[dict, float]:
    """The distance baseline's stage, run in a worker process on the run's (test, threshold) events: its record and
    its own wall time."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from l1ad.runs import Run
    from l1ad.stages import distance_run

    start = time.perf_counter()
    doc = distance_run(Run(run, events=events), clock_mhz=clock_mhz, synthesize=synthesize, progress=False)
    return doc, time.perf_counter() - start


class _Skip(Exception):
    """A stage that cannot run here, with the reason."""


class _Reused(Exception):
    """A stage whose result already exists, with what was reused."""

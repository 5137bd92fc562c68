"""Shared test helpers: small valid jet tables, and one trained, converted run built once per test session.

The shared run is built by whichever pytest-xdist worker gets there first (a file lock guards it) and reused
by every test and notebook that only reads a run; tests that change a run copy it first. da4ml's numba kernels
are compiled (once per environment, about 50 s on one core) in the background while the first tests run;
tests marked ``da4ml`` wait for them.
"""

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

# csim builds in tests: the speed of the C++ does not matter here, the compile time does
os.environ.setdefault("L1AD_CSIM_OPT", "-O1")
os.environ.setdefault("L1AD_VERILATOR_OPT", "-O0")  # Verilator builds: compile time matters, not simulation speed
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# one thread per TensorFlow op: two workers (and their notebooks, Ray tasks) already fill the two cores, and
# threads waiting for a busy core only spin
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("L1AD_TRAIN_WORKERS", "1")  # trainings in process: the two test workers fill the cores
sys.path.insert(0, str(Path(__file__).parent))  # helper modules next to the tests

import pandas as pd  # noqa: E402

from l1ad.training.features import LABEL  # noqa: E402

# a deeper autoencoder like an earlier default of l1ad's (exact residual, standardized inputs)
AE = {"model": {"encoder": [12, 8, 4], "latent": 2, "decoder": [4, 8, 12]}, "data": {"transform": "standard"},
      "quantization": {"input": {"bits": 12, "integer": 4}, "score": {"bits": 16, "integer": 8}},
      "score": {"residual": None}}

# narrow types, so that Verilator and yosys finish quickly (yosys under WebAssembly: several seconds per 1,000 LUTs)
NARROW = {"quantization": {"input": {"bits": 8, "integer": 3}, "weights": {"bits": 4, "integer": 1},
                           "biases": {"bits": 4, "integer": 1}, "activations": {"bits": 6, "integer": 3},
                           "latent": {"bits": 6, "integer": 3}, "output": {"bits": 8, "integer": 3},
                           "score": {"bits": 12, "integer": 6}},
          "score": {"residual": {"bits": 4, "integer": 2}}}
SHARED_CONFIG = {**NARROW, "model": {"encoder": [4], "latent": 2, "decoder": [4]},
                 "training": {"epochs": 3, "batch_size": 128, "seeds": 1}, "pruning": {"enabled": False},
                 "baselines": {"enabled": False, "gmm_components": 1}}  # the baselines: test_cli's run


def pytest_configure(config):
    """Stop before any test if pytest-xdist cannot group tests (with pytest 9.2, pytest-xdist 3.8's loadgroup
    fails silently, pytest-dev/pytest-xdist#1386, and a group's shared fixtures are built on every worker); then
    start compiling da4ml's kernels in the background, once per session, in the controller (the workers
    inherit its environment)."""
    from importlib.metadata import version

    from packaging.version import Version

    if config.getoption("dist", None) == "loadgroup" and Version(pytest.__version__) >= Version("9.2") \
            and Version(version("pytest-xdist")) <= Version("3.8.0"):
        raise pytest.UsageError(f"pytest {pytest.__version__} with pytest-xdist {version('pytest-xdist')} does not "
                                "group tests (--dist loadgroup); install requirements.lock's test tools "
                                "(make test does)")
    os.environ["L1AD_STRICT_FIGURES"] = "1"  # every figure a test makes must show its data (common/style.py)
    if "PYTEST_XDIST_WORKER" not in os.environ and "L1AD_BUILD_CACHE" not in os.environ:
        # compiled simulations shared by every copy of a project (e.g. of the shared run) in this session
        config.l1ad_builds = tempfile.mkdtemp(prefix="l1ad-builds-")
        os.environ["L1AD_BUILD_CACHE"] = config.l1ad_builds
    if "PYTEST_XDIST_WORKER" not in os.environ and not config.option.collectonly:
        done = Path(tempfile.mkdtemp(prefix="l1ad-da4ml-")) / "ready"
        script = ("import sys\ntry:\n    from l1ad.firmware.da4ml_cache import warm_up\n    warm_up()\n"
                  "finally:\n    open(sys.argv[1], 'w').write('done')\n")
        with open(done.parent / "warm_up.log", "w") as log:  # a no-op of a second or two when already cached
            config.l1ad_warm_up = subprocess.Popen([sys.executable, "-c", script, str(done)], stdout=log, stderr=log)
        os.environ["L1AD_DA4ML_READY"] = f"{done}:{config.l1ad_warm_up.pid}"


def pytest_unconfigure(config):
    if getattr(config, "l1ad_builds", None) is not None:
        shutil.rmtree(os.environ.pop("L1AD_BUILD_CACHE"), ignore_errors=True)
    if getattr(config, "l1ad_warm_up", None) is not None:
        try:
            config.l1ad_warm_up.wait(timeout=600)  # finished, so the next session finds the kernels cached
        except subprocess.TimeoutExpired:
            config.l1ad_warm_up.kill()
            config.l1ad_warm_up.wait()
        shutil.rmtree(Path(os.environ.pop("L1AD_DA4ML_READY").rsplit(":", 1)[0]).parent, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """Long units first (whole chains, and groups of tests that share a fixture), the short tests after them,
    so that the two workers finish together; among them, those that need da4ml last, so that its kernels are
    compiled (in the background) by the time they start."""
    def key(item):
        long = item.get_closest_marker("slow") or item.get_closest_marker("xdist_group")
        return (not long, long and item.get_closest_marker("da4ml") is not None)

    items.sort(key=key)


@pytest.fixture(autouse=True)
def _da4ml_ready(request):
    """Tests marked ``da4ml`` start once the background compilation of its kernels has finished (or died)."""
    if request.node.get_closest_marker("da4ml") is None or "L1AD_DA4ML_READY" not in os.environ:
        return
    done, pid = os.environ["L1AD_DA4ML_READY"].rsplit(":", 1)
    deadline = time.monotonic() + 900
    while not Path(done).exists() and time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] == "Z":
                break  # killed: the test compiles what it needs itself
        except OSError:
            break
        time.sleep(0.5)


@functools.lru_cache(maxsize=1)
def _embedded() -> pd.DataFrame:
    from l1ad.training.datasets import DEFAULT_SAMPLE
    from l1ad.training.io import load_jets

    return load_jets(DEFAULT_SAMPLE)


def make_jets(n_per_class: int = 40, seed: int = 0) -> pd.DataFrame:
    """``n_per_class`` real jets of each class, drawn from the embedded sample with ``seed``."""
    table = _embedded()
    return (table.groupby(LABEL, group_keys=False).sample(n_per_class, random_state=seed)
            .sort_values(LABEL, kind="stable").reset_index(drop=True))


@pytest.fixture
def jets() -> pd.DataFrame:
    return make_jets()


def _build_shared_run(root: Path) -> Path:
    from l1ad.stages import convert_run, validate_run
    from l1ad.training.config import load_config
    from l1ad.training.io import write_jets
    from l1ad.training.train import train

    data = write_jets(make_jets(400, seed=1), root / "jets.parquet", {"test": "shared run"})
    run = train(load_config(overrides=SHARED_CONFIG), data, root / "run", progress=False, figures=False)
    convert_run(run, root / "hls")
    assert validate_run(run).passed
    return run


@pytest.fixture(scope="session")
def shared_run(tmp_path_factory) -> Path:
    """A trained, converted and validated run (read it; copy it with ``copy_run`` to change it)."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp().parent / "shared"  # the same folder for every xdist worker
    root.mkdir(exist_ok=True)
    with FileLock(str(root) + ".lock"):
        if not (root / "done").exists():
            _build_shared_run(root)
            (root / "done").write_text("ok")
    return root / "run"


def copy_run(run: Path, target: Path, firmware: bool = False) -> Path:
    """A copy of a finished run that a test may convert and change: without its firmware records, or with
    ``firmware`` its conversion and validation records (the copy then reads, never writes, the run's project)."""
    records = ["rtl.json", "evaluations", "report.*"] + ([] if firmware else ["firmware.json", "validation.json"])
    shutil.copytree(run, target, ignore=shutil.ignore_patterns(*records))
    return target


class Calls:
    """Counts calls of library functions in this process, keyed by what they were called with.

    ``watch(owner, name, key)`` replaces the function wherever an l1ad module holds it (``from x import f``
    copies included; a method on its class); ``calls[name]`` is a Counter of ``key(*args, **kwargs)``."""

    def __init__(self, monkeypatch):
        self.monkeypatch, self.counts = monkeypatch, {}

    def __getitem__(self, name):
        return self.counts[name]

    def watch(self, owner, name: str, key):
        import collections

        original = getattr(owner, name)
        counter = self.counts.setdefault(name, collections.Counter())

        def counted(*args, **kwargs):
            counter[key(*args, **kwargs)] += 1
            return original(*args, **kwargs)

        if isinstance(owner, type):
            self.monkeypatch.setattr(owner, name, counted)
            return
        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("l1ad") and getattr(module, name, None) is original:
                self.monkeypatch.setattr(module, name, counted)


@pytest.fixture
def calls(monkeypatch) -> Calls:
    return Calls(monkeypatch)

"""Guards: l1ad never removes a folder it did not make, keeps runs apart, refuses changed data, and its exit
codes say what went wrong (1: input or environment, 2: usage; a bug keeps its traceback)."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import copy_run
from l1ad.cli import app

FIXTURE = Path(__file__).parent / "fixtures" / "vendor_vu9p"


def _user_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "thesis.tex").write_text("months of work")
    return path


@pytest.mark.parametrize("command", ["convert", "rtl"])
def test_out_on_a_foreign_folder_refuses_and_leaves_it_intact(command, shared_run, tmp_path):
    run = shared_run if command == "rtl" else copy_run(shared_run, tmp_path / "run")
    target = _user_folder(tmp_path / "mine")
    result = CliRunner().invoke(app, [command, str(run), "--out", str(target)])
    assert result.exit_code == 1, result.output
    assert "not made by l1ad" in result.output and "mine" in result.output
    assert [p.name for p in target.iterdir()] == ["thesis.tex"]
    assert (target / "thesis.tex").read_text() == "months of work"


def test_out_dot_is_refused(shared_run, tmp_path, monkeypatch):
    run = copy_run(shared_run, tmp_path / "run")
    monkeypatch.chdir(_user_folder(tmp_path / "work"))
    result = CliRunner().invoke(app, ["convert", str(run), "--out", "."])
    assert result.exit_code == 1 and (tmp_path / "work" / "thesis.tex").exists()


def test_runs_with_the_same_name_keep_separate_projects(shared_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b = copy_run(shared_run, tmp_path / "a" / "x"), copy_run(shared_run, tmp_path / "b" / "x")
    for run in (a, b):
        assert CliRunner().invoke(app, ["convert", str(run)]).exit_code == 0
    project_a = Path(json.loads((a / "firmware.json").read_text())["project_dir"])
    project_b = Path(json.loads((b / "firmware.json").read_text())["project_dir"])
    assert project_a != project_b and project_a.parent == project_b.parent == (tmp_path / "hls_projects").resolve()
    assert project_a.name.startswith("x-") and project_a.exists() and project_b.exists()


def test_report_reads_only_the_runs_own_vendor_reports(shared_run, tmp_path):
    from l1ad.report import gather

    a, b = copy_run(shared_run, tmp_path / "a"), copy_run(shared_run, tmp_path / "b")
    runner = CliRunner()
    assert runner.invoke(app, ["convert", str(a), "--out", str(tmp_path / "p")]).exit_code == 0
    shutil.copytree(FIXTURE / "myproject_prj", tmp_path / "p" / "myproject_prj")
    assert any("C synthesis" in r.source for r in gather(a).hardware)
    # run b is converted into the same folder: run a's reports are gone, and a must not claim b's
    assert runner.invoke(app, ["convert", str(b), "--out", str(tmp_path / "p")]).exit_code == 0
    shutil.copytree(FIXTURE / "myproject_prj", tmp_path / "p" / "myproject_prj")
    doc = gather(a)
    assert not any("C synthesis" in r.source for r in doc.hardware)
    assert any("overwritten by another conversion" in m for m in doc.hardware_missing)
    assert any("C synthesis" in r.source for r in gather(b).hardware)


def test_an_edited_data_file_is_refused(shared_run, tmp_path):
    run = copy_run(shared_run, tmp_path / "run")
    data = tmp_path / "data.parquet"
    shutil.copy(json.loads((run / "data.json").read_text())["path"], data)
    info = json.loads((run / "data.json").read_text())
    (run / "data.json").write_text(json.dumps({**info, "path": str(data)}))
    assert CliRunner().invoke(app, ["convert", str(run), "--out", str(tmp_path / "ok")]).exit_code == 0
    data.write_bytes(data.read_bytes()[:-20] + b"x" * 20)  # a changed file, same size
    for command in (["convert", str(run), "--out", str(tmp_path / "p2")], ["validate", str(run)],
                    ["evaluate", str(run)]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 1, (command, result.output)
        assert "data.parquet changed since run" in result.output and "sha256" in result.output
    assert not (tmp_path / "p2").exists()


def test_exit_codes(shared_run, tmp_path, monkeypatch):
    runner = CliRunner()
    usage = runner.invoke(app, ["validate", str(shared_run), "--trace", "sometimes"])
    assert usage.exit_code == 2  # click's usage error
    user = runner.invoke(app, ["convert", str(tmp_path / "absent")])
    assert user.exit_code == 1 and "does not exist" in user.output
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("training:\n  epochs: many\n")
    config = runner.invoke(app, ["train", "--config", str(bad_config), "--out", str(tmp_path / "r")])
    assert config.exit_code == 1 and "training.epochs" in config.output and not (tmp_path / "r").exists()

    import l1ad.stages

    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(l1ad.stages, "validate_run", bug)
    crash = runner.invoke(app, ["validate", str(shared_run)])
    assert isinstance(crash.exception, ZeroDivisionError)  # not turned into a one-line "error:"
    assert "error: a bug" not in crash.output


def test_pool_workers_end_with_a_killed_parent(tmp_path):
    """A parent killed by a signal (SIGKILL: no clean-up runs) leaves no pool worker computing for nobody; a killed
    `l1ad generate` used to leave its two Pythia workers running."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import multiprocessing, os, sys, time\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from l1ad.common.processes import end_with_parent\n"
        "if __name__ == '__main__':\n"
        "    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('spawn'), initializer=end_with_parent)\n"
        "    print(pool.submit(os.getpid).result(), flush=True)\n"
        "    pool.submit(time.sleep, 600)\n"
        "    time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(worker, signal.SIGKILL)
        raise AssertionError("the worker outlived its killed parent")


@pytest.mark.parametrize("failing", ["validate", "rtl"])
def test_run_summary_fails_when_any_stage_fails_or_is_not_exact(tmp_path, monkeypatch, failing):
    """`passed` in run_summary.json is false whenever a stage is not exact (validate, through the pipeline's own
    failure) or fails with an error (rtl crashing here), never true by default."""
    from l1ad.common.errors import L1adError
    from l1ad.common.files import write_json
    from types import SimpleNamespace as NS

    from l1ad.common.records import RunSummary
    from l1ad.pipeline import Pipeline

    import l1ad.stages as stages

    def fake(passed: bool, rtl_fails: bool):
        validation = NS(passed=passed, checks={"all_outputs_bit_identical": passed},
                        csim_vs_exact_qkeras={"score": NS(bit_identical=1, compared=1)})
        monkeypatch.setattr(stages, "convert_run", lambda *a, **k: "project")
        monkeypatch.setattr(stages, "validate_run", lambda *a, **k: validation)
        monkeypatch.setattr(stages, "rtl_run", lambda *a, **k: 1 / 0 if rtl_fails else NS(
            bit_exact=True, latency=NS(cycles=3, initiation_interval=1)))

    def pipeline_in(folder):
        folder.mkdir()
        write_json(folder / "status.json", {"state": "complete"})
        pipeline = Pipeline(folder, echo=lambda line: None)
        for name in ("_train", "_distance", "_vendor", "_report"):
            monkeypatch.setattr(pipeline, name, lambda: "fine")
        pipeline._run = NS(distance_model=None)
        return pipeline

    run = tmp_path / "r"
    pipeline = pipeline_in(run)
    fake(passed=failing != "validate", rtl_fails=failing == "rtl")
    with pytest.raises((L1adError, ZeroDivisionError)):
        pipeline.execute()
    summary = RunSummary.load(run / "run_summary.json")
    assert summary.passed is False and len(summary.failures) == 1
    assert summary.stages[-1].status == "failed" and summary.stages[-1].name.startswith(failing)
    fine = pipeline_in(tmp_path / "g")
    fake(passed=True, rtl_fails=False)
    assert fine.execute().passed is True

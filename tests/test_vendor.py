"""Vendor report reading (hls4ml's parser underneath) on fixtures, the shared real reports, and broken files."""

import shutil
from pathlib import Path

import pytest

from l1ad.firmware.vendor import ReportError, ToolMissing, read_vendor_reports, synth

FIXTURE = Path(__file__).parent / "fixtures" / "vendor_vu9p"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference" / "vivado_report_sample"


@pytest.fixture
def project(tmp_path):
    return Path(shutil.copytree(FIXTURE, tmp_path / "prj"))


def test_fixture_numbers(project):
    reports = read_vendor_reports(project)
    c = reports["csynth"]
    assert (c["latency_cycles_best"], c["latency_cycles_worst"], c["interval_min"], c["interval_max"]) == (9, 11, 1, 1)
    assert c["target_clock_ns"] == 5.0 and c["estimated_clock_ns"] == 3.412
    assert c["used"] == {"DSP": 12, "LUT": 18734, "FF": 3521, "BRAM_18K": 0, "URAM": 0}
    assert c["available"]["LUT"] == 1182240 and c["percent"]["LUT"] == pytest.approx(100 * 18734 / 1182240)
    v = reports["vivado_synth"]
    assert v["used"]["LUT"] == 11042 and v["used"]["FF"] == 2876 and v["used"]["DSP"] == 9
    assert "Vivado logic synthesis" in v["source"] and "C synthesis estimate" in c["source"]


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/reference is not beside this checkout")
def test_real_vivado_hls_2020_reports(tmp_path):
    """The real Vivado HLS 2020.1 files, laid out as an hls4ml project at test time (not copied into git)."""
    prj = tmp_path / "prj"
    report_dir = prj / "myproject_prj" / "solution1" / "syn" / "report"
    report_dir.mkdir(parents=True)
    (prj / "project.tcl").write_text('set project_name "myproject"\nset backend "vivado"\n')
    shutil.copy(SHARED / "vivado_hls.app", prj / "myproject_prj" / "vivado_hls.app")
    shutil.copy(SHARED / "myproject_csynth.xml", report_dir)
    shutil.copy(SHARED / "vivado_synth.rpt", prj)
    reports = read_vendor_reports(prj)
    c, v = reports["csynth"], reports["vivado_synth"]
    assert (c["latency_cycles_best"], c["latency_cycles_worst"], c["interval_min"]) == (10, 10, 8)
    assert (c["used"]["DSP"], c["used"]["FF"], c["used"]["LUT"]) == (73, 7969, 2532)
    assert (v["used"]["LUT"], v["used"]["FF"], v["used"]["DSP"]) == (1526, 2428, 66)


def test_no_reports_is_empty_not_zero(project):
    shutil.rmtree(project / "myproject_prj" / "solution1" / "syn")
    (project / "vivado_synth.rpt").unlink()
    assert read_vendor_reports(project) == {}


def test_truncated_xml_names_the_file(project):
    path = project / "myproject_prj" / "solution1" / "syn" / "report" / "myproject_csynth.xml"
    path.write_text(path.read_text()[:700])
    with pytest.raises(ReportError, match="myproject_csynth.xml: not valid XML"):
        read_vendor_reports(project)


def test_csynth_missing_field(project):
    path = project / "myproject_prj" / "solution1" / "syn" / "report" / "myproject_csynth.xml"
    path.write_text(path.read_text().replace("<Interval-max>1</Interval-max>", ""))
    with pytest.raises(ReportError, match="incomplete|Interval"):
        read_vendor_reports(project)


def test_truncated_utilization_report(project):
    path = project / "vivado_synth.rpt"
    text = path.read_text()
    path.write_text(text[: text.index("2. BLOCKRAM\n---")])  # cut after the logic table
    with pytest.raises(ReportError, match="vivado_synth.rpt: no DSP48E rows"):
        read_vendor_reports(project)


def test_not_a_project(tmp_path):
    with pytest.raises(ReportError, match="not an hls4ml project"):
        read_vendor_reports(tmp_path)


def test_synth_without_vendor_tool_says_what_to_do(project, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolMissing, match="vitis_hls -f build_prj.tcl"):
        synth(project, cosim=True)
    # the copied folder will run the requested steps as it is
    assert "    cosim      1" in (project / "build_opt.tcl").read_text().splitlines()


def test_copied_project_compiles_where_it_lies(shared_run, tmp_path):
    """A project folder moved elsewhere still works: hls4ml compiles it there and predicts what the model does."""
    import numpy as np
    import yaml

    from conftest import copy_run
    from l1ad.firmware import reference
    from l1ad.firmware.convert import project_graph
    from l1ad.firmware.vendor import link_project
    from l1ad.runs import Run
    from l1ad.stages import convert_run

    run = copy_run(shared_run, tmp_path / "run")
    written = convert_run(run, tmp_path / "hls" / "p")
    yaml.add_multi_constructor("!keras_model", lambda loader, suffix, node: None, Loader=yaml.SafeLoader)
    recorded = yaml.safe_load((written / "hls4ml_config.yml").read_text())
    assert recorded["OutputDir"] == str(written.resolve())
    assert Path(recorded["InputData"]).exists() and Path(recorded["OutputPredictions"]).exists()

    moved = Path(shutil.move(written, tmp_path / "elsewhere"))
    hls_model = link_project(moved)
    hls_model.compile()
    x = Run(run).test_events().x[0][:50]
    np.testing.assert_array_equal(np.asarray(hls_model.predict(np.ascontiguousarray(x, dtype="float64"))[0]).reshape(-1),
                                  reference.outputs(project_graph(moved), x)[0].reshape(-1))


@pytest.mark.parametrize("tool", ["vitis-run", "vitis_hls"])
def test_vendor_tool_runs_in_the_project_where_it_lies(tool, shared_run, tmp_path, monkeypatch):
    from conftest import copy_run
    from l1ad.stages import convert_run

    moved = Path(shutil.move(convert_run(copy_run(shared_run, tmp_path / "run"), tmp_path / "p"), tmp_path / "moved"))
    # a stand-in for the vendor tool: records where and with which steps it ran, leaves the fixture's reports
    bin_dir, log = tmp_path / "bin", tmp_path / "tool.log"
    bin_dir.mkdir()
    (bin_dir / tool).write_text(f'#!/bin/sh\npwd > "{log}"\ncat build_opt.tcl >> "{log}"\n'
                                f'cp -r "{FIXTURE / "myproject_prj"}" .\n')
    (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    synth(moved, vsynth=True)
    ran_in, *options = log.read_text().splitlines()
    assert Path(ran_in).resolve() == moved.resolve()
    assert "    synth      1" in options and "    vsynth     1" in options and "    cosim      0" in options
    assert read_vendor_reports(moved)["csynth"]["latency_cycles_worst"] == 11


@pytest.mark.da4ml
def test_distributed_arithmetic_strategy_is_bit_exact_in_csim(shared_run, tmp_path):
    """hls4ml 1.3's da4ml kernels for io_parallel: the project computes the same outputs, bit for bit."""
    from conftest import copy_run
    from l1ad.firmware.convert import FirmwareOptions, project_graph
    from l1ad.firmware.validate import check
    from l1ad.runs import Run
    from l1ad.stages import convert_run

    run = copy_run(shared_run, tmp_path / "run")
    project = convert_run(run, tmp_path / "da", FirmwareOptions(strategy="distributed_arithmetic"))
    assert "dense_da" in (project / "firmware" / "nnet_utils" / "nnet_code_gen.h").read_text()
    assert "Strategy: distributed_arithmetic" in (project / "hls4ml_config.yml").read_text()
    result = check(project_graph(project), project, Run(run).test_events().x, testbench=False)
    assert result["passed"] and all(a["fraction"] == 1.0 for a in result["outputs"].values())

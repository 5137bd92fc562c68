"""The packages point down only, with no import cycles: import-linter's contracts (pyproject.toml) and grimp.

The installed layout maps common/, training/ and firmware/ to l1ad.common, l1ad.training and l1ad.firmware; import
analysis reads packages from one folder, so the tests assemble that layout in a temporary folder and analyse it
there.
"""

import shutil
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns("__pycache__", "data", "*.yaml")


def _assemble(target: Path, leak: str | None = None) -> Path:
    shutil.copytree(ROOT / "l1ad", target / "l1ad", ignore=IGNORE)
    for package in ("common", "training", "firmware"):
        shutil.copytree(ROOT / package, target / "l1ad" / package, ignore=IGNORE)
    if leak:
        (target / "l1ad" / "training" / "leak.py").write_text(leak)
    return target


@pytest.fixture
def analysed(tmp_path, monkeypatch):
    """Run import analysis on an assembled copy of the sources (``leak``: a module added to l1ad.training)."""
    def analyse(leak: str | None = None):
        src = _assemble(tmp_path / "src", leak)
        monkeypatch.syspath_prepend(str(src))
        monkeypatch.chdir(src)  # lint-imports puts the working folder first on sys.path
        for name in [m for m in sys.modules if m == "l1ad" or m.startswith("l1ad.")]:
            monkeypatch.delitem(sys.modules, name)
        return grimp.build_graph("l1ad", cache_dir=None)

    return analyse


def _contracts_hold() -> bool:
    from importlinter.cli import lint_imports

    return lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0


def test_import_contracts_hold(analysed):
    graph = analysed()
    assert {"l1ad.training.train", "l1ad.firmware.rtl", "l1ad.common.files", "l1ad.cli"} <= graph.modules
    assert _contracts_hold()


def test_no_module_imports_itself_through_others(analysed):
    """A cycle at any depth, imports inside functions included (grimp reads every import statement)."""
    graph = analysed()
    cycles = [(a, b) for a in sorted(graph.modules) for b in sorted(graph.find_modules_directly_imported_by(a))
              if a != b and graph.chain_exists(importer=b, imported=a)]
    assert not cycles


def _private_training_names(graph) -> list[str]:
    used = []
    for importer in sorted(graph.modules):
        if importer.startswith("l1ad.training"):
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            if imported.startswith("l1ad.training"):
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    names = detail["line_contents"].split(" import ", 1)[-1]
                    if any(name.strip(" ()").startswith("_") for name in names.split(",")):
                        used.append(f"{importer}: {detail['line_contents']}")
    return used


def test_no_private_name_of_training_is_used_outside_it(analysed):
    assert not _private_training_names(analysed())


@pytest.mark.parametrize("leak", ["def f():\n    from l1ad.stages import validate_run\n",
                                  "from l1ad.firmware.rtl import build_rtl\n"])
def test_a_training_module_that_points_up_breaks_the_contracts(analysed, leak):
    graph = analysed(leak)
    assert "l1ad.training.leak" in graph.modules
    assert not _contracts_hold()


def test_a_cycle_and_a_private_name_would_be_found(tmp_path, monkeypatch):
    """The two grimp checks can fail: a module that imports a private name of training, in a cycle with it."""
    src = _assemble(tmp_path / "src")
    (src / "l1ad" / "firmware" / "leaky.py").write_text("from l1ad.training.models import _signed\n")
    (src / "l1ad" / "training" / "models.py").write_text((src / "l1ad" / "training" / "models.py").read_text()
                                                         + "\ndef _f():\n    from l1ad.firmware import leaky\n")
    monkeypatch.syspath_prepend(str(src))
    for name in [m for m in sys.modules if m == "l1ad" or m.startswith("l1ad.")]:
        monkeypatch.delitem(sys.modules, name)
    graph = grimp.build_graph("l1ad", cache_dir=None)
    assert _private_training_names(graph) == ["l1ad.firmware.leaky: from l1ad.training.models import _signed"]
    assert graph.chain_exists(importer="l1ad.training.models", imported="l1ad.firmware.leaky")
    assert graph.chain_exists(importer="l1ad.firmware.leaky", imported="l1ad.training.models")

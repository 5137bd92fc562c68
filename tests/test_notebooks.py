"""Every notebook runs top to bottom (fast setting) without a cell error, and every plotting cell shows a figure."""

import re
from pathlib import Path

import jupytext
import nbclient
import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.py"))
PLOTTING = re.compile(r"plt\.subplots|\bax\.|display\(Image")  # cells that draw (not plt.style)


def test_notebooks_are_found():
    assert [n.name[:2] for n in NOTEBOOKS] == ["01", "02", "03", "04"]


@pytest.mark.slow
@pytest.mark.parametrize("path", [pytest.param(n, id=n.stem, marks=[pytest.mark.da4ml] * n.name.startswith("04"))
                                  for n in NOTEBOOKS])
def test_notebook_runs_and_shows_its_figures(path, shared_run, tmp_path, monkeypatch):
    monkeypatch.setenv("L1AD_NOTEBOOK_FAST", "1")
    monkeypatch.setenv("L1AD_NOTEBOOK_DIR", str(tmp_path))
    monkeypatch.setenv("L1AD_RUN", str(shared_run))  # one trained run for all notebooks that only read one
    notebook = jupytext.read(path)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")  # kept stripped
    client = nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError naming the cell on any error
    plotting = [cell for cell in notebook.cells if cell.cell_type == "code" and PLOTTING.search(cell.source)]
    assert plotting, "each notebook shows figures"
    for cell in plotting:
        images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        assert images, f"this cell drew nothing inline:\n{cell.source[:300]}"

"""The shipped notebooks run top to bottom in a real kernel (on loopback) without errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def run(name: str, tmp_path: Path) -> nbformat.NotebookNode:
    shutil.copy(NOTEBOOKS / name, tmp_path / name)
    nb = nbformat.read(tmp_path / name, as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError with the traceback if a cell fails
    return nb


def outputs(nb) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def text_of(nb) -> str:
    parts = []
    for o in outputs(nb):
        parts.append(o.get("text", ""))
        parts.append(o.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.slow
def test_quickstart_runs_and_shows_the_widget(tmp_path):
    nb = run("quickstart.ipynb", tmp_path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) == 3  # data → model → widget
    last = code[-1].outputs
    assert any(WIDGET_VIEW in o.get("data", {}) for o in last)
    assert "LiquidationMap(" in text_of(nb) and "Simulation(" in text_of(nb)


@pytest.mark.slow
def test_explore_model_runs_and_scores_against_truth(tmp_path):
    nb = run("explore-model.ipynb", tmp_path)
    assert not [o for o in outputs(nb) if o.get("output_type") == "error"]
    text = text_of(nb)
    assert any(WIDGET_VIEW in o.get("data", {}) for o in outputs(nb))
    # The map's model after each change (its repr), and the book after the side split.
    assert "100: 0.4" in text and "outstanding_long" in text
    assert "where_total" in text and "matched" in text and "truth" in text

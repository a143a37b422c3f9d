"""The example notebooks execute without errors (so they never rot) and show their results.

Each ``examples/*.py`` (jupytext "percent" format) is read into a notebook with jupytext and
run cell by cell with nbclient on the ``python3`` kernel (jupyter_client starts it with the
interpreter running the tests). ``MPLBACKEND=Agg`` keeps matplotlib headless; the notebooks
turn on the inline backend themselves, so their charts come back as PNG outputs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _execute(path: Path, monkeypatch):
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("ACCELSIM_CATALOG", raising=False)
    nb = jupytext.read(path)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    return nb


def _outputs(nb, cell_marker: str) -> list[dict]:
    cells = [c for c in nb.cells if c.cell_type == "code" and cell_marker in c.source]
    assert cells, f"no code cell contains {cell_marker!r}"
    return cells[0].outputs


def test_capacity_planning_notebook_runs(monkeypatch):
    nb = _execute(EXAMPLES / "capacity_planning.py", monkeypatch)
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []
    # the trace replay printed its summary line
    text = "".join(o.get("text", "") for o in _outputs(nb, "trace_traffic = {"))
    assert "300 of 300 requests" in text and "output tok/s" in text
    # the comparison and the cost table are DataFrames (HTML tables)
    for marker in ("comparison = accelsim.compare", "uncertainty = tco.monte_carlo"):
        html = [o for o in _outputs(nb, marker) if "text/html" in o.get("data", {})]
        assert html, marker
    assert (
        "usd_per_mtok_output"
        in _outputs(nb, "uncertainty = tco.monte_carlo")[0]["data"]["text/html"]
    )
    # charts are drawn inline: the TTFT histogram, the device bars and the what-if panels
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3

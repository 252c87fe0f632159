"""The model-review notebook runs top to bottom on a small synthetic sample."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from jumpup.settings import PROJECT_ROOT


def test_model_review_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    monkeypatch.setenv("JUMPUP_REVIEW_FIRMS", "800")
    notebook = nbformat.read(PROJECT_ROOT / "notebooks" / "model_review.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "monotone" in text and "reason_up_1" in text

"""The notebooks in notebooks/ run top to bottom on small budgets and are stored without outputs.

Each notebook is executed with nbclient in a temporary working folder (the notebooks also write
their own files to a temporary folder, never into the checkout); ``AUTOMETA_REPO`` tells them
where the checkout is. Cells tagged ``needs-network`` (the OpenML import) are removed before
execution unless ``AUTOMETA_NOTEBOOK_NETWORK=1``.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs the test extra: pip install -e '.[test]'")
nbclient = pytest.importorskip("nbclient", reason="needs the test extra: pip install -e '.[test]'")

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = ["quickstart.ipynb", "meta_learning.ipynb", "build_your_metabase.ipynb"]
NETWORK_TAG = "needs-network"
#: seconds one cell may take; the whole notebook is bounded by the pytest timeout below
CELL_TIMEOUT = 150
NOTEBOOK_TIMEOUT = 300


def _read(name: str):
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def test_every_notebook_is_listed():
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_valid_and_stored_without_outputs(name):
    nb = _read(name)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code cells"
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{name}: cells {dirty} hold outputs; clear them before committing"
    text = "\n".join(c.source for c in nb.cells)
    for marker in ("/work/", "/home/", "/tmp/", "C:\\\\"):
        assert marker not in text, f"{name} mentions the machine path {marker!r}"


def test_network_cells_are_tagged_and_explained():
    nb = _read("build_your_metabase.ipynb")
    tagged = [c for c in nb.cells if NETWORK_TAG in _tags(c)]
    assert any(c.cell_type == "code" and "import-openml" in c.source for c in tagged)
    assert any(c.cell_type == "markdown" and NETWORK_TAG in c.source for c in nb.cells), \
        "a markdown cell should tell readers about the needs-network cells"
    for other in ("quickstart.ipynb", "meta_learning.ipynb"):
        assert not any("import-openml" in c.source for c in _read(other).cells)


def _repo_listing() -> set[str]:
    """Files in the folders a careless notebook would write to (the checkout root, notebooks/, examples/)."""
    return {str(p.relative_to(REPO_ROOT)) for folder in (REPO_ROOT, NOTEBOOK_DIR, REPO_ROOT / "examples")
            for p in folder.iterdir()}


@pytest.mark.timeout(NOTEBOOK_TIMEOUT)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, tmp_path, monkeypatch):
    nb = _read(name)
    if os.environ.get("AUTOMETA_NOTEBOOK_NETWORK") != "1":
        nb.cells = [c for c in nb.cells if NETWORK_TAG not in _tags(c)]
    monkeypatch.setenv("AUTOMETA_REPO", str(REPO_ROOT))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    kernel_tmp = tmp_path / "tmp"  # the notebooks' tempfile.mkdtemp() folders land here, not in /tmp
    kernel_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(kernel_tmp))
    before = _repo_listing()
    start = time.perf_counter()
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # CellExecutionError (with the failing cell's traceback) on any error
    assert any(kernel_tmp.iterdir()), "the notebook should write its files to a temporary folder"
    seconds = time.perf_counter() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    executed = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in executed)
    new = _repo_listing() - before
    assert not {p for p in new if "ipynb_checkpoints" in p or p.endswith((".joblib", ".csv", ".png"))}, \
        f"{name} wrote into the checkout: {sorted(new)}"
    print(f"{name} ran in {seconds:.1f} s")

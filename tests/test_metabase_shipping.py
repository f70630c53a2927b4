"""The shipped metabase: packaged as ``autometa_metabase`` and found at run time."""
from __future__ import annotations

from pathlib import Path

import pytest

from autometa.metabase import default_metabase_dir, resolve_metabase_dir

REPO = Path(__file__).resolve().parents[1]


def test_pyproject_ships_every_package_and_the_metabase():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "autometa").rglob("__init__.py")}
    missing = sorted(on_disk - listed)
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"
    assert config["package-dir"]["autometa_metabase"] == "metabase"
    data = config["package-data"]["autometa_metabase"]
    assert "*.parquet" in data and "manifest.json" in data and "runs/*.parquet" in data
    assert (REPO / "metabase" / "__init__.py").is_file()


def test_default_dir_is_the_checkout_metabase_or_the_env_override(monkeypatch, tmp_path):
    monkeypatch.delenv("AUTOMETA_METABASE", raising=False)
    assert default_metabase_dir().resolve() == (REPO / "metabase").resolve()
    monkeypatch.setenv("AUTOMETA_METABASE", str(tmp_path))
    assert default_metabase_dir() == tmp_path
    assert resolve_metabase_dir(tmp_path / "x") == tmp_path / "x"

"""Shared fixtures. ``../shared`` (real datasets and OpenML fixtures) sits beside the checkout
during development and CI; tests that need it skip with a visible reason when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("AUTOMETA_SHARED_DIR", REPO_ROOT.parent / "shared"))
ARFF_DIR = SHARED_DIR / "datasets" / "arff"
OPENML_FIXTURES = SHARED_DIR / "openml-fixtures"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs the shared test corpus at {path} (absent on this machine)")
    return path


@pytest.fixture(scope="session")
def arff_dir() -> Path:
    """Folder of the shared gzipped ARFF corpus (skips when absent)."""
    return _require(ARFF_DIR)


@pytest.fixture(scope="session")
def openml_fixtures() -> Path:
    """Folder of the shared OpenML API responses and cache files (skips when absent)."""
    return _require(OPENML_FIXTURES)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Report how many generated cases tests/test_fuzz.py ran (per command and in total)."""
    cases = getattr(config, "_autometa_fuzz_cases", None)
    if cases:
        ok = getattr(config, "_autometa_fuzz_succeeded", {})
        per_command = ", ".join(f"{k} {v} ({ok.get(k, 0)} exit 0)" for k, v in sorted(cases.items()))
        terminalreporter.write_line(f"fuzz cases executed: {sum(cases.values())} ({per_command})")

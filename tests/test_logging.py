"""The library logs through :mod:`logging` and prints nothing itself; the CLI, ``verbose`` and the
metabase build's ``build.log`` decide where the messages go."""
from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pytest

from test_metabase_cli import _corpus as _two_sets

from autometa.cli import main
from autometa.metabase.build import BuildSettings, build_metabase

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S")


def _corpus(root):
    """cls.csv (binary, 90x3), reg.csv (regression) and broken.csv (one column: skipped)."""
    _two_sets(root)
    (root / "broken.csv").write_text("only\n1\n2\n3\n")
    return root


def _package_state():
    package = logging.getLogger("autometa")
    build = logging.getLogger("autometa.metabase.build")
    return (package.level, [type(h).__name__ for h in package.handlers],
            build.level, build.propagate, list(build.handlers))


def test_library_build_prints_nothing_and_still_writes_its_log_file(tmp_path, capsys):
    before = _package_state()
    settings = BuildSettings(configs_per_algorithm=0, max_rows=200, cv=3, algorithms=["linear"])
    build_metabase([f"csv:{_corpus(tmp_path / 'corpus')}"], tmp_path / "mb", settings, progress=False)
    assert capsys.readouterr().err == ""
    lines = (tmp_path / "mb" / "build.log").read_text().splitlines()
    assert lines and all(LINE.match(line) for line in lines), lines
    text = "\n".join(lines)
    assert " build: 3 dataset(s) from csv:" in text  # INFO
    assert " skip csv:broken: " in text  # WARNING
    assert re.search(r" done csv:cls \(cls-\w+, binary, 90x3, rows_used=90\): 3 ok", text)  # INFO
    assert " datasets: 2 done, 0 duplicates skipped, 1 skipped" in text  # DEBUG: in the file all the same
    assert _package_state() == before  # the file handler and the DEBUG level are gone again


def test_cli_build_shows_progress_and_warnings_not_details(tmp_path, capsys):
    before = _package_state()
    corpus = _corpus(tmp_path / "corpus")
    args = ["metabase", "build", "--source", f"csv:{corpus}", "--out", str(tmp_path / "mb"),
            "--configs-per-algorithm", "0", "--algorithms", "linear", "--max-rows", "200"]
    main(args)
    out = capsys.readouterr()
    assert "datasets: 2 done" in out.out
    err = out.err.splitlines()
    assert any(line.startswith("build: 3 dataset(s)") for line in err), out.err
    assert any(line.startswith("warning: skip csv:broken: ") for line in err), out.err
    assert any(line.startswith("done csv:cls (") for line in err), out.err
    assert not any(line.startswith("datasets:") for line in err)  # DEBUG: the file only
    assert _package_state() == before  # the CLI's handler is removed after the command

    main(args + ["--debug"])  # resumed: --debug shows the build's DEBUG lines too
    err = capsys.readouterr().err
    assert "all 3 configurations already recorded" in err and "datasets: 2 done" in err
    assert _package_state() == before


def test_other_commands_show_warnings_only(tmp_path, capsys, monkeypatch):
    from autometa.metafeatures import landmarking

    path = tmp_path / "toy.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame({"x": rng.normal(size=60), "y": ["a", "b", "c"] * 20}).to_csv(path, index=False)
    logger = logging.getLogger("autometa.metafeatures")

    def chatty(ctx):
        logger.info("an info line")
        logger.warning("a warning line")
        return {}

    monkeypatch.setattr(landmarking, "compute", chatty)
    main(["metafeatures", str(path), "--groups", "landmarking", "--json"])
    err = capsys.readouterr().err
    assert "warning: a warning line" in err and "an info line" not in err


@pytest.mark.parametrize("verbose", [0, 1])
def test_estimator_verbose_prints_one_line_per_trial(verbose, capsys):
    from sklearn.datasets import load_iris

    from autometa.estimators import AutoMetaClassifier

    X, y = load_iris(return_X_y=True)
    before = _package_state()
    AutoMetaClassifier(n_trials=2, algorithms=["linear"], cv=2, verbose=verbose).fit(X, y)
    trials = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[autometa] trial ")]
    assert len(trials) == (2 if verbose else 0)
    if verbose:
        assert re.match(r"\[autometa\] trial 1/2 linear \w+ score=\S+ best=\S+ \(\d+\.\d+s\)$", trials[0])
    assert _package_state() == before

"""Failures of meta-feature groups are recorded (``MetaFeatures.failed``), logged and shown, never
raised; NaN that is expected for the data is not a failure."""
from __future__ import annotations

import json
import logging
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

from autometa.cli import main
from autometa.metafeatures import describe, landmarking, model_based
from autometa.metafeatures._context import Context

EXPENSIVE = ("landmarking", "model_based")


def _iris() -> tuple[pd.DataFrame, pd.Series]:
    return load_iris(return_X_y=True, as_frame=True)


def _mixed(n: int = 150) -> tuple[pd.DataFrame, np.ndarray]:
    """Numeric and nominal columns with missing values, a constant column and a binary target."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    X = pd.DataFrame({"x": np.where(rng.random(n) < 0.1, np.nan, x), "z": rng.normal(size=n),
                      "colour": rng.choice(["red", "green", "blue"], n), "const": np.ones(n)})
    return X, np.where(x + rng.normal(scale=0.5, size=n) > 0, "yes", "no")


def _raise(exc: Exception):
    def fail(*args, **kwargs):
        raise exc

    return fail


def _group_values(mf, group: str) -> dict[str, float]:
    return {k: mf.values[k] for k in mf.names_by_group[group]}


def test_a_failing_landmarker_is_recorded_and_the_rest_is_scored(monkeypatch, caplog):
    monkeypatch.setattr(landmarking, "_naive_bayes", _raise(ValueError("naive bayes exploded")))
    X, y = _iris()
    with caplog.at_level(logging.DEBUG, logger="autometa.metafeatures"):
        mf = describe(X, y, time_budget=None)
    assert mf.failed == {"landmarking": "NaiveBayes: ValueError: naive bayes exploded"}
    lm = _group_values(mf, "landmarking")
    assert all(math.isnan(v) for k, v in lm.items() if k.startswith("NaiveBayes"))
    assert all(math.isfinite(v) for k, v in lm.items() if not k.startswith("NaiveBayes"))
    assert all(math.isfinite(v) for v in _group_values(mf, "model_based").values())
    assert mf.values["NumberOfInstances"] == 150
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warned] == [
        "meta-feature group landmarking failed: NaiveBayes: ValueError: naive bayes exploded"]
    # the traceback is kept for --debug
    assert any(r.levelno == logging.DEBUG and r.exc_info for r in caplog.records)


def test_two_failing_landmarker_families_are_both_recorded(monkeypatch):
    monkeypatch.setattr(landmarking, "_naive_bayes", _raise(ValueError("nb")))
    monkeypatch.setattr(landmarking, "_knn", _raise(MemoryError("knn")))
    mf = describe(*_iris(), groups="landmarking", time_budget=None)
    assert mf.failed == {"landmarking": "NaiveBayes: ValueError: nb; kNN_1N: MemoryError: knn"}
    assert math.isfinite(mf.values["LDAErrRate"]) and math.isnan(mf.values["kNN_1NErrRate"])


def test_a_failure_while_preparing_the_landmarking_data_fails_the_group(monkeypatch):
    monkeypatch.setattr(landmarking, "_prepare", _raise(RuntimeError("cannot prepare")))
    mf = describe(*_iris(), groups="general,landmarking", time_budget=None)
    assert mf.failed == {"landmarking": "RuntimeError: cannot prepare"}
    assert all(math.isnan(v) for v in _group_values(mf, "landmarking").values())
    assert mf.values["NumberOfClasses"] == 3


def test_a_failing_model_based_tree_is_recorded_and_other_groups_have_values(monkeypatch):
    monkeypatch.setattr(model_based, "_fit", _raise(RuntimeError("tree exploded")))
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    mf = describe(X, y, "regression", time_budget=None)
    assert mf.failed == {"model_based": "RuntimeError: tree exploded"}
    assert all(math.isnan(v) for v in _group_values(mf, "model_based").values())
    assert all(math.isfinite(v) for v in _group_values(mf, "landmarking").values())
    assert math.isfinite(mf.values["MeanKurtosisOfNumericAtts"])


def test_nothing_to_fit_is_expected_nan_not_a_failure():
    y = pd.Series(pd.Categorical(["u", "v"] * 15))
    ctx = Context(X=pd.DataFrame(index=range(30)), y=y, task="binary")  # no attribute at all
    for group in (landmarking, model_based):
        values = group.compute(ctx)
        assert ctx.failures == [], group.NAME
    assert all(math.isnan(v) for v in values.values())  # model_based: nothing to fit a tree on


@pytest.mark.parametrize("name", ["iris", "breast_cancer", "diabetes", "mixed"])
def test_normal_datasets_fail_on_no_group(name, caplog):
    if name == "mixed":
        X, y, task = *_mixed(), None
    else:
        loader = {"iris": load_iris, "breast_cancer": load_breast_cancer, "diabetes": load_diabetes}[name]
        X, y = loader(return_X_y=True, as_frame=True)
        task = "regression" if name == "diabetes" else None
    with caplog.at_level(logging.DEBUG, logger="autometa.metafeatures"):
        mf = describe(X, y, task, time_budget=None)
    assert mf.failed == {}
    assert list(mf.names_by_group) == ["general", "statistical", "infotheory", *EXPENSIVE]
    assert not [r for r in caplog.records if r.levelno >= logging.DEBUG]  # nothing logged either
    for group in EXPENSIVE:  # the expensive groups are defined on all of these
        assert all(math.isfinite(v) for v in _group_values(mf, group).values()), group


def test_cli_shows_a_failed_group(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(landmarking, "_naive_bayes", _raise(ValueError("naive bayes exploded")))
    path = tmp_path / "iris.csv"
    X, y = _iris()
    X.assign(species=y.astype(str)).to_csv(path, index=False)
    main(["metafeatures", str(path), "--groups", "general,landmarking", "--json"])
    out = capsys.readouterr()
    assert json.loads(out.out)["groups_failed"] == {"landmarking": "NaiveBayes: ValueError: naive bayes exploded"}
    assert "warning: meta-feature group landmarking failed: NaiveBayes: ValueError" in out.err
    main(["metafeatures", str(path), "--groups", "general,landmarking"])
    assert "failed: landmarking: NaiveBayes: ValueError: naive bayes exploded" in capsys.readouterr().out


def test_the_metabase_build_records_failed_groups(tmp_path, monkeypatch):
    from autometa.metabase import Metabase
    from autometa.metabase.build import BuildSettings, build_metabase

    monkeypatch.setattr(model_based, "_fit", _raise(RuntimeError("tree exploded")))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    X, y = _mixed()
    X.assign(target=y).to_csv(corpus / "mixed.csv", index=False)
    settings = BuildSettings(configs_per_algorithm=0, max_rows=200, cv=3, algorithms=["linear"])
    build_metabase([f"csv:{corpus}"], tmp_path / "mb", settings, progress=False)
    record = Metabase(tmp_path / "mb", create=False).datasets().iloc[0]
    assert json.loads(record["extract_failed"]) == {"model_based": "RuntimeError: tree exploded"}
    log = (tmp_path / "mb" / "build.log").read_text()
    assert "note mixed: meta-feature group model_based failed: RuntimeError: tree exploded" in log

"""Metrics against scikit-learn, resampling splits, and evaluate_config's statuses."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

import autometa.evaluate as ev
from autometa.errors import ConfigError, DataError
from autometa.evaluate import (
    METRICS,
    EvalResult,
    Metric,
    default_metric,
    evaluate_config,
    get_metric,
    make_splits,
    score_predictions,
)

COLUMN_TYPES = {"x1": "numeric", "x2": "numeric", "color": "categorical", "city": "categorical"}
FAST_RF = {"algorithm": "random_forest", "params": {"n_estimators": 50}}


def make_data(n: int = 150, task: str = "binary", seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "x1": rng.normal(size=n),
        "x2": rng.uniform(size=n),
        "color": pd.Categorical(rng.choice(["red", "green", "blue"], size=n)),
        "city": pd.Categorical(rng.choice([f"c{i}" for i in range(30)], size=n)),
    })
    X.loc[rng.random(n) < 0.1, "x1"] = np.nan
    signal = 3 * X["x2"].to_numpy() + (X["color"] == "red").to_numpy() + 0.3 * rng.normal(size=n)
    if task == "binary":
        y = pd.Series(pd.Categorical(np.where(signal > np.median(signal), "pos", "neg")))
    elif task == "multiclass":
        y = pd.Series(pd.Categorical(np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3])) + 1))
    else:
        y = pd.Series(signal, dtype="float64")
    return X, y


# ---------------------------------------------------------------- metrics
def test_binary_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.choice(["neg", "pos"], size=80)
    p_pos = np.clip(0.6 * (y == "pos") + 0.4 * rng.random(80), 0, 1)
    proba = np.column_stack([1 - p_pos, p_pos])
    pred = np.where(p_pos > 0.5, "pos", "neg")
    labels = ["neg", "pos"]
    assert METRICS["roc_auc"](y, proba, labels) == pytest.approx(skm.roc_auc_score(y == "pos", p_pos))
    assert METRICS["roc_auc"](y, p_pos) == pytest.approx(skm.roc_auc_score(y == "pos", p_pos))
    assert METRICS["log_loss"](y, proba, labels) == pytest.approx(skm.log_loss(y, proba, labels=labels))
    assert METRICS["accuracy"](y, pred) == pytest.approx(skm.accuracy_score(y, pred))
    assert METRICS["balanced_accuracy"](y, pred) == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert METRICS["f1"](y, pred, labels) == pytest.approx(skm.f1_score(y, pred, pos_label="pos"))
    assert METRICS["f1_macro"](y, pred) == pytest.approx(skm.f1_score(y, pred, average="macro"))


def test_multiclass_metrics_match_sklearn_and_align_labels():
    rng = np.random.default_rng(1)
    labels = np.array([1, 2, 3])
    y = rng.choice(labels, size=90)
    proba = rng.dirichlet([1, 1, 1], size=90)
    proba[np.arange(90), y - 1] += 1.0
    proba /= proba.sum(axis=1, keepdims=True)
    assert METRICS["roc_auc"](y, proba, labels) == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels))
    assert METRICS["log_loss"](y, proba, labels) == pytest.approx(skm.log_loss(y, proba, labels=labels))
    pred = labels[np.argmax(proba, axis=1)]
    assert METRICS["f1_macro"](y, pred, labels) == pytest.approx(skm.f1_score(y, pred, average="macro"))
    # a fold without class 3: the full label set keeps the columns aligned
    keep = y != 3
    assert METRICS["log_loss"](y[keep], proba[keep], labels) == pytest.approx(
        skm.log_loss(y[keep], proba[keep], labels=labels))
    # a zero probability on the true class is clipped to a finite loss
    hard = np.array([[1.0, 0.0, 0.0]])
    assert METRICS["log_loss"](np.array([2]), hard, labels) == pytest.approx(-math.log(ev.EPS), rel=1e-6)


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(2)
    y = rng.normal(size=50)
    pred = y + rng.normal(scale=0.5, size=50)
    assert METRICS["rmse"](y, pred) == pytest.approx(math.sqrt(skm.mean_squared_error(y, pred)))
    assert METRICS["mae"](y, pred) == pytest.approx(skm.mean_absolute_error(y, pred))
    assert METRICS["r2"](y, pred) == pytest.approx(skm.r2_score(y, pred))


def test_metric_directions_and_lookup():
    assert METRICS["log_loss"].score(0.3) == -0.3 and METRICS["roc_auc"].score(0.8) == 0.8
    assert METRICS["rmse"].score(2.0) == -2.0 and METRICS["r2"].score(0.5) == 0.5
    assert all(m.needs_proba == (name in ("roc_auc", "log_loss")) for name, m in METRICS.items())
    assert (default_metric("binary"), default_metric("multiclass"), default_metric("regression")) == (
        "roc_auc", "log_loss", "rmse")
    assert get_metric("f1", "binary").name == "f1"
    for name, task, pattern in [("f1", "multiclass", "does not apply"), ("rmse", "binary", "does not apply"),
                                ("auc", "binary", "unknown metric"), ("roc_auc", "regression", "does not apply")]:
        with pytest.raises(ConfigError, match=pattern) as info:
            get_metric(name, task)
        assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="f1_macro"):  # lists the valid ones
        get_metric("f1", "multiclass")
    with pytest.raises(ConfigError, match="unknown task"):
        default_metric("ranking")
    with pytest.raises(ValueError, match="probabilities"):
        score_predictions("log_loss", np.array([0, 1]), np.array([0, 1]), None, [0, 1])


# ---------------------------------------------------------------- splits
def _check_partition(splits, n):
    tests = np.concatenate([te for _, te in splits])
    assert sorted(tests.tolist()) == list(range(n))
    for tr, te in splits:
        assert not set(tr) & set(te) and len(tr) + len(te) == n


def test_fold_counts_and_stratification():
    y = np.array(["a"] * 60 + ["b"] * 30 + ["c"] * 10)
    splits = make_splits(y, "multiclass", seed=0)
    assert len(splits) == 5
    _check_partition(splits, len(y))
    for _, te in splits:
        counts = pd.Series(y[te]).value_counts()
        assert (counts["a"], counts["b"], counts["c"]) == (12, 6, 2)
    assert len(make_splits(np.arange(10_000) % 2, "binary")) == 3
    assert len(make_splits(np.arange(9_999) % 2, "binary")) == 5
    assert len(make_splits(y, "multiclass", cv=2)) == 2
    # seeded: same seed, same splits; another seed, other splits
    again = make_splits(y, "multiclass", seed=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again))
    other = make_splits(y, "multiclass", seed=1)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(splits, other))


def test_regression_splits_are_shuffled_kfold():
    y = pd.Series(np.linspace(0, 1, 53))
    splits = make_splits(y, "regression", seed=3)
    assert len(splits) == 5
    _check_partition(splits, 53)
    assert not np.array_equal(splits[0][1], np.arange(len(splits[0][1])))  # not contiguous blocks


def test_holdout_above_threshold():
    y = pd.Series(pd.Categorical(["x"] * 400 + ["y"] * 100))
    splits = make_splits(y, "binary", holdout_above=300, seed=0)
    assert len(splits) == 1
    train, test = splits[0]
    assert len(test) == 100 and len(train) == 400
    assert (y.to_numpy()[test] == "y").sum() == 20  # stratified 80/20
    assert len(make_splits(y, "binary", cv=4, holdout_above=300)) == 4  # explicit cv wins
    assert len(make_splits(np.arange(500.0), "regression", holdout_above=300)) == 1


def test_split_errors():
    y = np.array(["a"] * 39 + ["rare"])  # binary: the single row of 'rare' could never be validated
    with pytest.raises(DataError, match="class 'rare' has 1 row") as info:
        make_splits(y, "binary")
    assert "\n" not in str(info.value)
    y = np.array(["a"] * 20 + ["rare"] * 3)
    assert len(make_splits(y, "binary", cv=3)) == 3
    for bad in (1, 0, 2.5, True):
        with pytest.raises(ConfigError, match="cv="):
            make_splits(y, "binary", cv=bad)
    with pytest.raises(DataError, match="missing"):
        make_splits(np.array([1.0, np.nan] * 10), "regression")
    with pytest.raises(DataError, match="only 3 rows"):
        make_splits(np.arange(3.0), "regression")


def _rare_table():
    """Two common classes and rare classes of 1, 2 and 4 rows (fewer than 5 folds)."""
    y = np.array(["a"] * 40 + ["b"] * 30 + ["one"] + ["two"] * 2 + ["four"] * 4)
    return np.random.default_rng(0).permutation(y)


def test_rare_classes_stay_in_training():
    y = _rare_table()
    rare = {"one", "two", "four"}
    with pytest.warns(UserWarning) as record:
        splits = make_splits(y, "multiclass", seed=0)
    assert len(record) == 1  # one warning naming every rare class and what was done
    message = str(record[0].message)
    assert all(f"'{c}'" in message for c in rare) and "'a'" not in message and "'b'" not in message
    assert "training part of every fold" in message and "never validated" in message
    assert len(splits) == 5  # at least two classes are validated with 5 folds: no fewer folds
    validated = np.concatenate([te for _, te in splits])
    assert len(validated) == len(set(validated.tolist()))  # every row validated at most once
    assert not rare & set(y[validated])  # no rare-class row in any validation fold
    assert sorted(validated.tolist()) == sorted(np.flatnonzero(~np.isin(y, list(rare))).tolist())
    for train, test in splits:
        assert not set(train) & set(test) and len(train) + len(test) == len(y)
        assert set(y[train]) == set(y)  # every fold's model sees every class
        assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    with pytest.warns(UserWarning):
        again = make_splits(y, "multiclass", seed=0)  # still seeded
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(splits, again))
    # the holdout split keeps a 1-row class in training too
    with pytest.warns(UserWarning, match="'one' \\(1 row\\)"):
        (train, test), = make_splits(y, "multiclass", holdout_above=10, seed=0)
    assert "one" in set(y[train]) and "one" not in set(y[test]) and len(train) + len(test) == len(y)


def test_rare_classes_lower_the_folds_only_when_needed():
    y = np.array(["a"] * 20 + ["rare"] * 3)  # binary: the minority class must be validated
    with pytest.warns(UserWarning, match="'rare' \\(3 rows\\).*using 3 instead"):
        splits = make_splits(y, "binary", seed=0)
    assert len(splits) == 3 and all((y[te] == "rare").sum() == 1 for _, te in splits)
    y = np.array(["a"] * 30 + ["b"] * 3 + ["c"])  # multiclass: 3 folds validate 'a' and 'b'
    with pytest.warns(UserWarning, match="'c' \\(1 row\\)"):
        splits = make_splits(y, "multiclass", cv=5, seed=0)
    assert len(splits) == 3 and all("c" not in set(y[te]) for _, te in splits)
    with pytest.raises(DataError, match="class 'b' has 1 row"):  # nothing to validate against
        make_splits(np.array(["a"] * 30 + ["b", "c"]), "multiclass")
    import warnings
    with warnings.catch_warnings():  # no rare class: no warning, the usual stratified folds
        warnings.simplefilter("error")
        make_splits(np.array(["a"] * 30 + ["b"] * 5), "binary")


def test_metrics_on_a_fold_without_some_classes():
    labels = np.array(["a", "b", "c", "d"])  # 'c' and 'd' are absent from this validation fold
    y_true = np.array(["a", "a", "b", "b"])
    proba = np.array([[0.7, 0.1, 0.1, 0.1], [0.4, 0.4, 0.1, 0.1], [0.2, 0.6, 0.1, 0.1], [0.1, 0.8, 0.05, 0.05]])
    pred = labels[np.argmax(proba, axis=1)]
    assert METRICS["log_loss"](y_true, proba, labels) == pytest.approx(
        -np.mean(np.log([0.7, 0.4, 0.6, 0.8])))
    assert METRICS["roc_auc"](y_true, proba, labels) == pytest.approx(1.0)  # over 'a' and 'b'
    assert METRICS["f1_macro"](y_true, pred, labels) == pytest.approx(1.0)  # absent classes not 0
    assert METRICS["accuracy"](y_true, pred, labels) == 1.0


def test_evaluate_with_rare_classes_scores_every_fold():
    rng = np.random.default_rng(1)
    y = pd.Series(_rare_table())
    X = pd.DataFrame({"x1": rng.normal(size=len(y)) + (y == "a"), "x2": rng.normal(size=len(y)),
                      "color": pd.Categorical(rng.choice(["u", "v"], size=len(y))),
                      "city": pd.Categorical(rng.choice(["p", "q", "r"], size=len(y)))})
    with pytest.warns(UserWarning):
        splits = make_splits(y, "multiclass", seed=0)
    for metric in ("log_loss", "roc_auc", "f1_macro"):
        res = evaluate_config(FAST_RF, X, y, COLUMN_TYPES, "multiclass", metric=metric, splits=splits)
        assert res.status == "ok", res.message
        assert len(res.fold_scores) == 5 and all(np.isfinite(res.fold_scores))
        assert all(np.isfinite(v) for fold in res.fold_metrics for v in fold.values())


# ---------------------------------------------------------------- evaluate_config
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_evaluate_ok(task):
    X, y = make_data(task=task)
    splits = make_splits(y, task, cv=3)
    metric = default_metric(task)
    res = evaluate_config(FAST_RF, X, y, COLUMN_TYPES, task, metric=metric, splits=splits)
    assert isinstance(res, EvalResult) and res.status == "ok" and res.ok and res.message == ""
    assert len(res.fold_scores) == len(res.fold_metrics) == 3
    assert res.score == pytest.approx(np.mean(res.fold_scores))
    assert res.std == pytest.approx(np.std(res.fold_scores))
    assert res.fit_seconds > 0 and res.predict_seconds > 0
    expected = {n for n, m in METRICS.items() if m.applies_to(task)}
    for fold, score in zip(res.fold_metrics, res.fold_scores):
        assert set(fold) == expected
        assert all(np.isfinite(v) for v in fold.values())
        assert score == pytest.approx(METRICS[metric].score(fold[metric]))
    if task == "binary":
        assert set(expected) == {"roc_auc", "log_loss", "accuracy", "balanced_accuracy", "f1", "f1_macro"}
        assert res.score > 0.8  # AUC of an informative model
    elif task == "multiclass":
        assert "f1" not in expected and res.score < 0  # -log_loss
    else:
        assert expected == {"rmse", "mae", "r2"} and res.score < 0  # -rmse


def test_evaluate_matches_manual_fold():
    """The reported fold metric equals fitting the same pipeline by hand."""
    from autometa.pipeline import build_pipeline

    X, y = make_data(task="binary")
    splits = make_splits(y, "binary", cv=3, seed=2)
    res = evaluate_config(FAST_RF, X, y, COLUMN_TYPES, "binary", metric="roc_auc", splits=splits, seed=4)
    train, test = splits[1]
    pipe = build_pipeline(FAST_RF, COLUMN_TYPES, "binary", seed=4).fit(X.iloc[train], y.to_numpy()[train])
    proba = pipe.predict_proba(X.iloc[test])[:, 1]
    assert res.fold_metrics[1]["roc_auc"] == pytest.approx(skm.roc_auc_score(y.to_numpy()[test] == "pos", proba))


def test_fold_missing_a_class_uses_full_label_set():
    X, y = make_data(task="multiclass")
    y_arr = y.to_numpy()
    no_three = np.flatnonzero(y_arr != 3)
    splits = [(no_three[: len(no_three) // 2], np.arange(len(y_arr)))]  # class 3 never trained on
    res = evaluate_config(FAST_RF, X, y, COLUMN_TYPES, "multiclass", metric="log_loss", splits=splits)
    assert res.status == "ok"
    assert np.isfinite(res.score) and res.fold_metrics[0]["accuracy"] < 0.9


class Failing:
    """A stand-in pipeline whose fit raises the given exception."""

    def __init__(self, exc: BaseException):
        self.exc = exc

    def fit(self, X, y):
        raise self.exc


@pytest.mark.parametrize("exc, status, start", [
    (RuntimeError("boom\nwith a second line " + "x" * 500), "crash", "RuntimeError: boom with a second line"),
    (MemoryError("cannot allocate"), "memout", "MemoryError: cannot allocate"),
])
def test_evaluate_failure_becomes_status(monkeypatch, exc, status, start):
    X, y = make_data()
    monkeypatch.setattr(ev, "build_pipeline", lambda *a, **k: Failing(exc))
    res = evaluate_config(FAST_RF, X, y, COLUMN_TYPES, "binary", metric="roc_auc",
                          splits=make_splits(y, "binary", cv=3))
    assert res.status == status and not res.ok
    assert res.message.startswith(start) and "\n" not in res.message and len(res.message) <= 300
    assert math.isnan(res.score) and math.isnan(res.std) and res.fold_scores == []


def test_keyboard_interrupt_propagates(monkeypatch):
    X, y = make_data()
    monkeypatch.setattr(ev, "build_pipeline", lambda *a, **k: Failing(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        evaluate_config(FAST_RF, X, y, COLUMN_TYPES, "binary", metric="roc_auc",
                        splits=make_splits(y, "binary", cv=3))


def test_crash_of_a_real_model_on_a_later_fold():
    """knn with more neighbours than training rows fails inside fit/predict, not at build."""
    X, y = make_data(task="regression")
    cfg = {"algorithm": "knn", "params": {"n_neighbors": 100}}
    res = evaluate_config(cfg, X, y, COLUMN_TYPES, "regression", metric="rmse",
                          splits=make_splits(y, "regression", cv=2))  # 75 training rows
    assert res.status == "crash" and res.message.startswith("ValueError")


def test_timeout_after_a_fold():
    X, y = make_data()
    res = evaluate_config(FAST_RF, X, y, COLUMN_TYPES, "binary", metric="accuracy",
                          splits=make_splits(y, "binary", cv=3), time_limit=1e-6)
    assert res.status == "timeout" and "time limit" in res.message
    assert len(res.fold_scores) == 1 and math.isnan(res.score)


def test_pruning_via_report():
    X, y = make_data()
    calls = []

    def report(fold: int, running: float) -> bool:
        calls.append((fold, running))
        return fold == 1

    res = evaluate_config(FAST_RF, X, y, COLUMN_TYPES, "binary", metric="roc_auc",
                          splits=make_splits(y, "binary", cv=5), report=report)
    assert res.status == "pruned" and len(res.fold_scores) == 2 and math.isnan(res.score)
    assert [c[0] for c in calls] == [0, 1]
    assert calls[0][1] == pytest.approx(res.fold_scores[0])
    assert calls[1][1] == pytest.approx(np.mean(res.fold_scores))
    # a pruner that never prunes sees every fold and leaves the result ok
    seen = []
    ok = evaluate_config(FAST_RF, X, y, COLUMN_TYPES, "binary", metric="roc_auc",
                         splits=make_splits(y, "binary", cv=3), report=lambda i, s: seen.append(i) or False)
    assert ok.status == "ok" and seen == [0, 1, 2]


def test_caller_mistakes_raise_before_any_fold():
    X, y = make_data()
    splits = make_splits(y, "binary", cv=3)
    with pytest.raises(ConfigError, match="does not apply"):
        evaluate_config(FAST_RF, X, y, COLUMN_TYPES, "binary", metric="rmse", splits=splits)
    with pytest.raises(ConfigError, match="unknown algorithm"):
        evaluate_config({"algorithm": "xgb"}, X, y, COLUMN_TYPES, "binary", metric="roc_auc", splits=splits)
    with pytest.raises(DataError, match="not in X"):
        evaluate_config(FAST_RF, X, y, {**COLUMN_TYPES, "gone": "numeric"}, "binary",
                        metric="roc_auc", splits=splits)
    with pytest.raises(DataError, match="rows"):
        evaluate_config(FAST_RF, X, y[:10], COLUMN_TYPES, "binary", metric="roc_auc", splits=splits)
    with pytest.raises(ConfigError, match="splits is empty"):
        evaluate_config(FAST_RF, X, y, COLUMN_TYPES, "binary", metric="roc_auc", splits=[])
    custom = Metric("neg_accuracy", False, False, ("classification",), lambda t, p, labels=None: -np.mean(t == p))
    res = evaluate_config(FAST_RF, X, y, COLUMN_TYPES, "binary", metric=custom, splits=splits)
    assert res.status == "ok" and res.score > 0.5 and "neg_accuracy" in res.fold_metrics[0]

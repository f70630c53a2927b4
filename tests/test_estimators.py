"""AutoMetaClassifier / AutoMetaRegressor: scikit-learn's estimator checks and behaviour on real inputs.

The whole check suite runs (about 10 s for both estimators) with a tiny budget: two trials of
the linear family on 2 folds. No check is skipped.
"""
from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from autometa import space
from autometa.errors import ConfigError, DataError
from autometa.estimators import AutoMetaClassifier, AutoMetaRegressor

TINY = dict(n_trials=2, algorithms=["linear"], cv=2)


@parametrize_with_checks([AutoMetaClassifier(**TINY), AutoMetaRegressor(**TINY)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def mixed_frame():
    """A DataFrame with a pandas category column, a string column and missing values."""
    rng = np.random.default_rng(0)
    n = 150
    X = pd.DataFrame({
        "num": rng.normal(size=n),
        "other": rng.normal(size=n),
        "cat": pd.Categorical(rng.choice(["a", "b", "c"], size=n)),
        "text": rng.choice(["x", "y"], size=n).astype(object),
    })
    X.loc[::7, "num"] = np.nan
    X.loc[::11, "text"] = None
    labels = np.where(X["num"].fillna(0) + (X["cat"] == "a") + rng.normal(scale=0.3, size=n) > 0.5,
                      "high", "low")
    return X, labels


def test_classifier_on_a_dataframe_with_categories_and_missing_values(mixed_frame):
    X, y = mixed_frame
    clf = AutoMetaClassifier(n_trials=3, algorithms=["linear", "lightgbm"], cv=3).fit(X, y)
    assert list(clf.classes_) == ["high", "low"]
    assert list(clf.feature_names_in_) == ["num", "other", "cat", "text"]
    assert clf.n_features_in_ == 4
    assert clf.column_types_ == {"num": "numeric", "other": "numeric", "cat": "categorical",
                                 "text": "categorical"}
    assert clf.best_config_["algorithm"] in ("linear", "lightgbm")
    assert clf.best_config_ == space.validate_config(clf.best_config_, "binary")
    assert 0.5 < clf.best_score_ <= 1 and clf.metric_ == "roc_auc" and clf.task_ == "binary"
    assert len(clf.leaderboard_) == 3 and len(clf.study_.trials) == 3
    assert clf.device_ == "cpu"
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(axis=1), 1)
    pred = clf.predict(X)
    assert set(pred) <= {"high", "low"}
    assert np.array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, y) > 0.7
    # columns in another order, plus one more: aligned by name
    shuffled = X[["text", "cat", "other", "num"]]
    assert np.array_equal(clf.predict(shuffled), pred)


def test_classifier_keeps_original_label_types_and_orders_probabilities():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 3))
    y = np.array([10, 2, 33])[(X[:, 0] > -0.4).astype(int) + (X[:, 0] > 0.4).astype(int)]
    clf = AutoMetaClassifier(**TINY).fit(X, y)
    assert clf.classes_.dtype.kind == "i" and list(clf.classes_) == [2, 10, 33]
    proba = clf.predict_proba(X)
    pred = clf.predict(X)
    assert pred.dtype.kind == "i"
    assert np.array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    assert (pred == y).mean() > 0.8
    assert clf.task_ == "multiclass" and clf.metric_ == "log_loss"


def test_regressor_fits_numpy_and_scores_r2():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(scale=0.1, size=120)
    reg = AutoMetaRegressor(n_trials=3, algorithms=["linear", "knn"], cv=3, metric="r2").fit(X, y)
    assert reg.metric_ == "r2" and reg.best_score_ > 0.9
    assert reg.score(X, y) > 0.95
    assert not hasattr(reg, "classes_") and not hasattr(reg, "feature_names_in_")
    assert reg.predict(X).shape == (120,)


def test_warm_start_choice_lives_in_one_method(monkeypatch):
    X = np.random.default_rng(3).normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    mine = {"algorithm": "linear", "params": {"C": 0.25, "penalty": "l2"}}
    import autometa.automl as automl

    # the one place that decides where a search starts, for the CLI and the estimators alike
    monkeypatch.setattr(automl, "warm_start_configs", lambda ds, warm, **kw: ([mine], None))
    clf = AutoMetaClassifier(n_trials=2, cv=2).fit(X, y)
    first = clf.study_.trials[0]
    assert first.user_attrs["origin"] == "warm-start"
    assert first.params == {"algorithm": "linear", "linear:C": 0.25, "linear:penalty": "l2"}


def test_warm_start_parameter_values():
    X = np.random.default_rng(4).normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    from autometa.automl import warm_start_configs
    from autometa.data import from_xy

    clf = AutoMetaClassifier(n_trials=2, cv=2, algorithms=["linear", "knn"])
    start, _ = warm_start_configs(from_xy(pd.DataFrame(X), pd.Series(y), task="binary"), True, n_trials=2,
                                  algorithms=["linear", "knn"], seed=0)
    # the meta-model's top min(WARM_START_K, n_trials) recommendations, within the allowed algorithms
    assert len(start) == 2 and {c["algorithm"] for c in start} <= {"linear", "knn"}
    assert [space.validate_config(c, "binary") for c in start] == start
    clf.fit(X, y)
    enqueued = [t for t in clf.study_.trials if t.user_attrs["origin"] == "warm-start"]
    assert [space.from_trial_params(t.params) for t in enqueued] == start
    clf.set_params(warm_start=False).fit(X, y)
    assert {t.user_attrs["origin"] for t in clf.study_.trials} == {"tpe"}
    clf.set_params(warm_start=[{"algorithm": "knn", "params": {"n_neighbors": 3}}]).fit(X, y)
    assert clf.study_.trials[0].params["knn:n_neighbors"] == 3
    with pytest.raises(ConfigError, match="warm_start='yes'"):
        clf.set_params(warm_start="yes").fit(X, y)


def test_user_errors_are_one_line_value_errors():
    X = np.random.default_rng(5).normal(size=(40, 2))
    with pytest.raises(DataError, match="Unknown label type: continuous.*AutoMetaRegressor"):
        AutoMetaClassifier(**TINY).fit(X, X[:, 0])
    with pytest.raises(DataError, match="needs a numeric target"):
        AutoMetaRegressor(**TINY).fit(X, np.array(["a", "b"] * 20, dtype=object))
    with pytest.raises(DataError, match="X has 40 rows but y has 39"):
        AutoMetaRegressor(**TINY).fit(X, X[:-1, 0])
    with pytest.raises(ConfigError, match="unknown algorithm"):
        AutoMetaRegressor(n_trials=2, algorithms=["nope"]).fit(X, X[:, 0])
    y = np.array(["a"] * 39 + ["b"])
    with pytest.raises(DataError, match="class 'b' has 1 row"):
        AutoMetaClassifier(**TINY).fit(X, y)


def test_clone_pickle_and_cross_validation(mixed_frame):
    X, y = mixed_frame
    clf = AutoMetaClassifier(n_trials=2, algorithms=["linear"], cv=2, seed=7)
    assert clone(clf).get_params() == clf.get_params()
    scores = cross_val_score(clf, X, y, cv=2)
    assert scores.shape == (2,) and (scores > 0.6).all()
    fitted = clf.fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(again.predict(X), fitted.predict(X))


def test_persistent_storage_through_the_estimator(tmp_path):
    X = np.random.default_rng(6).normal(size=(60, 2))
    y = X[:, 0] + X[:, 1]
    storage = f"sqlite:///{tmp_path / 'est.db'}"
    reg = AutoMetaRegressor(n_trials=2, algorithms=["linear"], cv=2, storage=storage,
                            study_name="est").fit(X, y)
    assert len(reg.leaderboard_) == 2
    again = pickle.loads(pickle.dumps(reg))  # the study's SQLite storage pickles too
    assert np.array_equal(again.predict(X), reg.predict(X))
    assert len(again.study_.trials) == 2
    with pytest.raises(ConfigError, match="already exists"):
        clone(reg).fit(X, y)


def test_warm_start_falls_back_to_defaults_without_a_meta_model(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOMETA_METABASE", str(tmp_path))  # an empty metabase: no model
    from autometa.recommend import clear_model_cache

    clear_model_cache()
    X = np.random.default_rng(4).normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    from autometa.automl import warm_start_configs
    from autometa.data import from_xy

    start, plan = warm_start_configs(from_xy(pd.DataFrame(X), pd.Series(y), task="binary"), True, n_trials=3,
                                     algorithms=["linear", "knn"], seed=0)
    assert start == [space.default_config("linear", "binary"), space.default_config("knn", "binary")]
    assert any("no trained meta-model" in n for n in plan.notes)
    clf = AutoMetaClassifier(n_trials=3, cv=2, algorithms=["linear", "knn"]).fit(X, y)
    assert any("no trained meta-model" in n for n in clf.warm_start_notes_)


def test_repr_masks_the_storage_password_but_keeps_the_parameter():
    from sklearn.base import clone

    url = "postgresql://alice:S3cret@db.example/optuna"
    est = AutoMetaClassifier(storage=url, n_trials=3)
    assert "S3cret" not in repr(est) and "alice:***@db.example" in repr(est)
    assert est.get_params()["storage"] == url and clone(est).storage == url

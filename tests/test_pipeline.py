"""Pipelines: every algorithm x task on messy mixed data, preprocessing choices, source round-trip."""
from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler

from autometa.errors import ConfigError, DataError
from autometa.pipeline import (
    NATIVE_MAX_LEVELS,
    ONEHOT_MAX_LEVELS,
    ColumnSelector,
    build_pipeline,
    fit_context,
    high_cardinality,
    pipeline_code,
    select_columns,
)
from autometa.space import ALGORITHMS, TASKS, default_config, validate_config

COLUMN_TYPES = {
    "x1": "numeric", "x2": "numeric", "empty": "numeric", "const": "numeric",
    "color": "categorical",  # 3 levels + missing: one-hot / native
    "mid": "categorical",    # 20 levels: native for lightgbm/hist_gb, target-encoded otherwise
    "city": "categorical",   # ~75 levels: target-encoded everywhere
    "flag": "boolean", "allnan": "categorical",
}


def make_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "x1": rng.normal(size=n),
        "x2": rng.uniform(size=n),
        "empty": np.full(n, np.nan),
        "const": np.ones(n),
        "color": pd.Categorical(rng.choice(["red", "green", "blue"], size=n)),
        "mid": pd.Categorical(rng.choice([f"m{i}" for i in range(20)], size=n)),
        "city": pd.Categorical(rng.choice([f"c{i}" for i in range(90)], size=n)),
        "flag": pd.Categorical(rng.choice([True, False], size=n)),
        "allnan": pd.Categorical([np.nan] * n, categories=["u"]),
        "ignored": rng.normal(size=n),  # not in column_types: dropped
    })
    X.loc[rng.random(n) < 0.15, "x1"] = np.nan
    X.loc[rng.random(n) < 0.15, "color"] = np.nan
    X.loc[rng.random(n) < 0.1, "city"] = np.nan
    return X


def make_target(X: pd.DataFrame, task: str, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    signal = 2 * X["x2"].to_numpy() + (X["color"] == "red").to_numpy() + 0.3 * rng.normal(size=len(X))
    if task == "binary":
        return pd.Series(pd.Categorical(np.where(signal > np.median(signal), "yes", "no")))
    if task == "multiclass":  # labels 1/2/3 as categories
        return pd.Series(pd.Categorical(np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3])) + 1))
    return pd.Series(signal, dtype="float64")


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return make_frame(240, 0)


@pytest.fixture(scope="module")
def test_frame() -> pd.DataFrame:
    """Other rows, with levels never seen in training and differently ordered categories."""
    X = make_frame(60, 1)
    X["color"] = pd.Categorical(np.where(np.arange(60) % 4 == 0, "purple", X["color"].astype(object)))
    X["mid"] = pd.Categorical(X["mid"].astype(object), categories=["zz"] + [f"m{i}" for i in range(19, -1, -1)])
    X["city"] = pd.Categorical([f"new{i}" for i in range(60)])
    return X


def fit(config: dict, X: pd.DataFrame, y: pd.Series, task: str, seed: int = 0, columns=COLUMN_TYPES):
    pipe = build_pipeline(config, columns, task, seed=seed)
    with fit_context(1):
        pipe.fit(X, y.to_numpy())
    return pipe


def small(algorithm: str, task: str) -> dict:
    """The default configuration, with fewer trees to keep the tests fast."""
    cfg = default_config(algorithm, task)
    for key in ("n_estimators", "max_iter"):
        if key in cfg["params"]:
            cfg["params"][key] = 50
    return cfg


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_every_algorithm_fits_and_predicts(algorithm, task, train, test_frame):
    y = make_target(train, task)
    pipe = fit(small(algorithm, task), train, y, task)
    with fit_context(1):
        pred = pipe.predict(test_frame)
        train_pred = pipe.predict(train)
    assert pred.shape == (len(test_frame),)
    if task == "regression":
        assert np.isfinite(pred).all()
        # the target depends on x2 and color: any fitted model beats predicting the mean
        assert np.mean((train_pred - y) ** 2) < np.var(y)
    else:
        labels = set(y.cat.categories)
        assert set(pred) <= labels
        with fit_context(1):
            proba = pipe.predict_proba(test_frame)
        assert proba.shape == (len(test_frame), len(labels))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert list(pipe.classes_) == sorted(labels)
        assert np.mean(train_pred == y.to_numpy()) > 0.6


def _has_scaler(pipe) -> bool:
    found = []

    def walk(est):
        if isinstance(est, StandardScaler):
            found.append(est)
        for step in getattr(est, "steps", []):
            walk(step[1])
        for transformer in getattr(est, "transformers", []):
            walk(transformer[1])

    walk(pipe.named_steps["preprocess"])
    return bool(found)


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_scaling_exactly_where_algorithm_scales(algorithm):
    for task in TASKS:
        pipe = build_pipeline(default_config(algorithm, task), COLUMN_TYPES, task)
        assert _has_scaler(pipe) is ALGORITHMS[algorithm].scale


@pytest.mark.parametrize("algorithm", ["lightgbm", "hist_gb"])
def test_native_categorical_path(algorithm, train, test_frame):
    y = make_target(train, "binary")
    pipe = fit(small(algorithm, "binary"), train, y, "binary")
    Xt = pipe.named_steps["preprocess"].transform(train)
    dtypes = dict(zip(Xt.columns, Xt.dtypes))
    # low/mid cardinality categoricals stay categorical, the high-cardinality one is encoded
    for name in ("native__color", "native__mid", "native__flag"):
        assert isinstance(dtypes[name], pd.CategoricalDtype), name
    assert dtypes["target__city"] == np.float64
    # entirely missing columns and columns outside column_types are dropped
    assert not any(c.endswith(("empty", "allnan", "ignored")) for c in Xt.columns)
    assert "numeric__x1" in dtypes and "numeric__const" in dtypes
    model = pipe.named_steps["model"]
    if algorithm == "lightgbm":
        assert len(model.booster_.pandas_categorical) == 3
    else:
        assert list(Xt.columns[model.is_categorical_]) == ["native__color", "native__mid", "native__flag"]
    # levels are matched by value, not by category code: reordered categories change nothing
    recoded = train.copy()
    recoded["mid"] = pd.Categorical(train["mid"].astype(object),
                                    categories=sorted(train["mid"].cat.categories, reverse=True))
    with fit_context(1):
        np.testing.assert_allclose(pipe.predict_proba(recoded), pipe.predict_proba(train))


def test_encoded_path_for_other_algorithms(train):
    y = make_target(train, "multiclass")
    pipe = fit(small("knn", "multiclass"), train, y, "multiclass")
    names = list(pipe.named_steps["preprocess"].get_feature_names_out())
    assert "onehot__color_red" in names and "onehot__color_nan" in names
    assert {"target__mid_1", "target__mid_2", "target__mid_3"} <= set(names)  # one per class
    assert {"target__city_1", "target__city_2", "target__city_3"} <= set(names)
    assert not any("empty" in n or "allnan" in n or "ignored" in n for n in names)


def test_high_cardinality_and_selectors(train):
    assert high_cardinality(COLUMN_TYPES, train) == ["mid", "city"]
    assert high_cardinality(COLUMN_TYPES, train, threshold=NATIVE_MAX_LEVELS) == ["city"]
    assert select_columns(train, ["x1", "empty", "const"], min_levels=1) == ["x1", "const"]
    assert select_columns(train, ["color", "mid", "allnan"], max_levels=ONEHOT_MAX_LEVELS) == ["color", "allnan"]
    selector = ColumnSelector(["color", "mid"], min_levels=1, max_levels=5)
    assert selector(train) == ["color"]
    assert clone(selector, safe=False) == selector and hash(selector) == hash(ColumnSelector(("color", "mid"), 1, 5))
    assert pickle.loads(pickle.dumps(selector)) == selector
    with pytest.raises(DataError, match="missing from X"):
        ColumnSelector(["nope"])(train)


def test_deterministic_given_seed(train, test_frame):
    y = make_target(train, "regression")
    for algorithm in ("extra_trees", "lightgbm"):
        cfg = small(algorithm, "regression")
        if algorithm == "lightgbm":
            cfg["params"].update(subsample=0.6, colsample_bytree=0.5)  # seeded bagging
        with fit_context(1):
            a = fit(cfg, train, y, "regression", seed=3).predict(test_frame)
            b = fit(cfg, train, y, "regression", seed=3).predict(test_frame)
            c = fit(cfg, train, y, "regression", seed=4).predict(test_frame)
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, c), algorithm


def test_clone_and_pickle_round_trip(train, test_frame):
    y = make_target(train, "binary")
    pipe = build_pipeline(small("lightgbm", "binary"), COLUMN_TYPES, "binary", seed=1)
    fitted = clone(pipe)
    with fit_context(1):
        fitted.fit(train, y.to_numpy())
        restored = pickle.loads(pickle.dumps(fitted))
        np.testing.assert_array_equal(restored.predict_proba(test_frame), fitted.predict_proba(test_frame))
    # clone keeps the pandas output the native path needs
    assert fitted.named_steps["preprocess"].transform(test_frame)["native__mid"].dtype == "category"


def test_zero_numeric_or_zero_categorical_columns(train, test_frame):
    numeric_only = {c: k for c, k in COLUMN_TYPES.items() if k == "numeric"}
    categorical_only = {c: k for c, k in COLUMN_TYPES.items() if k != "numeric"}
    y = make_target(train, "binary")
    for columns in (numeric_only, categorical_only):
        for algorithm in ("lightgbm", "hist_gb", "linear"):
            pipe = fit(small(algorithm, "binary"), train, y, "binary", columns=columns)
            with fit_context(1):
                assert pipe.predict(test_frame).shape == (len(test_frame),)


def test_parameters_map_to_library_arguments():
    lr = build_pipeline({"algorithm": "linear", "params": {"penalty": "l1", "C": 0.5}},
                        COLUMN_TYPES, "binary").named_steps["model"]
    assert lr.solver == "saga" and lr.C == 0.5 and lr.l1_ratio == 1.0
    lr = build_pipeline({"algorithm": "linear", "params": {"penalty": "elasticnet", "l1_ratio": 0.3}},
                        COLUMN_TYPES, "binary").named_steps["model"]
    assert lr.solver == "saga" and lr.l1_ratio == 0.3
    lr = build_pipeline({"algorithm": "linear", "params": {}}, COLUMN_TYPES, "binary").named_steps["model"]
    assert lr.solver == "lbfgs" and lr.max_iter >= 1000
    enet = build_pipeline({"algorithm": "linear", "params": {"alpha": 0.01, "l1_ratio": 0.2}},
                          COLUMN_TYPES, "regression").named_steps["model"]
    assert type(enet).__name__ == "ElasticNet" and (enet.alpha, enet.l1_ratio) == (0.01, 0.2)

    rf = build_pipeline({"algorithm": "random_forest", "params": {"max_features": "fraction",
                                                                  "max_features_fraction": 0.4}},
                        COLUMN_TYPES, "binary", seed=7, n_jobs=2).named_steps["model"]
    assert (rf.max_features, rf.random_state, rf.n_jobs) == (0.4, 7, 2)
    svc = build_pipeline({"algorithm": "svm", "params": {"gamma": "value", "gamma_value": 0.02, "C": 3.0}},
                         COLUMN_TYPES, "multiclass").named_steps["model"]
    assert svc.estimator.gamma == 0.02 and svc.estimator.C == 3.0 and svc.ensemble is False
    svr = build_pipeline({"algorithm": "svm", "params": {"epsilon": 0.5}}, COLUMN_TYPES,
                         "regression").named_steps["model"]
    assert (svr.gamma, svr.epsilon) == ("scale", 0.5)

    lgbm = build_pipeline({"algorithm": "lightgbm", "params": {"subsample": 0.8}}, COLUMN_TYPES,
                          "binary", device="gpu").named_steps["model"]
    params = lgbm.get_params()
    assert params["subsample_freq"] == 1 and params["device_type"] == "gpu" and params["verbose"] == -1
    cpu = build_pipeline({"algorithm": "lightgbm"}, COLUMN_TYPES, "binary").named_steps["model"]
    assert cpu.get_params()["subsample_freq"] == 0 and "device_type" not in cpu.get_params()
    hgb = build_pipeline({"algorithm": "hist_gb", "params": {"max_iter": 77}}, COLUMN_TYPES,
                         "regression").named_steps["model"]
    assert (hgb.max_iter, hgb.early_stopping, hgb.categorical_features) == (77, False, "from_dtype")
    knn = build_pipeline({"algorithm": "knn", "params": {"p": 1, "weights": "distance"}},
                         COLUMN_TYPES, "regression", n_jobs=-1).named_steps["model"]
    assert (knn.p, knn.weights, knn.n_jobs) == (1, "distance", -1)


def test_invalid_arguments_raise_one_line_errors(train):
    cfg = default_config("knn", "binary")
    with pytest.raises(ConfigError, match="column types are"):
        build_pipeline(cfg, {"x1": "text"}, "binary")
    with pytest.raises(DataError, match="column_types is empty"):
        build_pipeline(cfg, {}, "binary")
    with pytest.raises(ConfigError, match="device"):
        build_pipeline(cfg, COLUMN_TYPES, "binary", device="tpu")
    with pytest.raises(ConfigError, match="n_jobs"):
        build_pipeline(cfg, COLUMN_TYPES, "binary", n_jobs=0)
    with pytest.raises(ConfigError, match="unknown parameter"):
        build_pipeline({"algorithm": "knn", "params": {"depth": 3}}, COLUMN_TYPES, "binary")
    pipe = build_pipeline(cfg, {**COLUMN_TYPES, "missing_col": "numeric"}, "binary")
    with pytest.raises(DataError, match="missing_col") as info:
        pipe.fit(train, make_target(train, "binary"))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_pipeline_code_round_trip(algorithm, train, test_frame):
    for task in TASKS:
        cfg = small(algorithm, task)
        source = pipeline_code(cfg, COLUMN_TYPES, task, seed=5)
        assert "autometa" not in "\n".join(l for l in source.splitlines() if "import" in l)
        namespace: dict = {}
        exec(compile(source, f"<{algorithm}-{task}>", "exec"), namespace)
        generated = namespace["pipeline"]
        built = build_pipeline(cfg, COLUMN_TYPES, task, seed=5)
        # the configuration's hyperparameters are spelled out in the source
        for name, value in validate_config(cfg, task)["params"].items():
            mapped = {"max_features", "max_features_fraction", "gamma", "gamma_value", "penalty",
                      "l1_ratio"}  # translated to the library's arguments, not copied verbatim
            if name not in mapped:
                assert f"{name}={value!r}".replace("'", '"') in source, (name, source)
        y = make_target(train, task).to_numpy()
        with fit_context(1):
            generated.fit(train, y)
            built.fit(train, y)
            if task == "regression":
                np.testing.assert_allclose(generated.predict(test_frame), built.predict(test_frame))
            else:
                np.testing.assert_allclose(generated.predict_proba(test_frame),
                                           built.predict_proba(test_frame))


@pytest.mark.parametrize("algorithm", ["lightgbm", "hist_gb"])
def test_feature_names_with_json_characters_fit(algorithm):
    """spambase-style names ("char_freq_[", "a:b", ...) must not break LightGBM's JSON model."""
    rng = np.random.default_rng(0)
    names = ["char_freq_[", "char_freq_{", 'quote"d', "a:b", "x,y", "plain"]
    X = pd.DataFrame(rng.normal(size=(120, len(names))), columns=names)
    X["colour:]"] = pd.Categorical(rng.choice(["r", "g", "b"], size=120))
    y = pd.Series(np.where(X["char_freq_["] + X["a:b"] > 0, "yes", "no"), dtype="category")
    types = {c: "numeric" for c in names} | {"colour:]": "categorical"}
    cfg = default_config(algorithm, "binary")
    pipe = build_pipeline(cfg, types, "binary", seed=0).fit(X, y)
    assert (pipe.predict(X) == y.to_numpy()).mean() > 0.9
    out = pipe.named_steps["preprocess"].get_feature_names_out()
    assert len(set(out)) == len(out) == X.shape[1]
    assert not any(ch in name for name in out for ch in '",:[]{}')
    namespace: dict = {}
    exec(pipeline_code(cfg, types, "binary", seed=0), namespace)
    clone_pred = namespace["pipeline"].fit(X, y).predict(X)
    assert (clone_pred == pipe.predict(X)).all()

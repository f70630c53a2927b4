"""The search space is the single source of truth: defaults, designs, Optuna mapping, encoding."""
from __future__ import annotations

import json

import numpy as np
import optuna
import pytest

from autometa import space
from autometa.errors import ConfigError
from autometa.space import TASKS


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("algorithm", list(space.ALGORITHMS))
def test_defaults_validate_and_are_json(algorithm, task):
    cfg = space.default_config(algorithm, task)
    assert space.validate_config(cfg, task) == cfg
    assert json.loads(json.dumps(cfg)) == cfg


def test_task_dependent_defaults_follow_scikit_learn():
    clf = space.default_config("random_forest", "binary")["params"]
    reg = space.default_config("random_forest", "regression")["params"]
    assert clf["max_features"] == "sqrt" and "max_features_fraction" not in clf
    assert reg["max_features"] == "fraction" and reg["max_features_fraction"] == 1.0
    assert "C" in space.default_config("linear", "binary")["params"]
    assert "alpha" in space.default_config("linear", "regression")["params"]


def test_validate_fills_defaults_and_rejects_bad_values():
    cfg = space.validate_config({"algorithm": "knn", "params": {"n_neighbors": 7}}, "binary")
    assert cfg["params"] == {"n_neighbors": 7, "weights": "uniform", "p": 2}
    with pytest.raises(ConfigError, match="outside"):
        space.validate_config({"algorithm": "knn", "params": {"n_neighbors": 0}}, "binary")
    with pytest.raises(ConfigError, match="unknown parameter"):
        space.validate_config({"algorithm": "knn", "params": {"depth": 3}}, "binary")
    with pytest.raises(ConfigError, match="unknown algorithm"):
        space.validate_config({"algorithm": "xgb", "params": {}}, "binary")
    with pytest.raises(ConfigError, match="not one of"):
        space.validate_config({"algorithm": "svm", "params": {"gamma": "auto"}}, "binary")


def test_conditional_parameter_only_when_active():
    cfg = space.validate_config({"algorithm": "linear", "params": {"penalty": "elasticnet"}}, "binary")
    assert cfg["params"]["l1_ratio"] == 0.5
    cfg = space.validate_config({"algorithm": "linear", "params": {"penalty": "l1"}}, "binary")
    assert "l1_ratio" not in cfg["params"]


@pytest.mark.parametrize("task", ["binary", "regression"])
@pytest.mark.parametrize("algorithm", list(space.ALGORITHMS))
def test_sobol_designs_are_valid_distinct_and_reproducible(algorithm, task):
    a = space.sample_configs(algorithm, task, 40, seed=3)
    b = space.sample_configs(algorithm, task, 40, seed=3)
    assert a == b
    keys = {json.dumps(c, sort_keys=True) for c in a}
    assert len(keys) == len(a)
    assert json.dumps(space.default_config(algorithm, task), sort_keys=True) not in keys
    for c in a:
        assert space.validate_config(c, task) == c
    # space-filling: a continuous or wide integer parameter covers both ends of its range
    spec = next(p for p in space.ALGORITHMS[algorithm].active_params(space.task_kind(task))
                if p.kind in ("float", "int") and p.condition is None)
    units = [spec.to_unit(c["params"][spec.name]) for c in a]
    assert min(units) < 0.15 and max(units) > 0.85


def test_designs_are_large_enough_for_the_metabase():
    for algorithm in space.ALGORITHMS:
        assert len(space.sample_configs(algorithm, "binary", 100, seed=0)) == 100


def test_encoding_is_fixed_length_and_separates_algorithms():
    names = space.encoding_names()
    vecs = {a: space.encode(space.default_config(a, "binary"), "binary") for a in space.ALGORITHMS}
    assert all(v.shape == (len(names),) for v in vecs.values())
    for a, v in vecs.items():
        onehot = v[: len(space.ALGORITHMS)]
        assert onehot.sum() == 1 and onehot[list(space.ALGORITHMS).index(a)] == 1
        own = [i for i, n in enumerate(names) if n.startswith(a + ":")]
        other = [i for i, n in enumerate(names) if ":" in n and not n.startswith(a + ":")]
        assert np.isnan(v[other]).all()
        finite = v[own][~np.isnan(v[own])]
        assert ((finite >= 0) & (finite <= 1)).all()
    reg = space.encode(space.default_config("linear", "regression"), "regression")
    assert not np.isnan(reg[names.index("linear:l1_ratio")])


def test_log_scale_encoding_is_monotone():
    lo = space.encode({"algorithm": "svm", "params": {"C": 1e-3}}, "binary")
    mid = space.encode({"algorithm": "svm", "params": {"C": 1.0}}, "binary")
    hi = space.encode({"algorithm": "svm", "params": {"C": 1e3}}, "binary")
    i = space.encoding_names().index("svm:C")
    assert lo[i] == 0 and hi[i] == 1 and abs(mid[i] - 0.5) < 1e-9


def test_optuna_roundtrip_through_enqueue():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    wanted = [space.default_config(a, "multiclass") for a in space.algorithms_for("multiclass", 500)]
    for cfg in wanted:
        study.enqueue_trial(space.to_trial_params(cfg, "multiclass"))
    got = []
    for _ in wanted:
        trial = study.ask()
        got.append(space.suggest_config(trial, "multiclass", space.algorithms_for("multiclass", 500)))
        study.tell(trial, 0.0)
    assert got == wanted
    assert [space.from_trial_params(t.params) for t in study.trials] == wanted


def test_algorithms_for_respects_row_limits():
    assert "svm" in space.algorithms_for("binary", 1_000)
    assert "svm" not in space.algorithms_for("binary", 50_000)
    assert space.algorithms_for("regression", include=["knn", "linear"]) == ["knn", "linear"]
    with pytest.raises(ConfigError):
        space.algorithms_for("binary", include=["nope"])
    with pytest.raises(ConfigError):
        space.task_kind("ranking")


def test_config_id_is_stable_and_order_independent():
    a = {"algorithm": "knn", "params": {"n_neighbors": 5, "p": 2}}
    b = {"params": {"p": 2, "n_neighbors": 5}, "algorithm": "knn"}
    assert space.config_id(a) == space.config_id(b)
    assert space.config_id(a) != space.config_id({"algorithm": "knn", "params": {"n_neighbors": 6, "p": 2}})

"""Results as a person reads them: scores in the metric's own direction (autometa.display) and
configurations as the estimator receives them (autometa.space.model_params, params_text)."""
from __future__ import annotations

import io
import math
import re

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from autometa import space
from autometa.cli import _leaderboard_table, _score_cell
from autometa.data import from_xy
from autometa.display import format_score, greater_is_better, metric_direction, metric_label, metric_value
from autometa.evaluate import METRICS
from autometa.pipeline import build_pipeline
from autometa.search import LEADERBOARD_COLUMNS, params_text, run_search

COLUMN_TYPES = {"a": "numeric", "b": "numeric"}


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(90, 3)), columns=["a", "b", "c"])
    y = 2 * X["a"] - X["b"] + rng.normal(scale=0.3, size=90)
    return from_xy(X, y, task="regression")


@pytest.fixture(scope="module")
def rmse_result(regression):
    ds = regression
    return run_search(ds.X, ds.y, ds.column_types, ds.task, n_trials=4, cv=2, algorithms=["linear", "svm"])


def _render(renderable) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


# ---------------------------------------------------------------- scores
@pytest.mark.parametrize("name", ["rmse", "mae", "log_loss"])
def test_losses_read_positive_with_lower_is_better(name):
    stored = METRICS[name].score(3.21)  # what a search stores: -3.21
    assert stored == -3.21
    assert metric_value(name, stored) == 3.21
    assert format_score(name, stored) == "3.2100"
    assert format_score(name, stored, 0.05) == "3.2100 ± 0.0500"
    assert metric_direction(name) == "lower is better" and not greater_is_better(name)
    assert metric_label(name) == f"{name}, lower is better"
    assert format_score(name, -0.0) == "0.0000"  # a perfect loss is not "-0.0000"


@pytest.mark.parametrize("name", ["roc_auc", "accuracy", "balanced_accuracy", "f1", "f1_macro", "r2"])
def test_scores_read_as_stored_with_higher_is_better(name):
    assert metric_value(name, 0.875) == 0.875
    assert format_score(METRICS[name], 0.875, 0.0123) == "0.8750 ± 0.0123"
    assert metric_label(name) == f"{name}, higher is better"


def test_metric_value_inverts_the_stored_orientation_of_every_metric():
    for m in METRICS.values():
        assert metric_value(m.name, m.score(0.4)) == pytest.approx(0.4)


def test_missing_scores_and_stds():
    assert format_score("rmse", math.nan) == "–" and format_score("rmse", None) == "–"
    assert format_score("rmse", -1.0, math.nan) == "1.0000" and format_score("rmse", -1.0, None) == "1.0000"
    assert math.isnan(metric_value("rmse", None))
    assert metric_direction("no_such_metric") == "higher is better"  # shown as stored


# ---------------------------------------------------------------- decoded configurations
def test_encoded_pairs_come_from_the_space():
    assert space.ENCODED_PARAMS == {
        ("random_forest", "max_features"): ("fraction", "max_features_fraction"),
        ("extra_trees", "max_features"): ("fraction", "max_features_fraction"),
        ("svm", "gamma"): ("value", "gamma_value"),
    }  # linear's l1_ratio (active for penalty=elasticnet) is a real argument, not an encoding


def test_model_params_decode_switch_and_value():
    svm = {"algorithm": "svm", "params": {"C": 2.0, "gamma": "value", "gamma_value": 0.0065, "epsilon": 0.1}}
    assert space.model_params(svm) == {"C": 2.0, "gamma": 0.0065, "epsilon": 0.1}
    assert space.model_params({"algorithm": "svm", "params": {"C": 2.0, "gamma": "scale"}}) == {"C": 2.0, "gamma": "scale"}
    rf = space.validate_config({"algorithm": "random_forest", "params": {"max_features": "fraction",
                                                                         "max_features_fraction": 0.4}}, "binary")
    decoded = space.model_params(rf)
    assert decoded["max_features"] == 0.4 and "max_features_fraction" not in decoded
    assert list(decoded)[:2] == ["n_estimators", "max_features"]  # the switch keeps its place
    assert space.model_params(space.default_config("random_forest", "binary"))["max_features"] == "sqrt"
    # dict order does not matter: the space's order (most influential first) does
    shuffled = {"algorithm": "svm", "params": {"gamma_value": 0.5, "epsilon": 0.2, "gamma": "value", "C": 1.0}}
    assert list(space.model_params(shuffled)) == ["C", "gamma", "epsilon"]


@pytest.mark.parametrize("algorithm", list(space.ALGORITHMS))
def test_estimators_receive_exactly_the_decoded_values(algorithm):
    """One source of truth: build_pipeline decodes with model_params, so what params_text shows is
    what the estimator gets."""
    for task in ("binary", "regression"):
        if space.task_kind(task) not in space.ALGORITHMS[algorithm].tasks:
            continue
        for config in [space.default_config(algorithm, task)] + space.sample_configs(algorithm, task, 12, seed=3):
            model = build_pipeline(config, COLUMN_TYPES, task).named_steps["model"]
            if type(model).__name__ == "RareSafeCalibratedClassifierCV":
                model = model.estimator  # the SVC inside its calibration
            given = model.get_params()
            for name, value in space.model_params(space.validate_config(config, task)).items():
                if algorithm == "linear" and name in ("penalty", "l1_ratio") and task == "binary":
                    continue  # mapped onto the solver / l1_ratio by _logistic_regression
                assert name in given and given[name] == value, (algorithm, task, name, value, given.get(name))


def test_params_text_shows_decoded_values_to_three_digits():
    svm = {"algorithm": "svm", "params": {"C": 1.0, "gamma": "value", "gamma_value": 0.0065234}}
    assert params_text(svm) == "C=1, gamma=0.00652"
    assert "value" not in params_text(svm) and "gamma_value" not in params_text(svm)
    rf = {"algorithm": "extra_trees", "params": {"n_estimators": 120, "max_features": "fraction",
                                                 "max_features_fraction": 0.123456, "min_samples_leaf": 3,
                                                 "min_samples_split": 4, "bootstrap": False}}
    assert params_text(rf) == "n_estimators=120, max_features=0.123, min_samples_leaf=3, min_samples_split=4, ..."
    assert params_text(rf, max_params=10).endswith("bootstrap=False")
    assert params_text({"algorithm": "svm", "params": {"gamma_value": np.float32(0.25), "gamma": "value"}}) \
        == "gamma=0.25"


# ---------------------------------------------------------------- leaderboard and fit table
def test_leaderboard_has_the_metric_value_and_decoded_params(rmse_result):
    board = rmse_result.leaderboard
    assert list(board.columns) == LEADERBOARD_COLUMNS and "metric_value" in board.columns
    ok = board[board["status"] == "ok"]
    assert len(ok) and (ok["score"] < 0).all()  # stored: -rmse, higher is better
    np.testing.assert_allclose(ok["metric_value"], -ok["score"])
    assert (ok["metric_value"] > 0).all() and ok["metric_value"].is_monotonic_increasing  # best (lowest) first
    assert not board["params"].str.contains("gamma_value|gamma=value").any()


def test_fit_table_shows_rmse_positive_and_lower_is_better(rmse_result):
    text = _render(_leaderboard_table(rmse_result, top=10))
    assert "(rmse, lower is better)" in text and "higher is better" not in text
    best = next(rmse_result.leaderboard.itertuples(index=False))
    assert f"{-best.score:.4f}" in text
    cells = re.findall(r"(-?\d+\.\d{4}) ± \d+\.\d{4}", text)
    assert cells and all(not c.startswith("-") for c in cells)
    assert _score_cell(best, "rmse") == format_score("rmse", best.score, best.std)
    assert not _score_cell(best, "rmse").startswith("-")


def test_fit_table_fits_an_80_column_terminal(rmse_result, monkeypatch):
    """On a narrow terminal the parameters go one per line and the table stays within 80 columns."""
    from rich.console import Console

    import autometa.cli as cli_module

    narrow = Console(width=80, record=True, file=io.StringIO())
    monkeypatch.setattr(cli_module, "console", narrow)
    narrow.print(_leaderboard_table(rmse_result, top=10))
    lines = narrow.export_text().splitlines()
    assert lines and max(len(line.rstrip()) for line in lines) <= 80
    assert not any(re.search(r"\w=\S+, \w+=", line) for line in lines)  # one parameter per line
    assert sum("=" in line for line in lines) > len(rmse_result.leaderboard.head(10))

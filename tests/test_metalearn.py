"""Meta-learning components on a small synthetic metabase whose right answers are known.

The synthetic metabase (:func:`make_metabase`) holds 20 classification and 6 regression datasets,
each evaluated on the same candidate set (default + 4 Sobol configurations of lightgbm,
random_forest and linear). Scores are planted: the more linear a dataset (its ``LDAAUC`` /
``LinearRegR2`` landmarker), the better the linear model and the worse the trees; within
LightGBM a learning rate near the middle of its range is best.
"""
from __future__ import annotations

import itertools
import json
import math
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autometa import space
from autometa.errors import ConfigError, DataError
from autometa.metabase import Metabase
from autometa.metalearn import (METHODS, LeakageError, MetaModel, assert_not_trained_on, load_model, save_model,
                                train)
from autometa.metalearn.diversity import MIN_DISTANCE, config_distance, diversify
from autometa.metalearn.features import CLIP, MetaFeatureScaler
from autometa.metalearn.knn import NearestDatasets
from autometa.metalearn.matrix import PRIOR_DATASETS, build_matrix, impute_missing, normalise_scores
from autometa.metalearn.portfolio import Portfolio, greedy_portfolio, portfolio_regret, size_weights, sized_order

ALGOS = ("lightgbm", "random_forest", "linear")
_NAMES = space.encoding_names()


def planted_score(mf: dict, config: dict, kind: str) -> float:
    """The true mean score of ``config`` on a dataset with meta-features ``mf``."""
    lin = (mf["LDAAUC"] - 0.5) / 0.5 if kind == "classification" else mf["LinearRegR2"]
    enc = space.encode(config, kind)
    if config["algorithm"] == "linear":
        return 0.6 + 0.35 * lin
    if config["algorithm"] == "lightgbm":
        return 0.85 - 0.25 * lin - 0.1 * abs(enc[_NAMES.index("lightgbm:learning_rate")] - 0.6)
    return 0.82 - 0.25 * lin + 0.03 * enc[_NAMES.index("random_forest:n_estimators")]


def candidates(task: str, per_algorithm: int = 4) -> list[dict]:
    """The shared candidate set of the synthetic metabase."""
    out = []
    for a in ALGOS:
        out.append(space.default_config(a, task))
        out += space.sample_configs(a, task, per_algorithm, seed=0)
    return out


def synthetic_metafeatures(kind: str, i: int, n: int, rng: np.random.Generator) -> dict:
    inst = float(round(10 ** rng.uniform(2, 4)))
    feats = float(round(10 ** rng.uniform(0.7, 2)))
    mf = {"NumberOfInstances": inst, "NumberOfFeatures": feats, "Dimensionality": feats / inst,
          "PercentageOfSymbolicFeatures": float(rng.uniform(0, 50))}
    if kind == "classification":
        mf.update(NumberOfClasses=float(rng.integers(2, 6)), MinorityClassPercentage=float(rng.uniform(5, 50)),
                  LDAAUC=0.5 + 0.5 * i / max(n - 1, 1), DecisionStumpAUC=float(rng.uniform(0.55, 0.9)))
    else:
        mf.update(LinearRegR2=i / max(n - 1, 1), DecisionStumpR2=float(rng.uniform(0.1, 0.5)))
    return mf


def make_metabase(root: Path, n_cls: int = 20, n_reg: int = 6, seed: int = 0, metafeatures: list | None = None,
                  fail: bool = True, skip_pair: bool = False) -> Metabase:
    """Write the synthetic metabase to ``root`` through the store API.

    ``metafeatures``: meta-feature dicts for the classification datasets (instead of synthetic ones;
    each needs ``LDAAUC``). ``fail``: the second configuration's last fold on the first
    classification dataset times out. ``skip_pair``: the third configuration is never run on the
    second classification dataset (an unfinished build).
    """
    rng = np.random.default_rng(seed)
    store = Metabase(root)
    for kind, n, task in (("classification", n_cls, "binary"), ("regression", n_reg, "regression")):
        if n == 0:
            continue
        configs = candidates(task)
        ids = store.add_configs(configs, task)
        for i in range(n):
            if kind == "classification" and metafeatures is not None:
                mf = dict(metafeatures[i])
            else:
                mf = synthetic_metafeatures(kind, i, n, rng)
            did, _ = store.add_dataset({"name": f"{kind[:3]}{i:02d}", "source": "synthetic", "task": task,
                                        "n_rows": int(mf.get("NumberOfInstances", 100)), "n_cols": 5 + i,
                                        "checksum": f"sum{kind[:3]}{i:02d}", "metafeatures": mf})
            rows = []
            for j, (cfg, cid) in enumerate(zip(configs, ids)):
                if skip_pair and kind == "classification" and i == 1 and j == 2:
                    continue
                base = planted_score(mf, cfg, kind)
                for fold in range(3):
                    row = {"dataset_id": did, "config_id": cid, "fold": fold, "status": "ok", "n_folds": 3,
                           "score": base + float(rng.normal(0, 0.002)), "fit_seconds": 0.1}
                    if fail and kind == "classification" and i == 0 and j == 1 and fold == 2:
                        row.update(status="timeout", score=math.nan)
                    rows.append(row)
            store.add_runs(rows)
    store.close()
    return store


def dataset_id(store: Metabase, name: str) -> str:
    ds = store.datasets()
    return str(ds.loc[ds["name"] == name, "dataset_id"].iloc[0])


def mf_of(store: Metabase, name: str) -> dict:
    rec = store.dataset(dataset_id(store, name))
    return {k[3:]: v for k, v in rec.items() if k.startswith("mf_")}


@pytest.fixture(scope="module")
def mb(tmp_path_factory: pytest.TempPathFactory) -> Metabase:
    return make_metabase(tmp_path_factory.mktemp("mb") / "metabase")


@pytest.fixture(scope="module")
def model(mb: Metabase) -> MetaModel:
    return train(mb, rounds=150)


# ------------------------------------------------------------------ matrix
def test_normalise_scores_known_values() -> None:
    raw = np.array([[0.5, 0.7, 0.9, np.nan], [0.3, 0.3, 0.3, 0.3], [np.nan, np.nan, 0.2, np.nan]])
    got = normalise_scores(raw)
    np.testing.assert_allclose(got, [[0.0, 0.5, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.0]])


def test_matrix_failed_runs_are_worst_and_missing_runs_take_the_shrunk_config_mean(tmp_path: Path) -> None:
    store = make_metabase(tmp_path / "mb", n_cls=4, n_reg=0, skip_pair=True)
    m = build_matrix(store.datasets(), store.configs(), store.runs(), "classification")
    assert m is not None and m.raw.shape == (4, 15)
    rows = {d: i for i, d in enumerate(m.dataset_ids)}
    first, second = rows[dataset_id(store, "cla00")], rows[dataset_id(store, "cla01")]
    assert m.failed[first, 1] and np.isnan(m.raw[first, 1]) and m.normalised[first, 1] == 0.0
    assert m.failed.sum() == 1
    assert m.missing[second, 2] and m.missing.sum() == 1
    others = [i for i in range(4) if i != second]
    own = np.median(np.delete(m.normalised[second], 2))  # the dataset's median over what it ran
    assert m.normalised[second, 2] == pytest.approx((3 * m.normalised[others, 2].mean() + PRIOR_DATASETS * own)
                                                    / (3 + PRIOR_DATASETS))
    finished = ~m.failed & ~m.missing
    for i in range(4):
        assert m.normalised[i][finished[i]].max() == pytest.approx(1.0)
        assert m.normalised[i][finished[i]].min() == pytest.approx(0.0)
    # parameters come back in the search space's order, not the store's sorted JSON
    assert m.configs[0] == space.default_config("lightgbm", "binary")
    assert list(m.configs[0]["params"]) == list(space.default_config("lightgbm", "binary")["params"])


# ------------------------------------------------------------------ meta-feature scaling
def test_scaler_log_robust_scale_impute_clip_and_drop() -> None:
    table = pd.DataFrame({"NumberOfInstances": [100.0, 1000.0, 10000.0, np.nan],
                          "LDAAUC": [0.5, 0.6, 0.7, 0.8],
                          "NaiveBayesAUC": [np.nan] * 4})
    sc = MetaFeatureScaler.fit(table, "binary")
    assert sc.names == ["NumberOfInstances", "LDAAUC"]
    assert "NaiveBayesAUC" in sc.dropped and "NumberOfFeatures" in sc.dropped
    assert sc.medians[0] == pytest.approx(math.log1p(1000.0))
    q1, q3 = np.percentile(np.log1p([100.0, 1000.0, 10000.0]), [25, 75])
    assert sc.scales[0] == pytest.approx((q3 - q1) / 1.349)
    x = sc.transform({"NumberOfInstances": 1000.0, "LDAAUC": None})
    assert x[0] == pytest.approx(0.0) and x[1] == pytest.approx(0.0)  # the median; missing -> median
    assert sc.transform({"NumberOfInstances": 1e30, "LDAAUC": 0.65})[0] == CLIP
    assert sc.missing({"NumberOfInstances": 5.0}) == ["LDAAUC"]
    back = MetaFeatureScaler.from_json(json.loads(json.dumps(sc.to_json())))
    np.testing.assert_array_equal(back.transform_table(table), sc.transform_table(table))


# ------------------------------------------------------------------ nearest datasets
def test_knn_finds_the_structurally_similar_dataset(mb: Metabase, model: MetaModel) -> None:
    km = model.kinds["classification"]
    for name in ("cla03", "cla08"):
        mf = mf_of(mb, name)
        mf = {k: v * 1.02 for k, v in mf.items()}  # a slightly different sample of the same data
        ranking = model.rank(mf, "binary", method="knn", top_k=3)
        assert ranking.neighbours[0]["name"] == name
        # its first pick is that dataset's best configuration
        row = km.matrix.dataset_ids.index(dataset_id(mb, name))
        best = km.matrix.config_ids[int(np.argmax(km.matrix.normalised[row]))]
        assert ranking.items[0]["config_id"] == best
        assert ranking.items[0]["similar_datasets"][0]["name"] == name


def test_knn_interleaves_best_configs_of_the_nearest_datasets() -> None:
    table = np.array([[0.0], [1.0], [5.0]])
    scores = np.array([[1.0, 0.9, 0.0, 0.1], [0.0, 0.2, 1.0, 0.9], [0.3, 1.0, 0.0, 0.0]])
    knn = NearestDatasets.fit(table, scores, ["a", "b", "c"], ["a", "b", "c"], k=2)
    assert knn.neighbours(np.array([0.2])) == [(0, pytest.approx(0.2)), (1, pytest.approx(0.8))]
    assert knn.ranking(np.array([0.2])) == [0, 2, 1, 3]  # a's best, b's best, a's 2nd, b's 2nd
    w = np.array([1 / (0.2 + 0.05), 1 / (0.8 + 0.05)])
    np.testing.assert_allclose(knn.estimate(np.array([0.2])), (w[:, None] * scores[:2]).sum(0) / w.sum())
    assert knn.novelty_distance == pytest.approx(4.0)  # c is 4 away from its nearest neighbour
    assert knn.is_novel(np.array([20.0])) and not knn.is_novel(np.array([2.0]))


# ------------------------------------------------------------------ portfolio
def test_greedy_portfolio_known_answer() -> None:
    # A wins half the datasets, B the other half, C is decent everywhere: greedy takes C first
    n = np.array([[1, 0, 0.7], [1, 0, 0.7], [0, 1, 0.7], [0, 1, 0.7]], dtype=float)
    order, regret = greedy_portfolio(n)
    assert order == [2, 0, 1]
    np.testing.assert_allclose(regret, [0.3, 0.15, 0.0])


def test_greedy_portfolio_against_brute_force() -> None:
    rng = np.random.default_rng(3)
    n = normalise_scores(rng.random((7, 9)))
    order, regret = greedy_portfolio(n, size=4)
    for step in range(4):
        # each pick minimises the regret given the earlier picks (brute force over the rest)
        prefix = order[:step]
        best = min(portfolio_regret(n, prefix + [c]) for c in range(9) if c not in prefix)
        assert regret[step] == pytest.approx(best)
        assert portfolio_regret(n, order[: step + 1]) == pytest.approx(regret[step])
    # the best single configuration is exactly the optimum; larger sizes keep the (1 - 1/e) guarantee
    assert regret[0] == pytest.approx(min(portfolio_regret(n, [c]) for c in range(9)))
    for size in (2, 3):
        opt_value = max(1 - portfolio_regret(n, list(s)) for s in itertools.combinations(range(9), size))
        assert 1 - regret[size - 1] >= (1 - 1 / math.e) * opt_value
    assert np.all(np.diff(regret) <= 1e-12)


def test_weighted_portfolio_follows_the_heavy_datasets() -> None:
    # A wins the first two datasets, B the last two: the weights decide which comes first
    n = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=float)
    assert greedy_portfolio(n, weights=np.array([1, 1, 3, 3]))[0] == [1, 0]
    assert greedy_portfolio(n, weights=np.array([3, 3, 1, 1]))[0] == [0, 1]
    order, regret = greedy_portfolio(n, weights=np.array([1, 1, 3, 3]))
    np.testing.assert_allclose(regret, [0.25, 0.0])  # the weighted mean regret
    # equal weights are the plain portfolio
    rng = np.random.default_rng(0)
    m = rng.random((6, 8))
    assert greedy_portfolio(m, weights=np.full(6, 7.0)) == greedy_portfolio(m)
    for bad in (np.ones(3), np.array([1, 1, 1, -1.0]), np.zeros(4), np.array([1, np.nan, 1, 1])):
        with pytest.raises(ValueError, match="weights"):
            greedy_portfolio(n, weights=bad)


def test_size_weights_peak_at_the_target_size() -> None:
    w = size_weights(np.array([100, 1000, 5000, np.nan]), 5000)
    assert w[2] == pytest.approx(1.0) and w[0] < w[1] < w[2]
    assert w[1] == pytest.approx(np.exp(-0.5 * np.log10(5) ** 2))  # 1 decade wide: 0.7 decades away
    assert w[3] == pytest.approx(w[1])  # unknown rows weigh as the median known size (1,000)
    assert np.all(size_weights(np.array([np.nan, np.nan]), 50) == 1.0)


def test_sized_order_depends_on_the_target_rows() -> None:
    # config 0 wins the small datasets, config 1 the large ones, config 2 is never best
    n = np.array([[1, 0.2, 0.5], [1, 0.3, 0.5], [0.1, 1, 0.5], [0.2, 1, 0.5]])
    rows = np.array([150, 300, 5000, 8000])
    small, mean_small = sized_order(n, rows, 200, [0, 1, 2])
    large, mean_large = sized_order(n, rows, 5000, [0, 1, 2])
    assert small[0] == 0 and large[0] == 1
    assert mean_small[0] > mean_small[1] and mean_large[1] > mean_large[0]
    assert sorted(large) == [0, 1, 2]
    assert sized_order(n, rows, 5000, [0, 2])[0] == [0, 2] or sized_order(n, rows, 5000, [0, 2])[0] == [2, 0]
    assert 1 not in sized_order(n, rows, 5000, [0, 2])[0]  # only the pool is ordered


def test_missing_entries_shrink_toward_the_dataset_median() -> None:
    n = np.array([[0.2, 0.4, 1.0], [0.0, 0.6, 1.0], [1.0, 0.5, 0.0]])
    missing = np.array([[False, False, False], [False, False, False], [True, False, False]])
    # column 0 ran on two datasets (mean 0.1); dataset 2's median of its finished entries is 0.25
    out = impute_missing(n, missing, prior=2)
    assert out[2, 0] == pytest.approx((2 * 0.1 + 2 * 0.25) / 4)
    assert impute_missing(n, missing, prior=0)[2, 0] == pytest.approx(0.1)  # the plain mean
    np.testing.assert_array_equal(out[~missing], n[~missing])
    # a configuration nobody ran reads as each dataset's median
    never = np.zeros_like(missing)
    never[:, 1] = True
    np.testing.assert_allclose(impute_missing(n, never)[:, 1], [0.6, 0.5, 0.5])


def test_rank_with_rows_uses_the_sized_portfolio(model: MetaModel) -> None:
    odd = {"NumberOfInstances": 1e9, "NumberOfFeatures": 1e6, "Dimensionality": 1e-3, "NumberOfClasses": 500.0,
           "PercentageOfSymbolicFeatures": 100.0, "MinorityClassPercentage": 0.001, "LDAAUC": 0.0,
           "DecisionStumpAUC": 0.0}
    km = model.kinds["classification"]
    for n_rows in (60, 500):
        r = model.rank(odd, "binary", top_k=3, method="portfolio", n_rows=n_rows)
        pool = [i for i, a in enumerate(km.matrix.algorithms) if a in space.algorithms_for("binary", n_rows)]
        order, _ = sized_order(km.matrix.normalised, km.rows_used(), n_rows, pool)
        assert [it["config_id"] for it in r.items] == [km.matrix.config_ids[i] for i in order[:3]]


def test_model_portfolio_covers_both_regimes(model: MetaModel) -> None:
    km = model.kinds["classification"]
    algos = dict(zip(km.matrix.config_ids, km.matrix.algorithms))
    first_two = {algos[c] for c in km.portfolio.order[:2]}
    assert "linear" in first_two and first_two & {"lightgbm", "random_forest"}
    assert km.portfolio.regret[1] < 0.05 < km.portfolio.regret[0]
    assert sorted(km.portfolio.order) == sorted(km.matrix.config_ids)  # every candidate is ranked


# ------------------------------------------------------------------ ranker
@pytest.mark.parametrize("objective", ["regression", "lambdarank"])
def test_ranker_learns_the_planted_relation(mb: Metabase, objective: str) -> None:
    held_out = {"cla03": "tree", "cla16": "linear"}  # LDAAUC 0.58 and 0.92; the crossing is near 0.7
    ids = [dataset_id(mb, n) for n in held_out]
    m = train(mb, exclude_datasets=ids, objective=objective, rounds=150)
    km = m.kinds["classification"]
    assert km.ranker is not None and km.ranker.n_train_rows == 18 * 15
    for name, regime in held_out.items():
        mf = mf_of(mb, name)
        pred = km.ranker.predict(km.scaler.transform(mf), km.encodings)
        truth = np.array([planted_score(mf, c, "classification") for c in km.matrix.configs])
        top = km.matrix.algorithms[int(np.argmax(pred))]
        assert (top == "linear") == (regime == "linear"), (name, top)
        rho = pd.Series(pred).corr(pd.Series(truth), method="spearman")
        assert rho > 0.7, (name, objective, rho)
        assert pred.min() >= 0.0 and pred.max() <= 1.0


# ------------------------------------------------------------------ leakage guard
def test_excluded_dataset_is_absent_from_every_component(mb: Metabase, tmp_path: Path) -> None:
    gone = dataset_id(mb, "cla05")
    m = train(mb, exclude_datasets=[gone], rounds=50)
    km = m.kinds["classification"]
    assert gone not in m.trained_on and gone in m.excluded
    assert gone not in km.matrix.dataset_ids and gone not in km.knn.dataset_ids
    assert "sumcla05" not in m.trained_checksums
    assert len(km.knn.table) == 19 and km.ranker.n_train_rows == 19 * 15
    # scaler and portfolio equal those fitted on the other datasets only
    full = build_matrix(mb.datasets(), mb.configs(), mb.runs(), "classification")
    keep = [i for i, d in enumerate(full.dataset_ids) if d != gone]
    ref = MetaFeatureScaler.fit(full.datasets.iloc[keep], "classification")
    assert km.scaler.medians == pytest.approx(ref.medians) and km.scaler.scales == pytest.approx(ref.scales)
    assert km.portfolio.order == Portfolio.fit(full.normalised[keep], full.config_ids).order
    # and from everything written to disk
    out = save_model(m, tmp_path / "model")
    bundle = json.loads((out / "bundle.json").read_text())
    assert bundle.pop("excluded") == [gone]  # recorded as excluded, and nowhere else
    assert gone not in json.dumps(bundle) and "cla05" not in json.dumps(bundle)
    for kind in ("classification", "regression"):
        for name in ("datasets.parquet", "scores.parquet"):
            assert gone not in set(pd.read_parquet(out / kind / name)["dataset_id"])
    assert_not_trained_on(m, gone)
    assert_not_trained_on(out, gone)
    with pytest.raises(LeakageError, match="trained on dataset"):
        assert_not_trained_on(out, dataset_id(mb, "cla04"))
    with pytest.raises(LeakageError):
        assert_not_trained_on(m, "sumcla04")  # by content checksum too


def test_train_rejects_unknown_exclusions_and_empty_metabases(mb: Metabase, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown dataset id"):
        train(mb, exclude_datasets=["no-such-dataset"])
    with pytest.raises(DataError, match="too few datasets"):
        train(Metabase(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="no metabase"):
        train(tmp_path / "absent")


def test_a_kind_with_too_few_datasets_is_skipped(tmp_path: Path) -> None:
    store = make_metabase(tmp_path / "mb", n_cls=5, n_reg=1)
    m = train(store, rounds=20)
    assert list(m.kinds) == ["classification"] and "regression" in m.skipped
    with pytest.raises(ConfigError, match="no regression part"):
        m.rank({}, "regression")


# ------------------------------------------------------------------ storage
def test_model_round_trip_without_pickle(model: MetaModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = save_model(model, tmp_path / "model")
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert all(f.endswith((".json", ".parquet", ".txt")) for f in files), files
    assert not [p for p in tmp_path.rglob("*") if p.suffix in (".pkl", ".pickle", ".joblib")]

    def no_pickle(*args: object, **kwargs: object) -> None:
        raise AssertionError("load_model must not unpickle")

    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    t0 = time.perf_counter()
    back = load_model(out)
    seconds = time.perf_counter() - t0
    assert seconds < 1.0, seconds
    assert back.trained_on == model.trained_on and back.settings == model.settings
    for kind, km in model.kinds.items():
        kb = back.kinds[kind]
        np.testing.assert_array_equal(kb.matrix.normalised, km.matrix.normalised)
        np.testing.assert_array_equal(kb.knn.table, km.knn.table)
        x = km.scaler.transform({"LDAAUC": 0.8, "LinearRegR2": 0.3, "NumberOfInstances": 500})
        np.testing.assert_array_equal(kb.ranker.predict(x, kb.encodings), km.ranker.predict(x, km.encodings))
    mf = {"LDAAUC": 0.77, "NumberOfInstances": 800.0}
    for method in METHODS:
        assert back.rank(mf, "binary", method=method).items == model.rank(mf, "binary", method=method).items
    # saving again over an existing model replaces it
    save_model(back, out)
    assert load_model(out).trained_on == model.trained_on


def test_corrupt_or_missing_model_files_raise_data_error_naming_them(model: MetaModel, tmp_path: Path) -> None:
    out = save_model(model, tmp_path / "model")
    ranker = out / "classification" / "ranker.txt"
    ranker.write_text(ranker.read_text().replace("tree", "tre", 1))
    with pytest.raises(DataError, match="ranker.txt is corrupt"):
        load_model(out)
    out = save_model(model, tmp_path / "model2")
    (out / "regression" / "scores.parquet").unlink()
    with pytest.raises(DataError, match="scores.parquet is missing"):
        load_model(out)
    (out / "bundle.json").write_text("{not json")
    with pytest.raises(DataError, match="bundle.json is unreadable"):
        load_model(out)
    with pytest.raises(DataError, match="no meta-model"):
        load_model(tmp_path / "nowhere")


def test_save_model_refuses_folders_with_other_files(model: MetaModel, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="holds other files"):
        save_model(model, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


# ------------------------------------------------------------------ recommendations
BALANCED = {"LDAAUC": 0.7, "NumberOfInstances": 1000.0, "NumberOfFeatures": 20.0, "Dimensionality": 0.02,
            "PercentageOfSymbolicFeatures": 20.0, "NumberOfClasses": 3.0, "MinorityClassPercentage": 25.0,
            "DecisionStumpAUC": 0.7}


@pytest.mark.parametrize("method", METHODS)
def test_recommendations_shape_determinism_and_diversity(model: MetaModel, method: str) -> None:
    a = model.rank(BALANCED, "binary", top_k=5, method=method)
    b = model.rank(BALANCED, "binary", top_k=5, method=method)
    assert a.items == b.items and a.method == method and not a.novel
    assert [it["rank"] for it in a.items] == [1, 2, 3, 4, 5]
    for it in a.items:
        assert set(it) >= {"rank", "algorithm", "params", "config", "predicted_score", "similar_datasets", "method"}
        assert 0.0 <= it["predicted_score"] <= 1.0
        assert space.validate_config(it["config"], "binary") == it["config"]
        assert it["config_id"] == space.config_id(it["config"])
        for s in it["similar_datasets"]:
            assert set(s) == {"name", "dataset_id", "distance", "score"} and s["score"] >= 0.9
    assert len({it["algorithm"] for it in a.items}) >= 2
    assert len({it["config_id"] for it in a.items}) == 5
    enc = [space.encode(it["config"], "binary") for it in a.items]
    for i, j in itertools.combinations(range(5), 2):
        assert config_distance(enc[i], enc[j], a.items[i]["algorithm"], a.items[j]["algorithm"]) >= MIN_DISTANCE


def test_combined_starts_with_the_nearest_datasets_best_estimate(model: MetaModel) -> None:
    km = model.kinds["classification"]
    r = model.rank(BALANCED, "binary", method="combined")
    assert not r.novel
    est = km.knn.estimate(km.scaler.transform(BALANCED))
    assert r.items[0]["config_id"] == km.matrix.config_ids[int(np.nanargmax(est))]
    # then the nearest datasets' own best-first lists: the nearest dataset's best comes next
    # unless it is the same configuration or a near-duplicate of it
    nearest_best = km.matrix.config_ids[km.knn.ranking(km.scaler.transform(BALANCED))[0]]
    assert nearest_best in [it["config_id"] for it in r.items[:2]]


def test_dataset_unlike_any_gets_portfolio_recommendations(model: MetaModel) -> None:
    odd = {"NumberOfInstances": 1e9, "NumberOfFeatures": 1e6, "Dimensionality": 1e-3, "NumberOfClasses": 500.0,
           "PercentageOfSymbolicFeatures": 100.0, "MinorityClassPercentage": 0.001, "LDAAUC": 0.0,
           "DecisionStumpAUC": 0.0}
    r = model.rank(odd, "binary", top_k=3, method="combined")
    km = model.kinds["classification"]
    assert r.novel and any("unlike every training dataset" in n for n in r.notes)
    assert [it["config_id"] for it in r.items] == km.portfolio.order[:3]
    assert len({it["algorithm"] for it in r.items}) >= 2


def test_candidates_respect_algorithms_and_data_size(model: MetaModel) -> None:
    r = model.rank(BALANCED, "binary", top_k=4, algorithms=["lightgbm", "linear"])
    assert {it["algorithm"] for it in r.items} <= {"lightgbm", "linear"}
    r = model.rank(BALANCED, "binary", top_k=3, algorithms=["linear"])  # one family: the cap cannot apply
    assert [it["algorithm"] for it in r.items] == ["linear"] * 3
    with pytest.raises(ConfigError, match="no candidate"):
        model.rank(BALANCED, "binary", algorithms=["svm"])
    with pytest.raises(ConfigError, match="unknown method"):
        model.rank(BALANCED, "binary", method="magic")
    with pytest.raises(ConfigError, match="top_k"):
        model.rank(BALANCED, "binary", top_k=0)


def test_ranker_scores_extra_sobol_candidates(model: MetaModel) -> None:
    r = model.rank(BALANCED, "binary", top_k=5, method="ranker", extra_candidates=8)
    known = set(model.kinds["classification"].matrix.config_ids)
    assert len(r.items) == 5
    extra = [it for it in r.items if it["config_id"] not in known]
    assert all(it["similar_datasets"] == [] for it in extra)
    assert r.items == model.rank(BALANCED, "binary", top_k=5, method="ranker", extra_candidates=8).items


def test_diversify_cap_dominance_and_near_duplicates() -> None:
    cfgs = [space.default_config("lightgbm", "binary")] + space.sample_configs("lightgbm", "binary", 4, seed=0)
    cfgs += [space.default_config("linear", "binary")]
    near = {"algorithm": "lightgbm", "params": dict(cfgs[0]["params"], num_leaves=32)}
    cfgs.insert(1, near)  # a near-duplicate of the default, second in line
    algos = [c["algorithm"] for c in cfgs]
    enc = np.vstack([space.encode(c, "binary") for c in cfgs])
    order = list(range(len(cfgs)))
    close = np.array([0.9, 0.89, 0.88, 0.87, 0.86, 0.85, 0.8])  # linear close behind: not dominant
    picks = diversify(order, close, algos, enc, 4)
    assert 1 not in picks  # the near-duplicate is skipped
    # the cap (2 of 4) moves linear ahead of the third lightgbm, which then fills the list
    assert [algos[i] for i in picks] == ["lightgbm", "lightgbm", "linear", "lightgbm"]
    far = np.array([0.9, 0.89, 0.88, 0.87, 0.86, 0.85, 0.3])  # overwhelming evidence for lightgbm
    picks = diversify(order, far, algos, enc, 4)
    assert [algos[i] for i in picks] == ["lightgbm"] * 4 and 1 not in picks
    # with only one family available the list is still filled
    assert len(diversify(order[:6], close, algos, enc, 4)) == 4

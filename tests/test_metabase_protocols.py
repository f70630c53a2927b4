"""Run protocols: each run row records how its score was estimated, and scores of different
protocols are never averaged (store, performance matrix, builds). Synthetic tables, no files of
../shared needed; the OpenML side on real responses is in test_metabase_openml_real.py."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autometa import space
from autometa.metabase.build import BuildSettings, build_metabase, result_rows
from autometa.metabase.store import (
    RUNS_DIR,
    Metabase,
    built_protocol,
    choose_protocols,
    is_built_protocol,
    one_protocol_per_dataset,
    run_protocols,
)
from autometa.metalearn.matrix import build_matrix

AUC = "openml:cv10/area_under_roc_curve"
ACC = "openml:cv10/predictive_accuracy"


def _configs(store: Metabase, n: int, task: str = "binary") -> list[str]:
    configs = [space.default_config("linear", task)] + space.sample_configs("linear", task, n - 1, seed=0)
    return store.add_configs(configs, task)


def _dataset(store: Metabase, name: str, task: str = "binary") -> str:
    did, _ = store.add_dataset({"name": name, "source": "synthetic", "task": task, "n_rows": 100, "n_cols": 4,
                                "checksum": f"sum-{name}", "metafeatures": {"NumberOfInstances": 100.0}})
    return did


def _built(did: str, cid: str, scores: list[float], protocol: str | None = "autometa:cv3/1000") -> list[dict]:
    rows = []
    for fold, score in enumerate(scores):
        row = {"dataset_id": did, "config_id": cid, "fold": fold, "seed": 0, "status": "ok", "n_folds": len(scores),
               "score": score, "m_roc_auc": score}
        if protocol is not None:
            row.update(protocol=protocol, metric="roc_auc")
        rows.append(row)
    return rows


def _imported(did: str, cid: str, run_id: int, score: float, protocol: str = AUC, metric: str = "roc_auc") -> dict:
    return {"dataset_id": did, "config_id": cid, "fold": -1, "seed": run_id, "status": "ok", "score": score,
            "metric": metric, "protocol": protocol, "openml_run_id": run_id, "openml_task_id": 3}


def test_protocol_helpers() -> None:
    assert built_protocol(3, 1000) == "autometa:cv3/1000"
    for p in ("autometa", "autometa:cv5/200", None, math.nan, ""):
        assert is_built_protocol(p), p
    for p in ("openml", AUC, "autometa-like", "openml:cv10r10/predictive_accuracy"):
        assert not is_built_protocol(p), p
    runs = pd.DataFrame({"dataset_id": ["a", "a", "a", "b", "b", "b", "c", "c"],
                         "config_id": ["1", "2", "3", "1", "2", "2", "1", "2"],
                         "protocol": [AUC, AUC, None, AUC, ACC, ACC, ACC, AUC]})
    # a: built (the missing protocol) wins; b: ACC covers one config as AUC does, but more rows;
    # c: a tie on configurations and rows -> the first by name (area_under... < predictive...)
    assert choose_protocols(runs) == {"a": "autometa", "b": ACC, "c": AUC}
    kept = one_protocol_per_dataset(runs)
    assert list(kept.index) == [2, 4, 5, 7] and list(kept["protocol"]) == ["autometa", ACC, ACC, AUC]
    legacy = pd.DataFrame({"dataset_id": ["a", "a"], "config_id": ["1", "2"], "openml_run_id": [np.nan, 17.0]})
    assert list(run_protocols(legacy, "autometa:cv3/1000")) == ["autometa:cv3/1000", "openml"]


def test_run_files_without_protocol_columns_read_as_built(tmp_path: Path) -> None:
    """Backward compatibility: Parquet run files written before protocols were recorded."""
    store = Metabase(tmp_path)
    did = _dataset(store, "old")
    multi = _dataset(store, "old-multi", task="multiclass")
    cids = _configs(store, 2)
    mcid = _configs(store, 1, task="multiclass")[0]
    store.flush()
    old = pd.DataFrame(_built(did, cids[0], [0.8, 0.82, 0.81], protocol=None)
                       + [{"dataset_id": multi, "config_id": mcid, "fold": -1, "seed": 9, "status": "ok",
                           "score": math.nan, "m_accuracy": 0.9, "openml_run_id": 9, "openml_task_id": 1882},
                          {"dataset_id": did, "config_id": cids[1], "fold": -1, "seed": 8, "status": "ok",
                           "score": 0.95, "m_roc_auc": 0.95, "openml_run_id": 8, "openml_task_id": 3}])
    assert "protocol" not in old.columns and "metric" not in old.columns
    old.to_parquet(tmp_path / RUNS_DIR / "part-0000000000000000001-000001.parquet", index=False)
    store.close()

    runs = Metabase(tmp_path, create=False).runs().set_index(["dataset_id", "fold"])
    assert set(runs.loc[did].loc[[0, 1, 2], "protocol"]) == {"autometa"}  # no build settings recorded
    assert set(runs.loc[did].loc[[0, 1, 2], "metric"]) == {"roc_auc"}  # the task's default metric
    assert runs.loc[(multi, -1), "protocol"] == "openml" and runs.loc[(multi, -1), "metric"] is None
    assert runs.loc[(did, -1), "protocol"] == "openml" and runs.loc[(did, -1), "metric"] == "roc_auc"

    # with a build's settings in the manifest, old built rows read as that build's protocol
    (tmp_path / "manifest.json").write_text(json.dumps({"settings": {"cv": 3, "max_rows": 1000, "seed": 0}}))
    mb = Metabase(tmp_path, create=False)
    assert mb.built_protocol() == "autometa:cv3/1000"
    runs = mb.runs()
    assert set(runs.loc[runs["fold"] >= 0, "protocol"]) == {"autometa:cv3/1000"}

    # and the matrix keeps the built rows of the dataset, not the legacy imported run
    m = build_matrix(mb.datasets(), mb.configs(), runs, "classification")
    row = m.dataset_ids.index(did)
    assert m.protocols[row] == "autometa:cv3/1000"
    assert m.raw[row, m.config_ids.index(cids[0])] == pytest.approx(0.81, abs=1e-6)
    assert cids[1] not in m.config_ids  # its only run (legacy import) was left out
    assert multi not in m.dataset_ids


def test_new_rows_keep_their_protocol_through_compaction(tmp_path: Path) -> None:
    store = Metabase(tmp_path)
    did = _dataset(store, "d")
    cids = _configs(store, 2)
    store.add_runs(_built(did, cids[0], [0.7, 0.72, 0.71]) + [_imported(did, cids[1], 5, 0.99)])
    store.compact()  # built rows have n_folds, imported ones none: nullable, not a failed cast
    store.close()
    runs = Metabase(tmp_path, create=False).runs().sort_values("fold")
    assert list(runs["protocol"]) == [AUC] + ["autometa:cv3/1000"] * 3
    assert list(runs["metric"]) == ["roc_auc"] * 4
    raw = pd.read_parquet(tmp_path / "runs.parquet")
    assert raw["n_folds"].isna().sum() == 1


def test_matrix_never_averages_protocols_of_one_dataset(tmp_path: Path) -> None:
    store = Metabase(tmp_path)
    both, only_openml, two_openml = (_dataset(store, n) for n in ("both", "openml-only", "two-openml"))
    c = _configs(store, 3)
    rows = _built(both, c[0], [0.60, 0.62, 0.64]) + _built(both, c[1], [0.70, 0.70, 0.70])
    rows += [_imported(both, c[0], 11, 0.99), _imported(both, c[2], 12, 0.98)]  # other folds, other scale
    rows += [_imported(only_openml, c[0], 21, 0.91), _imported(only_openml, c[1], 22, 0.93),
             _imported(only_openml, c[2], 23, 0.95)]
    rows += [_imported(two_openml, c[0], 31, 0.80), _imported(two_openml, c[1], 32, 0.85),
             _imported(two_openml, c[2], 33, 0.60, protocol=ACC, metric="accuracy")]
    store.add_runs(rows)
    store.close()
    mb = Metabase(tmp_path, create=False)
    m = build_matrix(mb.datasets(), mb.configs(), mb.runs(), "classification")
    proto = dict(zip(m.dataset_ids, m.protocols))
    assert proto == {both: "autometa:cv3/1000", only_openml: AUC, two_openml: AUC}
    r = {d: i for i, d in enumerate(m.dataset_ids)}
    col = {cid: j for j, cid in enumerate(m.config_ids)}
    # built dataset: the built folds only; the config run only by OpenML there is missing, not 0.98
    assert m.raw[r[both], col[c[0]]] == pytest.approx(0.62)
    assert m.raw[r[both], col[c[1]]] == pytest.approx(0.70)
    assert m.missing[r[both], col[c[2]]] and math.isnan(m.raw[r[both], col[c[2]]])
    np.testing.assert_allclose(m.raw[r[only_openml]], [0.91, 0.93, 0.95], rtol=1e-6)
    # two OpenML protocols: AUC covers two configurations, accuracy one -> the accuracy run is left out
    assert m.missing[r[two_openml], col[c[2]]]
    np.testing.assert_allclose(m.raw[r[two_openml], [col[c[0]], col[c[1]]]], [0.80, 0.85], rtol=1e-6)


def test_finished_counts_only_folds_of_builds(tmp_path: Path) -> None:
    store = Metabase(tmp_path)
    did = _dataset(store, "d")
    c = _configs(store, 2)
    # two of three built folds, plus an OpenML run of the same config (fold -1): not finished
    store.add_runs(_built(did, c[0], [0.7, 0.71]) + [_imported(did, c[0], 7, 0.9), _imported(did, c[1], 8, 0.9)])
    assert store.finished(did, n_folds=3) == set()
    store.add_runs([dict(_built(did, c[0], [0.7, 0.71, 0.72])[2])])
    assert store.finished(did, n_folds=3) == {c[0]}
    store.close()


def test_result_rows_and_builds_record_protocol_and_metric(tmp_path: Path) -> None:
    rows = result_rows("d", "c", {"status": "ok", "fold_scores": [0.5, 0.6]}, 2, seed=0,
                       protocol="autometa:cv2/100", metric="roc_auc")
    assert {(r["protocol"], r["metric"]) for r in rows} == {("autometa:cv2/100", "roc_auc")}
    assert "protocol" not in result_rows("d", "c", {"status": "ok", "fold_scores": [0.5]}, 1, seed=0)[0]

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame.assign(y=np.where(X[:, 0] > 0, "pos", "neg")).to_csv(corpus / "cls.csv", index=False)
    frame.assign(y=np.digitize(X[:, 0], [-0.5, 0.5]).astype(str)).to_csv(corpus / "multi.csv", index=False)
    settings = BuildSettings(configs_per_algorithm=0, max_rows=80, cv=3, run_time_limit=30.0, algorithms=["linear"])
    build_metabase([f"csv:{corpus}"], tmp_path / "mb", settings, progress=False, mf_time_budget=1.0)
    mb = Metabase(tmp_path / "mb", create=False)
    runs = mb.runs().merge(mb.datasets()[["dataset_id", "task"]], on="dataset_id")
    assert set(runs["protocol"]) == {"autometa:cv3/80"} == {mb.built_protocol()}
    assert dict(runs.groupby("task")["metric"].unique().map(list)) == {"binary": ["roc_auc"],
                                                                       "multiclass": ["log_loss"]}

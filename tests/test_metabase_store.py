"""Metabase storage: schema round-trip, run dedup, content checksums, corrupted files."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from autometa import space
from autometa.errors import ConfigError, DataError
from autometa.metabase import Metabase, content_checksum, open_metabase
from autometa.metabase.store import RUNS_DIR, normalise_name


def _frame(seed: int = 0, n: int = 60) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "a": rng.normal(size=n),
        "b": rng.integers(0, 5, size=n).astype(float),
        "c": pd.Categorical(rng.choice(["x", "y", "z"], size=n)),
    })
    y = pd.Series(pd.Categorical(rng.choice(["no", "yes"], size=n)), name="target")
    return X, y


def _record(name: str = "toy", source: str = "csv", **extra) -> dict:
    X, y = _frame()
    rec = {"name": name, "source": source, "task": "binary", "n_rows": len(X), "n_cols": X.shape[1],
           "checksum": content_checksum(X, y), "metafeatures": {"NumberOfInstances": 60.0, "ClassEntropy": 0.99},
           "rows_used": 60}
    rec.update(extra)
    return rec


def _runs(dataset_id: str, config_ids: list[str], folds: int = 3, seed: int = 0) -> list[dict]:
    rows = []
    for k, cid in enumerate(config_ids):
        for f in range(folds):
            rows.append({"dataset_id": dataset_id, "config_id": cid, "fold": f, "seed": seed, "n_folds": folds,
                         "status": "ok", "score": 0.5 + 0.01 * k + 0.001 * f, "m_roc_auc": 0.5 + 0.01 * k,
                         "m_accuracy": 0.7, "fit_seconds": 0.1, "predict_seconds": 0.01})
    return rows


def test_schema_round_trip(tmp_path):
    mb = Metabase(tmp_path / "mb")
    did, new = mb.add_dataset(_record(source_id="61"))
    assert new and did.startswith("toy-")
    configs = [space.default_config("linear", "binary")] + space.sample_configs("knn", "binary", 2, seed=0)
    ids = mb.add_configs(configs, "binary")
    assert ids == [space.config_id(c) for c in configs]
    assert mb.add_configs(configs, "binary") == ids  # stored once
    assert mb.add_runs(_runs(did, ids)) == 9
    mb.flush()
    mb.write_manifest({"sources": ["csv:x"], "wall_seconds_total": 1.5})
    mb.close()

    again = open_metabase(tmp_path / "mb")
    ds = again.datasets()
    assert list(ds["dataset_id"]) == [did]
    row = ds.iloc[0]
    assert row["name"] == "toy" and row["source"] == "csv" and row["source_id"] == "61"
    assert row["task"] == "binary" and int(row["n_rows"]) == 60 and int(row["n_cols"]) == 3
    assert row["mf_NumberOfInstances"] == 60.0 and int(row["rows_used"]) == 60
    cfg = again.configs()
    assert sorted(cfg["config_id"]) == sorted(ids)
    assert set(cfg["task_kind"]) == {"classification"}
    enc = cfg.set_index("config_id").loc[ids[0], "encoding"]
    np.testing.assert_allclose(np.asarray(enc, dtype=float), space.encode(configs[0], "binary"), equal_nan=True)
    assert again.config(ids[1]) == space.validate_config(configs[1], "binary")
    runs = again.runs()
    assert len(runs) == 9
    assert set(runs["status"]) == {"ok"}
    assert {"m_roc_auc", "m_accuracy", "score", "fit_seconds", "predict_seconds", "created", "versions"} <= set(runs)
    assert "scikit-learn=" in runs["versions"].iloc[0]
    assert again.finished(did) == set(ids)
    assert again.manifest() == {"sources": ["csv:x"], "wall_seconds_total": 1.5}
    s = again.summary()
    assert (s["n_datasets"], s["n_configs"], s["n_runs"], s["configs_per_dataset"]) == (1, 3, 9, 3.0)
    assert s["by_task"]["binary"]["n_runs"] == 9


def test_runs_dedup_on_write_and_read(tmp_path):
    mb = Metabase(tmp_path)
    did, _ = mb.add_dataset(_record())
    ids = mb.add_configs([space.default_config("linear", "binary")], "binary")
    assert mb.add_runs(_runs(did, ids)) == 3
    mb.flush()
    assert mb.add_runs(_runs(did, ids)) == 0  # already stored
    other = _runs(did, ids, seed=1)
    assert mb.add_runs(other) == 3  # another seed is another run
    mb.flush()
    mb.close()
    # a duplicate part file (e.g. left by a crash during compaction) is ignored on read
    parts = sorted((tmp_path / RUNS_DIR).glob("part-*.parquet"))
    dup = parts[0].with_name("part-9999999999999999999-000001.parquet")
    dup.write_bytes(parts[0].read_bytes())
    fresh = Metabase(tmp_path, create=False)
    assert len(fresh.runs()) == 6
    fresh.compact()
    assert not list((tmp_path / RUNS_DIR).glob("part-*.parquet"))
    assert len(pd.read_parquet(tmp_path / "runs.parquet")) == 6
    assert len(Metabase(tmp_path, create=False).runs()) == 6


def test_finished_needs_every_fold_and_counts_failures(tmp_path):
    mb = Metabase(tmp_path)
    did, _ = mb.add_dataset(_record())
    a, b = mb.add_configs([space.default_config("linear", "binary"), space.default_config("knn", "binary")],
                          "binary")
    rows = _runs(did, [a])[:2] + [{"dataset_id": did, "config_id": b, "fold": f, "n_folds": 3,
                                   "status": "timeout", "message": "slow"} for f in range(3)]
    mb.add_runs(rows)
    assert mb.finished(did) == {b}
    assert mb.finished(did, n_folds=2) == {a, b}


def test_bad_rows_and_records_are_config_errors(tmp_path):
    mb = Metabase(tmp_path)
    with pytest.raises(ConfigError, match="lacks 'task'"):
        mb.add_dataset({"name": "x", "source": "csv", "n_rows": 1, "n_cols": 1})
    with pytest.raises(ConfigError, match="status"):
        mb.add_runs([{"dataset_id": "d", "config_id": "c", "fold": 0, "status": "weird"}])
    with pytest.raises(ConfigError, match="lacks 'fold'"):
        mb.add_runs([{"dataset_id": "d", "config_id": "c", "status": "ok"}])
    with pytest.raises(ConfigError, match="no metabase"):
        Metabase(tmp_path / "absent", create=False)


def test_checksum_ignores_names_order_and_row_order():
    X, y = _frame(3)
    base = content_checksum(X, y)
    perm = np.random.default_rng(1).permutation(len(X))
    shuffled = X.iloc[perm].reset_index(drop=True)[["c", "a", "b"]].rename(columns={"a": "A1", "b": "B", "c": "C"})
    y2 = y.iloc[perm].reset_index(drop=True).rename("label")
    assert content_checksum(shuffled, y2) == base
    # relabelled classes and float32 copies of the numbers still agree
    y3 = y.cat.rename_categories({"no": "tested_negative", "yes": "tested_positive"})
    X32 = X.assign(a=X["a"].astype("float32").astype("float64"))
    assert content_checksum(X32, y3) == base
    # a changed value, or another target column, gives another checksum
    changed = X.copy()
    changed.loc[0, "a"] += 1.0
    assert content_checksum(changed, y) != base
    assert content_checksum(X.assign(c=y.astype(str)), X["c"]) != base


def test_dedup_by_checksum_and_by_name_and_shape(tmp_path):
    mb = Metabase(tmp_path)
    did, new = mb.add_dataset(_record("kr.vs.kp", "arff"))
    again, new2 = mb.add_dataset(_record("chess-shuffled", "keel"))  # same checksum
    assert (again, new, new2) == (did, True, False)
    assert "keel:chess-shuffled" in mb.datasets().iloc[0]["also_in"]
    # no checksum match: the same normalised name (aliases included) + columns + similar rows
    other = _record("chess", "keel", checksum="f" * 40, n_rows=55)
    assert mb.add_dataset(other) == (did, False)
    assert normalise_name("kr-vs-kp") == normalise_name("chess") == "krvskp"
    # a different shape under the same name is a different dataset
    far = _record("kr-vs-kp", "openml", checksum="e" * 40, n_rows=20)
    new_id, is_new = mb.add_dataset(far)
    assert is_new and new_id != did
    assert len(mb.datasets()) == 2


def test_corrupted_parquet_is_a_data_error_and_never_overwritten(tmp_path):
    mb = Metabase(tmp_path)
    did, _ = mb.add_dataset(_record())
    ids = mb.add_configs([space.default_config("linear", "binary")], "binary")
    mb.add_runs(_runs(did, ids))
    mb.close()
    for name in ("datasets.parquet", "runs/part"):
        target = tmp_path / name if name.endswith(".parquet") else sorted((tmp_path / RUNS_DIR).glob("part-*"))[0]
        good = target.read_bytes()
        broken = good[: len(good) // 2]
        target.write_bytes(broken)
        store = Metabase(tmp_path)
        with pytest.raises(DataError, match=target.name):
            store.runs() if "part" in target.name else store.datasets()
        with pytest.raises(DataError, match=target.name):
            store.add_dataset(_record("another", checksum="a" * 40)) if "datasets" in target.name else \
                store.add_runs(_runs(did, ids, seed=2))
        with pytest.raises(DataError, match=target.name):
            store.summary()
        store.close()
        assert target.read_bytes() == broken  # left as found
        target.write_bytes(good)
    assert len(Metabase(tmp_path, create=False).runs()) == 3


def test_second_writer_is_refused(tmp_path):
    first = Metabase(tmp_path)
    first.add_dataset(_record())
    second = Metabase(tmp_path)
    with pytest.raises(ConfigError, match="another process"):
        second.add_dataset(_record("other", checksum="b" * 40))
    first.close()
    second.add_dataset(_record("other", checksum="b" * 40))
    second.close()
    assert len(Metabase(tmp_path, create=False).datasets()) == 2


def test_update_dataset_and_nan_metafeatures(tmp_path):
    mb = Metabase(tmp_path)
    did, _ = mb.add_dataset(_record(metafeatures={"x": None, "y": 1.0}))
    mb.update_dataset(did, rows_used=42, n_folds=3)
    mb.close()
    row = Metabase(tmp_path, create=False).datasets().iloc[0]
    assert math.isnan(row["mf_x"]) and row["mf_y"] == 1.0 and int(row["rows_used"]) == 42

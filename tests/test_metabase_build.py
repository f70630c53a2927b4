"""Metabase building: resume after kill -9, bad files skipped, duplicates stored once, protocol."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autometa import space
from autometa.errors import ConfigError
from autometa.metabase import Metabase
from autometa.metabase.build import (BuildSettings, build_metabase, candidate_configs, result_rows,
                                     stratified_subsample)
from autometa.metabase.store import RUN_KEY, RUNS_DIR

REPO = Path(__file__).resolve().parents[1]


def _table(kind: str, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    df = pd.DataFrame(X, columns=["f1", "f2", "f3", "f4"])
    df["colour"] = rng.choice(["red", "green", "blue"], size=n)
    signal_ = X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=n)
    if kind == "binary":
        df["target"] = np.where(signal_ > 0, "yes", "no")
    elif kind == "multiclass":
        df["target"] = np.digitize(signal_, [-0.7, 0.7]).astype(str)
        df["target"] = "c" + df["target"]
    else:
        df["target"] = 3.0 * signal_ + 10.0
    return df


def _corpus(root: Path, n_sets: int = 3, rows: int = 120) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    kinds = ["binary", "multiclass", "regression"]
    for i in range(n_sets):
        _table(kinds[i % 3], rows, seed=i).to_csv(root / f"set{i}.csv", index=False)
    return root


def _settings(**kw) -> BuildSettings:
    base = dict(configs_per_algorithm=1, max_rows=200, cv=3, run_time_limit=30.0, algorithms=["linear"])
    base.update(kw)
    return BuildSettings(**base)


def test_build_resumes_after_sigkill_without_losing_or_duplicating_runs(tmp_path):
    corpus = _corpus(tmp_path / "corpus", n_sets=3)
    out = tmp_path / "mb"
    cmd = [sys.executable, "-m", "autometa.cli", "metabase", "build", "--source", f"csv:{corpus}",
           "--out", str(out), "--configs-per-algorithm", "1", "--max-rows", "200",
           "--algorithms", "linear,knn", "--flush-every", "3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            parts = list((out / RUNS_DIR).glob("part-*.parquet")) if (out / RUNS_DIR).is_dir() else []
            if len(parts) >= 2 or (out / "runs.parquet").exists():
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the build finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    before = Metabase(out, create=False).runs()
    assert 0 < len(before) < 3 * 8 * 3
    snapshot = {tuple(k): (c, s) for *k, c, s in
                before[list(RUN_KEY) + ["created", "score"]].itertuples(index=False, name=None)}

    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "datasets: 3 done" in done.stdout

    store = Metabase(out, create=False)
    after = store.runs()
    assert len(after) == 3 * 8 * 3  # 3 datasets x (2 algorithms x (default + 2 known-good + 1)) x 3 folds
    raw = pd.read_parquet(out / "runs.parquet")  # compacted: the only run file left
    assert not list((out / RUNS_DIR).glob("part-*.parquet"))
    assert not raw.duplicated(list(RUN_KEY)).any()
    kept = {tuple(k): (c, s) for *k, c, s in
            raw[list(RUN_KEY) + ["created", "score"]].itertuples(index=False, name=None)}
    for key, (created, score) in snapshot.items():  # runs finished before the kill were kept, not redone
        assert key in kept
        assert kept[key][0] == created
        assert kept[key][1] == score or (np.isnan(score) and np.isnan(kept[key][1]))
    for did in store.datasets()["dataset_id"]:
        assert len(store.finished(did)) == 8
    manifest = store.manifest()
    assert len(manifest["builds"]) == 2 and manifest["builds"][-1]["finished"] is True
    assert manifest["wall_seconds_total"] >= manifest["builds"][-1]["wall_seconds"]
    assert manifest["command"].startswith("autometa metabase build --source csv:")


def test_broken_file_is_skipped_with_reason_and_build_goes_on(tmp_path):
    corpus = _corpus(tmp_path / "corpus", n_sets=2)
    (corpus / "broken.csv").write_bytes(b"\x00\x01\x02garbage\xff\xfe" * 20)
    (corpus / "onecolumn.csv").write_text("only\n1\n2\n3\n")
    report = build_metabase([f"csv:{corpus}"], tmp_path / "mb", _settings(), progress=False)
    assert sorted(report.done) == ["set0", "set1"]
    skipped = dict(report.skipped)
    assert set(skipped) == {"broken", "onecolumn"}
    log = (tmp_path / "mb" / "build.log").read_text()
    assert "skip csv:broken:" in log and "skip csv:onecolumn:" in log
    assert skipped["onecolumn"] in log
    store = Metabase(tmp_path / "mb", create=False)
    assert len(store.datasets()) == 2
    assert len(store.runs()) == 2 * 4 * 3  # linear: default + 2 known-good + 1 Sobol


def test_same_data_from_two_sources_is_stored_once(tmp_path):
    first = _corpus(tmp_path / "a", n_sets=2)
    second = tmp_path / "b"
    second.mkdir()
    df = pd.read_csv(first / "set0.csv")
    shuffled = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    shuffled = shuffled[["f3", "colour", "f1", "f4", "f2", "target"]].rename(
        columns={"f1": "x1", "f2": "x2", "f3": "x3", "f4": "x4", "colour": "hue"})
    shuffled.to_csv(second / "copy_of_set0.csv", index=False)
    _table("regression", 110, seed=7).to_csv(second / "fresh.csv", index=False)
    report = build_metabase([f"csv:{first}", f"csv:{second}"], tmp_path / "mb", _settings(), progress=False)
    assert [d for d, _ in report.duplicates] == ["copy_of_set0"]
    store = Metabase(tmp_path / "mb", create=False)
    ds = store.datasets()
    assert sorted(ds["name"]) == ["fresh", "set0", "set1"]
    assert ds.set_index("name").loc["set0", "also_in"] == "csv:copy_of_set0"
    assert len(store.runs()) == 3 * 4 * 3


def test_protocol_change_on_resume_is_refused(tmp_path):
    corpus = _corpus(tmp_path / "corpus", n_sets=1)
    build_metabase([f"csv:{corpus}"], tmp_path / "mb", _settings(), progress=False)
    with pytest.raises(ConfigError, match="--cv 3"):
        build_metabase([f"csv:{corpus}"], tmp_path / "mb", _settings(cv=4), progress=False)
    report = build_metabase([f"csv:{corpus}"], tmp_path / "mb", _settings(), progress=False)
    assert report.runs_resumed == 4 and report.runs_ok == 0


def test_bad_settings_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="--cv"):
        build_metabase(["sklearn"], tmp_path, _settings(cv=1))
    with pytest.raises(ConfigError, match="unknown algorithm"):
        build_metabase(["sklearn"], tmp_path, _settings(algorithms=["nope"]))
    with pytest.raises(ConfigError, match="unknown source"):
        build_metabase(["nope:x"], tmp_path, _settings())


def test_candidate_set_is_shared_per_task_kind():
    a = candidate_configs("binary", 2, seed=0)
    b = candidate_configs("multiclass", 2, seed=0)
    assert a == b and len(a) == len(space.DEFAULT_ORDER) * (1 + 2 + 2)  # default, 2 known-good, 2 Sobol
    assert {c["algorithm"] for c in a} == set(space.DEFAULT_ORDER)
    assert a[0] == space.default_config(space.DEFAULT_ORDER[0], "binary")
    r = candidate_configs("regression", 2, seed=0)
    assert len({space.config_id(c) for c in r}) == len(r)


def test_stratified_subsample_keeps_shares_and_every_class():
    y = pd.Series(pd.Categorical(["a"] * 900 + ["b"] * 95 + ["c"] * 3 + ["d"] * 2 + ["e"]))
    idx, dropped = stratified_subsample(y, "multiclass", 200, seed=0, min_class_rows=3)
    assert dropped == []  # tiny classes are kept whole (make_splits keeps them in training)
    assert len(idx) == 200 and len(set(idx)) == 200
    counts = y.iloc[idx].value_counts()
    assert counts["a"] in range(175, 182) and counts["b"] in range(17, 22)
    assert (counts["c"], counts["d"], counts["e"]) == (3, 2, 1)
    # the same rows as the metafeatures' subsample with the same floor (one implementation)
    from autometa.metafeatures import stratified_subsample as mf_subsample
    np.testing.assert_array_equal(idx, mf_subsample(y, "multiclass", 200, 0, min_class_rows=3))
    # fewer rows than classes: some class must go, and is reported
    few, lost = stratified_subsample(pd.Series(list("aabbccdd")), "multiclass", 3, seed=0)
    assert len(few) == 3 and len(lost) == 1
    again, _ = stratified_subsample(y, "multiclass", 200, seed=0, min_class_rows=3)
    np.testing.assert_array_equal(idx, again)
    small, _ = stratified_subsample(pd.Series(np.arange(50.0)), "regression", 200)
    assert len(small) == 50


def test_result_rows_keep_completed_folds_of_a_timeout():
    res = {"status": "timeout", "message": "time limit", "fold_scores": [0.8],
           "fold_metrics": [{"roc_auc": 0.8, "accuracy": 0.7}], "fit_seconds": 2.0, "predict_seconds": 0.5}
    rows = result_rows("d", "c", res, 3, seed=0)
    assert [r["status"] for r in rows] == ["ok", "timeout", "timeout"]
    assert rows[0]["m_roc_auc"] == 0.8 and rows[0]["fit_seconds"] == 2.0
    assert rows[1]["message"] == "time limit" and np.isnan(rows[2]["score"])
    crash = result_rows("d", "c", {"status": "pruned", "message": "x"}, 2, seed=0)
    assert [r["status"] for r in crash] == ["crash", "crash"]

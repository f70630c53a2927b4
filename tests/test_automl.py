"""The one fit workflow (autometa.automl): hard time budget, budget fallback, Ctrl-C, progress."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

import autometa.cli as cli
from autometa import AutoMetaClassifier
from autometa.automl import FitInterrupted, FitProgress, fit_automl
from autometa.data import from_xy
from autometa.model import FittedModel
from autometa.search import SearchProgress
from test_cli_fit import run as _run_cli  # the CLI in-process: (exit code, stdout, stderr)

REPO_ROOT = Path(__file__).resolve().parents[1]


def _table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                       "colour": rng.choice(["red", "green", "blue"], n)})
    df["label"] = np.where(df["a"] + 0.5 * (df["colour"] == "red") + rng.normal(scale=0.5, size=n) > 0,
                           "yes", "no")
    return df




def test_budget_that_ends_before_any_trial_saves_a_fallback_model(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _table().to_csv("train.csv", index=False)
    # the budget counts from the process start: it is long gone before the first trial could start
    code, out, err = _run_cli(capsys, "fit", "train.csv", "--time-budget", "0.01", "--output", "m.joblib")
    assert code == 0, err
    assert "not validated" in err and "raise the time budget" in err
    assert "fallback model, not cross-validated" in out
    model = FittedModel.load("m.joblib")
    assert model.best_config["algorithm"]
    assert any("time budget" in n for n in model.notes)
    pred = model.predict(_table(20, seed=1).drop(columns="label"))
    assert set(pred) <= {"yes", "no"}


def test_fit_automl_fallback_and_no_fallback_without_budget():
    df = _table(300)
    ds = from_xy(df.drop(columns="label"), df["label"])
    fitted = fit_automl(ds, n_trials=3, time_budget=1e-3, warm_start=False, algorithms=["lightgbm", "linear"],
                        started=time.monotonic() - 1.0)
    assert fitted.fallback and fitted.search is None
    assert np.isnan(fitted.best_score)
    assert fitted.pipeline.predict(ds.X).shape == (300,)
    normal = fit_automl(ds, n_trials=2, warm_start=False, algorithms=["linear"], cv=3)
    assert not normal.fallback and normal.search.n_trials == 2
    assert set(normal.seconds) == {"describe", "search", "refit"}


def test_budget_runs_trials_in_a_child_and_reserves_time_for_the_refit(monkeypatch):
    import autometa.search as search

    calls = []
    real = search.run_limited

    def spy(func, args, kwargs, **limits):
        calls.append(limits["time_limit"])
        return real(func, args, kwargs, **limits)

    monkeypatch.setattr(search, "run_limited", spy)
    df = _table(300)
    ds = from_xy(df.drop(columns="label"), df["label"])
    events: list[FitProgress] = []
    fitted = fit_automl(ds, n_trials=3, time_budget=60, warm_start=False, algorithms=["linear"], cv=3,
                        progress=events.append)
    assert not fitted.fallback and fitted.search.n_trials == 3
    # each trial ran killable, with at most the remaining budget as its limit
    assert len(calls) == 3 and all(0 < c <= 60 - 0.5 for c in calls)
    # before a trial completed, 2 s (5 % of 60 s, at most 2 s) are kept for a fallback model;
    # afterwards, the expected refit time of the best configuration (at least 0.5 s)
    assert calls[0] <= 58.0
    phases = [e.phase for e in events]
    assert phases[0] == "describe" and "search" in phases and phases[-1] == "refit"
    assert all(e.budget == 60 for e in events)
    assert all(isinstance(e.search, SearchProgress) for e in events if e.phase == "search")


def test_estimator_time_budget_fallback_still_predicts():
    df = _table(200)
    clf = AutoMetaClassifier(n_trials=5, time_budget=1e-3, warm_start=False, algorithms=["lightgbm"])
    with pytest.warns(RuntimeWarning, match="time budget"):
        clf.fit(df.drop(columns="label"), df["label"])
    assert clf.fallback_ and clf.leaderboard_.empty
    assert set(clf.predict(df.drop(columns="label"))) <= {"yes", "no"}
    assert clf.predict_proba(df.drop(columns="label")).shape == (200, 2)


def test_keyboard_interrupt_keeps_the_best_model_so_far(monkeypatch):
    import autometa.search as search

    real = search._run_trial
    count = {"n": 0}

    def interrupting(*args, **kwargs):
        count["n"] += 1
        if count["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(search, "_run_trial", interrupting)
    df = _table(300)
    ds = from_xy(df.drop(columns="label"), df["label"])
    with pytest.raises(FitInterrupted) as info:
        fit_automl(ds, n_trials=10, warm_start=False, algorithms=["linear"], cv=3)
    result = info.value.result
    assert result is not None and result.interrupted
    assert result.search.n_trials == 2
    assert result.pipeline.predict(ds.X).shape == (300,)


def _wait_for_complete_trial(db: Path, proc: subprocess.Popen, timeout: float = 180.0) -> None:
    """Poll the study's SQLite file read-only (no Optuna storage: it would write to the schema)."""
    import sqlite3

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"fit ended before it was interrupted: {proc.communicate()[1]}")
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
                    if con.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]:
                        return
            except sqlite3.Error:
                pass
        time.sleep(0.3)
    raise AssertionError("no trial completed in time")


@pytest.mark.parametrize("budget", [None, "600"])
def test_ctrl_c_exits_130_saves_the_best_model_and_keeps_trials(tmp_path, budget):
    """A real SIGINT to the process group, as a terminal sends it (with a budget: trials in children)."""
    df = _table(3000)
    df.to_csv(tmp_path / "train.csv", index=False)
    old = tmp_path / "m.joblib"
    db = tmp_path / "s.db"
    cmd = [sys.executable, str(REPO_ROOT / "cli.py"), "fit", "train.csv", "--trials", "500", "--no-warm-start",
           "--algorithms", "linear,knn", "--storage", f"sqlite:///{db}", "--output", "m.joblib"]
    if budget:
        cmd += ["--time-budget", budget]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _wait_for_complete_trial(db, proc)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("interrupted: saved the best model of"), err
    assert "--resume" in lines[-1] and "Traceback" not in err
    model = FittedModel.load(old)
    assert model.predict(df.drop(columns="label").head(5)).shape == (5,)
    study = optuna.load_study(study_name="train", storage=f"sqlite:///{db}")
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    assert complete
    assert not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))


def test_progress_text_shows_elapsed_budget_and_eta():
    search = SearchProgress(done=2, total=10, best_score=0.9, elapsed=4.0)
    p = FitProgress("search", elapsed=6.0, budget=60.0, search=search)
    # 2 trials in 4 s -> 8 trials left take 16 s, inside the 54 s of budget left
    assert cli._eta_text(p, 2, 10, 4.0) == "6s / 60s, ETA 16s"
    late = FitProgress("search", elapsed=50.0, budget=60.0, search=search)
    assert cli._eta_text(late, 2, 10, 4.0) == "50s / 60s, ETA 10s"  # the budget ends first
    assert cli._eta_text(FitProgress("refit", elapsed=3.0, budget=None), 0, 10, 0.0) == "3s"
    assert cli._eta_text(FitProgress("search", elapsed=1.0, budget=None, search=search), 0, 10, 0.0) == "1s"

"""Faults: ``kill -9`` during ``autometa fit`` with a SQLite or journal storage, then ``--resume``
continues the study without losing a finished trial; trials the killed process left RUNNING are
marked FAIL with a note and not counted."""
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
from optuna.trial import TrialState

from autometa.search import INTERRUPTED_ATTR, open_storage

pytestmark = pytest.mark.timeout(180)
REPO_ROOT = Path(__file__).resolve().parents[1]
N_TRIALS = 10


def _write_data(folder: Path) -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x1": rng.normal(size=300), "x2": rng.normal(size=300),
                       "x3": rng.normal(size=300)})
    df["y"] = 3 * df["x1"] - df["x2"] + rng.normal(scale=0.3, size=300)
    df.to_csv(folder / "reg.csv", index=False)


def _fit_args(storage: str) -> list[str]:
    return [sys.executable, "-m", "autometa.cli", "fit", "reg.csv", "--storage", storage,
            "--study-name", "s", "--trials", str(N_TRIALS), "--algorithms", "linear,knn",
            "--cv", "3", "--no-warm-start", "--json"]


def _trials(storage: str) -> list:
    try:
        return optuna.load_study(study_name="s", storage=open_storage(storage)).get_trials()
    except KeyError:  # the study is not created yet
        return []


@pytest.mark.parametrize("storage", ["sqlite:///search.db", "search.journal"])
def test_kill_9_during_fit_then_resume_loses_no_finished_trial(tmp_path, monkeypatch, storage):
    _write_data(tmp_path)
    monkeypatch.chdir(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(_fit_args(storage), cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    try:
        while True:
            assert proc.poll() is None, f"fit ended before the kill: {proc.stderr.read()!r}"
            assert time.monotonic() < deadline, "no 2 complete trials within 90 s"
            time.sleep(0.2)
            proc.send_signal(signal.SIGSTOP)  # frozen: what we read now is what the kill leaves
            try:
                trials = _trials(storage)
            except Exception:  # caught mid-write (a partial journal line): look again later
                trials = []
            complete = [t for t in trials if t.state == TrialState.COMPLETE]
            running = [t for t in trials if t.state == TrialState.RUNNING]
            if len(complete) >= 2 and running:
                break
            proc.send_signal(signal.SIGCONT)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    before = {t.number: t for t in _trials(storage)}
    finished = {n: t.value for n, t in before.items() if t.state == TrialState.COMPLETE}
    left_running = {n for n, t in before.items() if t.state == TrialState.RUNNING}
    assert len(finished) >= 2 and left_running

    # without --resume the study is refused; with it the search continues
    again = subprocess.run(_fit_args(storage), cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 2 and "pass --resume" in again.stderr
    resumed = subprocess.run(_fit_args(storage) + ["--resume"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "left running by a stopped process marked failed" in resumed.stderr

    after = {t.number: t for t in _trials(storage)}
    for number, value in finished.items():  # nothing finished was lost or changed
        assert after[number].state == TrialState.COMPLETE and after[number].value == value
    for number in left_running:
        t = after[number]
        assert t.state == TrialState.FAIL and t.user_attrs[INTERRUPTED_ATTR] is True
        assert t.user_attrs["message"].startswith("interrupted:")
    assert not [t for t in after.values() if t.state == TrialState.RUNNING]
    counted = [t for t in after.values() if t.state.is_finished()
               and not t.user_attrs.get(INTERRUPTED_ATTR)]
    assert len(counted) == N_TRIALS
    assert '"n_trials": %d' % N_TRIALS in resumed.stdout

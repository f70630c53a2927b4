"""Hard per-trial limits (autometa.limits): a hanging or memory-hogging trial is stopped in its
child process, recorded as "timeout" / "memout", and the search goes on."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import autometa.cli as cli
import autometa.search as search
import autometa_test_hooks as hooks
from autometa.data import from_xy
from autometa.errors import ConfigError
from autometa.limits import run_limited
from autometa.search import run_search

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    y = np.where(X["a"] + rng.normal(scale=0.5, size=120) > 0, "yes", "no")
    return from_xy(X, y)


def _search(ds, **kwargs):
    return run_search(ds.X, ds.y, ds.column_types, ds.task, algorithms=["linear", "knn"], cv=2,
                      **kwargs)


def _by_algorithm(result):
    board = result.leaderboard
    return {a: set(board.loc[board["algorithm"] == a, "status"]) for a in ("linear", "knn")}


def test_hanging_trial_is_killed_at_the_time_limit_and_the_search_goes_on(binary):
    start = time.perf_counter()
    res = _search(binary, n_trials=3, trial_time_limit=2.0, evaluate=hooks.hang_on_knn)
    elapsed = time.perf_counter() - start
    statuses = _by_algorithm(res)
    assert statuses["knn"] == {"timeout"}  # the knn default (warm start) hung and was killed
    assert "ok" in statuses["linear"]
    assert res.n_trials == 3 and res.best_config["algorithm"] == "linear"
    knn = res.leaderboard[res.leaderboard["algorithm"] == "knn"].iloc[0]
    assert "trial time limit of 2s exceeded" in knn["message"]
    assert elapsed < 3 * 2.0 + 20  # each trial at most ~2 s, not the 3600 s the hang asks for


def test_memory_hog_is_a_memout_and_the_search_goes_on(binary):
    res = _search(binary, n_trials=3, trial_memory_limit_mb=300, evaluate=hooks.hog_memory_on_knn)
    statuses = _by_algorithm(res)
    assert statuses["knn"] == {"memout"}
    assert "ok" in statuses["linear"]
    knn = res.leaderboard[res.leaderboard["algorithm"] == "knn"].iloc[0]
    assert "MemoryError" in knn["message"] and "300 MB" in knn["message"]


def test_a_dying_trial_process_is_a_crash(binary):
    res = _search(binary, n_trials=2, trial_time_limit=60, evaluate=hooks.crash_process_on_knn)
    knn = res.leaderboard[res.leaderboard["algorithm"] == "knn"].iloc[0]
    assert knn["status"] == "crash" and "SIGKILL" in knn["message"]


def test_isolated_trials_score_like_in_process_ones(binary):
    plain = _search(binary, n_trials=4, seed=3)
    limited = _search(binary, n_trials=4, seed=3, trial_time_limit=60, trial_memory_limit_mb=2000)
    a = plain.leaderboard.sort_values("trial")
    b = limited.leaderboard.sort_values("trial")
    assert list(a["algorithm"]) == list(b["algorithm"])
    assert list(a["status"]) == list(b["status"])
    assert np.allclose(a["score"], b["score"], equal_nan=True)
    # fold reports reached the parent's study (the pruner's input)
    trial = limited.study.trials[0]
    assert sorted(trial.intermediate_values) == [0, 1]


def test_run_limited_reports_folds_and_can_prune(binary):
    from autometa.evaluate import evaluate_config, make_splits
    from autometa.space import default_config

    ds = binary
    splits = make_splits(ds.y, ds.task, cv=3, seed=0)
    seen = []

    def report(fold, mean):
        seen.append((fold, mean))
        return True  # prune after the first fold

    res = run_limited(evaluate_config, (default_config("linear", ds.task), ds.X, ds.y,
                                        ds.column_types, ds.task),
                      dict(metric="roc_auc", splits=splits), time_limit=60, report=report)
    assert res.status == "pruned" and len(seen) == 1 and math.isfinite(seen[0][1])


def test_caller_mistakes_in_the_child_are_raised(binary):
    from autometa.evaluate import evaluate_config, make_splits
    from autometa.space import default_config

    ds = binary
    splits = make_splits(ds.y, ds.task, cv=2, seed=0)
    with pytest.raises(ConfigError, match="unknown metric"):
        run_limited(evaluate_config, (default_config("linear", ds.task), ds.X, ds.y,
                                      ds.column_types, ds.task),
                    dict(metric="nope", splits=splits), time_limit=60)


@pytest.mark.parametrize("kwargs, message", [
    (dict(trial_time_limit=0), "trial_time_limit=0 must be a positive number"),
    (dict(trial_memory_limit_mb=-5), "trial_memory_limit_mb=-5 must be a positive number"),
    (dict(trial_memory_limit_mb="big"), "trial_memory_limit_mb='big' must be a positive number"),
])
def test_bad_limits_are_config_errors(binary, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        _search(binary, n_trials=1, **kwargs)


def test_cli_trial_limits(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"x1": rng.normal(size=80), "x2": rng.normal(size=80)})
    df["y"] = 3 * df["x1"] + rng.normal(scale=0.1, size=80)
    df.to_csv(tmp_path / "reg.csv", index=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(search, "evaluate_config", hooks.hang_on_knn)
    code = 0
    try:
        cli.main(["fit", "reg.csv", "--algorithms", "linear,knn", "--cv", "2", "--trials", "4",
                  "--no-warm-start", "--trial-time-limit", "1.5", "--trial-memory-limit", "1000",
                  "--seed", "5"])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert code in (0, None), err
    assert "best: linear" in out
    assert "2 trial(s) timeout: trial time limit of 1.5s exceeded" in out  # the two knn trials
    try:
        cli.main(["fit", "reg.csv", "--trial-memory-limit", "0"])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2 and "trial_memory_limit_mb=0.0 must be a positive number" in err


def _running(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_search_leaves_no_trial_process_behind(tmp_path):
    """kill -9 of a search (an unguarded script) also ends the trial process it started."""
    script = tmp_path / "search.py"  # no `if __name__ == "__main__":` guard on purpose
    script.write_text(
        "import numpy as np, pandas as pd\n"
        "import autometa.search as search, autometa_test_hooks as hooks\n"
        "from autometa.data import from_xy\n"
        "search.evaluate_config = hooks.hang_on_knn\n"
        "rng = np.random.default_rng(0)\n"
        "X = pd.DataFrame(rng.normal(size=(60, 2)), columns=['a', 'b'])\n"
        "ds = from_xy(X, X['a'] * 2, task='regression')\n"
        "search.run_search(ds.X, ds.y, ds.column_types, ds.task, algorithms=['knn'], cv=2,\n"
        "                  n_trials=2, trial_time_limit=600)\n"
    )
    pid_file = tmp_path / "trial.pid"
    env = {**os.environ, "AUTOMETA_TEST_PID_FILE": str(pid_file),
           "PYTHONPATH": os.pathsep.join([str(Path(hooks.__file__).parent),
                                          str(Path(hooks.__file__).parents[1])])}
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the trial never started"
            time.sleep(0.1)
        trial_pid = int(pid_file.read_text())
        assert _running(trial_pid)
    finally:
        proc.kill()
        proc.wait(30)
    deadline = time.monotonic() + 15
    while _running(trial_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(trial_pid), "the trial process outlived the killed search"

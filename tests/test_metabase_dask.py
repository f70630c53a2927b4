"""Metabase build on a dask.distributed cluster (--scheduler): same runs as a serial build."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:
    import distributed
except ImportError:  # pragma: no cover - the test extra installs it
    if os.environ.get("CI"):
        raise
    pytest.skip("dask.distributed is not installed (pip install 'autometa[distributed]')", allow_module_level=True)

from autometa.errors import ConfigError
from autometa.metabase import Metabase
from autometa.metabase.build import BuildSettings, build_metabase, command_line
from autometa.metabase.store import RUN_KEY

REPO = Path(__file__).resolve().parents[1]
#: run columns that depend on the machine and the clock, not on the protocol
VOLATILE = {"fit_seconds", "predict_seconds", "created", "versions"}


def _table(kind: str, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    df = pd.DataFrame(X, columns=["f1", "f2", "f3"])
    df["colour"] = rng.choice(["red", "green", "blue"], size=n)
    signal_ = X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=n)
    if kind == "binary":
        df["target"] = np.where(signal_ > 0, "yes", "no")
    elif kind == "multiclass":
        df["target"] = "c" + np.digitize(signal_, [-0.7, 0.7]).astype(str)
    else:
        df["target"] = 3.0 * signal_ + 10.0
    return df


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    for i, kind in enumerate(["binary", "multiclass", "regression"]):
        _table(kind, 90, seed=i).to_csv(root / f"set{i}.csv", index=False)
    return root


@pytest.fixture(scope="module")
def cluster():
    local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address=None)
    try:
        yield local
    finally:
        local.close()


def _settings(**kw) -> BuildSettings:
    base = dict(configs_per_algorithm=1, max_rows=200, cv=3, run_time_limit=60.0, algorithms=["linear", "lightgbm"])
    base.update(kw)
    return BuildSettings(**base)


def _comparable(out: Path) -> pd.DataFrame:
    runs = Metabase(out, create=False).runs()
    keep = [c for c in runs.columns if c not in VOLATILE]
    return runs[keep].sort_values(list(RUN_KEY)).reset_index(drop=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dask_build_matches_serial_build_and_resumes_either_way(corpus, cluster, tmp_path):
    scheduler = cluster.scheduler_address
    serial, remote = tmp_path / "serial", tmp_path / "remote"
    rep_s = build_metabase([f"csv:{corpus}"], serial, _settings(), progress=False)
    rep_d = build_metabase([f"csv:{corpus}"], remote, _settings(scheduler=scheduler), progress=False)
    assert len(rep_s.done) == len(rep_d.done) == 3 and not rep_d.skipped
    assert rep_d.runs_ok == rep_s.runs_ok == 3 * 8 and rep_d.runs_failed == 0
    # the runs went to the cluster's workers, and the joblib calls inside them stayed on their worker
    prefixes = set(cluster.scheduler.task_prefixes)
    assert any("_evaluate_one" in p for p in prefixes), prefixes
    assert not any("fit_transform" in p or "transform_one" in p for p in prefixes), prefixes

    a, b = _comparable(serial), _comparable(remote)
    assert len(a) == 3 * 8 * 3  # 3 datasets x (2 algorithms x (default + 2 known-good + 1)) x 3 folds
    assert list(a.columns) == list(b.columns)
    assert any(c.startswith("m_") for c in a.columns)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-12)
    assert (b["status"] == "ok").all()

    # the manifest records the scheduler of each build, and the command that reproduces it
    man = Metabase(remote, create=False).manifest()
    assert man["builds"][-1]["scheduler"] == scheduler
    assert f"--scheduler {scheduler}" in man["command"]
    assert "scheduler" not in man["settings"]
    # the scheduler is not part of the protocol: a serial build resumes on the cluster and back
    again = build_metabase([f"csv:{corpus}"], serial, _settings(scheduler=scheduler), progress=False)
    assert again.runs_ok == 0 and again.runs_resumed == 3 * 8
    back = build_metabase([f"csv:{corpus}"], remote, _settings(), progress=False)
    assert back.runs_ok == 0 and back.runs_resumed == 3 * 8
    builds = Metabase(serial, create=False).manifest()["builds"]
    assert [b.get("scheduler") for b in builds] == [None, scheduler]
    pd.testing.assert_frame_equal(_comparable(serial), a)


@pytest.mark.parametrize("address", ["not an address", "http://127.0.0.1:8786", "127.0.0.1", "tcp://:8786"])
def test_malformed_scheduler_address_is_a_config_error(address, tmp_path):
    with pytest.raises(ConfigError, match="--scheduler"):
        build_metabase(["csv:x"], tmp_path / "mb", _settings(scheduler=address))
    assert not (tmp_path / "mb").exists()


def test_well_formed_addresses_pass_the_check():
    for address in ("tcp://127.0.0.1:8786", "localhost:8786", "tcp://scheduler-0.cluster.local:8786",
                    "tcp://[::1]:8786"):
        _settings(scheduler=address).check()
    assert "--scheduler tcp://h:1" in command_line(["sklearn"], "mb", _settings(scheduler="tcp://h:1"))


def test_unreachable_scheduler_exits_2_with_one_line(corpus, tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    out = tmp_path / "mb"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "autometa.cli", "metabase", "build", "--source", f"csv:{corpus}", "--out", str(out),
         "--configs-per-algorithm", "1", "--algorithms", "linear", "--scheduler", address],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, done.stderr
    assert address in lines[0] and "scheduler" in lines[0]
    assert "Traceback" not in done.stderr
    assert not out.exists()  # nothing is created before the cluster answers

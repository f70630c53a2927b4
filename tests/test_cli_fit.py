"""The ``autometa fit`` / ``autometa predict`` commands and the saved model (autometa.model)."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import joblib
import numpy as np
import optuna
import pandas as pd
import pytest
from rich.console import Console

import autometa.cli as cli
import autometa.gpu as gpu
import autometa.search as search
from autometa.errors import DataError
from autometa.model import FittedModel

REPO_ROOT = Path(__file__).resolve().parents[1]
FAST = ["--algorithms", "linear,lightgbm", "--cv", "3"]


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    """A temporary current directory holding train.csv (binary) and reg.csv (regression)."""
    rng = np.random.default_rng(0)
    n = 160
    df = pd.DataFrame({
        "age": rng.integers(18, 80, n).astype(float),
        "income": rng.normal(50, 10, n),
        "city": rng.choice(["north", "south", "east"], n),
    })
    df["bought"] = np.where(df["income"] / 10 + (df["city"] == "north") + rng.normal(size=n) > 5.5,
                            "yes", "no")
    df.to_csv(tmp_path / "train.csv", index=False)
    new = df.drop(columns=["bought"]).head(12).assign(comment="ignored")
    new.to_csv(tmp_path / "new.csv", index=False)
    df.drop(columns=["bought", "city"]).head(5).to_csv(tmp_path / "no_city.csv", index=False)
    reg = pd.DataFrame({"x1": rng.normal(size=80), "x2": rng.normal(size=80)})
    reg["y"] = 3 * reg["x1"] - reg["x2"] + rng.normal(scale=0.1, size=80)
    reg.to_csv(tmp_path / "reg.csv", index=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *args):
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    code = 0
    try:
        cli.main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def fit_json(capsys, *args):
    code, out, err = run(capsys, "fit", *args, "--json")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    return json.loads(lines[0]), err


# ---------------------------------------------------------------- fit + predict
def test_fit_then_predict_round_trip(workdir, capsys):
    code, out, err = run(capsys, "fit", "train.csv", "--trials", 3, *FAST)
    assert code == 0, err
    assert "note: target: 'bought' (the last column)" in err
    assert "rank" in out and "CV score" in out and "origin" in out and "warm-start" in out
    assert "model saved to train.autometa.joblib" in out
    assert (workdir / "train.autometa.joblib").is_file()

    code, out, err = run(capsys, "predict", "train.autometa.joblib", "new.csv")
    assert code == 0, err
    preds = pd.read_csv(io.StringIO(out))
    assert list(preds.columns) == ["bought"] and len(preds) == 12
    assert set(preds["bought"]) <= {"yes", "no"}
    assert "ignored columns not used in training: 'comment'" in err

    code, out, err = run(capsys, "predict", "train.autometa.joblib", "new.csv", "--output",
                         "preds.csv")
    assert code == 0 and out == ""
    assert pd.read_csv(workdir / "preds.csv").equals(preds)


def test_fit_json_shape(workdir, capsys):
    obj, _ = fit_json(capsys, "train.csv", "--trials", 2, *FAST, "--output", "m.joblib")
    assert set(obj) == {"best_score", "metric", "best_config", "n_trials", "model_path", "device",
                        "task", "target", "fallback", "elapsed", "seconds"}
    assert obj["fallback"] is False and obj["elapsed"] > 0
    assert obj["metric"] == "roc_auc" and obj["task"] == "binary" and obj["target"] == "bought"
    assert obj["n_trials"] == 2 and obj["device"] == "cpu" and obj["model_path"] == "m.joblib"
    assert obj["best_config"]["algorithm"] in ("linear", "lightgbm")
    assert 0.5 < obj["best_score"] <= 1
    model = FittedModel.load(workdir / "m.joblib")
    assert model.best_config == obj["best_config"] and model.best_score == obj["best_score"]
    assert model.target == "bought" and model.classes == ["no", "yes"]
    assert set(model.versions) == {"autometa", "scikit-learn", "lightgbm"}


def test_predict_proba_has_one_column_per_class(workdir, capsys):
    fit_json(capsys, "train.csv", "--trials", 2, *FAST)
    code, out, err = run(capsys, "predict", "train.autometa.joblib", "new.csv", "--proba")
    assert code == 0, err
    proba = pd.read_csv(io.StringIO(out))
    assert list(proba.columns) == ["no", "yes"] and len(proba) == 12
    assert np.allclose(proba.sum(axis=1), 1.0)
    code, out, _ = run(capsys, "predict", "train.autometa.joblib", "new.csv")
    labels = pd.read_csv(io.StringIO(out))["bought"]
    assert (labels == proba.idxmax(axis=1)).all()


def test_regression_round_trip_and_proba_refused(workdir, capsys):
    obj, _ = fit_json(capsys, "reg.csv", "--trials", 2, "--algorithms", "linear", "--metric", "r2")
    assert obj["task"] == "regression" and obj["best_score"] > 0.9
    code, out, _ = run(capsys, "predict", "reg.autometa.joblib", "reg.csv")
    assert code == 0
    assert list(pd.read_csv(io.StringIO(out)).columns) == ["y"]
    code, out, err = run(capsys, "predict", "reg.autometa.joblib", "reg.csv", "--proba")
    assert code == 2 and out == ""
    assert err.strip() == "error: --proba needs a classification model; reg.autometa.joblib does " \
                          "regression"


# ---------------------------------------------------------------- bad input: one line, exit 2
@pytest.mark.parametrize("args, message", [
    (["predict", "model.joblib", "no_city.csv"],
     "prediction data lacks column(s) used in training: 'city'"),
    (["predict", "absent.joblib", "new.csv"], "model file 'absent.joblib' not found"),
    (["predict", "train.csv", "new.csv"], "is not an autometa model"),
    (["fit", "train.csv", "--algorithms", "linear,xgb"], "unknown algorithm 'xgb'"),
    (["fit", "train.csv", "--storage", "redis://host/0"], "unsupported storage URL"),
    (["fit", "train.csv", "--device", "tpu"], "unknown device 'tpu'"),
    (["fit", "train.csv", "--output", "nowhere/m.joblib"], "--output folder 'nowhere' does not"),
    (["fit", "missing.csv"], "missing.csv"),
])
def test_user_errors_are_one_line_and_exit_2(workdir, capsys, args, message):
    if args[1] == "model.joblib":
        fit_json(capsys, "train.csv", "--trials", 1, "--algorithms", "linear", "--output",
                 "model.joblib")
    if args[1] == "train.csv" and args[0] == "predict":
        joblib.dump({"not": "a model"}, workdir / "train.csv")  # a pickle, but not a model
    code, out, err = run(capsys, *args)
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert "Traceback" not in err


def test_corrupt_model_file_is_a_data_error(workdir):
    (workdir / "broken.joblib").write_bytes(b"\x80\x04garbage")  # no autometa header
    with pytest.raises(DataError, match="broken.joblib.* is not an autometa model"):
        FittedModel.load(workdir / "broken.joblib")
    # a well-formed header and checksum over a payload joblib cannot read
    import hashlib

    payload = b"\x80\x04garbage"
    header = {"format": "autometa-model", "format_version": 2, "payload": "joblib",
              "payload_bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    (workdir / "broken.joblib").write_bytes(json.dumps(header).encode() + b"\n" + payload)
    with pytest.raises(DataError, match="cannot read model file .*broken.joblib"):
        FittedModel.load(workdir / "broken.joblib")


def test_model_save_is_atomic_and_loads_back(workdir, capsys):
    fit_json(capsys, "reg.csv", "--trials", 1, "--algorithms", "linear")
    model = FittedModel.load("reg.autometa.joblib")
    target = workdir / "copy.joblib"
    target.write_text("old content")
    model.save(target)
    assert sorted(p.name for p in workdir.iterdir() if p.name.startswith(".")) == []
    again = FittedModel.load(target)
    frame = pd.read_csv(workdir / "reg.csv")
    assert np.allclose(again.predict(frame), model.predict(frame))


# ---------------------------------------------------------------- storage and resume
def test_sqlite_storage_resume_continues_the_study(workdir, capsys, monkeypatch):
    monkeypatch.setenv("AUTOMETA_METABASE", str(workdir / "no-metabase"))  # defaults as warm start
    args = ["train.csv", *FAST, "--storage", "sqlite:///search.db"]
    first, _ = fit_json(capsys, *args, "--trials", 3)
    assert first["n_trials"] == 3
    code, _, err = run(capsys, "fit", *args, "--trials", 5)
    assert code == 2 and "already exists in this storage; pass --resume" in err
    second, _ = fit_json(capsys, *args, "--trials", 5, "--resume")
    assert second["n_trials"] == 5
    study = optuna.load_study(study_name="train", storage="sqlite:///search.db")
    assert len(study.trials) == 5
    warm = Counter(t.user_attrs["config"] for t in study.trials
                   if t.user_attrs["origin"] == "warm-start")
    assert len(warm) == 2 and set(warm.values()) == {1}  # linear and lightgbm defaults, once


def test_journal_storage(workdir, capsys):
    args = ["reg.csv", "--algorithms", "linear,knn", "--storage", "study.journal",
            "--study-name", "s1"]
    fit_json(capsys, *args, "--trials", 2)
    obj, _ = fit_json(capsys, *args, "--trials", 4, "--resume")
    assert obj["n_trials"] == 4
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(workdir / "study.journal")))
    assert len(optuna.load_study(study_name="s1", storage=storage).trials) == 4


# ---------------------------------------------------------------- budgets, failures, device
def test_time_budget_stops_early(workdir, capsys):
    # how many trials fit in 2 s depends on the machine (benchmarks/budget.py measures the time);
    # what must hold: the search stops long before 10,000 trials and a model is saved either way
    obj, _ = fit_json(capsys, "reg.csv", "--trials", 10_000, "--time-budget", 2,
                      "--algorithms", "linear,knn", "--cv", "2")
    assert obj["n_trials"] < 10_000
    assert obj["fallback"] or obj["n_trials"] >= 1
    assert FittedModel.load(obj["model_path"]).task == "regression"


def test_failing_configuration_is_recorded_and_search_continues(workdir, capsys, monkeypatch):
    real = search.evaluate_config

    def broken_lightgbm(config, *args, **kwargs):
        if config["algorithm"] == "lightgbm":
            raise RuntimeError("lightgbm exploded")
        return real(config, *args, **kwargs)

    monkeypatch.setattr(search, "evaluate_config", broken_lightgbm)
    code, out, err = run(capsys, "fit", "train.csv", "--trials", 4, *FAST)
    assert code == 0, err
    assert re.search(r"best: linear roc_auc [0-9.]+ ± [0-9.]+ \(higher is better\) after 4 trials "
                     r"\([1-3] crash, counted in --trials\)", out)
    assert re.search(r"^[1-3] trial\(s\) crash: RuntimeError: lightgbm exploded$", out, re.M)
    model = FittedModel.load("train.autometa.joblib")
    assert model.best_config["algorithm"] == "linear"


def test_gpu_request_falls_back_with_one_warning(workdir, capsys, monkeypatch):
    monkeypatch.setattr(gpu, "_probe_result", "No OpenCL device found")
    obj, err = fit_json(capsys, "train.csv", "--trials", 2, *FAST, "--device", "gpu")
    assert obj["device"] == "cpu"
    warnings_shown = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings_shown == ["warning: GPU requested but LightGBM's GPU backend is not available "
                              "(No OpenCL device found); using CPU"]
    assert FittedModel.load("train.autometa.joblib").device == "cpu"


def test_progress_bar_on_a_terminal(workdir, capsys, monkeypatch):
    buffer = io.StringIO()
    monkeypatch.setattr(cli, "err_console", Console(file=buffer, force_terminal=True, width=100))
    code, out, _ = run(capsys, "fit", "train.csv", "--trials", 2, "--algorithms", "linear")
    assert code == 0
    shown = buffer.getvalue()
    assert "trials" in shown and "2/2" in shown and "best" in shown


def test_real_entry_point_in_a_subprocess(workdir):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    fit = subprocess.run(
        [sys.executable, "-m", "autometa.cli", "fit", "train.csv", "--trials", "2",
         "--algorithms", "linear", "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert fit.returncode == 0, fit.stderr
    assert json.loads(fit.stdout)["model_path"] == "train.autometa.joblib"
    pred = subprocess.run(
        [sys.executable, "-m", "autometa.cli", "predict", "train.autometa.joblib", "no_city.csv"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert pred.returncode == 2 and pred.stdout == ""
    assert pred.stderr.strip().startswith("error: prediction data lacks column(s)")
    assert len(pred.stderr.strip().splitlines()) == 1


def test_warm_start_is_the_default_and_can_be_switched_off(workdir, capsys):
    from autometa.recommend import warm_start_plan
    from autometa.data import load_data

    ds = load_data(workdir / "train.csv")
    expected = [r.config for r in warm_start_plan(ds, n_trials=4, algorithms=["linear", "lightgbm"]).recommendations]
    args = ["train.csv", *FAST, "--storage", "sqlite:///ws.db", "--trials", 4]
    fit_json(capsys, *args, "--study-name", "warm")
    study = optuna.load_study(study_name="warm", storage="sqlite:///ws.db")
    warm = [json.loads(t.user_attrs["config"]) if isinstance(t.user_attrs["config"], str)
            else t.user_attrs["config"] for t in study.trials if t.user_attrs["origin"] == "warm-start"]
    assert warm == expected[: len(warm)] and len(warm) == min(4, len(expected))

    fit_json(capsys, *args, "--study-name", "cold", "--no-warm-start")
    study = optuna.load_study(study_name="cold", storage="sqlite:///ws.db")
    assert {t.user_attrs["origin"] for t in study.trials} == {"tpe"}

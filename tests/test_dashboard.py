"""Studies saved with --storage open in optuna-dashboard with readable trial attributes."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import autometa.cli as cli

optuna_dashboard = pytest.importorskip("optuna_dashboard", reason="optuna-dashboard is in the test extra")


def _get(app, path: str) -> dict:
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "localhost",
           "SERVER_PORT": "80", "wsgi.input": io.BytesIO(b""), "wsgi.url_scheme": "http",
           "SERVER_PROTOCOL": "HTTP/1.1"}
    status: dict = {}

    def start_response(code, headers, exc_info=None):
        status["code"] = code

    body = b"".join(app(env, start_response))
    assert status["code"].startswith("200"), (path, status, body[:200])
    return json.loads(body)


def test_study_is_readable_in_optuna_dashboard(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=120), "x2": rng.normal(size=120)})
    frame["y"] = np.where(frame["x1"] + rng.normal(scale=0.5, size=120) > 0, "yes", "no")
    frame.to_csv(tmp_path / "train.csv", index=False)
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'study.db'}"
    cli.main(["fit", "train.csv", "--trials", "4", "--algorithms", "linear,knn", "--cv", "3",
              "--storage", db, "--json"])  # returns normally on success (errors exit 2)

    from optuna.storages import RDBStorage

    app = optuna_dashboard.wsgi(RDBStorage(db))
    summary = _get(app, "/api/studies")["study_summaries"][0]
    attrs = {a["key"]: a["value"] for a in summary["user_attrs"]}
    assert attrs["task"] == "binary" and attrs["metric"] == "roc_auc"
    study = _get(app, f"/api/studies/{summary['study_id']}")
    assert len(study["trials"]) == 4
    origins = set()
    for trial in study["trials"]:
        params = {p["name"]: p["param_external_value"] for p in trial["params"]}
        user = {a["key"]: a["value"] for a in trial["user_attrs"]}
        config = json.loads(user["config"])
        assert params["algorithm"] == config["algorithm"] in ("linear", "knn")
        assert all(f"{config['algorithm']}:{k}" in params for k in config["params"])
        if user["status"] == "ok":
            folds = json.loads(user["fold_scores"])
            assert len(folds) == 3 and all(isinstance(v, float) for v in folds)
        origins.add(user["origin"])
    assert origins <= {"warm-start", "tpe"} and "warm-start" in origins

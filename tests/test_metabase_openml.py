"""``import-openml``: the real ``openml`` client against the loopback fake in tests/openml_server.py.

Every test that talks HTTP runs under :func:`loopback_only`, which refuses any connection or DNS
lookup that is not loopback, so these tests never touch the network; the fake server's request
log is checked as well.
"""
from __future__ import annotations

import contextlib
import ipaddress
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from autometa import space
from autometa.errors import ConfigError, DataError
from autometa.metabase.openml import (
    ADAPTERS,
    NO_ADAPTER,
    FlowContext,
    Unmappable,
    find_adapter,
    flow_estimator,
    import_openml,
    map_run,
    parse_value,
    strip_version,
)
from autometa.metabase.store import Metabase

sys.path.insert(0, str(Path(__file__).resolve().parent))
from openml_server import DATA_DIR, FakeOpenML  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
RUNS = {r["run_id"]: r for r in json.loads((DATA_DIR / "runs.json").read_text())["runs"]}
_PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


# ------------------------------------------------------------------ network guard
@contextlib.contextmanager
def loopback_only() -> Iterator[list[str]]:
    """Refuse every non-loopback connection and DNS lookup; yield the hosts connected to."""
    seen: list[str] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = str(address[0])  # type: ignore[index]
            seen.append(host)
            if not ipaddress.ip_address(host).is_loopback:
                raise OSError(f"test guard: blocked a connection to {address}")
        return real_connect(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        if host not in (None, "127.0.0.1", "::1", "localhost"):
            raise socket.gaierror(f"test guard: blocked a lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket, "getaddrinfo", getaddrinfo)
        for var in _PROXY_VARS:
            mp.delenv(var, raising=False)
        mp.setenv("no_proxy", "*")
        mp.setenv("NO_PROXY", "*")
        yield seen


def _assert_loopback(server: FakeOpenML, seen: list[str]) -> None:
    assert seen, "the client connected nowhere"
    assert all(ipaddress.ip_address(h).is_loopback for h in seen), seen
    assert server.requests and {r.client for r in server.requests} == {"127.0.0.1"}
    assert not any("api_key" in r.query for r in server.requests), "an API key was sent"


@pytest.fixture()
def server(openml_fixtures: Path) -> Iterator[FakeOpenML]:
    with FakeOpenML(openml_fixtures) as srv:
        yield srv


@pytest.fixture(scope="module")
def imported(openml_fixtures: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One import of tasks 1882 (anneal) and 90030 (abalone), shared by the checks below."""
    out = tmp_path_factory.mktemp("openml") / "metabase"
    with FakeOpenML(openml_fixtures) as srv, loopback_only() as seen:
        import openml

        before = (openml.config.server, openml.config.apikey)
        openml.config.apikey = "do-not-send-me"
        try:
            summary = import_openml(out, tasks="1882,90030", server=srv.url)
            after = (openml.config.server, openml.config.apikey)
        finally:
            openml.config.server, openml.config.apikey = before
        return {"out": out, "summary": summary, "server": srv, "seen": list(seen),
                "config_after": after, "server_before": before[0]}


# ------------------------------------------------------------------ values and flow names
def test_parse_value_reads_json_and_r_literals() -> None:
    assert parse_value("10") == 10 and parse_value("0.5") == 0.5
    assert parse_value('"sqrt"') == "sqrt" and parse_value("radial") == "radial"
    assert parse_value("null") is None and parse_value("NA") is None and parse_value("") is None
    assert parse_value("TRUE") is True and parse_value("false") is False
    assert parse_value("1e-05") == pytest.approx(1e-5)


def test_flow_estimator_takes_the_last_step_of_nested_pipelines() -> None:
    nested = ("sklearn.pipeline.Pipeline(columntransformer=sklearn.compose._column_transformer."
              "ColumnTransformer(numeric=sklearn.pipeline.Pipeline(imputer=sklearn.impute._base.SimpleImputer,"
              "standardscaler=sklearn.preprocessing._data.StandardScaler),nominal=sklearn.pipeline.Pipeline("
              "simpleimputer=sklearn.impute._base.SimpleImputer,onehotencoder=sklearn.preprocessing._encoders."
              "OneHotEncoder)),variancethreshold=sklearn.feature_selection._variance_threshold.VarianceThreshold,"
              "svc=sklearn.svm._classes.SVC)(3)")
    assert flow_estimator(nested) == "sklearn.svm._classes.SVC"
    assert flow_estimator("mlr.classif.ranger(8)") == "mlr.classif.ranger"
    assert strip_version("weka.J48(1)") == "weka.J48"
    search = "sklearn.model_selection._search.RandomizedSearchCV(estimator=sklearn.svm.classes.SVC)(1)"
    assert flow_estimator(search) == "sklearn.model_selection._search.RandomizedSearchCV"


def test_adapter_registry_matches_flow_classes() -> None:
    cases = {
        "mlr.classif.ranger": "random_forest", "mlr.regr.svm": "svm", "mlr.classif.glmnet": "linear",
        "mlr.classif.kknn": "knn", "sklearn.ensemble._forest.ExtraTreesRegressor": "random_forest",
        "sklearn.svm.classes.SVC": "svm", "sklearn.neighbors._classification.KNeighborsClassifier": "knn",
        "sklearn.linear_model._logistic.LogisticRegression": "linear",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier": "hist_gb",
        "lightgbm.sklearn.LGBMRegressor": "lightgbm",
    }
    for estimator, algorithm in cases.items():
        found = find_adapter(estimator)
        assert found is not None, estimator
        assert found[1].algorithm == algorithm and found[1].doc
    for estimator in ("mlr.classif.xgboost", "mlr.classif.rpart", "sklearn.tree._classes.DecisionTreeClassifier",
                      "sklearn.ensemble._gb.GradientBoostingClassifier"):
        assert find_adapter(estimator) is None, estimator
        assert any(re.fullmatch(p, estimator) for p in NO_ADAPTER), estimator
    assert all(a.algorithm in space.ALGORITHMS for a in ADAPTERS.values())


# ------------------------------------------------------------------ adapters
CLS = FlowContext(task="multiclass", n_rows=1000, n_features=20, n_train=900.0)
BIN = FlowContext(task="binary", n_rows=1000, n_features=20, n_train=900.0)
REG = FlowContext(task="regression", n_rows=1000, n_features=8, n_train=900.0)


def _params(flow: str, **values: str) -> list[dict]:
    return [{"flow_name": flow, "parameter_name": k, "value": v} for k, v in values.items()]


def test_ranger_maps_mtry_min_node_size_and_records_clips() -> None:
    got = map_run("mlr.classif.ranger(8)", _params("mlr.classif.ranger", **{
        "num.trees": "2000", "mtry": "5", "min.node.size": "3", "replace": "FALSE"}), CLS)
    assert got.config == space.validate_config(got.config, "multiclass")
    p = got.config["params"]
    assert got.config["algorithm"] == "random_forest"
    assert p["n_estimators"] == 500 and p["max_features"] == "fraction"
    assert p["max_features_fraction"] == pytest.approx(5 / 20)
    assert p["min_samples_split"] == 4 and p["bootstrap"] is False
    assert got.clipped == ["num.trees=2000 -> n_estimators=500"]
    default = map_run("mlr.regr.ranger(8)", [], REG).config["params"]  # ranger's own defaults
    assert default["n_estimators"] == 500 and default["max_features"] == "sqrt"
    assert default["min_samples_split"] == 6
    assert map_run("mlr.classif.ranger(8)", _params("mlr.classif.ranger", splitrule="extratrees"),
                   CLS).config["algorithm"] == "extra_trees"


def test_svm_glmnet_and_kknn_adapters() -> None:
    svm = map_run("mlr.classif.svm(8)", _params("mlr.classif.svm", kernel="radial", cost="4096",
                                                 gamma="0.01"), BIN)
    assert svm.config["params"] == {"C": 1000.0, "gamma": "value", "gamma_value": 0.01}
    assert svm.clipped == ["cost=4096 -> C=1000"]
    with pytest.raises(Unmappable, match="kernel=polynomial"):
        map_run("mlr.classif.svm(8)", _params("mlr.classif.svm", kernel="polynomial"), BIN)

    glm = map_run("mlr.classif.glmnet(8)", _params("mlr.classif.glmnet", alpha="0.25", s="0.01"), BIN)
    assert glm.config["params"]["penalty"] == "elasticnet"
    assert glm.config["params"]["l1_ratio"] == 0.25
    assert glm.config["params"]["C"] == pytest.approx(1 / (0.01 * 900))
    ridge = map_run("mlr.classif.glmnet(8)", _params("mlr.classif.glmnet", alpha="0", s="0.1"), BIN)
    assert ridge.config["params"]["penalty"] == "l2"
    reg = map_run("mlr.regr.glmnet(8)", _params("mlr.regr.glmnet", alpha="1", s="0.05"), REG)
    assert reg.config["params"] == {"alpha": 0.05, "l1_ratio": 1.0}
    with pytest.raises(Unmappable, match="no single lambda"):
        map_run("mlr.classif.glmnet(8)", _params("mlr.classif.glmnet", alpha="0.5"), BIN)

    knn = map_run("mlr.classif.kknn(1)", _params("mlr.classif.kknn", k="300", distance="1",
                                                 kernel="rectangular"), CLS)
    assert knn.config["params"] == {"n_neighbors": 100, "weights": "uniform", "p": 1}
    assert knn.clipped == ["k=300 -> n_neighbors=100"]


def test_sklearn_adapters_follow_scikit_learn_conventions() -> None:
    rf = "sklearn.ensemble.forest.RandomForestClassifier"
    got = map_run(rf + "(12)", _params(rf, n_estimators="10", max_features='"auto"', min_samples_leaf="0.01",
                                        bootstrap="true", max_depth="null"), CLS)
    p = got.config["params"]
    assert p["max_features"] == "sqrt" and p["n_estimators"] == 50
    assert p["min_samples_leaf"] == math.ceil(0.01 * 900)
    with pytest.raises(Unmappable, match="max_depth=3"):
        map_run(rf + "(12)", _params(rf, max_depth="3"), CLS)
    with pytest.raises(Unmappable, match="does not fit a regression task"):
        map_run(rf + "(12)", [], REG)

    svr = "sklearn.svm.classes.SVR"
    got = map_run(svr + "(2)", _params(svr, kernel='"rbf"', C="10.0", gamma='"auto"', epsilon="0.2"), REG)
    assert got.config["params"] == {"C": 10.0, "gamma": "value", "gamma_value": 1 / 8, "epsilon": 0.2}

    pipe = ("sklearn.pipeline.Pipeline(scaler=sklearn.preprocessing._data.StandardScaler,"
            "knn=sklearn.neighbors._classification.KNeighborsClassifier)(1)")
    knn = "sklearn.neighbors._classification.KNeighborsClassifier"
    params = _params(knn, n_neighbors="15", weights='"distance"', metric='"manhattan"', p="2") + \
        _params("sklearn.preprocessing._data.StandardScaler", with_mean="true")
    assert map_run(pipe, params, BIN).config["params"] == {"n_neighbors": 15, "weights": "distance", "p": 1}

    lr = "sklearn.linear_model._logistic.LogisticRegression"
    got = map_run(lr + "(1)", _params(lr, C="0.1", penalty='"l1"'), BIN)
    assert got.config["params"] == {"C": 0.1, "penalty": "l1"}
    ridge = "sklearn.linear_model._ridge.Ridge"
    got = map_run(ridge + "(1)", _params(ridge, alpha="9.0"), REG)
    assert got.config["params"] == {"alpha": pytest.approx(9.0 / 900), "l1_ratio": 0.0}

    hgb = "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier"
    got = map_run(hgb + "(1)", _params(hgb, max_leaf_nodes="null", l2_regularization="0.5"), BIN)
    assert got.config["params"]["max_leaf_nodes"] == 256
    assert got.clipped == ["max_leaf_nodes=None (unlimited) -> max_leaf_nodes=256"]

    lgbm = "lightgbm.sklearn.LGBMClassifier"
    got = map_run(lgbm + "(1)", _params(lgbm, subsample="0.7", subsample_freq="0", num_leaves="63"), BIN)
    assert got.config["params"]["subsample"] == 1.0 and got.config["params"]["num_leaves"] == 63
    assert any("subsample_freq=0" in n for n in got.notes)


def test_flows_without_adapter_say_why() -> None:
    with pytest.raises(Unmappable, match="xgboost"):
        map_run("mlr.classif.xgboost(9)", [], BIN)
    with pytest.raises(Unmappable, match="no adapter for flow class moa.classifiers.Strange"):
        map_run("moa.classifiers.Strange(1)", [], BIN)


# ------------------------------------------------------------------ the import (fake server)
def test_import_stores_datasets_with_metafeatures_and_qualities(imported: dict) -> None:
    mb = Metabase(imported["out"], create=False)
    ds = mb.datasets().set_index("source_id")
    assert sorted(ds.index) == ["2", "30"]
    assert set(ds["source"]) == {"openml"}
    assert ds.loc["2", "name"] == "anneal" and ds.loc["2", "task"] == "multiclass"
    assert ds.loc["30", "name"] == "abalone" and ds.loc["30", "task"] == "regression"
    assert int(ds.loc["2", "n_rows"]) == 898 and int(ds.loc["30", "n_rows"]) == 4177
    mf_cols = [c for c in ds.columns if c.startswith("mf_")]
    assert len(mf_cols) > 50
    assert ds.loc["2", "mf_NumberOfInstances"] == 898
    assert ds.loc["2", mf_cols].notna().mean() > 0.7
    q2 = json.loads(ds.loc["2", "openml_qualities"])
    assert q2["NumberOfInstances"] == 898 and q2["NumberOfClasses"] == 6  # OpenML's own values
    q30 = json.loads(ds.loc["30", "openml_qualities"])
    assert q30["NumberOfInstances"] == 4177


def test_import_maps_runs_to_configs_with_metrics_and_provenance(imported: dict) -> None:
    mb = Metabase(imported["out"], create=False)
    runs = mb.runs().set_index("openml_run_id")
    mapped = {5001, 5002, 5003, 5004, 5005, 5009, 5010, 5011, 6001, 6002, 6004}
    assert set(runs.index) == mapped
    assert (runs["fold"] == -1).all() and (runs["status"] == "ok").all()
    assert list(runs["seed"]) == list(runs.index)
    algorithms = {cid: mb.config(cid)["algorithm"] for cid in runs["config_id"]}
    by_run = runs["config_id"].map(algorithms)
    assert by_run[5001] == "random_forest" and by_run[5004] == "svm" and by_run[5009] == "knn"
    assert by_run[5010] == "linear" and by_run[6002] == "hist_gb" and by_run[6004] == "svm"
    for rid in mapped:
        expected = RUNS[rid]["evaluations"]
        if "predictive_accuracy" in expected:  # anneal: multiclass, OpenML has no log loss -> accuracy
            assert runs.loc[rid, "m_accuracy"] == pytest.approx(expected["predictive_accuracy"])
            assert runs.loc[rid, "score"] == pytest.approx(expected["predictive_accuracy"])
            assert runs.loc[rid, "metric"] == "accuracy"
            assert runs.loc[rid, "protocol"] == "openml:cv10r10/predictive_accuracy"  # task 1882: 10x10-fold CV
        else:
            assert runs.loc[rid, "m_rmse"] == pytest.approx(expected["root_mean_squared_error"])
            assert runs.loc[rid, "m_mae"] == pytest.approx(expected["mean_absolute_error"])
            assert runs.loc[rid, "score"] == pytest.approx(-expected["root_mean_squared_error"])
            assert runs.loc[rid, "metric"] == "rmse"
            assert runs.loc[rid, "protocol"] == "openml:cv10/root_mean_squared_error"
    assert "m_roc_auc" not in runs.columns  # OpenML's multiclass AUC is not autometa's roc_auc
    assert runs.loc[5001, "openml_clipped"] == "num.trees=2000 -> n_estimators=500"
    assert "clipped num.trees=2000 -> n_estimators=500" in runs.loc[5001, "message"]
    assert runs.loc[5002, "openml_clipped"] == ""
    assert runs.loc[5009, "openml_flow"].startswith("sklearn.pipeline.Pipeline(")
    params = mb.config(runs.loc[5001, "config_id"])["params"]
    assert params["max_features_fraction"] == pytest.approx(12 / 38)
    assert params["min_samples_split"] == 4 and params["n_estimators"] == 500


def test_import_sets_unmappable_runs_aside(imported: dict) -> None:
    summary = imported["summary"]
    lines = (imported["out"] / "unmapped.jsonl").read_text().splitlines()
    records = {r["run_id"]: r for r in map(json.loads, lines)}
    assert set(records) == {5006, 5007, 5008, 6003}
    assert records[5006]["reason"].startswith("kernel=linear")
    assert "xgboost" in records[5008]["reason"] and records[5008]["flow_name"] == "mlr.classif.xgboost(9)"
    assert "decision trees" in records[6003]["reason"]
    assert summary.runs_listed == 15 and summary.runs_added == 11 and summary.runs_unmapped == 4
    assert summary.unmapped_by_flow["mlr.classif.rpart(8)"] == 1
    assert summary.datasets_new == 2 and summary.configs == 11 and summary.runs_clipped == 5
    assert summary.skipped_tasks == {}


def test_import_stays_on_loopback_and_restores_openml_config(imported: dict) -> None:
    srv = imported["server"]
    _assert_loopback(srv, imported["seen"])
    paths = srv.paths()
    for expected in ("/api/v1/xml/task/1882", "/api/v1/xml/data/2", "/api/v1/xml/data/features/2",
                     "/api/v1/xml/data/qualities/2", "/data/download/1666876/dataset_2.arff",
                     "/api/v1/xml/task/90030", "/api/v1/xml/data/30"):
        assert expected in paths
    assert any(p.startswith("/api/v1/xml/evaluation/list/function/predictive_accuracy/") and "/task/1882" in p
               for p in paths)
    assert any(p.startswith("/api/v1/xml/evaluation/list/function/mean_absolute_error/") and "/run/" in p
               for p in paths)
    assert any(p.startswith("/api/v1/xml/setup/list/setup/7001,") for p in paths)
    assert imported["config_after"] == (imported["server_before"], "do-not-send-me")


def test_reimport_adds_nothing_twice(imported: dict, server: FakeOpenML, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(imported["out"], out)
    with loopback_only() as seen:
        again = import_openml(out, tasks=[1882, 90030], server=server.url)
    _assert_loopback(server, seen)
    assert again.runs_added == 0 and again.runs_existing == 11 and again.datasets_new == 0
    mb = Metabase(out, create=False)
    assert len(mb.runs()) == 11 and len(mb.datasets()) == 2
    assert len((out / "unmapped.jsonl").read_text().splitlines()) == 4
    assert [e["completed"] for e in mb.manifest()["openml_imports"]] == [True, True]


def test_suite_flow_filter_and_max_runs(server: FakeOpenML, tmp_path: Path) -> None:
    with loopback_only() as seen:
        summary = import_openml(tmp_path / "mb", suite="autometa-test", flows="5965,5891", max_runs=2,
                                server=server.url)
    _assert_loopback(server, seen)
    assert [t["task_id"] for t in summary.tasks] == [1882, 90030]
    assert summary.tasks[0]["runs_listed"] == 2 and summary.tasks[1]["runs_listed"] == 0
    runs = Metabase(tmp_path / "mb", create=False).runs()
    assert sorted(runs["openml_run_id"]) == [5001, 5002]
    assert "/api/v1/xml/study/autometa-test" in server.paths()
    assert any("/limit/2/" in p and p.endswith("/task/1882/flow/5965,5891") for p in server.paths())


# ------------------------------------------------------------------ errors
def test_openml_error_response_is_one_data_error_line(server: FakeOpenML, tmp_path: Path) -> None:
    with loopback_only() as seen, pytest.raises(DataError) as err:
        import_openml(tmp_path / "mb", tasks="424242", server=server.url)
    _assert_loopback(server, seen)
    text = str(err.value)
    assert "\n" not in text and "OpenML error 151 (Unknown task)" in text and "task 424242" in text
    # the shared fixture's task 1 points at dataset 1, which the server does not know
    with loopback_only(), pytest.raises(DataError, match=r"OpenML error 111 \(Unknown dataset\)"):
        import_openml(tmp_path / "mb", tasks="1", server=server.url)
    server.errors[r"^evaluation/list"] = (541, "Input not safe")
    with loopback_only(), pytest.raises(DataError, match=r"OpenML error 541 \(Input not safe\).*evaluations"):
        import_openml(tmp_path / "mb2", tasks="1882", server=server.url, mf_time_budget=1.0)


def test_unreachable_server_says_so_and_points_to_offline_build(tmp_path: Path) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens on this port now
    with loopback_only(), pytest.raises(DataError) as err:
        import_openml(tmp_path / "mb", tasks="3", server=f"http://127.0.0.1:{port}/api/v1/xml", retries=1)
    text = str(err.value)
    assert "\n" not in text and "could not be reached" in text and "metabase build" in text


def test_arguments_are_checked_before_any_request(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="either --tasks"):
        import_openml(tmp_path, tasks="1", suite="99")
    with pytest.raises(ConfigError, match="either --tasks"):
        import_openml(tmp_path)
    with pytest.raises(ConfigError, match="positive integer ids"):
        import_openml(tmp_path, tasks="1,x")
    with pytest.raises(ConfigError, match="--server must be an http"):
        import_openml(tmp_path, tasks="1", server="ftp://example")
    with pytest.raises(ConfigError, match="--max-runs"):
        import_openml(tmp_path, tasks="1", max_runs=0)


# ------------------------------------------------------------------ command line
_GUARD = textwrap.dedent('''
    """Test guard for a CLI subprocess: refuse non-loopback connections and lookups, log them."""
    import ipaddress, os, socket

    _LOG = os.environ["AUTOMETA_TEST_GUARD_LOG"]
    _connect, _getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def _note(line):
        with open(_LOG, "a") as fh:
            fh.write(line + "\\n")

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not ipaddress.ip_address(address[0]).is_loopback:
            _note(f"blocked {address}")
            raise OSError(f"test guard: blocked a connection to {address}")
        return _connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in (None, "127.0.0.1", "::1", "localhost"):
            _note(f"blocked lookup {host}")
            raise socket.gaierror(f"test guard: blocked a lookup of {host}")
        return _getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo
    _note("guard active")
''')


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """Run ``python cli.py ARGS`` from the checkout with the loopback guard as sitecustomize."""
    guard_dir = tmp_path / "guard"
    guard_dir.mkdir(exist_ok=True)
    (guard_dir / "sitecustomize.py").write_text(_GUARD)
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARS}
    env.update(no_proxy="*", NO_PROXY="*", AUTOMETA_TEST_GUARD_LOG=str(tmp_path / "guard.log"),
               PYTHONPATH=os.pathsep.join([str(guard_dir), str(REPO_ROOT)] +
                                          ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])))
    return subprocess.run([sys.executable, str(REPO_ROOT / "cli.py"), *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)


def test_cli_import_openml_against_the_fake_server(server: FakeOpenML, tmp_path: Path) -> None:
    out = tmp_path / "mb"
    done = _cli(["metabase", "import-openml", "--tasks", "1882", "--flows", "5965,5963", "--server", server.url,
                 "--out", str(out), "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["runs_added"] == 3 and summary["runs_unmapped"] == 1
    assert summary["unmapped_by_flow"] == {"mlr.classif.rpart(8)": 1}
    runs = Metabase(out, create=False).runs()
    assert sorted(runs["openml_run_id"]) == [5001, 5002, 5003]
    assert (tmp_path / "guard.log").read_text().splitlines() == ["guard active"]
    assert {r.client for r in server.requests} == {"127.0.0.1"}

    failed = _cli(["metabase", "import-openml", "--tasks", "424242", "--server", server.url,
                   "--out", str(tmp_path / "mb2")], tmp_path)
    assert failed.returncode == 2
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "OpenML error 151 (Unknown task)" in errors[0], failed.stderr
    assert "Traceback" not in failed.stderr

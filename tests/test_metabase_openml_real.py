"""OpenML import on real OpenML responses: scores, metrics and run protocols.

The loopback server of tests/openml_server.py serves these real OpenML documents from the shared
fixtures (``../shared/openml-fixtures/org/openml/test``, read in place, never copied):

* ``runs/1/description.xml`` -- run 100, task 28 (optdigits, 10 classes), flow
  ``weka.BayesNet_K2(1)``, setup 12; aggregated ``predictive_accuracy`` 0.922242 and
  ``area_under_roc_curve`` 0.990288 (OpenML reports no log loss). The server derives the
  evaluation-list entries of run 100 from it (:func:`openml_server.real_run`);
* ``api/v1/xml/setup/1/body.xml`` -- setup 100 of flow 60, ``weka.J48`` (C=0.9, M=2); the server
  derives its setup-list entry from it (:func:`openml_server.real_setup`);
* ``tasks/3/task.xml`` (kr-vs-kp, binary, 10-fold CV) and ``tasks/1882/task.xml`` (anneal,
  multiclass, 10 times repeated 10-fold CV), ``datasets/2/*`` (anneal) as OpenML served them.

Derived (built from real files, not OpenML responses): ``tests/data/openml/task_28.xml`` (the
task of run 100, from runs/1/description.xml in the layout of tasks/1/task.xml), datasets 3
(kr-vs-kp) and 28 (optdigits) built by the server from the shared ARFF corpus
(``../shared/datasets/arff/classification/{kr.vs.kp,optdigits}.arff.gz``; optdigits' class
counts equal the real run's ``number_of_instances`` per class, checked below).

No real run of the fixtures has a flow autometa can map (run 100 is a Weka Bayes net, setup 100
a Weka J48 tree): the real run is imported end to end and set aside as unmapped with the score,
metric and protocol it would have had. The *mapped* runs whose score, metric and protocol are
checked on the binary task 3 and the multiclass task 1882 are the hand-written evaluations of
``tests/data/openml/runs.json`` (marked as such there) on those real tasks and datasets.
"""
from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from autometa.metabase.build import BuildSettings, build_metabase
from autometa.metabase.openml import (
    OPENML_SCORES,
    Unmappable,
    estimation_procedure,
    import_openml,
    map_run,
    openml_score,
)
from autometa.metabase.store import Metabase, is_built_protocol
from autometa.metalearn.matrix import build_matrix

from openml_server import ARFF_DATASETS, DATA_DIR, FakeOpenML  # noqa: E402  (tests/ is on sys.path)
from test_metabase_openml import _assert_loopback, loopback_only  # noqa: E402

RUNS = {r["run_id"]: r for r in json.loads((DATA_DIR / "runs.json").read_text())["runs"]}
REAL_RUN = "runs/1/description.xml"
REAL_SETUP = "api/v1/xml/setup/1/body.xml"
# values of the real run 100 as its description states them
REAL_ACCURACY, REAL_AUC = 0.922242, 0.990288
REAL_CLASS_COUNTS = [554, 571, 557, 572, 568, 558, 558, 566, 554, 562]  # number_of_instances array


@pytest.fixture(scope="module")
def corpus(openml_fixtures: Path, arff_dir: Path) -> Path:
    """The shared ARFF corpus, with the files the server builds datasets 3 and 28 from."""
    for _name, rel in ARFF_DATASETS.values():
        if not (arff_dir / rel).is_file():
            pytest.skip(f"needs {arff_dir / rel} of the shared ARFF corpus (absent on this machine)")
    return arff_dir


@pytest.fixture()
def server(openml_fixtures: Path):
    """The fake server (the checks with it need only the real OpenML documents)."""
    with FakeOpenML(openml_fixtures) as srv:
        yield srv


@pytest.fixture(scope="module")
def real(openml_fixtures: Path, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One import of task 28 (the real run), task 3 (binary) and task 1882 (multiclass)."""
    out = tmp_path_factory.mktemp("openml-real") / "metabase"
    with FakeOpenML(openml_fixtures, arff_dir=corpus) as srv, loopback_only() as seen:
        summary = import_openml(out, tasks="28,3,1882", server=srv.url, mf_time_budget=2.0)
        return {"out": out, "summary": summary, "server": srv, "seen": list(seen)}


def _runs(out: Path):
    return Metabase(out, create=False).runs().set_index("openml_run_id")


# ------------------------------------------------------------------ the real documents
def test_server_derives_list_entries_from_the_real_documents(server: FakeOpenML, tmp_path: Path) -> None:
    import openml

    assert [Path(r["source"]).as_posix().endswith(REAL_RUN) for r in server.real_runs] == [True]
    assert [Path(s["source"]).as_posix().endswith(REAL_SETUP) for s in server.real_setups] == [True]
    saved = (openml.config.server, openml.config.apikey, openml.config._root_cache_directory)
    with loopback_only() as seen:
        try:
            openml.config.server, openml.config.apikey = server.url, ""
            openml.config.set_root_cache_directory(tmp_path / "cache")
            run = openml.runs.get_run(1)  # the real document, parsed by openml
            listed = {fn: openml.evaluations.list_evaluations(fn, runs=[run.run_id], output_format="dataframe")
                      for fn in ("predictive_accuracy", "area_under_roc_curve")}
            setup = openml.setups.get_setup(1)
            setups = openml.setups.list_setups(setup=[setup.setup_id], output_format="object")
        finally:
            openml.config.server, openml.config.apikey = saved[:2]
            openml.config.set_root_cache_directory(saved[2])
    _assert_loopback(server, seen)
    assert (run.run_id, run.task_id, run.setup_id, run.flow_name) == (100, 28, 12, "weka.BayesNet_K2(1)")
    assert run.evaluations["predictive_accuracy"] == REAL_ACCURACY
    assert run.evaluations["area_under_roc_curve"] == REAL_AUC
    for fn, frame in listed.items():  # the list entries carry the document's values
        assert list(frame["run_id"]) == [100] and list(frame["task_id"]) == [28]
        assert list(frame["value"]) == [run.evaluations[fn]]
        assert list(frame["flow_name"]) == [run.flow_name] and list(frame["data_name"]) == ["optdigits"]
    assert (setup.setup_id, setup.flow_id) == (100, 60)
    real = {p.parameter_name: p.value for p in setup.parameters.values()}
    assert real == {"C": "0.9", "M": "2"}
    assert {p.parameter_name: p.value for p in setups[100].parameters.values()} == real


def test_optdigits_from_the_corpus_is_the_dataset_of_the_real_run(real: dict) -> None:
    """The class counts of the served optdigits equal the real run's per-class instance counts."""
    import pandas as pd

    ds = Metabase(real["out"], create=False).datasets().set_index("source_id")
    assert ds.loc["28", "name"] == "optdigits" and ds.loc["28", "task"] == "multiclass"
    assert int(ds.loc["28", "n_rows"]) == sum(REAL_CLASS_COUNTS) == 5620
    arff = real["server"]._generate(28)["dataset.arff"]
    labels = [line.rsplit(",", 1)[1] for line in arff.split("@DATA\n", 1)[1].splitlines() if line]
    counts = pd.Series(labels).value_counts()
    assert [int(counts[str(c)]) for c in range(10)] == REAL_CLASS_COUNTS


def test_real_setup_is_refused_with_the_reason(server: FakeOpenML) -> None:
    setup = server.real_setups[0]
    params = [{"flow_name": p["flow_name"], "parameter_name": p["name"], "value": p["value"]}
              for p in setup["parameters"]]
    assert {p["parameter_name"]: p["value"] for p in params} == {"C": "0.9", "M": "2"}
    from autometa.metabase.openml import FlowContext

    ctx = FlowContext(task="multiclass", n_rows=5620, n_features=64, n_train=5058.0)
    with pytest.raises(Unmappable, match="single decision trees"):
        map_run("weka.J48(1)", params, ctx)


# ------------------------------------------------------------------ scoring the real run
def test_real_multiclass_measures_give_an_accuracy_score_with_its_protocol(server: FakeOpenML) -> None:
    measures = server.real_runs[0]["evaluations"]
    assert "log_loss" not in measures and "mean_log_loss" not in measures  # OpenML has none
    assert openml_score("multiclass", measures, "cv10") == (
        pytest.approx(REAL_ACCURACY), "accuracy", "openml:cv10/predictive_accuracy")
    # without accuracy: OpenML's (class-weighted) AUC, recorded as OpenML's own measure
    no_acc = {k: v for k, v in measures.items() if k != "predictive_accuracy"}
    assert openml_score("multiclass", no_acc, "cv10") == (
        pytest.approx(REAL_AUC), "openml_area_under_roc_curve", "openml:cv10/area_under_roc_curve")
    # binary tasks score AUC (autometa's default metric, the same computation)
    assert openml_score("binary", measures, "cv10") == (
        pytest.approx(REAL_AUC), "roc_auc", "openml:cv10/area_under_roc_curve")
    score, metric, protocol = openml_score("regression", measures, "cv10")  # real RMSE 0.117387
    assert (score, metric, protocol) == (pytest.approx(-0.117387), "rmse", "openml:cv10/root_mean_squared_error")
    assert math.isnan(openml_score("multiclass", {"kappa": 0.9}, "cv10")[0])
    assert OPENML_SCORES["multiclass"][0] == "predictive_accuracy"


def test_estimation_procedure_names() -> None:
    class Task:
        def __init__(self, kind: str, **params: str) -> None:
            self.estimation_procedure = {"type": kind, "parameters": params}

    assert estimation_procedure(Task("crossvalidation", number_repeats="1", number_folds="10")) == "cv10"
    assert estimation_procedure(Task("crossvalidation", number_repeats="10", number_folds="10")) == "cv10r10"
    assert estimation_procedure(Task("holdout", number_repeats="1", percentage="33")) == "holdout33"
    assert estimation_procedure(Task("leaveoneout")) == "loo"
    assert estimation_procedure(Task("testthentrain")) == "testthentrain"
    assert estimation_procedure(object()) == "unknown"


def test_real_run_is_imported_and_set_aside_with_its_score(real: dict) -> None:
    _assert_loopback(real["server"], real["seen"])
    paths = real["server"].paths()
    assert "/api/v1/xml/task/28" in paths and "/api/v1/xml/task/3" in paths
    assert any(p.startswith("/api/v1/xml/evaluation/list/function/area_under_roc_curve/") and "/run/100" in p
               for p in paths)
    records = {r["run_id"]: r for r in map(json.loads, (real["out"] / "unmapped.jsonl").read_text().splitlines())}
    rec = records[100]
    assert (rec["task_id"], rec["data_id"], rec["setup_id"], rec["flow_name"]) == (28, 28, 12, "weka.BayesNet_K2(1)")
    assert "Weka" in rec["reason"]
    assert rec["score"] == pytest.approx(REAL_ACCURACY)
    assert rec["metric"] == "accuracy" and rec["protocol"] == "openml:cv10/predictive_accuracy"
    task28 = next(t for t in real["summary"].tasks if t["task_id"] == 28)
    assert task28["runs_listed"] == 1 and task28["runs_added"] == 0 and task28["runs_unmapped"] == 1


# ------------------------------------------------------------------ mapped runs: binary and multiclass
def test_binary_runs_score_auc_or_accuracy_with_the_protocol(real: dict) -> None:
    runs = _runs(real["out"])
    auc = runs.loc[5201]
    assert auc["score"] == pytest.approx(RUNS[5201]["evaluations"]["area_under_roc_curve"])
    assert auc["metric"] == "roc_auc" and auc["protocol"] == "openml:cv10/area_under_roc_curve"
    assert auc["m_roc_auc"] == pytest.approx(0.9993) and auc["m_accuracy"] == pytest.approx(0.9937)
    assert runs.loc[5202, "protocol"] == "openml:cv10/area_under_roc_curve"
    acc = runs.loc[5203]  # OpenML lists no AUC for this run: its accuracy, under another protocol
    assert acc["score"] == pytest.approx(0.99) and acc["metric"] == "accuracy"
    assert acc["protocol"] == "openml:cv10/predictive_accuracy"
    task3 = next(t for t in real["summary"].tasks if t["task_id"] == 3)
    assert task3["task"] == "binary" and task3["runs_added"] == 3
    assert task3["protocols"] == {"openml:cv10/area_under_roc_curve": 2, "openml:cv10/predictive_accuracy": 1}


def test_multiclass_runs_score_accuracy_with_the_protocol(real: dict) -> None:
    runs = _runs(real["out"])
    anneal = runs[runs["openml_task_id"] == 1882]
    assert len(anneal) == 8
    for rid, row in anneal.iterrows():
        assert row["score"] == pytest.approx(RUNS[rid]["evaluations"]["predictive_accuracy"])
        assert row["m_accuracy"] == pytest.approx(row["score"])
        assert row["metric"] == "accuracy" and row["protocol"] == "openml:cv10r10/predictive_accuracy"
    assert anneal["m_roc_auc"].isna().all()  # OpenML's multiclass AUC is not autometa's roc_auc
    assert not runs["protocol"].map(is_built_protocol).any()


def test_matrix_keeps_one_openml_protocol_per_dataset(real: dict) -> None:
    mb = Metabase(real["out"], create=False)
    m = build_matrix(mb.datasets(), mb.configs(), mb.runs(), "classification")
    assert m is not None
    names = dict(zip(m.dataset_ids, m.datasets["name"]))
    protocols = {names[d]: p for d, p in zip(m.dataset_ids, m.protocols)}
    # kr-vs-kp: AUC covers two configurations, accuracy one -> AUC; the accuracy run is left out
    assert protocols == {"kr-vs-kp": "openml:cv10/area_under_roc_curve",
                         "anneal": "openml:cv10r10/predictive_accuracy"}
    runs = mb.runs().set_index("openml_run_id")
    assert runs.loc[5203, "config_id"] not in m.config_ids  # its only run was left out
    row = m.dataset_ids.index(runs.loc[5201, "dataset_id"])
    col = m.config_ids.index(runs.loc[5201, "config_id"])
    assert m.raw[row, col] == pytest.approx(0.9993)


# ------------------------------------------------------------------ built and imported runs together
@pytest.fixture(scope="module")
def mixed(openml_fixtures: Path, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """kr-vs-kp built from the corpus (linear default and its 2 known-good settings, 3-fold CV), then
    OpenML tasks 3 and 1882 imported."""
    root = tmp_path_factory.mktemp("openml-mixed")
    source = root / "corpus"
    source.mkdir()
    os.symlink(corpus / ARFF_DATASETS[3][1], source / "kr.vs.kp.arff.gz")  # the shared file, read in place
    out = root / "metabase"
    settings = BuildSettings(configs_per_algorithm=0, max_rows=200, cv=3, run_time_limit=60.0, algorithms=["linear"])
    report = build_metabase([f"arff:{source}"], out, settings, progress=False, mf_time_budget=2.0)
    assert report.done == ["kr.vs.kp"], report.skipped
    with FakeOpenML(openml_fixtures, arff_dir=corpus) as srv, loopback_only():
        summary = import_openml(out, tasks="3,1882", server=srv.url, mf_time_budget=2.0)
    return {"out": out, "summary": summary, "source": source, "settings": settings}


def test_imported_runs_of_a_built_dataset_stay_apart(mixed: dict) -> None:
    summary = mixed["summary"]
    assert summary.datasets_new == 1  # anneal; kr-vs-kp is the built dataset (same content)
    mb = Metabase(mixed["out"], create=False)
    runs = mb.runs()
    krvskp = next(t for t in summary.tasks if t["task_id"] == 3)["dataset_id"]
    mine = runs[runs["dataset_id"] == krvskp]
    built = mine[mine["protocol"].map(is_built_protocol)]
    imported = mine[~mine["protocol"].map(is_built_protocol)]
    assert set(built["protocol"]) == {"autometa:cv3/200"} and set(built["metric"]) == {"roc_auc"}
    assert built["config_id"].nunique() == 3 and (built.groupby("config_id")["fold"].apply(sorted)
                                                  .map(lambda f: f == [0, 1, 2]).all())
    assert len(imported) == 3
    assert set(imported["fold"]) == {-1}

    # a build counts only its own folds: the imported configurations are not "finished" there
    assert mb.finished(krvskp, n_folds=3) == set(built["config_id"])

    m = build_matrix(mb.datasets(), mb.configs(), runs, "classification")
    row = m.dataset_ids.index(krvskp)
    assert m.protocols[row] == "autometa:cv3/200"
    first = built["config_id"].iloc[0]
    linear = m.config_ids.index(first)
    assert m.raw[row, linear] == pytest.approx(float(np.mean(built.loc[built["config_id"] == first, "score"])))
    # the imported configurations ran on kr-vs-kp only, where the built protocol wins: left out
    assert not set(imported["config_id"]) & set(m.config_ids)
    anneal = m.dataset_ids.index(next(t for t in summary.tasks if t["task_id"] == 1882)["dataset_id"])
    assert m.protocols[anneal] == "openml:cv10r10/predictive_accuracy"


def test_resumed_build_ignores_the_imported_runs(mixed: dict, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(mixed["out"], out)
    before = len(Metabase(out, create=False).runs())
    report = build_metabase([f"arff:{mixed['source']}"], out, mixed["settings"], progress=False, mf_time_budget=2.0)
    assert report.runs_ok == 0 and report.runs_resumed == 3
    assert len(Metabase(out, create=False).runs()) == before

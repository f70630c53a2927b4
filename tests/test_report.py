"""Tests of autometa.report: HTML/Markdown reports of a search, built on real tiny searches."""
from __future__ import annotations

import base64
import math
import re

import numpy as np
import pandas as pd
import pytest

from autometa import space
from autometa.data import from_xy
from autometa.errors import ConfigError
from autometa.metabase import Metabase
from autometa.metafeatures import describe_dataset
from autometa.recommend import Recommendation, RecommendResult
from autometa.report import (_history_figure, _trials, cold_start_curves, dataset_summary, param_importance,
                             write_report)
from autometa.search import ORIGIN_WARM_START, run_search

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SECTIONS = ("dataset", "warm-start", "history", "algorithms", "importance", "pipeline")


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(150, 4)), columns=["a", "b", "c", "d"])
    X["colour"] = rng.choice(["red", "green", "blue"], size=150)
    X.loc[::7, "b"] = np.nan
    y = np.where(X["a"] + 0.5 * X["c"] + rng.normal(scale=0.5, size=150) > 0, "yes", "no")
    return from_xy(X, y)


@pytest.fixture(scope="module")
def metafeatures(binary):
    return describe_dataset(binary, groups=("general", "statistical", "infotheory"))


@pytest.fixture(scope="module")
def result(binary):
    """Defaults as warm start (linear, knn), then TPE: 8 trials."""
    ds = binary
    return run_search(ds.X, ds.y, ds.column_types, ds.task, n_trials=8, cv=3, algorithms=["linear", "knn"])


@pytest.fixture(scope="module")
def tiny_result(binary):
    """Only the two default warm-start trials: the best algorithm has a single trial."""
    ds = binary
    return run_search(ds.X, ds.y, ds.column_types, ds.task, n_trials=2, cv=3, algorithms=["linear", "knn"])


def _images(text):
    return re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)


def test_html_has_every_section_embedded_pngs_and_no_external_references(tmp_path, binary, result, metafeatures):
    path = write_report(tmp_path / "report.html", dataset=binary, result=result, metafeatures=metafeatures)
    assert path == tmp_path / "report.html"
    text = path.read_text(encoding="utf-8")
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in text
        assert f'href="#{anchor}"' in text
    images = _images(text)
    assert len(images) >= 3
    assert all(base64.b64decode(data).startswith(PNG_MAGIC) for data in images)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.IGNORECASE)
    assert "<script" not in text and "<link" not in text and "@import" not in text
    # dataset in plain words, key meta-features, the pipeline with its score and code
    assert "150 rows, 5 columns (4 numeric, 1 categorical)" in text
    assert "% of values missing" in text and "two classes" in text
    assert "Dimensionality" in text and "rows per column" in text
    best = result.best_config["algorithm"]
    assert f"{best}: CV roc_auc {result.best_score:.4f} ± {result.best_std:.4f} over 3 cross-validation folds" in text
    assert "pipeline = Pipeline(" in text
    # the defaults were the warm start and there is no similar dataset to draw a reference from
    assert "warm-started with every algorithm&#x27;s default configuration (2 warm-start trials)" in text
    assert "No cold-start reference line" in text


def test_markdown_writes_png_files_beside_it_and_links_them(tmp_path, binary, result, metafeatures):
    path = write_report(tmp_path / "report.md", dataset=binary, result=result, metafeatures=metafeatures)
    text = path.read_text(encoding="utf-8")
    for name in ("history", "algorithms", "importance"):
        png = tmp_path / f"report-{name}.png"
        assert png.read_bytes().startswith(PNG_MAGIC)
        assert f"](report-{name}.png)" in text
    assert "data:image" not in text
    for title in ("## Dataset", "## Optimisation history", "## Scores per algorithm",
                  "## Hyperparameter importance", "## Final pipeline"):
        assert title in text
    assert "```python\n" in text and "pipeline = Pipeline(" in text
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_fanova_importance_with_enough_trials(tmp_path, binary, result, metafeatures):
    best = result.best_config["algorithm"]
    n_best = sum(1 for t in _trials(result) if t.params.get("algorithm") == best and t.value is not None)
    assert n_best >= 2
    imp, why = param_importance(result)
    assert why == "" and imp
    assert all(":" not in name for name in imp)
    assert set(imp) <= set(result.best_config["params"])
    assert math.isclose(sum(imp.values()), 1.0, rel_tol=1e-6)
    text = write_report(tmp_path / "r.html", dataset=binary, result=result, metafeatures=metafeatures).read_text()
    assert f"fANOVA importance of {best}" in text
    assert "No hyperparameter importance" not in text


def test_fanova_note_when_too_few_trials(tmp_path, binary, tiny_result, metafeatures):
    imp, why = param_importance(tiny_result)
    assert imp == {} and "at least two completed" in why
    text = write_report(tmp_path / "r.html", dataset=binary, result=tiny_result, metafeatures=metafeatures).read_text()
    assert "No hyperparameter importance for" in text and "at least two completed" in text
    assert len(_images(text)) == 2  # history and per-algorithm scores only


def test_warm_start_trials_are_marked(tmp_path, binary, result, metafeatures):
    trials = _trials(result)
    warm = [t.number for t in trials if t.user_attrs.get("origin") == ORIGIN_WARM_START]
    assert warm == [0, 1]
    fig = _history_figure(trials, {}, "", result.metric)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "warm-start trial" in labels and "TPE trial" in labels and "best so far" in labels
    by_label = {c.get_label(): c for c in ax.collections}
    assert sorted(by_label["warm-start trial"].get_offsets()[:, 0]) == warm
    warm_marker, tpe_marker = by_label["warm-start trial"], by_label["TPE trial"]
    assert not np.array_equal(warm_marker.get_paths()[0].vertices, tpe_marker.get_paths()[0].vertices)
    assert not np.allclose(warm_marker.get_facecolors()[0], tpe_marker.get_facecolors()[0])
    text = write_report(tmp_path / "r.html", dataset=binary, result=result, metafeatures=metafeatures).read_text()
    assert text.count("warm-start ◆") == 2  # the leaderboard marks both warm-start rows


def _metabase_with_neighbour(root):
    """A metabase holding one dataset with runs of some default configurations and one recommendation."""
    mb = Metabase(root)
    did, _ = mb.add_dataset({"name": "neighbour", "source": "test", "task": "binary", "n_rows": 100, "n_cols": 4})
    defaults = space.default_configs("binary", 150)
    rec = {"algorithm": "linear", "params": {"C": 0.05}}
    ids = mb.add_configs(defaults + [rec], "binary")
    by_algo = dict(zip([c["algorithm"] for c in defaults] + ["rec"], ids))
    rows = []
    plan = {"lightgbm": ([0.70, 0.70], "ok"), "random_forest": ([0.85, 0.95], "ok"),
            "linear": ([0.99, 0.99], "crash"), "rec": ([0.80, 0.84], "ok")}
    for algo, (aucs, status) in plan.items():
        for fold, auc in enumerate(aucs):
            st = status if fold == 1 else "ok"
            rows.append({"dataset_id": did, "config_id": by_algo[algo], "fold": fold, "n_folds": 2, "status": st,
                         "score": auc, "m_roc_auc": auc if st == "ok" else None, "m_log_loss": 1 - auc})
    mb.add_runs(rows)
    mb.close()
    return did, rec


def test_cold_start_curves_from_metabase_runs(tmp_path):
    did, rec = _metabase_with_neighbour(tmp_path / "mb")
    store = Metabase(tmp_path / "mb", create=False)
    curves, why = cold_start_curves(store, did, "binary", "roc_auc", 150, recommended=[rec])
    assert why == ""
    # DEFAULT_ORDER: lightgbm 0.70, hist_gb (no runs), random_forest 0.90, ... linear (a crashed fold: ignored)
    assert list(space.DEFAULT_ORDER[:3]) == ["lightgbm", "hist_gb", "random_forest"]
    np.testing.assert_allclose(curves["defaults"], [0.70, 0.70, 0.90, 0.90, 0.90, 0.90, 0.90], rtol=1e-5)
    np.testing.assert_allclose(curves["recommended"], [0.82], rtol=1e-5)
    # lower-is-better metrics are negated
    curves, _ = cold_start_curves(store, did, "binary", "log_loss", 150)
    np.testing.assert_allclose(curves["defaults"][:3], [-0.30, -0.30, -0.10], rtol=1e-4)
    curves, why = cold_start_curves(store, did, "binary", "accuracy", 150)
    assert curves == {} and "no accuracy scores" in why
    curves, why = cold_start_curves(store, "unknown-id", "binary", "roc_auc", 150)
    assert curves == {} and "no runs on unknown-id" in why


def test_meta_model_warm_start_recommendations_and_reference_line(tmp_path, binary, metafeatures):
    did, rec = _metabase_with_neighbour(tmp_path / "mb")
    similar = [{"name": "neighbour", "dataset_id": did, "distance": 0.3, "score": 0.9}]
    recs = RecommendResult(
        recommendations=[Recommendation(rank=1, algorithm="linear", params=rec["params"], config=rec,
                                        predicted_score=0.93, similar_datasets=similar, method="knn")],
        task="binary", method="knn", neighbours=[{"name": "neighbour", "dataset_id": did, "distance": 0.3}],
    )
    ds = binary
    res = run_search(ds.X, ds.y, ds.column_types, ds.task, n_trials=3, cv=3, algorithms=["linear", "knn"],
                     warm_start=[rec])
    text = write_report(tmp_path / "r.html", dataset=ds, result=res, metafeatures=metafeatures,
                        recommendations=recs, metabase=tmp_path / "mb").read_text()
    assert "warm-started by the meta-model (method knn): 1 of 1 warm-start trial ran the recommended" in text
    assert "neighbour (0.30)" in text and "0.930" in text
    assert "Dashed line: the cold-start reference" in text and "No cold-start reference line" not in text
    # the reference is drawn on the history figure
    curves, _ = cold_start_curves(Metabase(tmp_path / "mb", create=False), did, "binary", "roc_auc", 150, [rec])
    fig = _history_figure(_trials(res), curves, "neighbour", res.metric)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(label.startswith("cold start: best of first k defaults on neighbour") for label in labels)
    # a metabase that cannot be opened leaves the line out with a note; the report is still written
    text = write_report(tmp_path / "r2.html", dataset=ds, result=res, metafeatures=metafeatures,
                        recommendations=recs, metabase=tmp_path / "missing").read_text()
    assert "No cold-start reference line: the metabase could not be read" in text


def test_bad_suffix_and_missing_folder_raise_config_error(tmp_path, binary, tiny_result):
    for name in ("report.txt", "report.pdf", "report"):
        with pytest.raises(ConfigError, match=r"\.html, \.htm or \.md"):
            write_report(tmp_path / name, dataset=binary, result=tiny_result, metafeatures={})
    with pytest.raises(ConfigError, match="does not exist"):
        write_report(tmp_path / "nope" / "r.html", dataset=binary, result=tiny_result, metafeatures={})
    assert list(tmp_path.iterdir()) == []


def test_dataset_summary_in_plain_words():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=100), "flag": ["yes", "no"] * 50})
    ds = from_xy(X, np.array(["a"] * 70 + ["b"] * 30))
    text = dataset_summary(ds)
    assert text.startswith("100 rows, 2 columns (1 numeric, 1 ")
    assert "no missing values" in text and "two classes, 70/30" in text
    reg = from_xy(X[["x"]], np.arange(100, dtype=float), task="regression")
    assert "regression target" in dataset_summary(reg) and "range 0 to 99" in dataset_summary(reg)
    many = from_xy(X[["x"]], np.repeat([f"c{i}" for i in range(10)], 10), task="multiclass")
    assert "ten classes, largest 10%, smallest 10%" in dataset_summary(many)


def test_metafeatures_as_dict_or_absent_and_default_recommendations(tmp_path, binary, tiny_result, metafeatures):
    text = write_report(tmp_path / "a.html", dataset=binary, result=tiny_result,
                        metafeatures=dict(metafeatures.values)).read_text()
    assert "rows per column" in text and "No meta-features were computed" not in text
    defaults = RecommendResult(
        recommendations=[Recommendation(rank=1, algorithm="linear", params={}, config=space.default_config(
            "linear", "binary"), predicted_score=math.nan, similar_datasets=[], method="default")],
        task="binary", method="default", notes=["no trained meta-model at somewhere"],
    )
    text = write_report(tmp_path / "b.html", dataset=binary, result=tiny_result, metafeatures={},
                        recommendations=defaults).read_text()
    assert "No meta-features were computed" in text
    assert "no trained meta-model at somewhere" in text and "warm-started with every algorithm" in text
    assert "No cold-start reference line: the search was not warm-started from the meta-model" in text


@pytest.fixture()
def train_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 150
    df = pd.DataFrame({"age": rng.integers(18, 80, n).astype(float), "income": rng.normal(50, 10, n),
                       "city": rng.choice(["north", "south", "east"], n)})
    df.loc[::9, "income"] = np.nan
    df["bought"] = np.where(df["age"] / 10 + (df["city"] == "north") + rng.normal(size=n) > 5, "yes", "no")
    df.to_csv(tmp_path / "train.csv", index=False)
    return tmp_path


def test_cli_fit_report_in_a_subprocess(train_csv):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    fit = subprocess.run(
        [sys.executable, "-m", "autometa.cli", "fit", "train.csv", "--trials", "4", "--algorithms", "linear,knn",
         "--cv", "3", "--json", "--report", "report.html"],
        capture_output=True, text=True, env=env, timeout=180, cwd=train_csv,
    )
    assert fit.returncode == 0, fit.stderr
    assert "report written to report.html" in fit.stderr
    text = (train_csv / "report.html").read_text(encoding="utf-8")
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in text
    assert len(_images(text)) >= 2
    assert "150 rows, 3 columns (2 numeric, 1 categorical)" in text
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.IGNORECASE)


def test_cli_fit_report_markdown_and_bad_suffix(train_csv, monkeypatch):
    import autometa.cli as cli

    monkeypatch.chdir(train_csv)
    with pytest.raises(SystemExit) as exc:  # refused before the data is even read
        cli.main(["fit", "missing.csv", "--report", "report.pdf"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["fit", "train.csv", "--report", "nowhere/report.md"])
    assert exc.value.code == 2
    assert not (train_csv / "train.autometa.joblib").exists()
    cli.main(["fit", "train.csv", "--trials", "3", "--algorithms", "linear", "--cv", "3", "--no-warm-start",
              "--json", "--report", "out.md"])
    text = (train_csv / "out.md").read_text(encoding="utf-8")
    assert "](out-history.png)" in text and (train_csv / "out-history.png").is_file()
    assert "The search ran no warm-start trials" in text


# ------------------------------------------------------------------ scores and parameters as read
@pytest.fixture(scope="module")
def rmse_svm_result():
    """A regression search of SVMs whose warm start sets gamma through its encoded value."""
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(90, 3)), columns=["a", "b", "c"])
    ds = from_xy(X, 2 * X["a"] - X["b"] + rng.normal(scale=0.3, size=90), task="regression")
    start = [{"algorithm": "svm", "params": {"C": 10.0, "gamma": "value", "gamma_value": 0.05}}]
    return ds, run_search(ds.X, ds.y, ds.column_types, ds.task, n_trials=1, cv=2, algorithms=["svm"],
                          warm_start=start)


def test_losses_are_reported_positive_with_lower_is_better(tmp_path, rmse_svm_result):
    ds, result = rmse_svm_result
    assert result.metric == "rmse" and result.best_score < 0  # stored negated
    rmse = -result.best_score
    text = write_report(tmp_path / "r.md", dataset=ds, result=result, metafeatures={}).read_text(encoding="utf-8")
    assert "rmse (lower is better)" in text
    assert "negated" not in text and "higher is better" not in text.split("## Warm start")[1]
    assert f"CV rmse {rmse:.4f}" in text and f"-{rmse:.4f}" not in text
    assert f"The best score, rmse {rmse:.4f}, came from trial 0" in text
    # the final pipeline lists gamma as the SVR receives it, not the search's encoding
    pipeline = text.split("## Final pipeline")[1]
    assert "| gamma | 0.0500 |" in pipeline and "gamma_value" not in pipeline and "| gamma | value |" not in pipeline
    assert "gamma=0.05" in text.split("## Optimisation history")[1]  # the top-trials table
    # the figures plot the rmse itself
    fig = _history_figure(_trials(result), {"defaults": np.array([result.best_score - 1.0])}, "nb", "rmse")
    ax = fig.axes[0]
    assert "lower is better" in ax.get_ylabel()
    ys = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections if len(c.get_offsets())])
    assert ys.size and (ys > 0).all()
    assert all((np.asarray(line.get_ydata(), dtype=float) > 0).all() for line in ax.get_lines())


def test_classification_scores_keep_higher_is_better(tmp_path, binary, result, metafeatures):
    text = write_report(tmp_path / "c.md", dataset=binary, result=result, metafeatures=metafeatures
                        ).read_text(encoding="utf-8")
    assert "roc_auc (higher is better)" in text and "lower is better" not in text

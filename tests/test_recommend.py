"""recommend(): real data described, looked up in a meta-model trained on a synthetic metabase.

The metabase's classification datasets carry the real meta-features of five structurally
different generated datasets (small linear, wide 3-class, categorical with missing values,
skewed 5-class imbalanced, XOR); a fresh sample of each generator must find its own generator
as the nearest training dataset.
"""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import autometa
from autometa import space
from autometa.data import load_data
from autometa.errors import ConfigError, DataError
from autometa.metafeatures import describe
from autometa.metalearn import MODEL_DIR, save_model, train
from autometa.metalearn.features import feature_spec, groups_for
from autometa.recommend import (Recommendation, _load_cached, by_predicted_score, recommend, recommend_details,
                                warm_start_configs, warm_start_plan)

from test_metalearn import make_metabase

N_GENERATORS = 5


def generate(kind: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """A sample of one of five structurally different classification problems."""
    rng = np.random.default_rng(seed)
    if kind == 0:  # small, four numeric features, linear, binary
        X = rng.normal(size=(300, 4))
        y = X @ np.array([1.5, -2.0, 1.0, 0.5]) + rng.normal(0, 0.3, 300) > 0
        return pd.DataFrame(X, columns=[f"f{i}" for i in range(4)]), pd.Series(np.where(y, "yes", "no"))
    if kind == 1:  # wide: 40 features, 3 classes, few rows
        X = rng.normal(size=(120, 40))
        y = np.argmax(X[:, :3] + rng.normal(0, 0.5, (120, 3)), axis=1)
        return pd.DataFrame(X, columns=[f"f{i}" for i in range(40)]), pd.Series([f"c{v}" for v in y])
    if kind == 2:  # categorical features with missing values
        df = pd.DataFrame({f"c{i}": rng.choice(list("abcde"), size=250) for i in range(6)})
        df["num"] = rng.normal(size=250)
        df = df.mask(rng.random(df.shape) < 0.12)
        y = ((df["c0"] == "a") | (df["c1"] == "b")).map({True: "p", False: "q"})
        return df, y
    if kind == 3:  # five imbalanced classes, skewed numeric features
        X = np.exp(rng.normal(size=(400, 10)))
        y = rng.choice(5, size=400, p=[0.6, 0.2, 0.1, 0.06, 0.04])
        X[:, 0] += y
        return pd.DataFrame(X, columns=[f"f{i}" for i in range(10)]), pd.Series([f"k{v}" for v in y])
    X = rng.uniform(-1, 1, size=(300, 2))  # XOR: non-linear
    return pd.DataFrame(X, columns=["a", "b"]), pd.Series(np.where(X[:, 0] * X[:, 1] > 0, "t", "f"))


@pytest.fixture(scope="module")
def metabase_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A metabase (with its trained model in ``model/``) built from the generators' real meta-features."""
    names = [n for n, _ in feature_spec("classification")]
    mfs = []
    for kind in range(N_GENERATORS):
        X, y = generate(kind, seed=0)
        mfs.append(describe(X, y, groups=groups_for(names, "binary"), max_rows=2000, time_budget=5.0).values)
    root = tmp_path_factory.mktemp("rec") / "metabase"
    store = make_metabase(root, n_cls=N_GENERATORS, n_reg=4, metafeatures=mfs)
    save_model(train(store, rounds=80), root / MODEL_DIR)
    return root


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    X, y = generate(2, seed=7)
    path = tmp_path_factory.mktemp("data") / "cats.csv"
    X.assign(label=y).to_csv(path, index=False)
    return path


def test_structurally_similar_dataset_is_the_nearest(metabase_dir: Path) -> None:
    for kind in range(N_GENERATORS):
        X, y = generate(kind, seed=1)  # another sample of the same generator
        result = recommend_details(X, y, 3, metabase=metabase_dir)
        assert result.neighbours[0]["name"] == f"cla{kind:02d}", (kind, result.neighbours[:2])


def test_recommendations_shape_determinism_and_diversity(metabase_dir: Path) -> None:
    X, y = generate(0, seed=3)
    recs = recommend(X, y, top_k=5, metabase=metabase_dir)
    again = recommend(X, y, top_k=5, metabase=metabase_dir)
    assert recs == again
    assert [r.rank for r in recs] == [1, 2, 3, 4, 5]
    assert all(isinstance(r, Recommendation) and r.method == "combined" for r in recs)
    assert len({r.algorithm for r in recs}) >= 2 and len({r.config_id for r in recs}) == 5
    for r in recs:
        d = r.to_dict()
        assert set(d) >= {"rank", "algorithm", "params", "config", "predicted_score", "similar_datasets", "method"}
        assert 0.0 <= d["predicted_score"] <= 1.0
        assert space.validate_config(r.config, "binary") == r.config
        json.dumps(d)
    for method in ("knn", "portfolio", "ranker"):
        assert [r.method for r in recommend(X, y, 3, metabase=metabase_dir, method=method)] == [method] * 3


def test_regression_uses_its_own_part(metabase_dir: Path) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    result = recommend_details(X, X["a"] * 2 + rng.normal(0, 0.1, 200), 4, metabase=metabase_dir)
    assert result.task == "regression" and result.method == "combined"
    assert all(r.similar_datasets == [] or r.similar_datasets[0]["name"].startswith("reg")
               for r in result.recommendations)


def test_fallback_without_a_model(tmp_path: Path) -> None:
    X, y = generate(0, seed=0)
    result = recommend_details(X, y, 3, metabase=tmp_path / "no-metabase")
    assert result.method == "default" and "no trained meta-model" in result.notes[0]
    assert [r.config for r in result.recommendations] == space.default_configs("binary", len(X))[:3]
    assert all(math.isnan(r.predicted_score) and r.to_dict()["predicted_score"] is None
               for r in result.recommendations)


def test_fallback_for_a_kind_the_model_lacks(tmp_path: Path) -> None:
    store = make_metabase(tmp_path / "mb", n_cls=4, n_reg=0)
    save_model(train(store, rounds=20), tmp_path / "mb" / MODEL_DIR)
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(80, 2)), columns=["a", "b"])
    result = recommend_details(X, X["a"] + 0.5, 2, metabase=tmp_path / "mb")
    assert result.method == "default" and "no regression part" in result.notes[0]
    assert [r.algorithm for r in result.recommendations] == ["lightgbm", "hist_gb"]


def test_corrupt_model_raises_data_error_naming_the_file(metabase_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(metabase_dir / MODEL_DIR, copy)
    target = copy / "classification" / "configs.parquet"
    target.write_bytes(target.read_bytes()[:-20])
    X, y = generate(0, seed=0)
    with pytest.raises(DataError, match="configs.parquet"):
        recommend(X, y, model=copy)


def test_bad_arguments(metabase_dir: Path) -> None:
    X, y = generate(0, seed=0)
    with pytest.raises(ConfigError, match="unknown method"):
        recommend(X, y, method="best", metabase=metabase_dir)
    with pytest.raises(ConfigError, match="top_k"):
        recommend(X, y, top_k=0, metabase=metabase_dir)


def test_module_is_callable_and_model_is_cached(metabase_dir: Path) -> None:
    import autometa.recommend as module

    X, y = generate(4, seed=0)
    assert module(X, y, 2, metabase=metabase_dir) == recommend(X, y, 2, metabase=metabase_dir)
    assert autometa.recommend(X, y, 2, metabase=metabase_dir) == recommend(X, y, 2, metabase=metabase_dir)
    model_dir = metabase_dir / MODEL_DIR
    assert _load_cached(model_dir) is _load_cached(model_dir)


def test_warm_start_configs_are_valid_configurations(metabase_dir: Path) -> None:
    X, y = generate(3, seed=0)
    configs = warm_start_configs(X, y, "multiclass", n=4, metabase=metabase_dir)
    assert len(configs) == 4
    assert all(space.validate_config(c, "multiclass") == c for c in configs)


# ------------------------------------------------------------------ CLI
def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, AUTOMETA_METABASE=str(cwd / "no-default-metabase"), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "autometa.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_train_json_and_code(metabase_dir: Path, csv_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "retrained"
    proc = _cli(["metabase", "train", "--metabase", str(metabase_dir), "--out", str(out), "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["kinds"]["classification"]["datasets"] == N_GENERATORS and (out / "bundle.json").is_file()
    assert info["load_seconds"] < 1.0

    proc = _cli(["recommend", str(csv_file), "--model", str(out), "--json", "--top", "3"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    items = json.loads(proc.stdout)
    assert [i["rank"] for i in items] == [1, 2, 3]
    assert all({"rank", "algorithm", "params", "predicted_score", "similar_datasets"} <= set(i) for i in items)

    proc = _cli(["recommend", str(csv_file), "--metabase", str(metabase_dir), "--code"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    namespace: dict = {}
    exec(compile(proc.stdout, "recommended.py", "exec"), namespace)
    ds = load_data(csv_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short solver budget may not converge: irrelevant here
        fitted = namespace["pipeline"].fit(ds.X, ds.y)
    assert len(fitted.predict(ds.X)) == len(ds.X)
    top = recommend(ds, top_k=1, metabase=metabase_dir)[0]
    assert type(fitted.named_steps["model"]).__name__.lower().startswith(
        {"lightgbm": "lgbm", "random_forest": "randomforest", "linear": "logistic"}[top.algorithm])


def test_cli_without_a_model_falls_back_with_a_note(csv_file: Path, tmp_path: Path) -> None:
    proc = _cli(["recommend", str(csv_file), "--json", "--top", "2"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    items = json.loads(proc.stdout)
    assert [i["method"] for i in items] == ["default", "default"]
    assert [i["predicted_score"] for i in items] == [None, None]
    assert "no trained meta-model" in proc.stderr
    table = _cli(["recommend", str(csv_file)], tmp_path)
    assert table.returncode == 0 and "lightgbm" in table.stdout and "rank" in table.stdout


def test_cli_user_errors_are_one_line(metabase_dir: Path, csv_file: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture) -> None:
    from autometa.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["metabase", "train", "--metabase", str(metabase_dir), "--out", str(tmp_path / "m"),
              "--exclude", "no-such-id"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "unknown dataset id" in err and len(err.splitlines()) == 1
    with pytest.raises(SystemExit) as exc:
        main(["recommend", str(csv_file), "--metabase", str(metabase_dir), "--method", "magic"])
    assert exc.value.code == 2 and "unknown method" in capsys.readouterr().err


# ------------------------------------------------------------------ order shown: best predicted first
def _non_increasing(scores: list) -> bool:
    finite = [s for s in scores if s is not None and math.isfinite(s)]
    return finite == sorted(finite, reverse=True) and scores[:len(finite)] == finite


def test_recommendations_are_listed_best_predicted_first(metabase_dir: Path) -> None:
    X, y = generate(4, seed=3)
    shown = recommend_details(X, y, 5, metabase=metabase_dir).recommendations
    search_order = recommend_details(X, y, 5, metabase=metabase_dir, by_score=False).recommendations
    # the diversity step interleaves algorithms, so the method's own order is not sorted ...
    assert not _non_increasing([r.predicted_score for r in search_order])
    # ... but what recommend shows is, with ranks renumbered, and the same five configurations
    assert _non_increasing([r.predicted_score for r in shown])
    assert [r.rank for r in shown] == [1, 2, 3, 4, 5] == [r.rank for r in search_order]
    assert sorted(r.config_id for r in shown) == sorted(r.config_id for r in search_order)
    assert recommend(X, y, 5, metabase=metabase_dir) == shown


def test_warm_start_keeps_the_methods_order(metabase_dir: Path) -> None:
    X, y = generate(4, seed=3)
    search_order = recommend_details(X, y, 4, metabase=metabase_dir, by_score=False).recommendations
    assert [r.config for r in search_order] == warm_start_configs(X, y, "binary", n=4, metabase=metabase_dir)
    assert [r.config_id for r in warm_start_plan(X, y, n_trials=4, metabase=metabase_dir).recommendations] == \
        [r.config_id for r in search_order]


def test_by_predicted_score_puts_nan_last_and_renumbers() -> None:
    def rec(rank: int, score: float) -> Recommendation:
        c = space.default_config("knn", "binary")
        return Recommendation(rank=rank, algorithm="knn", params=c["params"], config=c, predicted_score=score,
                              similar_datasets=[], method="knn", config_id=f"c{rank}")

    recs = [rec(1, 0.2), rec(2, math.nan), rec(3, 0.9), rec(4, 0.2), rec(5, 0.5)]
    out = by_predicted_score(recs)
    assert [r.config_id for r in out] == ["c3", "c5", "c1", "c4", "c2"]  # ties keep their order
    assert [r.rank for r in out] == [1, 2, 3, 4, 5]
    assert [r.rank for r in recs] == [1, 2, 3, 4, 5] and recs[0].config_id == "c1"  # input untouched
    assert by_predicted_score([]) == []


def test_cli_recommend_sorted_by_predicted_score(metabase_dir: Path, csv_file: Path, tmp_path: Path) -> None:
    proc = _cli(["recommend", str(csv_file), "--metabase", str(metabase_dir), "--json", "--top", "5"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    items = json.loads(proc.stdout)
    assert [i["rank"] for i in items] == [1, 2, 3, 4, 5]
    assert _non_increasing([i["predicted_score"] for i in items])
    table = _cli(["recommend", str(csv_file), "--metabase", str(metabase_dir), "--top", "5"], tmp_path)
    assert table.returncode == 0, table.stderr
    assert "best predicted first" in table.stdout and "higher is better" in table.stdout
    shown = re.findall(r"│\s+(\d)\s+│.*?│\s+(\d\.\d{3})\s+│", table.stdout)
    assert [int(r) for r, _ in shown] == [1, 2, 3, 4, 5]
    assert [float(s) for _, s in shown] == sorted((float(s) for _, s in shown), reverse=True)


def test_size_adaptation_is_off_by_default_and_rescales_when_asked(metabase_dir: Path) -> None:
    from autometa.metalearn.size import adapt_to_size

    X, y = generate(0, seed=3)
    X = pd.concat([X] * 20, ignore_index=True)  # 6,000 rows: well above the synthetic runs' sizes
    y = pd.concat([y] * 20, ignore_index=True)
    kw = dict(metabase=metabase_dir, by_score=False, time_budget=5.0)
    plain = recommend_details(X, y, 5, adapt_size=False, **kw)
    default = recommend_details(X, y, 5, **kw)
    assert [r.config for r in default.recommendations] == [r.config for r in plain.recommendations]
    assert 0 < plain.reference_rows <= 1000
    adapted = recommend_details(X, y, 5, adapt_size=True, **kw)
    assert adapted.reference_rows == plain.reference_rows
    expected = [adapt_to_size(r.config, len(X), plain.reference_rows, "binary") for r in plain.recommendations]
    assert [r.config for r in adapted.recommendations] == expected
    assert all(r.config_id == space.config_id(r.config) and r.params == r.config["params"]
               for r in adapted.recommendations)
    changed = [a.config != p.config for a, p in zip(adapted.recommendations, plain.recommendations)]
    assert any(changed)  # lightgbm / random_forest leaf sizes grow with the rows
    assert any(n.startswith("size adaptation (leaf, rounds)") for n in adapted.notes)
    with pytest.raises(ConfigError, match="size-adaptation group"):
        recommend_details(X, y, 5, adapt_size="trees", **kw)

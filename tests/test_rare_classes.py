"""Classes with fewer rows than cross-validation folds are kept (in training only), not refused.

The policy lives in :func:`autometa.data.check_stratifiable` and :func:`autometa.evaluate.make_splits`;
these tests run it end to end: the estimator, ``autometa fit`` and real ARFF datasets with rare
classes (the shared corpus; skipped with a reason when it is absent).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import autometa.cli as cli
from autometa.data import load_data
from autometa.errors import DataError
from autometa.estimators import AutoMetaClassifier
from autometa.evaluate import make_splits

RARE = {"one": 1, "two": 2, "four": 4}


def rare_frame(seed: int = 0) -> pd.DataFrame:
    """A multiclass table: classes 'a' (40 rows), 'b' (30) and rare 'one', 'two', 'four'."""
    rng = np.random.default_rng(seed)
    labels = np.array(["a"] * 40 + ["b"] * 30 + [c for c, k in RARE.items() for _ in range(k)])
    labels = rng.permutation(labels)
    shift = {"a": 0.0, "b": 2.0, "one": 4.0, "two": -2.0, "four": 6.0}
    return pd.DataFrame({
        "x1": [shift[c] + rng.normal() for c in labels],
        "x2": rng.normal(size=len(labels)),
        "colour": rng.choice(["red", "green"], size=len(labels)),
        "label": labels,
    })


def test_estimator_fits_and_predicts_every_class():
    frame = rare_frame()
    X, y = frame.drop(columns="label"), frame["label"].to_numpy()
    clf = AutoMetaClassifier(n_trials=3, warm_start=False, algorithms=["linear", "random_forest"])
    with pytest.warns(UserWarning, match="'one' \\(1 row\\)"):
        clf.fit(X, y)
    assert sorted(clf.classes_) == sorted(set(y))
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(clf.predict(X)) <= set(y)
    assert np.isfinite(clf.best_score_)
    # the single row of 'one' was learnt by the refit on all rows
    assert proba[y == "one"][:, list(clf.classes_).index("one")].max() > 0


def test_binary_with_a_single_row_class_still_explains_itself():
    X = np.random.default_rng(5).normal(size=(40, 2))
    with pytest.raises(DataError, match="class 'b' has 1 row"):
        AutoMetaClassifier(n_trials=2, warm_start=False).fit(X, np.array(["a"] * 39 + ["b"]))


def test_cli_fit_with_rare_classes(tmp_path, monkeypatch, capsys):
    rare_frame().to_csv(tmp_path / "rare.csv", index=False)
    monkeypatch.chdir(tmp_path)
    code = 0
    try:
        cli.main(["fit", "rare.csv", "--trials", "3", "--no-warm-start", "--algorithms", "linear,random_forest"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "'one' (1 row)" in err and "never validated" in err
    assert (tmp_path / "rare.autometa.joblib").is_file()


# ---------------------------------------------------------------- real datasets
#: datasets of the shared corpus with classes of fewer than 5 rows (path, a rare class)
REAL = [
    ("agridata/white.clover.arff.gz", "26.4675<=WhiteClover-94<=35.29"),  # 1 row
    ("classification/ecoli.arff.gz", "imL"),  # 2 rows
    ("classification/postoperative.patient.data.arff.gz", "I"),  # 2 rows
    ("classification/zoo.arff.gz", "amphibian"),  # 4 rows
    ("agridata/squash.unstored.arff.gz", "excellent"),  # 4 rows
]


@pytest.mark.parametrize("path, rare_class", REAL, ids=[p.split("/")[-1].split(".arff")[0] for p, _ in REAL])
def test_real_datasets_with_rare_classes_split(arff_dir, path, rare_class):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_data(arff_dir / path)
    y = ds.y.to_numpy()
    assert 0 < (y == rare_class).sum() < 5
    with pytest.warns(UserWarning, match=f"'{rare_class}'") as record:
        splits = make_splits(ds.y, ds.task, seed=0)
    assert len(record) == 1
    validated = np.concatenate([te for _, te in splits])
    assert len(validated) == len(set(validated.tolist()))
    assert rare_class not in set(y[validated])
    for train, _ in splits:
        assert set(y[train]) == set(y)


@pytest.mark.parametrize("path", ["agridata/white.clover.arff.gz", "classification/zoo.arff.gz"])
def test_real_datasets_with_rare_classes_fit(arff_dir, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_data(arff_dir / path)
        clf = AutoMetaClassifier(n_trials=2, warm_start=False, algorithms=["random_forest"]).fit(ds.X, ds.y)
    proba = clf.predict_proba(ds.X)
    assert proba.shape == (len(ds.X), len(ds.classes))
    assert sorted(map(str, clf.classes_)) == sorted(ds.classes)


def test_svm_calibration_keeps_a_class_with_fewer_rows_than_its_folds():
    """The SVM's probability calibration (3 folds) fits when a class has 2 rows, which stratified
    calibration folds refuse; predict_proba covers every class."""
    import pickle

    from autometa.pipeline import build_pipeline

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    y = pd.Series(["x"] * 30 + ["y"] * 28 + ["z"] * 2)
    pipe = build_pipeline({"algorithm": "svm", "params": {}}, {"a": "numeric", "b": "numeric"}, "multiclass")
    pipe.fit(X, y)
    proba = pipe.predict_proba(X)
    assert proba.shape == (60, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert pipe.named_steps["model"].cv == 3  # the parameter stays as given
    assert pickle.loads(pickle.dumps(pipe)).predict(X).shape == (60,)

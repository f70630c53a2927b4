"""Data hygiene of the loader (autometa.data): infinities, ID-like columns, junk strings in numeric
columns and categories not seen in training."""
from __future__ import annotations

import uuid
import warnings

import numpy as np
import pandas as pd
import pytest

import autometa.cli as cli
from autometa.data import align_features, from_xy, load_data
from autometa.evaluate import evaluate_config, make_splits

N = 60


def quiet_load(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_data(*args, **kwargs)


def base(n: int = N, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"amount": rng.normal(size=n), "colour": rng.choice(["red", "green", "blue"], n),
                         "y": rng.choice(["a", "b"], n)})


# ---------------------------------------------------------------- infinities
def test_infinite_values_are_missing_at_load_with_one_note():
    frame = base()
    frame.insert(0, "x", np.where(np.arange(N) % 10 == 0, np.inf, 1.5))
    frame.loc[3, "x"] = -np.inf
    frame.insert(1, "text_num", [str(v) for v in np.arange(N) / 3])
    frame.loc[[4, 5], "text_num"] = ["inf", "-Infinity"]
    original = frame.copy()
    ds = quiet_load(frame)
    assert ds.column_types["x"] == "numeric" and ds.column_types["text_num"] == "numeric"
    assert np.isfinite(ds.X["x"].dropna()).all() and ds.X["x"].isna().sum() == 7
    assert ds.X["text_num"].isna().sum() == 2 and not np.isinf(ds.X.select_dtypes("number")).any().any()
    notes = [n for n in ds.notes if "infinite" in n]
    assert notes == ["infinite values treated as missing in 9 cell(s): 'x' (7 cells), 'text_num' (2 cells)"]
    pd.testing.assert_frame_equal(frame, original)  # the caller's data is untouched
    # the estimators' path (from_xy) does the same
    typed = from_xy(frame.drop(columns="y"), frame["y"])
    assert typed.X["x"].isna().sum() == 7 and any("infinite" in n for n in typed.notes)


def test_trials_no_longer_crash_on_infinite_values():
    frame = base()
    frame["amount"] = np.where(np.arange(N) % 7 == 0, np.inf, frame["amount"])
    ds = quiet_load(frame)
    config = {"algorithm": "linear", "params": {}}
    res = evaluate_config(config, ds.X, ds.y, ds.column_types, ds.task, metric="roc_auc",
                          splits=make_splits(ds.y, ds.task, cv=3))
    assert res.status == "ok", res.message


def test_infinite_values_at_prediction_are_missing_with_a_note():
    ds = quiet_load(base())
    new = base(5, seed=1).drop(columns="y")
    new.loc[[0, 2], "amount"] = [np.inf, -np.inf]
    aligned, notes = align_features(new, ds.column_types)
    assert aligned["amount"].isna().tolist() == [True, False, True, False, False]
    assert "infinite values treated as missing: 'amount' (2 cells)" in notes


# ---------------------------------------------------------------- ID-like columns
def test_id_like_columns_are_dropped_with_a_note():
    rng = np.random.default_rng(3)
    frame = base()
    frame.insert(0, "record", np.arange(1, N + 1))  # exported row numbers, first column
    frame["id"] = rng.permutation(np.arange(5000, 5000 + N))
    frame["CustomerID"] = [f"C-{i:05d}" for i in rng.permutation(N)]
    frame["token"] = [str(uuid.UUID(int=int(i) + 1, version=4)) for i in range(N)]
    # unique per row, but features: a float measurement, distinct integer amounts in no order,
    # a consecutive year, distinct names, and row numbers that are not the first column
    frame["weight"] = rng.normal(70, 10, N)
    frame["income"] = rng.permutation(N) * 137 + 20_000
    frame["year"] = np.arange(1960, 1960 + N)
    frame["name"] = [f"{w} {i}" for w, i in zip(rng.choice(["ann", "bob"], N), range(N))]
    frame["step"] = np.arange(N)
    frame = frame[[c for c in frame.columns if c != "y"] + ["y"]]
    ds = quiet_load(frame)
    ids = {"record": "ID-like: row numbers", "id": "ID-like: a distinct integer per row",
           "CustomerID": "ID-like: a distinct value per row", "token": "ID-like: a distinct code per row"}
    assert {k: v for k, v in ds.dropped.items() if k in ids} == ids
    assert set(ds.dropped) == set(ids)
    for kept in ("weight", "income", "year", "name", "step", "amount", "colour"):
        assert kept in ds.column_types
    note = next(n for n in ds.notes if n.startswith("dropped columns:"))
    assert all(repr(name) in note for name in ids)
    # prediction data does not need the dropped columns
    new = frame.drop(columns=list(ids) + ["y"]).head(4)
    aligned, notes = align_features(new, ds.column_types)
    assert list(aligned.columns) == list(ds.column_types)
    # opt out; small tables are never judged; from_xy at prediction time drops nothing
    assert "id" in quiet_load(frame, drop_ids=False).column_types
    assert "id" in quiet_load(frame.head(15)).column_types
    assert "id" in from_xy(frame.drop(columns="y"), task="binary").column_types


def test_an_id_that_is_the_only_feature_is_kept_with_a_note():
    frame = pd.DataFrame({"id": np.arange(1, N + 1), "y": ["a", "b"] * (N // 2)})
    ds = quiet_load(frame)
    assert ds.column_types == {"id": "numeric"}
    assert any("ID-like columns kept" in n and "'id'" in n for n in ds.notes)


# ---------------------------------------------------------------- junk strings
def test_numeric_column_with_a_few_junk_strings_becomes_numeric():
    frame = base()
    values = [f"{v:.2f}" for v in np.linspace(1, 50, N)]
    values[3], values[10] = "-", "error"
    values[30] = "n/a"  # already a missing marker
    frame.insert(0, "reading", values)
    ds = quiet_load(frame)
    assert ds.column_types["reading"] == "numeric"
    assert ds.X["reading"].isna().sum() == 3
    assert ds.X["reading"].iloc[0] == pytest.approx(1.0)
    note = next(n for n in ds.notes if n.startswith("numeric columns with a few non-numbers"))
    assert "'reading'" in note and "'-'" in note and "'error'" in note and "2 rows" in note
    # at prediction time junk in a numeric column is missing, with a note
    new = pd.DataFrame({"reading": ["3.5", "oops"] + ["1"] * 38, "amount": 0.0, "colour": "red"})
    aligned, notes = align_features(new, ds.column_types)
    assert np.isnan(aligned["reading"].iloc[1]) and aligned["reading"].iloc[0] == 3.5
    assert any("'reading'" in n and "not numbers" in n for n in notes)


def test_columns_with_much_text_stay_categorical():
    frame = base()
    many = [str(i % 9) for i in range(N)]
    for i in range(0, N, 10):  # 10% junk: not "a few"
        many[i] = "unknown"
    frame.insert(0, "grade", many)
    words = ["1", "low", "high"] * (N // 3)  # one number among words: a category
    frame.insert(1, "level", words)
    ds = quiet_load(frame)
    assert ds.column_types["grade"] == "categorical" and ds.column_types["level"] == "categorical"
    assert not any(n.startswith("numeric columns with a few") for n in ds.notes)


# ---------------------------------------------------------------- unseen categories
def test_unseen_categories_give_one_note_per_call():
    frame = base()
    frame.insert(0, "flag", np.where(np.arange(N) % 2 == 0, "yes", "no"))
    ds = quiet_load(frame)
    assert ds.categories == {"flag": ["false", "true"], "colour": ["blue", "green", "red"]}
    new = pd.DataFrame({"flag": ["yes", "maybe", "no", None], "amount": 1.0,
                        "colour": ["red", "purple", "purple", "pink"]})
    aligned, notes = align_features(new, ds.column_types, ds.categories)
    unseen = [n for n in notes if n.startswith("categories not seen in training")]
    assert unseen == ["categories not seen in training (the model treats them as unknown): "
                      "'flag' ('maybe' in 1 row), 'colour' ('pink', 'purple' in 3 rows)"]
    assert aligned["colour"].tolist() == ["red", "purple", "purple", "pink"]  # kept as values
    _, notes = align_features(new.assign(colour="red", flag="no"), ds.column_types, ds.categories)
    assert not any(n.startswith("categories not seen") for n in notes)
    _, notes = align_features(new, ds.column_types)  # without training levels: nothing to compare
    assert not any(n.startswith("categories not seen") for n in notes)


# ---------------------------------------------------------------- CLI
def test_cli_fit_prints_the_hygiene_notes(tmp_path, monkeypatch, capsys):
    frame = base(80)
    frame.insert(0, "customer_id", np.random.default_rng(1).permutation(80) + 100)
    frame["amount"] = np.where(np.arange(80) == 5, np.inf, frame["amount"])
    frame = frame[[c for c in frame.columns if c != "y"] + ["y"]]
    frame.to_csv(tmp_path / "data.csv", index=False)
    monkeypatch.chdir(tmp_path)
    code = 0
    try:
        cli.main(["fit", "data.csv", "--trials", "2", "--no-warm-start", "--algorithms", "linear", "--cv", "3"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "note: infinite values treated as missing in 1 cell(s): 'amount' (1 cell)" in err
    assert "note: dropped columns: 'customer_id' (ID-like" in err
    frame.drop(columns=["customer_id", "y"]).head(5).to_csv(tmp_path / "new.csv", index=False)
    try:
        cli.main(["predict", "data.autometa.joblib", "new.csv"])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    assert code == 0, err
    assert len(out.strip().splitlines()) == 6  # header + 5 predictions

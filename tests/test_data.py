"""Tests for autometa.data: reading files, typing columns, targets/tasks, errors, alignment."""
from __future__ import annotations

import gzip
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import autometa.data.read as data_read
from autometa.data import (
    SUPPORTED_EXTENSIONS,
    TASKS,
    Dataset,
    align_features,
    check_stratifiable,
    describe_rare_classes,
    from_xy,
    infer_task,
    load_data,
    read_table,
)
from autometa.errors import ConfigError, DataError
from conftest import ARFF_DIR


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def data_error(func, *args, **kwargs) -> str:
    """Call ``func`` expecting a DataError; return its (single-line) message."""
    with pytest.raises(DataError) as info:
        func(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.strip() == message and message
    return message


def assert_typed(ds: Dataset) -> None:
    """Invariants every Dataset must satisfy."""
    assert ds.task in TASKS
    assert list(ds.X.columns) == list(ds.column_types)
    assert len(ds.X) == len(ds.y)
    assert not set(ds.dropped) & set(ds.X.columns)
    for name, kind in ds.column_types.items():
        dtype = ds.X[name].dtype
        if kind == "numeric":
            assert dtype == np.float64, name
        else:
            assert kind in ("categorical", "boolean") and isinstance(dtype, pd.CategoricalDtype), name
    if ds.task == "regression":
        assert ds.y.dtype == np.float64
    else:
        assert isinstance(ds.y.dtype, pd.CategoricalDtype)
        assert all(isinstance(c, str) for c in ds.y.cat.categories)
        assert len(ds.y.cat.categories) == (2 if ds.task == "binary" else len(ds.y.cat.categories))


# ---------------------------------------------------------------- errors a user can fix


def test_missing_file(tmp_path: Path) -> None:
    message = data_error(load_data, tmp_path / "nope.csv")
    assert "not found" in message and "nope.csv" in message


def test_directory(tmp_path: Path) -> None:
    assert "directory" in data_error(load_data, tmp_path)


def test_unsupported_extension(tmp_path: Path) -> None:
    message = data_error(load_data, write(tmp_path / "d.json", '{"a": 1}'))
    assert "'.json'" in message and all(ext in message for ext in SUPPORTED_EXTENSIONS)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "d.csv", "a,b\n1,2\n")
    os.chmod(path, 0)
    try:
        if os.access(path, os.R_OK):  # running as root: simulate the OS refusing the read

            def refuse(*args, **kwargs):
                raise PermissionError(13, "Permission denied")

            monkeypatch.setattr(data_read, "open", refuse, raising=False)
        assert "permission denied" in data_error(load_data, path)
    finally:
        os.chmod(path, 0o644)


@pytest.mark.parametrize("name,content", [
    ("zero.csv", ""), ("blank.csv", "\n\n  \n"), ("zero.arff", ""), ("zero.parquet", ""),
])
def test_empty_file(tmp_path: Path, name: str, content: str) -> None:
    assert "empty" in data_error(load_data, write(tmp_path / name, content))


def test_empty_gzip_csv(tmp_path: Path) -> None:
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(b""))
    assert "empty" in data_error(load_data, path)


def test_header_only(tmp_path: Path) -> None:
    assert "no data rows" in data_error(load_data, write(tmp_path / "d.csv", "a,b,c\n"))


def test_unknown_target_lists_columns(tmp_path: Path) -> None:
    names = [f"col{i}" for i in range(30)]
    path = write(tmp_path / "d.csv", ",".join(names) + "\n" + ",".join("1" * 30) + "\n")
    message = data_error(load_data, path, target="price")
    assert "'price'" in message and "'col0'" in message and "more)" in message and "'col29'" not in message


def test_target_case_insensitive_match(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "a,Label\n1,x\n2,y\n3,x\n")
    ds = load_data(path, target="label")
    assert ds.target == "Label" and any("ignoring case" in n for n in ds.notes)


def test_all_missing_target(tmp_path: Path) -> None:
    message = data_error(load_data, write(tmp_path / "d.csv", "a,y\n1,\n2,?\n3,NA\n"))
    assert "missing in every row" in message


def test_single_class(tmp_path: Path) -> None:
    message = data_error(load_data, write(tmp_path / "d.csv", "a,y\n1,x\n2,x\n3,\n"))
    assert message == "the target 'y' has one class 'x'; a classifier needs at least two"


def test_duplicate_columns_csv(tmp_path: Path) -> None:
    message = data_error(load_data, write(tmp_path / "d.csv", "a,b,a,y\n1,2,3,4\n"))
    assert "duplicate" in message and "'a'" in message and "'b'" not in message


def test_duplicate_columns_frame() -> None:
    frame = pd.DataFrame([[1, 2, 3]], columns=["a", "a", "y"])
    assert "'a'" in data_error(load_data, frame)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(bytes(range(256)) * 20)
    assert "not a text table" in data_error(load_data, path)


def test_latin1_fallback(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "city,y\nMálaga,1\nCádiz,0\nJaén,1\n", encoding="latin-1")
    ds = load_data(path)
    assert list(ds.X["city"].cat.categories) == ["Cádiz", "Jaén", "Málaga"]
    assert any("latin-1" in n for n in ds.notes)


def test_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"\xef\xbb\xbfa,y\n1,x\n2,z\n")
    assert load_data(path).X.columns.tolist() == ["a"]


@pytest.mark.parametrize("text,line", [
    ("a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n", 4),
    ("a,b\n1,2,3\n4,5,6\n", 2),
])
def test_ragged_rows_name_the_line(tmp_path: Path, text: str, line: int) -> None:
    message = data_error(load_data, write(tmp_path / "d.csv", text))
    assert f"line {line}" in message


def test_too_few_columns(tmp_path: Path) -> None:
    assert "1 column" in data_error(load_data, write(tmp_path / "d.csv", "y\n1\n2\n"))


def test_not_a_source() -> None:
    assert "DataFrame" in data_error(load_data, 42)


def test_bad_task_value() -> None:
    with pytest.raises(ConfigError):
        load_data(pd.DataFrame({"a": [1, 2], "y": [0, 1]}), task="clustering")


# ---------------------------------------------------------------- delimited text


def test_semicolon_decimal_comma(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "x;z;y\n1,5;a;2,25\n-3,75;b;4,5\n2;a;0,125\n")
    ds = load_data(path)
    assert ds.X["x"].tolist() == [1.5, -3.75, 2.0]
    assert ds.y.tolist() == [2.25, 4.5, 0.125] and ds.task == "regression"


def test_decimal_comma_with_thousands(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "x;y\n1.234,5;1\n2,5;0\n7;1\n")
    assert load_data(path).X["x"].tolist() == [1234.5, 2.5, 7.0]


@pytest.mark.parametrize("name,sep", [("d.csv", "\t"), ("d.tsv", "\t"), ("d.csv", "|"), ("d.txt", ",")])
def test_sniffed_delimiters(tmp_path: Path, name: str, sep: str) -> None:
    rows = ["a b", "num", "y"], ["x 1", "1.5", "p"], ["x 2", "2.5", "q"], ["x 1", "3.5", "p"]
    ds = load_data(write(tmp_path / name, "\n".join(sep.join(r) for r in rows) + "\n"))
    assert list(ds.X.columns) == ["a b", "num"]
    assert ds.X["num"].tolist() == [1.5, 2.5, 3.5] and ds.y.tolist() == ["p", "q", "p"]


def test_whitespace_separated_txt(tmp_path: Path) -> None:
    ds = load_data(write(tmp_path / "d.txt", "a   b  y\n1 2 3.5\n4  5   6.5\n7 8 9.25\n"))
    assert ds.X.shape == (3, 2) and ds.y.tolist() == [3.5, 6.5, 9.25]


def test_gzipped_csv_and_name(tmp_path: Path) -> None:
    path = tmp_path / "my.table.csv.gz"
    path.write_bytes(gzip.compress(b"a,y\n1,u\n2,v\n3,u\n"))
    ds = load_data(path)
    assert ds.name == "my.table" and ds.task == "binary"


def test_trailing_delimiters(tmp_path: Path) -> None:
    ds = load_data(write(tmp_path / "d.csv", "a,b,y\n1,2,3.5,\n4,5,6.25,\n7,8,0.5,\n"))
    assert list(ds.X.columns) == ["a", "b"] and ds.y.tolist() == [3.5, 6.25, 0.5]
    ds = load_data(write(tmp_path / "e.csv", "a,b,y,\n1,2,3.5,\n4,5,6.25,\n7,8,0.5,\n"))
    assert list(ds.X.columns) == ["a", "b"] and ds.y.tolist() == [3.5, 6.25, 0.5]


def test_headerless_numeric_file(tmp_path: Path) -> None:
    ds = load_data(write(tmp_path / "d.csv", "1,2,0.5\n3,4,1.5\n5,6,2.5\n"))
    assert list(ds.X.columns) == ["x0", "x1"] and ds.target == "x2" and len(ds.y) == 3
    assert any("no header" in n for n in ds.notes)


def test_missing_markers_in_numbers(tmp_path: Path) -> None:
    ds = load_data(write(tmp_path / "d.csv", "a,b,y\n1,?,x\nNA,2,y\n3,null,x\n,4,y\n"))
    assert ds.column_types == {"a": "numeric", "b": "numeric"}
    assert ds.X["a"].isna().tolist() == [False, True, False, True]


def test_rows_with_missing_target_dropped(tmp_path: Path) -> None:
    ds = load_data(write(tmp_path / "d.csv", "a,y\n1,x\n2,\n3,z\n4,?\n5,x\n"))
    assert ds.X["a"].tolist() == [1.0, 3.0, 5.0] and ds.y.tolist() == ["x", "z", "x"]
    assert any("2 row(s)" in n for n in ds.notes)


def test_large_csv_is_fast(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(20_000, 50)).round(5), columns=[f"c{i}" for i in range(50)])
    frame["y"] = rng.integers(0, 3, len(frame))
    frame.to_csv(tmp_path / "big.csv", index=False)
    start = time.perf_counter()
    ds = load_data(tmp_path / "big.csv")
    assert time.perf_counter() - start < 5.0
    assert ds.X.shape == (20_000, 50) and ds.task == "multiclass"


# ---------------------------------------------------------------- parquet, frames, arrays


def test_parquet_round_trip(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "num": [1.5, 2.5, np.nan, 4.0],
        "count": [1, 2, 3, 4],
        "flag": [True, False, True, False],
        "colour": pd.Categorical(["red", "blue", None, "red"]),
        "text": ["a", "b", "a", "c"],
        "y": ["p", "q", "p", "q"],
    })
    frame.to_parquet(tmp_path / "d.parquet")
    ds = load_data(tmp_path / "d.parquet")
    assert_typed(ds)
    assert ds.column_types == {"num": "numeric", "count": "numeric", "flag": "boolean",
                               "colour": "categorical", "text": "categorical"}
    assert ds.X["flag"].tolist() == ["true", "false", "true", "false"]
    assert ds.X["colour"].isna().tolist() == [False, False, True, False]
    assert ds.name == "d" and ds.task == "binary"


def test_corrupt_parquet(tmp_path: Path) -> None:
    assert "Parquet" in data_error(load_data, write(tmp_path / "d.parquet", "not parquet at all"))


def test_dataframe_source() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3, 4], "b": ["u", "v", "u", None], "target": [0.5, 1.7, 2.2, 3.9]})
    ds = load_data(frame, name="mine")
    assert_typed(ds)
    assert ds.name == "mine" and ds.task == "regression" and ds.target == "target"
    assert frame["a"].dtype == np.int64  # input is not modified


def test_from_xy_numeric_array() -> None:
    X = np.arange(12, dtype=float).reshape(6, 2)
    ds = from_xy(X, [0, 1, 0, 1, 0, 1])
    assert_typed(ds)
    assert list(ds.X.columns) == ["x0", "x1"] and ds.task == "binary" and ds.y.tolist() == ["0", "1"] * 3


def test_from_xy_object_array() -> None:
    X = np.array([["a", "1.5", True], ["b", "?", False], ["a", "3", True]], dtype=object)
    ds = from_xy(X, pd.Series(["r", "s", "r"], name="label"))
    assert ds.column_types == {"x0": "categorical", "x1": "numeric", "x2": "boolean"}
    assert ds.target == "label" and ds.X["x1"].isna().tolist() == [False, True, False]


def test_from_xy_without_y() -> None:
    ds = from_xy(pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}), task="multiclass")
    assert len(ds.y) == 0 and ds.task == "multiclass" and ds.column_types["b"] == "categorical"
    with pytest.raises(ConfigError):
        from_xy(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(ConfigError):
        from_xy(pd.DataFrame({"a": [1.0]}), task="classification")


def test_from_xy_length_mismatch() -> None:
    assert "rows" in data_error(from_xy, np.zeros((3, 2)), [1, 2])


def test_from_xy_keeps_categorical_target_order() -> None:
    y = pd.Series(pd.Categorical(["lo", "hi", "mid", "lo"], categories=["lo", "mid", "hi"]))
    ds = from_xy(pd.DataFrame({"a": [1, 2, 3, 4]}), y)
    assert list(ds.y.cat.categories) == ["lo", "mid", "hi"] and ds.task == "multiclass"


# ---------------------------------------------------------------- task inference


@pytest.mark.parametrize("values,task,expected", [
    (["a", "b", "a"], None, "binary"),
    (["a", "b", "c"], None, "multiclass"),
    ([1, 2, 3, 4, 5, 1], None, "multiclass"),
    ([0.5, 1.5, 0.5, 1.5], None, "binary"),
    (list(range(11)), None, "regression"),
    ([0.1, 0.2, 0.35, 7.0], None, "regression"),
    ([1, 2, 3, 1], "regression", "regression"),
    (list(range(20)), "classification", "multiclass"),
    (["a", "b"], "classification", "binary"),
    ([True, False, True], None, "binary"),
    (["1.5", "2.5", "?", "3.25"], None, "regression"),
])
def test_infer_task(values: list, task: str | None, expected: str) -> None:
    assert infer_task(pd.Series(values, name="y"), task) == expected


def test_infer_task_errors() -> None:
    assert "regression" in data_error(infer_task, pd.Series(["a", "b"], name="y"), "regression")
    assert "multiclass" in data_error(infer_task, pd.Series(["a", "b", "c"], name="y"), "binary")
    assert "one class" in data_error(infer_task, pd.Series([3, 3, 3], name="y"))
    with pytest.raises(ConfigError):
        infer_task(pd.Series([1, 2]), "ranking")


def test_numeric_classlike_target_note(tmp_path: Path) -> None:
    ds = load_data(write(tmp_path / "d.csv", "a,y\n1,3\n2,1\n3,2\n4,10\n"))
    assert ds.task == "multiclass" and list(ds.y.cat.categories) == ["1", "2", "3", "10"]
    assert any("task='regression'" in n for n in ds.notes)
    assert load_data(tmp_path / "d.csv", task="regression").y.tolist() == [3.0, 1.0, 2.0, 10.0]


# ---------------------------------------------------------------- column typing


def test_boolean_columns() -> None:
    frame = pd.DataFrame({
        "flag": [True, False, True, False],
        "answer": ["yes", "no", None, "YES"],
        "tf": ["t", "f", "f", "t"],
        "mixed": ["yes", "false", "yes", "false"],
        "binary_int": [0, 1, 1, 0],
        "y": ["a", "b", "a", "b"],
    })
    ds = load_data(frame)
    assert ds.column_types == {"flag": "boolean", "answer": "boolean", "tf": "boolean",
                               "mixed": "categorical", "binary_int": "numeric"}
    assert ds.X["answer"].tolist()[:2] == ["true", "false"] and pd.isna(ds.X["answer"][2])
    assert list(ds.X["answer"].cat.categories) == ["false", "true"]


def test_datetime_and_free_text_dropped_with_one_warning() -> None:
    n = 30
    words = ["red", "green", "blue", "quick", "lazy", "brown", "dog", "fox", "jumps", "over"]
    frame = pd.DataFrame({
        "when": pd.date_range("2020-01-01", periods=n).strftime("%Y-%m-%d"),
        "stamp": pd.date_range("2021-03-01 08:00", periods=n, freq="h"),
        "comment": [" ".join(words[(i + k) % 10] for k in range(5)) + f" #{i}" for i in range(n)],
        "ident": [f"ID{i:05d}" for i in range(n)],
        "month": ["jan", "feb", "mar"] * 10,
        "x": np.arange(n, dtype=float) / 2,
        "y": ["a", "b"] * 15,
    })
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_data(frame)
    ours = [w for w in caught if "dropped" in str(w.message)]
    assert len(ours) == 1 and "'comment' (free text)" in str(ours[0].message)
    assert ds.dropped == {"when": "datetime", "stamp": "datetime", "comment": "free text",
                      "ident": "ID-like: a distinct code per row"}
    assert ds.column_types == {"month": "categorical", "x": "numeric"}
    assert any(n.startswith("dropped columns:") for n in ds.notes)


def test_constant_and_all_missing_columns_reported() -> None:
    frame = pd.DataFrame({"c": [5, 5, 5], "m": [None, None, None], "s": ["k", "k", None],
                          "x": [1, 2, 3], "y": ["a", "b", "a"]})
    ds = load_data(frame)
    assert set(ds.column_types) == {"c", "m", "s", "x"}
    assert any(n.startswith("all-missing") and "'m'" in n for n in ds.notes)
    assert any(n.startswith("constant") and "'c'" in n and "'s'" in n for n in ds.notes)


def test_categorical_levels_are_strings_sorted() -> None:
    frame = pd.DataFrame({"k": pd.Series([10, 2, 1, 2]).astype("category"), "z": ["b", "a", "?", "b"],
                          "y": [1.5, 2.5, 3.5, 4.75]})
    ds = load_data(frame)
    assert list(ds.X["k"].cat.categories) == ["1", "2", "10"]
    assert list(ds.X["z"].cat.categories) == ["a", "b"] and ds.X["z"].isna().sum() == 1


# ---------------------------------------------------------------- ARFF


QUIRKY_ARFF = """% a comment line\r
@RELATION 'quirky set'\r
\r
@ATTRIBUTE 'size cm' INTEGER [1,10]\r
@attribute ratio real[0,1]\r
@attribute colour { red , 'dark blue', "pale green" }\r
@attribute code {1,2,3}\r
@attribute flag {false, true}\r
@attribute note string\r
@attribute class {neg,pos}\r
@DATA\r
% comment inside data\r
1,0.5,red,1,true,'hello there',neg,\r
2 , 0.25 , 'dark blue' , 3 , false , x , pos\r
?,?,"pale green",?,?,?,pos\r
\r
4 0.75 red 2 true y neg\r
{0 5, 2 red, 6 pos}\r
"""


def test_arff_quirks(tmp_path: Path) -> None:
    raw, declared = read_table(write(tmp_path / "q.arff", QUIRKY_ARFF))
    assert declared["colour"] == ["red", "dark blue", "pale green"] and declared["code"] == ["1", "2", "3"]
    ds = load_data(tmp_path / "q.arff")
    assert_typed(ds)
    assert ds.name == "q" and ds.target == "class" and ds.task == "binary"
    assert ds.column_types == {"size cm": "numeric", "ratio": "numeric", "colour": "categorical",
                               "code": "categorical", "flag": "categorical", "note": "categorical"}
    assert ds.X["size cm"].tolist()[:2] == [1.0, 2.0] and np.isnan(ds.X["size cm"][2])
    assert ds.X["size cm"].tolist()[3:] == [4.0, 5.0]
    assert ds.X["ratio"].tolist()[4] == 0.0  # omitted in the sparse row
    assert ds.X["colour"].tolist()[:2] == ["red", "dark blue"]
    assert list(ds.X["code"].cat.categories) == ["1", "2", "3"]
    assert ds.X["code"].tolist()[4] == "1"  # sparse default for a nominal: first level
    assert ds.y.tolist() == ["neg", "pos", "pos", "neg", "pos"]


def test_arff_gz_and_declared_target_order(tmp_path: Path) -> None:
    text = "@relation r\n@attribute a numeric\n@attribute c {z,y,x}\n@data\n1,y\n2,x\n3,y\n"
    path = tmp_path / "r.arff.gz"
    path.write_bytes(gzip.compress(text.encode()))
    ds = load_data(path)
    assert ds.name == "r" and ds.task == "binary" and list(ds.y.cat.categories) == ["y", "x"]
    assert any("without rows" in n and "'z'" in n for n in ds.notes)


def test_arff_nominal_integer_target_is_classification(tmp_path: Path) -> None:
    rows = "\n".join(f"{i},{i % 2}" for i in range(30))
    path = write(tmp_path / "n.arff", f"@relation n\n@attribute a real\n@attribute t {{0,1}}\n@data\n{rows}\n")
    assert load_data(path).task == "binary"
    assert "numeric target" in data_error(load_data, path, task="regression")


@pytest.mark.parametrize("text,fragment", [
    ("@relation r\n@attribute a numeric\n@attribute b numeric\n@data\n1,2\n3,4,5\n", "line 6"),
    ("@relation r\n@attribute a numeric\n@attribute b numeric\n@data\n1,2\nx,4\n", "line 6"),
    ("@relation r\n@attribute a numeric\n@attribute b blob\n@data\n1,2\n", "line 3"),
    ("@relation r\n@attribute a numeric\n@attribute b {x,y\n@data\n1,x\n", "line 3"),
    ("@relation r\n@attribute a numeric\n@attribute b numeric\n1,2\n", "line 4"),
    ("@relation r\n@attribute a numeric\n@attribute b numeric\n", "no @data"),
    ("@relation r\n@attribute a numeric\n@attribute a numeric\n@data\n1,2\n", "duplicate"),
    ("@relation r\n@attribute a numeric\n@attribute b numeric\n@data\n% nothing\n", "no data rows"),
])
def test_arff_errors_name_file_and_line(tmp_path: Path, text: str, fragment: str) -> None:
    message = data_error(load_data, write(tmp_path / "bad.arff", text))
    assert "bad.arff" in message and fragment in message


def test_wide_arff_is_fast(tmp_path: Path) -> None:
    width = 3000
    header = "".join(f"@attribute a{i} numeric\n" for i in range(width))
    rows = "\n".join(",".join(["1.5"] * width + [label]) for label in ("x", "y", "x"))
    path = write(tmp_path / "wide.arff", f"@relation w\n{header}@attribute c {{x,y}}\n@data\n{rows}\n")
    start = time.perf_counter()
    ds = load_data(path)
    assert time.perf_counter() - start < 5.0
    assert ds.X.shape == (3, width) and ds.X.iloc[0, 0] == 1.5
    assert any(n.startswith("constant columns") and f"({width - 8} more)" in n for n in ds.notes)


# ---------------------------------------------------------------- stratification and alignment


def test_check_stratifiable() -> None:
    y = pd.Series(pd.Categorical(["a"] * 10 + ["b"] * 3 + ["c"], categories=["a", "b", "c", "d"]))
    assert check_stratifiable(y[y != "c"], 3) == (3, [])
    assert check_stratifiable(y, 2) == (2, ["c"])  # rare classes are kept (training only), not refused
    assert check_stratifiable(y, 3) == (3, ["c"])
    assert check_stratifiable(y, 5) == (3, ["c"])  # lowered so that 'a' and 'b' are both validated
    many = pd.Series(["a"] * 10 + ["b"] * 10 + ["c"] * 4 + ["d"] * 2 + ["e"])
    assert check_stratifiable(many, 5) == (5, ["e", "d", "c"])  # smallest first
    assert check_stratifiable(pd.Series([0.1, 0.2, 0.3]), 5) == (5, [])  # regression targets are not checked
    assert check_stratifiable(pd.Series([0.0, 1.0] * 5 + [2.0]), 5, classification=True) == (5, [2.0])
    message = data_error(check_stratifiable, pd.Series(["a"] * 10 + ["b"]), 5)
    assert "'b' has 1 row" in message and "validated" in message
    assert "one class 'a'" in data_error(check_stratifiable, pd.Series(["a"] * 5), 2)
    with pytest.raises(ConfigError):
        check_stratifiable(y, 1)
    text = describe_rare_classes(many, ["e", "d", "c"], 5, 5)
    assert text.startswith("3 class(es) have fewer rows than the 5 cross-validation folds: 'e' (1 row), 'd' (2 rows)")
    assert "never validated" in text and describe_rare_classes(many, [], 5, 5) == ""


def test_align_features() -> None:
    train = load_data(pd.DataFrame({"n": [1.0, 2.0, 3.0], "c": ["a", "b", "a"], "f": [True, False, True],
                                    "y": ["p", "q", "p"]}))
    new = pd.DataFrame({"extra": [1, 2], "f": ["yes", "no"], "c": ["b", "zzz"], "n": ["4.5", "?"]},
                       index=[10, 11])
    aligned, notes = align_features(new, train.column_types)
    assert list(aligned.columns) == ["n", "c", "f"] and list(aligned.index) == [10, 11]
    assert aligned["n"].dtype == np.float64 and aligned["n"].tolist()[0] == 4.5 and np.isnan(aligned["n"][11])
    assert isinstance(aligned["c"].dtype, pd.CategoricalDtype) and aligned["c"].tolist() == ["b", "zzz"]
    assert aligned["f"].tolist() == ["true", "false"]
    assert any("'extra'" in n for n in notes)
    message = data_error(align_features, new.drop(columns=["c", "n"]), train.column_types)
    assert "'c'" in message and "'n'" in message


def test_align_features_array_and_bad_numbers() -> None:
    aligned, notes = align_features(np.array([[1, "x"], ["oops", "y"]], dtype=object),
                                    {"a": "numeric", "b": "categorical"})
    assert aligned["a"].tolist()[0] == 1.0 and np.isnan(aligned["a"][1])
    assert any("not numbers" in n for n in notes)


# ---------------------------------------------------------------- the shared corpus

MALFORMED = {
    "classification/breast.w": ((699, 9), "binary"),
    "classification/zoo": ((101, 17), "multiclass"),
    "regression/bank32nh": ((8192, 32), "regression"),
    "regression/bank8FM": ((8192, 8), "regression"),
    "regression/delta.ailerons": ((7129, 5), "regression"),
    "regression/delta.elevators": ((9517, 6), "regression"),
}


@pytest.mark.parametrize("stem", sorted(MALFORMED))
def test_malformed_corpus_files_load(arff_dir: Path, stem: str) -> None:
    ds = load_data(arff_dir / f"{stem}.arff.gz")
    assert_typed(ds)
    shape, task = MALFORMED[stem]
    assert ds.X.shape == shape and ds.task == task and not ds.dropped
    if task == "regression":
        assert ds.y.notna().all() and ds.X.notna().all().all()
        assert all(kind == "numeric" for kind in ds.column_types.values())


def test_malformed_corpus_values(arff_dir: Path) -> None:
    bank = load_data(arff_dir / "regression/bank8FM.arff.gz")
    assert bank.X.iloc[0, :3].tolist() == [-0.102111, -0.193977, -0.385334] and bank.y[0] == 0.657019
    elevators = load_data(arff_dir / "regression/delta.elevators.arff.gz")
    assert elevators.X.iloc[0].tolist() == [2.0, -50.0, -0.0048, -0.001, 0.2, 0.0] and elevators.y[0] == -0.001
    breast = load_data(arff_dir / "classification/breast.w.arff.gz")
    assert breast.X["Bare_Nuclei"].isna().sum() == 16 and breast.y.value_counts()["benign"] == 458
    zoo = load_data(arff_dir / "classification/zoo.arff.gz")
    assert zoo.column_types["legs"] == "numeric" and zoo.column_types["hair"] == "categorical"  # declared nominal keeps its levels
    assert zoo.X["legs"].max() == 8.0 and zoo.y.cat.categories[0] == "mammal"


CORPUS = sorted(p.relative_to(ARFF_DIR).as_posix() for p in ARFF_DIR.glob("*/*.arff.gz")) or ["(absent)"]


@pytest.mark.parametrize("relative", CORPUS)
def test_every_corpus_file_loads_or_fails_cleanly(arff_dir: Path, relative: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = load_data(arff_dir / relative)
    except DataError as exc:
        message = str(exc)
        assert "\n" not in message and Path(relative).name in message
        return
    assert_typed(ds)
    assert len(ds.X) > 0 and ds.X.shape[1] > 0

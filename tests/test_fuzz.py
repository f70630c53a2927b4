"""Fuzzing the command line with Hypothesis-generated data files.

Every command that reads a data file (``metafeatures``, ``fit``, ``predict``, ``recommend``,
``metabase build``) and ``metabase info`` on a corrupted metabase must either succeed (exit 0) or
fail as a user error: exit 2 with exactly one ``error:`` line on stderr (``note:``/``warning:``
lines printed before it are allowed) and no traceback anywhere. Exit 1 ("internal error") is a
bug. Commands run in-process through :func:`autometa.cli.main` (fast); one smoke case runs the
real console entry point in a subprocess.

The generated inputs cover random bytes, ragged rows, inf/NaN/huge values, unicode and empty
column names, constant and all-missing columns, one-row files, a one-class target, duplicated
headers, byte-order marks, mixed delimiters, CRLF/CR line ends, latin-1 and UTF-16 text, gzip
(or not) behind ``.gz``, and CSV/TSV/ARFF/Parquet writers (or garbage behind those extensions).
Runs are derandomised so CI sees the same cases every time; the total is reported in pytest's
terminal summary (hook in ``conftest.py``) and checked by the last test.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autometa.cli import main

# cases per command: the cheap commands take most of them; the sum must stay >= MIN_TOTAL
EXAMPLES = {
    "metafeatures": 230,
    "recommend": 90,
    "predict": 110,
    "fit": 40,
    "metabase build": 16,
    "metabase info": 40,
}
MIN_TOTAL = 500
CASES: Counter = Counter()
SUCCEEDED: Counter = Counter()  # cases that exited 0 (the rest were user errors)


def _settings(command: str):
    return settings(
        max_examples=EXAMPLES[command],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
    )


@pytest.fixture(scope="module", autouse=True)
def _report_cases(request):
    """Expose the case counter to the terminal-summary hook in conftest.py."""
    request.config._autometa_fuzz_cases = CASES
    request.config._autometa_fuzz_succeeded = SUCCEEDED
    yield


# --------------------------------------------------------------------------------------------
# running a command


def run_cli(args: list[str]) -> tuple[int, str, str]:
    """Run ``autometa ARGS`` in-process; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, out.getvalue(), err.getvalue()


def check_outcome(command: str, args: list[str], code: int, out: str, err: str, count: bool = True) -> None:
    """Exit 0, or exit 2 with exactly one ``error:`` line; never a traceback or an internal error."""
    if count:  # generated cases only
        CASES[command] += 1
        SUCCEEDED[command] += code == 0
    shown = f"autometa {' '.join(args)} -> exit {code}\nstderr: {err[-2000:]!r}"
    assert "Traceback" not in err and "Traceback" not in out, shown
    assert "internal error" not in err, shown
    assert code in (0, 2), shown
    if code == 2:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        other = [ln for ln in lines if not ln.startswith(("note:", "warning:"))]
        assert len(other) == 1, shown
        assert other[0].startswith("error: ") and len(other[0]) > len("error: "), shown
        assert lines[-1] == other[0], shown


def run_and_check(command: str, args: list[str]) -> tuple[int, str, str]:
    code, out, err = run_cli(args)
    check_outcome(command, args, code, out, err)
    return code, out, err


# --------------------------------------------------------------------------------------------
# generated tables and files

NAMES = st.one_of(
    st.sampled_from(["a", "b", "c", "y", "", " ", "a", "ü", "名前", "a b", '"q"', "'s'", "x,y", "#",
                     "%", "@data", "nan", "NA", "0", "1.5", "\ufeffa", "col\u200b", "é"]),
    st.text(min_size=0, max_size=6),
)
SPECIAL_NUMBERS = st.sampled_from([
    "inf", "-inf", "Infinity", "-Infinity", "NaN", "nan", "1e308", "-1e308", "1e309", "5e-324",
    "9" * 40, "-0", "0x1A", "1_000", "1,5", "1.0.0", " 3 ", "+7", "1e", ".", "-",
])
MISSING = st.sampled_from(["", "?", "NA", "n/a", "null", "None", "nan", " "])
WORDS = st.sampled_from(["x", "z", "yes", "no", "true", "False", "t", "ü", "名", '"', "'", ",",
                         ";", "\t", "a\"b", "2020-01-01", "12:00", "{", "}", "%", "@"])
CELL = st.one_of(
    st.integers(-5, 5).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    SPECIAL_NUMBERS,
    MISSING,
    WORDS,
    st.text(max_size=4),
)


@st.composite
def columns(draw, n_rows: int) -> list[str]:
    """One column of cell texts: random, numeric, constant, all-missing or few classes."""
    kind = draw(st.sampled_from(["random", "numeric", "constant", "missing", "classes", "one_class"]))
    if kind == "numeric":
        return [draw(st.one_of(st.integers(-10**6, 10**6).map(str),
                               st.floats(-1e300, 1e300).map(repr), SPECIAL_NUMBERS, MISSING))
                for _ in range(n_rows)]
    if kind == "constant":
        value = draw(CELL)
        return [value] * n_rows
    if kind == "missing":
        return [draw(MISSING) for _ in range(n_rows)]
    if kind == "classes":
        levels = draw(st.lists(CELL, min_size=2, max_size=3, unique=True))
        return [draw(st.sampled_from(levels)) for _ in range(n_rows)]
    if kind == "one_class":
        return ["x"] * n_rows
    return [draw(CELL) for _ in range(n_rows)]


@st.composite
def plausible_tables(draw, names=NAMES, required: tuple[str, ...] = ()) -> tuple[list[str], list[list[str]]]:
    """A table a user could mean: unique names (``required`` among them), 2-12 rows, usable target."""
    n_rows = draw(st.integers(2, 12))
    extra = draw(st.lists(names.filter(lambda n: n not in required), min_size=0 if required else 1,
                          max_size=3, unique_by=lambda n: n.strip().strip("\ufeff").lower()))
    header = draw(st.permutations(list(required) + extra))
    cols = [draw(columns(n_rows)) for _ in header]
    target_kind = draw(st.sampled_from(["classes", "classes", "numbers", "asis"]))
    if target_kind == "classes":
        levels = draw(st.lists(st.one_of(WORDS, st.integers(0, 3).map(str)), min_size=2, max_size=3, unique=True))
        shift = draw(st.integers(0, 2))
        cols.append([levels[(i + shift) % len(levels)] for i in range(n_rows)])
    elif target_kind == "numbers":
        cols.append([repr(draw(st.floats(-1e6, 1e6))) for _ in range(n_rows)])
    if target_kind != "asis":
        header = header + [draw(st.sampled_from(["y", "target", "ü", "class label"]).filter(
            lambda n: n not in header))]
    if len(cols) < len(header):
        cols += [draw(columns(n_rows)) for _ in range(len(header) - len(cols))]
    rows = [[col[i] for col in cols] for i in range(n_rows)]
    return header, rows


@st.composite
def tables(draw, names=NAMES, required: tuple[str, ...] = ()) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of cell texts: half plausible tables, half hostile ones (0-12 rows, 1-5
    columns, duplicate names, sometimes ragged)."""
    if draw(st.booleans()):
        return draw(plausible_tables(names, required))
    n_cols = draw(st.integers(1, 5))
    n_rows = draw(st.sampled_from([0, 1, 1, 2, 3, 5, 8, 12]))
    header = [draw(names) for _ in range(n_cols)]
    cols = [draw(columns(n_rows)) for _ in range(n_cols)]
    rows = [[col[i] for col in cols] for i in range(n_rows)]
    if rows and draw(st.integers(0, 4)) == 0:  # ragged rows
        for row in rows:
            change = draw(st.integers(-2, 2))
            if change < 0:
                del row[change:]
            else:
                row.extend(draw(CELL) for _ in range(change))
    return header, rows


def _quote(cell: str, delimiter: str, style: int) -> str:
    if style == 0:
        return cell
    if style == 1 or any(ch in cell for ch in (delimiter, '"', "\n", "\r")):
        return '"' + cell.replace('"', '""') + '"'
    return cell


@st.composite
def delimited_text(draw, header: list[str], rows: list[list[str]]) -> str:
    delimiters = [",", ";", "\t", "|", " "]
    mixed = draw(st.integers(0, 7)) == 0
    delimiter = draw(st.sampled_from(delimiters))
    style = draw(st.integers(0, 2))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    lines = []
    for row in [header] + rows:
        d = draw(st.sampled_from(delimiters)) if mixed else delimiter
        lines.append(d.join(_quote(c, d, style) for c in row))
    if lines and draw(st.integers(0, 9)) == 0:
        lines = lines[1:]  # no header
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    return text


def _arff_type(cells: list[str], choice: int) -> str:
    if choice == 0:
        return "numeric"
    if choice == 1:
        return "string"
    if choice == 2:
        levels = sorted({c for c in cells if c not in ("", "?")}) or ["x"]
        return "{" + ",".join(levels) + "}"
    return ["real", "integer", "date", "relational", "{}", "{a,b", "bogus"][choice - 3]


@st.composite
def arff_text(draw, header: list[str], rows: list[list[str]]) -> str:
    width = len(header)
    lines = [draw(st.sampled_from(["@relation r", "@RELATION 'fuzz set'", "% comment", ""]))]
    for i, name in enumerate(header):
        cells = [row[i] for row in rows if i < len(row)]
        choice = draw(st.sampled_from([0] * 6 + [1] * 2 + [2] * 6 + [3, 4, 5, 6, 7, 8, 9]))
        quote = draw(st.sampled_from(["'", '"', ""]))
        lines.append(f"@attribute {quote}{name}{quote} {_arff_type(cells, choice)}")
    lines.append(draw(st.sampled_from(["@data", "@DATA", "@data ", ""])))
    for row in rows:
        if draw(st.integers(0, 9)) == 0:  # sparse row
            lines.append("{" + ", ".join(f"{j} {c}" for j, c in enumerate(row[: width + 1])) + "}")
        else:
            lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def _parquet_bytes(header: list[str], rows: list[list[str]], typed: bool) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    width = len(header)
    arrays = []
    for i in range(width):
        cells = [row[i] if i < len(row) else "" for row in rows]
        array = None
        if typed:
            try:
                values = [None if c.strip().lower() in ("", "?", "na", "n/a", "null", "none") else float(c)
                          for c in cells]
                array = pa.array(values, type=pa.float64())
                if all(v is None for v in values):
                    array = pa.nulls(len(values))  # an all-null column of type null
            except ValueError:
                array = None
            if array is None and cells and {c.lower() for c in cells} <= {"true", "false"}:
                array = pa.array([c.lower() == "true" for c in cells])
        if array is None:
            array = pa.array(cells, type=pa.string())
        arrays.append(array)
    table = pa.Table.from_arrays(arrays, names=header)  # duplicate names allowed by Arrow
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _encode(text: str, encoding: int) -> bytes:
    if encoding == 1:
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    if encoding == 2:
        return text.encode("latin-1", "replace")
    if encoding == 3:
        return text.encode("utf-16", "surrogatepass")  # with a BOM
    if encoding == 4:
        return text.encode("utf-16-le", "surrogatepass")  # no BOM
    return text.encode("utf-8", "surrogatepass")


EXTENSIONS = [".csv", ".tsv", ".txt", ".csv.gz", ".arff", ".arff.gz", ".parquet", ".pq"]


@st.composite
def data_files(draw, names=NAMES, extensions=EXTENSIONS, required: tuple[str, ...] = ()) -> tuple[str, bytes]:
    """(extension, file content): a table written in some format, perhaps damaged, or garbage."""
    ext = draw(st.sampled_from(extensions))
    how = draw(st.sampled_from(["table"] * 10 + ["garbage", "damaged"]))
    if how == "garbage":
        content = draw(st.one_of(st.binary(max_size=200), st.sampled_from(
            [b"", b"\n", b"\xef\xbb\xbf", b"\x00\x00\x00", b"PAR1", b"PAR1\x00PAR1", b"\x1f\x8b\x08",
             b"a,b\n", b",\n,\n", b"@relation x\n@data\n", b"\xff\xfe", b"\r\r\r"])))
        return ext, content
    header, rows = draw(tables(names, required))
    fmt = ext.replace(".gz", "")
    if fmt in (".parquet", ".pq"):
        content = _parquet_bytes(header, rows, typed=draw(st.booleans()))
    else:
        text = draw(arff_text(header, rows)) if fmt == ".arff" else draw(delimited_text(header, rows))
        content = _encode(text, draw(st.sampled_from([0] * 5 + [1, 2, 3, 4])))
    if ext.endswith(".gz") and draw(st.integers(0, 5)) != 0:
        content = gzip.compress(content, mtime=0)
    if how == "damaged" and content:
        cut = draw(st.integers(0, len(content)))
        content = content[:cut] + draw(st.binary(max_size=8)) + (content[cut + 1:] if draw(st.booleans()) else b"")
    return ext, content


class FileMaker:
    """Writes each example's file under a per-module folder with a unique name."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0

    def write(self, ext: str, content: bytes, stem: str = "fuzz") -> Path:
        self.n += 1
        folder = self.root / f"case{self.n}"
        folder.mkdir()
        path = folder / f"{stem}{ext}"
        path.write_bytes(content)
        return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> FileMaker:
    return FileMaker(tmp_path_factory.mktemp("fuzz"))


# --------------------------------------------------------------------------------------------
# session resources: a small model and a small metabase


TRAIN_CSV = "a,b,c,y\n" + "\n".join(
    f"{i * 0.5},{['u', 'v', 'w'][i % 3]},{i % 2},{['x', 'z'][(i // 2) % 2]}" for i in range(20)
) + "\n"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzzmodel")
    data = root / "train.csv"
    data.write_text(TRAIN_CSV)
    out = root / "train.autometa.joblib"
    code, _, err = run_cli(["fit", str(data), "--trials", "1", "--algorithms", "linear", "--cv", "2",
                            "--no-warm-start", "--output", str(out), "--json"])
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def small_metabase(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzzmb")
    (root / "src").mkdir()
    (root / "src" / "train.csv").write_text(TRAIN_CSV)
    out = root / "mb"
    code, _, err = run_cli(["metabase", "build", "--source", f"csv:{root / 'src'}", "--out", str(out),
                            "--configs-per-algorithm", "1", "--algorithms", "linear", "--max-rows", "50",
                            "--cv", "2"])
    assert code == 0, err
    return out


# --------------------------------------------------------------------------------------------
# the fuzz tests, one per command


@_settings("metafeatures")
@given(spec=data_files(), as_json=st.booleans(), target=st.sampled_from([None] * 5 + ["a", "", "y"]))
def test_fuzz_metafeatures(files, spec, as_json, target):
    path = files.write(*spec)
    args = ["metafeatures", str(path), "--time-budget", "5"]
    if as_json:
        args.append("--json")
    if target is not None:
        args += ["--target", target]
    code, out, _ = run_and_check("metafeatures", args)
    if code == 0 and as_json:
        json.loads(out)  # strict JSON (NaN -> null)


@_settings("recommend")
@given(spec=data_files(), as_json=st.booleans())
def test_fuzz_recommend(files, spec, as_json):
    path = files.write(*spec)
    args = ["recommend", str(path), "--top", "2"] + (["--json"] if as_json else [])
    code, out, _ = run_and_check("recommend", args)
    if code == 0 and as_json:
        assert isinstance(json.loads(out), list)


PREDICT_NAMES = st.one_of(st.sampled_from(["a", "b", "c", "y", "a", "b", "c"]), NAMES)


@_settings("predict")
@given(spec=data_files(names=PREDICT_NAMES, required=("a", "b", "c")), proba=st.booleans())
def test_fuzz_predict(files, model_file, spec, proba):
    path = files.write(*spec)
    args = ["predict", str(model_file), str(path)] + (["--proba"] if proba else [])
    code, out, _ = run_and_check("predict", args)
    if code == 0:
        assert out.count("\n") >= 1  # a CSV header at least


@_settings("fit")
@given(spec=data_files(), warm=st.booleans())
def test_fuzz_fit(files, spec, warm):
    path = files.write(*spec)
    args = ["fit", str(path), "--trials", "1", "--algorithms", "linear", "--cv", "2",
            "--output", str(path.parent / "model.joblib"), "--json"]
    if not warm:
        args.append("--no-warm-start")
    code, _, _ = run_and_check("fit", args)
    if code == 0:
        assert (path.parent / "model.joblib").is_file()


@_settings("metabase build")
@given(spec=data_files(extensions=[".csv", ".tsv", ".csv.gz", ".parquet", ".arff"]))
def test_fuzz_metabase_build(files, spec):
    path = files.write(*spec)
    kind = "arff" if spec[0] == ".arff" else "csv"
    args = ["metabase", "build", "--source", f"{kind}:{path.parent}", "--out", str(path.parent / "mb"),
            "--configs-per-algorithm", "1", "--algorithms", "linear", "--max-rows", "50", "--cv", "2"]
    run_and_check("metabase build", args)


METABASE_FILES = ["manifest.json", "datasets.parquet", "configs.parquet", "runs.parquet", "runs", "build.log",
                  "model"]
# "wrong_parquet" (valid Parquet, wrong columns), a folder in place of configs.parquet and a manifest
# that is JSON but not the expected shape are covered by test_corrupted_metabase_info_is_a_user_error below
CORRUPTIONS = ["delete", "empty", "garbage", "truncate", "json", "directory"]


@_settings("metabase info")
@given(damage=st.lists(st.tuples(st.sampled_from(METABASE_FILES), st.sampled_from(CORRUPTIONS),
                                 st.binary(max_size=64),
                                 st.sampled_from(["[]", "null", "{", "", '{"settings": {"a": 1}, "command": null}',
                                                  '{"builds": [], "wall_seconds_total": 3}'])),
                       min_size=1, max_size=3),
       as_json=st.booleans())
def test_fuzz_metabase_info(files, small_metabase, damage, as_json):
    files.n += 1
    root = files.root / f"case{files.n}" / "mb"
    shutil.copytree(small_metabase, root)
    for name, how, junk, text in damage:
        target = root / name
        if name == "runs" and target.is_dir():
            parts = sorted(target.glob("*.parquet"))
            target = parts[0] if parts and how != "delete" else target
        if how == "directory" and name == "configs.parquet":
            how = "garbage"  # a folder there: covered by test_corrupted_metabase_info_is_a_user_error
        if target.is_dir():
            shutil.rmtree(target)
            if how == "directory":
                target.mkdir()
            elif how != "delete":
                target.write_bytes(junk)
            continue
        if target.exists():
            target.unlink()
        if how == "delete":
            continue
        if how == "directory":
            target.mkdir()
        elif how == "empty":
            target.write_bytes(b"")
        elif how == "garbage":
            target.write_bytes(junk)
        elif how == "truncate":
            source = small_metabase / target.relative_to(root)
            content = source.read_bytes() if source.is_file() else b""
            target.write_bytes(content[: len(content) // 2])
        else:  # "json": syntactically broken or oddly shaped JSON
            target.write_text(text)
    args = ["metabase", "info", "--metabase", str(root)] + (["--json"] if as_json else [])
    run_and_check("metabase info", args)


# --------------------------------------------------------------------------------------------
# regression tests for bugs the fuzzing found (and plain cases of the contract)


def _expect_user_error(args: list[str], *fragments: str) -> str:
    code, out, err = run_cli(args)
    check_outcome("regression", args, code, out, err, count=False)
    assert code == 2, err
    line = err.splitlines()[-1]
    for fragment in fragments:
        assert fragment in line, line
    return line


def test_random_bytes_csv_is_a_user_error(tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(bytes(range(256)) * 4)
    _expect_user_error(["metafeatures", str(path)])


def test_garbage_parquet_is_a_user_error(tmp_path):
    path = tmp_path / "junk.parquet"
    path.write_bytes(b"PAR1\x00\x01PAR1")
    _expect_user_error(["fit", str(path), "--trials", "1"], "Parquet")


def test_one_class_target_is_a_user_error(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("a,b,y\n1,2,x\n3,4,x\n5,6,x\n")
    _expect_user_error(["fit", str(path), "--trials", "1", "--algorithms", "linear", "--cv", "2"], "'y'")


def test_utf16_bom_with_odd_byte_count_is_a_user_error(tmp_path):
    """Bug: a UTF-16 BOM followed by an odd number of bytes raised UnicodeDecodeError (exit 1)."""
    path = tmp_path / "odd.arff"
    path.write_bytes(b"\xff\xfe" + "@relation r\n@attribute a numeric\n@data\n1\n".encode("utf-16-le") + b"\x00")
    _expect_user_error(["metafeatures", str(path)], "cannot be decoded", "UTF-8")


def test_arff_attribute_without_name_is_a_user_error(tmp_path, model_file):
    """Bug: ``@attribute {0}`` (a type where the name belongs) hit an assert (exit 1)."""
    path = tmp_path / "noname.arff"
    path.write_text("@relation r\n@attribute a numeric\n@attribute  {0,1}\n@data\n1,0\n2,1\n")
    _expect_user_error(["predict", str(model_file), str(path)], "line 3", "without a name")
    _expect_user_error(["metafeatures", str(path)], "line 3", "without a name")


def test_arff_row_with_unbalanced_quote_is_a_user_error(tmp_path):
    """Bug: a one-value row with an open quote crashed shlex (ValueError: No closing quotation)."""
    path = tmp_path / "quote.arff"
    path.write_bytes(b"@relation r\n@attribute a numeric\n@attribute y numeric\n@data\n{0 1, 1 2}\n\",z\n")
    _expect_user_error(["recommend", str(path)], "line 6", "values but 2 attributes")


def test_arff_sparse_row_with_empty_entry_is_a_user_error(tmp_path, model_file):
    """Bug: an empty entry in a sparse row (``{0 1, , 2 3}``) raised IndexError (exit 1)."""
    path = tmp_path / "sparse.arff"
    path.write_text("@relation r\n@attribute a numeric\n@attribute b numeric\n@attribute c numeric\n@data\n"
                    "{0 1, 1 2, 2 3}\n{0 1, , 2 3}\n")
    _expect_user_error(["predict", str(model_file), str(path)], "line 7", "bad sparse entry")


def test_parquet_with_duplicate_names_says_so(tmp_path):
    """Bug: Arrow allows duplicate column names; the error blamed a corrupt file instead of naming them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "dupes.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array([1.0, 2.0])] * 3, names=["a", "a", "y"]), path)
    _expect_user_error(["metafeatures", str(path)], "duplicate column names 'a'", "rename")


@pytest.mark.parametrize("value", ["inf", "-Infinity", "1e309"])
def test_predict_with_infinite_values_treats_them_as_missing(tmp_path, model_file, value):
    """Bug: ±inf in a numeric column reached scikit-learn at prediction (ValueError, exit 1).
    Infinite values are now missing values, as at fit time, with one note naming the column."""
    path = tmp_path / "inf.csv"
    path.write_text(f"a,b,c\n1,u,0\n{value},v,1\n")
    code, out, err = run_cli(["predict", str(model_file), str(path)])
    assert code == 0, err
    assert len(out.strip().splitlines()) == 3  # header + one prediction per row
    notes = [line for line in err.splitlines() if "infinite" in line]
    assert len(notes) == 1 and notes[0].startswith("note:") and "'a'" in notes[0]


def test_metabase_info_without_folder_is_a_user_error(tmp_path):
    _expect_user_error(["metabase", "info", "--metabase", str(tmp_path / "nothing")], "metabase")


# Found by test_fuzz_metabase_info: a corrupted table or manifest must be a one-line user error.


def _corrupt_metabase(small_metabase: Path, tmp_path: Path, name: str, content: str | None) -> Path:
    root = tmp_path / "mb"
    shutil.copytree(small_metabase, root)
    target = root / name
    target.unlink()
    if content is None:  # a valid Parquet file with unrelated columns
        pd.DataFrame({"unrelated": [1.0, np.nan]}).to_parquet(target)
    elif content == "<dir>":
        target.mkdir()
    else:
        target.write_text(content)
    return root


@pytest.mark.parametrize("name,content", [
    ("datasets.parquet", None), ("configs.parquet", None), ("runs.parquet", None), ("configs.parquet", "<dir>"),
    ("manifest.json", "5"), ("manifest.json", '"x"'), ("manifest.json", '{"settings": 5}'),
    ("manifest.json", '{"builds": 3}'), ("manifest.json", '{"wall_seconds_total": "x"}'),
    ("manifest.json", '{"library_versions": "abc"}'),
])
def test_corrupted_metabase_info_is_a_user_error(small_metabase, tmp_path, name, content):
    root = _corrupt_metabase(small_metabase, tmp_path, name, content)
    _expect_user_error(["metabase", "info", "--metabase", str(root)])


def test_predict_with_huge_finite_value_is_a_user_error(tmp_path, model_file):
    path = tmp_path / "huge.csv"
    path.write_text("a,b,c\n0,u,0\n0,v,1.7976931348623157e+308\n")
    _expect_user_error(["predict", str(model_file), str(path)])


def test_subprocess_smoke(tmp_path):
    """The real entry point: a user error is one line on stderr and exit 2, no traceback."""
    path = tmp_path / "ragged.csv"
    path.write_bytes(b"\xef\xbb\xbfa;b,y\n1,2\n3;4;5;6\n")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "autometa.cli", "metafeatures", str(path)],
                          capture_output=True, text=True, timeout=120, env=env, check=False)
    assert proc.returncode in (0, 2), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    if proc.returncode == 2:
        other = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith(("note:", "warning:"))]
        assert len(other) == 1 and other[0].startswith("error: "), proc.stderr


def test_zz_fuzz_case_total():
    """Runs last in this module: every fuzz test ran its share, >= MIN_TOTAL cases in all."""
    fuzzed = {k: v for k, v in CASES.items() if k in EXAMPLES}
    if set(fuzzed) != set(EXAMPLES):
        pytest.skip(f"only part of the fuzz suite ran ({sorted(fuzzed)})")
    total = sum(fuzzed.values())
    print(f"fuzz cases executed: {total} ({dict(fuzzed)}); exit 0: {dict(SUCCEEDED)}")
    assert total >= MIN_TOTAL
    # the generator must reach past the loader: some cases of every data command succeed
    for command in ("metafeatures", "recommend", "predict", "fit", "metabase build", "metabase info"):
        assert SUCCEEDED[command] > 0, command

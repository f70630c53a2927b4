"""Load tabular data (CSV/TSV/Parquet/ARFF files or in-memory tables) into a typed :class:`Dataset`.

Every later stage works on a ``Dataset``: numeric features are float64, every other usable feature
is a pandas ``category``, the target is typed for its task, and whatever was changed or dropped on
the way is written down in ``notes`` / ``dropped``. Problems a user can fix raise
:class:`~autometa.errors.DataError` with one line naming the problem and the fix.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import os
import re
import shlex
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa.errors import ConfigError, DataError

__all__ = [
    "TASKS",
    "SUPPORTED_EXTENSIONS",
    "Dataset",
    "read_table",
    "load_data",
    "from_xy",
    "infer_task",
    "check_stratifiable",
    "describe_rare_classes",
    "RareClassWarning",
    "align_features",
]

TASKS = ("binary", "multiclass", "regression")
SUPPORTED_EXTENSIONS = (
    ".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".parquet", ".pq", ".arff", ".arff.gz",
)
# lower-cased text that means "missing" wherever a number or category is expected
MISSING_MARKERS = frozenset({"", "?", "na", "n/a", "nan", "null", "none"})
# read_table() puts its remarks (encoding fallback, header guesses, ...) in DataFrame.attrs[NOTES_ATTR]
NOTES_ATTR = "autometa_notes"

_PEEK_BYTES = 1 << 16
_TRUE_WORDS = frozenset({"true", "yes", "t", "y"})
_FALSE_WORDS = frozenset({"false", "no", "f", "n"})
_MAX_LISTED = 8


class RareClassWarning(UserWarning):
    """Classes with fewer rows than cross-validation folds: kept in training, never validated
    (see :func:`check_stratifiable`). A UserWarning, so it shows by default."""


@dataclass
class Dataset:
    """A typed table ready for modelling.

    ``X`` holds features only (numeric -> float64, everything else usable -> ``category``, missing
    -> NaN); ``y`` is ``category`` with string labels for classification and float64 for
    regression. ``column_types`` maps each feature to ``"numeric"``, ``"categorical"`` or
    ``"boolean"``; ``dropped`` maps removed columns to the reason; ``notes`` are remarks for people.
    """

    X: pd.DataFrame
    y: pd.Series
    task: str
    target: str
    name: str
    column_types: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        """Class labels in order for a classification task; empty for regression."""
        if self.task == "regression" or not isinstance(self.y.dtype, pd.CategoricalDtype):
            return []
        return [str(c) for c in self.y.cat.categories]

    @property
    def categories(self) -> dict[str, list[str]]:
        """Levels of each categorical or boolean feature; give them to :func:`align_features` at
        prediction time so that categories not seen in training are noted."""
        return {name: [str(c) for c in self.X[name].cat.categories] for name, kind in self.column_types.items()
                if kind != "numeric" and name in self.X and isinstance(self.X[name].dtype, pd.CategoricalDtype)}


# --------------------------------------------------------------------------------------------
# small helpers


def _listing(items: list[str] | tuple[str, ...], limit: int = _MAX_LISTED) -> str:
    """Quote and join names, truncating long lists ("'a', 'b', ... (40 more)")."""
    shown = [repr(str(i)) for i in items[:limit]]
    extra = len(items) - limit
    return ", ".join(shown) + (f", ... ({extra} more)" if extra > 0 else "")


def _one_line(text: str, limit: int = 60) -> str:
    """Make a snippet of user data safe to put inside a one-line message."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _num_label(value: float) -> str:
    """String label for a number: integer-valued numbers without '.0', others in shortest form."""
    value = float(value)
    if np.isfinite(value) and value.is_integer():
        return str(int(value))
    return repr(value)


def _label(value: Any) -> str:
    """String label for any scalar (numbers via :func:`_num_label`, bools as 'True'/'False')."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return _num_label(value)
    return str(value)


def _level_key(level: str) -> tuple[int, float, str]:
    """Sort key putting numeric-looking levels first in numeric order, then text."""
    try:
        number = float(level)
    except ValueError:
        return (1, 0.0, level)
    return (0, number, level) if not np.isnan(number) else (1, 0.0, level)


def _sorted_levels(levels: set[str] | list[str]) -> list[str]:
    return sorted(set(levels), key=_level_key)


def _category_labels(series: pd.Series) -> tuple[np.ndarray, list[str | None], list[str]]:
    """Codes, one string label per category (missing markers -> None) and the levels in declared order."""
    labels: list[str | None] = [None if _is_missing_text(c) else _label(c) for c in series.dtype.categories]
    levels = list(dict.fromkeys(lab for lab in labels if lab is not None))
    return np.asarray(series.cat.codes), labels, levels


def _is_missing_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() in MISSING_MARKERS


def _from_codes(codes: np.ndarray, labels: list[str | None], categories: list[str] | None = None
                ) -> pd.Categorical:
    """Build a Categorical from factorize codes and one label (None = missing) per unique value."""
    if categories is None:
        categories = _sorted_levels({lab for lab in labels if lab is not None})
    position = {c: i for i, c in enumerate(categories)}
    remap = np.array([position[lab] if lab is not None else -1 for lab in labels] + [-1],
                     dtype=np.int64)
    return pd.Categorical.from_codes(remap[codes], categories=pd.Index(categories, dtype=object))


def _bool_word(label: str) -> bool | None:
    """True/False for a boolean-looking word, None otherwise."""
    low = label.strip().lower()
    if low in _TRUE_WORDS:
        return True
    if low in _FALSE_WORDS:
        return False
    return None


def _looks_boolean(labels: list[str]) -> bool:
    """Labels are one true-like and/or one false-like word of the same pair (yes/no, t/f, ...)."""
    lows = {lab.strip().lower() for lab in labels}
    if not lows or len(lows) > 2 or any(_bool_word(lab) is None for lab in lows):
        return False
    pairs = ({"true", "false"}, {"yes", "no"}, {"t", "f"}, {"y", "n"})
    return any(lows <= pair for pair in pairs)


def _boolean_categorical(codes: np.ndarray, labels: list[str | None]) -> pd.Categorical:
    """Boolean-looking labels -> categories ['false', 'true'] (canonical, so prediction data aligns)."""
    canon: list[str | None] = []
    for lab in labels:
        word = None if lab is None else _bool_word(lab)
        canon.append(None if word is None else ("true" if word else "false"))
    return _from_codes(codes, canon, ["false", "true"])


# --------------------------------------------------------------------------------------------
# file access


def _display(path: Path | str) -> str:
    return str(path)


def _split_name(path: Path) -> tuple[str, str]:
    """(stem, extension) where the extension may be double, e.g. ('zoo', '.arff.gz')."""
    lower = path.name.lower()
    for ext in sorted(SUPPORTED_EXTENSIONS, key=len, reverse=True):
        if lower.endswith(ext) and len(lower) > len(ext):
            return path.name[: -len(ext)], ext
    return (path.stem or path.name), path.suffix.lower()


def _check_file(path: Path) -> str:
    """Validate that ``path`` is an existing regular file with a supported extension; return the extension."""
    shown = _display(path)
    if not path.exists():
        raise DataError(f"file not found: {shown}; check the path")
    if path.is_dir():
        raise DataError(f"{shown} is a directory; pass a data file inside it")
    _, ext = _split_name(path)
    if ext not in SUPPORTED_EXTENSIONS:
        raise DataError(
            f"{shown}: unsupported file type {ext or '(no extension)'!r}; "
            f"use one of {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    return ext


def _read_bytes(path: Path, limit: int | None = None) -> bytes:
    """Read (and gunzip when named .gz) up to ``limit`` bytes; OS problems become DataError."""
    shown = _display(path)
    try:
        with open(path, "rb") as raw:
            if path.name.lower().endswith(".gz"):
                with gzip.GzipFile(fileobj=raw) as unzipped:
                    return unzipped.read() if limit is None else unzipped.read(limit)
            return raw.read() if limit is None else raw.read(limit)
    except PermissionError:
        raise DataError(f"cannot read {shown}: permission denied; check the file's permissions") from None
    except (gzip.BadGzipFile, EOFError, zlib.error):
        raise DataError(f"{shown} is not a valid gzip file; decompress it or fix the file name") from None
    except OSError as exc:
        raise DataError(f"cannot read {shown}: {_one_line(exc.strerror or exc)}; check the file") from None


def _check_text(sample: bytes, shown: str) -> None:
    """Reject content that is clearly not text (NUL bytes or many control characters)."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    head = sample[:8192]
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13)) if head else 0
    if b"\x00" in head or (head and controls / len(head) > 0.05):
        raise DataError(
            f"{shown} is not a text table (it looks binary); pass a CSV, TSV, Parquet or ARFF file"
        )


def _text_encoding(sample: bytes, complete: bool) -> str:
    """Pick 'utf-16', 'utf-8-sig' or 'latin-1' from the first bytes of a file."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(sample, final=complete)
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "latin-1"


def _decode(data: bytes, shown: str, notes: list[str]) -> str:
    """Decode a whole text file: UTF-8 (with or without BOM), UTF-16 by BOM, else latin-1 with a note."""
    _check_text(data, shown)
    encoding = _text_encoding(data, complete=True)
    if encoding == "latin-1":
        notes.append(f"{shown} is not valid UTF-8; it was read as latin-1")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:  # e.g. a UTF-16 byte-order mark followed by an odd number of bytes
        raise DataError(f"{shown}: text cannot be decoded as {encoding}; save it as UTF-8") from None


# --------------------------------------------------------------------------------------------
# delimited text (CSV / TSV / TXT)

_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_THOUSANDS_DOT = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$")
_DECIMAL_DOT = re.compile(r"^[+-]?\d*\.\d+$")
_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _rows_with(lines: list[str], delimiter: str) -> list[list[str]]:
    """Split sample lines the way pandas will (quotes, spaces after the delimiter skipped)."""
    if delimiter == "ws":
        return [line.split() for line in lines]
    return list(csv.reader(lines, delimiter=delimiter, skipinitialspace=True))


def _matches(row: list[str], width: int) -> bool:
    """Row has ``width`` fields (one extra empty trailing field is tolerated)."""
    return len(row) == width or (len(row) == width + 1 and row[-1].strip() == "")


def _sniff(lines: list[str], ext: str) -> tuple[str, str, str | None]:
    """Guess (delimiter, decimal mark, thousands mark) from the first lines of a text table."""
    order = ["\t", ",", ";", "|"] if ext.startswith(".tsv") else [",", ";", "\t", "|"]
    best, best_score = ",", -1.0
    for delim in order + ["ws"]:
        rows = _rows_with(lines, delim)
        width = len(rows[0])
        if width < 2:
            continue
        score = sum(_matches(r, width) for r in rows) / len(rows)
        if delim == "ws":
            if score < 1.0:
                continue  # whitespace only for a perfectly regular layout
            score -= 0.5  # ... and only when no real delimiter fits
        if score > best_score:
            best, best_score = delim, score
    decimal, thousands = ".", None
    if best not in (",", "ws"):
        fields = [f.strip() for row in _rows_with(lines[1:], best) for f in row]
        commas = sum(bool(_DECIMAL_COMMA.match(f)) for f in fields)
        grouped = sum(bool(_THOUSANDS_DOT.match(f)) and "," in f for f in fields)
        dots = sum(bool(_DECIMAL_DOT.match(f)) for f in fields)
        if commas + grouped > dots:
            decimal = ","
            thousands = "." if grouped else None
    return best, decimal, thousands


def _sample_lines(sample: bytes, encoding: str, complete: bool) -> list[str]:
    """Non-blank lines from the first bytes of a file (the last, maybe cut, line is dropped)."""
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=complete)
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]
    return [ln for ln in lines if ln.strip()][:200]


def _looks_numeric(text: str) -> bool:
    try:
        float(text.replace(",", "."))
        return True
    except ValueError:
        return False


def _read_delimited(path: Path, ext: str, notes: list[str]) -> pd.DataFrame:
    """Read a delimited text file with a sniffed delimiter/decimal mark; errors become one-line DataErrors."""
    shown = _display(path)
    head = _read_bytes(path, _PEEK_BYTES + 1)
    complete = len(head) <= _PEEK_BYTES
    if not head.strip():
        raise DataError(f"{shown} is empty; pass a file with a header row and data rows")
    _check_text(head, shown)
    encoding = _text_encoding(head[:_PEEK_BYTES], complete)
    lines = _sample_lines(head[:_PEEK_BYTES], encoding, complete)
    if not lines:
        raise DataError(f"{shown} is empty; pass a file with a header row and data rows")
    sep, decimal, thousands = _sniff(lines, ext)
    rows = _rows_with(lines, sep)
    header = [h.strip() for h in rows[0]] if sep == "ws" else rows[0]
    kwargs: dict[str, Any] = {"header": 0}
    if len(header) >= 2 and all(_looks_numeric(h) for h in header):
        kwargs = {"header": None, "names": [f"x{i}" for i in range(len(header))]}
        notes.append(f"{shown} has no header row (the first row is all numbers); columns named x0..x{len(header) - 1}")
    else:
        seen: set[str] = set()
        dupes = sorted({h for h in header if h in seen or seen.add(h)})
        dupes = [d for d in dupes if d.strip()]
        if dupes:
            raise DataError(f"{shown}: duplicate column names {_listing(dupes)}; rename them so each is unique")
    if len(rows) > 1 and len(rows[1]) > len(header):
        if all(len(r) == len(header) + 1 and r[-1].strip() == "" for r in rows[1:]):
            kwargs["index_col"] = False  # every data row ends with a delimiter: ignore that empty field
        else:
            raise DataError(
                f"{shown}: line 2 has {len(rows[1])} fields but the header has {len(header)}; "
                "fix that row or check the delimiter"
            )
    if sep == "ws":
        kwargs["sep"] = r"\s+"
    else:
        kwargs.update(sep=sep, skipinitialspace=True)
    read_encoding = "utf-8" if encoding == "utf-8-sig" else encoding
    for attempt in (read_encoding, "latin-1"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame = pd.read_csv(
                    path, decimal=decimal, thousands=thousands, na_values=["?"], keep_default_na=True,
                    encoding=attempt, encoding_errors="strict", compression="infer", low_memory=False,
                    **kwargs,
                )
            break
        except UnicodeDecodeError:
            if attempt == "latin-1":
                raise DataError(f"{shown}: text cannot be decoded; save it as UTF-8") from None
            notes.append(f"{shown} is not valid UTF-8; it was read as latin-1")
        except pd.errors.EmptyDataError:
            raise DataError(f"{shown} is empty; pass a file with a header row and data rows") from None
        except pd.errors.ParserError as exc:
            raise _parser_error(shown, str(exc)) from None
        except PermissionError:
            raise DataError(f"cannot read {shown}: permission denied; check the file's permissions") from None
    if encoding == "latin-1" and not any("latin-1" in n for n in notes):
        notes.append(f"{shown} is not valid UTF-8; it was read as latin-1")
    if len(frame) == 0:
        raise DataError(f"{shown} has a header but no data rows; add rows below the header")
    if sep != ",":
        notes.append(
            f"{shown}: delimiter {'whitespace' if sep == 'ws' else repr(sep)}"
            + (", decimal comma" if decimal == "," else "")
        )
    # a trailing delimiter on every line (header too) yields an empty, unnamed, all-missing column
    empty = [c for c in frame.columns if str(c).startswith("Unnamed: ") and frame[c].isna().all()]
    if empty and not kwargs.get("names"):
        frame = frame.drop(columns=empty)
    return frame


def _parser_error(shown: str, message: str) -> DataError:
    """Turn a pandas tokenizer error into a one-line DataError with the line number."""
    found = _FIELDS_RE.search(message)
    if found:
        expected, line, saw = found.groups()
        return DataError(
            f"{shown}: line {line} has {saw} fields but the header has {expected}; "
            "fix that row or check the delimiter and quoting"
        )
    return DataError(f"{shown} is not a readable table ({_one_line(message, 80)}); check delimiter and quoting")


# --------------------------------------------------------------------------------------------
# Parquet


def _parquet_duplicate_names(path: Path) -> list[str]:
    """Column names occurring more than once in a Parquet file's schema ([] when unreadable)."""
    try:
        import pyarrow.parquet as pq

        names = list(pq.read_schema(path).names)
    except Exception:
        return []
    return sorted({n for n in names if names.count(n) > 1})


def _read_parquet(path: Path) -> pd.DataFrame:
    shown = _display(path)
    head = _read_bytes(path, 4)
    if not head:
        raise DataError(f"{shown} is empty; pass a Parquet file with data")
    try:
        frame = pd.read_parquet(path)
    except PermissionError:
        raise DataError(f"cannot read {shown}: permission denied; check the file's permissions") from None
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
        raise DataError(f"cannot read {shown}: {_one_line(exc)}; install pyarrow") from None
    except Exception as exc:  # pyarrow raises many types for corrupt files
        dupes = _parquet_duplicate_names(path)
        if dupes:  # Arrow allows duplicate names but pandas cannot read them
            raise DataError(f"{shown}: duplicate column names {_listing(dupes)}; rename them so each is unique"
                            ) from None
        raise DataError(f"{shown} is not a valid Parquet file ({_one_line(exc, 80)}); re-export it") from None
    if len(frame) == 0:
        raise DataError(f"{shown} has no data rows; pass a file with rows")
    return frame


# --------------------------------------------------------------------------------------------
# ARFF (tolerant: Weka range types, CRLF, trailing commas, space-separated rows, sparse rows)

_ARFF_NUMERIC = ("numeric", "real", "integer")


@dataclass
class _ArffAttribute:
    name: str
    kind: str  # "numeric" | "nominal" | "string" | "date"
    levels: list[str]
    line: int


def _quote_char(text: str) -> str:
    """The quote character a piece of ARFF uses to open values (' or ")."""
    single = len(re.findall(r"(?:^|,)\s*'", text, flags=re.M))
    double = len(re.findall(r'(?:^|,)\s*"', text, flags=re.M))
    return '"' if double > single else "'"


def _split_values(text: str) -> list[str]:
    """Split one comma-separated ARFF line; values may be quoted with ' or " (backslash escapes)."""
    values: list[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] in "'\"":
            quote, i, chars = text[i], i + 1, []
            while i < n and text[i] != quote:
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            value = "".join(chars)
            comma = text.find(",", i + 1)
        else:
            comma = text.find(",", i)
            value = (text[i:] if comma < 0 else text[i:comma]).strip()
        values.append(value)
        if comma < 0:
            return values
        i = comma + 1


def _parse_attribute(line: str, number: int, shown: str) -> _ArffAttribute:
    """Parse an ``@attribute name type`` line (quoted names, ranges, nominal lists)."""
    rest = line[len("@attribute"):].strip()
    if not rest:
        raise DataError(f"{shown}: line {number}: @attribute without a name; fix the header")
    if rest[0] in "'\"":
        quote = rest[0]
        end = 1
        while end < len(rest) and (rest[end] != quote or rest[end - 1] == "\\"):
            end += 1
        if end >= len(rest):
            raise DataError(f"{shown}: line {number}: unterminated quoted attribute name; fix the header")
        name = rest[1:end].replace("\\" + quote, quote)
        spec = rest[end + 1:].strip()
    else:
        found = re.match(r"([^\s{]+)\s*(.*)$", rest)
        if found is None:  # e.g. "@attribute {a,b}": the type where the name should be
            raise DataError(f"{shown}: line {number}: @attribute without a name; fix the header")
        name, spec = found.group(1), found.group(2).strip()
    lowered = spec.lower()
    if spec.startswith("{"):
        close = spec.rfind("}")
        if close < 0:
            raise DataError(f"{shown}: line {number}: nominal values of {name!r} lack a closing '}}'; fix the header")
        levels: list[str] = []
        for value in _split_values(spec[1:close]):
            if value and value not in levels:
                levels.append(value)
        return _ArffAttribute(name, "nominal", levels, number)
    if lowered.startswith(_ARFF_NUMERIC):
        return _ArffAttribute(name, "numeric", [], number)
    if lowered.startswith("string"):
        return _ArffAttribute(name, "string", [], number)
    if lowered.startswith("date"):
        return _ArffAttribute(name, "date", [], number)
    if lowered.startswith("relational"):
        raise DataError(f"{shown}: line {number}: relational attribute {name!r} is not supported; flatten the file")
    raise DataError(
        f"{shown}: line {number}: unknown type {_one_line(spec, 30)!r} for attribute {name!r}; "
        "use numeric, real, integer, string, date or {a,b,...}"
    )


def _arff_header(lines: list[str], shown: str) -> tuple[list[_ArffAttribute], int]:
    """Parse the header; return the attributes and the index of the first line after @data."""
    attributes: list[_ArffAttribute] = []
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line or line.startswith("%"):
            continue
        lowered = line.lower()
        if lowered.startswith("@relation") or lowered.startswith("@end"):
            continue
        if lowered.startswith("@attribute"):
            attributes.append(_parse_attribute(line, index + 1, shown))
            continue
        if lowered.startswith("@data"):
            if not attributes:
                raise DataError(f"{shown}: no @attribute lines before @data (line {index + 1}); is this an ARFF file?")
            names = [a.name for a in attributes]
            seen: set[str] = set()
            dupes = [n for n in names if n in seen or seen.add(n)]
            if dupes:
                raise DataError(f"{shown}: duplicate attribute names {_listing(sorted(set(dupes)))}; rename them")
            return attributes, index + 1
        raise DataError(
            f"{shown}: line {index + 1}: unexpected text in the ARFF header {_one_line(line, 40)!r}; "
            "fix or comment it out with %"
        )
    raise DataError(f"{shown}: no @data line found; is this an ARFF file?")


def _sparse_row(line: str, attributes: list[_ArffAttribute], number: int, shown: str) -> list[str]:
    """Expand a sparse row ``{0 x, 3 y}``; omitted values are 0 (numeric) or the first level (nominal)."""
    body = line.strip()[1:]
    body = body[: body.rfind("}")] if "}" in body else body
    row = ["0" if a.kind == "numeric" else (a.levels[0] if a.levels else "?") for a in attributes]
    for item in _split_values(body) if body.strip() else []:
        parts = item.split(None, 1)
        try:
            position = int(parts[0])
            if not 0 <= position < len(attributes):
                raise ValueError
        except (ValueError, IndexError):  # IndexError: an empty entry, as in "{0 1, , 2 3}"
            raise DataError(
                f"{shown}: line {number}: bad sparse entry {_one_line(item, 30)!r}; use 'index value'"
            ) from None
        value = parts[1].strip() if len(parts) > 1 else ""
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        row[position] = value
    return row


def _arff_rows(lines: list[str], start: int, attributes: list[_ArffAttribute], shown: str
               ) -> tuple[list[list[str]], list[int]]:
    """Tokenize the @data section; returns rows of raw strings and their 1-based file line numbers."""
    width = len(attributes)
    numbers: list[int] = []
    body: list[str] = []
    for index in range(start, len(lines)):
        line = lines[index].strip()
        if line and not line.startswith("%"):
            body.append(line)
            numbers.append(index + 1)
    if not body:
        raise DataError(f"{shown}: no data rows after @data; add rows or check the file")
    joined = "\n".join(body)
    quote = _quote_char(joined)
    other = '"' if quote == "'" else "'"
    mixed_quotes = re.search(rf"(?:^|,)\s*{other}", joined, flags=re.M) is not None
    if mixed_quotes or any(line.startswith("{") for line in body):
        rows = [
            _sparse_row(line, attributes, num, shown) if line.startswith("{") else _split_values(line)
            for line, num in zip(body, numbers)
        ]
    else:  # one quote style: the C csv reader is much faster than the tokenizer above
        reader = csv.reader(body, delimiter=",", quotechar=quote, skipinitialspace=True, escapechar="\\")
        rows = list(reader)
        if len(rows) != len(body):  # a quote left open swallowed following lines
            rows = [_split_values(line) for line in body]
    for i, row in enumerate(rows):
        if len(row) == width:
            continue
        if len(row) == width + 1 and (row[-1].strip() == "" or row[-1].strip().startswith("{")):
            rows[i] = row[:width]  # trailing comma, or a Weka instance weight {w}
            continue
        if len(row) == 1:
            try:
                spaced = shlex.split(body[i]) if ("'" in body[i] or '"' in body[i]) else body[i].split()
            except ValueError:  # an unbalanced quote: not a space-separated row either
                spaced = []
            if len(spaced) == width:
                rows[i] = spaced  # values separated by spaces instead of commas
                continue
        raise DataError(
            f"{shown}: line {numbers[i]} has {len(row)} values but {width} attributes are declared; "
            "fix or remove that row"
        )
    return rows, numbers


def _arff_numeric(values: tuple[str, ...], attribute: _ArffAttribute, numbers: list[int], shown: str) -> np.ndarray:
    """Convert one numeric ARFF column; a non-number raises DataError naming its line."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    texts = pd.Series(uniques, dtype=object).str.strip()
    missing = texts.isin(["?", ""])
    parsed = pd.to_numeric(texts.where(~missing, None), errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy() & ~missing.to_numpy())
    if bad.size:
        row = int(np.argmax(codes == bad[0]))
        raise DataError(
            f"{shown}: line {numbers[row]}: {_one_line(texts.iloc[bad[0]], 30)!r} is not a number "
            f"but attribute {attribute.name!r} is numeric; fix the value or use ? for missing"
        )
    converted = parsed.to_numpy(dtype=np.float64)
    return np.append(converted, np.nan)[codes]


def _arff_numeric_block(rows: list[list[str]], attributes: list[_ArffAttribute]) -> dict[int, np.ndarray] | None:
    """Convert all numeric columns in one vectorised step (wide files); None if any value is not a number."""
    positions = [i for i, a in enumerate(attributes) if a.kind == "numeric"]
    if not positions:
        return {}
    block = np.array(rows, dtype=object)[:, positions]
    block[(block == "?") | (block == "")] = "nan"
    try:
        values = block.astype(np.float64)
    except (ValueError, TypeError):
        return None  # the per-column path finds the offending line
    return {pos: np.ascontiguousarray(values[:, k]) for k, pos in enumerate(positions)}


def _arff_nominal(values: tuple[str, ...], attribute: _ArffAttribute, notes: list[str], shown: str
                  ) -> pd.Categorical:
    """Convert one nominal ARFF column to a Categorical in declared order ('?' means missing)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    labels: list[str | None] = []
    for value in uniques:
        text = str(value).strip()
        labels.append(None if text in ("?", "") else text)
    declared = [lvl for lvl in attribute.levels if lvl != "?"]
    extra = [lab for lab in dict.fromkeys(lab for lab in labels if lab is not None) if lab not in declared]
    if extra:
        notes.append(
            f"{shown}: attribute {attribute.name!r} has undeclared values {_listing(extra, 4)}; kept as extra levels"
        )
    return _from_codes(codes, labels, declared + extra)


def _read_arff(path: Path, notes: list[str]) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Parse an ARFF file (plain or gzipped) into a raw frame + declared nominal levels."""
    shown = _display(path)
    data = _read_bytes(path)
    if not data.strip():
        raise DataError(f"{shown} is empty; pass an ARFF file with a header and data")
    text = _decode(data, shown, notes)
    lines = text.splitlines()
    attributes, start = _arff_header(lines, shown)
    rows, numbers = _arff_rows(lines, start, attributes, shown)
    columns = list(zip(*rows))
    numeric_block = _arff_numeric_block(rows, attributes)
    frame: dict[str, Any] = {}
    declared: dict[str, list[str]] = {}
    question_levels: list[str] = []
    for position, (attribute, values) in enumerate(zip(attributes, columns)):
        if attribute.kind == "numeric":
            if numeric_block is not None:
                frame[attribute.name] = numeric_block[position]
            else:
                frame[attribute.name] = _arff_numeric(values, attribute, numbers, shown)
        elif attribute.kind == "nominal":
            frame[attribute.name] = _arff_nominal(values, attribute, notes, shown)
            declared[attribute.name] = [lvl for lvl in attribute.levels if lvl != "?"]
            if "?" in attribute.levels:
                question_levels.append(attribute.name)
        else:
            series = pd.Series(values, dtype=object).str.strip()
            series = series.where(~series.isin(["?", ""]), None)
            if attribute.kind == "date":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    series = pd.to_datetime(series, errors="coerce", format="mixed")
            frame[attribute.name] = series
    if question_levels:
        notes.append(f"{shown}: '?' read as missing although declared as a value of {_listing(question_levels, 4)}")
    return pd.DataFrame(frame), declared


# --------------------------------------------------------------------------------------------
# public: reading


def read_table(path: str | os.PathLike) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Read a file into a raw DataFrame + declared nominal categories per column (ARFF; {} otherwise).

    Supports CSV/TSV/TXT (delimiter and decimal mark sniffed; optionally gzipped), Parquet and ARFF
    (plain or .gz). Remarks such as an encoding fallback are stored in ``frame.attrs[NOTES_ATTR]``.
    """
    file = Path(path)
    ext = _check_file(file)
    notes: list[str] = []
    declared: dict[str, list[str]] = {}
    if ext in (".arff", ".arff.gz"):
        frame, declared = _read_arff(file, notes)
    elif ext in (".parquet", ".pq"):
        frame = _read_parquet(file)
    else:
        frame = _read_delimited(file, ext, notes)
    frame.attrs[NOTES_ATTR] = notes
    return frame, declared


# --------------------------------------------------------------------------------------------
# typing of features

_DATE_RE = re.compile(
    r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|\d{1,2}\s+[A-Za-z]{3,9}\.?,?\s+\d{2,4}|[A-Za-z]{3,9}\.?\s+\d{1,2},?\s+\d{2,4})"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([AaPp][Mm])?)?\s*(Z|[+-]\d{2}:?\d{2}|UTC)?$"
    r"|^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([AaPp][Mm])?$"
)


def _looks_datetime(labels: list[str]) -> bool:
    """Most of (a sample of) the distinct values are dates/times in a recognisable format."""
    sample = labels[:200]
    matching = [lab.strip() for lab in sample if _DATE_RE.match(lab.strip())]
    if not sample or len(matching) < 0.8 * len(sample):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(pd.Series(matching, dtype=object), errors="coerce", format="mixed")
    return bool(parsed.notna().sum() >= 0.8 * len(sample))


def _looks_free_text(labels: list[str], n_present: int) -> bool:
    """Mostly unique, long-ish strings that contain spaces (descriptions, comments, titles)."""
    if len(labels) < 5 or len(labels) < 0.5 * n_present:
        return False
    with_space = sum(1 for lab in labels if " " in lab.strip())
    median_length = float(np.median([len(lab) for lab in labels]))
    return with_space >= 0.5 * len(labels) and median_length >= 15


def _numeric_from_labels(codes: np.ndarray, labels: list[str | None]) -> np.ndarray | None:
    """Float values when every present label is a number, else None."""
    present = [lab for lab in labels if lab is not None]
    parsed = pd.to_numeric(pd.Series(present, dtype=object), errors="coerce")
    if len(present) and parsed.isna().any():
        return None
    values = np.full(len(labels) + 1, np.nan)
    values[[i for i, lab in enumerate(labels) if lab is not None]] = parsed.to_numpy(dtype=np.float64)
    return values[codes]


#: a numeric column may hold at most this many distinct junk strings ('-', 'error', ...) ...
_MAX_JUNK_VALUES = 5
#: ... in fewer than this share of its non-missing cells; those cells become missing
_MAX_JUNK_SHARE = 0.05


def _numeric_with_junk(codes: np.ndarray, labels: list[str | None]) -> tuple[np.ndarray, list[str], int] | None:
    """Float values of a numeric column that holds a few junk strings, with the junk and its rows.

    A column qualifies when at most ``_MAX_JUNK_VALUES`` distinct non-numbers occupy fewer than
    ``_MAX_JUNK_SHARE`` of its non-missing cells and at least two distinct numbers remain (a
    categorical column coded with a few numbers stays categorical). The junk cells become missing.
    Returns None otherwise (and when there is no junk: :func:`_numeric_from_labels` covers that).
    """
    present = [i for i, lab in enumerate(labels) if lab is not None]
    if not present:
        return None
    parsed = pd.to_numeric(pd.Series([labels[i] for i in present], dtype=object), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan)
    bad = [i for i, value in zip(present, parsed) if np.isnan(value)]
    if not bad or len(bad) > _MAX_JUNK_VALUES or len(np.unique(parsed[~np.isnan(parsed)])) < 2:
        return None
    counts = np.bincount(codes[codes >= 0], minlength=len(labels))
    n_junk = int(counts[bad].sum())
    if n_junk >= _MAX_JUNK_SHARE * int(counts.sum()):
        return None
    values = np.full(len(labels) + 1, np.nan)
    values[present] = parsed
    return values[codes], [str(labels[i]) for i in bad], n_junk


def _object_labels(series: pd.Series) -> tuple[np.ndarray, list[str | None], bool]:
    """Factorize a column of arbitrary objects into codes + string labels (markers -> None).

    The flag is False when some values are not scalars (lists, dicts, ...).
    """
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable values such as lists or dicts
        return np.full(len(series), -1, dtype=np.int64), [], False
    labels: list[str | None] = []
    scalar = True
    for value in uniques:
        if isinstance(value, (list, dict, set, tuple, bytes, np.ndarray)):
            scalar = False
        if _is_missing_text(value):
            labels.append(None)
        else:
            labels.append(value.strip() if isinstance(value, str) else _label(value))
    return np.asarray(codes), labels, scalar


def _type_feature(series: pd.Series, junk: list | None = None) -> tuple[str | None, Any, str | None]:
    """Classify one feature column: (type, converted values, drop reason); type None when dropped.

    A text column of numbers with a few junk strings (:func:`_numeric_with_junk`) is numeric, the
    junk cells missing; ``(junk strings, rows)`` is then appended to ``junk`` when given.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        # declared categories (ARFF nominals, pandas categoricals) keep their declared levels, so that
        # level-based meta-features agree with OpenML's; only undeclared text becomes "boolean"
        codes, labels, levels = _category_labels(series)
        return "categorical", _from_codes(codes, labels, levels), None
    if pd.api.types.is_bool_dtype(dtype):
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        return "boolean", _boolean_categorical(np.asarray(codes), [str(bool(u)) for u in uniques]), None
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        return None, None, "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "numeric", series.dt.total_seconds().to_numpy(dtype=np.float64), None
    if pd.api.types.is_complex_dtype(dtype):
        return None, None, "complex numbers"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric", series.to_numpy(dtype=np.float64, na_value=np.nan), None
    codes, labels, scalar = _object_labels(series)
    if not scalar:
        return None, None, "unsupported values"
    present = [lab for lab in labels if lab is not None]
    if not present:
        return "numeric", np.full(len(series), np.nan), None
    if _looks_boolean(present):
        return "boolean", _boolean_categorical(codes, labels), None
    numeric = _numeric_from_labels(codes, labels)
    if numeric is not None:
        return "numeric", numeric, None
    tolerant = _numeric_with_junk(codes, labels)
    if tolerant is not None:
        if junk is not None:
            junk.append(tolerant[1:])
        return "numeric", tolerant[0], None
    if _looks_datetime(present):
        return None, None, "datetime"
    if _looks_free_text(present, int((codes >= 0).sum())):
        return None, None, "free text"
    return "categorical", _from_codes(codes, labels), None


def _is_constant(values: Any) -> tuple[bool, bool]:
    """(all missing, constant) for a converted column."""
    if isinstance(values, pd.Categorical):
        codes = values.codes
        present = codes[codes >= 0]
        if present.size == 0:
            return True, False
        return False, bool((present == present[0]).all())
    array = np.asarray(values, dtype=np.float64)
    finite = array[~np.isnan(array)]
    if finite.size == 0:
        return True, False
    return False, bool(finite.min() == finite.max())


def _plain_numeric(dtype: Any) -> bool:
    """A numpy int/uint/float dtype (converted in one block, without per-column inspection)."""
    return isinstance(dtype, np.dtype) and dtype.kind in "iuf"


#: fewer rows than this never make a column ID-like (small tables are unique by chance)
_MIN_ID_ROWS = 20
_ID_NAME_RE = re.compile(
    r"(?:^|[^a-z0-9])(?:id|uuid|guid)$"
    r"|^(?:|index|idx|rownames?|rowid|obs|row[ _.-]?(?:id|no|nr|num|number|index)|unnamed: ?\d+)$"
)
_TIME_NAME_RE = re.compile(r"time|year|date|day|month|week|hour|minute|second|period|step|epoch|^t$")
_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.:/#{}]*$")


def _looks_id_name(name: str) -> bool:
    """'id', 'customer_id', 'CustomerID', 'userId', 'uuid', 'index', 'rownames', 'Unnamed: 0', ''."""
    text = str(name).strip()
    return bool(_ID_NAME_RE.search(text.lower()) or re.search(r"[a-z](?:Id|ID)$", text))


def _id_reason(name: str, values: Any, first: bool = False) -> str | None:
    """Why a typed feature column is an identifier rather than a feature, or None.

    Conservative, on at least ``_MIN_ID_ROWS`` rows without missing values:

    * integers, all distinct, in a column named like an ID (``id``, ``customer_id``,
      ``CustomerID``, ``uuid``, ``index``, ``rownames``, ``Unnamed: 0``, an empty name);
    * row numbers in the ``first`` column (where exported row numbers sit) under any name but a
      time-like one (``year``, ``day``, ``t``, ...): integers strictly increasing from 0 or 1 in
      row order, below twice the row count (gaps allowed, e.g. rows dropped for a missing target);
    * text or categories, all distinct: named like an ID, or codes without spaces that contain a
      digit (UUIDs, ``C-00017``); distinct words such as names are kept.

    Float measurements that happen to be unique (non-integer values) are never IDs, nor are
    distinct integers under other names (counts, amounts) when not in row order.
    """
    n = len(values)
    if n < _MIN_ID_ROWS:
        return None
    named = _looks_id_name(name)
    if isinstance(values, pd.Categorical):
        codes = np.asarray(values.codes)
        if (codes < 0).any() or len(np.unique(codes)) != n:
            return None
        if named:
            return "ID-like: a distinct value per row"
        used = [str(values.categories[c]) for c in np.unique(codes)]
        if all(_CODE_RE.match(lab) and any(ch.isdigit() for ch in lab) for lab in used):
            return "ID-like: a distinct code per row"
        return None
    array = np.asarray(values, dtype=np.float64)
    if np.isnan(array).any() or not np.all(array == np.round(array)):
        return None
    if named and len(np.unique(array)) == n:
        return "ID-like: a distinct integer per row"
    if (first and array[0] in (0.0, 1.0) and np.all(np.diff(array) >= 1) and array[-1] < 2 * n
            and not _TIME_NAME_RE.search(str(name).strip().lower())):
        return "ID-like: row numbers"
    return None


def _without_inf(values: np.ndarray) -> tuple[np.ndarray, int]:
    """A copy with +-inf as NaN (missing), and how many cells that changed."""
    array = np.asarray(values, dtype=np.float64)
    infinite = np.isinf(array)
    n_inf = int(infinite.sum())
    return (np.where(infinite, np.nan, array) if n_inf else array), n_inf


def _build_features(frame: pd.DataFrame, detect_ids: bool = True
                    ) -> tuple[pd.DataFrame, dict[str, str], dict[str, str], list[str]]:
    """Type every feature column; returns X, column types, dropped columns, notes.

    Data hygiene, each with one note: +-inf in numeric columns becomes missing; a numeric text
    column with a few junk strings ('-', 'error') becomes numeric with those cells missing
    (:func:`_numeric_with_junk`); with ``detect_ids`` (training data, not prediction data) ID-like
    columns (:func:`_id_reason`) are dropped like other unusable columns.
    """
    index = pd.RangeIndex(len(frame))
    plain = [_plain_numeric(dtype) for dtype in frame.dtypes]
    numeric_names = [name for name, flag in zip(frame.columns, plain) if flag]
    block = frame.iloc[:, [i for i, flag in enumerate(plain) if flag]].to_numpy(dtype=np.float64)
    infinite: dict[str, int] = {}
    if block.size:
        inf_cells = np.isinf(block)
        if inf_cells.any():
            infinite.update({n: int(k) for n, k in zip(numeric_names, inf_cells.sum(axis=0)) if k})
            block = np.where(inf_cells, np.nan, block)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        if len(frame):
            low, high = np.nanmin(block, axis=0), np.nanmax(block, axis=0)
        else:
            low = high = np.full(block.shape[1], np.nan)
    empty_flags = dict(zip(numeric_names, np.isnan(low)))
    constant_flags = dict(zip(numeric_names, low == high))
    others: dict[str, Any] = {}
    types: dict[str, str] = {}
    dropped: dict[str, str] = {}
    all_missing: list[str] = []
    constant: list[str] = []
    junk_found: dict[str, tuple[list[str], int]] = {}
    ids: dict[str, str] = {}
    # only integer-valued block columns without missing values can be IDs (cheap on wide tables)
    id_candidates: set[str] = set()
    block_position = {n: i for i, n in enumerate(numeric_names)}
    if detect_ids and len(frame) >= _MIN_ID_ROWS and block.size:
        with np.errstate(invalid="ignore"):
            whole = ~np.isnan(block).any(axis=0) & np.all(block == np.round(block), axis=0)
        id_candidates = {n for n, ok in zip(numeric_names, whole) if ok}
    for position, (name, flag) in enumerate(zip(frame.columns, plain)):
        if flag:
            types[name] = "numeric"
            empty, const = bool(empty_flags[name]), bool(constant_flags[name])
            if name in id_candidates:
                reason = _id_reason(name, block[:, block_position[name]], first=position == 0)
                if reason:
                    ids[name] = reason
        else:
            junk: list = []
            kind, values, reason = _type_feature(frame.iloc[:, position], junk)
            if kind is None:
                dropped[name] = str(reason)
                continue
            if kind == "numeric":
                values, n_inf = _without_inf(values)
                if n_inf:
                    infinite[name] = n_inf
            if junk:
                junk_found[name] = junk[0]
            types[name] = kind
            others[name] = values
            empty, const = _is_constant(values)
            reason = _id_reason(name, values, first=position == 0) if detect_ids else None
            if reason:
                ids[name] = reason
        if empty:
            all_missing.append(name)
        elif const:
            constant.append(name)
    X = pd.DataFrame(block, columns=pd.Index(numeric_names, dtype=object), index=index)
    if others:
        X = pd.concat([X, pd.DataFrame(others, index=index)], axis=1)[list(types)]
    notes: list[str] = []
    if ids and len(ids) == len(types):  # nothing else to learn from: keep them, but say so
        notes.append(f"ID-like columns kept because they are the only features: {_listing(list(ids))}")
    elif ids:
        X = X.drop(columns=list(ids))
        for name, reason in ids.items():
            del types[name]
            dropped[name] = reason
    if infinite:
        cells = [f"{n!r} ({infinite[n]} cell{'' if infinite[n] == 1 else 's'})" for n in frame.columns if n in infinite]
        more = len(cells) - _MAX_LISTED
        notes.append(f"infinite values treated as missing in {sum(infinite.values())} cell(s): "
                     + ", ".join(cells[:_MAX_LISTED]) + (f", ... ({more} more)" if more > 0 else ""))
    if junk_found:
        shown = [f"{n!r} ({_listing(values, 4)} in {rows} row{'' if rows == 1 else 's'})"
                 for n, (values, rows) in junk_found.items()]
        more = len(shown) - _MAX_LISTED
        notes.append("numeric columns with a few non-numbers, read as numbers with those cells missing: "
                     + ", ".join(shown[:_MAX_LISTED]) + (f", ... ({more} more)" if more > 0 else ""))
    if all_missing:
        notes.append(f"all-missing columns (kept): {_listing(all_missing)}")
    if constant:
        notes.append(f"constant columns (kept): {_listing(constant)}")
    if dropped:
        described = [f"{n!r} ({r})" for n, r in dropped.items()]
        more = len(described) - _MAX_LISTED
        suffix = f", ... ({more} more)" if more > 0 else ""
        notes.append("dropped columns: " + ", ".join(described[:_MAX_LISTED]) + suffix)
    return X, types, dropped, notes


def _warn_dropped(dropped: dict[str, str]) -> None:
    """One warning summarising the columns that were removed."""
    if dropped:
        described = ", ".join(f"{n!r} ({r})" for n, r in list(dropped.items())[:_MAX_LISTED])
        more = len(dropped) - _MAX_LISTED
        warnings.warn(
            f"autometa dropped {len(dropped)} column(s) that cannot be used as features: {described}"
            + (f", ... ({more} more)" if more > 0 else ""),
            UserWarning,
            stacklevel=4,
        )


# --------------------------------------------------------------------------------------------
# target and task


def _validate_task(task: str | None) -> str | None:
    """None, one of TASKS, or 'classification'; anything else is a ConfigError."""
    if task is None:
        return None
    if not isinstance(task, str) or task.strip().lower() not in TASKS + ("classification",):
        raise ConfigError(f"unknown task {task!r}; use one of {', '.join(TASKS)} or 'classification'")
    return task.strip().lower()


def _target_values(y: pd.Series) -> tuple[str, Any]:
    """('labels', Categorical) for a non-numeric target, ('numeric', float array) otherwise."""
    dtype = y.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes, labels, levels = _category_labels(y)
        return "labels", _from_codes(codes, labels, levels)
    if pd.api.types.is_bool_dtype(dtype):
        codes, uniques = pd.factorize(y, use_na_sentinel=True)
        return "labels", _from_codes(np.asarray(codes), [str(bool(u)) for u in uniques])
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "numeric", y.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise DataError(f"target {y.name!r} holds dates/times; pick a numeric or categorical target")
    codes, labels, scalar = _object_labels(y)
    if not scalar:
        raise DataError(f"target {y.name!r} holds lists or objects; pick a numeric or categorical target")
    numeric = _numeric_from_labels(codes, labels)
    if numeric is not None and any(lab is not None for lab in labels):
        return "numeric", numeric
    return "labels", _from_codes(codes, labels)


def _class_count_check(classes: list[str], n_present: int, name: Any) -> None:
    if n_present == 0:
        raise DataError(f"target {name!r} is missing in every row; pick another target column")
    if len(classes) == 1:
        raise DataError(
            f"the target {name!r} has one class {classes[0]!r}; a classifier needs at least two"
        )


def _numeric_is_classlike(values: np.ndarray) -> bool:
    """Integer-valued with at most 10 distinct values, or exactly 2 distinct values."""
    distinct = np.unique(values[~np.isnan(values)])
    integer = bool(np.all(np.isfinite(distinct)) and np.all(distinct == np.round(distinct)))
    return (integer and distinct.size <= 10) or distinct.size == 2


def infer_task(y: pd.Series, task: str | None = None) -> str:
    """Decide binary / multiclass / regression for a target column, honouring a requested ``task``.

    Non-numeric (and declared categorical) targets are classification; numeric targets are
    classification when integer-valued with at most 10 distinct values or with exactly 2 distinct
    values, else regression. ``task='classification'`` resolves to binary or multiclass.
    """
    wanted = _validate_task(task)
    series = y if isinstance(y, pd.Series) else pd.Series(y)
    kind, values = _target_values(series)
    if kind == "labels":
        present = values.codes[values.codes >= 0]
        classes = [str(values.categories[i]) for i in np.unique(present)]
        if wanted == "regression":
            example = classes[0] if classes else ""
            raise DataError(
                f"task 'regression' needs a numeric target but {series.name!r} holds labels such as "
                f"{example!r}; use task='classification' or pick a numeric target"
            )
    else:
        present_values = values[~np.isnan(values)]
        if present_values.size == 0:
            raise DataError(f"target {series.name!r} is missing in every row; pick another target column")
        if wanted == "regression":
            return "regression"
        if wanted is None and not _numeric_is_classlike(values):
            return "regression"
        classes = [_num_label(v) for v in np.unique(present_values)]
        present = present_values
    _class_count_check(classes, int(np.size(present)), series.name)
    n_classes = len(classes)
    if wanted == "binary" and n_classes != 2:
        raise DataError(
            f"task 'binary' but target {series.name!r} has {n_classes} classes; use task='multiclass'"
        )
    if wanted == "multiclass":
        return "multiclass"
    return "binary" if n_classes == 2 else "multiclass"


def _build_target(y: pd.Series, task: str | None) -> tuple[pd.Series, str, np.ndarray, list[str]]:
    """Typed target, task, mask of kept rows (target present) and notes."""
    notes: list[str] = []
    kind, values = _target_values(y)
    keep = (values.codes >= 0) if kind == "labels" else ~np.isnan(values)
    n_missing = int((~keep).sum())
    if not keep.any():
        raise DataError(f"target {y.name!r} is missing in every row; pick another target column")
    if n_missing:
        notes.append(f"dropped {n_missing} row(s) whose target is missing")
    resolved = infer_task(pd.Series(values, name=y.name), task)
    if resolved == "regression":
        return pd.Series(values[keep], name=y.name, dtype=np.float64), resolved, keep, notes
    if kind == "numeric":
        present = values[keep]
        codes, uniques = pd.factorize(present)
        labels: list[str | None] = [_num_label(u) for u in uniques]
        categorical = _from_codes(np.asarray(codes), labels)
        if task is None:
            notes.append(
                f"task {resolved}: numeric target with {len(categorical.categories)} distinct values; "
                "pass task='regression' to treat it as a quantity"
            )
    else:
        categorical = values[keep]
        counts = np.bincount(categorical.codes, minlength=len(categorical.categories))
        unused = [str(c) for c in categorical.categories[counts == 0]]
        if unused:
            categorical = categorical.remove_unused_categories()
            notes.append(f"target classes without rows removed: {_listing(unused)}")
    return pd.Series(categorical, name=y.name), resolved, keep, notes


def _resolve_target(columns: list[str], target: str | None) -> tuple[str, str]:
    """Find the target column; returns (name, note)."""
    if target is None:
        return columns[-1], f"target: {columns[-1]!r} (the last column)"
    if target in columns:
        return target, f"target: {target!r}"
    folded = [c for c in columns if c.strip().lower() == str(target).strip().lower()]
    if len(folded) == 1:
        return folded[0], f"target: {folded[0]!r} (matched {target!r} ignoring case)"
    if len(folded) > 1:
        raise DataError(
            f"target {target!r} matches several columns ignoring case ({_listing(folded)}); give the exact name"
        )
    raise DataError(f"unknown target column {target!r}; available columns: {_listing(columns, 12)}")


# --------------------------------------------------------------------------------------------
# public: building datasets


def _string_columns(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Column names as strings; duplicates raise DataError naming them."""
    names = [str(c) for c in frame.columns]
    seen: set[str] = set()
    dupes = sorted({n for n in names if n in seen or seen.add(n)})
    if dupes:
        raise DataError(f"{origin}: duplicate column names {_listing(dupes)}; rename them so each is unique")
    if list(frame.columns) != names:
        frame = frame.set_axis(names, axis=1)
    return frame


def _assemble(raw: pd.DataFrame, target: str | None, task: str | None, name: str,
              notes: list[str], origin: str, drop_ids: bool = True) -> Dataset:
    """Shared path of load_data: checks, target, row filtering, feature typing."""
    raw = _string_columns(raw, origin)
    if raw.shape[1] < 2:
        raise DataError(
            f"{origin} has {raw.shape[1]} column(s); need at least one feature and a target "
            "(for text files check the delimiter: , ; tab or |)"
        )
    if len(raw) == 0:
        raise DataError(f"{origin} has no data rows; pass a table with rows")
    target_name, note = _resolve_target(list(raw.columns), target)
    notes.append(note)
    y, resolved, keep, target_notes = _build_target(raw[target_name], task)
    notes.extend(target_notes)
    features = raw.drop(columns=[target_name])
    if not keep.all():
        features = features.loc[keep]
    X, types, dropped, feature_notes = _build_features(features.reset_index(drop=True), detect_ids=drop_ids)
    notes.extend(feature_notes)
    if not types:
        raise DataError(
            f"{origin}: no usable feature columns remain (dropped: {_listing(list(dropped))}); "
            "add numeric or categorical features"
        )
    _warn_dropped(dropped)
    return Dataset(X=X, y=y.reset_index(drop=True), task=resolved, target=target_name, name=name,
                   column_types=types, dropped=dropped, notes=notes)


def load_data(source: str | os.PathLike | pd.DataFrame, target: str | None = None,
              task: str | None = None, name: str | None = None, drop_ids: bool = True) -> Dataset:
    """Load a table and type it for modelling.

    ``source`` is a path (CSV/TSV/TXT/Parquet/ARFF/.arff.gz, also .csv.gz) or a pandas DataFrame
    with the target column inside. ``target`` defaults to the last column; ``task`` overrides the
    inferred task. Rows with a missing target are dropped (noted).

    Data hygiene, each noted in ``notes``: +-inf in numeric features is read as missing; a
    numeric column with a few junk strings ('-', 'error') is read as numbers with those cells
    missing; ID-like columns (``id``, ``customer_id``, row numbers, UUIDs; see :func:`_id_reason`)
    are dropped unless ``drop_ids=False``.
    """
    if isinstance(source, pd.DataFrame):
        return _assemble(source, target, task, name or "data", [], "the data frame", drop_ids)
    if isinstance(source, (str, os.PathLike)):
        frame, _ = read_table(source)
        path = Path(source)
        notes = list(frame.attrs.get(NOTES_ATTR, []))
        return _assemble(frame, target, task, name or _split_name(path)[0], notes, _display(path), drop_ids)
    raise DataError(f"cannot load a {type(source).__name__}; pass a file path or a pandas DataFrame")


def _as_frame(X: Any, names: list[str] | None = None) -> pd.DataFrame:
    """A DataFrame from a DataFrame or a 2-D array (columns x0, x1, ... unless ``names`` fit)."""
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, pd.Series):
        return X.to_frame()
    array = np.asarray(X)
    if array.ndim == 1 and array.size == 0:
        array = array.reshape(0, len(names) if names else 0)
    if array.ndim != 2:
        raise DataError(f"X must be 2-D (rows x columns) but has {array.ndim} dimension(s); reshape it")
    if names is not None and len(names) == array.shape[1]:
        columns = list(names)
    else:
        columns = [f"x{i}" for i in range(array.shape[1])]
    return pd.DataFrame(array, columns=columns)


def from_xy(X: Any, y: Any = None, task: str | None = None, name: str = "data",
            drop_ids: bool = True) -> Dataset:
    """Build a Dataset from features ``X`` (DataFrame or 2-D array) and target ``y``.

    The typing rules are those of :func:`load_data` (``drop_ids`` too). With ``y=None``
    (prediction time) ``y`` is an empty Series and ``task`` must be given as binary, multiclass
    or regression; no column is then dropped as ID-like (that is decided on training data).
    """
    features = _string_columns(_as_frame(X), "X")
    if features.shape[1] == 0:
        raise DataError("X has no columns; pass at least one feature column")
    if y is None:
        wanted = _validate_task(task)
        if wanted is None or wanted == "classification":
            raise ConfigError("from_xy without y needs task='binary', 'multiclass' or 'regression'")
        X_typed, types, dropped, notes = _build_features(features.reset_index(drop=True), detect_ids=False)
        _warn_dropped(dropped)
        empty = pd.Series([], dtype=np.float64 if wanted == "regression" else "category", name="target")
        return Dataset(X=X_typed, y=empty, task=wanted, target="target", name=name,
                       column_types=types, dropped=dropped, notes=notes)
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise DataError(f"y has {y.shape[1]} columns; pass a single target column")
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        target = y.reset_index(drop=True)
    else:
        array = np.asarray(y, dtype=object) if isinstance(y, list) else np.asarray(y)
        if array.ndim == 2 and 1 in array.shape:
            array = array.ravel()
        if array.ndim != 1:
            raise DataError(f"y must be 1-D but has shape {array.shape}; pass one target value per row")
        target = pd.Series(array)
        if array.dtype == object:
            target = target.infer_objects()
    target_name = str(target.name) if target.name is not None and str(target.name) not in features.columns else "target"
    if target_name in features.columns:
        target_name = "__target__"
    target = target.rename(target_name)
    if len(target) != len(features):
        raise DataError(f"X has {len(features)} rows but y has {len(target)}; pass one target value per row of X")
    raw = features.reset_index(drop=True)
    raw[target_name] = target  # both have a RangeIndex; assigning the Series keeps its dtype
    return _assemble(raw, target_name, task, name, [], "X", drop_ids)


# --------------------------------------------------------------------------------------------
# public: checks for later stages


def check_stratifiable(y: Any, n_splits: int, classification: bool | None = None) -> tuple[int, list[Any]]:
    """Plan stratified ``n_splits``-fold splitting of a class target: ``(folds, rare_classes)``.

    This is the one stratification policy; :func:`autometa.evaluate.make_splits` applies it.

    * A class with at least ``folds`` rows is stratified over the folds as usual.
    * A class with fewer rows than ``folds`` ("rare", e.g. 1-4 rows in medical or survey data)
      is kept: its rows go into the training part of every fold and are never validated, so
      every fold's model learns every class and no fold is scored on a class it could not
      learn. A class with a single row can only ever be in training.
    * ``folds`` is ``n_splits``, lowered (never below 2) only as far as needed for at least
      two classes to be validated: a validation fold holding one class has no ROC AUC, and a
      binary target's minority class must be validated (3 minority rows give 3 folds).

    ``rare_classes`` is ordered by size, then label. Raises DataError when fewer than two
    classes have 2 rows or more (no class could be validated against another), ConfigError for
    an ``n_splits`` below 2. With ``classification=None`` a float (regression) target is not
    checked and gives ``(n_splits, [])``; pass ``classification=True`` for float class labels.
    """
    if not isinstance(n_splits, (int, np.integer)) or isinstance(n_splits, bool) or n_splits < 2:
        raise ConfigError(f"n_splits must be an integer of at least 2, got {n_splits!r}")
    series = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y, dtype=object) if isinstance(y, list)
                                                          else np.asarray(y))
    if classification is None:
        classification = not pd.api.types.is_float_dtype(series.dtype)
    if not classification:
        return int(n_splits), []
    counts = series.value_counts(dropna=True)
    sizes = sorted(((label, int(rows)) for label, rows in counts.items() if rows > 0),
                   key=lambda item: (item[1], _label(item[0])))
    if len(sizes) < 2:
        shown = f"one class {_label(sizes[0][0])!r}" if sizes else "no class labels"
        raise DataError(f"the target has {shown}; a classifier needs at least two classes")
    folds = int(n_splits)
    while folds > 2 and sum(1 for _, rows in sizes if rows >= folds) < 2:
        folds -= 1
    if sum(1 for _, rows in sizes if rows >= folds) < 2:
        label, rows = sizes[0]  # a class of 1 row: at most one class has 2 rows or more
        raise DataError(
            f"class {_label(label)!r} has {rows} row(s) and fewer than two classes have the 2 rows a "
            "stratified split needs, so no class could be validated against another; add rows of "
            "the small classes, merge them, or drop them"
        )
    return folds, [label for label, rows in sizes if rows < folds]


def describe_rare_classes(y: Any, rare: list[Any], folds: int, n_splits: int,
                          what: str = "cross-validation folds") -> str:
    """One line naming the rare classes of :func:`check_stratifiable` (with row counts) and what
    was done with them; "" when there is nothing to say."""
    series = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y))
    counts = series.value_counts(dropna=True)

    def shown(labels: list[Any]) -> str:
        text = []
        for label in labels[:_MAX_LISTED]:
            rows = int(counts.get(label, 0))
            text.append(f"{_label(label)!r} ({rows} row{'' if rows == 1 else 's'})")
        more = len(labels) - _MAX_LISTED
        return ", ".join(text) + (f", ... ({more} more)" if more > 0 else "")

    parts = []
    if folds != n_splits:
        small = [c for c, rows in sorted(counts.items(), key=lambda item: (item[1], _label(item[0])))
                 if folds <= rows < n_splits]
        parts.append(f"class(es) {shown(small)} have fewer rows than the {n_splits} {what}: using {folds} "
                     "instead, so that at least two classes are validated")
    if rare:
        parts.append(f"{len(rare)} class(es) have fewer rows than the {folds} {what}: {shown(rare)}; "
                     "their rows are kept in the training part of every fold and never validated")
    return "; ".join(parts)

def _align_numeric(series: pd.Series, name: str, notes: list[str]) -> np.ndarray:
    junk: list = []
    kind, values, _ = _type_feature(series, junk)
    if kind == "numeric":
        if junk:
            notes.append(f"column {name!r}: {junk[0][1]} value(s) that are not numbers were read as missing")
        return np.asarray(values, dtype=np.float64)
    if isinstance(values, pd.Categorical) and kind == "boolean":
        codes = values.codes.astype(np.float64)
        return np.where(codes < 0, np.nan, codes)
    text = series.astype(object).where(series.notna(), None)
    text = text.map(lambda v: None if v is None or _is_missing_text(v) else v)
    parsed = pd.to_numeric(text, errors="coerce")
    bad = int((parsed.isna() & text.notna()).sum())
    if bad:
        notes.append(f"column {name!r}: {bad} value(s) that are not numbers were read as missing")
    return parsed.to_numpy(dtype=np.float64)


def _align_categorical(series: pd.Series, boolean: bool) -> pd.Categorical:
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes, labels, _ = _category_labels(series)
    else:
        codes, labels, _ = _object_labels(series)
    if boolean:
        words = [None if lab is None else _bool_word(lab) for lab in labels]
        canon = [lab if w is None else ("true" if w else "false") for lab, w in zip(labels, words)]
        levels = ["false", "true"] + _sorted_levels({c for c in canon if c not in (None, "false", "true")})
        return _from_codes(codes, canon, levels)
    return _from_codes(codes, labels)


def align_features(X: pd.DataFrame, column_types: dict[str, str],
                   categories: dict[str, list[str]] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """For prediction: coerce new data to the training columns, types and order.

    Categoricals become ``category`` (unseen levels allowed), numerics float64 (+-inf read as
    missing, like at training time); a missing training column raises DataError naming it;
    columns dropped at training time (ID-like, free text, ...) are not in ``column_types`` and
    so not needed. Returns the aligned frame (input index kept) and notes, e.g. which extra
    columns were ignored. With ``categories`` (the training levels per column,
    :attr:`Dataset.categories`) one note lists the columns holding categories not seen in
    training and in how many rows.
    """
    names = [str(c) for c in column_types]
    frame = _string_columns(_as_frame(X, names), "prediction data")
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise DataError(
            f"prediction data lacks column(s) used in training: {_listing(missing)}; "
            "add them (values may be missing)"
        )
    notes: list[str] = []
    extra = [c for c in frame.columns if c not in column_types]
    if extra:
        notes.append(f"ignored columns not used in training: {_listing(extra)}")
    aligned: dict[str, Any] = {}
    infinite: list[str] = []
    unseen: list[str] = []
    for name in names:
        kind = column_types[name]
        series = frame[name]
        if kind == "numeric":
            aligned[name], n_inf = _without_inf(_align_numeric(series, name, notes))
            if n_inf:  # as in training: no model takes them, missing values it does
                infinite.append(f"{name!r} ({n_inf} cell{'' if n_inf == 1 else 's'})")
        elif kind in ("categorical", "boolean"):
            values = _align_categorical(series, kind == "boolean")
            aligned[name] = values
            known = None if categories is None else categories.get(name)
            if known is not None:
                new = ~pd.Index(values.categories).isin([str(c) for c in known])
                rows = np.isin(values.codes, np.flatnonzero(new))
                if rows.any():
                    levels = [str(values.categories[i]) for i in np.unique(values.codes[rows])]
                    unseen.append(f"{name!r} ({_listing(levels, 4)} in {int(rows.sum())} "
                                  f"row{'' if rows.sum() == 1 else 's'})")
        else:
            raise ConfigError(f"unknown column type {kind!r} for {name!r}; use numeric, categorical or boolean")
    if infinite:
        more = len(infinite) - _MAX_LISTED
        notes.append("infinite values treated as missing: " + ", ".join(infinite[:_MAX_LISTED])
                     + (f", ... ({more} more)" if more > 0 else ""))
    if unseen:
        more = len(unseen) - _MAX_LISTED
        notes.append("categories not seen in training (the model treats them as unknown): "
                     + ", ".join(unseen[:_MAX_LISTED]) + (f", ... ({more} more)" if more > 0 else ""))
    return pd.DataFrame(aligned, index=frame.index), notes

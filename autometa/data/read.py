"""Reading files into a raw table: CSV/TSV/TXT (delimiter, decimal mark and header sniffed,
encoding detected), Parquet and ARFF (parsed by :mod:`autometa.data.arff`), each optionally
gzipped. :func:`read_table` is the entry point; every problem a user can fix is a one-line
:class:`~autometa.errors.DataError` naming the file.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import os
import re
import warnings
import zlib
from pathlib import Path
from typing import Any

import pandas as pd

from autometa.data.arff import parse_arff
from autometa.data.labels import _duplicate_names_error, _duplicates, _one_line
from autometa.errors import DataError

SUPPORTED_EXTENSIONS = (
    ".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".parquet", ".pq", ".arff", ".arff.gz",
)
# read_table() puts its remarks (encoding fallback, header guesses, ...) in DataFrame.attrs[NOTES_ATTR]
NOTES_ATTR = "autometa_notes"

_PEEK_BYTES = 1 << 16


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
        dupes = [d for d in _duplicates(header) if d.strip()]
        if dupes:
            raise _duplicate_names_error(shown, dupes)
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
    return _duplicates(names)


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
            raise _duplicate_names_error(shown, dupes) from None
        raise DataError(f"{shown} is not a valid Parquet file ({_one_line(exc, 80)}); re-export it") from None
    if len(frame) == 0:
        raise DataError(f"{shown} has no data rows; pass a file with rows")
    return frame


# --------------------------------------------------------------------------------------------
# ARFF


def _read_arff(path: Path, notes: list[str]) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Read an ARFF file (plain or gzipped): the raw frame + declared nominal levels."""
    shown = _display(path)
    data = _read_bytes(path)
    if not data.strip():
        raise DataError(f"{shown} is empty; pass an ARFF file with a header and data")
    return parse_arff(_decode(data, shown, notes), shown, notes)


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

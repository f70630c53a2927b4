"""A tolerant ARFF parser: the text of an ``.arff`` file -> a raw DataFrame + declared nominal levels.

Tolerated beyond the ARFF grammar, because real files have them: Weka range annotations on
numeric types (``integer [1,10]``), CRLF line ends, a trailing comma on data rows, rows whose
values are separated by spaces instead of commas, sparse rows (``{0 x, 3 y}``) mixed with dense
ones, a Weka instance weight (``{w}``) after a row, ' and " quotes in one file, values of a
nominal attribute that its declaration lacks (kept as extra levels, with a note) and ``?``
declared as a nominal value (read as missing, with a note). Errors are one-line
:class:`~autometa.errors.DataError` naming the file and the line.

Why not liac-arff (a dependency, used by the tests to read OpenML's ARFF): it is a strict
parser and rejects exactly those files. On the shared corpus (``shared/datasets/arff``, 112
gzipped files) liac-arff 2.5.0 reads 106 and raises on 6 that this parser loads and the tests
check value by value (tests/test_data.py ``MALFORMED``):

* ``classification/breast.w``, ``classification/zoo``: ``BadAttributeType`` on
  ``integer [1,10]`` / ``INTEGER [0,9]`` (Weka range annotations);
* ``regression/bank8FM``, ``regression/bank32nh``: ``BadDataFormat`` on a trailing comma
  after every data row;
* ``regression/delta.ailerons``, ``regression/delta.elevators``: ``BadLayout`` on rows
  separated by spaces.

It also raises on an undeclared nominal value (``BadNominalValue``) and on an instance weight
(``BadLayout``). Pre-cleaning the text for liac-arff would need most of this module's
tokenizer anyway, and on the largest corpus files this parser is about as fast (numeric columns
are converted in one vectorised step).
"""
from __future__ import annotations

import csv
import re
import shlex
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from autometa.data.labels import _duplicates, _from_codes, _listing, _one_line
from autometa.errors import DataError

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
            dupes = _duplicates([a.name for a in attributes])
            if dupes:
                raise DataError(f"{shown}: duplicate attribute names {_listing(dupes)}; rename them")
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


def parse_arff(text: str, shown: str, notes: list[str]) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Parse the text of an ARFF file into a raw frame + the declared levels of each nominal column.

    ``shown`` names the file in errors and notes; remarks (undeclared values, ``?`` declared as
    a value) are appended to ``notes``. Numeric columns are float64, nominal ones Categoricals in
    declared order, string and date columns objects / datetimes.
    """
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

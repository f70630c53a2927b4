"""The typed :class:`Dataset` and the two ways to make one: :func:`load_data` (a file or a
DataFrame with the target inside) and :func:`from_xy` (features and target apart, as scikit-learn
passes them). Files are read by :mod:`~autometa.data.read`, columns typed by
:mod:`~autometa.data.columns`, the target and task settled by :mod:`~autometa.data.target`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autometa.data.columns import _build_features, _warn_dropped
from autometa.data.labels import _duplicate_names_error, _duplicates, _listing
from autometa.data.read import NOTES_ATTR, _display, _split_name, read_table
from autometa.data.target import _build_target, _resolve_target, _validate_task
from autometa.errors import ConfigError, DataError


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


def _string_columns(frame: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Column names as strings; duplicates raise DataError naming them."""
    names = [str(c) for c in frame.columns]
    dupes = _duplicates(names)
    if dupes:
        raise _duplicate_names_error(origin, dupes)
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

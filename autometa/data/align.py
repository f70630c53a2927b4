"""Prediction time: new data coerced to the training columns, types and order
(:func:`align_features`), with notes on what was ignored, read as missing or not seen in training."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autometa.data.columns import _type_feature, _without_inf
from autometa.data.dataset import _as_frame, _string_columns
from autometa.data.labels import (
    _bool_word, _category_labels, _counted, _from_codes, _is_missing_text, _joined, _listing, _object_labels,
    _sorted_levels,
)
from autometa.errors import ConfigError, DataError


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
                infinite.append(f"{name!r} ({_counted(n_inf, 'cell')})")
        elif kind in ("categorical", "boolean"):
            values = _align_categorical(series, kind == "boolean")
            aligned[name] = values
            known = None if categories is None else categories.get(name)
            if known is not None:
                new = ~pd.Index(values.categories).isin([str(c) for c in known])
                rows = np.isin(values.codes, np.flatnonzero(new))
                if rows.any():
                    levels = [str(values.categories[i]) for i in np.unique(values.codes[rows])]
                    unseen.append(f"{name!r} ({_listing(levels, 4)} in {_counted(int(rows.sum()), 'row')})")
        else:
            raise ConfigError(f"unknown column type {kind!r} for {name!r}; use numeric, categorical or boolean")
    if infinite:
        notes.append("infinite values treated as missing: " + _joined(infinite))
    if unseen:
        notes.append("categories not seen in training (the model treats them as unknown): " + _joined(unseen))
    return pd.DataFrame(aligned, index=frame.index), notes

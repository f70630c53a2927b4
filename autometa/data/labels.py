"""Shared helpers of the data modules: values as string labels, categoricals built from codes,
the text that means "missing", and the short quoted lists that messages name columns with."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autometa.errors import DataError

# lower-cased text that means "missing" wherever a number or category is expected
MISSING_MARKERS = frozenset({"", "?", "na", "n/a", "nan", "null", "none"})

_TRUE_WORDS = frozenset({"true", "yes", "t", "y"})
_FALSE_WORDS = frozenset({"false", "no", "f", "n"})
_MAX_LISTED = 8


# --------------------------------------------------------------------------------------------
# messages


def _joined(shown: list[str], limit: int = _MAX_LISTED) -> str:
    """Join already formatted items, truncating long lists ("a, b, ... (40 more)")."""
    extra = len(shown) - limit
    return ", ".join(shown[:limit]) + (f", ... ({extra} more)" if extra > 0 else "")


def _listing(items: list[str] | tuple[str, ...], limit: int = _MAX_LISTED) -> str:
    """Quote and join names, truncating long lists ("'a', 'b', ... (40 more)")."""
    return _joined([repr(str(i)) for i in items], limit)


def _counted(n: int, noun: str) -> str:
    """"1 row", "3 rows"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _one_line(text: str, limit: int = 60) -> str:
    """Make a snippet of user data safe to put inside a one-line message."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _duplicates(names: list[str]) -> list[str]:
    """Names that occur more than once, sorted."""
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})


def _duplicate_names_error(origin: str, dupes: list[str]) -> DataError:
    return DataError(f"{origin}: duplicate column names {_listing(dupes)}; rename them so each is unique")


# --------------------------------------------------------------------------------------------
# labels and categoricals


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


def _numeric_from_labels(codes: np.ndarray, labels: list[str | None]) -> np.ndarray | None:
    """Float values when every present label is a number, else None."""
    present = [lab for lab in labels if lab is not None]
    parsed = pd.to_numeric(pd.Series(present, dtype=object), errors="coerce")
    if len(present) and parsed.isna().any():
        return None
    values = np.full(len(labels) + 1, np.nan)
    values[[i for i, lab in enumerate(labels) if lab is not None]] = parsed.to_numpy(dtype=np.float64)
    return values[codes]

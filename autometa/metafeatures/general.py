"""General meta-features: sizes, feature types, missing values and class balance.

Definitions follow OpenML's data qualities (``SimpleMetaFeatures`` in OpenML's evaluation
engine) so values are comparable with the qualities OpenML publishes:

* the target counts as a feature: ``NumberOfFeatures`` is ``X.shape[1] + 1``, a nominal target
  counts among ``NumberOfSymbolicFeatures`` (and ``NumberOfBinaryFeatures`` when it has two
  levels), a numeric target among ``NumberOfNumericFeatures``;
* a binary feature is a categorical column whose dtype declares exactly two categories;
* ``Percentage*`` qualities are percentages in [0, 100], as on OpenML today;
* missing values are counted over all cells, target included;
* class sizes count the classes that occur (a declared class without rows is not a class),
  ``NumberOfClasses`` is 0 for regression, as on OpenML;
* ``AutoCorrelation`` (classification) is the fraction of consecutive rows that share their
  label. For regression OpenML's formula collapses to a telescoping sum of differences, so here
  it is the lag-1 Pearson autocorrelation of the target instead (NaN when undefined).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from autometa.metafeatures._context import Context, run_stages

NAME = "general"
EXPENSIVE = False

_NAMES = (
    "NumberOfInstances",
    "NumberOfFeatures",
    "NumberOfNumericFeatures",
    "NumberOfSymbolicFeatures",
    "NumberOfBinaryFeatures",
    "PercentageOfNumericFeatures",
    "PercentageOfSymbolicFeatures",
    "PercentageOfBinaryFeatures",
    "Dimensionality",
    "NumberOfMissingValues",
    "NumberOfInstancesWithMissingValues",
    "PercentageOfMissingValues",
    "PercentageOfInstancesWithMissingValues",
    "NumberOfClasses",
    "MajorityClassSize",
    "MinorityClassSize",
    "MajorityClassPercentage",
    "MinorityClassPercentage",
    "AutoCorrelation",
)


def names(task: str) -> list[str]:
    """Names this group reports (the same for every task; undefined ones are NaN)."""
    return list(_NAMES)


def _ratio(num: float, den: float, scale: float = 1.0) -> float:
    return float(num) / float(den) * scale if den > 0 else float("nan")


def _feature_types(ctx: Context) -> dict[str, float]:
    n = len(ctx.X)
    n_features = ctx.X.shape[1] + 1
    categorical = ctx.categorical
    n_numeric = len(ctx.numeric) + (0 if ctx.is_classification else 1)
    n_symbolic = len(categorical) + (1 if ctx.is_classification else 0)
    n_binary = sum(1 for c in categorical if ctx.n_levels(c) == 2)
    if ctx.is_classification:  # a binary target counts too, by its declared levels like a feature
        y = ctx.y
        levels = y.dtype.categories if isinstance(y.dtype, pd.CategoricalDtype) else y.dropna().unique()
        n_binary += int(len(levels) == 2)
    return {
        "NumberOfInstances": float(n),
        "NumberOfFeatures": float(n_features),
        "NumberOfNumericFeatures": float(n_numeric),
        "NumberOfSymbolicFeatures": float(n_symbolic),
        "NumberOfBinaryFeatures": float(n_binary),
        "PercentageOfNumericFeatures": _ratio(n_numeric, n_features, 100.0),
        "PercentageOfSymbolicFeatures": _ratio(n_symbolic, n_features, 100.0),
        "PercentageOfBinaryFeatures": _ratio(n_binary, n_features, 100.0),
        "Dimensionality": _ratio(n_features, n),
    }


def _missing(ctx: Context) -> dict[str, float]:
    n = len(ctx.X)
    n_features = ctx.X.shape[1] + 1
    missing = ctx.X.isna().to_numpy()
    y_missing = ctx.y.isna().to_numpy()
    per_row = missing.sum(axis=1) + y_missing if missing.size else y_missing.astype(np.int64)
    n_missing = int(per_row.sum())
    n_rows_missing = int((per_row > 0).sum())
    return {
        "NumberOfMissingValues": float(n_missing),
        "NumberOfInstancesWithMissingValues": float(n_rows_missing),
        "PercentageOfMissingValues": _ratio(n_missing, n * n_features, 100.0),
        "PercentageOfInstancesWithMissingValues": _ratio(n_rows_missing, n, 100.0),
    }


def _classes(ctx: Context) -> dict[str, float]:
    nan = float("nan")
    n = len(ctx.X)
    if not ctx.is_classification:
        return {
            "NumberOfClasses": 0.0,
            "MajorityClassSize": nan,
            "MinorityClassSize": nan,
            "MajorityClassPercentage": nan,
            "MinorityClassPercentage": nan,
            "AutoCorrelation": _lag1_autocorrelation(ctx.y.to_numpy(dtype=np.float64, na_value=np.nan)),
        }
    counts = ctx.class_counts()
    codes = ctx.class_codes()
    if len(counts) == 0:
        major = minor = nan
    else:
        major, minor = float(counts.max()), float(counts.min())
    if n > 1:
        same = np.count_nonzero(codes[1:] == codes[:-1])
        auto = same / (n - 1)
    else:
        auto = nan
    return {
        "NumberOfClasses": float(len(counts)),
        "MajorityClassSize": major,
        "MinorityClassSize": minor,
        "MajorityClassPercentage": _ratio(major, n, 100.0) if len(counts) else nan,
        "MinorityClassPercentage": _ratio(minor, n, 100.0) if len(counts) else nan,
        "AutoCorrelation": float(auto),
    }


def _lag1_autocorrelation(y: np.ndarray) -> float:
    """Pearson correlation of consecutive finite target values (NaN when undefined)."""
    if len(y) < 3:
        return float("nan")
    a, b = y[:-1], y[1:]
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if len(a) < 2:
        return float("nan")
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def compute(ctx: Context) -> dict[str, float]:
    """Compute the general meta-features of ``ctx`` (all rows, vectorised)."""
    return run_stages(ctx, (_feature_types, _missing, _classes))

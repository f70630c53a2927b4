"""Statistical meta-features: moments of numeric attributes, nominal cardinalities, correlation.

OpenML-named qualities follow OpenML's definitions:

* per numeric attribute, over its finite values: mean, sample standard deviation (``n - 1``),
  skewness ``sum((x - mean)^3) / (n - 1) / sd^3`` and excess kurtosis
  ``sum((x - mean)^4) / (n - 1) / sd^4 - 3`` — the formulas that reproduce OpenML's published
  values for anneal; per-attribute values that are not finite (constant column, fewer than two
  values) are left out of the summaries, as OpenML does;
* summaries are mean, min, max and quartiles, the quartiles with OpenML's percentile rule
  (Apache Commons Math "legacy" estimator: position ``p * (n + 1)``, linear interpolation);
* ``*NominalAttDistinctValues`` use the categories each categorical feature's dtype declares
  (target excluded); ``*CardinalityOf*`` use the distinct non-missing values actually present,
  target included, as OpenML's cardinality characteriser does.

Extras (not OpenML qualities): absolute Pearson correlation between numeric attributes and
PCA spectrum of their correlation matrix (missing values mean-imputed; at most
``MAX_CORR_ATTS`` attributes, drawn with ``ctx.seed`` when there are more), and for regression
the moments of the target.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from autometa.metafeatures._context import Context, run_stages

NAME = "statistical"
EXPENSIVE = False

#: Correlation and PCA extras use at most this many numeric attributes (cost ~ n * p^2).
MAX_CORR_ATTS = 256
_BLOCK = 4  # columns per block in column_moments

_SUMMARY = ("Mean", "Min", "Max", "Quartile1", "Quartile2", "Quartile3")
_MOMENTS = ("Means", "StdDev", "Kurtosis", "Skewness")
_DISTINCT = (
    "MaxNominalAttDistinctValues",
    "MinNominalAttDistinctValues",
    "MeanNominalAttDistinctValues",
    "StdvNominalAttDistinctValues",
)
_CARDINALITY = tuple(
    f"{stat}CardinalityOf{kind}Attributes"
    for kind in ("Numeric", "Nominal")
    for stat in ("Mean", "Stdev", "Min", "Max")
)
_CORRELATION = (
    "MeanAbsCorrelationOfNumericAtts",
    "MaxAbsCorrelationOfNumericAtts",
    "PCAFirstComponentVarianceFraction",
    "PCAFractionOfComponentsFor95PercentVariance",
)
_TARGET = ("TargetMean", "TargetStdDev", "TargetSkewness", "TargetKurtosis")


def names(task: str) -> list[str]:
    """Names this group reports; the target moments only for regression."""
    out = [f"{s}{m}OfNumericAtts" for m in _MOMENTS for s in _SUMMARY]
    out += [*_DISTINCT, *_CARDINALITY, *_CORRELATION]
    if task == "regression":
        out += list(_TARGET)
    return out


# ---------------------------------------------------------------------------- helpers


def percentile(sorted_values: np.ndarray, p: float) -> float:
    """OpenML's percentile (Commons Math legacy rule) of an ascending, finite array."""
    n = len(sorted_values)
    if n == 0:
        return float("nan")
    pos = p / 100.0 * (n + 1)
    if pos < 1:
        return float(sorted_values[0])
    if pos >= n:
        return float(sorted_values[-1])
    lower = int(math.floor(pos))
    frac = pos - lower
    lo, hi = sorted_values[lower - 1], sorted_values[lower]
    return float(lo + frac * (hi - lo))


def summarize(values: Iterable[float]) -> dict[str, float]:
    """Mean, min, max and quartiles of the finite ``values`` (all NaN when there are none)."""
    v = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64)
    v = np.sort(v[np.isfinite(v)])
    if len(v) == 0:
        return {k: float("nan") for k in _SUMMARY}
    return {
        "Mean": float(v.mean()),
        "Min": float(v[0]),
        "Max": float(v[-1]),
        "Quartile1": percentile(v, 25),
        "Quartile2": percentile(v, 50),
        "Quartile3": percentile(v, 75),
    }


def column_moments(a: np.ndarray) -> dict[str, np.ndarray]:
    """Per-column count, mean, sd, skewness, kurtosis of a float array (NaN = missing).

    ``sd`` is 0 for a single value (as Commons Math); skewness and kurtosis are NaN where the
    column is constant or has fewer than two values. Also returns the mean-centred array
    (missing cells 0) used for correlations. Works in column blocks so that the temporaries stay
    in cache (several times faster than whole-array arithmetic on tall tables).
    """
    n, p = a.shape
    cnt, mean, m2, m3, m4, lo, hi = (np.zeros(p) for _ in range(7))
    centered = np.empty((n, p), dtype=np.float64, order="F")
    with np.errstate(invalid="ignore", divide="ignore"):
        for j0 in range(0, p, _BLOCK):
            j1 = min(p, j0 + _BLOCK)
            block = a[:, j0:j1]
            mask = ~np.isnan(block)
            cnt[j0:j1] = mask.sum(axis=0)
            d = np.where(mask, block, 0.0)
            mean[j0:j1] = d.sum(axis=0) / cnt[j0:j1]
            d -= mean[j0:j1]
            d *= mask
            d2 = d * d
            m2[j0:j1] = d2.sum(axis=0)
            m3[j0:j1] = np.einsum("ij,ij->j", d2, d)
            m4[j0:j1] = np.einsum("ij,ij->j", d2, d2)
            lo[j0:j1] = np.fmin.reduce(block, axis=0) if n else np.nan
            hi[j0:j1] = np.fmax.reduce(block, axis=0) if n else np.nan
            centered[:, j0:j1] = d
        constant = (cnt > 0) & (lo == hi)
        var = np.where(cnt > 1, m2 / (cnt - 1), np.where(cnt == 1, 0.0, np.nan))
        var = np.where(constant, 0.0, var)
        sd = np.sqrt(var)
        ok = (cnt > 1) & ~constant & (var > 0)
        skew = np.where(ok, (m3 / (cnt - 1)) / (var * sd), np.nan)
        kurt = np.where(ok, (m4 / (cnt - 1)) / (var * var) - 3.0, np.nan)
    return {"count": cnt, "mean": mean, "sd": sd, "skew": skew, "kurt": kurt, "centered": centered,
            "m2": m2, "constant": constant}


def _moments_cached(ctx: Context) -> dict[str, np.ndarray]:
    return ctx.cached("numeric_moments", lambda: column_moments(ctx.numeric_matrix()))


# ----------------------------------------------------------------------------- stages


def _moments(ctx: Context) -> dict[str, float]:
    mom = _moments_cached(ctx)
    out: dict[str, float] = {}
    for label, key in (("Means", "mean"), ("StdDev", "sd"), ("Kurtosis", "kurt"), ("Skewness", "skew")):
        for stat, value in summarize(mom[key]).items():
            out[f"{stat}{label}OfNumericAtts"] = value
    return out


def _distinct_values(ctx: Context) -> dict[str, float]:
    levels = np.array([ctx.n_levels(c) for c in ctx.categorical], dtype=np.float64)
    if len(levels) == 0:
        return {k: float("nan") for k in _DISTINCT}
    return {
        "MaxNominalAttDistinctValues": float(levels.max()),
        "MinNominalAttDistinctValues": float(levels.min()),
        "MeanNominalAttDistinctValues": float(levels.mean()),
        "StdvNominalAttDistinctValues": float(levels.std(ddof=1)) if len(levels) > 1 else 0.0,
    }


def _numeric_distinct_counts(a: np.ndarray) -> np.ndarray:
    """Distinct non-missing values per column of a float array, via one column-wise sort."""
    if a.shape[1] == 0:
        return np.zeros(0)
    counts = np.zeros(a.shape[1])
    if a.shape[0] == 0:
        return counts
    for j0 in range(0, a.shape[1], _BLOCK):
        s = np.sort(a[:, j0 : j0 + _BLOCK], axis=0)  # NaN sorts last
        new = ~np.isnan(s)
        new[1:] &= s[1:] != s[:-1]
        counts[j0 : j0 + _BLOCK] = new.sum(axis=0)
    return counts


def _cardinality(ctx: Context) -> dict[str, float]:
    numeric = _numeric_distinct_counts(ctx.numeric_matrix())
    nominal = [float(np.unique(c[c >= 0]).size) for c in (ctx.codes(col) for col in ctx.categorical)]
    if ctx.is_classification:
        nominal.append(float(len(ctx.class_counts())))
    else:
        y = ctx.y.to_numpy(dtype=np.float64, na_value=np.nan)
        numeric = np.append(numeric, _numeric_distinct_counts(y[:, None]))
    out: dict[str, float] = {}
    for kind, counts in (("Numeric", np.asarray(numeric)), ("Nominal", np.asarray(nominal))):
        if len(counts) == 0:
            out.update({f"{s}CardinalityOf{kind}Attributes": float("nan") for s in ("Mean", "Stdev", "Min", "Max")})
            continue
        out[f"MeanCardinalityOf{kind}Attributes"] = float(counts.mean())
        out[f"StdevCardinalityOf{kind}Attributes"] = float(counts.std(ddof=1)) if len(counts) > 1 else 0.0
        out[f"MinCardinalityOf{kind}Attributes"] = float(counts.min())
        out[f"MaxCardinalityOf{kind}Attributes"] = float(counts.max())
    return out


def _correlation(ctx: Context) -> dict[str, float]:
    out = {k: float("nan") for k in _CORRELATION}
    mom = _moments_cached(ctx)
    usable = np.flatnonzero((mom["m2"] > 0) & ~mom["constant"] & (mom["count"] > 1))
    if len(usable) > MAX_CORR_ATTS:
        usable = np.sort(ctx.rng().choice(usable, size=MAX_CORR_ATTS, replace=False))
    if len(usable) == 0:
        return out
    centered = mom["centered"]
    if len(usable) < centered.shape[1]:
        centered = centered[:, usable]
    scale = np.sqrt(mom["m2"][usable])
    corr = (centered.T @ centered) / np.outer(scale, scale)  # mean-imputed Pearson correlation
    np.fill_diagonal(corr, 1.0)
    p = len(usable)
    if p >= 2:
        upper = np.abs(corr[np.triu_indices(p, k=1)])
        out["MeanAbsCorrelationOfNumericAtts"] = float(upper.mean())
        out["MaxAbsCorrelationOfNumericAtts"] = float(min(upper.max(), 1.0))
    eig = np.clip(np.linalg.eigvalsh(corr)[::-1], 0.0, None)
    total = eig.sum()
    if total > 0:
        explained = np.cumsum(eig) / total
        out["PCAFirstComponentVarianceFraction"] = float(eig[0] / total)
        k95 = int(np.searchsorted(explained, 0.95 - 1e-12) + 1)
        out["PCAFractionOfComponentsFor95PercentVariance"] = min(k95, p) / p
    return out


def _target(ctx: Context) -> dict[str, float]:
    if ctx.is_classification:
        return {}
    y = ctx.y.to_numpy(dtype=np.float64, na_value=np.nan)
    y = np.where(np.isfinite(y), y, np.nan)[:, None]
    mom = column_moments(y)
    return {
        "TargetMean": float(mom["mean"][0]),
        "TargetStdDev": float(mom["sd"][0]),
        "TargetSkewness": float(mom["skew"][0]),
        "TargetKurtosis": float(mom["kurt"][0]),
    }


def compute(ctx: Context) -> dict[str, float]:
    """Compute the statistical meta-features of ``ctx`` (all rows, vectorised)."""
    return run_stages(ctx, (_moments, _distinct_values, _target, _cardinality, _correlation))

"""Information-theoretic meta-features: class entropy, attribute entropy, mutual information.

OpenML-named qualities follow OpenML's definitions (``AttributeEntropy`` characteriser):

* entropies in bits; ``ClassEntropy`` over the labelled rows;
* attribute entropy and mutual information (information gain about the class) are computed
  for the categorical features only; numeric features are not discretised for them;
* a missing value of a categorical feature counts as that feature's first category — this is
  what OpenML's implementation does (a missing value casts to index 0) and it is needed to
  reproduce OpenML's published values; mutual information is rounded to 14 decimals as there;
* ``EquivalentNumberOfAtts = ClassEntropy / MeanMutualInformation`` and
  ``MeanNoiseToSignalRatio = (MeanAttributeEntropy - MeanMutualInformation) /
  MeanMutualInformation``, both NaN when the mean mutual information is not positive.

For regression the class-based quantities (class entropy, mutual information, equivalent
number of attributes, noise-to-signal ratio) are NaN, as on OpenML: discretising the target
would invent a binning no published quality uses. Target-free attribute entropies are computed
for every task.

Extras (not OpenML qualities): ``NormalizedClassEntropy`` (class entropy / log2 of the number
of classes) and entropy / mutual information of numeric features discretised into
``NUMERIC_BINS`` equal-width bins over their finite range (missing and ±inf in a bin of their
own), so all-numeric datasets get information-theoretic features too.
"""
from __future__ import annotations

import numpy as np

from autometa.metafeatures._context import Context, run_stages
from autometa.metafeatures.statistical import summarize

NAME = "infotheory"
EXPENSIVE = False

#: Equal-width bins used for the discretised-numeric extras.
NUMERIC_BINS = 10
_BLOCK = 4  # columns per block when discretising (keeps temporaries in cache)

_STATS = ("Mean", "Min", "Max", "Quartile1", "Quartile2", "Quartile3")
_NAMES = (
    "ClassEntropy",
    "NormalizedClassEntropy",
    *(f"{s}AttributeEntropy" for s in _STATS),
    *(f"{s}MutualInformation" for s in _STATS),
    "EquivalentNumberOfAtts",
    "MeanNoiseToSignalRatio",
    "MeanEntropyOfDiscretizedNumericAtts",
    "MeanMutualInformationOfDiscretizedNumericAtts",
    "MaxMutualInformationOfDiscretizedNumericAtts",
)


def names(task: str) -> list[str]:
    """Names this group reports (the same for every task; class-based ones NaN for regression)."""
    return list(_NAMES)


def entropy_bits(counts: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy in bits of count vectors along ``axis`` (0 for an all-zero vector)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(total > 0, counts / total, 0.0)
        terms = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return 0.0 - terms.sum(axis=axis)


def mutual_information(table: np.ndarray) -> np.ndarray:
    """Mutual information in bits of contingency tables shaped ``(..., values, classes)``."""
    table = np.asarray(table, dtype=np.float64)
    joint = table.reshape(*table.shape[:-2], -1)
    mi = entropy_bits(table.sum(axis=-1)) + entropy_bits(table.sum(axis=-2)) - entropy_bits(joint)
    return np.maximum(np.round(mi, 14), 0.0)


def _labelled(ctx: Context) -> tuple[np.ndarray, np.ndarray, int]:
    """Boolean mask of rows with a class, their class codes, and the number of class codes."""
    codes = ctx.class_codes()
    mask = codes >= 0
    return mask, codes[mask], int(codes.max()) + 1 if mask.any() else 0


def _class_entropy(ctx: Context) -> dict[str, float]:
    nan = float("nan")
    if not ctx.is_classification:
        return {"ClassEntropy": nan, "NormalizedClassEntropy": nan}
    counts = ctx.class_counts()
    h = float(entropy_bits(counts)) if counts.sum() > 0 else nan
    k = len(counts)
    return {"ClassEntropy": h, "NormalizedClassEntropy": h / np.log2(k) if k > 1 else nan}


def _nominal(ctx: Context) -> dict[str, float]:
    """Entropy and mutual information of categorical features (missing -> first category)."""
    entropies, infos = [], []
    if ctx.is_classification:
        mask, y, n_classes = _labelled(ctx)
    for col in ctx.categorical:
        x = np.maximum(ctx.codes(col), 0)
        k = max(ctx.n_levels(col), 1)
        entropies.append(float(entropy_bits(np.bincount(x, minlength=k))))
        if ctx.is_classification and n_classes > 0:
            table = np.bincount(x[mask] * n_classes + y, minlength=k * n_classes).reshape(k, n_classes)
            infos.append(float(mutual_information(table)))
    out = {f"{s}AttributeEntropy": v for s, v in summarize(entropies).items()}
    out.update({f"{s}MutualInformation": v for s, v in summarize(infos).items()})
    mean_h = out["MeanAttributeEntropy"]
    mean_mi = out["MeanMutualInformation"]
    class_h = _class_entropy(ctx)["ClassEntropy"]
    ok = np.isfinite(mean_mi) and mean_mi > 0
    out["EquivalentNumberOfAtts"] = class_h / mean_mi if ok else float("nan")
    out["MeanNoiseToSignalRatio"] = (mean_h - mean_mi) / mean_mi if ok else float("nan")
    return out


def discretize(a: np.ndarray, bins: int = NUMERIC_BINS) -> np.ndarray:
    """Equal-width bin index per cell of a float array (per column; NaN -> ``bins``)."""
    n, p = a.shape
    out = np.empty((n, p), dtype=np.int64, order="F")
    with np.errstate(invalid="ignore", divide="ignore"):
        for j0 in range(0, p, _BLOCK):
            block = a[:, j0 : j0 + _BLOCK]
            lo = np.fmin.reduce(block, axis=0) if n else np.zeros(block.shape[1])
            hi = np.fmax.reduce(block, axis=0) if n else np.zeros(block.shape[1])
            width = hi - lo
            scaled = (block - lo) * np.where(width > 0, bins / np.where(width > 0, width, 1.0), 0.0)
            missing = np.isnan(scaled)
            scaled[missing] = bins
            np.clip(scaled, 0, bins - 1, out=scaled)
            idx = scaled.astype(np.int64)  # truncation = floor for non-negative values
            idx[missing] = bins
            out[:, j0 : j0 + _BLOCK] = idx
    return out


def _numeric(ctx: Context) -> dict[str, float]:
    nan = float("nan")
    out = {
        "MeanEntropyOfDiscretizedNumericAtts": nan,
        "MeanMutualInformationOfDiscretizedNumericAtts": nan,
        "MaxMutualInformationOfDiscretizedNumericAtts": nan,
    }
    a = ctx.numeric_matrix()
    n, p = a.shape
    if p == 0 or n == 0:
        return out
    nb = NUMERIC_BINS + 1
    b = discretize(a)
    labelled = ctx.is_classification
    if labelled:
        mask, y, k = _labelled(ctx)
        labelled = k > 0 and bool(mask.any())
    entropies, infos = np.empty(p), np.empty(p)
    for j in range(p):
        col = b[:, j]
        entropies[j] = entropy_bits(np.bincount(col, minlength=nb))
        if labelled:
            cells = (col if mask.all() else col[mask]) * k + y
            infos[j] = mutual_information(np.bincount(cells, minlength=nb * k).reshape(nb, k))
    out["MeanEntropyOfDiscretizedNumericAtts"] = float(entropies.mean())
    if labelled:
        out["MeanMutualInformationOfDiscretizedNumericAtts"] = float(infos.mean())
        out["MaxMutualInformationOfDiscretizedNumericAtts"] = float(infos.max())
    return out


def compute(ctx: Context) -> dict[str, float]:
    """Compute the information-theoretic meta-features of ``ctx`` (all rows, vectorised)."""
    return run_stages(ctx, (_class_entropy, _nominal, _numeric))

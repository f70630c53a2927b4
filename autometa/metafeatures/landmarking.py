"""Landmarking meta-features: how well very simple learners do on the dataset.

Each landmarker is evaluated by stratified (classification) or shuffled (regression) 10-fold
cross-validation, as OpenML does; out-of-fold predictions are pooled over the folds (as Weka's
``crossValidateModel`` does) and scored once. Classification reports the error rate, the
class-frequency-weighted one-vs-rest ROC AUC (plain ROC AUC for binary targets) and Cohen's
kappa; regression reports R² (``1 - SSE/SST``, negative when worse than the mean).

Learners (names follow OpenML's data qualities where OpenML has the quantity):

- ``DecisionStump``: one binary split chosen over all attributes by information gain
  (variance reduction for regression); numeric ``x <= t``, nominal ``x == v`` (as Weka's).
- ``kNN_1N``: 1-nearest neighbour, attributes min-max scaled, one-hot nominals weighted so a
  mismatch costs 1 (as Weka's IBk). Run on a seeded subsample of at most ``KNN_MAX_ROWS`` rows
  because it is the only quadratic learner.
- ``NaiveBayes``: Gaussian for numeric attributes (standard deviation floored at 1/6 of the
  average gap between distinct values, as Weka), Laplace-smoothed frequencies for nominal ones.
- ``LDA`` (classification) / ``LinearReg`` (regression): linear discriminant with a slightly
  shrunk pooled covariance / least squares with a tiny ridge, on standardised attributes.
- ``RandomTreeDepth1``: Weka RandomTree limited to depth 1: best split among
  ``int(log2(attributes)) + 1`` randomly drawn attributes (nominal splits are multiway).
- ``REPTreeDepth1``: depth-1 tree grown on 2/3 of the training fold, pruned back to a leaf when it
  does not beat the leaf on the other third, then refitted on the whole fold.
- ``BestNode`` / ``WorstNode`` / ``RandomNode``: a depth-1 tree on a single attribute: the one with
  the highest / lowest symmetric uncertainty with the target (numeric attributes and regression
  targets binned into 10 equal-frequency bins; measured once on all rows), or one drawn at random.

Preprocessing, done once on all rows: ±inf become missing; numeric attributes are
median-imputed; in nominal attributes "missing" is one more level (with it the stump reproduces
OpenML's DecisionStump error rate and kappa on anneal); all-missing and constant attributes are
dropped. For kNN/LDA/LinearReg nominal attributes are one-hot encoded when they
have at most ``ONEHOT_MAX_LEVELS`` levels and the total stays under ``ONEHOT_MAX_WIDTH``
columns, and ordinal-coded otherwise. Rows with a missing target are dropped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import pandas as pd
from scipy import linalg
from scipy.stats import rankdata

from autometa.metafeatures._context import Context, run_guarded

NAME = "landmarking"
EXPENSIVE = True

N_FOLDS = 10
KNN_MAX_ROWS = 4000
ONEHOT_MAX_LEVELS = 10
ONEHOT_MAX_WIDTH = 200
N_BINS = 10
_CHUNK = 1 << 21  # elements per block of the split scan (bounds memory to ~16 MB)
_BLOCK = 512  # query rows per block of the 1-NN distance computation

_CLASSIFIERS = (
    "DecisionStump",
    "kNN_1N",
    "NaiveBayes",
    "LDA",
    "RandomTreeDepth1",
    "REPTreeDepth1",
    "BestNode",
    "WorstNode",
    "RandomNode",
)
_REGRESSORS = (
    "DecisionStump",
    "kNN_1N",
    "LinearReg",
    "RandomTreeDepth1",
    "REPTreeDepth1",
    "BestNode",
    "WorstNode",
    "RandomNode",
)
_METRICS = ("ErrRate", "AUC", "Kappa")
# the depth-1 trees share one scan per fold, so they fail (and are reported) together
_TREE_FAMILY = "DecisionStump/RandomTreeDepth1/REPTreeDepth1/BestNode/WorstNode/RandomNode"

# A family of learners evaluated together: (training mask, test row indices) -> predictions per learner.
_FoldFn = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]


def names(task: str) -> list[str]:
    """The keys :func:`compute` returns for ``task`` (fixed, so meta-feature tables line up)."""
    if task == "regression":
        return [f"{learner}R2" for learner in _REGRESSORS]
    return [f"{learner}{metric}" for learner in _CLASSIFIERS for metric in _METRICS]


def compute(ctx: Context) -> dict[str, float]:
    """Cross-validated scores of the landmark learners; NaN where undefined or out of time.

    Never raises: a learner family that raises is recorded with :meth:`Context.fail` (its values
    stay NaN, the others are still scored), and so is an error while preparing the data.
    """
    return run_guarded(ctx, names(ctx.task), lambda out: _compute_into(ctx, out))  # what was scored is kept


# ----------------------------------------------------------------------------- preparation


@dataclass
class _Data:
    """The prepared table: imputed numeric matrix, nominal codes and target statistics."""

    classification: bool
    y: np.ndarray  # class codes 0..K-1, or the centred regression target
    n_classes: int  # K; 1 for regression (one predicted value per row)
    stats: np.ndarray  # n x m per-row target statistics: one-hot classes, or (1, y, y^2)
    num: np.ndarray  # n x p imputed, finite, non-constant numeric attributes
    order: np.ndarray  # p x n: argsort of each numeric column (one row per attribute: fast scans)
    sorted_vals: np.ndarray  # p x n: each numeric column sorted
    sorted_y: np.ndarray  # p x n: the target in each numeric column's order
    cats: list  # per nominal attribute: codes 0..L-1
    levels: list  # per nominal attribute: L >= 2
    missing_level: list  # per nominal attribute: the level that stands for "missing", or -1

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def n_attrs(self) -> int:
        return self.num.shape[1] + len(self.cats)


def _prepare(ctx: Context) -> Optional[_Data]:
    """Clean the context's table once; None when fewer than two usable rows remain."""
    classification = ctx.task != "regression"
    if classification:
        codes = ctx.class_codes()
        keep = codes >= 0
        _, y = np.unique(codes[keep], return_inverse=True)
        n_classes = int(y.max()) + 1 if y.size else 0
        y = y.astype(np.int64)
        stats = np.zeros((y.size, max(n_classes, 1)))
        stats[np.arange(y.size), y] = 1.0
    else:
        target = pd.to_numeric(ctx.y, errors="coerce").to_numpy(np.float64, na_value=np.nan)
        keep = np.isfinite(target)
        y = target[keep] - target[keep].mean() if keep.any() else target[keep]
        n_classes = 1
        stats = np.column_stack([np.ones_like(y), y, y * y])
    if y.size < 2:
        return None

    num = ctx.numeric_matrix()[keep]  # a fresh array: the shared cached matrix stays untouched
    usable = ~np.all(np.isnan(num), axis=0)
    num = num[:, usable]
    if num.shape[1]:
        medians = np.nanmedian(num, axis=0)
        num = np.where(np.isnan(num), medians, num)
        num = num[:, num.max(axis=0) > num.min(axis=0)]
    order = np.ascontiguousarray(np.argsort(num, axis=0, kind="stable").T)
    sorted_vals = np.take_along_axis(num.T, order, axis=1)

    cats, levels, missing_level = [], [], []
    for col in ctx.categorical:
        raw = ctx.codes(col)[keep]
        # missing values form a level of their own, as Weka's stump gives them their own branch
        _, codes = np.unique(raw, return_inverse=True)
        n_levels = int(codes.max()) + 1
        if n_levels < 2:
            continue
        cats.append(codes.astype(np.int64))
        levels.append(n_levels)
        missing_level.append(0 if raw.min() < 0 else -1)  # np.unique puts the -1 code first
    return _Data(classification, y, n_classes, stats, num, order, sorted_vals, y[order], cats, levels, missing_level)


def _assign_folds(y: Optional[np.ndarray], n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Fold id per row: shuffled, then dealt round-robin class by class (stratified when y given)."""
    perm = rng.permutation(n)
    if y is not None:
        perm = perm[np.argsort(y[perm], kind="stable")]
    folds = np.empty(n, dtype=np.int64)
    folds[perm] = np.arange(n) % k
    return folds


def _standardise(matrix: np.ndarray) -> np.ndarray:
    if not matrix.shape[1]:
        return matrix
    std = matrix.std(axis=0)
    return (matrix - matrix.mean(axis=0)) / np.where(std > 0, std, 1.0)


def _design(d: _Data) -> tuple[np.ndarray, np.ndarray]:
    """Numeric design matrix for kNN/LDA and, per column, whether it is one level of a one-hot block."""
    blocks, multi = [d.num], [np.zeros(d.num.shape[1], dtype=bool)]
    width = 0
    for codes, n_levels in zip(d.cats, d.levels):
        if n_levels == 2:
            blocks.append((codes == 1).astype(np.float64)[:, None])
            multi.append(np.zeros(1, dtype=bool))
        elif n_levels <= ONEHOT_MAX_LEVELS and width + n_levels <= ONEHOT_MAX_WIDTH:
            width += n_levels
            blocks.append(np.eye(n_levels)[codes])
            multi.append(np.ones(n_levels, dtype=bool))
        else:
            blocks.append(codes.astype(np.float64)[:, None])
            multi.append(np.zeros(1, dtype=bool))
    return np.hstack(blocks), np.concatenate(multi)


# ----------------------------------------------------------------------------- orchestration


def _compute_into(ctx: Context, out: dict[str, float]) -> None:
    """Run the learner families cheapest first, scoring each as soon as it finishes."""
    d = _prepare(ctx)
    if d is None:
        return
    rng = ctx.rng()
    k = min(N_FOLDS, d.n)
    folds = _assign_folds(d.y if d.classification else None, d.n, k, rng)
    design, multi = _design(d)
    everyone = np.arange(d.n)

    def cross_validated(make_fit: Callable[[], _FoldFn]) -> Callable[[], tuple[dict[str, np.ndarray], np.ndarray]]:
        return lambda: (_cv(ctx, d, folds, k, make_fit()), everyone)

    # (the learners a family scores, how to run it)
    runs = []
    if d.classification:
        runs.append(("NaiveBayes", cross_validated(lambda: _naive_bayes(d))))
    if design.shape[1]:
        linear = _lda if d.classification else _linear_regression
        runs.append(("LDA" if d.classification else "LinearReg",
                     cross_validated(lambda: linear(d, _standardise(design)))))
    runs.append((_TREE_FAMILY, cross_validated(lambda: _trees(d, rng))))
    if design.shape[1]:
        runs.append(("kNN_1N", lambda: _knn(ctx, d, design, multi, folds, rng)))

    for learners, run in runs:
        if ctx.expired():
            return
        try:
            predictions, rows = run()
        except Exception as exc:  # a failing family leaves its own values NaN and is recorded
            ctx.fail(exc, part=learners)
            continue
        for learner, pred in predictions.items():
            out.update(_score(d, learner, pred, d.y[rows]))


def _cv(ctx: Context, d: _Data, folds: np.ndarray, k: int, fit: _FoldFn) -> dict[str, np.ndarray]:
    """Pooled out-of-fold predictions of a learner family; empty when the deadline passes."""
    oof: dict[str, np.ndarray] = {}
    for f in range(k):
        if ctx.expired():
            return {}
        test = np.flatnonzero(folds == f)
        if not test.size:
            continue
        for learner, pred in fit(folds != f, test).items():
            if learner not in oof:
                oof[learner] = np.full((d.n, d.n_classes), np.nan)
            oof[learner][test] = pred
    return oof


def _score(d: _Data, learner: str, pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    if np.isnan(pred).any():
        return {}
    if not d.classification:
        sst = float(np.sum((y - y.mean()) ** 2))
        r2 = 1.0 - float(np.sum((y - pred[:, 0]) ** 2)) / sst if sst > 0 else math.nan
        return {f"{learner}R2": r2}
    err, auc, kappa = classification_scores(y, pred)
    return {f"{learner}ErrRate": err, f"{learner}AUC": auc, f"{learner}Kappa": kappa}


def classification_scores(y: np.ndarray, proba: np.ndarray) -> tuple[float, float, float]:
    """Error rate, class-frequency-weighted one-vs-rest ROC AUC and Cohen's kappa.

    ``y`` holds class codes 0..K-1 and ``proba`` one column of scores per class; the predicted
    class is the first highest score. Undefined values (one class only) are NaN.
    """
    n, n_classes = proba.shape
    pred = np.argmax(proba, axis=1)
    err = float(np.mean(pred != y))

    confusion = np.bincount(y * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    observed = np.trace(confusion) / n
    expected = float(confusion.sum(axis=1) @ confusion.sum(axis=0)) / (n * n)
    kappa = (observed - expected) / (1.0 - expected) if expected < 1.0 else math.nan

    counts = np.bincount(y, minlength=n_classes)
    ranks = rankdata(proba, axis=0)
    positives = np.zeros((n, n_classes), dtype=bool)
    positives[np.arange(n), y] = True
    defined = (counts > 0) & (counts < n)
    if not defined.any():
        return err, math.nan, float(kappa)
    rank_sums = (ranks * positives).sum(axis=0)
    neg = n - counts
    with np.errstate(all="ignore"):
        aucs = (rank_sums - counts * (counts + 1) / 2.0) / (counts * neg)
    auc = float(np.sum(aucs[defined] * counts[defined]) / np.sum(counts[defined]))
    return err, auc, float(kappa)


# ----------------------------------------------------------------------------- probabilistic / linear


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    expo = np.exp(scores)
    return expo / expo.sum(axis=1, keepdims=True)


def _naive_bayes(d: _Data) -> _FoldFn:
    """Gaussian / Laplace-multinomial naive Bayes, Weka-style, over the imputed attributes."""
    z = _standardise(d.num)
    z2 = z * z
    if d.num.shape[1]:
        spread = (d.sorted_vals[:, -1] - d.sorted_vals[:, 0]) / d.num.std(axis=0)
        distinct = 1 + np.count_nonzero(np.diff(d.sorted_vals, axis=1) > 0, axis=1)
        floor = (spread / np.maximum(distinct - 1, 1) / 6.0) ** 2
    else:
        floor = np.zeros(0)
    n_classes = d.n_classes

    def fit(train: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray]:
        onehot = d.stats[train]
        counts = onehot.sum(axis=0)
        seen = counts > 0
        safe = np.maximum(counts, 1.0)[:, None]
        scores = np.tile(np.log((counts + 1.0) / (counts.sum() + n_classes)), (test.size, 1))
        if z.shape[1]:
            mean = onehot.T @ z[train] / safe
            var = np.maximum(onehot.T @ z2[train] / safe - mean * mean, floor)
            inv = 1.0 / var
            scores += -0.5 * (z2[test] @ inv.T - 2.0 * z[test] @ (mean * inv).T + (mean * mean * inv).sum(axis=1))
            scores += -0.5 * np.log(2.0 * np.pi * var).sum(axis=1)
        for codes, n_levels in zip(d.cats, d.levels):
            table = np.bincount(codes[train] * n_classes + d.y[train], minlength=n_levels * n_classes)
            table = table.reshape(n_levels, n_classes)
            scores += np.log((table + 1.0) / (counts + n_levels))[codes[test]]
        scores[:, ~seen] = -np.inf
        return {"NaiveBayes": _softmax(scores)}

    return fit


def _pooled_solve(scatter: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve with a covariance shrunk by 1e-4 towards its mean variance (keeps it invertible)."""
    dim = scatter.shape[0]
    scale = np.trace(scatter) / dim
    if not np.isfinite(scale) or scale <= 0:
        scale = 1.0
    shrunk = (1.0 - 1e-4) * scatter + 1e-4 * scale * np.eye(dim)
    try:
        return linalg.solve(shrunk, rhs, assume_a="pos", check_finite=False)
    except (linalg.LinAlgError, ValueError):
        return linalg.lstsq(shrunk, rhs, check_finite=False)[0]


def _lda(d: _Data, z: np.ndarray) -> _FoldFn:
    """Linear discriminant analysis with a pooled, slightly shrunk covariance."""

    def fit(train: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray]:
        onehot = d.stats[train]
        counts = onehot.sum(axis=0)
        seen = counts > 0
        xtr = z[train]
        means = onehot.T @ xtr / np.maximum(counts, 1.0)[:, None]
        centred = xtr - means[d.y[train]]
        scatter = centred.T @ centred / max(int(train.sum()) - int(seen.sum()), 1)
        coef = _pooled_solve(scatter, means[seen].T)
        scores = np.full((test.size, d.n_classes), -np.inf)
        scores[:, seen] = (
            z[test] @ coef - 0.5 * np.sum(means[seen].T * coef, axis=0) + np.log(counts[seen] / counts.sum())
        )
        return {"LDA": _softmax(scores)}

    return fit


def _linear_regression(d: _Data, z: np.ndarray) -> _FoldFn:
    """Least squares with an intercept and a tiny ridge (stays defined when columns are collinear)."""

    def fit(train: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray]:
        xtr, ytr = z[train], d.y[train]
        x_mean, y_mean = xtr.mean(axis=0), ytr.mean()
        centred = xtr - x_mean
        coef = _pooled_solve(centred.T @ centred, centred.T @ (ytr - y_mean))
        return {"LinearReg": ((z[test] - x_mean) @ coef + y_mean)[:, None]}

    return fit


# ----------------------------------------------------------------------------- 1-NN


def _knn(
    ctx: Context, d: _Data, design: np.ndarray, multi: np.ndarray, folds: np.ndarray, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Out-of-fold 1-NN predictions and the rows they are for (a seeded subsample of at most
    KNN_MAX_ROWS rows, each keeping its fold)."""
    rows = np.arange(d.n)
    if d.n > KNN_MAX_ROWS:
        rows = np.sort(rng.choice(d.n, KNN_MAX_ROWS, replace=False))
    x = design[rows]
    lo, hi = x.min(axis=0), x.max(axis=0)
    x = (x - lo) / np.where(hi > lo, hi - lo, 1.0)
    x[:, multi] *= math.sqrt(0.5)
    fold = folds[rows]
    sq = np.einsum("ij,ij->i", x, x)
    nearest = np.empty(rows.size, dtype=np.int64)
    for start in range(0, rows.size, _BLOCK):
        if ctx.expired():
            return {}, rows
        stop = min(start + _BLOCK, rows.size)
        dist = sq[start:stop, None] + sq[None, :] - 2.0 * (x[start:stop] @ x.T)
        dist[fold[start:stop, None] == fold[None, :]] = np.inf
        nearest[start:stop] = np.argmin(dist, axis=1)
    if d.classification:
        pred = np.zeros((rows.size, d.n_classes))
        pred[np.arange(rows.size), d.y[rows][nearest]] = 1.0
    else:
        pred = d.y[rows][nearest][:, None]
    return {"kNN_1N": pred}, rows


# ----------------------------------------------------------------------------- depth-1 trees


def _xlogx(values: np.ndarray) -> np.ndarray:
    return values * np.log(np.maximum(values, 1e-300))


def _impurity(stats: np.ndarray, classification: bool) -> np.ndarray:
    """Size-weighted impurity of a node from its target statistics (last axis).

    Classification: n * entropy = n log n - sum c log c. Regression: the sum of squared errors.
    """
    if classification:
        return _xlogx(stats.sum(axis=-1)) - _xlogx(stats).sum(axis=-1)
    count = stats[..., 0]
    return stats[..., 2] - np.where(count > 0, stats[..., 1] ** 2 / np.maximum(count, 1e-300), 0.0)


def _leaf(stats: np.ndarray, parent: np.ndarray, classification: bool) -> np.ndarray:
    """Prediction of leaves from their statistics (class distribution or mean); ``parent`` if empty."""
    if classification:
        total = stats.sum(axis=-1, keepdims=True)
        return np.where(total > 0, stats / np.maximum(total, 1e-300), parent)
    count = stats[..., :1]
    return np.where(count > 0, stats[..., 1:2] / np.maximum(count, 1e-300), parent)


def _root(d: _Data, total: np.ndarray) -> np.ndarray:
    """Prediction of a leaf holding all training rows (``total`` is their statistics)."""
    return _leaf(total, np.zeros(d.n_classes), d.classification)


@dataclass
class _Scan:
    """Best split of every attribute for one set of training rows."""

    total: np.ndarray  # target statistics of all training rows
    num_imp: np.ndarray  # per numeric attribute: impurity of its best threshold split (inf: none)
    num_thr: np.ndarray
    num_left: np.ndarray  # statistics of the rows <= threshold
    cat_stats: list  # per nominal attribute: L x m statistics per level


def _scan(d: _Data, train: np.ndarray) -> _Scan:
    """Best threshold of every numeric attribute (vectorised over attributes and rows) and the
    per-level statistics of every nominal attribute, for the rows selected by ``train``."""
    total = d.stats[train].sum(axis=0)
    p, n = d.order.shape
    m = int(train.sum())
    num_imp = np.full(p, np.inf)
    num_thr = np.full(p, np.nan)
    num_left = np.zeros((p, d.stats.shape[1]))
    step = max(1, _CHUNK // max(n, 1))
    for start in range(0, p, step):
        cols = slice(start, min(start + step, p))
        # every attribute holds the same training rows, so their sorted runs stack into c x m arrays
        inside = train[d.order[cols]]
        values = d.sorted_vals[cols][inside].reshape(-1, m)
        target = d.sorted_y[cols][inside].reshape(-1, m)
        imp = _split_impurity(d, target, total)  # split after position i, i < m - 1
        imp[values[:, :-1] >= values[:, 1:]] = np.inf
        if not imp.shape[1]:
            continue
        best = np.argmin(imp, axis=1)
        idx = np.arange(values.shape[0])
        num_imp[cols] = imp[idx, best]
        num_thr[cols] = (values[idx, best] + values[idx, best + 1]) / 2.0
        below = np.arange(m)[None, :] <= best[:, None]
        if d.classification:
            num_left[cols] = np.stack([np.count_nonzero(below & (target == k), axis=1) for k in range(d.n_classes)], 1)
        else:
            num_left[cols] = np.stack([below.sum(1), (below * target).sum(1), (below * target**2).sum(1)], 1)
    cat_stats = [_level_stats(d, codes, n_levels, train) for codes, n_levels in zip(d.cats, d.levels)]
    return _Scan(total, num_imp, num_thr, num_left, cat_stats)


def _split_impurity(d: _Data, target: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Impurity of splitting each sorted row of ``target`` after position i (attributes x (m - 1))."""
    m = target.shape[1]
    if d.classification:
        # counts are integers: c log c comes from a lookup table instead of np.log
        table = _xlogx(np.arange(m + 1, dtype=np.float64))
        count = np.arange(1, m)
        imp = np.tile(table[count] + table[m - count], (target.shape[0], 1))
        for k in range(d.n_classes):
            if total[k] > 0:
                in_class = np.cumsum(target[:, :-1] == k, axis=1, dtype=np.int32)
                imp -= table[in_class] + table[int(total[k]) - in_class]
        return imp
    count = np.arange(1.0, m)
    sums = np.cumsum(target[:, :-1], axis=1)
    return total[2] - sums**2 / count - (total[1] - sums) ** 2 / (m - count)


def _level_stats(d: _Data, codes: np.ndarray, n_levels: int, rows: np.ndarray) -> np.ndarray:
    """Target statistics of the selected rows per level of a nominal attribute (L x m)."""
    if d.classification:
        flat = np.bincount(codes[rows] * d.n_classes + d.y[rows], minlength=n_levels * d.n_classes)
        return flat.reshape(n_levels, d.n_classes).astype(np.float64)
    return np.column_stack(
        [np.bincount(codes[rows], weights=d.stats[rows, j], minlength=n_levels) for j in range(d.stats.shape[1])]
    )


@dataclass
class _Node:
    """A fitted depth-1 tree: a leaf (attr None), a numeric threshold, a nominal ``==`` or multiway split."""

    attr: Optional[int]
    values: np.ndarray  # leaf predictions: 1 x K leaf, 2 x K threshold, 2-3 x K ``==``, L x K multiway
    threshold: float = math.nan
    level: int = -1  # the level of an ``==`` split (-1: multiway); missing values take a third branch

    def predict(self, d: _Data, rows: np.ndarray) -> np.ndarray:
        if self.attr is None:
            return np.repeat(self.values, rows.size, axis=0)
        p = d.num.shape[1]
        if self.attr < p:
            branch = (d.num[rows, self.attr] > self.threshold).astype(np.int64)
        else:
            codes = d.cats[self.attr - p][rows]
            if self.level < 0:
                branch = codes
            else:
                missing = d.missing_level[self.attr - p]
                branch = np.where(codes == self.level, 0, np.where(codes == missing, 2, 1))
        return self.values[branch]


def _leaf_node(d: _Data, total: np.ndarray) -> _Node:
    return _Node(None, _root(d, total)[None, :])


def _threshold_node(d: _Data, attr: int, threshold: float, left: np.ndarray, total: np.ndarray) -> _Node:
    """Binary split ``x <= threshold`` of a numeric attribute, from the left branch's statistics."""
    values = _leaf(np.vstack([left, total - left]), _root(d, total), d.classification)
    return _Node(attr, values, threshold=threshold)


def _node(d: _Data, scan: _Scan, attr: int, level: int = -1) -> _Node:
    """Depth-1 tree on ``attr`` from ``scan``'s statistics (a leaf when the attribute cannot split)."""
    p = d.num.shape[1]
    if attr < p:
        if not np.isfinite(scan.num_imp[attr]):
            return _leaf_node(d, scan.total)
        return _threshold_node(d, attr, float(scan.num_thr[attr]), scan.num_left[attr], scan.total)
    per_level = scan.cat_stats[attr - p]
    if level >= 0:
        per_level = _equality_branches(per_level, scan.total, d.missing_level[attr - p])[:, level]
    return _Node(attr, _leaf(per_level, _root(d, scan.total), d.classification), level=level)


def _equality_branches(per_level: np.ndarray, total: np.ndarray, missing: int) -> np.ndarray:
    """Statistics of the branches of every ``x == v`` split: (== v, other values[, missing]) x L x m."""
    branches = [per_level, total - per_level]
    if missing >= 0:
        branches[1] = branches[1] - per_level[missing]
        branches.append(np.broadcast_to(per_level[missing], per_level.shape))
    return np.stack(branches)


def _attr_impurities(d: _Data, scan: _Scan) -> np.ndarray:
    """Impurity after each attribute's own split: best threshold, or multiway for nominal ones."""
    multiway = [float(_impurity(s, d.classification).sum()) for s in scan.cat_stats]
    return np.concatenate([scan.num_imp, np.asarray(multiway, dtype=np.float64)])


def _stump(d: _Data, scan: _Scan) -> _Node:
    """Weka-style decision stump: the best binary split over all attributes (nominal ``x == v``
    splits send missing values down a third branch, as Weka's DecisionStump does)."""
    best_imp, best = np.inf, None
    if scan.num_imp.size and np.isfinite(scan.num_imp.min()):
        best_imp, best = float(scan.num_imp.min()), (int(np.argmin(scan.num_imp)), -1)
    p = d.num.shape[1]
    for j, per_level in enumerate(scan.cat_stats):
        missing = d.missing_level[j]
        branches = _equality_branches(per_level, scan.total, missing)
        sizes = branches.sum(axis=2) if d.classification else branches[:, :, 0]
        imp = _impurity(branches, d.classification).sum(axis=0)
        usable = (np.count_nonzero(sizes > 0, axis=0) >= 2) & (np.arange(len(per_level)) != missing)
        imp = np.where(usable, imp, np.inf)
        level = int(np.argmin(imp))
        if imp[level] < best_imp:
            best_imp, best = float(imp[level]), (p + j, level)
    if best is None:
        return _leaf_node(d, scan.total)
    return _node(d, scan, best[0], best[1])


def _symmetric_uncertainty(d: _Data) -> np.ndarray:
    """Per attribute, 2 I(A;Y) / (H(A) + H(Y)) with numeric values binned into equal-frequency bins."""

    def binned(values: np.ndarray) -> np.ndarray:
        edges = np.unique(np.quantile(values, np.linspace(0, 1, N_BINS + 1)[1:-1]))
        return np.searchsorted(edges, values, side="right")

    def entropy(counts: np.ndarray) -> float:
        prob = counts[counts > 0] / counts.sum()
        return float(-(prob * np.log(prob)).sum())

    target = d.y if d.classification else binned(d.y)
    n_target = int(target.max()) + 1
    h_target = entropy(np.bincount(target))
    columns = [binned(d.num[:, j]) for j in range(d.num.shape[1])] + list(d.cats)
    scores = np.zeros(len(columns))
    for j, codes in enumerate(columns):
        joint = np.bincount(codes * n_target + target)
        h_attr = entropy(np.bincount(codes))
        mutual = h_attr + h_target - entropy(joint)
        scores[j] = 2.0 * mutual / (h_attr + h_target) if h_attr + h_target > 0 else 0.0
    return scores


def _trees(d: _Data, rng: np.random.Generator) -> _FoldFn:
    """The depth-1 tree family; all of them share one scan of the training fold."""
    n_attrs = d.n_attrs
    ranked = np.argsort(-_symmetric_uncertainty(d), kind="stable") if n_attrs else np.zeros(0, dtype=np.int64)
    random_attr = int(rng.integers(n_attrs)) if n_attrs else -1
    n_random = min(n_attrs, int(math.log2(n_attrs)) + 1) if n_attrs else 0

    def fit(train: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray]:
        scan = _scan(d, train)
        preds = {"DecisionStump": _stump(d, scan).predict(d, test)}
        if not n_attrs:
            return preds
        preds["BestNode"] = _node(d, scan, int(ranked[0])).predict(d, test)
        preds["WorstNode"] = _node(d, scan, int(ranked[-1])).predict(d, test)
        preds["RandomNode"] = _node(d, scan, random_attr).predict(d, test)
        preds["RandomTreeDepth1"] = _random_tree(d, scan, rng.choice(n_attrs, n_random, replace=False)).predict(d, test)
        preds["REPTreeDepth1"] = _rep_tree(d, scan, train, rng).predict(d, test)
        return preds

    return fit


def _random_tree(d: _Data, scan: _Scan, candidates: np.ndarray) -> _Node:
    """Weka RandomTree at depth 1: the best of a few random attributes, split only when it gains."""
    imp = _attr_impurities(d, scan)[candidates]
    best = int(np.argmin(imp))
    if not imp[best] < float(_impurity(scan.total, d.classification)) - 1e-9:
        return _leaf_node(d, scan.total)
    return _node(d, scan, int(candidates[best]))


def _rep_tree(d: _Data, scan: _Scan, train: np.ndarray, rng: np.random.Generator) -> _Node:
    """REPTree at depth 1: grow on 2/3 of the fold, reduced-error prune on 1/3, refit on the fold."""
    rows = np.flatnonzero(train)
    part = _assign_folds(d.y[rows] if d.classification else None, rows.size, 3, rng)
    grow = np.zeros(d.n, dtype=bool)
    grow[rows[part != 2]] = True
    prune = rows[part == 2]
    grown = _scan(d, grow)
    imp = _attr_impurities(d, grown)
    if not imp.size or not np.isfinite(imp.min()):
        return _leaf_node(d, scan.total)
    attr = int(np.argmin(imp))
    split, leaf = _node(d, grown, attr), _leaf_node(d, grown.total)
    if _loss(d, split.predict(d, prune), prune) >= _loss(d, leaf.predict(d, prune), prune):
        return _leaf_node(d, scan.total)
    if attr >= d.num.shape[1]:
        return _node(d, scan, attr)
    left = d.stats[train & (d.num[:, attr] <= split.threshold)].sum(axis=0)
    return _threshold_node(d, attr, split.threshold, left, scan.total)


def _loss(d: _Data, pred: np.ndarray, rows: np.ndarray) -> float:
    """Misclassifications (or squared error) of predictions on ``rows``."""
    if d.classification:
        return float(np.count_nonzero(np.argmax(pred, axis=1) != d.y[rows]))
    return float(np.sum((pred[:, 0] - d.y[rows]) ** 2))

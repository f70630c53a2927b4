"""Model-based meta-features: the shape of a decision tree fitted to the whole dataset.

A classification tree (Gini, grown until its leaves are pure) or a regression tree (squared
error, a split must remove at least ``REGRESSION_MIN_GAIN`` of the target's total variance, since a
fully grown regression tree has one leaf per distinct target value whatever the data) is fitted
with the context's seed. Numeric attributes keep their missing values (scikit-learn's trees route
them natively, ±inf counts as missing); nominal attributes are given as ordinal level codes.
To stay fast the tree sees at most ``max(MIN_ROWS, MAX_CELLS // attributes)`` rows, a seeded
random subsample beyond that (about 3,000 rows for 100 attributes).

Sizes are relative where they would otherwise grow with the row count: leaf sizes are
fractions of the rows the tree was fitted on. The mean attribute importance is always
1/attributes, so the spread (standard deviation) of the importances is reported instead.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from autometa.metafeatures._context import Context, run_guarded

NAME = "model_based"
EXPENSIVE = True

MAX_CELLS = 300_000
MIN_ROWS = 1_000
REGRESSION_MIN_GAIN = 1e-3

_COMMON = (
    "TreeNodes",
    "TreeLeaves",
    "TreeDepth",
    "TreeWidth",
    "TreeLeavesPerInstance",
    "TreeNodesPerAttribute",
    "TreeBranchLengthMin",
    "TreeBranchLengthMean",
    "TreeBranchLengthMax",
    "TreeBranchLengthStd",
    "TreeLeafSizeMin",
    "TreeLeafSizeMean",
    "TreeLeafSizeMax",
    "TreeAttributesUsedFraction",
    "TreeImportanceMax",
    "TreeImportanceStd",
)


def names(task: str) -> list[str]:
    """The keys :func:`compute` returns for ``task``."""
    if task == "regression":
        return list(_COMMON)
    return [*_COMMON, "TreeLeafPurityMean"]


def compute(ctx: Context) -> dict[str, float]:
    """Structure of a seeded decision tree fitted on the context's data.

    NaN when there is nothing to fit (no attribute, no row with a target); never raises: an error
    while fitting or describing the tree is recorded with :meth:`Context.fail` (values NaN).
    """
    return run_guarded(ctx, names(ctx.task), lambda out: out.update(_describe_tree(ctx)))


def _encode(ctx: Context, rows: np.ndarray) -> np.ndarray:
    """Float matrix of the given rows: numeric values (NaN for missing/inf), then nominal level codes."""
    numeric = ctx.numeric_matrix()[rows]
    nominal = [np.where(codes >= 0, codes, np.nan) for codes in (ctx.codes(col)[rows] for col in ctx.categorical)]
    return np.column_stack([numeric, *nominal]) if nominal else numeric


def _fit(ctx: Context) -> Optional[tuple[DecisionTreeClassifier | DecisionTreeRegressor, int, int]]:
    """Fit the tree; returns it with the number of rows and attributes it saw (None: nothing to fit)."""
    classification = ctx.task != "regression"
    if classification:
        y = ctx.class_codes()
        keep = y >= 0
    else:
        y = pd.to_numeric(ctx.y, errors="coerce").to_numpy(np.float64, na_value=np.nan)
        keep = np.isfinite(y)
    rows = np.flatnonzero(keep)
    n_attrs = ctx.X.shape[1]
    cap = max(MIN_ROWS, MAX_CELLS // max(n_attrs, 1))
    if rows.size > cap:
        rows = np.sort(ctx.rng().choice(rows, cap, replace=False))
    if rows.size == 0 or n_attrs == 0:  # expected NaN, not a failure
        return None
    X = _encode(ctx, rows)
    if classification:
        model = DecisionTreeClassifier(random_state=ctx.seed)
    else:
        min_gain = REGRESSION_MIN_GAIN * float(np.var(y[rows]))
        model = DecisionTreeRegressor(random_state=ctx.seed, min_impurity_decrease=min_gain)
    model.fit(X, y[rows])
    return model, rows.size, n_attrs


def _describe_tree(ctx: Context) -> dict[str, float]:
    fitted = _fit(ctx)
    if fitted is None:
        return {}
    model, n_rows, n_attrs = fitted
    tree = model.tree_
    is_leaf = tree.children_left == -1
    depth = tree.compute_node_depths() - 1  # the root is at depth 0
    leaf_depth = depth[is_leaf].astype(np.float64)
    leaf_size = tree.n_node_samples[is_leaf] / n_rows
    used = np.unique(tree.feature[~is_leaf])
    importance = model.feature_importances_
    values = {
        "TreeNodes": float(tree.node_count),
        "TreeLeaves": float(is_leaf.sum()),
        "TreeDepth": float(depth.max()),
        "TreeWidth": float(np.bincount(depth).max()),
        "TreeLeavesPerInstance": float(is_leaf.sum()) / n_rows,
        "TreeNodesPerAttribute": tree.node_count / n_attrs,
        "TreeBranchLengthMin": float(leaf_depth.min()),
        "TreeBranchLengthMean": float(leaf_depth.mean()),
        "TreeBranchLengthMax": float(leaf_depth.max()),
        "TreeBranchLengthStd": float(leaf_depth.std()),
        "TreeLeafSizeMin": float(leaf_size.min()),
        "TreeLeafSizeMean": float(leaf_size.mean()),
        "TreeLeafSizeMax": float(leaf_size.max()),
        "TreeAttributesUsedFraction": used.size / n_attrs,
        "TreeImportanceMax": float(importance.max()),
        "TreeImportanceStd": float(importance.std()),
    }
    if ctx.task != "regression":
        # scikit-learn stores each node's class distribution as fractions
        values["TreeLeafPurityMean"] = float(tree.value[is_leaf, 0, :].max(axis=1).mean())
    return values

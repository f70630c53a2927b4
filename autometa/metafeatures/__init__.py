"""Meta-features: numbers that describe a dataset, so that past experiments can be matched to it.

:func:`describe` computes the requested groups and returns a :class:`MetaFeatures` with a flat
``name -> value`` dict (NaN where a quantity is undefined) plus a record of how each group ran.
Each group is a module exposing ``NAME``, ``EXPENSIVE``, ``names(task)`` and
``compute(ctx) -> dict``. Cheap groups see every row; expensive ones (landmarking, model-based)
see a stratified (classification) or random (regression) subsample of at most ``max_rows`` rows.
Every group gets ``time_budget`` seconds; a group that runs out returns what it has (the rest
NaN) and is listed in ``cut_short``. A group that raises, or a part of one that raises (a
landmarker), is listed in ``failed`` (group -> message; its values NaN) and logged as a warning
on the ``autometa.metafeatures`` logger (the traceback at DEBUG level): a value that is NaN
because it is undefined for the data (no numeric column, a constant column) is not a failure.
"""
from __future__ import annotations

import importlib
import logging
import math
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterable, Optional, Union

import numpy as np
import pandas as pd

from autometa.errors import ConfigError
from autometa.metafeatures._context import Context
from autometa.space import TASKS

if TYPE_CHECKING:  # pragma: no cover
    from autometa.data import Dataset

__all__ = [
    "GROUPS",
    "TASKS",
    "MetaFeatures",
    "describe",
    "describe_dataset",
    "extract_metafeatures",
    "group_names",
    "parse_groups",
    "stratified_subsample",
]

logger = logging.getLogger(__name__)

GROUPS = ("general", "statistical", "infotheory", "landmarking", "model_based")


@dataclass
class MetaFeatures:
    """Result of :func:`describe`: values plus how each group was computed."""

    values: dict[str, float]
    task: str
    n_rows_used: dict[str, int] = field(default_factory=dict)
    subsampled: list[str] = field(default_factory=list)
    cut_short: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    #: group -> what raised (``Type: message``; ``part: Type: message`` per failing landmarker,
    #: joined by ``; ``); empty when every value is either computed or undefined for the data
    failed: dict[str, str] = field(default_factory=dict)
    #: group -> the names it reports, in order (for display grouped by group)
    names_by_group: dict[str, list[str]] = field(default_factory=dict)


def _module(group: str) -> ModuleType:
    """Import a group's module lazily (landmarking/model_based may be absent)."""
    return importlib.import_module(f"autometa.metafeatures.{group}")


def parse_groups(groups: Union[None, str, Iterable[str]]) -> tuple[str, ...]:
    """Validate a group selection (None = all; a comma-separated string or an iterable)."""
    if groups is None:
        return GROUPS
    items = groups.split(",") if isinstance(groups, str) else list(groups)
    chosen: list[str] = []
    for g in (str(i).strip() for i in items):
        if not g:
            continue
        if g not in GROUPS:
            raise ConfigError(f"unknown meta-feature group {g!r}; choose from {', '.join(GROUPS)}")
        if g not in chosen:
            chosen.append(g)
    if not chosen:
        raise ConfigError(f"no meta-feature group selected; choose from {', '.join(GROUPS)}")
    return tuple(chosen)


def group_names(group: str, task: str) -> list[str]:
    """The names ``group`` reports for ``task`` (raises ImportError if its module is absent)."""
    return list(_module(group).names(task))


def stratified_subsample(y: pd.Series, task: str, max_rows: int, seed: int,
                         min_class_rows: int = 1) -> Optional[np.ndarray]:
    """Sorted row positions of a subsample of at most ``max_rows`` rows, or None if all fit.

    The one stratified subsample of the project (the metabase build and benchmark call it).
    Classification: per-class quotas proportional to class size (largest remainders), each
    present class keeping at least ``min(its rows, min_class_rows)`` rows (at least one, so no
    class is lost) while ``max_rows`` allows. Regression: uniform.
    """
    n = len(y)
    if n <= max_rows:
        return None
    rng = np.random.default_rng(seed)
    if task == "regression":
        return np.sort(rng.choice(n, size=max_rows, replace=False))
    labels = y if isinstance(y.dtype, pd.CategoricalDtype) else y.astype("category")
    codes = labels.cat.codes.to_numpy(dtype=np.int64)
    strata, inverse = np.unique(codes, return_inverse=True)  # missing labels (-1) form a stratum
    sizes = np.bincount(inverse)
    exact = sizes * (max_rows / n)
    quota = np.floor(exact).astype(np.int64)
    floor = np.minimum(sizes, max(1, int(min_class_rows)))
    if max_rows >= floor.sum():
        quota = np.maximum(quota, floor)
    elif max_rows >= len(strata):
        quota = np.maximum(quota, 1)
    # fix the total: give spare rows to the largest remainders, take excess from the largest quotas
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    i = 0
    while quota.sum() < max_rows:
        j = order[i % len(order)]
        if quota[j] < sizes[j]:
            quota[j] += 1
        i += 1
    while quota.sum() > max_rows:
        quota[int(np.argmax(quota))] -= 1
    picked = [
        rng.choice(np.flatnonzero(inverse == s), size=int(q), replace=False)
        for s, q in enumerate(quota)
        if q > 0
    ]
    return np.sort(np.concatenate(picked))


def _check_options(max_rows: Optional[int], time_budget: Optional[float]) -> None:
    if max_rows is not None and (not isinstance(max_rows, (int, np.integer)) or max_rows < 1):
        raise ConfigError(f"max_rows must be a positive integer (got {max_rows!r})")
    if time_budget is not None and not (isinstance(time_budget, (int, float)) and time_budget > 0):
        raise ConfigError(f"time_budget must be a positive number of seconds (got {time_budget!r})")


def describe_dataset(
    ds: "Dataset",
    *,
    groups: Union[None, str, Iterable[str]] = None,
    seed: int = 0,
    max_rows: Optional[int] = 10_000,
    time_budget: Optional[float] = 10.0,
) -> MetaFeatures:
    """Compute meta-features of an already-typed dataset (``autometa.data.Dataset``).

    ``ds.X`` must hold float64 numeric and ``category`` columns, ``ds.y`` a ``category``
    (classification) or float64 (regression) Series; ``ds.task`` one of :data:`TASKS`.
    """
    chosen = parse_groups(groups)
    _check_options(max_rows, time_budget)
    task = ds.task
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
    X, y = ds.X, ds.y
    result = MetaFeatures(values={}, task=task)

    full = Context(X=X, y=y, task=task, seed=seed)
    sub: Optional[Context] = None  # built on first use, shared by the expensive groups

    for group in chosen:
        try:
            module = _module(group)
            group_keys = list(module.names(task))
        except Exception as exc:  # missing or broken module: no names to report
            result.failed[group] = f"group unavailable: {type(exc).__name__}: {exc}"
            logger.warning("meta-feature group %s failed: %s", group, result.failed[group])
            result.names_by_group[group] = []
            result.seconds[group] = 0.0
            continue
        result.names_by_group[group] = group_keys
        ctx = full
        if getattr(module, "EXPENSIVE", False):
            if sub is None:
                rows = None if max_rows is None else stratified_subsample(y, task, int(max_rows), seed)
                sub = full if rows is None else Context(
                    X=X.iloc[rows].reset_index(drop=True), y=y.iloc[rows].reset_index(drop=True),
                    task=task, seed=seed,
                )
            ctx = sub
            if ctx is not full:
                result.subsampled.append(group)
        ctx.cut_short = False
        ctx.failures = []
        start = time.monotonic()
        ctx.deadline = None if time_budget is None else start + float(time_budget)
        try:
            got: dict[str, Any] = module.compute(ctx) or {}
        except Exception as exc:  # a group must never take the others down
            got = {}
            ctx.fail(exc)
        if ctx.failures:
            result.failed[group] = "; ".join(ctx.failures)
            logger.warning("meta-feature group %s failed: %s", group, result.failed[group])
        result.seconds[group] = time.monotonic() - start
        result.n_rows_used[group] = len(ctx.X)
        if ctx.cut_short:
            result.cut_short.append(group)
        for key in group_keys:
            result.values[key] = _as_float(got.get(key))
    return result


def _as_float(value: Any) -> float:
    """A float for a reported value (None, non-numeric or inf become NaN)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return out if math.isfinite(out) else float("nan")


def describe(
    X: Any,
    y: Any,
    task: Optional[str] = None,
    *,
    groups: Union[None, str, Iterable[str]] = None,
    seed: int = 0,
    max_rows: Optional[int] = 10_000,
    time_budget: Optional[float] = 10.0,
) -> MetaFeatures:
    """Compute meta-features of ``X`` (DataFrame or array) and target ``y``.

    The data are typed with :func:`autometa.data.from_xy` (task inferred when ``task`` is None).
    ``groups``: names from :data:`GROUPS` (list or comma-separated; None = all). ``max_rows``:
    row cap for the expensive groups (None = no cap). ``time_budget``: seconds per group (None =
    unlimited). Deterministic for a given ``seed``.
    """
    from autometa.data import from_xy  # lazy: keeps this package importable on its own

    ds = from_xy(X, y, task=task)
    return describe_dataset(ds, groups=groups, seed=seed, max_rows=max_rows, time_budget=time_budget)


def extract_metafeatures(X: Any, y: Any, task: Optional[str] = None, **kw: Any) -> dict[str, float]:
    """The flat ``name -> value`` dict of :func:`describe` (NaN where undefined)."""
    return describe(X, y, task, **kw).values

"""The prepared view of a dataset that every meta-feature group computes from."""
from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


@dataclass
class Context:
    """Inputs of one meta-feature group.

    ``X`` holds float64 numeric columns and pandas ``category`` columns (missing values as NaN);
    ``y`` is a ``category`` Series for classification and float64 for regression. ``deadline``
    is a ``time.monotonic()`` instant after which a group should stop and set ``cut_short``.
    ``failures`` lists what raised while the group ran (see :meth:`fail`): a value left NaN
    because it is undefined for the data is not a failure, one left NaN by an exception is.
    """

    X: pd.DataFrame
    y: pd.Series
    task: str  # "binary" | "multiclass" | "regression"
    seed: int = 0
    deadline: Optional[float] = None
    cut_short: bool = False
    failures: list[str] = field(default_factory=list)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def numeric(self) -> list[str]:
        """Names of numeric columns."""
        return [c for c in self.X.columns if not isinstance(self.X[c].dtype, pd.CategoricalDtype)]

    @property
    def categorical(self) -> list[str]:
        """Names of categorical (nominal/boolean) columns."""
        return [c for c in self.X.columns if isinstance(self.X[c].dtype, pd.CategoricalDtype)]

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    def time_left(self) -> float:
        """Seconds until the deadline (inf when there is none)."""
        if self.deadline is None:
            return float("inf")
        return self.deadline - time.monotonic()

    def expired(self) -> bool:
        """True (and ``cut_short`` set) once the deadline has passed."""
        if self.time_left() <= 0:
            self.cut_short = True
            return True
        return False

    def fail(self, exc: BaseException, part: Optional[str] = None) -> None:
        """Record that the group (or ``part`` of it, e.g. one landmarker) raised ``exc``.

        Its values stay NaN; :func:`autometa.metafeatures.describe_dataset` reports the failures
        in ``MetaFeatures.failed``. The traceback is logged at DEBUG level.
        """
        message = f"{type(exc).__name__}: {exc}"
        self.failures.append(message if part is None else f"{part}: {message}")
        logger.debug("meta-feature computation failed%s", f" ({part})" if part else "", exc_info=exc)

    def rng(self) -> np.random.Generator:
        """A fresh generator seeded from ``seed`` (same draws on every call)."""
        return np.random.default_rng(self.seed)

    # ------------------------------------------------------------------ cached views
    # Several groups need the same arrays; building them once per Context keeps the cheap
    # groups vectorised and fast. All helpers return read-only views shared between groups.

    def cached(self, key: str, build: Callable[[], Any]) -> Any:
        """Return ``build()``, computed once per Context under ``key``."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def numeric_matrix(self) -> np.ndarray:
        """Numeric columns as an ``(n, p)`` float64 array; missing and ±inf become NaN."""

        def build() -> np.ndarray:
            cols = self.numeric
            if not cols:
                return np.empty((len(self.X), 0), dtype=np.float64)
            # one 2-D block (usually a view of X's float block), column-major for fast column ops
            arr = np.asfortranarray(self.X[cols].to_numpy(dtype=np.float64, na_value=np.nan))
            infinite = np.isinf(arr)
            if infinite.any():
                arr = arr.copy(order="F")  # never write into the caller's data
                arr[infinite] = np.nan
            arr = arr.view()
            arr.flags.writeable = False
            return arr

        return self.cached("numeric_matrix", build)

    def codes(self, column: str) -> np.ndarray:
        """Integer category codes of a categorical column (``-1`` where missing)."""
        return self.cached(
            f"codes:{column}",
            lambda: np.asarray(self.X[column].cat.codes, dtype=np.int64),
        )

    def n_levels(self, column: str) -> int:
        """Number of categories declared by a categorical column's dtype (used or not)."""
        return len(self.X[column].dtype.categories)

    def class_codes(self) -> np.ndarray:
        """Integer class codes of ``y`` for classification (``-1`` where missing)."""
        if not self.is_classification:
            raise ValueError("class codes are only defined for classification tasks")

        def build() -> np.ndarray:
            y = self.y
            if not isinstance(y.dtype, pd.CategoricalDtype):
                y = y.astype("category")
            return np.asarray(y.cat.codes, dtype=np.int64)

        return self.cached("class_codes", build)

    def class_counts(self) -> np.ndarray:
        """Rows per observed class (classes without rows left out), in code order."""

        def build() -> np.ndarray:
            codes = self.class_codes()
            counts = np.bincount(codes[codes >= 0]) if (codes >= 0).any() else np.zeros(0, int)
            return counts[counts > 0]

        return self.cached("class_counts", build)


Stage = Callable[[Context], dict]


def run_stages(ctx: Context, stages: Iterable[Stage]) -> dict[str, float]:
    """Run a group's stages in order, stopping (with ``ctx.cut_short`` set) at the deadline.

    The first stage always runs so a group returns something even under a tiny budget; the
    names of skipped stages are simply absent, and the orchestrator reports them as NaN.
    """
    out: dict[str, float] = {}
    for i, stage in enumerate(stages):
        if i > 0 and ctx.expired():
            break
        out.update(stage(ctx))
    return out


def run_guarded(ctx: Context, names: list[str], fill: Callable[[dict[str, float]], None]) -> dict[str, float]:
    """Run an expensive group that must never break :func:`~autometa.metafeatures.describe`.

    Every key of ``names`` starts as NaN; past the deadline nothing runs. ``fill`` sets the values
    it can, with warnings and floating-point errors silenced; an exception from it is recorded
    with :meth:`Context.fail` (the values set before it are kept) instead of being raised.
    """
    out = {key: math.nan for key in names}
    if ctx.expired():
        return out
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            fill(out)
    except Exception as exc:  # a meta-feature group must never break describe()
        ctx.fail(exc)
    return out

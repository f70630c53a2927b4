"""The prepared view of a dataset that every meta-feature group computes from."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd


@dataclass
class Context:
    """Inputs of one meta-feature group.

    ``X`` holds float64 numeric columns and pandas ``category`` columns (missing values as NaN);
    ``y`` is a ``category`` Series for classification and float64 for regression. ``deadline``
    is a ``time.monotonic()`` instant after which a group should stop and set ``cut_short``.
    """

    X: pd.DataFrame
    y: pd.Series
    task: str  # "binary" | "multiclass" | "regression"
    seed: int = 0
    deadline: Optional[float] = None
    cut_short: bool = False
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

    def rng(self) -> np.random.Generator:
        """A fresh generator seeded from ``seed`` (same draws on every call)."""
        return np.random.default_rng(self.seed)

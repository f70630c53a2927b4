"""Nearest datasets: start where the most similar past datasets did best (auto-sklearn 1.0 style).

Datasets are compared on scaled meta-features (:class:`~autometa.metalearn.features.MetaFeatureScaler`)
by the mean absolute difference per feature (an L1 distance divided by the number of features,
so it reads "typical gap in robust standard deviations"). The recommendation interleaves the
best configurations of the ``k`` nearest datasets: the best of the nearest, the best of the
second nearest, ..., then each one's second best, skipping configurations already taken.

The estimate of a configuration's normalised score on the new dataset is the mean of its scores
on the ``k`` nearest datasets weighted by ``1 / (distance + EPS)``. A dataset farther from its
nearest neighbour than any training dataset is from its own (:attr:`NearestDatasets.novelty_distance`)
is flagged as novel: the combined method then leans on the portfolio.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EPS", "NearestDatasets"]

EPS = 0.05


@dataclass
class NearestDatasets:
    """Scaled meta-feature table of the training datasets with their normalised scores."""

    dataset_ids: list[str]
    names: list[str]
    table: np.ndarray  # datasets x features, scaled
    normalised: np.ndarray  # datasets x configurations
    k: int
    novelty_distance: float

    @classmethod
    def fit(cls, table: np.ndarray, normalised: np.ndarray, dataset_ids: list[str], names: list[str],
            k: int = 5) -> "NearestDatasets":
        """Index the training datasets; ``novelty_distance`` is the largest nearest-neighbour gap among them."""
        table = np.asarray(table, dtype=np.float64)
        novelty = float("inf")
        if len(table) > 1:
            d = np.abs(table[:, None, :] - table[None, :, :]).mean(axis=2) if table.shape[1] else \
                np.zeros((len(table), len(table)))
            np.fill_diagonal(d, np.inf)
            novelty = float(d.min(axis=1).max())
        return cls(list(dataset_ids), list(names), table, np.asarray(normalised, dtype=np.float64),
                   max(1, min(int(k), len(table))), novelty)

    def distances(self, x: np.ndarray) -> np.ndarray:
        """Distance of a scaled meta-feature vector to every training dataset."""
        if not self.table.shape[1]:
            return np.zeros(len(self.table))
        return np.abs(self.table - np.asarray(x, dtype=np.float64)[None, :]).mean(axis=1)

    def neighbours(self, x: np.ndarray, k: int | None = None) -> list[tuple[int, float]]:
        """``(row, distance)`` of the ``k`` nearest training datasets, nearest first (ties: row order)."""
        d = self.distances(x)
        order = np.argsort(d, kind="stable")[: (self.k if k is None else max(1, int(k)))]
        return [(int(i), float(d[i])) for i in order]

    def ranking(self, x: np.ndarray, k: int | None = None) -> list[int]:
        """Configuration columns interleaved from the nearest datasets' best-first lists."""
        lists = [np.argsort(-self.normalised[i], kind="stable") for i, _ in self.neighbours(x, k)]
        seen: set[int] = set()
        out: list[int] = []
        for depth in range(self.normalised.shape[1]):
            for ranked in lists:
                c = int(ranked[depth])
                if c not in seen:
                    seen.add(c)
                    out.append(c)
        return out

    def estimate(self, x: np.ndarray, k: int | None = None) -> np.ndarray:
        """Distance-weighted mean normalised score of every configuration over the nearest datasets."""
        nb = self.neighbours(x, k)
        w = np.array([1.0 / (d + EPS) for _, d in nb])
        rows = self.normalised[[i for i, _ in nb]]
        return (w[:, None] * rows).sum(axis=0) / w.sum()

    def is_novel(self, x: np.ndarray) -> bool:
        """Whether ``x`` is farther from its nearest training dataset than any training dataset is from its own."""
        return bool(self.distances(x).min() > self.novelty_distance) if len(self.table) else True

"""How much the nearest training datasets can be trusted for a new dataset.

The combined method leans on the nearest training datasets. That helps when they are close and
agree about what works; when they are far, or when each of them wants something else, their
best configurations are a guess and the greedy portfolio (the configurations that minimise
regret across *all* training datasets) is the safer start. Two signals, over the ``k`` nearest
training datasets (``k`` of the nearest-datasets index):

* **distance ratio** -- the mean distance of the ``k`` nearest, divided by the *typical* value
  of the same quantity for a training dataset (the median over the training datasets, each
  compared with the training datasets outside its own family, so a copy does not make the
  typical distance look small);
* **agreement** -- how well the neighbours' best configurations carry over to each other: for
  each neighbour its best configuration's normalised score on each of the other neighbours,
  averaged (1 = every neighbour's best is also the best on the others; the scores are
  normalised per dataset to [0, 1] between the worst and the best candidate).

The confidence is **low** when the ratio exceeds ``max_distance_ratio`` or the agreement falls
below ``min_agreement``; :meth:`autometa.metalearn.MetaModel.rank` then starts from the
portfolio and says why in a note. Thresholds and typical values are stored in the model bundle
(``bundle.json``, plain JSON); a bundle without them (written before they existed) gets the
typical values recomputed from its nearest-datasets index and the default thresholds.

The default thresholds come from the leave-family-out study ``benchmarks/confidence.py``
(``benchmarks/results/confidence.md``, 317 held-out datasets of the shipped metabase): where the
ratio exceeds 1.5 (7% of the datasets) the portfolio's first 1 / 3 / 10 configurations beat the
combined method's (best normalised score +0.022 / +0.017 / +0.005), below that the combined method
is better. Low agreement, by this measure or by the rank correlation of the neighbours' scores,
did *not* favour the portfolio -- on the least agreeing 5-20% the combined method still did
better at every depth -- so the agreement gate is off by default (``min_agreement = 0``; the
agreement is a mean of scores in [0, 1], never below 0). It is still computed and reported, and
``train(min_agreement=...)`` switches it on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from autometa.metalearn.knn import NearestDatasets

__all__ = ["DEFAULT_MAX_DISTANCE_RATIO", "DEFAULT_MIN_AGREEMENT", "Assessment", "Confidence", "agreement"]

#: nearest datasets farther than this multiple of the typical distance are "far"
DEFAULT_MAX_DISTANCE_RATIO = 1.5
#: neighbours whose best configurations score below this on each other "disagree" (0: never)
DEFAULT_MIN_AGREEMENT = 0.0


def agreement(normalised: np.ndarray, rows: Sequence[int]) -> float:
    """Mean normalised score of each row's best configuration on the other rows (NaN for < 2 rows)."""
    rows = [int(r) for r in rows]
    if len(rows) < 2:
        return math.nan
    sub = np.asarray(normalised, dtype=np.float64)[rows]
    best = np.argmax(sub, axis=1)
    on_others = sub[:, best]  # [j, i]: row j's score of row i's best configuration
    mask = ~np.eye(len(rows), dtype=bool)
    return float(on_others[mask].mean())


@dataclass
class Assessment:
    """What :meth:`Confidence.assess` found for one dataset."""

    distance: float  # mean distance of the k nearest training datasets
    typical_distance: float
    ratio: float
    agreement: float
    typical_agreement: float
    far: bool
    disagree: bool

    @property
    def low(self) -> bool:
        """Whether the nearest datasets should not be trusted."""
        return self.far or self.disagree

    def note(self) -> str:
        """Why the portfolio comes first ('' when the confidence is not low)."""
        reasons = []
        if self.far:
            reasons.append(f"nearest datasets are far (distance {self.distance:.2f} vs typical "
                           f"{self.typical_distance:.2f})")
        if self.disagree:
            reasons.append(f"nearest datasets disagree (their best configurations reach {self.agreement:.2f} "
                           f"of the best on each other vs typical {self.typical_agreement:.2f})")
        return f"{' and '.join(reasons)}: starting from the portfolio" if reasons else ""

    def to_dict(self) -> dict:
        """Plain dict (for Ranking.confidence)."""
        return {"distance": round(self.distance, 4), "typical_distance": round(self.typical_distance, 4),
                "ratio": round(self.ratio, 4), "agreement": round(self.agreement, 4),
                "typical_agreement": round(self.typical_agreement, 4), "far": self.far,
                "disagree": self.disagree, "low": self.low}


@dataclass
class Confidence:
    """Typical neighbour distance / agreement of the training datasets and the thresholds."""

    k: int
    typical_distance: float
    typical_agreement: float
    max_distance_ratio: float = DEFAULT_MAX_DISTANCE_RATIO
    min_agreement: float = DEFAULT_MIN_AGREEMENT

    @staticmethod
    def neighbourhoods(knn: NearestDatasets, families: Optional[Mapping[str, str]] = None,
                       k: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
        """Per training dataset: mean distance of its ``k`` nearest other-family training datasets
        and their agreement (NaN where fewer than 2 others exist)."""
        n = len(knn.table)
        k = knn.k if k is None else max(1, int(k))
        fam = [str((families or {}).get(d, d)) for d in knn.dataset_ids]
        dist = np.full(n, np.nan)
        agree = np.full(n, np.nan)
        for i in range(n):
            d = knn.distances(knn.table[i])
            others = np.array([j for j in range(n) if fam[j] != fam[i]], dtype=int)
            if not len(others):
                continue
            near = others[np.argsort(d[others], kind="stable")[:k]]
            dist[i] = float(d[near].mean())
            agree[i] = agreement(knn.normalised, near)
        return dist, agree

    @classmethod
    def fit(cls, knn: NearestDatasets, families: Optional[Mapping[str, str]] = None, *,
            max_distance_ratio: float = DEFAULT_MAX_DISTANCE_RATIO,
            min_agreement: float = DEFAULT_MIN_AGREEMENT) -> "Confidence":
        """Typical values from the training datasets (each against the others outside its family)."""
        dist, agree = cls.neighbourhoods(knn, families)
        typical_d = float(np.nanmedian(dist)) if np.isfinite(dist).any() else math.nan
        typical_a = float(np.nanmedian(agree)) if np.isfinite(agree).any() else math.nan
        return cls(k=knn.k, typical_distance=typical_d, typical_agreement=typical_a,
                   max_distance_ratio=float(max_distance_ratio), min_agreement=float(min_agreement))

    def assess(self, knn: NearestDatasets, x: np.ndarray) -> Assessment:
        """Distance ratio and agreement of ``x``'s ``k`` nearest training datasets."""
        nb = knn.neighbours(x, self.k)
        distance = float(np.mean([d for _, d in nb])) if nb else math.nan
        typical = self.typical_distance
        ratio = distance / typical if typical > 0 and math.isfinite(typical) else \
            (math.inf if distance > 0 else 1.0)
        agree = agreement(knn.normalised, [r for r, _ in nb])
        far = bool(math.isfinite(self.max_distance_ratio) and ratio > self.max_distance_ratio)
        disagree = bool(math.isfinite(agree) and agree < self.min_agreement)
        return Assessment(distance=distance, typical_distance=typical, ratio=ratio, agreement=agree,
                          typical_agreement=self.typical_agreement, far=far, disagree=disagree)

    def to_json(self) -> dict:
        """Plain-JSON form (stored per task kind in ``bundle.json``)."""
        return {"k": int(self.k), "typical_distance": self.typical_distance,
                "typical_agreement": self.typical_agreement, "max_distance_ratio": self.max_distance_ratio,
                "min_agreement": self.min_agreement}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], knn: NearestDatasets,
                  families: Optional[Mapping[str, str]] = None) -> "Confidence":
        """Inverse of :meth:`to_json`; what a bundle lacks is recomputed (typical values) or defaulted
        (thresholds), so bundles written before this existed still load."""
        obj = dict(obj or {})
        if not all(key in obj for key in ("typical_distance", "typical_agreement")):
            fitted = cls.fit(knn, families)
            obj.setdefault("typical_distance", fitted.typical_distance)
            obj.setdefault("typical_agreement", fitted.typical_agreement)
        return cls(k=int(obj.get("k", knn.k)), typical_distance=float(obj["typical_distance"]),
                   typical_agreement=float(obj["typical_agreement"]),
                   max_distance_ratio=float(obj.get("max_distance_ratio", DEFAULT_MAX_DISTANCE_RATIO)),
                   min_agreement=float(obj.get("min_agreement", DEFAULT_MIN_AGREEMENT)))

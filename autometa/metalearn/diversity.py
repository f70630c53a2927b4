"""Keep a top-k list of recommendations diverse.

Rule, applied while walking a method's preference order:

1. **No near-duplicates.** A configuration closer than ``MIN_DISTANCE`` to one already taken is
   skipped. Distance: configurations of different algorithms are infinitely apart; of the same
   algorithm, the root-mean-square difference of their hyperparameters in the unit encoding
   (:func:`autometa.space.encode`), a parameter present in only one of them counting as 1.
2. **More than one algorithm family.** At most ``ceil(k / 2)`` configurations of one algorithm,
   unless that algorithm is *dominant*: its best predicted normalised score beats every other
   algorithm's best by at least ``DOMINANCE_MARGIN`` (overwhelming evidence). Configurations
   held back by the cap fill the list at the end when nothing else is left (e.g. when only one
   algorithm suits the data), so the list is as long as the candidates allow.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from autometa import space

__all__ = ["MIN_DISTANCE", "DOMINANCE_MARGIN", "config_distance", "dominant_algorithm", "diversify"]

MIN_DISTANCE = 0.05
DOMINANCE_MARGIN = 0.25

_N_ALGOS = len(space.ALGORITHMS)


def config_distance(a: np.ndarray, b: np.ndarray, algo_a: str, algo_b: str) -> float:
    """Distance between two encoded configurations (inf across algorithms; see the module docstring)."""
    if algo_a != algo_b:
        return math.inf
    pa, pb = np.asarray(a)[_N_ALGOS:], np.asarray(b)[_N_ALGOS:]
    fa, fb = np.isfinite(pa), np.isfinite(pb)
    both = fa & fb
    diffs = np.concatenate([np.abs(pa[both] - pb[both]), np.ones(int((fa ^ fb).sum()))])
    return float(np.sqrt(np.mean(diffs ** 2))) if diffs.size else 0.0


def dominant_algorithm(candidates: Sequence[int], scores: np.ndarray, algorithms: Sequence[str],
                       margin: float = DOMINANCE_MARGIN) -> Optional[str]:
    """The algorithm whose best score beats every other algorithm's best by ``margin``, if any."""
    best: dict[str, float] = {}
    for i in candidates:
        s = float(scores[i]) if math.isfinite(float(scores[i])) else -math.inf
        best[algorithms[i]] = max(best.get(algorithms[i], -math.inf), s)
    if len(best) < 2:
        return None
    ranked = sorted(best.items(), key=lambda kv: -kv[1])
    return ranked[0][0] if ranked[0][1] - ranked[1][1] >= margin else None


def diversify(order: Sequence[int], scores: np.ndarray, algorithms: Sequence[str], encodings: np.ndarray,
              k: int, *, min_distance: float = MIN_DISTANCE, margin: float = DOMINANCE_MARGIN) -> list[int]:
    """Up to ``k`` candidate indices from ``order`` obeying the diversity rule.

    ``scores`` (predicted normalised score), ``algorithms`` and ``encodings`` are indexed by candidate.
    """
    cap = max(1, math.ceil(k / 2))
    dominant = dominant_algorithm(order, scores, algorithms, margin)
    picked: list[int] = []
    held: list[int] = []
    counts: dict[str, int] = {}

    def near_duplicate(i: int) -> bool:
        return any(config_distance(encodings[i], encodings[j], algorithms[i], algorithms[j]) < min_distance
                   for j in picked)

    for i in order:
        if len(picked) >= k:
            break
        if near_duplicate(i):
            continue
        algo = algorithms[i]
        if counts.get(algo, 0) >= cap and algo != dominant:
            held.append(i)
            continue
        picked.append(i)
        counts[algo] = counts.get(algo, 0) + 1
    for i in held:
        if len(picked) >= k:
            break
        if not near_duplicate(i):
            picked.append(i)
    return picked

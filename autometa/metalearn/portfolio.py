"""Greedy portfolio: configurations that are good together across the training datasets.

A portfolio's value on a dataset is the best normalised score among its members (the search
will try all of them, so only the best counts); its **regret** is ``1 - value`` averaged over
the training datasets. Configurations are added one by one, each time the one that lowers the
mean regret most (ties: the higher mean normalised score, then the earlier candidate). The
value is monotone submodular, so the greedy order is within ``1 - 1/e`` of the best portfolio of
every size (Nemhauser et al., 1978); in practice it is close to optimal (Feurer et al., 2018,
"Practical automated machine learning for the AutoML challenge 2018").

Once regret reaches 0 every further gain is 0 and the remaining configurations follow by mean
normalised score, so the order ranks the whole candidate set. The portfolio uses no
dataset-specific signal beyond its size: it is the answer for a dataset unlike any seen in training.

**Sized portfolio.** What wins depends on how many rows the model is fitted on: on a few hundred
rows a regularised linear model is rarely far from the best, on 5,000 boosting with more
capacity wins. The stored order weighs every training dataset alike; :func:`sized_order`
recomputes it for a target size, each training dataset weighted by a Gaussian in log10 of the
rows its runs used (:data:`SIZE_BANDWIDTH` = 1 decade). Leave-family-out on the shipped metabase
(``benchmarks/sized_portfolio.py``, ``benchmarks/results/sized_portfolio.md``), on the 57
held-out 5,000-row runs it lifted the first pick from 0.44 to 0.66 and the best of the first three
from 0.75 to 0.86 (1 = the best configuration run there, 0 = the median one); below 1,000 rows
the first pick was 0.03-0.05 lower and the best of ten about the same.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

__all__ = ["SIZE_BANDWIDTH", "SIZED_DEPTH", "Portfolio", "greedy_portfolio", "portfolio_regret", "size_weights",
           "sized_order"]

#: width (decades of rows) of the size kernel of :func:`size_weights`
SIZE_BANDWIDTH = 1.0
#: how many configurations :func:`sized_order` orders greedily (the rest by weighted mean score)
SIZED_DEPTH = 30


def portfolio_regret(normalised: np.ndarray, members: list[int]) -> float:
    """Mean over datasets of ``1 - max`` normalised score among ``members`` (1.0 when empty)."""
    if not members:
        return 1.0
    return float(np.mean(1.0 - np.asarray(normalised)[:, members].max(axis=1)))


def greedy_portfolio(normalised: np.ndarray, size: int | None = None,
                     weights: np.ndarray | None = None) -> tuple[list[int], list[float]]:
    """Greedy order of configuration columns and the (weighted) mean regret after each addition.

    ``normalised``: datasets x configurations in [0, 1]. ``size``: how many to order (default all).
    ``weights``: one non-negative weight per dataset (default equal), e.g. :func:`size_weights`.
    """
    n = np.asarray(normalised, dtype=np.float64)
    n_cfg = n.shape[1]
    size = n_cfg if size is None else min(int(size), n_cfg)
    w = np.full(n.shape[0], 1.0 / max(n.shape[0], 1)) if weights is None else _unit(weights, n.shape[0])
    best = np.zeros(n.shape[0])
    mean_score = w @ n
    chosen: list[int] = []
    regrets: list[float] = []
    available = np.ones(n_cfg, dtype=bool)
    for _ in range(size):
        value = w @ np.maximum(n, best[:, None])
        value = np.round(value, 12)  # float noise must not decide between equal portfolios
        value[~available] = -np.inf
        top = value.max()
        ties = np.flatnonzero(value == top)
        pick = int(ties[np.argmax(mean_score[ties])])  # argmax returns the first of equal means
        chosen.append(pick)
        available[pick] = False
        best = np.maximum(best, n[:, pick])
        regrets.append(float(w @ (1.0 - best)))
    return chosen, regrets


def _unit(weights: np.ndarray, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be {n} finite non-negative numbers with a positive sum")
    return w / w.sum()


def size_weights(rows_used: np.ndarray, target_rows: float, bandwidth: float = SIZE_BANDWIDTH) -> np.ndarray:
    """Weight of each training dataset for a target searched on ``target_rows`` rows: a Gaussian
    in ``log10`` of the rows its runs used, ``bandwidth`` decades wide (unknown sizes weigh as
    the typical one). What wins on 200 rows is not what wins on 5,000 (see the module docstring)."""
    r = np.asarray(rows_used, dtype=np.float64)
    ok = np.isfinite(r) & (r > 0)
    logs = np.where(ok, np.log10(np.where(ok, r, 1.0)), np.nan)
    if not ok.any():
        return np.ones(len(r))
    logs = np.where(ok, logs, np.nanmedian(logs))
    return np.exp(-0.5 * ((logs - np.log10(max(float(target_rows), 1.0))) / float(bandwidth)) ** 2) + 1e-12


def sized_order(normalised: np.ndarray, rows_used: np.ndarray, target_rows: float, pool: list[int],
                depth: int = SIZED_DEPTH) -> tuple[list[int], np.ndarray]:
    """The greedy portfolio of the ``pool`` columns with training datasets weighted by
    :func:`size_weights` for ``target_rows``: the first ``depth`` greedily, the rest by weighted
    mean score; returns (column order, weighted mean score of every column)."""
    n = np.asarray(normalised, dtype=np.float64)
    w = _unit(size_weights(rows_used, target_rows), n.shape[0])
    mean = w @ n
    cols = np.asarray(pool, dtype=int)
    picked, _ = greedy_portfolio(n[:, cols], size=min(depth, len(cols)), weights=w)
    head = [int(cols[i]) for i in picked]
    taken = set(head)
    rest = sorted((int(c) for c in cols if int(c) not in taken), key=lambda c: (-mean[c], c))
    return head + rest, mean


@dataclass
class Portfolio:
    """The greedy order of the candidate configurations (ids) with the regret curve."""

    order: list[str]
    regret: list[float]
    mean_score: dict[str, float]

    @classmethod
    def fit(cls, normalised: np.ndarray, config_ids: list[str]) -> "Portfolio":
        """Order every candidate greedily on a datasets x configurations matrix."""
        idx, regrets = greedy_portfolio(normalised)
        means = np.asarray(normalised).mean(axis=0)
        return cls(order=[config_ids[i] for i in idx], regret=regrets,
                   mean_score={c: float(m) for c, m in zip(config_ids, means)})

    def to_json(self) -> dict:
        """Plain-JSON form."""
        return {"order": self.order, "regret": self.regret, "mean_score": self.mean_score}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "Portfolio":
        """Inverse of :meth:`to_json`."""
        order = [str(c) for c in obj["order"]]
        regret = [float(r) for r in obj["regret"]]
        if len(order) != len(regret):
            raise ValueError("portfolio order and regret curve differ in length")
        return cls(order=order, regret=regret, mean_score={str(k): float(v) for k, v in obj["mean_score"].items()})

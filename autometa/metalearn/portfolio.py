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
dataset-specific signal: it is the answer for a dataset unlike any seen in training.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

__all__ = ["Portfolio", "greedy_portfolio", "portfolio_regret"]


def portfolio_regret(normalised: np.ndarray, members: list[int]) -> float:
    """Mean over datasets of ``1 - max`` normalised score among ``members`` (1.0 when empty)."""
    if not members:
        return 1.0
    return float(np.mean(1.0 - np.asarray(normalised)[:, members].max(axis=1)))


def greedy_portfolio(normalised: np.ndarray, size: int | None = None) -> tuple[list[int], list[float]]:
    """Greedy order of configuration columns and the mean regret after each addition.

    ``normalised``: datasets x configurations in [0, 1]. ``size``: how many to order (default all).
    """
    n = np.asarray(normalised, dtype=np.float64)
    n_cfg = n.shape[1]
    size = n_cfg if size is None else min(int(size), n_cfg)
    best = np.zeros(n.shape[0])
    mean_score = n.mean(axis=0)
    chosen: list[int] = []
    regrets: list[float] = []
    available = np.ones(n_cfg, dtype=bool)
    for _ in range(size):
        value = np.maximum(n, best[:, None]).mean(axis=0)
        value = np.round(value, 12)  # float noise must not decide between equal portfolios
        value[~available] = -np.inf
        top = value.max()
        ties = np.flatnonzero(value == top)
        pick = int(ties[np.argmax(mean_score[ties])])  # argmax returns the first of equal means
        chosen.append(pick)
        available[pick] = False
        best = np.maximum(best, n[:, pick])
        regrets.append(float(np.mean(1.0 - best)))
    return chosen, regrets


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

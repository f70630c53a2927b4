"""Scores as a person reads them.

Scores are stored higher-is-better (:meth:`autometa.evaluate.Metric.score`: RMSE, MAE and the log
loss are negated). Everything shown to a person goes through these helpers instead, so that
``rmse 3.21 (lower is better)`` reads as the metric itself, never as ``-3.21``.
"""
from __future__ import annotations

import math
from typing import Any, Optional

__all__ = ["greater_is_better", "metric_direction", "metric_label", "metric_value", "format_score"]


def _metric(metric: Any) -> Any:
    """The :class:`~autometa.evaluate.Metric` of a name (or a Metric); None for an unknown name."""
    from autometa.evaluate import METRICS, Metric

    if isinstance(metric, Metric):
        return metric
    return METRICS.get(str(metric))


def _name(metric: Any) -> str:
    return str(getattr(metric, "name", metric))


def greater_is_better(metric: Any) -> bool:
    """Whether larger values of the metric itself are better (unknown names: True, as stored)."""
    m = _metric(metric)
    return True if m is None else bool(m.greater_is_better)


def metric_direction(metric: Any) -> str:
    """``"higher is better"`` or ``"lower is better"`` for the metric's own values."""
    return "higher is better" if greater_is_better(metric) else "lower is better"


def metric_label(metric: Any) -> str:
    """The metric with its direction, e.g. ``"rmse, lower is better"``."""
    return f"{_name(metric)}, {metric_direction(metric)}"


def metric_value(metric: Any, score: Optional[float]) -> float:
    """The metric's own value of a stored (higher-is-better) score: -(-rmse) = rmse; NaN stays NaN."""
    if score is None:
        return math.nan
    x = float(score)
    return x if greater_is_better(metric) else -x + 0.0  # + 0.0: a perfect loss reads 0, not -0


def format_score(metric: Any, score: Optional[float], std: Optional[float] = None,
                 digits: int = 4) -> str:
    """A stored score as the metric's own value, with ``± std`` when the std is finite.

    ``format_score("rmse", -3.21, 0.05)`` -> ``"3.2100 ± 0.0500"``; a NaN/None score -> ``"–"``.
    """
    value = metric_value(metric, score)
    if not math.isfinite(value):
        return "–"
    text = f"{value:.{digits}f}"
    if std is not None and math.isfinite(float(std)):
        text += f" ± {abs(float(std)):.{digits}f}"
    return text


"""Size adaptation: rescale size-dependent hyperparameters of a warm-start configuration.

The metabase evaluates every candidate on at most ``max_rows`` rows of each dataset (1,000 for the
shipped one), so a recommended configuration is "good at the neighbours' size". Some
hyperparameters mean different things at another size: a minimum leaf size of 20 is 2% of 1,000
rows but 0.02% of 100,000, and boosting on more data usually wants more rounds.
:func:`adapt_to_size` rescales them by the ratio of the new dataset's rows to the reference rows
(the rows the metabase's runs of the nearest datasets used, :func:`reference_rows`)::

    value' = clip(round(value * (n_rows / reference_rows) ** exponent), low, high)

with the exponents of :data:`SIZE_RULES` (1 for minimum leaf sizes, so a leaf keeps its share of
the rows; 1/2 for boosting rounds), in two groups (:data:`GROUPS`): ``"leaf"`` and ``"rounds"``.

Whether this helps was checked leave-family-out on the shipped metabase (the held-out datasets'
recommendations evaluated at 5,000 rows, adapted vs as recommended: ``benchmarks/size_adaptation.py``,
``benchmarks/results/size_adaptation.md``). :data:`DEFAULT_GROUPS` lists the groups that check
supports -- the ones a warm start adapts unless told otherwise
(``autometa.recommend.recommend_details(adapt_size=...)``).
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

from autometa import space

__all__ = ["SIZE_RULES", "GROUPS", "DEFAULT_GROUPS", "FALLBACK_MAX_ROWS", "adapt_to_size", "reference_rows",
           "resolve_groups"]

#: (algorithm, parameter) -> exponent of the size ratio
SIZE_RULES: dict[tuple[str, str], float] = {
    ("lightgbm", "min_child_samples"): 1.0,
    ("hist_gb", "min_samples_leaf"): 1.0,
    ("random_forest", "min_samples_leaf"): 1.0,
    ("extra_trees", "min_samples_leaf"): 1.0,
    ("lightgbm", "n_estimators"): 0.5,
    ("hist_gb", "max_iter"): 0.5,
}
#: named groups of :data:`SIZE_RULES` that are switched on together
GROUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "leaf": (("lightgbm", "min_child_samples"), ("hist_gb", "min_samples_leaf"),
             ("random_forest", "min_samples_leaf"), ("extra_trees", "min_samples_leaf")),
    "rounds": (("lightgbm", "n_estimators"), ("hist_gb", "max_iter")),
}
#: groups a warm start adapts by default: none -- in the leave-family-out check on the shipped
#: metabase (15 held-out datasets at 5,000 rows, ~7x the rows of the runs) both groups *lost*:
#: per changed configuration leaf -0.060 (95% interval -0.096 .. -0.024) and rounds -0.042
#: (-0.102 .. +0.028) normalised score, best-of-10 -0.002 / -0.016 (benchmarks/results/size_adaptation.md)
DEFAULT_GROUPS: tuple[str, ...] = ()
#: rows the runs of a training dataset used when a (pre-``rows_used``) model does not record them:
#: ``min(n_rows, FALLBACK_MAX_ROWS)``, the shipped metabase's ``--max-rows``
FALLBACK_MAX_ROWS = 1_000


def resolve_groups(groups: Any) -> tuple[str, ...]:
    """``True`` -> every group, ``False``/``None`` -> none, a name or names -> those (ConfigError if unknown)."""
    from autometa.errors import ConfigError

    if groups is None or groups is False:
        return ()
    if groups is True:
        return tuple(GROUPS)
    names = (groups,) if isinstance(groups, str) else tuple(groups)
    unknown = [g for g in names if g not in GROUPS]
    if unknown:
        raise ConfigError(f"unknown size-adaptation group(s) {', '.join(map(str, unknown))}; "
                          f"choose from {', '.join(GROUPS)} (or True for all)")
    return names


def adapt_to_size(config: Mapping[str, Any], n_rows: float, reference: float, task: str,
                  groups: Iterable[str] = tuple(GROUPS)) -> dict:
    """``config`` with the size-dependent parameters of ``groups`` rescaled from ``reference``
    rows to ``n_rows`` (see the module docstring); unchanged when either size is unknown."""
    config = space.validate_config(dict(config), task)
    if not (n_rows and reference and math.isfinite(n_rows) and math.isfinite(reference)
            and n_rows > 0 and reference > 0):
        return config
    ratio = float(n_rows) / float(reference)
    rules = {key for g in resolve_groups(tuple(groups)) for key in GROUPS[g]}
    algo = space.get_algorithm(config["algorithm"])
    params = dict(config["params"])
    for p in algo.params:
        key = (algo.name, p.name)
        if key not in rules or p.name not in params or p.kind not in ("int", "float"):
            continue
        value = float(params[p.name]) * ratio ** SIZE_RULES[key]
        value = min(max(value, float(p.low)), float(p.high))
        params[p.name] = int(round(value)) if p.kind == "int" else value
    return space.validate_config({"algorithm": algo.name, "params": params}, task)


def reference_rows(rows: Sequence[float], weights: Optional[Sequence[float]] = None) -> float:
    """Weighted geometric mean of training datasets' rows (NaN when none is known)."""
    r = np.asarray(rows, dtype=np.float64)
    w = np.ones_like(r) if weights is None else np.asarray(weights, dtype=np.float64)
    ok = np.isfinite(r) & (r > 0) & np.isfinite(w) & (w > 0)
    if not ok.any():
        return math.nan
    return float(np.exp(np.sum(w[ok] * np.log(r[ok])) / np.sum(w[ok])))

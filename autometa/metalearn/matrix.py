"""The performance matrix: datasets x shared candidate configurations, from the metabase tables.

Every dataset of a task kind was evaluated on the same candidate set, so the mean fold score
``P[dataset, config]`` is dense. Rules, applied per task kind:

* a configuration's score on a dataset is the mean of its fold ``score`` values (higher is better,
  over every fold and seed); when any of its folds did not finish (timeout / memout / crash, or a
  non-finite score) it counts as **failed**: raw score NaN, normalised score 0 (the worst);
* scores are normalised per dataset to ``[0, 1]`` between the worst and the best finished
  configuration (all finished ones tied -> 1), so datasets with different metrics and
  difficulties weigh the same;
* a (dataset, configuration) pair that was never run (an unfinished build, a configuration
  added to the candidates later, a larger fidelity that runs only a few) is **missing**: it takes
  that configuration's mean normalised score over the datasets that ran it, shrunk toward the
  dataset's own median score by :data:`PRIOR_DATASETS` pseudo-datasets (:func:`impute_missing`).
  Without the shrinkage a configuration run on 10 of 87 datasets, all of them ones it suits,
  looked best everywhere and headed every portfolio;
* datasets without a single finished configuration, and configurations run on no dataset, are
  left out;
* one protocol per dataset: each run row records how its score was estimated (``protocol``:
  ``autometa:cv<k>/<rows>`` for built runs, ``openml:<procedure>/<measure>`` for imported ones,
  see :mod:`autometa.metabase.store`). Scores of different protocols (other folds, another
  metric) are never averaged: a dataset's row uses its built runs when it has any, else the
  protocol covering the most configurations (:func:`autometa.metabase.store.choose_protocols`);
  its other runs are left out. Among a dataset's build fidelities the one on the most rows is
  used once it covers enough configurations (real-size runs describe how the data will be used);
  ``rows_used`` then says how many rows those runs saw.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np
import pandas as pd

from autometa import space
from autometa.errors import ConfigError
from autometa.metabase.store import one_protocol_per_dataset, protocol_rows

__all__ = ["PRIOR_DATASETS", "PerformanceMatrix", "build_matrix", "impute_missing", "normalise_scores"]

#: pseudo-datasets of "typical" evidence (the dataset's median score) a missing entry's estimate starts from
PRIOR_DATASETS = 10

MF_PREFIX = "mf_"


@dataclass
class PerformanceMatrix:
    """Scores of the shared candidate configurations on the training datasets of one task kind."""

    kind: str
    #: one row per dataset: dataset_id, name, task, checksum, n_rows, n_cols, rows_used (rows its runs
    #: used; absent from older model bundles), then raw meta-features (no ``mf_`` prefix)
    datasets: pd.DataFrame
    config_ids: list[str]
    configs: list[dict]
    #: mean fold score, NaN = failed or missing (D x C)
    raw: np.ndarray
    #: normalised score in [0, 1] (D x C), see the module docstring
    normalised: np.ndarray
    failed: np.ndarray
    missing: np.ndarray
    #: stored configurations left out because the current search space rejects them
    n_invalid: int = 0
    #: the run protocol each dataset row was scored under (row order)
    protocols: list[str] = field(default_factory=list)

    @property
    def dataset_ids(self) -> list[str]:
        """Dataset ids in row order."""
        return [str(v) for v in self.datasets["dataset_id"]]

    @property
    def algorithms(self) -> list[str]:
        """Algorithm of each configuration column."""
        return [c["algorithm"] for c in self.configs]


def normalise_scores(raw: np.ndarray) -> np.ndarray:
    """Per row, map finite scores to [0, 1] between the row's worst and best; NaN -> 0 (worst)."""
    raw = np.asarray(raw, dtype=np.float64)
    out = np.zeros_like(raw)
    for i, row in enumerate(raw):
        ok = np.isfinite(row)
        if not ok.any():
            continue
        lo, hi = float(row[ok].min()), float(row[ok].max())
        out[i, ok] = (row[ok] - lo) / (hi - lo) if hi > lo else 1.0
    return out


def impute_missing(normalised: np.ndarray, missing: np.ndarray, prior: float = PRIOR_DATASETS) -> np.ndarray:
    """``normalised`` with each missing entry set to ``(k * m_c + prior * med_d) / (k + prior)``:
    ``m_c`` the configuration's mean over the ``k`` datasets that ran it, ``med_d`` the median of
    the dataset's own finished entries (no evidence reads as a typical configuration)."""
    n = np.asarray(normalised, dtype=np.float64)
    missing = np.asarray(missing, dtype=bool)
    if not missing.any():
        return n
    ran = ~missing
    counts = ran.sum(axis=0).astype(np.float64)
    col_mean = np.where(counts > 0, np.where(ran, n, 0.0).sum(axis=0) / np.maximum(counts, 1), 0.0)
    with np.errstate(all="ignore"):
        row_median = np.nanmedian(np.where(ran, n, np.nan), axis=1)
    row_median = np.where(np.isfinite(row_median), row_median, 0.0)
    estimate = (counts[None, :] * col_mean[None, :] + prior * row_median[:, None]) / (counts[None, :] + prior)
    return np.where(missing, estimate, n)


def _kind_of(task: object) -> Optional[str]:
    try:
        return space.task_kind(str(task))
    except Exception:
        return None


def build_matrix(datasets: pd.DataFrame, configs: pd.DataFrame, runs: pd.DataFrame, kind: str,
                 exclude: Iterable[str] = ()) -> Optional[PerformanceMatrix]:
    """The matrix of one task kind from the metabase's three tables, ``exclude`` ids left out.

    Returns None when fewer than one dataset or configuration remains.
    """
    kind = space.task_kind(kind)
    excluded = {str(e) for e in exclude}
    if not len(datasets) or not len(configs) or not len(runs) or "score" not in runs.columns:
        return None
    ds = datasets[datasets["task"].map(_kind_of) == kind]
    ds = ds[~ds["dataset_id"].astype(str).isin(excluded)]
    cfg = configs[configs["task_kind"].astype(str) == kind].drop_duplicates("config_id")
    if not len(ds) or not len(cfg):
        return None

    r = runs[runs["dataset_id"].astype(str).isin(set(ds["dataset_id"].astype(str)))
             & runs["config_id"].astype(str).isin(set(cfg["config_id"].astype(str)))]
    if not len(r):
        return None
    r = one_protocol_per_dataset(r)
    protocol_of = dict(zip(r["dataset_id"].astype(str), r["protocol"].astype(str)))
    score = pd.to_numeric(r["score"], errors="coerce")
    good = (r["status"].astype(str) == "ok") & np.isfinite(score.to_numpy(dtype=np.float64, na_value=np.nan))
    frame = pd.DataFrame({"dataset_id": r["dataset_id"].astype(str), "config_id": r["config_id"].astype(str),
                          "score": score.where(good), "bad": ~good})
    agg = frame.groupby(["dataset_id", "config_id"], sort=False).agg(score=("score", "mean"), bad=("bad", "any"))
    agg.loc[agg["bad"], "score"] = np.nan

    ds_ids = sorted(set(ds["dataset_id"].astype(str)) & set(agg.index.get_level_values(0)))
    run_cfgs = set(agg.index.get_level_values(1))
    cfg = cfg[cfg["config_id"].astype(str).isin(run_cfgs)]
    # validated: parameters back in the search space's order (the store keeps sorted JSON); a
    # configuration the current space rejects (an older space) cannot be recommended: left out
    parsed, cfg_ids = [], []
    for cid, algo, params in zip(cfg["config_id"], cfg["algorithm"], cfg["params"]):
        given = json.loads(params) if isinstance(params, str) else dict(params or {})
        try:
            parsed.append(space.validate_config({"algorithm": str(algo), "params": given}, kind))
        except (ConfigError, ValueError):
            continue
        cfg_ids.append(str(cid))
    n_invalid = len(cfg) - len(cfg_ids)
    if not ds_ids or not cfg_ids:
        return None

    raw = agg["score"].unstack().reindex(index=ds_ids, columns=cfg_ids).to_numpy(dtype=np.float64)
    ran = agg["bad"].astype(float).unstack().reindex(index=ds_ids, columns=cfg_ids).notna().to_numpy()
    failed = ran & ~np.isfinite(raw)
    keep = np.isfinite(raw).any(axis=1)  # datasets with at least one finished configuration
    raw, ran, failed = raw[keep], ran[keep], failed[keep]
    ds_ids = [d for d, k in zip(ds_ids, keep) if k]
    if not ds_ids:
        return None
    normalised = impute_missing(normalise_scores(raw), ~ran)
    missing = ~ran

    table = ds.drop_duplicates("dataset_id")
    table = table.set_index(table["dataset_id"].astype(str).to_numpy()).loc[ds_ids]
    base = {"dataset_id": ds_ids}
    for col in ("name", "task", "checksum", "n_rows", "n_cols", "rows_used"):
        base[col] = table[col].to_numpy() if col in table.columns else [None] * len(ds_ids)
    mf = {c[len(MF_PREFIX):]: pd.to_numeric(table[c], errors="coerce").to_numpy(dtype=np.float64)
          for c in table.columns if str(c).startswith(MF_PREFIX)}
    caps = [protocol_rows(protocol_of[d]) for d in ds_ids]
    if any(c is not None for c in caps):  # the rows the chosen protocol's runs saw
        sizes = pd.to_numeric(pd.Series(base["n_rows"]), errors="coerce")
        used = pd.to_numeric(pd.Series(base["rows_used"]), errors="coerce")
        base["rows_used"] = [min(int(n), c) if c is not None and pd.notna(n) else u
                             for n, c, u in zip(sizes, caps, used)]
    out_ds = pd.concat([pd.DataFrame(base), pd.DataFrame(mf, index=range(len(ds_ids)))], axis=1)
    out_ds["name"] = out_ds["name"].astype(str)
    return PerformanceMatrix(kind=kind, datasets=out_ds, config_ids=cfg_ids, configs=parsed, raw=raw,
                             normalised=normalised, failed=failed, missing=missing, n_invalid=n_invalid,
                             protocols=[protocol_of[d] for d in ds_ids])

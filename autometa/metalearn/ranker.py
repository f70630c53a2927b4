"""Learned performance model: predicts a configuration's normalised score on a dataset.

One LightGBM model per task kind on rows ``[scaled meta-features of the dataset,
space.encode(config)]`` -> normalised score of that configuration on that dataset (one row per
training (dataset, configuration) pair). Unlike the nearest-datasets method it can interpolate
between datasets and score configurations never run (extra Sobol samples); unlike the portfolio
it uses the new dataset's meta-features.

Two objectives:

* ``"regression"`` (default): squared error on the normalised score; the prediction, clipped to
  [0, 1], is the estimate.
* ``"lambdarank"``: LambdaRank with one query group per training dataset and the normalised score
  graded into ``GRADES`` relevance levels (linear gains), so only the order within a dataset is
  learned; an isotonic map fitted on the training rows turns the ranking score back into an
  estimated normalised score.

The model is stored as LightGBM's text format (``Booster.save_model``), never pickled.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np

__all__ = ["GRADES", "OBJECTIVES", "PerformanceRanker"]

OBJECTIVES = ("regression", "lambdarank")
GRADES = 16


def _params(objective: str, n_rows: int, seed: int) -> dict[str, Any]:
    params: dict[str, Any] = {
        "objective": objective,
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_data_in_leaf": int(max(3, min(20, n_rows // 50))),
        "feature_fraction": 0.9,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "seed": int(seed),
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
        "verbosity": -1,
    }
    if objective == "lambdarank":
        params["label_gain"] = list(range(GRADES))
        params["lambdarank_truncation_level"] = 50
    return params


def _safe(name: str) -> str:
    """LightGBM rejects JSON punctuation in feature names."""
    return re.sub(r"[^0-9A-Za-z_]", "_", name)


@dataclass
class PerformanceRanker:
    """A fitted LightGBM performance model with the feature layout it expects."""

    booster: Any
    objective: str
    meta_names: list[str]
    config_names: list[str]
    #: isotonic map (lambdarank only): ranking-score knots -> normalised-score knots
    calibration: Optional[dict] = None
    n_train_rows: int = 0
    extra: dict = field(default_factory=dict)

    @classmethod
    def fit(cls, meta: np.ndarray, encodings: np.ndarray, normalised: np.ndarray, *,
            meta_names: list[str], config_names: list[str], objective: str = "regression",
            rounds: int = 300, seed: int = 0, observed: Optional[np.ndarray] = None) -> "PerformanceRanker":
        """Fit on ``meta`` (datasets x meta-features, scaled), ``encodings`` (configurations x
        encoding) and ``normalised`` (datasets x configurations); ``observed`` (same shape) marks
        the entries that were run: imputed ones are not learned from."""
        import lightgbm as lgb

        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}")
        n_ds, n_cfg = normalised.shape
        X = _design(np.asarray(meta, dtype=np.float64), np.asarray(encodings, dtype=np.float64))
        y = np.asarray(normalised, dtype=np.float64).reshape(-1)
        groups = [n_cfg] * n_ds
        if observed is not None:
            keep = np.asarray(observed, dtype=bool)
            if keep.any() and not keep.all():
                X, y = X[keep.reshape(-1)], y[keep.reshape(-1)]
                groups = [int(g) for g in keep.sum(axis=1) if g > 0]
        names = [_safe(f"mf_{n}") for n in meta_names] + [_safe(f"cfg_{n}") for n in config_names]
        params = _params(objective, len(y), seed)
        if objective == "lambdarank":
            label = np.rint(y * (GRADES - 1)).astype(int)
            data = lgb.Dataset(X, label=label, group=groups, feature_name=names,
                               params={"verbosity": -1}, free_raw_data=True)
        else:
            data = lgb.Dataset(X, label=y, feature_name=names, params={"verbosity": -1}, free_raw_data=True)
        booster = lgb.train(params, data, num_boost_round=int(rounds))
        model = cls(booster=booster, objective=objective, meta_names=list(meta_names),
                    config_names=list(config_names), n_train_rows=int(len(y)))
        if objective == "lambdarank":
            from sklearn.isotonic import IsotonicRegression

            raw = booster.predict(X, num_threads=1)
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y)
            model.calibration = {"x": [float(v) for v in iso.X_thresholds_],
                                 "y": [float(v) for v in iso.y_thresholds_]}
        return model

    def predict(self, meta_row: np.ndarray, encodings: np.ndarray) -> np.ndarray:
        """Estimated normalised score in [0, 1] of each configuration (rows of ``encodings``) on one dataset."""
        enc = np.asarray(encodings, dtype=np.float64)
        meta = np.repeat(np.asarray(meta_row, dtype=np.float64)[None, :], len(enc), axis=0)
        raw = np.asarray(self.booster.predict(_design_rows(meta, enc), num_threads=1), dtype=np.float64)
        if self.calibration is not None:
            raw = np.interp(raw, self.calibration["x"], self.calibration["y"])
        return np.clip(raw, 0.0, 1.0)

    # ------------------------------------------------------------------ storage
    def save(self, path: Path) -> dict:
        """Write the booster as LightGBM text to ``path``; returns the JSON part of the model."""
        self.booster.save_model(str(path))
        return {"file": Path(path).name, "objective": self.objective, "meta_names": self.meta_names,
                "config_names": self.config_names, "calibration": self.calibration,
                "n_train_rows": self.n_train_rows}

    @classmethod
    def load(cls, path: Path, obj: Mapping[str, Any]) -> "PerformanceRanker":
        """Read a booster written by :meth:`save` (LightGBM's own parser; no unpickling)."""
        import lightgbm as lgb

        booster = lgb.Booster(model_file=str(path))
        meta_names = [str(n) for n in obj["meta_names"]]
        config_names = [str(n) for n in obj["config_names"]]
        if booster.num_feature() != len(meta_names) + len(config_names):
            raise ValueError(f"booster has {booster.num_feature()} features, the bundle lists "
                             f"{len(meta_names) + len(config_names)}")
        cal = obj.get("calibration")
        if cal is not None:
            cal = {"x": [float(v) for v in cal["x"]], "y": [float(v) for v in cal["y"]]}
        objective = str(obj["objective"])
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown ranker objective {objective!r}")
        return cls(booster=booster, objective=objective, meta_names=meta_names, config_names=config_names,
                   calibration=cal, n_train_rows=int(obj.get("n_train_rows", 0)))


def _design(meta: np.ndarray, encodings: np.ndarray) -> np.ndarray:
    """All (dataset, configuration) rows, dataset-major: ``[meta[d], encodings[c]]``."""
    n_ds, n_cfg = len(meta), len(encodings)
    return _design_rows(np.repeat(meta, n_cfg, axis=0), np.tile(encodings, (n_ds, 1)))


def _design_rows(meta: np.ndarray, enc: np.ndarray) -> np.ndarray:
    return np.hstack([meta, enc])

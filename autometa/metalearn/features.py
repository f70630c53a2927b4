"""Which meta-features the meta-models see, and how they are put on a common scale.

The subset below is cheap and available for every dataset: sizes and feature types
(``general``), a few moment / correlation summaries (``statistical``, ``infotheory``) and the
scores of simple landmark learners (``landmarking``, computed on a subsample with a small time
budget). Landmarkers say most about which model family fits (linear vs. tree vs. neighbours);
sizes say how much capacity the data supports. Model-based meta-features are left out: they cost
a tree fit and largely repeat the landmarkers.

Each value is transformed (``log``: ``log1p`` of a count; ``slog``: sign-preserving ``log1p`` of a
heavy-tailed moment; ``id``: as is), then robust-scaled with the training datasets' median and
interquartile range (IQR / 1.349, the normal-equivalent standard deviation; the standard
deviation when the IQR is 0, else 1) and clipped to ``[-CLIP, CLIP]`` so one extreme value cannot
dominate a distance. Missing values take the training median (0 after scaling). Features that
are absent or all-missing in the training data are dropped and the model records which were used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from autometa import space

__all__ = ["CLIP", "FEATURES", "feature_spec", "groups_for", "MetaFeatureScaler"]

CLIP = 5.0

_COMMON: tuple[tuple[str, str], ...] = (
    ("NumberOfInstances", "log"),
    ("NumberOfFeatures", "log"),
    ("Dimensionality", "log"),
    ("PercentageOfSymbolicFeatures", "id"),
    ("PercentageOfMissingValues", "log"),
    ("MeanSkewnessOfNumericAtts", "slog"),
    ("MeanKurtosisOfNumericAtts", "slog"),
    ("MeanAbsCorrelationOfNumericAtts", "id"),
    ("PCAFractionOfComponentsFor95PercentVariance", "id"),
    ("MeanMutualInformationOfDiscretizedNumericAtts", "id"),
)

FEATURES: dict[str, tuple[tuple[str, str], ...]] = {
    space.CLASSIFICATION: _COMMON + (
        ("NumberOfClasses", "log"),
        ("MinorityClassPercentage", "id"),
        ("NormalizedClassEntropy", "id"),
        ("DecisionStumpAUC", "id"),
        ("kNN_1NAUC", "id"),
        ("NaiveBayesAUC", "id"),
        ("LDAAUC", "id"),
        ("BestNodeAUC", "id"),
    ),
    space.REGRESSION: _COMMON + (
        ("TargetSkewness", "slog"),
        ("TargetKurtosis", "slog"),
        ("DecisionStumpR2", "id"),
        ("kNN_1NR2", "id"),
        ("LinearRegR2", "id"),
        ("BestNodeR2", "id"),
    ),
}

_TRANSFORMS = ("id", "log", "slog")


def feature_spec(kind: str) -> list[tuple[str, str]]:
    """``(meta-feature name, transform)`` pairs offered for a task kind (before dropping absent ones)."""
    return list(FEATURES[space.task_kind(kind)])


def groups_for(names: Sequence[str], task: str) -> list[str]:
    """Meta-feature groups that must be computed to obtain ``names`` for ``task``."""
    from autometa.metafeatures import GROUPS, group_names

    wanted = set(names)
    out = []
    for group in GROUPS:
        try:
            if wanted & set(group_names(group, task)):
                out.append(group)
        except ImportError:  # a group module that is not installed cannot provide anything
            continue
    return out


def _transform(values: np.ndarray, how: str) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        if how == "log":
            return np.log1p(np.maximum(values, 0.0))
        if how == "slog":
            return np.sign(values) * np.log1p(np.abs(values))
    return values


@dataclass
class MetaFeatureScaler:
    """Transform, robust-scale, impute and clip a fixed list of meta-features.

    Fitted on the training datasets only (so a dataset excluded from training cannot leak into
    the medians or scales); stored as plain JSON (:meth:`to_json`).
    """

    names: list[str]
    transforms: list[str]
    medians: list[float]
    scales: list[float]
    dropped: list[str]

    @classmethod
    def fit(cls, table: pd.DataFrame, kind: str) -> "MetaFeatureScaler":
        """Fit on a table with one row per training dataset and meta-feature names as columns."""
        names, transforms, medians, scales, dropped = [], [], [], [], []
        for name, how in feature_spec(kind):
            if name not in table.columns:
                dropped.append(name)
                continue
            raw = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64)
            raw = np.where(np.isfinite(raw), raw, np.nan)
            values = _transform(raw, how)
            finite = values[np.isfinite(values)]
            if finite.size == 0:
                dropped.append(name)
                continue
            median = float(np.median(finite))
            q1, q3 = np.percentile(finite, [25, 75])
            scale = float(q3 - q1) / 1.349
            if not scale > 1e-12:
                scale = float(np.std(finite))
            if not scale > 1e-12:
                scale = 1.0
            names.append(name)
            transforms.append(how)
            medians.append(median)
            scales.append(scale)
        return cls(names, transforms, medians, scales, dropped)

    def transform_table(self, table: pd.DataFrame) -> np.ndarray:
        """Scaled matrix (rows of ``table`` x :attr:`names`); columns it lacks count as missing."""
        out = np.zeros((len(table), len(self.names)))
        for j, (name, how) in enumerate(zip(self.names, self.transforms)):
            if name in table.columns:
                raw = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64)
            else:
                raw = np.full(len(table), np.nan)
            out[:, j] = self._scale_column(raw, j, how)
        return out

    def transform(self, values: Mapping[str, Any]) -> np.ndarray:
        """Scaled vector of one dataset from its ``name -> value`` meta-features (missing -> median)."""
        raw = np.array([_as_float(values.get(n)) for n in self.names], dtype=np.float64)
        return np.array([self._scale_column(raw[j:j + 1], j, how)[0]
                         for j, how in enumerate(self.transforms)], dtype=np.float64)

    def _scale_column(self, raw: np.ndarray, j: int, how: str) -> np.ndarray:
        raw = np.where(np.isfinite(raw), raw, np.nan)
        scaled = (_transform(raw, how) - self.medians[j]) / self.scales[j]
        scaled = np.where(np.isfinite(scaled), scaled, 0.0)
        return np.clip(scaled, -CLIP, CLIP)

    def missing(self, values: Mapping[str, Any]) -> list[str]:
        """The used meta-features that ``values`` lacks (they were imputed with the median)."""
        return [n for n in self.names if not math.isfinite(_as_float(values.get(n)))]

    def to_json(self) -> dict:
        """Plain-JSON form (stored in the model bundle)."""
        return {"names": self.names, "transforms": self.transforms, "medians": self.medians,
                "scales": self.scales, "dropped": self.dropped}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "MetaFeatureScaler":
        """Inverse of :meth:`to_json`; ValueError when the lists disagree."""
        names = [str(n) for n in obj["names"]]
        transforms = [str(t) for t in obj["transforms"]]
        medians = [float(v) for v in obj["medians"]]
        scales = [float(v) for v in obj["scales"]]
        if not (len(names) == len(transforms) == len(medians) == len(scales)):
            raise ValueError("scaler lists have different lengths")
        if any(t not in _TRANSFORMS for t in transforms) or any(not s > 0 for s in scales):
            raise ValueError("scaler has an unknown transform or a non-positive scale")
        return cls(names, transforms, medians, scales, [str(n) for n in obj.get("dropped", [])])


def _as_float(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan

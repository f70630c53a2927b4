"""The trained meta-model bundle: train it from a metabase, store it without pickle, rank with it.

One :class:`KindModel` per task kind (classification / regression) holds the performance matrix,
the meta-feature scaler, the nearest-datasets index, the greedy portfolio and the LightGBM
performance model. :meth:`MetaModel.rank` turns a new dataset's meta-features into a diverse
top-k list with one of :data:`METHODS`:

* ``"knn"``: best configurations of the nearest training datasets, interleaved;
* ``"portfolio"``: the greedy portfolio order (no dataset-specific signal but its size: given
  ``n_rows``, the training datasets are weighted by how close the rows their runs used are,
  :func:`~autometa.metalearn.portfolio.sized_order`);
* ``"ranker"``: candidates sorted by the performance model's prediction (optionally with extra
  Sobol configurations that were never run);
* ``"combined"``: first the configuration with the best distance-weighted mean score over the
  nearest datasets (the best single start in the leave-one-out study behind the warm-start
  benchmark), then round-robin the nearest datasets' best-first lists, the ranker's and the
  portfolio's next best; predicted score = mean of the ranker's and the nearest datasets' estimates. For a dataset unlike any in training
  (:meth:`NearestDatasets.is_novel`) it follows the portfolio order instead, and so it does when
  the confidence in the nearest datasets is low (:mod:`~autometa.metalearn.confidence`: they are
  far compared with the typical neighbour distance, or their best configurations disagree), with
  a note saying why.

Training leaves whole **families** out (:mod:`~autometa.metalearn.families`): excluding a dataset
excludes its copies too, and :func:`assert_not_trained_on` also refuses a model trained on a copy.

Stored layout (``save_model`` / ``load_model``; JSON, Parquet and LightGBM text only)::

    bundle.json                      settings, scaler, portfolio, confidence thresholds, trained-on ids
                                     and their families, file checksums
    <kind>/datasets.parquet          training datasets: ids, names, checksums, raw meta-features
    <kind>/configs.parquet           candidate configurations (id, algorithm, params JSON)
    <kind>/scores.parquet            the performance matrix in long form (raw, normalised, flags)
    <kind>/ranker.txt                LightGBM text model

Every file's SHA-256 is recorded in ``bundle.json``; a missing or altered file raises
:class:`DataError` naming it.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from autometa import space
from autometa.errors import ConfigError, DataError
from autometa.metalearn.confidence import DEFAULT_MAX_DISTANCE_RATIO, DEFAULT_MIN_AGREEMENT, Confidence
from autometa.metalearn.diversity import DOMINANCE_MARGIN, MIN_DISTANCE, diversify
from autometa.metalearn.families import families as dataset_families
from autometa.metalearn.families import family_members
from autometa.metalearn.features import MetaFeatureScaler
from autometa.metalearn.knn import NearestDatasets
from autometa.metalearn.matrix import MF_PREFIX, PerformanceMatrix, build_matrix
from autometa.metalearn.portfolio import Portfolio, size_weights, sized_order
from autometa.metalearn.ranker import OBJECTIVES, PerformanceRanker
from autometa.metalearn.size import FALLBACK_MAX_ROWS, reference_rows

__all__ = [
    "METHODS", "MODEL_DIR", "BUNDLE_FILE", "LeakageError", "KindModel", "MetaModel", "Ranking",
    "train", "save_model", "load_model", "assert_not_trained_on", "default_model_dir",
]

METHODS = ("knn", "portfolio", "ranker", "combined")
#: nearest datasets consulted by default (10 beat 3 and 5 on best-of-10 picks, leave-one-out)
DEFAULT_K = 10
FORMAT = 1
BUNDLE_FILE = "bundle.json"
MODEL_DIR = "model"  # subfolder of a metabase where `autometa metabase train` writes by default
KINDS = (space.CLASSIFICATION, space.REGRESSION)
#: a training dataset counts as evidence for a configuration when its normalised score there is at least this
SIMILAR_SCORE = 0.9
N_SIMILAR = 3
_TABLES = ("datasets.parquet", "configs.parquet", "scores.parquet")
_RANKER_FILE = "ranker.txt"


class LeakageError(ConfigError):
    """A meta-model was trained on a dataset it is now being evaluated on."""


# ------------------------------------------------------------------ the per-kind model
@dataclass
class KindModel:
    """Everything learned for one task kind."""

    matrix: PerformanceMatrix
    scaler: MetaFeatureScaler
    knn: NearestDatasets
    portfolio: Portfolio
    ranker: Optional[PerformanceRanker]
    encodings: np.ndarray  # configurations x encoding
    confidence: Optional[Confidence] = None

    @property
    def kind(self) -> str:
        """classification or regression."""
        return self.matrix.kind

    def rows_used(self) -> np.ndarray:
        """Rows the metabase's runs used on each training dataset (``rows_used``; for a model
        that lacks it, ``min(n_rows, FALLBACK_MAX_ROWS)``)."""
        ds = self.matrix.datasets
        fallback = np.minimum(pd.to_numeric(ds.get("n_rows", pd.Series(np.nan, index=ds.index)),
                                            errors="coerce").to_numpy(dtype=np.float64), FALLBACK_MAX_ROWS)
        if "rows_used" not in ds.columns:
            return fallback
        used = pd.to_numeric(ds["rows_used"], errors="coerce").to_numpy(dtype=np.float64)
        return np.where(np.isfinite(used), used, fallback)

    @classmethod
    def fit(cls, matrix: PerformanceMatrix, *, k: int = DEFAULT_K, objective: str = "regression",
            rounds: int = 300, seed: int = 0, families: Optional[Mapping[str, str]] = None,
            max_distance_ratio: float = DEFAULT_MAX_DISTANCE_RATIO,
            min_agreement: float = DEFAULT_MIN_AGREEMENT) -> "KindModel":
        """Fit scaler, nearest datasets, portfolio, ranker and confidence on one kind's matrix
        (``families``: dataset id -> family, for the typical neighbour distance)."""
        scaler = MetaFeatureScaler.fit(matrix.datasets, matrix.kind)
        table = scaler.transform_table(matrix.datasets)
        encodings = _encodings(matrix)
        ranker = PerformanceRanker.fit(table, encodings, matrix.normalised, meta_names=scaler.names,
                                       config_names=space.encoding_names(), objective=objective,
                                       rounds=rounds, seed=seed, observed=~matrix.missing)
        return cls.assemble(matrix, scaler, Portfolio.fit(matrix.normalised, matrix.config_ids), ranker, k=k,
                            families=families, confidence={"max_distance_ratio": float(max_distance_ratio),
                                                           "min_agreement": float(min_agreement)})

    @classmethod
    def assemble(cls, matrix: PerformanceMatrix, scaler: MetaFeatureScaler, portfolio: Portfolio,
                 ranker: Optional[PerformanceRanker], *, k: int, confidence: Optional[Mapping[str, Any]] = None,
                 families: Optional[Mapping[str, str]] = None) -> "KindModel":
        """Put fitted (or loaded) parts together; the nearest-datasets index is rebuilt from the matrix.

        ``confidence``: the stored :meth:`Confidence.to_json` (typical values missing from it are
        recomputed, thresholds missing from it take the defaults).
        """
        knn = NearestDatasets.fit(scaler.transform_table(matrix.datasets), matrix.normalised,
                                  matrix.dataset_ids, [str(n) for n in matrix.datasets["name"]], k=k)
        return cls(matrix=matrix, scaler=scaler, knn=knn, portfolio=portfolio, ranker=ranker,
                   encodings=_encodings(matrix), confidence=Confidence.from_json(confidence or {}, knn, families))


def _encodings(matrix: PerformanceMatrix) -> np.ndarray:
    return np.vstack([space.encode(c, matrix.kind) for c in matrix.configs])


@dataclass
class Ranking:
    """What :meth:`MetaModel.rank` returns: the items plus how they were reached."""

    items: list[dict]
    method: str
    neighbours: list[dict]
    novel: bool
    notes: list[str] = field(default_factory=list)
    #: :meth:`Assessment.to_dict` of the nearest datasets (distance ratio, agreement, ``low``)
    confidence: dict = field(default_factory=dict)
    #: rows the metabase's runs behind the list used (geometric mean over the nearest datasets,
    #: or over every training dataset when the list follows the portfolio); see
    #: :func:`autometa.metalearn.size.adapt_to_size`
    reference_rows: float = math.nan


@dataclass
class MetaModel:
    """Meta-models per task kind plus what they were trained on."""

    kinds: dict[str, KindModel]
    settings: dict
    info: dict = field(default_factory=dict)
    excluded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    path: Optional[Path] = None
    #: family of each training dataset that has copies (dataset id -> family id; others are their own)
    families: dict[str, str] = field(default_factory=dict)

    def family_of(self, dataset_id: str) -> str:
        """Family id of a training dataset (its own id when it has no recorded copies)."""
        return self.families.get(str(dataset_id), str(dataset_id))

    @property
    def trained_on(self) -> list[str]:
        """Ids of every dataset any component saw, sorted."""
        return sorted({d for km in self.kinds.values() for d in km.matrix.dataset_ids})

    @property
    def trained_checksums(self) -> set[str]:
        """Content checksums of the training datasets (where the metabase recorded them)."""
        out: set[str] = set()
        for km in self.kinds.values():
            out.update(str(c) for c in km.matrix.datasets["checksum"] if isinstance(c, str) and c)
        return out

    def rank(self, metafeatures: Mapping[str, Any], task: str, *, top_k: int = 5, method: str = "combined",
             n_rows: Optional[int] = None, algorithms: Optional[Sequence[str]] = None,
             extra_candidates: int = 0, seed: int = 0, confidence_gate: bool = True) -> Ranking:
        """Top-``top_k`` configurations for a dataset described by ``metafeatures``.

        Candidates are the kind's shared configurations whose algorithm suits ``task`` and
        ``n_rows`` (and is in ``algorithms`` when given); ``extra_candidates`` adds that many
        Sobol configurations per algorithm, scored by the ranker only (methods ranker/combined).
        ``confidence_gate``: the combined method starts from the portfolio when the confidence in
        the nearest datasets is low (``False``: never; the assessment is reported either way).
        ConfigError for an unknown method, a bad ``top_k`` or a kind the model was not trained on.
        """
        check_method(method, top_k)
        kind = space.task_kind(task)
        if kind not in self.kinds:
            raise ConfigError(f"the meta-model has no {kind} part; retrain it on a metabase with {kind} datasets")
        km = self.kinds[kind]
        notes: list[str] = []
        allowed = space.algorithms_for(task, n_rows, include=algorithms)
        n_extra = extra_candidates if method in ("ranker", "combined") and km.ranker is not None else 0
        configs, ids, enc, pool = _candidates(km, allowed, n_extra, seed)
        n_known = len(km.matrix.config_ids)

        x = km.scaler.transform(metafeatures)
        lacking = km.scaler.missing(metafeatures)
        if lacking:
            notes.append(f"{len(lacking)} of {len(km.scaler.names)} meta-features unavailable, imputed with the "
                         f"training median: {', '.join(lacking[:6])}{' ...' if len(lacking) > 6 else ''}")
        novel = km.knn.is_novel(x)
        neighbours = km.knn.neighbours(x, max(km.knn.k, 5))
        conf = km.confidence.assess(km.knn, x) if km.confidence is not None else None
        gated = bool(method == "combined" and confidence_gate and not novel and conf is not None and conf.low)

        knn_score = np.full(len(configs), np.nan)
        knn_score[:n_known] = km.knn.estimate(x)
        port_score = np.full(len(configs), np.nan)
        rank_score = km.ranker.predict(x, enc) if km.ranker is not None else None

        in_pool = set(pool)
        rows = km.rows_used()
        if n_rows:  # the portfolio of the training datasets weighted by closeness in size
            port_order, port_score[:n_known] = sized_order(km.matrix.normalised, rows, float(n_rows),
                                                           [i for i in pool if i < n_known])
        else:
            index_of = {c: i for i, c in enumerate(km.matrix.config_ids)}
            port_score[:n_known] = [km.portfolio.mean_score[c] for c in km.matrix.config_ids]
            port_order = [index_of[c] for c in km.portfolio.order if index_of[c] in in_pool]
        knn_order = [i for i in km.knn.ranking(x) if i in in_pool]
        used = method
        if method == "ranker" and rank_score is None:
            used = "knn"
            notes.append("the meta-model has no performance model; ranked by nearest datasets instead")
        if method == "combined" and novel:
            notes.append("the dataset is unlike every training dataset (nearest distance "
                         f"{neighbours[0][1]:.2f} > {km.knn.novelty_distance:.2f}); following the portfolio")
        if gated:
            notes.append(conf.note())

        if used == "knn":
            order, scores = knn_order, knn_score
        elif used == "portfolio" or novel or gated:  # combined, for a dataset unlike any seen or
            # whose nearest datasets are far (low confidence), too
            order, scores = port_order, port_score
        elif used == "ranker":
            scores = rank_score
            order = sorted(pool, key=lambda i: (-scores[i], i))
        else:
            rank_order = sorted(pool, key=lambda i: (-rank_score[i], i)) if rank_score is not None else []
            est_order = sorted((i for i in pool if np.isfinite(knn_score[i])), key=lambda i: (-knn_score[i], i))
            order = _round_robin([est_order[:1], knn_order, rank_order, port_order])
            estimates = [s for s in (rank_score, knn_score) if s is not None]
            scores = np.nanmean(np.vstack(estimates), axis=0) if len(estimates) > 1 else estimates[0]
        # the rest of the pool, best estimate first, so the diversity rule can always fill the list
        seen = set(order)
        order = list(order) + sorted((i for i in pool if i not in seen),
                                     key=lambda i: (-(scores[i] if np.isfinite(scores[i]) else -1.0), i))
        algos = [c["algorithm"] for c in configs]
        picks = diversify(order, scores, algos, enc, top_k,
                          min_distance=float(self.settings.get("min_distance", MIN_DISTANCE)),
                          margin=float(self.settings.get("dominance_margin", DOMINANCE_MARGIN)))
        items = [{
            "rank": rank, "config_id": ids[i], "algorithm": algos[i], "params": dict(configs[i]["params"]),
            "config": {"algorithm": algos[i], "params": dict(configs[i]["params"])},
            "predicted_score": float(scores[i]) if np.isfinite(scores[i]) else math.nan,
            "similar_datasets": _similar(km, neighbours, i) if i < n_known else [], "method": used,
        } for rank, i in enumerate(picks, start=1)]
        nb = [{"name": km.knn.names[r], "dataset_id": km.knn.dataset_ids[r], "distance": round(d, 4)}
              for r, d in neighbours]
        follows_portfolio = used == "portfolio" or (used != "knn" and novel) or gated
        if follows_portfolio:
            ref = reference_rows(rows, size_weights(rows, float(n_rows)) if n_rows else None)
        else:
            ref = reference_rows(rows[[r for r, _ in neighbours[:km.knn.k]]])
        return Ranking(items=items, method=used, neighbours=nb, novel=novel, notes=notes,
                       confidence=conf.to_dict() if conf is not None else {}, reference_rows=ref)


def _candidates(km: KindModel, allowed: Sequence[str], n_extra: int,
                seed: int) -> tuple[list[dict], list[str], np.ndarray, list[int]]:
    """Configurations, ids, encodings and the pool of usable indices: the shared candidates of
    ``allowed`` algorithms, then ``n_extra`` new Sobol configurations per allowed algorithm."""
    configs, ids, enc = list(km.matrix.configs), list(km.matrix.config_ids), km.encodings
    pool = [i for i, a in enumerate(km.matrix.algorithms) if a in allowed]
    if n_extra > 0:
        known = set(ids)
        extra = [c for a in allowed for c in space.sample_configs(a, km.kind, int(n_extra), seed=1_000 + int(seed))
                 if space.config_id(c) not in known]
        if extra:
            pool += list(range(len(configs), len(configs) + len(extra)))
            configs += extra
            ids += [space.config_id(c) for c in extra]
            enc = np.vstack([enc, np.vstack([space.encode(c, km.kind) for c in extra])])
    if not pool:
        raise ConfigError(f"no candidate configuration fits: algorithms {sorted(allowed)} "
                          f"were not in the metabase's {km.kind} candidates")
    return configs, ids, enc, pool


def _similar(km: KindModel, neighbours: list[tuple[int, float]], col: int) -> list[dict]:
    """Up to N_SIMILAR of the nearest training datasets where configuration ``col`` did well."""
    out = []
    for row, dist in neighbours:
        score = float(km.matrix.normalised[row, col])
        if score >= SIMILAR_SCORE:
            out.append({"name": km.knn.names[row], "dataset_id": km.knn.dataset_ids[row],
                        "distance": round(dist, 4), "score": round(score, 4)})
            if len(out) == N_SIMILAR:
                break
    return out


def check_method(method: str, top_k: int) -> None:
    """ConfigError unless ``method`` is one of :data:`METHODS` and ``top_k`` a positive integer."""
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ConfigError(f"top_k must be a positive integer, got {top_k!r}")


def _round_robin(lists: Sequence[Sequence[int]]) -> list[int]:
    """Merge lists by taking each one's next unseen item in turn."""
    out: list[int] = []
    seen: set[int] = set()
    pos = [0] * len(lists)
    while True:
        moved = False
        for j, lst in enumerate(lists):
            while pos[j] < len(lst) and lst[pos[j]] in seen:
                pos[j] += 1
            if pos[j] < len(lst):
                out.append(lst[pos[j]])
                seen.add(lst[pos[j]])
                pos[j] += 1
                moved = True
        if not moved:
            return out


# ------------------------------------------------------------------ training
def train(metabase: Any = None, exclude_datasets: Iterable[str] = (), *, k: int = DEFAULT_K,
          objective: str = "regression", rounds: int = 300, seed: int = 0, by_family: bool = True,
          families: Optional[Mapping[str, str]] = None,
          max_distance_ratio: float = DEFAULT_MAX_DISTANCE_RATIO,
          min_agreement: float = DEFAULT_MIN_AGREEMENT) -> MetaModel:
    """Train every component for each task kind of a metabase (a ``Metabase``, a folder, or None
    for the default one), leaving ``exclude_datasets`` (dataset ids) out of all of them.

    ``by_family`` (default): excluding a dataset excludes its whole family, every copy of it
    (``families``: dataset id -> family id; by default :func:`autometa.metalearn.families.families`
    of the metabase: its tasks.csv families and identical content checksums). ``excluded`` then
    lists every id left out. The training datasets' families are recorded either way (for
    :func:`assert_not_trained_on`). ``max_distance_ratio`` / ``min_agreement``: the confidence thresholds
    below which the combined method starts from the portfolio (stored in the bundle).

    A kind with fewer than two datasets with finished runs is skipped (recorded in ``skipped``);
    DataError when no kind can be trained.
    """
    from autometa.metabase import Metabase, open_metabase

    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown ranker objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    if k < 1 or rounds < 1:
        raise ConfigError(f"k and rounds must be positive (got k={k}, rounds={rounds})")
    started = time.monotonic()
    store = metabase if isinstance(metabase, Metabase) else open_metabase(metabase)
    datasets, configs, runs = store.datasets(), store.configs(), store.runs()
    excluded = sorted({str(e) for e in exclude_datasets})
    known = set(datasets["dataset_id"].astype(str)) if len(datasets) else set()
    unknown = [e for e in excluded if e not in known]
    if unknown:
        raise ConfigError(f"cannot exclude unknown dataset id(s) {', '.join(unknown[:5])}; "
                          "use ids from the metabase's datasets table")
    if families is None:
        families = dataset_families(datasets, tasks=store.root / "tasks.csv")
    fams = {str(d): str(f) for d, f in families.items()}
    if by_family and excluded:
        excluded = [e for e in family_members(fams, excluded) if e in known]
    kinds: dict[str, KindModel] = {}
    skipped: dict[str, str] = {}
    for kind in KINDS:
        matrix = build_matrix(datasets, configs, runs, kind, exclude=excluded)
        n = 0 if matrix is None else len(matrix.dataset_ids)
        if n < 2:
            skipped[kind] = f"{n} {kind} dataset(s) with finished runs; at least 2 needed"
            continue
        kinds[kind] = KindModel.fit(matrix, k=k, objective=objective, rounds=rounds, seed=seed, families=fams,
                                    max_distance_ratio=max_distance_ratio, min_agreement=min_agreement)
    if not kinds:
        raise DataError(f"the metabase at {store.root} has too few datasets with finished runs to train on "
                        f"({'; '.join(skipped.values())}); add datasets with `autometa metabase build`")
    settings = {"k": int(k), "objective": objective, "rounds": int(rounds), "seed": int(seed),
                "min_distance": MIN_DISTANCE, "dominance_margin": DOMINANCE_MARGIN,
                "similar_score": SIMILAR_SCORE}
    info = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "autometa_version": _version("autometa"), "lightgbm_version": _version("lightgbm"),
        "metabase": {"name": store.root.name, "n_datasets": int(len(datasets)), "n_runs": int(len(runs))},
        "train_seconds": round(time.monotonic() - started, 3),
    }
    trained = {d for km in kinds.values() for d in km.matrix.dataset_ids}
    return MetaModel(kinds=kinds, settings=settings, info=info, excluded=excluded, skipped=skipped,
                     families={d: f for d, f in sorted(fams.items()) if d in trained and f != d})


def _version(pkg: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(pkg)
    except PackageNotFoundError:
        return "unknown"


# ------------------------------------------------------------------ leakage guard
def assert_not_trained_on(model: Union[MetaModel, str, Path], dataset_id: str,
                          families: Optional[Mapping[str, str]] = None) -> None:
    """Raise :class:`LeakageError` when ``dataset_id`` (an id, a content checksum or a family id)
    or a copy of it was used in training.

    A copy is a training dataset of the same family: by the model's recorded families, and by
    ``families`` (dataset id -> family id, e.g. :func:`autometa.metalearn.families.families` of
    the metabase) when given, which also names the family of a dataset the model never saw.
    """
    if not isinstance(model, MetaModel):
        model = load_model(model)
    key = str(dataset_id)
    if key in model.trained_on or key in model.trained_checksums:
        raise LeakageError(f"the meta-model was trained on dataset {key}; retrain it with "
                           f"exclude_datasets=[{key!r}] (autometa metabase train --exclude {key})")
    fams = {str(d): str(f) for d, f in (families or {}).items()}
    family = fams.get(key, model.families.get(key, key))
    copies = sorted(d for d in model.trained_on
                    if fams.get(d, model.family_of(d)) == family or model.family_of(d) == family)
    if copies:
        raise LeakageError(f"the meta-model was trained on {', '.join(copies[:3])}, a copy of {key} (family "
                           f"{family}); retrain it with exclude_datasets=[{key!r}] (whole families are left out)")


def default_model_dir(metabase: Optional[Union[str, Path]] = None) -> Path:
    """``<metabase>/model``, the metabase being ``metabase`` or the default one."""
    from autometa.metabase import resolve_metabase_dir

    return resolve_metabase_dir(metabase) / MODEL_DIR


# ------------------------------------------------------------------ storage
def _parquet_bytes(df: pd.DataFrame) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _kind_files(km: KindModel) -> dict[str, bytes]:
    m = km.matrix
    sizes = [c for c in ("n_rows", "n_cols", "rows_used") if c in m.datasets.columns]
    ds = m.datasets[["dataset_id", "name", "task", "checksum", *sizes]].copy()
    for col in ("dataset_id", "name", "task", "checksum"):
        ds[col] = ds[col].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    for col in sizes:
        ds[col] = pd.to_numeric(ds[col], errors="coerce").astype("float64")
    for name in km.scaler.names:
        ds[MF_PREFIX + name] = pd.to_numeric(m.datasets[name], errors="coerce").astype("float64")
    cfg = pd.DataFrame({"config_id": m.config_ids, "algorithm": m.algorithms,
                        "params": [json.dumps(c["params"], sort_keys=True) for c in m.configs]})
    n_ds, n_cfg = m.raw.shape
    scores = pd.DataFrame({
        "dataset_id": np.repeat(np.array(m.dataset_ids, dtype=object), n_cfg),
        "config_id": np.tile(np.array(m.config_ids, dtype=object), n_ds),
        "raw": m.raw.reshape(-1), "normalised": m.normalised.reshape(-1),
        "failed": m.failed.reshape(-1), "missing": m.missing.reshape(-1),
    })
    return {"datasets.parquet": _parquet_bytes(ds), "configs.parquet": _parquet_bytes(cfg),
            "scores.parquet": _parquet_bytes(scores)}


def save_model(model: MetaModel, out: Union[str, Path]) -> Path:
    """Write the bundle to folder ``out`` (replacing an earlier model there atomically); returns it.

    ConfigError when ``out`` exists and holds anything but an autometa meta-model.
    """
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"model output {out} is a file; pass a folder")
        extra = sorted(p.name for p in out.iterdir() if p.name not in (BUNDLE_FILE, *KINDS))
        if extra or (any(out.iterdir()) and not (out / BUNDLE_FILE).exists()):
            raise ConfigError(f"{out} holds other files ({', '.join(extra[:3]) or 'no bundle.json'}); "
                              "pass an empty or new folder for the meta-model")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        hashes: dict[str, str] = {}
        kinds_json: dict[str, Any] = {}
        for kind, km in model.kinds.items():
            (tmp / kind).mkdir()
            for name, data in _kind_files(km).items():
                (tmp / kind / name).write_bytes(data)
                hashes[f"{kind}/{name}"] = hashlib.sha256(data).hexdigest()
            entry: dict[str, Any] = {
                "n_datasets": len(km.matrix.dataset_ids), "n_configs": len(km.matrix.config_ids),
                "n_invalid_configs": km.matrix.n_invalid,
                "scaler": km.scaler.to_json(), "portfolio": km.portfolio.to_json(),
                "knn": {"k": km.knn.k, "novelty_distance": km.knn.novelty_distance},
                "trained_on": km.matrix.dataset_ids, "ranker": None,
            }
            if km.confidence is not None:
                entry["confidence"] = km.confidence.to_json()
            if km.ranker is not None:
                entry["ranker"] = km.ranker.save(tmp / kind / _RANKER_FILE)
                hashes[f"{kind}/{_RANKER_FILE}"] = hashlib.sha256((tmp / kind / _RANKER_FILE).read_bytes()).hexdigest()
            kinds_json[kind] = entry
        bundle = {
            "format": FORMAT, "settings": model.settings, "info": model.info, "excluded": model.excluded,
            "skipped": model.skipped, "trained_on": model.trained_on, "kinds": kinds_json, "files": hashes,
            "families": dict(sorted(model.families.items())),
        }
        (tmp / BUNDLE_FILE).write_text(json.dumps(_finite(bundle), indent=1, sort_keys=True) + "\n")
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    model.path = out
    return out


def _finite(obj: Any) -> Any:
    """JSON has no inf/NaN: store them as strings that float() reads back."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj


def _read_checked(root: Path, rel: str, expected: str) -> bytes:
    path = root / rel
    try:
        data = path.read_bytes()
    except OSError:
        raise DataError(f"meta-model file {path} is missing; retrain with `autometa metabase train`") from None
    if hashlib.sha256(data).hexdigest() != expected:
        raise DataError(f"meta-model file {path} is corrupt (checksum mismatch); retrain with "
                        "`autometa metabase train`")
    return data


def load_model(path: Union[str, Path]) -> MetaModel:
    """Read a bundle written by :func:`save_model` (JSON, Parquet and LightGBM text; nothing unpickled).

    DataError naming the file when the bundle is missing, unreadable or altered.
    """
    import pyarrow.parquet as pq
    import pyarrow as pa

    root = Path(path)
    bundle_path = root / BUNDLE_FILE
    if not bundle_path.is_file():
        raise DataError(f"no meta-model at {root} ({BUNDLE_FILE} missing); train one with `autometa metabase train`")
    try:
        bundle = json.loads(bundle_path.read_text())
        if bundle.get("format") != FORMAT:
            raise DataError(f"meta-model file {bundle_path} has format {bundle.get('format')!r}, this autometa "
                            f"reads {FORMAT}; retrain with `autometa metabase train`")
        files = dict(bundle["files"])
        kinds_json = dict(bundle["kinds"])
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"meta-model file {bundle_path} is unreadable ({type(exc).__name__}); "
                        "retrain with `autometa metabase train`") from None
    settings = dict(bundle.get("settings") or {})
    fams = {str(d): str(f) for d, f in dict(bundle.get("families") or {}).items()}  # absent in older bundles
    kinds: dict[str, KindModel] = {}
    for kind, entry in kinds_json.items():
        tables: dict[str, pd.DataFrame] = {}
        for name in _TABLES:
            rel = f"{kind}/{name}"
            data = _read_checked(root, rel, files.get(rel, ""))
            try:
                tables[name] = pq.read_table(pa.BufferReader(data)).to_pandas()
            except Exception as exc:
                raise DataError(f"meta-model file {root / rel} is unreadable ({type(exc).__name__}); retrain "
                                "with `autometa metabase train`") from None
        try:
            ranker = None
            if entry.get("ranker"):
                rel = f"{kind}/{_RANKER_FILE}"
                _read_checked(root, rel, files.get(rel, ""))
                ranker = PerformanceRanker.load(root / rel, entry["ranker"])
            km = KindModel.assemble(_matrix_from_tables(kind, tables), MetaFeatureScaler.from_json(entry["scaler"]),
                                    Portfolio.from_json(entry["portfolio"]), ranker, k=int(entry["knn"]["k"]),
                                    confidence=entry.get("confidence"), families=fams)
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"meta-model part {root / kind} does not match {bundle_path} ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:120] if str(exc) else ''}); retrain with "
                            "`autometa metabase train`") from None
        kinds[kind] = km
    return MetaModel(kinds=kinds, settings=settings, info=dict(bundle.get("info") or {}),
                     excluded=[str(e) for e in bundle.get("excluded", [])],
                     skipped=dict(bundle.get("skipped") or {}), path=root, families=fams)


def _matrix_from_tables(kind: str, tables: Mapping[str, pd.DataFrame]) -> PerformanceMatrix:
    ds = tables["datasets.parquet"]
    cfg = tables["configs.parquet"]
    sc = tables["scores.parquet"]
    ds_ids = [str(d) for d in ds["dataset_id"]]
    cfg_ids = [str(c) for c in cfg["config_id"]]
    n_ds, n_cfg = len(ds_ids), len(cfg_ids)
    if len(sc) != n_ds * n_cfg:
        raise ValueError(f"scores has {len(sc)} rows, expected {n_ds} x {n_cfg}")
    if list(sc["dataset_id"].iloc[::n_cfg].astype(str)) != ds_ids or \
            list(sc["config_id"].iloc[:n_cfg].astype(str)) != cfg_ids:
        raise ValueError("scores rows are not in dataset x configuration order")
    datasets = ds.rename(columns={c: c[len(MF_PREFIX):] for c in ds.columns if str(c).startswith(MF_PREFIX)})
    configs = [space.validate_config({"algorithm": str(a), "params": json.loads(p)}, kind)
               for a, p in zip(cfg["algorithm"], cfg["params"])]

    def grid(col: str, dtype: Any) -> np.ndarray:
        return sc[col].to_numpy(dtype=dtype).reshape(n_ds, n_cfg)

    return PerformanceMatrix(kind=kind, datasets=datasets, config_ids=cfg_ids, configs=configs,
                             raw=grid("raw", np.float64), normalised=grid("normalised", np.float64),
                             failed=grid("failed", bool), missing=grid("missing", bool))

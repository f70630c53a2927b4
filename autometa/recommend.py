"""Recommend configurations for a new dataset: describe it, look it up in the meta-model, rank.

:func:`recommend` computes the meta-features the trained meta-model uses (cheap groups on every
row, landmarkers on a subsample with a small time budget), loads the model (cached per file
version) and returns a diverse top-k list (:class:`Recommendation`). Without a trained model
(none at the location, or none for the task kind) it falls back to every algorithm's default in
:data:`autometa.space.DEFAULT_ORDER` and says so in a note; it never fails for that reason. A
model that exists but is corrupt raises :class:`~autometa.errors.DataError` naming the file.

Size adaptation (:func:`autometa.metalearn.size.adapt_to_size`): ``adapt_size`` rescales the
size-dependent hyperparameters of the recommendations (minimum leaf sizes, boosting rounds) from
the rows the metabase's runs used to the new dataset's rows. Off by default: in the
leave-family-out check on the shipped metabase it made the recommendations worse
(benchmarks/results/size_adaptation.md).

The module is callable, so ``autometa.recommend(X, y)`` works whether ``autometa.recommend``
resolves to this module or to the function.
"""
from __future__ import annotations

import math
import sys
import time
import types
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from autometa import space

__all__ = ["Recommendation", "RecommendResult", "recommend", "recommend_details", "warm_start_plan",
           "warm_start_configs", "by_predicted_score", "clear_model_cache"]

#: rows the landmarking meta-features see, and seconds each meta-feature group may take
LANDMARK_ROWS = 2_000
TIME_BUDGET = 2.0


@dataclass
class Recommendation:
    """One recommended configuration.

    ``predicted_score`` is the estimated normalised score on this dataset (1 = as good as the
    best candidate on similar data, 0 = the worst; NaN without a model). ``similar_datasets``
    lists the nearest training datasets where this configuration did well (``name``,
    ``dataset_id``, ``distance``, ``score``).
    """

    rank: int
    algorithm: str
    params: dict
    config: dict
    predicted_score: float
    similar_datasets: list[dict]
    method: str
    config_id: str = ""

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (NaN score -> None)."""
        out = asdict(self)
        if not math.isfinite(self.predicted_score):
            out["predicted_score"] = None
        return out


@dataclass
class RecommendResult:
    """Recommendations plus how they were made (for the CLI and for debugging)."""

    recommendations: list[Recommendation]
    task: str
    method: str
    notes: list[str] = field(default_factory=list)
    neighbours: list[dict] = field(default_factory=list)
    metafeatures: dict[str, float] = field(default_factory=dict)
    model_path: Optional[str] = None
    seconds: dict[str, float] = field(default_factory=dict)
    #: rows the metabase's runs behind the recommendations used (what ``adapt_size`` scales from)
    reference_rows: float = math.nan


# ------------------------------------------------------------------ model cache
_CACHE: dict[tuple, Any] = {}
_CACHE_SIZE = 4


def clear_model_cache() -> None:
    """Forget cached meta-models (they are reloaded when their bundle file changes anyway)."""
    _CACHE.clear()


def _load_cached(path: Path) -> Any:
    from autometa.metalearn.model import BUNDLE_FILE, load_model

    st = (path / BUNDLE_FILE).stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = load_model(path)
    return _CACHE[key]


def _resolve_model(model: Any, metabase: Any) -> tuple[Any, Optional[Path], Optional[str]]:
    """(MetaModel or None, its folder, note when there is none)."""
    from autometa.metalearn.model import BUNDLE_FILE, MetaModel, default_model_dir

    if isinstance(model, MetaModel):
        return model, model.path, None
    where = Path(model) if model is not None else default_model_dir(metabase)
    if not (where / BUNDLE_FILE).is_file():
        return None, where, (f"no trained meta-model at {where}; recommending every algorithm's default "
                             "(train one with `autometa metabase train`)")
    return _load_cached(where), where, None


def by_predicted_score(recs: Sequence[Recommendation]) -> list[Recommendation]:
    """Recommendations best predicted score first, NaN scores last (ties keep their order), with
    ranks renumbered 1..n."""
    def key(i: int) -> tuple[bool, float, int]:
        s = recs[i].predicted_score
        finite = s is not None and math.isfinite(s)
        return (not finite, -float(s) if finite else 0.0, i)

    return [replace(recs[i], rank=rank) for rank, i in enumerate(sorted(range(len(recs)), key=key), start=1)]


# ------------------------------------------------------------------ public API
def recommend_details(
    X: Any,
    y: Any = None,
    top_k: int = 5,
    *,
    task: Optional[str] = None,
    method: str = "combined",
    metabase: Optional[Union[str, Path]] = None,
    model: Any = None,
    seed: int = 0,
    algorithms: Optional[Sequence[str]] = None,
    extra_candidates: int = 0,
    time_budget: float = TIME_BUDGET,
    by_score: bool = True,
    adapt_size: Any = None,
) -> RecommendResult:
    """Like :func:`recommend`, returning a :class:`RecommendResult` with notes, neighbours,
    meta-features and timings. ``X`` may also be an :class:`autometa.data.Dataset` (``y`` ignored).

    ``by_score``: list the recommendations best predicted score first (NaN last), ranks 1..k;
    ``False`` keeps the method's own preference order (what :func:`warm_start_plan` enqueues; the
    combined method interleaves its sources there). The same ``top_k`` are chosen either way.

    ``adapt_size``: size-adaptation groups to apply to the recommended configurations (``"leaf"``,
    ``"rounds"``, a list of them, ``True`` for all, ``False`` for none); ``None`` (default) means
    :data:`autometa.metalearn.size.DEFAULT_GROUPS`. A note lists what was rescaled.
    """
    from autometa.data import Dataset, from_xy
    from autometa.metalearn.model import check_method
    from autometa.metalearn.size import DEFAULT_GROUPS, resolve_groups

    check_method(method, top_k)  # before anything is loaded: the fallback checks its arguments too
    groups = DEFAULT_GROUPS if adapt_size is None else resolve_groups(adapt_size)
    seconds: dict[str, float] = {}
    ds = X if isinstance(X, Dataset) else from_xy(X, y, task=task)
    n_rows = len(ds.X)
    t0 = time.perf_counter()
    meta, where, note = _resolve_model(model, metabase)
    seconds["load"] = time.perf_counter() - t0
    kind = space.task_kind(ds.task)
    if meta is not None and kind not in meta.kinds:
        note = f"the meta-model at {where} has no {kind} part; recommending every algorithm's default"
        meta = None
    if meta is None:
        defaults = [space.default_config(a, ds.task) for a in space.algorithms_for(ds.task, n_rows, include=algorithms)]
        recs = [Recommendation(rank=i, algorithm=c["algorithm"], params=dict(c["params"]), config=c,
                               predicted_score=math.nan, similar_datasets=[], method="default",
                               config_id=space.config_id(c))
                for i, c in enumerate(defaults[:top_k], start=1)]
        return RecommendResult(recommendations=by_predicted_score(recs) if by_score else recs, task=ds.task,
                               method="default", notes=[note] if note else [],
                               model_path=None if where is None else str(where), seconds=seconds)

    from autometa.metafeatures import describe_dataset
    from autometa.metalearn.features import groups_for

    names = meta.kinds[kind].scaler.names
    t0 = time.perf_counter()
    mf = describe_dataset(ds, groups=groups_for(names, ds.task) or ["general"], seed=seed,
                          max_rows=LANDMARK_ROWS, time_budget=time_budget)
    seconds["describe"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ranking = meta.rank(mf.values, ds.task, top_k=top_k, method=method, n_rows=n_rows, algorithms=algorithms,
                        extra_candidates=extra_candidates, seed=seed)
    seconds["rank"] = time.perf_counter() - t0
    recs = [Recommendation(rank=it["rank"], algorithm=it["algorithm"], params=it["params"], config=it["config"],
                           predicted_score=float(it["predicted_score"]), similar_datasets=it["similar_datasets"],
                           method=it["method"], config_id=it["config_id"])
            for it in ranking.items]
    notes = list(ranking.notes)
    if groups:
        recs, note = _adapt(recs, ds.task, n_rows, ranking.reference_rows, groups)
        if note:
            notes.append(note)
    if mf.cut_short:
        notes.append(f"meta-feature groups cut short by the {time_budget:g} s budget: {', '.join(mf.cut_short)}")
    return RecommendResult(recommendations=by_predicted_score(recs) if by_score else recs, task=ds.task,
                           method=ranking.method, notes=notes,
                           neighbours=ranking.neighbours, metafeatures={n: mf.values.get(n, math.nan) for n in names},
                           model_path=None if where is None else str(where), seconds=seconds,
                           reference_rows=ranking.reference_rows)


def _adapt(recs: list[Recommendation], task: str, n_rows: int, reference: float,
           groups: Sequence[str]) -> tuple[list[Recommendation], str]:
    """Recommendations with their configurations size-adapted, and a note saying what changed."""
    from autometa.metalearn.size import adapt_to_size

    out, changed = [], set()
    for r in recs:
        config = adapt_to_size(r.config, n_rows, reference, task, groups)
        if config["params"] != r.config["params"]:
            changed.update(k for k in config["params"] if config["params"][k] != r.config["params"].get(k))
            r = replace(r, params=dict(config["params"]), config=config, config_id=space.config_id(config))
        out.append(r)
    if not changed:
        return out, ""
    return out, (f"size adaptation ({', '.join(groups)}): {', '.join(sorted(changed))} rescaled from the "
                 f"~{reference:,.0f} rows of the metabase's runs to {n_rows:,} rows")


def recommend(
    X: Any,
    y: Any = None,
    top_k: int = 5,
    *,
    task: Optional[str] = None,
    method: str = "combined",
    metabase: Optional[Union[str, Path]] = None,
    model: Any = None,
    seed: int = 0,
) -> list[Recommendation]:
    """The ``top_k`` configurations to try first on ``(X, y)``, best predicted score first.

    ``method``: ``"knn"``, ``"portfolio"``, ``"ranker"`` or ``"combined"`` (see
    :mod:`autometa.metalearn`). ``model``: a trained :class:`~autometa.metalearn.MetaModel` or its
    folder; by default ``<metabase>/model`` of ``metabase`` (or of the default metabase).
    Deterministic for a given ``seed`` as long as no meta-feature group runs out of its time
    budget (a note says when one does).
    """
    return recommend_details(X, y, top_k, task=task, method=method, metabase=metabase, model=model,
                             seed=seed).recommendations


#: how many recommendations a warm-started search enqueues before TPE takes over
WARM_START_K = 10


def warm_start_plan(X: Any, y: Any = None, *, task: Optional[str] = None, n_trials: int = 50,
                    **kwargs: Any) -> RecommendResult:
    """The recommendations a warm-started search enqueues first: the top
    ``min(WARM_START_K, n_trials)`` (the CLI and the estimators both start here), in the method's
    preference order (``by_score=False``), not re-sorted by predicted score."""
    k = max(1, min(WARM_START_K, int(n_trials)))
    kwargs.setdefault("by_score", False)
    return recommend_details(X, y, k, task=task, **kwargs)


def warm_start_configs(X: Any, y: Any, task: str, n: int = WARM_START_K, **kwargs: Any) -> list[dict]:
    """Configurations for a search to evaluate first."""
    return [r.config for r in warm_start_plan(X, y, task=task, n_trials=n, **kwargs).recommendations]


class _CallableModule(types.ModuleType):
    """Lets ``autometa.recommend(X, y)`` work even when the name resolves to this module."""

    def __call__(self, *args: Any, **kwargs: Any) -> list[Recommendation]:
        return recommend(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

"""The fit workflow, written once: describe → recommend → search → refit, inside a time budget.

``autometa fit``, ``autometa export`` and the estimators all call :func:`fit_automl` (or its
refit step), so a time budget, a Ctrl-C or a run that ends before any trial finishes behaves the
same everywhere. With a time budget the whole call — meta-features, search and refit — is held
to it: trials run in a child process killed at the remaining time, time is kept back for the
refit (estimated from the best trial's fit time), the refit itself is killable, and when nothing
could be cross-validated in time the first recommendation is fitted on a small subsample so that
there is still a model (with a note saying so).
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

import pandas as pd

from autometa import space
from autometa.errors import AutometaError, ConfigError

__all__ = ["FitProgress", "AutoMLResult", "FitInterrupted", "fit_automl", "refit", "warm_start_configs"]

#: rows the budget fallback model is fitted on
FALLBACK_ROWS = 2_000
#: seconds per meta-feature group without a time budget (as ``autometa recommend``)
DESCRIBE_SECONDS = 2.0
#: share of a time budget the meta-features may take in all
DESCRIBE_SHARE = 0.08
#: share of a time budget beyond it that the refit may still use before the fallback is taken
#: (none: what is left of the 10 % tolerance goes to saving the model and printing the results)
REFIT_SLACK = 0.0


@dataclass
class FitProgress:
    """What a ``progress`` callback of :func:`fit_automl` receives.

    ``phase`` is "describe" (meta-features and recommendations), "search", "refit" or
    "fallback"; ``search`` holds the search's own progress during the search phase.
    """

    phase: str
    elapsed: float  # seconds since the fit started (data loading included when the caller says)
    budget: Optional[float]  # the time budget, None without one
    search: Any = None  # autometa.search.SearchProgress during the search phase


@dataclass
class AutoMLResult:
    """A fitted pipeline with how it was found (``search`` is None when the fallback was used)."""

    pipeline: Any
    task: str
    metric: str
    best_config: dict
    best_score: float  # CV score, higher is better; NaN for the fallback model
    device: str
    search: Any = None  # autometa.search.SearchResult
    plan: Any = None  # autometa.recommend.RecommendResult of a warm start
    notes: list[str] = field(default_factory=list)
    fallback: bool = False  # the model was not cross-validated (budget ran out first)
    interrupted: bool = False  # Ctrl-C: the best model so far
    elapsed: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)  # per phase


class FitInterrupted(KeyboardInterrupt):
    """Ctrl-C during a fit; ``result`` holds the best model so far (None when no trial finished)."""

    def __init__(self, result: Optional[AutoMLResult], study: Any = None) -> None:
        super().__init__("interrupted")
        self.result = result
        self.study = study


def warm_start_configs(ds: Any, warm_start: Any, *, n_trials: int, algorithms: Optional[Sequence[str]],
                       seed: int, describe_seconds: float = DESCRIBE_SECONDS) -> tuple[list[dict], Any]:
    """Configurations evaluated before TPE takes over, and the recommendation plan behind them.

    ``True``: the meta-model's top recommendations (every algorithm's default without one);
    ``False``/``None``: none, a cold start; a list of configurations: those, validated.
    """
    if warm_start is True:
        from autometa.recommend import warm_start_plan

        plan = warm_start_plan(ds, n_trials=n_trials, algorithms=algorithms, seed=seed,
                               time_budget=describe_seconds)
        return [r.config for r in plan.recommendations], plan
    if warm_start is False or warm_start is None:
        return [], None
    if isinstance(warm_start, (list, tuple)):
        return [space.validate_config(c, ds.task) for c in warm_start], None
    raise ConfigError(f"warm_start={warm_start!r} must be True, False or a list of configurations")


def _refit_child(config: dict, X: pd.DataFrame, y: pd.Series, column_types: dict[str, str], task: str, *,
                 seed: int, device: str, n_jobs: int, report: Any = None) -> Any:
    """Fit one configuration on all rows (run in a killable child process under a budget)."""
    from autometa.pipeline import build_pipeline, fit_context

    pipeline = build_pipeline(config, column_types, task, seed=seed, device=device, n_jobs=n_jobs)
    with fit_context(n_jobs):
        return pipeline.fit(X, y)


def refit(config: dict, X: pd.DataFrame, y: pd.Series, column_types: dict[str, str], task: str, *,
          seed: int = 0, n_jobs: int = 1, device: str = "cpu", time_limit: Optional[float] = None) -> Any:
    """The configuration's pipeline fitted on all rows; None when ``time_limit`` seconds ran out.

    With a time limit the fit runs in a child process that is killed at the limit.
    """
    from autometa.gpu import resolve_device
    from autometa.limits import run_limited

    device = resolve_device(device)
    kwargs = dict(seed=seed, device=device, n_jobs=n_jobs)
    if time_limit is None:
        return _refit_child(config, X, y, column_types, task, **kwargs)
    if time_limit <= 0:
        return None
    out = run_limited(_refit_child, (config, X, y, column_types, task), kwargs, time_limit=time_limit)
    if hasattr(out, "predict"):
        return out
    if getattr(out, "status", "") == "timeout":
        return None
    raise AutometaError(f"refitting the best configuration failed: {getattr(out, 'message', out)}; "
                        "rerun with --debug or another seed")


def _fallback(ds: Any, candidates: list[dict], seed: int, device: str) -> tuple[Any, dict]:
    """The first candidate that fits on a stratified subsample of at most FALLBACK_ROWS rows."""
    from autometa.metafeatures import stratified_subsample

    rows = stratified_subsample(ds.y, ds.task, FALLBACK_ROWS, seed)
    X = ds.X if rows is None else ds.X.iloc[rows]
    y = ds.y if rows is None else ds.y.iloc[rows]
    error: Exception = AutometaError("no candidate")
    for config in candidates:
        try:
            return _refit_child(config, X, y, ds.column_types, ds.task, seed=seed, device=device, n_jobs=1), config
        except (KeyboardInterrupt, AutometaError):
            raise
        except Exception as exc:  # try the next candidate
            error = exc
    raise AutometaError(f"no model could be fitted in the time budget ({type(error).__name__}: {error}); "
                        "raise the time budget")


#: algorithms quick enough to fit on the fallback subsample when the budget is spent
FAST_ALGORITHMS = ("lightgbm", "linear")


def _fallback_candidates(warm: list[dict], task: str, n_rows: int, algorithms: Optional[Sequence[str]]) -> list[dict]:
    """The first recommendation when it is quick to fit, else the fast defaults (LightGBM, linear)."""
    allowed = space.algorithms_for(task, n_rows, include=algorithms)
    out = [c for c in warm[:1] if c["algorithm"] in allowed and c["algorithm"] in FAST_ALGORITHMS]
    for name in ("lightgbm", "linear"):
        if name in allowed:
            out.append(space.default_config(name, task))
    return out or [space.default_config(a, task) for a in allowed[:1]]


def fit_automl(
    ds: Any,
    *,
    metric: Optional[str] = None,
    n_trials: int = 50,
    time_budget: Optional[float] = None,
    cv: Optional[int] = None,
    seed: int = 0,
    n_jobs: int = 1,
    storage: Any = None,
    study_name: Optional[str] = None,
    resume: bool = False,
    warm_start: Union[bool, None, Sequence[dict]] = True,
    algorithms: Optional[Sequence[str]] = None,
    device: str = "cpu",
    trial_time_limit: Optional[float] = None,
    trial_memory_limit_mb: Optional[float] = None,
    progress: Optional[Callable[[FitProgress], None]] = None,
    study_attrs: Optional[dict[str, Any]] = None,
    started: Optional[float] = None,
) -> AutoMLResult:
    """Describe ``ds`` (an :class:`autometa.data.Dataset`), warm-start the search, refit the best.

    ``time_budget`` (seconds) bounds the whole call, counted from ``started`` (a
    ``time.monotonic()`` value; default: now) so that a caller can include loading the data.
    Ctrl-C raises :class:`FitInterrupted` carrying the best model so far; finished trials stay in
    the storage.
    """
    from autometa.search import NoTrialFinished, run_search

    t0 = time.monotonic() if started is None else started
    deadline = None if time_budget is None else t0 + float(time_budget)
    seconds: dict[str, float] = {}
    notes: list[str] = []

    def elapsed() -> float:
        return time.monotonic() - t0

    def tell(phase: str, search_progress: Any = None) -> None:
        if progress is not None:
            progress(FitProgress(phase, elapsed(), time_budget, search_progress))

    if time_budget is not None and (isinstance(time_budget, bool) or not isinstance(time_budget, (int, float))
                                    or not math.isfinite(time_budget) or time_budget <= 0):
        raise ConfigError(f"time_budget={time_budget!r} must be a positive number of seconds")
    if time_budget is not None:
        from autometa.limits import warm_up

        warm_up()  # the trial processes' server starts while the meta-features are computed
    # 1. describe + recommend
    tell("describe")
    mark = time.monotonic()
    describe_seconds = DESCRIBE_SECONDS if time_budget is None else min(
        DESCRIBE_SECONDS, max(0.05, DESCRIBE_SHARE * time_budget / 4))
    chosen = None
    if algorithms is not None:
        from autometa.search import resolve_algorithms

        chosen = resolve_algorithms(ds.task, len(ds.X), algorithms)
    warm, plan = warm_start_configs(ds, warm_start, n_trials=n_trials, algorithms=chosen, seed=seed,
                                    describe_seconds=describe_seconds)
    if plan is not None:
        notes.extend(plan.notes)
    seconds["describe"] = time.monotonic() - mark

    # 2. search
    mark = time.monotonic()
    search = None
    interrupted = False
    search_budget = None if deadline is None else deadline - time.monotonic()
    try:
        if search_budget is not None and search_budget <= 0:
            raise NoTrialFinished(f"no trial could start within the time budget of {time_budget:g} s", study=None)
        search = run_search(
            ds.X, ds.y, ds.column_types, ds.task, metric=metric, n_trials=n_trials,
            time_budget=search_budget, cv=cv, seed=seed, n_jobs=n_jobs, storage=storage,
            study_name=study_name, algorithms=chosen, device=device,
            progress=(lambda p: tell("search", p)), resume=resume, warm_start=warm,
            trial_time_limit=trial_time_limit, trial_memory_limit_mb=trial_memory_limit_mb,
            study_attrs=study_attrs, refit_reserve=time_budget is not None,
        )
    except NoTrialFinished as exc:
        if time_budget is None:
            raise
        notes.append(f"{exc}")
    except KeyboardInterrupt as exc:
        interrupted = True
        study = getattr(exc, "study", None)
        search = _partial_result(study, metric, ds.task)
        if search is None:
            raise FitInterrupted(None, study) from None
    seconds["search"] = time.monotonic() - mark

    # 3. refit the best, or the fallback when nothing finished in time
    mark = time.monotonic()
    from autometa.gpu import resolve_device

    used_device = search.device if search is not None else resolve_device(device)
    pipeline = None
    if search is not None:
        tell("refit")
        if interrupted or deadline is None:
            try:
                pipeline = refit(search.best_config, ds.X, ds.y, ds.column_types, ds.task, seed=seed,
                                 n_jobs=n_jobs, device=used_device)
            except KeyboardInterrupt:
                raise FitInterrupted(None, search.study) from None
        else:
            limit = deadline + REFIT_SLACK * time_budget - time.monotonic()
            pipeline = refit(search.best_config, ds.X, ds.y, ds.column_types, ds.task, seed=seed,
                             n_jobs=n_jobs, device=used_device, time_limit=limit)
            if pipeline is None:
                notes.append(f"refitting the best configuration ({search.best_config['algorithm']}) on all "
                             f"{len(ds.X):,} rows did not finish within the time budget")
    seconds["refit"] = time.monotonic() - mark
    if pipeline is not None:
        result = AutoMLResult(
            pipeline=pipeline, task=ds.task, metric=search.metric, best_config=search.best_config,
            best_score=search.best_score, device=used_device, search=search, plan=plan, notes=notes,
            interrupted=interrupted, elapsed=elapsed(), seconds=seconds,
        )
        if interrupted:
            raise FitInterrupted(result, search.study)
        return result

    tell("fallback")
    mark = time.monotonic()
    best = [search.best_config] if search is not None and search.best_config["algorithm"] in FAST_ALGORITHMS else []
    candidates = best + _fallback_candidates(
        warm, ds.task, len(ds.X), chosen)
    pipeline, config = _fallback(ds, candidates, seed, used_device)
    seconds["fallback"] = time.monotonic() - mark
    rows = min(len(ds.X), FALLBACK_ROWS)
    if search is not None and config is search.best_config:
        origin = "the best trial's configuration"
    elif warm and config is warm[0]:
        origin = "the first recommendation"
    else:
        origin = "its default configuration"
    message = (f"time budget of {time_budget:g} s ran out before a model could be cross-validated and refitted; "
               f"saved {config['algorithm']} ({origin}) "
               f"fitted on {rows:,} of {len(ds.X):,} rows, not validated: raise the time budget for a searched model")
    warnings.warn(message, RuntimeWarning, stacklevel=2)
    notes.append(message)
    from autometa.evaluate import default_metric, get_metric

    metric_name = search.metric if search is not None else get_metric(metric or default_metric(ds.task), ds.task).name
    return AutoMLResult(
        pipeline=pipeline, task=ds.task, metric=metric_name, best_config=config,
        best_score=search.best_score if search is not None and config is search.best_config else math.nan,
        device=used_device, search=search, plan=plan, notes=notes, fallback=True, elapsed=elapsed(),
        seconds=seconds,
    )


def _partial_result(study: Any, metric: Optional[str], task: str) -> Any:
    """The search result of an interrupted study, or None when no trial completed."""
    if study is None:
        return None
    from autometa.search import NoTrialFinished, result_of

    try:
        return result_of(study)
    except NoTrialFinished:
        return None

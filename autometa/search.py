"""Warm-started Optuna search over the conditional space of :mod:`autometa.space`.

One study per search, maximising a higher-is-better CV score. The study first runs the
warm-start configurations (enqueued trials, never pruned), then TPE (multivariate, grouped: the
space is conditional on the algorithm). Every fold reports a running mean so that a median pruner
can stop hopeless configurations early. A trial that crashes, times out or runs out of memory is
a FAIL trial with its status and message kept, and the search goes on. A persistent storage
(SQLite URL or journal file) keeps the study so that a later call can resume it; a trial left
RUNNING by a killed process is marked FAIL and not counted on resume. With per-trial limits each
trial runs in a child process that is killed at the time limit and capped in memory
(:mod:`autometa.limits`). Several processes can share one study in PostgreSQL (``join``: the
``autometa worker`` command), the warm start being enqueued once by the process that creates it;
there each trial keeps a heartbeat, so that a trial of a worker that died on another host is
failed too. ``run_search`` takes another Optuna sampler or pruner, or another evaluation
function, as arguments (the benchmarks compare samplers through the same loop and limits).
"""
from __future__ import annotations

import json
import math
import os
import socket
import time
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence, Union

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from autometa import __version__, space
from autometa.errors import AutometaError, ConfigError
from autometa.evaluate import default_metric, evaluate_config, get_metric, make_splits
from autometa.gpu import resolve_device
from autometa.limits import can_isolate, check_limits, run_limited
from autometa.paths import process_alive

from autometa.redact import mask_url
from autometa.space import TASKS

ORIGIN_WARM_START = "warm-start"
ORIGIN_TPE = "tpe"
DEFAULT_STUDY_NAME = "autometa"
# user attr of a trial failed because the process running it stopped (not counted)
INTERRUPTED_ATTR = "interrupted"
# TPE's random start-up phase; warm-start trials count towards it
N_STARTUP_TRIALS = 5
# seconds a trial needs at least: with less of the time budget left, none starts
MIN_TRIAL_SECONDS = 0.5
# completed trials needed before the pruner compares a running fold mean with their median
PRUNER_STARTUP_TRIALS = 5
JOURNAL_SUFFIXES = (".log", ".journal")
RDB_SCHEMES = ("sqlite", "postgresql", "mysql")
# database servers shared by hosts: trials keep a heartbeat there, so that one whose process or
# host died elsewhere is failed after the grace period (one host's pids are checked directly)
HEARTBEAT_SCHEMES = ("postgresql", "mysql")
HEARTBEAT_INTERVAL_SECONDS = 60
HEARTBEAT_GRACE_SECONDS = 180
LEADERBOARD_COLUMNS = [
    "trial", "algorithm", "params", "score", "metric_value", "std", "fit_seconds", "status", "message",
    "origin",
]


class NoTrialFinished(AutometaError):
    """No trial of a search completed (time budget too short, or every trial failed)."""

    def __init__(self, message: str, study: Optional[optuna.Study] = None) -> None:
        super().__init__(message)
        self.study = study


@dataclass
class SearchProgress:
    """What a ``progress`` callback receives after each trial (and once before the first)."""

    done: int  # finished trials in the study, earlier runs of a resumed study included
    total: int  # the n_trials target
    best_score: float  # best CV score so far (NaN until a trial succeeded)
    elapsed: float  # seconds since this call to run_search started
    trial: Optional[int] = None  # number of the trial just finished (None before the first)
    algorithm: Optional[str] = None
    status: Optional[str] = None
    score: float = math.nan
    budget: Optional[float] = None  # the search's time budget in seconds (None: no budget)
    metric: str = ""  # the metric's name (scores are stored higher-is-better)


@dataclass
class SearchResult:
    """Outcome of :func:`run_search`: the study, the best configuration and a leaderboard."""

    study: optuna.Study
    best_config: dict
    best_score: float
    best_std: float
    metric: str
    task: str
    leaderboard: pd.DataFrame  # one row per finished trial, best first (see LEADERBOARD_COLUMNS)
    n_trials: int  # finished trials in the study
    device: str
    elapsed: float


# ---------------------------------------------------------------- storage and study
def open_storage(storage: Union[None, str, os.PathLike, optuna.storages.BaseStorage]) -> Any:
    """Turn a storage argument into an Optuna storage.

    ``None`` keeps the study in memory; ``sqlite:///path.db`` (or another SQLAlchemy URL of
    PostgreSQL/MySQL) uses a relational database; a path ending in ``.log``/``.journal`` uses a
    journal file, which needs no database and tolerates several processes appending to it.
    """
    if storage is None:
        return optuna.storages.InMemoryStorage()
    if isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if not isinstance(storage, (str, os.PathLike)):
        raise ConfigError(f"storage must be a URL or a file path, got {type(storage).__name__}")
    text = os.fspath(storage)
    shown = mask_url(repr(text))  # for messages: the URL's password masked
    if "://" in text:
        scheme = text.split("://", 1)[0].lower().split("+", 1)[0]
        if scheme not in RDB_SCHEMES:
            raise ConfigError(
                f"unsupported storage URL {shown}; use sqlite:///path.db or a journal file "
                "path ending in .log or .journal"
            )
        if scheme == "sqlite":
            db = text.split(":///", 1)[1] if ":///" in text else ""
            if db and db != ":memory:" and not Path(db).parent.is_dir():
                raise ConfigError(
                    f"cannot create storage {shown}: folder {str(Path(db).parent)!r} does not "
                    "exist; create it or choose another path"
                )
        url = _postgresql_driver(text)
        error: Exception = ConfigError("no attempt")
        for attempt in range(5):
            try:
                with warnings.catch_warnings():  # the heartbeat is "experimental" in Optuna
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return optuna.storages.RDBStorage(
                        url, engine_kwargs=_sqlite_engine_kwargs(url), **_heartbeat_options(scheme))
            except Exception as exc:  # driver missing, unreadable file, old schema, ...
                error = exc
                # processes starting together race to create the tables: the loser retries
                if "duplicate key" not in str(exc) and "already exists" not in str(exc):
                    break
                time.sleep(0.2 * (attempt + 1))
        raise ConfigError(
            f"cannot open storage {shown} ({_first_line(error)}); check the URL or use a new file"
        ) from None
    path = Path(text)
    if path.suffix.lower() in JOURNAL_SUFFIXES:
        if not path.parent.is_dir():
            raise ConfigError(
                f"cannot create journal {shown}: folder {str(path.parent)!r} does not exist; "
                "create it or choose another path"
            )
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        try:
            return JournalStorage(JournalFileBackend(text))
        except Exception as exc:
            raise ConfigError(
                f"cannot read journal {shown} ({_first_line(exc)}); it is not an Optuna journal "
                "file: choose another path"
            ) from None
    raise ConfigError(
        f"unsupported storage {shown}; use sqlite:///path.db or a journal file path ending in "
        ".log or .journal"
    )


class _SQLiteConnect:
    """Connection factory for SQLAlchemy: SQLite in WAL mode with ``synchronous=NORMAL``.

    SQLite's default syncs the disk on every commit, and Optuna commits every parameter, report
    and attribute: measured 12 ms per commit, ~450 ms of overhead per trial. WAL with NORMAL
    syncs at checkpoints only (~60 ms per trial); a committed trial survives a crash of the
    process, only a power cut can lose the last few. A class, not a closure: studies pickle.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self) -> Any:
        import sqlite3

        connection = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection


def _sqlite_engine_kwargs(url: str) -> Optional[dict[str, Any]]:
    """Engine arguments for a SQLite file URL (see :class:`_SQLiteConnect`); None otherwise."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.query \
            or parsed.database == ":memory:":
        return None
    return {"creator": _SQLiteConnect(parsed.database)}


def _heartbeat_options(scheme: str) -> dict[str, int]:
    """RDBStorage arguments: a heartbeat for database servers (:data:`HEARTBEAT_SCHEMES`).

    Not for SQLite: its file serves one machine, where the process-id check of
    :func:`fail_orphaned_trials` is exact and immediate, and a heartbeat thread would only contend
    for its single write lock.
    """
    if scheme not in HEARTBEAT_SCHEMES:
        return {}
    return {"heartbeat_interval": HEARTBEAT_INTERVAL_SECONDS,
            "grace_period": HEARTBEAT_GRACE_SECONDS}


def _postgresql_driver(url: str) -> str:
    """A ``postgresql://`` URL with the driver that is installed: SQLAlchemy 2.1 defaults to
    psycopg 3, the ``distributed`` extra installs psycopg2 (``postgresql+psycopg2://``)."""
    if not url.lower().startswith("postgresql://"):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def _first_line(exc: BaseException) -> str:
    """The first line of an error's text (at most 300 characters), passwords of URLs masked:
    SQLAlchemy and database drivers often echo the storage URL."""
    text = mask_url(str(exc)).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Silence Optuna's INFO logs (per trial, "A new study created") and its experimental-feature
    warnings for a while (a search, the report's importance study)."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # ask/tell with a heartbeat: this module records the heartbeats itself (_heartbeat)
            warnings.filterwarnings("ignore", "Heartbeat of storage is supposed to be used",
                                    UserWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)


class ConditionalTPESampler(optuna.samplers.TPESampler):
    """Multivariate, grouped TPE that samples only the groups of the algorithm a trial uses.

    Grouped TPE draws every group of the relative search space for each trial (one group per
    algorithm's parameters), though a trial uses one algorithm's groups only. Drawing the
    "algorithm" group first and then only that algorithm's groups gives each used parameter the
    same distribution at a fraction of the cost (see benchmarks/search.py: 6.8 ms per trial
    against 27 ms for plain ``TPESampler(multivariate=True, group=True)``, so the subclass stays).
    Trials run one at a time here, so the constant-liar sharing of relative samples between
    workers is not needed.

    Only public API: grouped TPE's ``sample_relative`` samples each group restricted to the names
    of the ``search_space`` it is given (the contract :class:`optuna.samplers.PartialFixedSampler`
    relies on) and skips empty groups without drawing, so it is called twice: with the
    "algorithm" parameter alone, then with the chosen algorithm's parameters (names
    ``algorithm:param``, see :mod:`autometa.space`).
    """

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, Any]
    ) -> dict[str, Any]:
        if "algorithm" not in search_space:  # one algorithm (or TPE's start-up): nothing to skip
            return super().sample_relative(study, trial, search_space)
        params = super().sample_relative(study, trial, {"algorithm": search_space["algorithm"]})
        if "algorithm" not in params:  # start-up trials: TPE samples nothing relatively yet
            return params
        prefix = f"{params['algorithm']}:"
        chosen = {n: d for n, d in search_space.items() if n.startswith(prefix)}
        if chosen:
            params.update(super().sample_relative(study, trial, chosen))
        return params


def tpe_sampler(seed: Optional[int], conditional: bool = True) -> optuna.samplers.TPESampler:
    """The search's default sampler: multivariate grouped TPE with :data:`N_STARTUP_TRIALS` random
    start-up trials, :class:`ConditionalTPESampler` (``conditional=False``: Optuna's plain one)."""
    cls = ConditionalTPESampler if conditional else optuna.samplers.TPESampler
    with warnings.catch_warnings():  # ``group`` is "experimental" in Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return cls(multivariate=True, group=True, seed=seed, n_startup_trials=N_STARTUP_TRIALS,
                   constant_liar=False)


def _open_study(storage: Any, study_name: str, seed: int,
                sampler: Optional[optuna.samplers.BaseSampler] = None,
                pruner: Optional[optuna.pruners.BasePruner] = None) -> optuna.Study:
    sampler = sampler if sampler is not None else tpe_sampler(seed)
    if pruner is None:
        # running fold means of a new configuration vs. the median of completed ones at the same fold
        pruner = optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=1)
    try:
        return optuna.create_study(
            storage=storage, sampler=sampler, pruner=pruner, study_name=study_name,
            direction="maximize", load_if_exists=True,
        )
    except Exception as exc:
        raise ConfigError(
            f"cannot open study {study_name!r} ({_first_line(exc)}); choose another --study-name"
        ) from None


def _reconcile_study(
    study: optuna.Study, *, task: str, metric: Optional[str], algorithms: Optional[list[str]],
    resume: bool, persistent: bool, current: dict[str, Any],
) -> tuple[Optional[str], Optional[list[str]]]:
    """Check a loaded study against this call; return (metric, algorithms) to use.

    A study holding trials is only continued on purpose (``resume``), and only with the same task,
    metric, algorithm list, seed and folds (``current`` holds this call's seed and cv), because
    scores and Optuna's distributions must stay comparable.
    """
    attrs = study.user_attrs
    has_trials = any(t.state != TrialState.WAITING for t in study.get_trials(deepcopy=False))
    if resume and not persistent:
        raise ConfigError(
            "resume needs a persistent storage; pass --storage sqlite:///search.db or a .journal file"
        )
    if not has_trials and "task" not in attrs:
        return metric, algorithms
    if not resume:
        raise ConfigError(
            f"study {study.study_name!r} already exists in this storage; pass --resume to continue "
            "it or choose another --study-name"
        )
    if study.direction != optuna.study.StudyDirection.MAXIMIZE or "task" not in attrs:
        raise ConfigError(
            f"study {study.study_name!r} was not created by autometa; choose another --study-name"
        )
    if attrs["task"] != task:
        raise ConfigError(
            f"study {study.study_name!r} is a {attrs['task']} search, not {task}; resume it with "
            "the same data and task or choose another --study-name"
        )
    for key, flag in (("seed", "--seed"), ("cv", "--cv")):
        if key in attrs and attrs[key] != current[key]:
            raise ConfigError(
                f"study {study.study_name!r} was run with {key}={attrs[key]}, not {current[key]}: "
                f"resume with {flag} {attrs[key]} so that the folds stay the same"
            )
    if metric is not None and metric != attrs.get("metric"):
        raise ConfigError(
            f"study {study.study_name!r} optimises {attrs.get('metric')}, not {metric}; resume "
            "with the same --metric or choose another --study-name"
        )
    stored = list(attrs.get("algorithms") or [])
    if algorithms is not None and stored and list(algorithms) != stored:
        raise ConfigError(
            f"study {study.study_name!r} searches algorithms {','.join(stored)}; resume with "
            "the same --algorithms (or none) or choose another --study-name"
        )
    return attrs.get("metric"), (stored or algorithms)


def _enqueue_warm_start(
    study: optuna.Study, configs: Sequence[dict], task: str, allowed: Sequence[str], room: int
) -> int:
    """Enqueue each configuration the study does not hold yet, at most ``room`` waiting in all.

    Configurations beyond the trial budget are left out rather than left waiting in the study;
    a resumed study with a larger budget enqueues them then. Returns how many were enqueued.
    """
    flats = [space.to_trial_params(c, task) for c in configs]  # ConfigError names a bad one
    waiting = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    n = 0
    for flat in flats:
        if flat["algorithm"] not in allowed or waiting + n >= room:
            continue
        before = len(study.get_trials(deepcopy=False))
        study.enqueue_trial(flat, user_attrs={"origin": ORIGIN_WARM_START}, skip_if_exists=True)
        n += len(study.get_trials(deepcopy=False)) > before
    return n


# ---------------------------------------------------------------- the search
def resolve_algorithms(task: str, n_rows: int, algorithms: Optional[Sequence[str]]) -> list[str]:
    """Algorithms to search: the given ones (ConfigError for unknown names) or all that suit the data."""
    if algorithms is not None:
        if isinstance(algorithms, str):
            algorithms = [a.strip() for a in algorithms.split(",") if a.strip()]
        algorithms = list(dict.fromkeys(algorithms))
        if not algorithms:
            raise ConfigError("algorithms is empty; name at least one, e.g. lightgbm,linear")
    allowed = space.algorithms_for(task, n_rows, include=algorithms)
    if not allowed:
        raise ConfigError(
            f"none of {', '.join(algorithms or [])} can be used for {task} on {n_rows} rows; "
            "choose other algorithms"
        )
    return allowed


def _check_numbers(
    n_trials: int, time_budget: Optional[float], trial_time_limit: Optional[float]
) -> None:
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ConfigError(f"n_trials={n_trials!r} must be a positive integer")
    for name, value in (("time_budget", time_budget), ("trial_time_limit", trial_time_limit)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float, np.number))
            or not value > 0
        ):
            raise ConfigError(f"{name}={value!r} must be a positive number of seconds")


def run_search(
    X: pd.DataFrame,
    y: pd.Series,
    column_types: dict[str, str],
    task: str,
    *,
    metric: Optional[str] = None,
    n_trials: int = 50,
    time_budget: Optional[float] = None,
    cv: Optional[int] = None,
    seed: int = 0,
    n_jobs: int = 1,
    storage: Union[None, str, os.PathLike, optuna.storages.BaseStorage] = None,
    study_name: Optional[str] = None,
    warm_start: Optional[list[dict]] = None,
    algorithms: Optional[Sequence[str]] = None,
    device: str = "cpu",
    trial_time_limit: Optional[float] = None,
    progress: Optional[Callable[[SearchProgress], None]] = None,
    resume: bool = False,
    trial_memory_limit_mb: Optional[float] = None,
    join: bool = False,
    study_attrs: Optional[dict[str, Any]] = None,
    refit_reserve: bool = False,
    sampler: Optional[optuna.samplers.BaseSampler] = None,
    pruner: Optional[optuna.pruners.BasePruner] = None,
    evaluate: Optional[Callable[..., Any]] = None,
) -> SearchResult:
    """Search configurations by CV score: warm-start trials first, then TPE; return the best.

    Stops after ``n_trials`` finished trials in the study (a resumed study counts its earlier
    trials) or after ``time_budget`` seconds, whichever comes first; the trial running when the
    budget runs out gets only the remaining time. ``warm_start=None`` uses every algorithm's
    default (:func:`autometa.space.default_configs`), ``[]`` none. ``device="gpu"`` falls back to
    the CPU with a warning when LightGBM's GPU backend does not work.

    ``trial_time_limit`` (seconds) and ``trial_memory_limit_mb`` (megabytes the trial may
    allocate) are hard limits: each trial then runs in a child process (:mod:`autometa.limits`)
    that is killed at the time limit (status "timeout") and cannot allocate beyond the memory
    limit (status "memout"); the search goes on. Without either, trials run in this process and
    only the time budget applies (checked after each fold).

    Several processes (``join=True``, e.g. ``autometa worker``) can search one study in a shared
    storage (PostgreSQL, or SQLite/journal on one machine): a joining process needs the study to
    exist, takes its metric and algorithms, enqueues no warm-start configuration, and stops when
    the study's finished trials plus those running elsewhere reach ``n_trials``. Trials left
    RUNNING by a process of this machine that no longer exists (killed, crashed), or by one that
    sent no heartbeat for :data:`HEARTBEAT_GRACE_SECONDS` (PostgreSQL/MySQL: a worker on another
    host), are marked FAIL with a note and not counted. ``study_attrs`` are stored on a new study
    (e.g. the target).

    ``time_budget`` is a hard limit: each trial runs in a killable child process with at most the
    remaining time, and no trial starts with less than :data:`MIN_TRIAL_SECONDS` left. A trial
    cut by the budget is recorded (status "timeout") but not counted. ``refit_reserve`` keeps back,
    from the budget, the time refitting the best configuration on all rows is expected to take
    (from its fold fit times), so that search and refit together end within the budget.
    Ctrl-C propagates as KeyboardInterrupt with the study attached (``exc.study``); finished
    trials stay in the storage. Raises :class:`NoTrialFinished` when no trial completed.

    ``sampler`` replaces the default :func:`tpe_sampler` (seeded with ``seed``), e.g.
    ``optuna.samplers.RandomSampler(seed=0)``; ``pruner`` the median pruner (e.g.
    ``optuna.pruners.NopPruner()``); warm-start trials run first whatever the sampler.
    ``evaluate`` replaces :func:`autometa.evaluate.evaluate_config` (None: that function, looked up
    when the search starts); it takes the same arguments and returns an ``EvalResult``. Under
    limits it runs in a child process, so it must be picklable (a module-level function): one
    that is not runs in this process, with a warning.
    """
    start = time.perf_counter()
    evaluate = evaluate if evaluate is not None else evaluate_config
    _check_numbers(n_trials, time_budget, trial_time_limit)
    check_limits(trial_time_limit, trial_memory_limit_mb)
    isolate = trial_time_limit is not None or trial_memory_limit_mb is not None or time_budget is not None
    if isolate and not can_isolate(evaluate):
        warnings.warn("the evaluation function cannot be sent to a child process; trial limits "
                      "are checked after each fold only", RuntimeWarning, stacklevel=2)
        isolate = False
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; use binary, multiclass or regression")
    device = resolve_device(device)
    name = study_name or DEFAULT_STUDY_NAME
    storage_obj = open_storage(storage)
    persistent = not isinstance(storage_obj, optuna.storages.InMemoryStorage)

    if algorithms is not None:
        algorithms = resolve_algorithms(task, len(X), algorithms)
    if metric is not None:
        metric = get_metric(metric, task).name  # canonical name: resumed studies compare names

    with quiet_optuna():
        # joining processes of one study must not draw the same random start-up configurations
        study = _open_study(storage_obj, name,
                            seed if not join else (seed * 1_000_003 + os.getpid()) % 2**32,
                            sampler=sampler, pruner=pruner)
        metric, algorithms = _reconcile_study(
            study, task=task, metric=metric, algorithms=algorithms, resume=resume or join,
            persistent=persistent, current={"seed": seed, "cv": cv},
        )
        if join and "task" not in study.user_attrs:
            raise ConfigError(f"study {name!r} does not exist in this storage yet; start it with "
                              "autometa fit first")
        metric_obj = get_metric(metric or default_metric(task), task)
        allowed = resolve_algorithms(task, len(X), algorithms)
        if "task" not in study.user_attrs:
            for key, value in (("task", task), ("metric", metric_obj.name), ("algorithms", allowed),
                               ("seed", seed), ("cv", cv), ("autometa_version", __version__),
                               *(study_attrs or {}).items()):
                study.set_user_attr(key, value)
        if not join:
            study.set_user_attr("n_trials", n_trials)

        splits = make_splits(y, task, cv=cv, seed=seed)
        fail_orphaned_trials(study, everything=resume and not join, storage=storage_obj)
        done = _count_done(study)
        if not join:  # workers never enqueue: the warm start is the creator's, once
            warm = space.default_configs(task, len(X)) if warm_start is None else list(warm_start)
            _enqueue_warm_start(study, warm, task, allowed, room=n_trials - done)

        best = max(
            (t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))),
            default=math.nan,
        )
        if progress is not None:
            progress(SearchProgress(done, n_trials, best, time.perf_counter() - start, budget=time_budget,
                                    metric=metric_obj.name))
        try:
            while done < n_trials:
                limit = trial_time_limit
                budget_ends = None
                if time_budget is not None:
                    remaining = time_budget - (time.perf_counter() - start)
                    if refit_reserve:
                        remaining -= _refit_seconds(study, len(splits), time_budget)
                    if remaining < MIN_TRIAL_SECONDS:
                        break
                    limit = remaining if limit is None else min(limit, remaining)
                    if limit == remaining:  # a timeout at this limit is the budget's end
                        budget_ends = time.monotonic() + remaining
                frozen = _run_trial(
                    study, X, y, column_types, task, allowed, metric_obj, splits,
                    seed=seed, device=device, n_jobs=n_jobs, time_limit=limit,
                    isolate=isolate, memory_limit_mb=trial_memory_limit_mb,
                    budget_ends=budget_ends, evaluate=evaluate, storage=storage_obj,
                )
                if persistent:  # other processes may share the study
                    fail_orphaned_trials(study, storage=storage_obj)
                    done = _count_done(study)
                else:
                    done += 1
                score = frozen.value if frozen.state == TrialState.COMPLETE else math.nan
                if not math.isnan(score) and (math.isnan(best) or score > best):
                    best = score
                if progress is not None:
                    progress(SearchProgress(
                        done, n_trials, best, time.perf_counter() - start, frozen.number,
                        frozen.params.get("algorithm"), frozen.user_attrs.get("status"), score,
                        budget=time_budget, metric=metric_obj.name,
                    ))
        except KeyboardInterrupt as exc:
            # Ctrl-C between a trial's end and its tell leaves it RUNNING: fail it, not counted
            _fail_own_running(study, storage_obj)
            exc.study = study  # type: ignore[attr-defined]  # the caller saves the best so far
            raise

    return _result(study, metric_obj.name, task, device, time.perf_counter() - start, time_budget)


def _run_trial(
    study: optuna.Study, X: pd.DataFrame, y: pd.Series, column_types: dict[str, str], task: str,
    allowed: Sequence[str], metric: Any, splits: list, *, seed: int, device: str, n_jobs: int,
    time_limit: Optional[float], isolate: bool = False, memory_limit_mb: Optional[float] = None,
    budget_ends: Optional[float] = None, evaluate: Optional[Callable[..., Any]] = None,
    storage: Any = None,
) -> FrozenTrial:
    """Ask one trial, evaluate it fold by fold (pruning allowed unless warm-start), tell the outcome.

    With ``isolate`` the evaluation runs in a child process under hard limits (time_limit,
    memory_limit_mb), see :func:`autometa.limits.run_limited`. ``evaluate`` defaults to
    :func:`autometa.evaluate.evaluate_config`; a ``storage`` with a heartbeat gets one from this
    process while the trial is evaluated (see :func:`_heartbeat`).
    """
    evaluate = evaluate if evaluate is not None else evaluate_config
    trial = study.ask()
    trial.set_user_attr("worker", worker_id())
    origin = trial.user_attrs.get("origin")
    if origin is None:
        origin = ORIGIN_TPE
        trial.set_user_attr("origin", origin)
    config = space.suggest_config(trial, task, allowed)
    last_fold = len(splits) - 1

    def report(fold: int, running_mean: float) -> bool:
        if not math.isfinite(running_mean):
            return False
        trial.report(float(running_mean), fold)
        # warm-start trials are the reference points; pruning after the last fold saves nothing
        if origin == ORIGIN_WARM_START or fold >= last_fold:
            return False
        return trial.should_prune()

    try:
        with _heartbeat(storage, trial):
            if isolate:
                res = run_limited(
                    evaluate, (config, X, y, column_types, task),
                    dict(metric=metric, splits=splits, seed=seed, device=device, n_jobs=n_jobs,
                         time_limit=time_limit),
                    time_limit=time_limit, memory_limit_mb=memory_limit_mb, report=report,
                    deadline=budget_ends,  # the budget counts the child's start-up too
                )
            else:
                res = evaluate(
                    config, X, y, column_types, task, metric=metric, splits=splits, seed=seed,
                    device=device, n_jobs=n_jobs, time_limit=time_limit, report=report,
                )
        status, message, score = res.status, res.message or "", float(res.score)
        fold_scores = [float(s) for s in res.fold_scores]
        std, fit_seconds = float(res.std), float(res.fit_seconds)
        if status == "ok" and not math.isfinite(score):
            status, message = "crash", message or f"the score is {score}"
    except KeyboardInterrupt:
        _record(trial, config, origin, device, "crash", "interrupted by Ctrl-C; not counted", [],
                math.nan, math.nan)
        trial.set_user_attr(INTERRUPTED_ATTR, True)
        study.tell(trial, state=TrialState.FAIL)
        raise
    except AutometaError as exc:  # the caller's mistake (columns, device, ...): same for every trial
        _record(trial, config, origin, device, "crash", str(exc), [], math.nan, math.nan)
        study.tell(trial, state=TrialState.FAIL)
        raise
    except Exception as exc:  # a bug in one configuration's pipeline must not end the search
        status, message, score = "crash", f"{type(exc).__name__}: {_first_line(exc)}", math.nan
        fold_scores, std, fit_seconds = [], math.nan, math.nan
    if status == "timeout" and budget_ends is not None and time.monotonic() >= budget_ends - 0.05:
        # not this configuration's fault: a resumed study runs it again
        message = f"stopped when the time budget ran out ({time_limit:.1f} s left); not counted"
        trial.set_user_attr(INTERRUPTED_ATTR, True)
    _record(trial, config, origin, device, status, message, fold_scores, std, fit_seconds)
    if status == "ok":
        return study.tell(trial, score)
    if status == "pruned":
        return study.tell(trial, state=TrialState.PRUNED)
    return study.tell(trial, state=TrialState.FAIL)


def _refit_seconds(study: optuna.Study, n_folds: int, budget: float) -> float:
    """Expected seconds to refit the best trial's configuration on all rows.

    A fold fits on (k-1)/k of the rows, so one fit on all of them takes about the mean fold fit
    time times k/(k-1); with a margin of 30 % and half a second for starting the process. Before
    any trial completed: the time a quick fallback model needs (5 % of the budget, 0.5 to 2 s).
    """
    best = None
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if best is None or t.value > best.value:
            best = t
    if best is None or best.user_attrs.get("fit_seconds") is None:
        return min(2.0, max(0.5, 0.05 * budget))
    per_fold = float(best.user_attrs["fit_seconds"]) / max(1, n_folds)
    return 1.3 * per_fold * n_folds / max(1, n_folds - 1) + 0.5


def worker_id(pid: Optional[int] = None) -> str:
    """``host:pid`` of a process (default: this one), stored on each trial it runs."""
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


def _interrupted(t: FrozenTrial) -> bool:
    return bool(t.user_attrs.get(INTERRUPTED_ATTR)) or _stopped(t)


def _stopped(t: FrozenTrial) -> bool:
    """Failed by Optuna's heartbeat check: every trial this module fails gets a status first."""
    return t.state == TrialState.FAIL and "status" not in t.user_attrs


def _count_done(study: optuna.Study) -> int:
    """Finished trials (interrupted ones not counted) plus trials running in other processes."""
    trials = study.get_trials(deepcopy=False)
    finished = sum(t.state.is_finished() and not _interrupted(t) for t in trials)
    return finished + sum(t.state == TrialState.RUNNING for t in trials)


def fail_orphaned_trials(study: optuna.Study, everything: bool = False, *, storage: Any) -> int:
    """Mark FAIL the RUNNING trials whose process is gone; return how many.

    A trial's process is gone when it ran on this machine under a process id that no longer
    exists (a ``kill -9``, a crash, a power cut), or, with a storage that keeps heartbeats
    (PostgreSQL/MySQL, see :func:`open_storage`), when it sent none for
    :data:`HEARTBEAT_GRACE_SECONDS` (a process or host that died elsewhere). With ``everything``
    (resuming a study that no other process uses), RUNNING trials that name no process are failed
    too. Such trials keep status "crash" with a note, are not counted towards ``n_trials``, and a
    warning says so. ``storage`` is the study's storage (from :func:`open_storage`).
    """
    host = socket.gethostname()
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    failed = _fail_stale_trials(study, storage, running)
    for t in running:
        if t.number in failed:
            continue
        worker = str(t.user_attrs.get("worker") or "")
        name, _, pid = worker.rpartition(":")
        if worker:
            if name != host or not pid.isdigit() or int(pid) == os.getpid() or process_alive(int(pid)):
                continue
        elif not everything:
            continue
        who = f"process {worker}" if worker else "an earlier process"
        try:
            for key, value in (("status", "crash"), (INTERRUPTED_ATTR, True),
                               ("message", f"interrupted: {who} stopped while running this "
                                           "trial; not counted")):
                storage.set_trial_user_attr(_trial_id(t), key, value)
            study.tell(t.number, state=TrialState.FAIL)
        except Exception:  # another process finished or failed it first
            continue
        failed.append(t.number)
    if failed:
        warnings.warn(f"{len(failed)} trial(s) left running by a stopped process marked failed "
                      f"and not counted: {', '.join(map(str, sorted(failed)))}", RuntimeWarning,
                      stacklevel=2)
    return len(failed)


def _fail_own_running(study: optuna.Study, storage: Any) -> None:
    """Mark FAIL (interrupted, not counted) the trials this process left RUNNING on Ctrl-C."""
    me = worker_id()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t.user_attrs.get("worker") != me:
            continue
        try:
            for key, value in (("status", "crash"), (INTERRUPTED_ATTR, True),
                               ("message", "interrupted by Ctrl-C; not counted")):
                storage.set_trial_user_attr(_trial_id(t), key, value)
            study.tell(t.number, state=TrialState.FAIL)
        except Exception:  # finished meanwhile
            continue


def _fail_stale_trials(study: optuna.Study, storage: Any, running: list[FrozenTrial]) -> list[int]:
    """Numbers of the ``running`` trials Optuna's heartbeat check failed now (none without one).

    :func:`optuna.storages.fail_stale_trials` fails them without autometa's user attributes (a
    finished trial takes none), so :func:`_stopped` recognises them by their missing status.
    """
    if not running or not _heartbeat_interval(storage):
        return []
    optuna.storages.fail_stale_trials(study)
    numbers = {t.number for t in running}
    return [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
            if t.number in numbers and _stopped(t)]


def _heartbeat_interval(storage: Any) -> Optional[int]:
    """Seconds between heartbeats of a storage that keeps them, else None."""
    if isinstance(storage, optuna.storages.RDBStorage):
        return storage.get_heartbeat_interval()
    return None


@contextmanager
def _heartbeat(storage: Any, trial: optuna.Trial) -> Iterator[None]:
    """Record the trial's heartbeat every interval while the block runs (storages that keep them).

    Optuna records heartbeats only inside ``Study.optimize``; this search asks and tells, so it
    records them itself, in a thread (an evaluation can last longer than the grace period).
    """
    interval = _heartbeat_interval(storage)
    if not interval:
        yield
        return
    import threading

    stop = threading.Event()
    trial_id = _trial_id(trial)

    def beat() -> None:
        while True:
            try:
                storage.record_heartbeat(trial_id)
            except Exception:  # the database is unreachable for a moment: try again later
                pass
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name="autometa-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5.0)  # a heartbeat stuck on an unreachable database does not hold the trial


def _trial_id(trial: Union[optuna.Trial, FrozenTrial]) -> int:
    """The storage's id of a trial: the one Optuna internal this module uses.

    Optuna exposes no public trial id, yet its public storage methods (``set_trial_user_attr``,
    ``RDBStorage.record_heartbeat``) take one; a trial of another process (an orphan) cannot be
    reached otherwise, and ``study.tell`` takes the number but sets no user attribute.
    """
    return trial._trial_id


def _num(value: float) -> Optional[float]:
    """A float for storage: NaN/inf become None so every storage backend round-trips it."""
    return float(value) if value is not None and math.isfinite(value) else None


def _record(
    trial: optuna.Trial, config: dict, origin: str, device: str, status: str, message: str,
    fold_scores: list[float], std: float, fit_seconds: float,
) -> None:
    for key, value in (
        ("config", json.dumps(config)),  # parameters in space order
        ("fold_scores", [_num(s) for s in fold_scores]),
        ("std", _num(std)),
        ("fit_seconds", _num(fit_seconds)),
        ("status", status),
        ("message", message.splitlines()[0][:500] if message else ""),
        ("origin", origin),
        ("device", device),
    ):
        trial.set_user_attr(key, value)


# ---------------------------------------------------------------- results
def trial_config(trial: FrozenTrial) -> dict:
    """The configuration a finished trial evaluated (from its user attrs, else its params)."""
    if "config" in trial.user_attrs:
        return json.loads(trial.user_attrs["config"])
    return space.from_trial_params(trial.params)


def params_text(config: dict, max_params: int = 4) -> str:
    """Short text of a configuration's first (most influential) parameters, e.g. ``C=1, penalty=l2``.

    Shows the hyperparameters as the estimator receives them (:func:`autometa.space.model_params`:
    ``gamma=0.0065``, not ``gamma=value, gamma_value=0.0065``), in the space's order (most
    influential first), floats to 3 significant digits. The leaderboard, the ``recommend`` table
    and the report all use it.
    """
    params = space.model_params(config)
    items = []
    for key, value in list(params.items())[:max_params]:
        if isinstance(value, (float, np.floating)):
            value = f"{float(value):.3g}"
        items.append(f"{key}={value}")
    more = len(params) - max_params
    return ", ".join(items) + (", ..." if more > 0 else "")


def leaderboard(study: optuna.Study, metric: Optional[str] = None) -> pd.DataFrame:
    """One row per finished trial: successful ones by score (best first), then pruned, then failed.

    ``score`` is stored higher-is-better (losses negated); ``metric_value`` is the metric's own
    value (``rmse`` positive), for ``metric`` (default: the study's ``metric`` attribute).
    """
    from autometa.display import metric_value

    metric = metric or study.user_attrs.get("metric")
    rows = []
    order = {TrialState.COMPLETE: 0, TrialState.PRUNED: 1, TrialState.FAIL: 2}
    for t in study.get_trials(deepcopy=False, states=tuple(order)):
        config = trial_config(t) if (t.user_attrs.get("config") or t.params) else {"params": {}}
        attrs = t.user_attrs
        status = attrs.get("status") or {TrialState.PRUNED: "pruned"}.get(t.state, "crash")
        rows.append({
            "trial": t.number,
            "algorithm": config.get("algorithm", t.params.get("algorithm", "")),
            "params": params_text(config),
            "score": float(t.value) if t.state == TrialState.COMPLETE else math.nan,
            "std": attrs.get("std") if attrs.get("std") is not None else math.nan,
            "fit_seconds": attrs.get("fit_seconds") if attrs.get("fit_seconds") is not None else math.nan,
            "status": status,
            "message": attrs.get("message", "") if not _stopped(t) else (
                f"interrupted: process {attrs.get('worker') or '?'} sent no heartbeat while "
                "running this trial; not counted"),
            "origin": attrs.get("origin", ORIGIN_TPE),
            "_rank": order[t.state],
        })
    frame = pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS + ["_rank"])
    frame = frame.sort_values(["_rank", "score", "trial"], ascending=[True, False, True],
                              na_position="last", kind="stable")
    frame = frame.drop(columns="_rank").reset_index(drop=True)
    frame["metric_value"] = [metric_value(metric, s) for s in frame["score"]]
    for col in ("score", "metric_value", "std", "fit_seconds"):
        frame[col] = frame[col].astype("float64")
    frame["trial"] = frame["trial"].astype("int64")
    return frame


def _result(study: optuna.Study, metric: str, task: str, device: str, elapsed: float,
            time_budget: Optional[float]) -> SearchResult:
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state.is_finished()]
    complete = [t for t in finished if t.state == TrialState.COMPLETE]
    if not complete:
        if not [t for t in finished if not _interrupted(t)]:
            raise NoTrialFinished(
                f"no trial finished within the time budget of {time_budget:g} s; raise the time budget"
                if time_budget is not None else "no trial finished; raise n_trials", study=study,
            )
        failed = [t for t in finished if t.state == TrialState.FAIL]
        messages = Counter(t.user_attrs.get("message") or "unknown error" for t in failed)
        common = messages.most_common(1)[0][0] if messages else "every trial was pruned"
        statuses = Counter(t.user_attrs.get("status") for t in failed)
        hint = ("raise the time budget or the trial time limit"
                if statuses and statuses.most_common(1)[0][0] == "timeout"
                else "check the data or try other algorithms")
        raise NoTrialFinished(
            f"all {len(finished)} trials failed; most common error: {common}; {hint}", study=study,
        )
    best = max(complete, key=lambda t: (t.value, -t.number))
    std = best.user_attrs.get("std")
    return SearchResult(
        study=study,
        best_config=trial_config(best),
        best_score=float(best.value),
        best_std=float(std) if std is not None else math.nan,
        metric=metric,
        task=task,
        leaderboard=leaderboard(study, metric),
        n_trials=sum(not _interrupted(t) for t in finished),
        device=device,
        elapsed=elapsed,
    )


def result_of(study: optuna.Study) -> SearchResult:
    """The outcome so far of an autometa study (e.g. one interrupted by Ctrl-C).

    Raises :class:`NoTrialFinished` when no trial completed.
    """
    attrs = study.user_attrs
    devices = [t.user_attrs.get("device") for t in study.get_trials(deepcopy=False)]
    device = next((d for d in reversed(devices) if d), "cpu")
    return _result(study, attrs.get("metric", ""), attrs.get("task", ""), device, 0.0, None)


def load_result(storage: Union[str, os.PathLike, optuna.storages.BaseStorage],
                study_name: str) -> SearchResult:
    """The outcome of a study searched earlier (e.g. by several workers), from its storage."""
    storage_obj = open_storage(storage)
    with quiet_optuna():
        try:
            study = optuna.load_study(study_name=study_name, storage=storage_obj)
        except KeyError:
            raise ConfigError(f"no study {study_name!r} in this storage; check --study-name") from None
    attrs = study.user_attrs
    if "task" not in attrs or "metric" not in attrs:
        raise ConfigError(f"study {study_name!r} was not created by autometa; choose another "
                          "--study-name")
    return _result(study, attrs["metric"], attrs["task"], "cpu", 0.0, None)


def refit_best(
    result: SearchResult, X: pd.DataFrame, y: pd.Series, column_types: dict[str, str], *,
    seed: int = 0, n_jobs: int = 1, device: str = "cpu",
) -> Any:
    """Fit the best configuration of a search on all the training data; return the pipeline
    (:func:`autometa.automl.refit`, the one refit of the fit workflow)."""
    from autometa.automl import refit

    return refit(result.best_config, X, y, column_types, result.task, seed=seed, n_jobs=n_jobs,
                 device=device)

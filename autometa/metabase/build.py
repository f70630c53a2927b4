"""Build a metabase: evaluate one dense, shared candidate set of configurations on many datasets.

For every dataset of the given sources: load it (a bad one is skipped, its reason logged, and the
build goes on), skip it when the store already holds the same data from another source, compute
its meta-features on the full data, then evaluate the shared candidate list
(:func:`autometa.space.candidate_configs`: every algorithm's default, its known-good settings and
``N`` Sobol configurations; the same list for every dataset of a task kind) at one or more
**fidelities** (:class:`Level`):

* the base level: ``cv``-fold CV on at most ``max_rows`` rows (a stratified subsample), every
  candidate (``configs_per_algorithm`` Sobol points per algorithm);
* optional larger levels (``levels``: rows, Sobol points per algorithm), each on a prefix of the
  same list with the search's own folds (:func:`autometa.evaluate.make_splits` with ``cv=None``:
  the protocol a real fit of that size uses). A level runs on a dataset only when the dataset has
  more rows than the next smaller level used, so every level adds information.

Each level's runs record their own protocol (``autometa:cv3/1000``, ``autometa:search/5000``,
``autometa:search/20000``), so the meta-model never averages fidelities; the per-run time limit
grows with the rows (:func:`scaled_time_limit`). One run row per fold is appended to the store
as it finishes, so a build that is killed resumes where it stopped: (dataset, protocol,
configuration) triples already finished are skipped.

Progress goes to the ``autometa.metabase.build`` logger: INFO for each dataset done, WARNING for
a dataset skipped, DEBUG for details (failed runs, rare classes). While a build runs, all of
them are also appended to ``DIR/build.log`` (one ``UTC-timestamp message`` line each), whatever
the application's logging configuration shows.
"""
from __future__ import annotations

import logging
import math
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence

import numpy as np
import pandas as pd

from autometa import space
from autometa.errors import AutometaError, ConfigError
from autometa.metabase.sources import SourceItem, list_source
from autometa.metabase.store import Metabase, built_protocol, content_checksum
from autometa.versions import RUN_LIBRARIES, library_versions

__all__ = ["BuildSettings", "BuildReport", "Level", "candidate_configs", "stratified_subsample", "build_metabase",
           "scaled_time_limit"]

logger = logging.getLogger(__name__)

LOG_FILE = "build.log"
_STATUS_MAP = {"ok": "ok", "timeout": "timeout", "memout": "memout", "crash": "crash"}


@dataclass(frozen=True)
class Level:
    """One fidelity of a build: the candidates' first ``configs`` Sobol points per algorithm (with
    every default and known-good setting) on at most ``rows`` rows, ``cv`` folds (None: the
    search's own folds)."""

    rows: int
    configs: int
    cv: Optional[int]

    @property
    def protocol(self) -> str:
        """The protocol recorded on this level's runs."""
        return built_protocol(self.cv, self.rows)


def scaled_time_limit(seconds: Optional[float], rows: int) -> Optional[float]:
    """The per-run time limit for ``rows`` rows: ``seconds`` up to 1,000 rows, then growing as
    rows**0.75 (20 s at 1,000 rows -> ~106 s at 10,000 and ~189 s at 20,000)."""
    if seconds is None:
        return None
    return float(seconds) * max(1.0, rows / 1000.0) ** 0.75


@dataclass
class BuildSettings:
    """The protocol of a build; ``cv``, ``max_rows`` and ``seed`` must stay fixed across resumes."""

    configs_per_algorithm: int = 14
    max_rows: int = 1000
    cv: int = 3
    seed: int = 0
    run_time_limit: Optional[float] = 20.0
    #: larger fidelities as (rows, Sobol configurations per algorithm), with the search's own
    #: folds (see :meth:`fidelities`)
    levels: list[tuple[int, int]] = field(default_factory=list)
    n_jobs: int = 1
    algorithms: Optional[list[str]] = None
    #: address of a dask.distributed scheduler (``tcp://host:port`` or ``host:port``); the runs go
    #: to its workers instead of local processes. Not part of the protocol: a build may resume
    #: with or without it.
    scheduler: Optional[str] = None
    #: datasets with fewer rows are left out (not part of the protocol: a later build may add them)
    min_rows: int = 0
    #: only the source items the metabase already records (fill in new candidates or levels, add no
    #: dataset); not part of the protocol
    existing_only: bool = False

    def check(self) -> None:
        """ConfigError for out-of-range settings."""
        if self.configs_per_algorithm < 0:
            raise ConfigError(f"--configs-per-algorithm must be >= 0, got {self.configs_per_algorithm}")
        if self.max_rows < 20:
            raise ConfigError(f"--max-rows must be at least 20, got {self.max_rows}")
        if self.cv < 2:
            raise ConfigError(f"--cv must be at least 2, got {self.cv}")
        if self.n_jobs == 0 or self.n_jobs < -1:
            raise ConfigError(f"--n-jobs must be a positive number of processes or -1 (all cores), got {self.n_jobs}")
        if self.run_time_limit is not None and self.run_time_limit <= 0:
            raise ConfigError(f"--run-time-limit must be positive seconds, got {self.run_time_limit}")
        if self.algorithms is not None:
            for a in self.algorithms:
                space.get_algorithm(a)
        if self.scheduler is not None and not _SCHEDULER_RE.match(self.scheduler):
            raise ConfigError(f"--scheduler must be tcp://HOST:PORT or HOST:PORT, got {self.scheduler!r}")
        rows = [int(r) for r, _ in self.levels]
        for r, c in self.levels:
            if int(r) <= self.max_rows or int(c) < 0:
                raise ConfigError(f"--level {r}:{c}: a level needs more rows than --max-rows "
                                  f"({self.max_rows}) and at least 0 configurations per algorithm")
        if len(set(rows)) != len(rows):
            raise ConfigError(f"--level rows must differ, got {', '.join(map(str, rows))}")

    def fidelities(self) -> list[Level]:
        """The levels of this build, fewest rows first: the base level, then ``levels``."""
        extra = sorted((int(r), int(c)) for r, c in self.levels)
        return [Level(self.max_rows, self.configs_per_algorithm, self.cv)] + [Level(r, c, None) for r, c in extra]

    def fidelities_for(self, n_rows: int) -> list[Level]:
        """The levels a dataset of ``n_rows`` rows runs: the base one, and each larger one whose
        next smaller level did not already see every row."""
        levels = self.fidelities()
        return [lv for i, lv in enumerate(levels) if i == 0 or n_rows > levels[i - 1].rows]


_SCHEDULER_RE = re.compile(r"^(tcp://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+):(\d{1,5})$")
#: seconds to wait for a dask scheduler before the build gives up
SCHEDULER_CONNECT_TIMEOUT = 5.0


def _connect_scheduler(address: str) -> Any:
    """A ``distributed.Client`` on ``address``; ConfigError when dask is missing or it cannot connect."""
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError("--scheduler needs dask.distributed: install autometa's distributed extra") from None
    full = address if address.startswith("tcp://") else f"tcp://{address}"
    try:
        return Client(full, timeout=SCHEDULER_CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(f"cannot connect to the dask scheduler at {address} within "
                          f"{SCHEDULER_CONNECT_TIMEOUT:g} s ({type(exc).__name__})") from None


@dataclass
class BuildReport:
    """What a build did: datasets done / skipped (with reasons), run counts, wall time."""

    out: Path
    done: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    runs_ok: int = 0
    runs_failed: int = 0
    runs_resumed: int = 0
    wall_seconds: float = 0.0

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        out = [
            f"datasets: {len(self.done)} done, {len(self.duplicates)} duplicates skipped, "
            f"{len(self.skipped)} skipped",
            f"runs: {self.runs_ok} ok, {self.runs_failed} failed (timeout/memout/crash), "
            f"{self.runs_resumed} configurations already done",
            f"wall time: {self.wall_seconds:.0f} s; metabase: {self.out}",
        ]
        for name, reason in self.skipped:
            out.append(f"  skipped {name}: {reason}")
        return out


# ------------------------------------------------------------------ candidates and rows
def candidate_configs(task: str, per_algorithm: int, seed: int = 0,
                      algorithms: Optional[Sequence[str]] = None, n_rows: Optional[int] = None) -> list[dict]:
    """The shared candidate list (:func:`autometa.space.candidate_configs`) of the algorithms
    offered for ``n_rows`` rows (all when None)."""
    offered = set(space.algorithms_for(task, n_rows, include=algorithms))
    return [c for c in space.candidate_configs(task, per_algorithm, seed, algorithms) if c["algorithm"] in offered]


def stratified_subsample(y: pd.Series, task: str, max_rows: int, seed: int = 0,
                         min_class_rows: int = 2) -> tuple[np.ndarray, list[str]]:
    """Row indices of a subsample of at most ``max_rows`` rows and the classes it lost.

    Calls :func:`autometa.metafeatures.stratified_subsample` (the one stratified subsample):
    classification keeps every class's share, each class at least ``min_class_rows`` rows (all
    of a smaller class) while ``max_rows`` allows, so no class is dropped; classes with fewer
    rows than the folds are then kept in training by :func:`autometa.evaluate.make_splits`.
    The classes returned are those without a row in the subsample (only when ``max_rows`` is
    below the number of classes). Regression draws uniformly. Indices are sorted; same inputs,
    same rows.
    """
    from autometa.metafeatures import stratified_subsample as subsample

    rows = subsample(pd.Series(y), task, int(max_rows), seed, min_class_rows=min_class_rows)
    idx = np.arange(len(y)) if rows is None else rows
    if task == "regression":
        return idx, []
    labels = pd.Series(y).astype("category")
    kept = set(labels.iloc[idx].dropna().unique().tolist())
    dropped = [str(c) for c, k in labels.value_counts().items() if k > 0 and c not in kept]
    return idx, dropped


def _per_fold(value: Any, n_done: int, i: int) -> float:
    """A per-fold number from a list (that fold's value) or a total over the ``n_done`` folds run."""
    if value is None:
        return math.nan
    if isinstance(value, (list, tuple, np.ndarray)):
        return float(value[i]) if i < len(value) and value[i] is not None else math.nan
    return float(value) / max(n_done, 1)


def result_rows(dataset_id: str, config_id: str, result: Any, n_folds: int, seed: int,
                protocol: Optional[str] = None, metric: Optional[str] = None) -> list[dict]:
    """One run row per fold from an :class:`autometa.evaluate.EvalResult` (or a dict of its fields).

    Folds that completed carry their metric values and status ``ok``; when the evaluation stopped
    early (timeout/memout/crash), the folds it did not finish carry that status and its message.
    ``protocol`` (:func:`autometa.metabase.store.built_protocol`) and ``metric`` (the one
    ``score`` is computed from) are recorded on every row when given.
    """
    get = (lambda k, d=None: result.get(k, d)) if isinstance(result, dict) else (
        lambda k, d=None: getattr(result, k, d))
    status = str(get("status", "crash"))
    message = get("message") or ""
    if status not in _STATUS_MAP:
        message = f"{status}: {message}".strip(": ")
        status = "crash"
    fold_scores = list(get("fold_scores") or [])
    fold_metrics = list(get("fold_metrics") or [])
    done = min(len(fold_scores), n_folds) if status != "ok" else n_folds
    rows = []
    for i in range(n_folds):
        row: dict[str, Any] = {"dataset_id": dataset_id, "config_id": config_id, "fold": i, "seed": seed,
                               "n_folds": n_folds}
        if protocol is not None:
            row["protocol"] = protocol
        if metric is not None:
            row["metric"] = metric
        if i < done and i < len(fold_scores):
            row["status"] = "ok"
            row["message"] = None
            row["score"] = float(fold_scores[i]) if fold_scores[i] is not None else math.nan
            metrics = fold_metrics[i] if i < len(fold_metrics) else {}
            for k, v in (metrics or {}).items():
                row[f"m_{k}"] = float(v) if v is not None else math.nan
            row["fit_seconds"] = _per_fold(get("fit_seconds"), len(fold_scores), i)
            row["predict_seconds"] = _per_fold(get("predict_seconds"), len(fold_scores), i)
        else:  # not finished: the evaluation's failure status, or a crash when an ok result lacks the fold
            row["status"] = status if status != "ok" else "crash"
            row["message"] = (message or None) if status != "ok" else "fold result missing"
            row["score"] = math.nan
            row["fit_seconds"] = math.nan
            row["predict_seconds"] = math.nan
        rows.append(row)
    return rows


def _evaluate_one(config: dict, config_id: str, X: pd.DataFrame, y: pd.Series, column_types: dict,
                  task: str, metric: str, splits: Any, seed: int,
                  time_limit: Optional[float]) -> tuple[str, dict]:
    """Evaluate one configuration (runs in a worker process); never raises."""
    import warnings

    from autometa.evaluate import evaluate_config

    t0 = time.monotonic()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = evaluate_config(config, X, y, column_types, task, metric=metric, splits=splits,
                                  seed=seed, n_jobs=1, time_limit=time_limit)
        out = {k: getattr(res, k, None) for k in
               ("status", "score", "fold_scores", "fold_metrics", "fit_seconds", "predict_seconds", "message")}
    except MemoryError:
        out = {"status": "memout", "message": "out of memory"}
    except Exception as exc:  # evaluate reports failures itself; this is the last guard
        out = {"status": "crash", "message": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"}
    out["wall"] = time.monotonic() - t0
    return config_id, out


# ------------------------------------------------------------------ logging
class _LineFormatter(logging.Formatter):
    """A ``build.log`` line: the UTC time and the message (no traceback: one line per record)."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{stamp} {record.getMessage()}"


class _ToParent(logging.Handler):
    """Propagation during a build: pass on the records the application's configuration enables
    (the build's logger is at DEBUG then, so that its details reach ``build.log`` in any case)."""

    def emit(self, record: logging.LogRecord) -> None:
        parent = logger.parent
        if parent is not None and parent.isEnabledFor(record.levelno):
            parent.handle(record)


@contextmanager
def _log_file(path: Path) -> Iterator[None]:
    """Append every record of the build's logger to ``path`` while the block runs (the file is
    opened by the first record, once the build has created its folder)."""
    to_file = logging.FileHandler(path, mode="a", encoding="utf-8", delay=True)  # flushed after each record
    to_file.setFormatter(_LineFormatter())
    to_parent = _ToParent()
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(to_file)
    logger.addHandler(to_parent)
    try:
        yield
    finally:
        logger.removeHandler(to_parent)
        logger.removeHandler(to_file)
        logger.setLevel(level)
        logger.propagate = propagate
        to_file.close()


# ------------------------------------------------------------------ manifest
_PROTOCOL_KEYS = ("cv", "max_rows", "seed")


def _check_protocol(manifest: dict, settings: BuildSettings, out: Path) -> None:
    old = manifest.get("settings") or {}
    for key in _PROTOCOL_KEYS:
        if key in old and old[key] != getattr(settings, key):
            flag = "--" + key.replace("_", "-")
            raise ConfigError(
                f"the metabase at {out} was built with {flag} {old[key]}; resume with {flag} {old[key]} "
                "or build into another --out folder"
            )


def _recorded_levels(manifest: dict, settings: BuildSettings) -> list[dict]:
    """Every fidelity any build of this metabase ran (protocol, rows, most Sobol configurations)."""
    levels: dict[str, dict] = {}
    for entry in (manifest.get("settings") or {}).get("levels") or []:
        levels[str(entry.get("protocol"))] = dict(entry)
    for lv in settings.fidelities():
        old = levels.get(lv.protocol, {})
        levels[lv.protocol] = {"protocol": lv.protocol, "rows": lv.rows, "cv": lv.cv,
                               "configs_per_algorithm": max(lv.configs, int(old.get("configs_per_algorithm", 0)))}
    return sorted(levels.values(), key=lambda e: (int(e.get("rows") or 0), str(e["protocol"])))


# ------------------------------------------------------------------ the build
def build_metabase(
    sources: Sequence[str],
    out: str | Path,
    settings: Optional[BuildSettings] = None,
    *,
    limit_datasets: Optional[int] = None,
    command: Optional[str] = None,
    console: Any = None,
    progress: Optional[bool] = None,
    flush_rows: int = 60,
    flush_seconds: float = 15.0,
    mf_time_budget: float = 10.0,
) -> BuildReport:
    """Build (or resume) a metabase in ``out`` from the given source specs; returns a report.

    ``progress`` shows a rich progress bar on ``console`` (default: when it is a terminal); what
    the build does is logged (see the module docstring) and written to ``out/build.log``.
    ``flush_rows`` / ``flush_seconds`` bound how many finished runs a crash can cost.
    """
    from rich.console import Console

    settings = settings or BuildSettings()
    settings.check()
    if not sources:
        raise ConfigError("give at least one --source (e.g. --source sklearn or --source csv:DIR)")
    if limit_datasets is not None and limit_datasets < 1:
        raise ConfigError(f"--limit-datasets must be at least 1, got {limit_datasets}")
    console = console or Console(stderr=True)
    items: list[SourceItem] = []
    for spec in sources:  # list everything first: a bad spec fails before any work
        items.extend(list_source(spec))
    if settings.min_rows:  # sizes the source knows up front; the others are checked once loaded
        items = [it for it in items if it.n_rows is None or it.n_rows >= settings.min_rows]
    if settings.existing_only:
        items = recorded_items(items, Path(out))
    if limit_datasets is not None:
        items = items[:limit_datasets]

    client = _connect_scheduler(settings.scheduler) if settings.scheduler else None
    try:
        with _log_file(Path(out) / LOG_FILE):
            return _build(items, sources, Path(out), settings, client, limit_datasets=limit_datasets,
                          command=command, console=console, progress=progress, flush_rows=flush_rows,
                          flush_seconds=flush_seconds, mf_time_budget=mf_time_budget)
    finally:
        if client is not None:
            client.close()


def recorded_items(items: Sequence[SourceItem], out: Path) -> list[SourceItem]:
    """The items whose dataset the metabase at ``out`` already records, matched without loading
    them by source and normalised name (source ids are not unique across ARFF collections);
    empty for a new metabase."""
    from autometa.metabase.store import normalise_name

    if not (Path(out) / "datasets.parquet").exists():
        return []
    ds = Metabase(out, create=False).datasets()
    if not len(ds):
        return []
    recorded = {(str(s).lower(), normalise_name(str(n))) for s, n in zip(ds["source"], ds["name"])}
    return [it for it in items if (it.source.lower(), normalise_name(it.name)) in recorded]


def _build(items: list[SourceItem], sources: Sequence[str], out: Path, settings: BuildSettings, client: Any, *,
           limit_datasets: Optional[int], command: Optional[str], console: Any, progress: Optional[bool],
           flush_rows: int, flush_seconds: float, mf_time_budget: float) -> BuildReport:
    store = Metabase(out, create=True)
    try:
        store.lock()
        manifest = store.manifest()
        _check_protocol(manifest, settings, out)
    except BaseException:
        store.close()
        raise
    report = BuildReport(out=out)
    started = time.monotonic()
    build_entry = {
        "command": command or command_line(sources, out, settings, limit_datasets),
        "sources": list(sources),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "n_jobs": settings.n_jobs,
        "scheduler": settings.scheduler,
        "run_time_limit": settings.run_time_limit,
        "wall_seconds": 0.0,
        "finished": False,
    }
    previous_wall = float(manifest.get("wall_seconds_total", 0.0) or 0.0)
    builds = list(manifest.get("builds") or [])
    builds.append(build_entry)

    def save_manifest(finished: bool = False) -> None:
        build_entry["wall_seconds"] = round(time.monotonic() - started, 1)
        build_entry["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        build_entry["finished"] = finished
        all_sources = list(dict.fromkeys(list(manifest.get("sources") or []) + list(sources)))
        from autometa.evaluate import default_metric

        new = {
            "format": 1,
            "sources": all_sources,
            "command": build_entry["command"],
            "settings": {
                "cv": settings.cv, "max_rows": settings.max_rows, "seed": settings.seed,
                "configs_per_algorithm": max(settings.configs_per_algorithm,
                                             int((manifest.get("settings") or {}).get("configs_per_algorithm", 0))),
                "run_time_limit": settings.run_time_limit,
                "levels": _recorded_levels(manifest, settings),
                "algorithms": settings.algorithms or list(space.DEFAULT_ORDER),
                "metafeature_time_budget": mf_time_budget,
            },
            "default_metric": {t: default_metric(t) for t in ("binary", "multiclass", "regression")},
            "builds": builds,
            "wall_seconds_total": round(previous_wall + build_entry["wall_seconds"], 1),
            "library_versions": library_versions(RUN_LIBRARIES),
            "encoding_names": space.encoding_names(),
            "counts": {k: v for k, v in store.summary().items() if k != "runs_by_algorithm"},
        }
        store.write_manifest(new)

    n_cands = sum(len(candidate_configs("binary", lv.configs, settings.seed, settings.algorithms))
                  for lv in settings.fidelities())
    show = console.is_terminal if progress is None else progress
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("ETA"), TimeRemainingColumn(), console=console, disable=not show, transient=False)
    logger.info(f"build: {len(items)} dataset(s) from {', '.join(sources)}; {n_cands} configurations per dataset; "
                f"cv={settings.cv} max_rows={settings.max_rows} run_time_limit={settings.run_time_limit} "
                f"levels={','.join(lv.protocol for lv in settings.fidelities())} "
                f"n_jobs={settings.n_jobs}" + (f" scheduler={settings.scheduler}" if settings.scheduler else ""))
    save_manifest()  # the build is on record even if it is killed before its first dataset ends
    try:
        with bar:
            overall = bar.add_task("configurations", total=len(items) * n_cands)
            for k, item in enumerate(items):
                bar.update(overall, description=f"[{k + 1}/{len(items)}] {item.name[:30]}")
                before = bar.tasks[0].completed
                try:
                    _build_one(item, store, settings, report, bar, overall, flush_rows, flush_seconds,
                               mf_time_budget, client)
                except AutometaError as exc:
                    report.skipped.append((item.name, str(exc)))
                    logger.warning(f"skip {item.source}:{item.name}: {exc}")
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # one bad dataset must not stop the build
                    reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
                    report.skipped.append((item.name, reason))
                    logger.warning(f"skip {item.source}:{item.name}: {reason}")
                store.flush()
                bar.update(overall, completed=before + n_cands)
                save_manifest()
        store.compact()
        report.wall_seconds = time.monotonic() - started
        save_manifest(finished=True)
        for line in report.lines()[:3]:  # the caller shows the report; the log file keeps its totals
            logger.debug(line)
    finally:
        store.close()
    return report


def _build_one(item: SourceItem, store: Metabase, settings: BuildSettings, report: BuildReport,
               bar: Any, overall: Any, flush_rows: int, flush_seconds: float,
               mf_time_budget: float, client: Any = None) -> None:
    """Load, dedup, describe and evaluate one dataset (raises AutometaError to skip it)."""
    import warnings

    t0 = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = item.load()
    name = ds.name or item.name
    if len(ds.y) < settings.min_rows:
        raise ConfigError(f"{len(ds.y)} rows, fewer than --min-rows {settings.min_rows}")
    checksum = content_checksum(ds.X, ds.y)
    n_rows, n_cols = int(len(ds.y)), int(ds.X.shape[1])
    existing = store.find_dataset(checksum, name, n_rows, n_cols, target=ds.target)
    if existing is not None:
        rec = store.dataset(existing)
        if (rec.get("source"), rec.get("name")) != (item.source, name):
            store.add_dataset({"name": name, "source": item.source, "source_id": item.source_id,
                               "task": ds.task, "n_rows": n_rows, "n_cols": n_cols, "checksum": checksum})
            report.duplicates.append((name, existing))
            logger.info(f"duplicate {item.source}:{name} = {existing} ({rec.get('source')}:{rec.get('name')}); skipped")
            return
        dataset_id = existing
    else:
        from autometa.metafeatures import describe

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mf = describe(ds.X, ds.y, ds.task, seed=0, time_budget=mf_time_budget)
        for group, message in mf.failed.items():  # shown as warnings by the metafeatures logger
            logger.debug(f"note {name}: meta-feature group {group} failed: {message}")
        record = {
            "name": name, "source": item.source, "source_id": item.source_id, "task": ds.task,
            "n_rows": n_rows, "n_cols": n_cols, "checksum": checksum, "target": ds.target,
            "metafeatures": {k: (math.nan if v is None else float(v)) for k, v in mf.values.items()},
            "extract_seconds": _total_seconds(getattr(mf, "seconds", None)),
            "extract_subsampled": json_list(getattr(mf, "subsampled", [])),
            "extract_cut_short": json_list(getattr(mf, "cut_short", [])),
            "extract_failed": json_list(getattr(mf, "failed", [])),
        }
        dataset_id, _ = store.add_dataset(record)
        store.flush()

    ok = failed = already = 0
    levels = settings.fidelities_for(n_rows)  # the base level first
    for i, level in enumerate(levels):
        counts = _run_level(ds, name, dataset_id, level, store, settings, bar, overall, flush_rows,
                            flush_seconds, client, base=i == 0)
        ok, failed, already = ok + counts[0], failed + counts[1], already + counts[2]
    report.runs_ok += ok
    report.runs_failed += failed
    report.runs_resumed += already
    report.done.append(name)
    if ok or failed:
        logger.info(f"done {item.source}:{name} ({dataset_id}, {ds.task}, {n_rows}x{n_cols}, "
                    f"rows_used={min(n_rows, levels[0].rows)}): "
                    f"{ok} ok, {failed} failed, {already} resumed, {time.monotonic() - t0:.1f} s"
                    + (f"; levels {', '.join(lv.protocol for lv in levels)}" if len(levels) > 1 else ""))
    else:
        logger.debug(f"done {item.source}:{name} ({dataset_id}): all {already} configurations already recorded")


def _run_level(ds: Any, name: str, dataset_id: str, level: Level, store: Metabase, settings: BuildSettings,
               bar: Any, overall: Any, flush_rows: int, flush_seconds: float, client: Any,
               base: bool) -> tuple[int, int, int]:
    """Evaluate one fidelity's candidates on one dataset; (ok, failed, already done) counts."""
    import warnings

    from autometa.evaluate import default_metric, make_splits

    idx, dropped = stratified_subsample(ds.y, ds.task, level.rows, settings.seed,
                                        min_class_rows=level.cv or 5)
    X = ds.X.iloc[idx].reset_index(drop=True)
    y = ds.y.iloc[idx].reset_index(drop=True)
    if ds.task != "regression":
        y = y.cat.remove_unused_categories() if isinstance(y.dtype, pd.CategoricalDtype) else y
    if dropped:
        logger.debug(f"note {name}: classes without a row in the {level.rows}-row subsample: "
                     f"{', '.join(dropped[:8])}")
    task = ds.task
    metric = default_metric(task)
    # rare classes (fewer rows than folds) stay in every training fold, never validated: the
    # warning saying so goes to the log file (DataError, when no two classes can be validated, skips)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        splits = make_splits(y, task, cv=level.cv, seed=settings.seed)
    for w in caught:
        if issubclass(w.category, UserWarning):
            logger.debug(f"note {name}: {w.message}")
    n_folds = len(splits)
    if base:
        # classes_left_out: classes no run validates (lost by the subsample, or kept in training only)
        not_validated = len(set(pd.Series(y).unique()) - set(np.unique(np.concatenate(
            [np.asarray(y)[te] for _, te in splits])))) if task != "regression" else 0
        store.update_dataset(dataset_id, rows_used=int(len(y)), n_folds=int(n_folds),
                             classes_left_out=len(dropped) + not_validated)

    configs = candidate_configs(task, level.configs, settings.seed, settings.algorithms, n_rows=len(y))
    ids = store.add_configs(configs, task)
    store.flush()
    done = store.finished(dataset_id, n_folds=n_folds, protocol=level.protocol)
    todo = [(c, i) for c, i in zip(configs, ids) if i not in done]
    already = len(configs) - len(todo)
    bar.advance(overall, already)
    if not todo:
        return 0, 0, already

    column_types = dict(ds.column_types)
    ok = failed = 0
    last_flush = time.monotonic()
    limit = scaled_time_limit(settings.run_time_limit, len(y))
    results = _run_all(todo, X, y, column_types, task, metric, splits, settings, client, time_limit=limit)
    for config_id, res in results:
        rows = result_rows(dataset_id, config_id, res, n_folds, settings.seed,
                           protocol=level.protocol, metric=metric)
        store.add_runs(rows)
        if res.get("status") == "ok":
            ok += 1
        else:
            failed += 1
            logger.debug(f"run {name} {level.protocol} {config_id}: {res.get('status')} "
                         f"{res.get('message') or ''}".rstrip())
        bar.advance(overall, 1)
        if store.n_pending >= flush_rows or time.monotonic() - last_flush >= flush_seconds:
            store.flush()
            last_flush = time.monotonic()
    store.flush()
    store.compact()
    return ok, failed, already


def _total_seconds(value: Any) -> float:
    """Seconds of meta-feature extraction: a number, or the sum of a per-group dict."""
    if isinstance(value, dict):
        return float(sum(float(v) for v in value.values()))
    return float(value) if isinstance(value, (int, float)) else math.nan


def json_list(value: Any) -> str:
    """A list-like value as a JSON list string (what the datasets table stores)."""
    import json

    if value is None:
        return "[]"
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if isinstance(value, dict):  # e.g. group -> error message
        return json.dumps({str(k): str(v) for k, v in sorted(value.items())})
    return json.dumps(sorted(str(v) for v in value))


def _run_all(todo: list[tuple[dict, str]], X: pd.DataFrame, y: pd.Series, column_types: dict, task: str,
             metric: str, splits: Any, settings: BuildSettings, client: Any = None,
             time_limit: Optional[float] = None) -> Iterable[tuple[str, dict]]:
    """Evaluate the configurations: in this process (n_jobs=1), in loky worker processes, or on the
    workers of a dask.distributed cluster (``client``). Results come in completion order, each
    tagged with its configuration id, whichever backend runs them."""
    args = (X, y, column_types, task, metric, splits, settings.seed, time_limit)
    if client is not None:
        return _run_dask(todo, args, client)
    if settings.n_jobs == 1:
        return (_evaluate_one(cfg, cid, *args) for cfg, cid in todo)
    from joblib import Parallel, delayed

    n_jobs = (os.cpu_count() or 1) if settings.n_jobs == -1 else settings.n_jobs
    par = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator_unordered")
    return par(delayed(_evaluate_one)(cfg, cid, *args) for cfg, cid in todo)


def _run_dask(todo: list[tuple[dict, str]], args: tuple, client: Any) -> Iterable[tuple[str, dict]]:
    """The loky path's Parallel over joblib's dask backend, on ``client``'s workers (all of them)."""
    from joblib import Parallel, delayed, parallel_config

    # the backend is chosen and used while the generator runs, so the config stays open around it
    with parallel_config(backend="dask", client=client):
        par = Parallel(n_jobs=-1, return_as="generator_unordered")
        yield from par(delayed(_evaluate_one_sequential)(cfg, cid, *args) for cfg, cid in todo)


def _evaluate_one_sequential(*args: Any) -> tuple[str, dict]:
    """:func:`_evaluate_one` on a dask worker, with joblib calls inside it (scikit-learn's) run in
    that worker as in a loky one: joblib's dask backend would otherwise send each back to the cluster."""
    from joblib import parallel_config

    with parallel_config(backend="sequential"):
        return _evaluate_one(*args)


def command_line(sources: Sequence[str], out: str | Path, settings: BuildSettings,
                 limit_datasets: Optional[int] = None) -> str:
    """The ``autometa metabase build`` command that reproduces a build, for the manifest."""
    import shlex

    args = ["autometa", "metabase", "build"]
    for spec in sources:
        args += ["--source", str(spec)]
    args += ["--out", str(out), "--configs-per-algorithm", str(settings.configs_per_algorithm),
             "--max-rows", str(settings.max_rows), "--cv", str(settings.cv), "--seed", str(settings.seed),
             "--n-jobs", str(settings.n_jobs)]
    if settings.run_time_limit is not None:
        args += ["--run-time-limit", f"{settings.run_time_limit:g}"]
    for rows, configs in settings.levels:
        args += ["--level", f"{rows}:{configs}"]
    if settings.algorithms:
        args += ["--algorithms", ",".join(settings.algorithms)]
    if settings.min_rows:
        args += ["--min-rows", str(settings.min_rows)]
    if settings.existing_only:
        args += ["--existing-only"]
    if limit_datasets is not None:
        args += ["--limit-datasets", str(limit_datasets)]
    if settings.scheduler:
        args += ["--scheduler", settings.scheduler]
    return " ".join(shlex.quote(a) for a in args)

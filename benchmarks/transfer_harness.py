"""Transfer benchmark: real-size, leave-family-out warm start, autometa vs cold search and FLAML.

Instead of metabase datasets, it holds out tasks of the curated task list (``<metabase>/tasks.csv``,
kept tasks, split at 5,000 rows; balanced over task types, at most one per family). Each is loaded
from its source (as ``scripts/curate_tasks.py`` lists them), stratified-subsampled to at most
``--max-rows`` rows and evaluated on the search's own folds with a per-trial time limit scaled to
its size, by ``autometa`` (the combined top-10 of a meta-model trained without the task's whole
family, then TPE), ``tpe``, ``random`` (each with its own trial budget), ``lightgbm-default``,
``flaml-zeroshot`` and ``flaml-automl`` (autometa's wall-clock). Rows are appended per (task, method)
to a resumable CSV (shardable with ``--shard i/n``); :func:`write_transfer_report` turns one or more
CSVs into Markdown with the issue's four targets and a PNG.

Run by ``benchmarks/transfer.py``; not part of the ``autometa`` package. The method runners,
protocol, CSV helpers, summary and plotting are shared with the leave-datasets-out benchmark and
imported from :mod:`warmstart_harness`.
"""
from __future__ import annotations

import importlib.util
import math
import os
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np
import pandas as pd

from autometa.errors import ConfigError, DataError
from warmstart_harness import (
    BENCH_DIR, CSV_COLUMNS, DEFAULT_BUDGETS, DEFAULT_OUT_DIR, FLAML_METHODS, SINGLE_METHODS, TASK_ORDER, Protocol,
    Summary, _append, _as_float, _automl_budget, _curve, _default_train, _done, _draw_curves, _fmt, _loads,
    _pyplot, _result_row, _run_method, _save, _snapshot, _table, _TaskData, _WarmStarter, benchmark_data,
    machine_info, parse_list, read_results, select_datasets, summarise,
)

__all__ = [
    "TRANSFER_METHODS", "TRANSFER_COLUMNS", "DEFAULT_TRIALS", "DEFAULT_SMALL", "DEFAULT_LARGE", "DEFAULT_MAX_ROWS",
    "DEFAULT_TRIAL_SECONDS", "trial_time_limit", "parse_trials", "parse_shard", "read_task_list", "select_tasks",
    "shard_of", "family_dataset_ids", "run_transfer", "write_transfer_report", "transfer_targets", "transfer_main",
]

TRANSFER_MAIN = "autometa"
TRANSFER_SEARCH = ("autometa", "tpe", "random")
TRANSFER_METHODS = TRANSFER_SEARCH + SINGLE_METHODS + ("flaml-automl",)
#: the methods whose result depends on how many recommendations were enqueued
TRANSFER_TOP_K = (TRANSFER_MAIN, "flaml-automl")
DEFAULT_TRIALS = {"autometa": 10, "tpe": 50, "random": 50}
#: the issue's budgets, named by its targets (warm@10 >= cold@50, warm@10 >= cold@10)
ISSUE_TRIALS = {"autometa": 10, "tpe": 50}
#: a task with at least this many rows (tasks.csv's n_rows, before any subsample) is in the large part
LARGE_ROWS = 5000
PARTS = {"small": "< 5k rows", "large": "≥ 5k rows"}
DEFAULT_MAX_ROWS = 20_000
DEFAULT_TRIAL_SECONDS = 20.0
DEFAULT_SMALL = DEFAULT_LARGE = 15
TRANSFER_COLUMNS = CSV_COLUMNS + ["part", "family", "n_rows", "max_rows", "n_folds", "trial_time_limit",
                                  "n_excluded", "excluded", "command", "machine"]
#: the method column of a row recording a task that could not be loaded (status "skipped")
SKIPPED = "-"


def default_arff_dir() -> Path:
    """The ARFF corpus: ``$AUTOMETA_ARFF_DIR``, else ``../shared/datasets/arff`` next to the repository."""
    env = os.environ.get("AUTOMETA_ARFF_DIR")
    return Path(env) if env else BENCH_DIR.parent.parent / "shared" / "datasets" / "arff"


def trial_time_limit(rows: int, base: float = DEFAULT_TRIAL_SECONDS) -> float:
    """Hard per-trial time limit for a table of ``rows`` rows: the metabase build's scaling
    (:func:`autometa.metabase.build.scaled_time_limit`, ``base`` × max(1, rows/1000)^0.75 s), rounded."""
    from autometa.metabase.build import scaled_time_limit

    return round(scaled_time_limit(base, rows), 1)


def parse_trials(text: Optional[str]) -> dict[str, int]:
    """``"autometa=10,tpe=50"`` over :data:`DEFAULT_TRIALS`; ConfigError for another method or a bad count."""
    out = dict(DEFAULT_TRIALS)
    for part in (parse_list(text) or []):
        method, sep, value = part.partition("=")
        method = method.strip()
        if not sep or method not in TRANSFER_SEARCH or not value.strip().isdigit() or int(value) < 1:
            raise ConfigError(f"cannot read {part!r} of --trials; use METHOD=N with METHOD one of "
                              f"{', '.join(TRANSFER_SEARCH)} and N a positive number of trials")
        out[method] = int(value)
    return out


def parse_shard(text: Optional[str]) -> tuple[int, int]:
    """``"i/n"`` -> (i, n), 1 <= i <= n; None -> (1, 1) (every task)."""
    if not text:
        return 1, 1
    i, sep, n = str(text).partition("/")
    if not sep or not i.strip().isdigit() or not n.strip().isdigit() or not 1 <= int(i) <= int(n):
        raise ConfigError(f"--shard {text!r}: use i/n with 1 <= i <= n, e.g. --shard 1/2")
    return int(i), int(n)


# ------------------------------------------------------------------ tasks
def read_task_list(path: Path) -> pd.DataFrame:
    """Every row of a curated task list (tasks.csv, :mod:`scripts/curate_tasks.py`), ``n_rows`` as
    integers, ``family`` filled (a task without one is its own family) and ``part`` ("small" below
    :data:`LARGE_ROWS` rows, else "large")."""
    from autometa.metalearn.families import read_tasks

    tasks = read_tasks(path)
    missing = [] if tasks is None else [c for c in ("status", "task", "n_rows") if c not in tasks.columns]
    if tasks is None or missing:
        lacking = f" (columns {', '.join(missing)} missing)" if missing else ""
        raise ConfigError(f"no curated task list at {path}{lacking}; write one with scripts/curate_tasks.py "
                          "or pass --tasks")
    tasks = tasks.copy()
    tasks["n_rows"] = pd.to_numeric(tasks["n_rows"], errors="coerce").fillna(0).astype(int)
    fam = tasks["family"] if "family" in tasks.columns else pd.Series([""] * len(tasks), index=tasks.index)
    tasks["family"] = [f or t for f, t in zip(fam, tasks["task_id"])]
    tasks["part"] = np.where(tasks["n_rows"] >= LARGE_ROWS, "large", "small")
    return tasks


def select_tasks(tasks: pd.DataFrame, n_small: Optional[int], n_large: Optional[int], seed: int = 0) -> pd.DataFrame:
    """Held-out tasks: ``n_small`` kept tasks below :data:`LARGE_ROWS` rows, then ``n_large`` from
    there (None: all of a part), each part balanced over task types in a seeded hash order
    (:func:`select_datasets`), at most one task per family over both parts. Deterministic."""
    kept = tasks[tasks["status"] == "kept"].rename(columns={"task_id": "dataset_id"})
    fams = dict(zip(kept["dataset_id"], kept["family"]))
    chosen: list[pd.DataFrame] = []
    taken: set[str] = set()
    for part, n in (("small", n_small), ("large", n_large)):
        pool = kept[(kept["part"] == part) & ~kept["family"].isin(taken)]
        if n == 0 or not len(pool):
            continue
        picked = select_datasets(pool, n, seed=seed, min_per_kind=1, families=fams)
        taken |= set(picked["family"])
        chosen.append(picked)
    if not chosen:
        return tasks.iloc[0:0].copy()
    return pd.concat(chosen, ignore_index=True).rename(columns={"dataset_id": "task_id"})


def shard_of(chosen: pd.DataFrame, shard: tuple[int, int]) -> pd.DataFrame:
    """Shard ``i/n`` of the selection: its tasks at positions i-1, i-1+n, i-1+2n, ..."""
    i, n = shard
    return chosen.iloc[list(range(i - 1, len(chosen), n))].reset_index(drop=True)


class _TaskSources:
    """Loaders of tasks.csv task ids (:class:`autometa.metabase.sources.TaskItems`, the build's
    own lookup); a task whose source or item is unavailable raises DataError saying why."""

    def __init__(self, arff_dir: Path) -> None:
        from autometa.metabase.sources import TaskItems

        self.items = TaskItems(Path(arff_dir))

    def load(self, task_id: str) -> Any:
        """The task's full Dataset."""
        try:
            item = self.items.item(task_id)
        except ConfigError as exc:
            raise DataError(str(exc)) from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return item.load()


def real_size_data(ds: Any, max_rows: int, seed: int, trial_seconds: float = DEFAULT_TRIAL_SECONDS
                   ) -> tuple[Any, list, Protocol]:
    """The task at real size: (Dataset of its stratified subsample of at most ``max_rows`` rows, the
    search's own folds (:func:`autometa.evaluate.make_splits` with ``cv=None``), the protocol with
    the size-scaled per-trial time limit)."""
    from dataclasses import replace

    from autometa.evaluate import make_splits

    protocol = Protocol(cv=None, max_rows=int(max_rows), seed=int(seed), run_time_limit=None, sources=())
    X, y, ct = benchmark_data(ds, protocol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        splits = make_splits(y, ds.task, cv=None, seed=seed)
    protocol = replace(protocol, run_time_limit=trial_time_limit(len(y), trial_seconds))
    return replace(ds, X=X, y=y, column_types=ct), splits, protocol


# ------------------------------------------------------------------ leave-family-out
def family_dataset_ids(task: Any, tasks: pd.DataFrame, datasets: pd.DataFrame, fams: dict[str, str],
                       checksum: Optional[str] = None) -> list[str]:
    """Metabase dataset ids of a task's whole family, sorted: the datasets that
    :func:`autometa.metabase.tasks.match_tasks` matches to a tasks.csv row of the task's
    ``family`` (or to the task itself), those with the task's content ``checksum``, those the
    metabase's families (:func:`autometa.metalearn.families`) put in the family, and every copy of these."""
    from autometa.metabase.tasks import match_tasks
    from autometa.metalearn import family_members

    family = str(task.get("family") or task["task_id"])
    members = pd.concat([pd.DataFrame([dict(task)]), tasks[tasks["family"] == family]], ignore_index=True)
    ids = set(match_tasks(datasets, members))
    if "dataset_id" in datasets.columns:
        cs = datasets["checksum"] if "checksum" in datasets.columns else pd.Series([None] * len(datasets))
        ids |= {str(d) for d, c in zip(datasets["dataset_id"], cs)
                if (checksum and c == checksum) or fams.get(str(d)) == family}
    return family_members(fams, ids) if ids else []


class _LeaveFamilyOut:
    """One meta-model per held-out family, trained without the family on first use and kept
    in-process; every use checks :func:`autometa.metalearn.assert_not_trained_on` for each
    excluded id, the task's content checksum and the family id."""

    def __init__(self, snap: Any, fams: dict[str, str], train_model: Callable[[Any, list[str]], Any]) -> None:
        self.snap, self.fams, self.train_model = snap, fams, train_model
        self._models: dict[str, Any] = {}

    def check(self, model: Any, family: str, exclude: Sequence[str], checksum: str) -> None:
        from autometa.metalearn import assert_not_trained_on

        for member in exclude:
            assert_not_trained_on(model, member, families=self.fams)
        assert_not_trained_on(model, checksum)
        assert_not_trained_on(model, family, families=self.fams)

    def model(self, family: str, exclude: list[str], checksum: str) -> Any:
        if family not in self._models:
            self._models[family] = self.train_model(self.snap, exclude)
        model = self._models[family]
        self.check(model, family, exclude, checksum)
        return model


# ------------------------------------------------------------------ the run
def _transfer_done(results: pd.DataFrame, task_id: str, method: str, seed: int, n_trials: int, top_k: int,
                   max_rows: int) -> Optional[pd.Series]:
    """The finished row of (task, method) under the same row cap, None when it must (re)run."""
    if len(results) and "max_rows" in results.columns:
        results = results[pd.to_numeric(results["max_rows"], errors="coerce") == max_rows]
    return _done(results, task_id, method, seed, n_trials, top_k, TRANSFER_SEARCH, TRANSFER_TOP_K)


def _record_skip(csv_path: Path, rec: dict, seed: int, reason: str, command: str, log: Callable[[str], None]) -> None:
    """A task that cannot be loaded: logged, and recorded once (per reason) for the report."""
    log(f"  {rec['task_id']}: skipped ({reason})")
    res = read_results(csv_path)
    if len(res) and ((res["dataset_id"] == rec["task_id"]) & (res["method"] == SKIPPED)
                     & (res["note"].fillna("") == reason)).any():
        return
    _append(csv_path, {"dataset_id": rec["task_id"], "name": rec["name"], "source": rec["source"],
                       "task": rec["task"], "method": SKIPPED, "seed": seed, "part": rec["part"],
                       "family": rec["family"], "n_rows": rec["n_rows"], "status": "skipped", "note": reason,
                       "command": command,
                       "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}, TRANSFER_COLUMNS)


def run_transfer(
    metabase: Optional[Path] = None,
    csv_path: Path = DEFAULT_OUT_DIR / "transfer.csv",
    *,
    tasks_path: Optional[Path] = None,
    n_small: Optional[int] = DEFAULT_SMALL,
    n_large: Optional[int] = DEFAULT_LARGE,
    task_ids: Optional[Sequence[str]] = None,
    trials: Optional[dict[str, int]] = None,
    methods: Sequence[str] = TRANSFER_METHODS,
    seed: int = 0,
    max_rows: int = DEFAULT_MAX_ROWS,
    trial_seconds: float = DEFAULT_TRIAL_SECONDS,
    top_k: int = 10,
    shard: tuple[int, int] = (1, 1),
    arff_dir: Optional[Path] = None,
    train_model: Callable[[Any, list[str]], Any] = _default_train,
    command: str = "",
    log: Callable[[str], None] = print,
    after_task: Optional[Callable[[Path], None]] = None,
) -> Path:
    """Run (or resume) the real-size leave-family-out benchmark, appending to ``csv_path``.

    Tasks: ``task_ids``, or :func:`select_tasks` of ``tasks_path`` (default ``<metabase>/tasks.csv``),
    then shard ``i/n`` of them. ``trials``: trial budgets of the searches (:data:`DEFAULT_TRIALS`).
    ``train_model(store, exclude_ids)`` trains the leave-family-out meta-model (a test passes one
    that leaks: :class:`~autometa.metalearn.LeakageError` is raised). Without FLAML the flaml-*
    methods are skipped, with a log line.
    """
    from autometa.evaluate import default_metric
    from autometa.metabase import content_checksum, open_metabase
    from autometa.metalearn import families

    trials = {**DEFAULT_TRIALS, **(trials or {})}
    unknown = [m for m in methods if m not in TRANSFER_METHODS]
    if unknown:
        raise ConfigError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(TRANSFER_METHODS)}")
    methods = [m for m in TRANSFER_METHODS if m in methods]
    if any(m in FLAML_METHODS for m in methods) and importlib.util.find_spec("flaml") is None:
        log(f"FLAML is not installed (bench extra: pip install -e \".[bench]\"): "
            f"{', '.join(m for m in methods if m in FLAML_METHODS)} skipped")
        methods = [m for m in methods if m not in FLAML_METHODS]
    store = open_metabase(metabase)
    snap = _snapshot(store)
    fams = families(snap)
    tasks = read_task_list(Path(tasks_path) if tasks_path else store.root / "tasks.csv")
    if task_ids:
        kept = tasks[tasks["status"] == "kept"].set_index("task_id")
        missing = [t for t in task_ids if t not in kept.index]
        if missing:
            raise ConfigError(f"task id(s) {', '.join(missing)} are not kept tasks of the task list")
        chosen = kept.loc[list(task_ids)].reset_index()
    else:
        chosen = select_tasks(tasks, n_small, n_large, seed=seed)
    chosen = shard_of(chosen, shard)
    sources = _TaskSources(arff_dir or default_arff_dir())
    models = _LeaveFamilyOut(snap, fams, train_model)
    machine = machine_info()
    log(f"transfer: {len(chosen)} task(s) (shard {shard[0]}/{shard[1]}; "
        + ", ".join(f"{PARTS[p]}: {int((chosen['part'] == p).sum())}" for p in PARTS)
        + f"); max_rows={max_rows}, search's own folds, trial limit {trial_seconds:g} s × max(1, rows/1000)^0.75; "
        f"trials {trials}; methods {', '.join(methods)}; metabase {store.root}")
    for k, rec in enumerate(chosen.to_dict("records"), start=1):
        tid = str(rec["task_id"])
        results = read_results(csv_path)
        todo = [m for m in methods
                if _transfer_done(results, tid, m, seed, trials.get(m, 1), top_k, max_rows) is None]
        if not todo:
            log(f"[{k}/{len(chosen)}] {tid}: done")
            continue
        t_task = time.perf_counter()
        try:
            full = sources.load(tid)
            ds, splits, protocol = real_size_data(full, max_rows, seed, trial_seconds)
            checksum = content_checksum(full.X, full.y)
            del full
        except Exception as exc:
            _record_skip(csv_path, rec, seed, f"{type(exc).__name__}: {str(exc)[:200]}", command, log)
            continue
        family = str(rec["family"])
        exclude = family_dataset_ids(rec, tasks, snap.datasets(), fams, checksum)
        task, metric = ds.task, default_metric(ds.task)
        data = _TaskData(ds.X, ds.y, ds.column_types, task, metric, splits, protocol, seed)
        base = {"dataset_id": tid, "name": rec["name"], "source": rec["source"], "task": task, "metric": metric,
                "rows_used": len(ds.y), "seed": seed, "part": rec["part"], "family": family,
                "n_rows": rec["n_rows"], "max_rows": max_rows, "n_folds": len(splits),
                "trial_time_limit": protocol.run_time_limit, "n_excluded": len(exclude),
                "excluded": ";".join(exclude), "command": command, "machine": machine}
        warm = _WarmStarter(lambda: models.model(family, exclude, checksum),
                            lambda m: models.check(m, family, exclude, checksum), ds, task, seed, top_k,
                            n_rows=len(ds.y))
        log(f"[{k}/{len(chosen)}] {tid} ({task}, {len(ds.y)} of {rec['n_rows']} rows, {len(splits)} folds, "
            f"trial limit {protocol.run_time_limit:g} s; {len(exclude)} metabase dataset(s) of its family left out)")
        for method in todo:
            n_trials = trials.get(method, 1)

            def automl_seconds() -> Optional[float]:
                return _automl_budget(_transfer_done(read_results(csv_path), tid, TRANSFER_MAIN, seed,
                                                     trials[TRANSFER_MAIN], top_k, max_rows))

            run, status, seconds = _run_method(
                "warm" if method == TRANSFER_MAIN else method, data, n_trials,
                recommend=lambda: warm.recommend("combined"), automl_seconds=automl_seconds)
            if run is None:
                log(f"  {tid}: flaml-automl needs {TRANSFER_MAIN}'s time; skipped (run {TRANSFER_MAIN} too)")
                continue
            row = _result_row(dict(base, max_trials=n_trials), method, run, status, seconds,
                              top_k if method in TRANSFER_TOP_K else "")
            _append(csv_path, row, TRANSFER_COLUMNS)
            log(f"  {tid} {method}: {'error ' + run.note if status != 'ok' else ''}best {run.best():.5g} "
                f"in {len(run.scores)} trial(s), {seconds:.1f}s")
        log(f"[{k}/{len(chosen)}] {tid}: {time.perf_counter() - t_task:.0f}s")
        if after_task is not None:
            after_task(csv_path)
    return csv_path


# ------------------------------------------------------------------ report
def read_transfer_results(csv_paths: Sequence[Path]) -> pd.DataFrame:
    """The rows of one or more transfer CSVs (shards), in order, exact duplicates dropped."""
    frames = [read_results(p) for p in csv_paths]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=TRANSFER_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    return out.drop_duplicates(subset=[c for c in out.columns if c in TRANSFER_COLUMNS]).reset_index(drop=True)


def merge_csvs(csv_paths: Sequence[Path], out: Path) -> Path:
    """Write the rows of several transfer CSVs (text kept as written) to ``out``, exact duplicates dropped."""
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in csv_paths
              if Path(p).is_file() and Path(p).stat().st_size]
    merged = (pd.concat(frames, ignore_index=True).drop_duplicates() if frames
              else pd.DataFrame(columns=TRANSFER_COLUMNS))
    merged = merged.reindex(columns=TRANSFER_COLUMNS + [c for c in merged.columns if c not in TRANSFER_COLUMNS])
    out.parent.mkdir(parents=True, exist_ok=True)
    merged.to_csv(out, index=False)
    return out


def _trials_run(results: pd.DataFrame) -> dict[str, int]:
    """Each search's trial budget in the results (its most common ``max_trials``)."""
    ok = results[(results["status"].fillna("ok") == "ok") & results["method"].isin(TRANSFER_SEARCH)]
    out = {}
    for m in TRANSFER_SEARCH:
        counts = pd.to_numeric(ok.loc[ok["method"] == m, "max_trials"], errors="coerce").dropna().astype(int)
        if len(counts):
            out[m] = int(counts.mode().max())
    return out


def _scores(s: Summary) -> pd.Series:
    """Best-so-far score per (dataset, method, budget) of the compared tasks."""
    return s.per_dataset.set_index(["dataset_id", "method", "budget"])["score"]


def _mean_norm(s: Summary, ids: Iterable[str]) -> pd.DataFrame:
    """Mean normalised score over ``ids`` (index budget, columns method; NaN where not measured)."""
    long = s.per_dataset[s.per_dataset["dataset_id"].isin(set(ids))]
    table = long.pivot_table(index="budget", columns="method", values="normalised", aggfunc="mean")
    return table.reindex(index=s.budgets, columns=s.methods)


def _at(table: pd.DataFrame, budget: Optional[int], method: str) -> float:
    try:
        return float(table.loc[budget, method])
    except (KeyError, TypeError):
        return math.nan


def _ge(a: float, b: float) -> bool:
    """``a >= b`` for scores (NaN = failed counts as -inf; equal to 9 significant digits ties)."""
    a, b = (-math.inf if not math.isfinite(v) else v for v in (a, b))
    return a >= b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _gt(a: float, b: float) -> bool:
    """Strictly ``a > b`` for scores (a tie is not greater)."""
    return not _ge(b, a)


def _share(ids: Sequence[str], won: Callable[[str], Optional[bool]], part_of: dict[str, str]
           ) -> tuple[float, str]:
    """Share of ``ids`` where ``won`` holds (None: not measurable there, left out), and the evidence."""
    verdicts = {d: won(d) for d in ids}
    counted = [d for d, v in verdicts.items() if v is not None]
    wins = [d for d in counted if verdicts[d]]
    share = len(wins) / len(counted) if counted else math.nan
    def count(part: str, among: list[str]) -> int:
        return sum(part_of.get(d) == part for d in among)

    by_part = "; ".join(f"{PARTS[p]}: {count(p, wins)}/{count(p, counted)}" for p in PARTS)
    return share, f"{len(wins)}/{len(counted)} tasks = {_pct(share)} ({by_part})"


def _pct(v: float) -> str:
    return "–" if not math.isfinite(v) else f"{100 * v:.0f}%"


def transfer_targets(s: Summary, part_of: dict[str, str], trials: dict[str, int]
                     ) -> list[tuple[str, Optional[bool], str]]:
    """(target, met? (None: not measurable), evidence) for the issue's four targets:
    warm@W >= cold@C in mean normalised score over all tasks and over the >= 5k-row part;
    warm@W >= cold@W on >= 70% of tasks; the first recommendation beats LightGBM's defaults
    (strictly) on >= 75% of tasks. W, C: the trial budgets of autometa and cold TPE (10 and 50)."""
    w, c = trials.get(TRANSFER_MAIN), trials.get("tpe")
    note = "" if (w, c) == (ISSUE_TRIALS["autometa"], ISSUE_TRIALS["tpe"]) else \
        f" [the issue's budgets are {ISSUE_TRIALS['autometa']} and {ISSUE_TRIALS['tpe']}; this run used {w} and {c}]"
    ids = list(s.datasets["dataset_id"])
    out: list[tuple[str, Optional[bool], str]] = []
    large = [d for d in ids if part_of.get(d) == "large"]
    for label, part_ids in (("all tasks", ids), (f"the {PARTS['large']} part", large)):
        table = _mean_norm(s, part_ids)
        a, t = _at(table, w, TRANSFER_MAIN), _at(table, c, "tpe")
        name = f"warm@{w} ≥ cold@{c} (mean normalised score), {label}"
        if not part_ids or not (math.isfinite(a) and math.isfinite(t)):
            why = ("no task covered" if not part_ids else f"{TRANSFER_MAIN} or tpe not run" if None in (w, c)
                   else f"warm@{w} or cold@{c} not measured")
            out.append((name, None, why + note))
        else:
            out.append((name, bool(a >= t), f"{a:.3f} vs {t:.3f} over {len(part_ids)} tasks" + note))
    sc = _scores(s)

    def score(d: str, m: str, b: Optional[int]) -> Optional[float]:
        return float(sc[(d, m, b)]) if (d, m, b) in sc.index else None

    def warm_vs_cold(d: str) -> Optional[bool]:
        a, t = score(d, TRANSFER_MAIN, w), score(d, "tpe", w)
        return None if a is None or t is None else _ge(a, t)

    def first_vs_default(d: str) -> Optional[bool]:
        a, b = score(d, TRANSFER_MAIN, 1), score(d, "lightgbm-default", 1)
        return None if a is None or b is None else _gt(a, b)

    for name, won, goal in ((f"warm@{w} ≥ cold@{w} on ≥ 70% of tasks", warm_vs_cold, 0.70),
                            ("first recommendation (warm@1) > LightGBM defaults on ≥ 75% of tasks",
                             first_vs_default, 0.75)):
        share, evidence = _share(ids, won, part_of)
        out.append((name, None if not math.isfinite(share) else bool(share >= goal), evidence))
    return out


def _verdict(met: Optional[bool]) -> str:
    return "not measurable" if met is None else ("**met**" if met else "**not met**")


def _task_rows(results: pd.DataFrame, s: Summary, trials: dict[str, int]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the per-task table: raw scores (higher is better) and normalised warm/cold."""
    w, c, r = trials.get(TRANSFER_MAIN, 10), trials.get("tpe", 50), trials.get("random", 50)
    cols = [("warm@1", TRANSFER_MAIN, 1), (f"warm@{w}", TRANSFER_MAIN, w), (f"cold@{w}", "tpe", w),
            (f"cold@{c}", "tpe", c), (f"random@{r}", "random", r), ("lgbm-default", "lightgbm-default", 1),
            ("flaml-zeroshot", "flaml-zeroshot", 1), ("flaml-automl", "flaml-automl", 1)]
    header = (["task", "part", "type", "rows used", "metric"] + [h for h, _, _ in cols]
              + [f"norm warm@{w}", f"norm cold@{c}"])
    ok = results[results["status"].fillna("ok") == "ok"].drop_duplicates(["dataset_id", "method"], keep="last")
    norm = (s.per_dataset.set_index(["dataset_id", "method", "budget"])["normalised"] if len(s.per_dataset)
            else pd.Series(dtype=float))
    covered = set(s.datasets["dataset_id"])
    rows = []
    for did, grp in sorted(ok.groupby("dataset_id"), key=lambda kv: (kv[1]["part"].iloc[0] != "small", str(kv[0]))):
        by_method = grp.set_index("method")
        first = grp.iloc[0]
        values = []
        for _, m, b in cols:
            if m in by_method.index and (m not in TRANSFER_SEARCH or b <= _as_float(by_method.loc[m, "max_trials"])):
                values.append(_fmt(_curve(_loads(by_method.loc[m, "trial_scores"]), b), 4))
            else:
                values.append("–")
        normed = [_fmt(float(norm[(did, m, b)])) if (did, m, b) in norm.index else "–"
                  for m, b in ((TRANSFER_MAIN, w), ("tpe", c))]
        name = f"`{did}`" + ("" if did in covered else " (incomplete)")
        rows.append([name, PARTS.get(str(first["part"]), str(first["part"])), str(first["task"]),
                     str(int(_as_float(first["rows_used"]))) if math.isfinite(_as_float(first["rows_used"])) else "–",
                     str(first["metric"])] + values + normed)
    return header, rows


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"] + ["| " + " | ".join(r) + " |" for r in rows]


def _distinct(results: pd.DataFrame, column: str) -> list[str]:
    if column not in results.columns:
        return []
    return list(dict.fromkeys(str(v) for v in results[column].dropna() if str(v).strip()))


def _protocol_lines(results: pd.DataFrame, trials: dict[str, int]) -> list[str]:
    """The protocol, from what the CSV rows recorded."""
    ok = results[results["status"].fillna("ok") == "ok"]
    rows_used = pd.to_numeric(ok["rows_used"], errors="coerce")
    limits = pd.to_numeric(ok["trial_time_limit"], errors="coerce")
    bases = (limits / np.maximum(1.0, rows_used / 1000.0) ** 0.75).round(0).dropna()
    folds = ok.drop_duplicates("dataset_id")["n_folds"].astype(str).value_counts()
    max_rows = ", ".join(_distinct(ok, "max_rows")) or "–"
    seeds = ", ".join(_distinct(ok, "seed")) or "–"
    base = ", ".join(f"{b:g}" for b in sorted(set(bases))) or "–"
    return [
        f"Protocol (real size): each task's full table is stratified-subsampled to at most **{max_rows}** rows "
        f"(seed {seeds}); every method is scored on the search's own folds (`make_splits(y, task, cv=None, seed)`: "
        "5 folds below 10,000 rows, 3 from 10,000; tasks here: "
        + ", ".join(f"{n} with {f} folds" for f, n in folds.items())
        + ") with the task's default metric (roc_auc binary, log_loss multiclass, rmse regression; scores are "
        "higher-is-better, so losses are negated); n_jobs=1; a hard per-trial time limit of "
        f"{base} s × max(1, rows/1000)^0.75 ({_fmt(limits.min(), 0)}–{_fmt(limits.max(), 0)} s here), also for "
        "the LightGBM defaults. Trials: "
        + ", ".join(f"{m} {n}" for m, n in trials.items())
        + f"; `{TRANSFER_MAIN}` enqueues the leave-family-out meta-model's combined top-10 recommendations, then "
        "TPE (`run_search`, median pruner, like cold `tpe`); `random` is Optuna's RandomSampler without pruning; "
        "`flaml-zeroshot` is FLAML's zero-shot LightGBM configuration; `flaml-automl` gets the wall-clock "
        f"seconds `{TRANSFER_MAIN}` took (meta-features, ranking and its trials), FLAML's own CV with the same "
        "number of folds, its best configuration re-scored on the benchmark's folds.", ""]


def write_transfer_report(csv_paths: Sequence[Path], out_md: Path, out_png: Path, *,
                          budgets: Sequence[int] = DEFAULT_BUDGETS, regenerated_by: str = "",
                          merged: Optional[Path] = None) -> tuple[Path, Path]:
    """Markdown and PNG from one or more transfer CSVs (shards, read together); returns their paths.
    ``merged``: the CSV the shards were merged into, named in the report."""
    results = read_transfer_results(csv_paths)
    trials = _trials_run(results) or dict(DEFAULT_TRIALS)
    top = max(trials.values())
    budgets = sorted({int(b) for b in budgets if int(b) <= top} | set(trials.values()) | {1})
    s = summarise(results, budgets, main=TRANSFER_MAIN, order=TRANSFER_METHODS)
    part_of = {str(d): str(p) for d, p in zip(results["dataset_id"], results["part"])}
    covered = list(s.datasets["dataset_id"])
    part_ids = {"all": covered, **{p: [d for d in covered if part_of.get(d) == p] for p in PARTS}}
    _plot_transfer(s, part_ids, trials.get(TRANSFER_MAIN, top), out_png)

    lines = ["# Transfer benchmark: real size, leave-family-out", ""]
    commands = _distinct(results, "command")
    lines += ["Produced by (resumable: running a command again extends its CSV and skips finished pairs):", "", "```"]
    lines += commands or ["python benchmarks/transfer.py"]
    lines += ["```", ""]
    if regenerated_by:
        lines += [f"Report written from {', '.join(f'`{Path(p).name}`' for p in csv_paths)} with `{regenerated_by}` at "
                  f"{datetime.now(timezone.utc).isoformat(timespec='minutes')}.", ""]
    machines = _distinct(results, "machine") or [machine_info()]
    lines += [f"Machine: {m}." for m in machines] + [""]
    lines += _protocol_lines(results, trials)
    lines += ["Leave-family-out: each task's meta-model is trained on the shipped metabase without every metabase "
              "dataset of the task's family (the tasks.csv rows of its `family`, matched by source id and by source "
              "and name, the datasets with the task's content checksum, and their copies: "
              "`train(exclude_datasets=...)`); `assert_not_trained_on` (each left-out id, the task's checksum and its "
              "family) is checked before every recommendation. Normalised score per task: 1 = the best score any "
              "method reached, 0 = the worst compared value (a method's best-so-far at a trial count, a "
              "single-configuration baseline, FLAML AutoML); a search is not compared beyond its own trial "
              "budget (–).", ""]
    selected = results["dataset_id"].nunique() if len(results) else 0
    per = s.datasets.assign(part=s.datasets["dataset_id"].map(part_of))
    lines += [f"Tasks covered (every compared method finished): **{len(covered)}** of {selected} in the CSV — "
              + "; ".join(f"{PARTS[p]}: {int((per['part'] == p).sum())} ("
                          + ", ".join(f"{t} {int(((per['part'] == p) & (per['task'] == t)).sum())}" for t in TASK_ORDER)
                          + ")" for p in PARTS) + ".", ""]
    if not any(m in set(results["method"]) for m in FLAML_METHODS):
        lines += ["FLAML methods: no results (FLAML not installed where the benchmark ran, or not requested).", ""]

    lines += ["## Targets", ""]
    for name, met, ev in transfer_targets(s, part_of, trials):
        lines.append(f"- {name}: {_verdict(met)} ({ev})")
    lines += ["", "Misses are reported as misses; the per-task table below has the raw scores.", ""]
    for key, title in (("all", "all tasks"), ("small", PARTS["small"]), ("large", PARTS["large"])):
        lines += [f"## Mean normalised score, {title} ({len(part_ids[key])} tasks; higher is better)", ""]
        lines += _table(_mean_norm(s, part_ids[key])) if part_ids[key] else ["(no task covered)"]
        if s.wallclock is not None:
            w = s.wallclock[s.wallclock["dataset_id"].isin(set(part_ids[key]))]
            if len(w):
                lines += ["", f"FLAML AutoML at {TRANSFER_MAIN}'s wall-clock: mean normalised score "
                          f"{w['norm_flaml-automl'].mean():.3f} vs {w['norm_' + TRANSFER_MAIN].mean():.3f} for "
                          f"{TRANSFER_MAIN} (all its trials)."]
        lines.append("")
    header, rows = _task_rows(results, s, trials)
    lines += ["## Per task", "", "Raw scores, higher is better (metric named per task; rmse and log_loss negated); "
              "`warm` = autometa, `cold` = cold TPE, @n = best within the first n trials.", ""]
    lines += _md_table(header, rows) if rows else ["(no results yet)"]
    lines += ["", "## Skipped tasks and failed runs", ""]
    ok_pairs = set(zip(results.loc[results["status"].fillna("ok") == "ok", "dataset_id"],
                       results.loc[results["status"].fillna("ok") == "ok", "method"]))
    ok_tasks = {d for d, _ in ok_pairs}
    problems = []
    failed = results[results["status"].fillna("ok") != "ok"].drop_duplicates(["dataset_id", "method", "note"])
    for _, r in failed.iterrows():
        if r["method"] == SKIPPED and r["dataset_id"] not in ok_tasks:
            problems.append(f"- `{r['dataset_id']}` ({PARTS.get(str(r['part']), r['part'])}): skipped — {r['note']}")
        elif r["method"] != SKIPPED and (r["dataset_id"], r["method"]) not in ok_pairs:
            problems.append(f"- `{r['dataset_id']}` {r['method']}: {r['status']} — {r['note']}")
    lines += problems or ["None."]
    lines += ["", f"Plot: `{out_png.name}` (mean normalised score vs trials, per part); raw per-trial results: "
              + ", ".join(f"`{Path(p).name}`" for p in csv_paths)
              + (f" (merged into `{merged.name}`)" if merged is not None else "")
              + " (one row per task and method).", ""]
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text("\n".join(lines))
    return out_md, out_png


def _plot_transfer(s: Summary, part_ids: dict[str, list[str]], warm_trials: int, path: Path) -> None:
    """Three panels (all tasks, < 5k rows, >= 5k rows): mean normalised score vs trials."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 5), dpi=100, sharey=True)
    for ax, (key, title) in zip(axes, (("all", "all tasks"), ("small", PARTS["small"]), ("large", PARTS["large"]))):
        ids = part_ids.get(key, [])
        if not ids:
            ax.set_title(f"{title}: no task covered")
            ax.text(0.5, 0.5, "no task covered", ha="center", va="center", transform=ax.transAxes)
            continue
        _draw_curves(ax, s, _mean_norm(s, ids), f"{title}: {len(ids)} held-out tasks", star_at=warm_trials,
                     datasets=ids)
    _save(fig, path)


# ------------------------------------------------------------------ command line (benchmarks/transfer.py)
def transfer_main(*, small: Optional[int] = DEFAULT_SMALL, large: Optional[int] = DEFAULT_LARGE,
                  task_ids: Optional[str] = None, trials: Optional[str] = None, methods: Optional[str] = None,
                  metabase: Optional[str] = None, tasks: Optional[str] = None, arff_dir: Optional[str] = None,
                  seed: int = 0, max_rows: int = DEFAULT_MAX_ROWS, trial_seconds: float = DEFAULT_TRIAL_SECONDS,
                  top_k: int = 10, budgets: Optional[str] = None, shard: Optional[str] = None,
                  csv: Optional[str] = None, out_dir: Optional[str] = None, report_only: bool = False,
                  command: str = "python benchmarks/transfer.py",
                  log: Callable[[str], None] = print) -> tuple[list[Path], Optional[Path], Optional[Path]]:
    """What ``benchmarks/transfer.py`` runs; returns (CSVs, report md, png).

    Run: results go to ``--csv`` (default ``<out_dir>/transfer.csv``, or ``transfer-shard<i>of<n>.csv``
    with ``--shard i/n``); an unsharded run rewrites ``transfer.md``/``.png`` beside its CSV after every
    task, a shard writes only its CSV. ``--report-only``: the CSVs of ``--csv a,b`` (default
    ``transfer.csv``), several merged into ``<out_dir>/transfer.csv``, turned into the report."""
    out = Path(out_dir) if out_dir else DEFAULT_OUT_DIR
    budget_list = parse_list(budgets, int) or list(DEFAULT_BUDGETS)
    paths = [Path(p) for p in (parse_list(csv) or [])]
    if report_only:
        paths = paths or [out / "transfer.csv"]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ConfigError(f"no results at {', '.join(missing)}; run the benchmark first (without --report-only)")
        target = merge_csvs(paths, out / "transfer.csv") if len(paths) > 1 else paths[0]
        md, png = write_transfer_report(paths, target.with_suffix(".md"), target.with_suffix(".png"),
                                        budgets=budget_list, regenerated_by=command,
                                        merged=target if len(paths) > 1 else None)
        log(f"wrote {target}, {md}, {png}")
        return [target], md, png
    if len(paths) > 1:
        raise ConfigError("a run writes one CSV; give several --csv files only with --report-only")
    i, n = parse_shard(shard)
    csv_path = paths[0] if paths else out / ("transfer.csv" if n == 1 else f"transfer-shard{i}of{n}.csv")

    def report(path: Path) -> None:
        write_transfer_report([path], path.with_suffix(".md"), path.with_suffix(".png"), budgets=budget_list)

    run_transfer(Path(metabase) if metabase else None, csv_path, tasks_path=Path(tasks) if tasks else None,
                 n_small=small, n_large=large, task_ids=parse_list(task_ids), trials=parse_trials(trials),
                 methods=parse_list(methods) or list(TRANSFER_METHODS), seed=seed, max_rows=max_rows,
                 trial_seconds=trial_seconds, top_k=top_k, shard=(i, n),
                 arff_dir=Path(arff_dir) if arff_dir else None, command=command, log=log,
                 after_task=report if n == 1 else None)
    if n > 1:
        log(f"wrote {csv_path}; when every shard has finished, merge them into one report with "
            f"python benchmarks/transfer.py --report-only --csv "
            + ",".join(str(csv_path.parent / f"transfer-shard{k}of{n}.csv") for k in range(1, n + 1)))
        return [csv_path], None, None
    report(csv_path)
    log(f"wrote {csv_path}, {csv_path.with_suffix('.md')}, {csv_path.with_suffix('.png')}")
    return [csv_path], csv_path.with_suffix(".md"), csv_path.with_suffix(".png")

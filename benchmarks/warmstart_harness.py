"""Warm-start benchmark: leave-datasets-out over a metabase, autometa vs cold search and FLAML.

For each held-out dataset of the metabase (chosen deterministically, balanced over task types,
at most one per family), the meta-model is retrained without its whole **family** -- the dataset
and every copy of it (:func:`autometa.metalearn.families`: the metabase's tasks.csv families and
identical content checksums; :func:`autometa.metalearn.train` with ``exclude_datasets``), and
:func:`autometa.metalearn.assert_not_trained_on` (id, content checksum and family of every
member) is checked before any recommendation. Every method is evaluated with the metabase's own protocol (the build's
``cv``, ``max_rows`` stratified subsample, seed, default metric and run time limit, read from
``manifest.json``), so scores are comparable with the metabase's runs:

* ``autometa-knn`` / ``autometa-portfolio`` / ``autometa-ranker`` / ``autometa-combined``:
  the meta-model's top-k recommendations enqueued, then TPE (:func:`autometa.search.run_search`);
* ``tpe``: cold Optuna TPE over the same space (``warm_start=[]``);
* ``random``: Optuna's RandomSampler over the same space (no pruning), through the same
  ``run_search`` loop and hard per-trial time limit as ``tpe`` and ``autometa-*``;
* ``lightgbm-default``: LightGBM's default configuration (one evaluation);
* ``flaml-zeroshot``: FLAML's zero-shot LightGBM hyperparameters
  (``flaml.default.preprocess_and_suggest_hyperparams``, suggested from each training fold);
* ``flaml-automl``: ``flaml.AutoML`` with the wall-clock time autometa-combined needed for its
  trials (eval_method="cv", the same number of folds); its best configuration is re-scored on
  the benchmark's folds.

One CSV row per (dataset, method) is appended as soon as it finishes (per-trial scores and
elapsed times as JSON lists), so a killed run resumes where it stopped; :func:`write_report`
turns the CSV into Markdown and a PNG (mean normalised score vs trials).

This harness is not part of the ``autometa`` package (it lives in benchmarks/ and is run by
``benchmarks/warmstart.py``; the real-size, leave-family-out benchmark of ``benchmarks/transfer.py``
is in ``transfer_harness.py``, which imports its shared helpers from here). FLAML, from the
``bench`` extra, is imported only inside the ``flaml-*`` runners, so everything else here (and
tests/test_benchmark.py) works without it.
Results go to ``benchmarks/results/`` by default, wherever the command is run from.
"""
from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import math
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np
import pandas as pd

from autometa import space
from autometa.errors import ConfigError, DataError
from machine import cpu_model, memory_gib

__all__ = [
    "METHODS", "WARM_METHODS", "DEFAULT_BUDGETS", "CSV_COLUMNS", "Protocol", "read_protocol",
    "select_datasets", "run_benchmark", "write_report", "summarise", "FLAML_METHODS", "DEFAULT_OUT_DIR",
]

#: this folder (benchmarks/); default results go to its results/ subfolder, whatever the CWD
BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT_DIR = BENCH_DIR / "results"

WARM_METHODS = ("autometa-knn", "autometa-portfolio", "autometa-ranker", "autometa-combined")
SEARCH_METHODS = WARM_METHODS + ("tpe", "random")
SINGLE_METHODS = ("lightgbm-default", "flaml-zeroshot")
METHODS = SEARCH_METHODS + SINGLE_METHODS + ("flaml-automl",)
#: the methods that need FLAML (the ``bench`` extra); the others need only autometa's dependencies
FLAML_METHODS = ("flaml-zeroshot", "flaml-automl")
#: the autometa method whose wall-clock time FLAML AutoML receives, and which the targets name
MAIN = "autometa-combined"
DEFAULT_BUDGETS = (1, 3, 10, 25, 50)
TASK_ORDER = ("binary", "multiclass", "regression")
CSV_COLUMNS = [
    "dataset_id", "name", "source", "task", "metric", "rows_used", "method", "seed", "max_trials",
    "top_k", "n_trials", "best_score", "total_seconds", "overhead_seconds", "trial_scores", "trial_seconds",
    "first_config", "n_train_datasets", "status", "note", "finished_at",
]
#: FLAML's names of autometa's metrics (higher-is-better conversion is done by autometa's Metric)
_FLAML_METRICS = {"roc_auc": "roc_auc", "log_loss": "log_loss", "rmse": "rmse", "mae": "mae",
                  "r2": "r2", "accuracy": "accuracy", "f1": "f1"}


# ------------------------------------------------------------------ protocol and datasets
@dataclass(frozen=True)
class Protocol:
    """How configurations are evaluated: the metabase's build protocol (from its manifest.json),
    or a real-size task's (``cv=None``: the search's own folds, :func:`autometa.evaluate.make_splits`)."""

    cv: Optional[int]
    max_rows: int
    seed: int
    run_time_limit: Optional[float]
    sources: tuple[str, ...]
    command: str = ""


def read_protocol(metabase_dir: Path) -> Protocol:
    """The build protocol recorded in ``<metabase>/manifest.json`` (ConfigError when absent)."""
    path = Path(metabase_dir) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
        settings = manifest["settings"]
        return Protocol(cv=int(settings["cv"]), max_rows=int(settings["max_rows"]), seed=int(settings["seed"]),
                        run_time_limit=(float(settings["run_time_limit"])
                                        if settings.get("run_time_limit") is not None else None),
                        sources=tuple(manifest.get("sources") or ()), command=str(manifest.get("command", "")))
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"cannot read the build protocol from {path} ({type(exc).__name__}); "
                          "pass --metabase DIR of a built metabase") from None


def _snapshot(store: Any) -> Any:
    """A read-only copy of a metabase's tables taken once: a build still writing it cannot change
    the training data half-way through a benchmark."""
    from autometa.metabase import Metabase

    class _Snapshot(Metabase):
        def __init__(self, src: Metabase) -> None:
            super().__init__(src.root, create=False)
            self._ds, self._cf, self._rn = src.datasets(), src.configs(), src.runs()

        def datasets(self) -> pd.DataFrame:
            return self._ds.copy()

        def configs(self) -> pd.DataFrame:
            return self._cf.copy()

        def runs(self) -> pd.DataFrame:
            return self._rn.copy()

    return _Snapshot(store)


def complete_datasets(datasets: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Datasets whose candidate runs are all recorded (as many configurations as the most complete
    dataset of the same task kind), with a ``n_configs`` column."""
    if not len(datasets) or not len(runs):
        return datasets.iloc[0:0].assign(n_configs=pd.Series(dtype="int64"))
    counts = runs.groupby("dataset_id")["config_id"].nunique()
    ds = datasets.copy()
    ds["n_configs"] = ds["dataset_id"].map(counts).fillna(0).astype(int)
    ds["kind"] = ds["task"].map(space.task_kind)
    full = ds.groupby("kind")["n_configs"].transform("max")
    ds = ds[(ds["n_configs"] > 0) & (ds["n_configs"] >= full) & ds["rows_used"].notna()]
    return ds.drop(columns="kind")


def select_datasets(datasets: pd.DataFrame, n: Optional[int], seed: int = 0,
                    min_per_kind: int = 3, families: Optional[dict] = None) -> pd.DataFrame:
    """Up to ``n`` held-out datasets, deterministic for a seed, balanced over task types.

    Task types take turns (binary, multiclass, regression); within one, datasets follow a
    seeded hash order. A task kind with fewer than ``min_per_kind`` complete datasets is left
    out (a leave-one-out meta-model needs at least 2 others). ``families`` (dataset id ->
    family id): at most one dataset per family is chosen (a family is held out as a whole, so
    a second copy would count the same task twice).
    """
    ds = datasets.copy()
    ds["kind"] = ds["task"].map(space.task_kind)
    kind_sizes = ds.groupby("kind")["dataset_id"].transform("size")
    ds = ds[kind_sizes >= min_per_kind]
    ds["_key"] = [hashlib.sha1(f"{seed}:{d}".encode()).hexdigest() for d in ds["dataset_id"]]
    queues = {t: list(ds[ds["task"] == t].sort_values("_key")["dataset_id"]) for t in TASK_ORDER}
    order: list[str] = []
    taken: set[str] = set()
    while any(queues.values()) and (n is None or len(order) < n):
        for t in TASK_ORDER:
            while queues[t] and (families or {}).get(queues[t][0], queues[t][0]) in taken:
                queues[t].pop(0)  # a copy of a dataset already held out
            if queues[t] and (n is None or len(order) < n):
                did = queues[t].pop(0)
                order.append(did)
                taken.add((families or {}).get(did, did))
    out = ds.set_index("dataset_id").loc[order].reset_index()
    return out.drop(columns=["kind", "_key"])


class _Sources:
    """Reload metabase datasets from the specs recorded in the manifest (listed once per spec)."""

    def __init__(self, specs: Sequence[str], roots: Sequence[Path]) -> None:
        self.specs = list(specs)
        self.roots = list(roots)
        self._items: dict[str, list] = {}

    def _resolve(self, spec: str) -> str:
        kind, sep, arg = spec.partition(":")
        if kind in ("arff", "csv") and arg and not Path(arg).is_absolute():
            for root in self.roots:
                if (root / arg).is_dir():
                    return f"{kind}:{root / arg}"
        return spec

    def items(self, spec: str) -> list:
        if spec not in self._items:
            from autometa.metabase.sources import iter_source

            try:
                self._items[spec] = list(iter_source(self._resolve(spec)))
            except Exception:  # an unavailable source (folder missing, package absent)
                self._items[spec] = []
        return self._items[spec]

    def load(self, record: dict) -> Any:
        """The full dataset of a metabase record; DataError when no source has it."""
        from autometa.metabase import content_checksum, normalise_name

        source = str(record.get("source"))
        specs = [s for s in self.specs if s.split(":", 1)[0].lower() == source] or self.specs
        name = str(record.get("name"))
        for spec in specs:
            for item in self.items(spec):
                if item.source != source or normalise_name(item.name) != normalise_name(name):
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ds = item.load()
                checksum = record.get("checksum")
                if isinstance(checksum, str) and checksum and content_checksum(ds.X, ds.y) != checksum:
                    continue
                return ds
        raise DataError(f"dataset {name!r} ({record.get('dataset_id')}) of source {source!r} cannot be "
                        f"reloaded from {', '.join(specs) or 'no source'}")


def benchmark_data(ds: Any, protocol: Protocol) -> tuple[pd.DataFrame, pd.Series, dict]:
    """The rows the protocol evaluates on: its stratified subsample of at most ``max_rows`` rows
    (each class at least as many rows as folds, 5 for the search's own folds), unused classes removed."""
    from autometa.metabase.build import stratified_subsample

    idx, _ = stratified_subsample(ds.y, ds.task, protocol.max_rows, protocol.seed,
                                  min_class_rows=protocol.cv or 5)
    X = ds.X.iloc[idx].reset_index(drop=True)
    y = ds.y.iloc[idx].reset_index(drop=True)
    if ds.task != "regression" and isinstance(y.dtype, pd.CategoricalDtype):
        y = y.cat.remove_unused_categories()
    return X, y, dict(ds.column_types)


# ------------------------------------------------------------------ one method's run
@dataclass
class MethodRun:
    """Per-trial outcome of one method on one dataset (score NaN = failed or pruned trial)."""

    scores: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # elapsed at the end of each trial
    overhead: float = 0.0  # seconds before the first trial (meta-features, ranking) included above
    first_config: Optional[dict] = None
    n_train: Optional[int] = None
    note: str = ""

    def best(self) -> float:
        ok = [s for s in self.scores if math.isfinite(s)]
        return max(ok) if ok else math.nan


def _run_search_method(X: pd.DataFrame, y: pd.Series, ct: dict, task: str, metric: str, n_trials: int,
                       protocol: Protocol, seed: int, warm: list[dict], overhead: float,
                       sampler: Any = None, pruner: Any = None) -> MethodRun:
    """One search through :func:`autometa.search.run_search`: warm-started or cold TPE (its default
    sampler and pruner) or another Optuna ``sampler``/``pruner``, all with the same loop and the
    same hard per-trial time limit (the protocol's run time limit)."""
    from autometa.search import run_search

    out = MethodRun(overhead=overhead)
    t0 = time.perf_counter()

    def progress(p: Any) -> None:
        if p.trial is None:
            return
        out.scores.append(float(p.score) if p.score is not None and math.isfinite(p.score) else math.nan)
        out.seconds.append(overhead + time.perf_counter() - t0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_search(X, y, ct, task, metric=metric, n_trials=n_trials, cv=protocol.cv, seed=seed,
                         warm_start=warm, trial_time_limit=protocol.run_time_limit, progress=progress,
                         sampler=sampler, pruner=pruner)
    lb = res.study.trials
    if lb:
        first = lb[0]
        out.first_config = json.loads(first.user_attrs["config"]) if "config" in first.user_attrs else None
    return out


def _lightgbm_default(X: pd.DataFrame, y: pd.Series, ct: dict, task: str, metric: str, protocol: Protocol,
                      seed: int, splits: list) -> MethodRun:
    from autometa.evaluate import evaluate_config

    config = space.default_config("lightgbm", task)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = evaluate_config(config, X, y, ct, task, metric=metric, splits=splits, seed=seed, n_jobs=1,
                              time_limit=protocol.run_time_limit)
    score = float(res.score) if res.ok and math.isfinite(res.score) else math.nan
    return MethodRun(scores=[score], seconds=[time.perf_counter() - t0], first_config=config,
                     note="" if res.ok else f"{res.status}: {res.message}"[:200])


def _flaml_task(task: str) -> str:
    return "regression" if task == "regression" else "classification"


def _score_fold(metric_obj: Any, y_test: np.ndarray, labels: Optional[np.ndarray], pred: np.ndarray,
                proba: Optional[np.ndarray]) -> float:
    from autometa.evaluate import score_predictions

    return metric_obj.score(score_predictions(metric_obj, y_test, pred, proba, labels))


def _aligned_proba(raw: np.ndarray, model_classes: Sequence[Any], label_names: Sequence[Any],
                   labels: np.ndarray) -> np.ndarray:
    """Probability columns in the order of ``labels``; ``model_classes`` index ``label_names``."""
    position = {str(lab): i for i, lab in enumerate(labels.tolist())}
    proba = np.zeros((raw.shape[0], len(labels)))
    for j, c in enumerate(model_classes):
        proba[:, position[str(label_names[int(c)])]] = raw[:, j]
    return proba


def _flaml_cv(X: pd.DataFrame, y: pd.Series, task: str, metric: str, splits: list, seed: int,
              make_model: Callable[[pd.DataFrame, pd.Series], tuple[Any, Any, Any]]) -> tuple[float, str]:
    """Mean fold score of a FLAML-built model; ``make_model(X_train, y_train)`` returns
    (fitted model, feature transformer, label transformer or None)."""
    from autometa.evaluate import get_metric

    metric_obj = get_metric(metric, task)
    classification = task != "regression"
    y_arr = y.to_numpy() if classification else y.to_numpy(dtype=float)
    labels = np.unique(y_arr) if classification else None
    fold_scores = []
    for train, test in splits:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, transform, label_tf = make_model(X.iloc[train].reset_index(drop=True),
                                                    pd.Series(y_arr[train]))
            Xt = transform(X.iloc[test].reset_index(drop=True))
            if classification:
                raw = np.asarray(model.predict_proba(Xt), dtype=float)
                names = list(label_tf.classes_) if label_tf is not None else list(labels)
                proba = _aligned_proba(raw, getattr(model, "classes_", range(raw.shape[1])), names, labels)
                pred = labels[np.argmax(proba, axis=1)]
            else:
                proba, pred = None, np.asarray(model.predict(Xt), dtype=float)
        fold_scores.append(_score_fold(metric_obj, y_arr[test], labels, pred, proba))
    return float(np.mean(fold_scores)), ""


def _plain_names(X: pd.DataFrame) -> pd.DataFrame:
    """The table with columns x0, x1, ...: FLAML passes feature names on to LightGBM, which refuses
    JSON characters in them (spambase's ``char_freq_;``); autometa's pipelines rename internally."""
    return X.set_axis([f"x{i}" for i in range(X.shape[1])], axis=1)


def _flaml_zeroshot(X: pd.DataFrame, y: pd.Series, ct: dict, task: str, metric: str, protocol: Protocol,
                    seed: int, splits: list) -> MethodRun:
    from flaml.default import preprocess_and_suggest_hyperparams

    X = _plain_names(X)

    chosen: list[dict] = []

    def make(X_tr: pd.DataFrame, y_tr: pd.Series) -> tuple[Any, Any, Any]:
        hp, cls, Xp, yp, ftf, ltf = preprocess_and_suggest_hyperparams(_flaml_task(task), X_tr, y_tr, "lgbm")
        hp = dict(hp or {})
        hp.update(n_jobs=1, verbose=-1, random_state=seed)
        chosen.append({k: v for k, v in hp.items() if k not in ("n_jobs", "verbose", "random_state")})
        model = cls(**hp).fit(Xp, yp)
        return model, ftf.transform, ltf

    t0 = time.perf_counter()
    try:
        score, note = _flaml_cv(X, y, task, metric, splits, seed, make)
    except Exception as exc:  # FLAML's own failure is a result, not a crash of the benchmark
        score, note = math.nan, f"{type(exc).__name__}: {str(exc)[:160]}"
    return MethodRun(scores=[score], seconds=[time.perf_counter() - t0],
                     first_config={"algorithm": "flaml-lgbm", "params": chosen[0] if chosen else {}}, note=note)


def _flaml_automl(X: pd.DataFrame, y: pd.Series, ct: dict, task: str, metric: str, protocol: Protocol,
                  seed: int, splits: list, budget: float) -> MethodRun:
    from flaml import AutoML
    from flaml.automl.data import DataTransformer
    from flaml.automl.task.factory import task_factory

    ftask = _flaml_task(task)
    X = _plain_names(X)
    automl = AutoML()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        automl.fit(X, y, task=ftask, metric=_FLAML_METRICS.get(metric, "auto"), time_budget=max(float(budget), 1.0),
                   eval_method="cv", n_splits=len(splits), seed=seed, n_jobs=1, verbose=0, log_file_name="",
                   retrain_full=False)
    search_seconds = time.perf_counter() - t0
    best_est = automl.best_estimator
    config = {k: v for k, v in (automl.best_config or {}).items() if k != "FLAML_sample_size"}
    n_iter = len(getattr(automl, "config_history", {}) or {})
    est_class = task_factory(ftask).estimator_class_from_str(best_est)

    def make(X_tr: pd.DataFrame, y_tr: pd.Series) -> tuple[Any, Any, Any]:
        dt = DataTransformer()
        Xp, yp = dt.fit_transform(X_tr, y_tr, ftask)
        model = est_class(task=ftask, n_jobs=1, **config)
        model.fit(Xp, yp)
        return model, dt.transform, dt.label_transformer

    try:
        score, note = _flaml_cv(X, y, task, metric, splits, seed, make)
    except Exception as exc:
        score, note = math.nan, f"{type(exc).__name__}: {str(exc)[:160]}"
    note = (f"budget {budget:.1f}s, search {search_seconds:.1f}s, {n_iter} configs, best {best_est}; "
            + note).strip("; ")
    return MethodRun(scores=[score], seconds=[search_seconds],
                     first_config={"algorithm": f"flaml-{best_est}", "params": config}, note=note)


# ------------------------------------------------------------------ CSV
def _json_list(values: Iterable[float], digits: int = 6) -> str:
    return json.dumps([round(float(v), digits) if math.isfinite(v) else None for v in values])


def _default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def read_results(path: Path) -> pd.DataFrame:
    """The results CSV (empty frame with the columns when it does not exist)."""
    if not Path(path).is_file() or Path(path).stat().st_size == 0:
        return pd.DataFrame(columns=CSV_COLUMNS)
    df = pd.read_csv(path, dtype={"dataset_id": str, "method": str})
    if "top_k" not in df.columns:  # written before the column existed
        df.insert(df.columns.get_loc("max_trials") + 1, "top_k", np.nan)
    return df


def _append(path: Path, row: dict, columns: Sequence[str] = CSV_COLUMNS) -> None:
    """Append one result row (header first in a new file), flushed to disk at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.is_file() or path.stat().st_size == 0
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns))
        if new:
            writer.writeheader()
        writer.writerow({k: row.get(k, "") for k in columns})
        fh.flush()
        os.fsync(fh.fileno())


#: methods whose result depends on how many recommendations were enqueued (FLAML AutoML gets
#: autometa-combined's time)
TOP_K_METHODS = WARM_METHODS + ("flaml-automl",)


def _done(results: pd.DataFrame, dataset_id: str, method: str, seed: int, max_trials: int,
          top_k: int, search_methods: Sequence[str] = SEARCH_METHODS,
          top_k_methods: Sequence[str] = TOP_K_METHODS) -> Optional[pd.Series]:
    """The latest successful row of (dataset, method, seed), None when it must (re)run: a search
    needs at least ``max_trials`` trials, a method in ``top_k_methods`` the same ``top_k``."""
    if not len(results):
        return None
    rows = results[(results["dataset_id"] == dataset_id) & (results["method"] == method)
                   & (results["seed"].astype(int) == seed)]
    # a method that failed (an error, or no finite score) is tried again on resume
    rows = rows[(rows["status"].fillna("ok") == "ok") & np.isfinite(pd.to_numeric(rows["best_score"], errors="coerce"))]
    if method in search_methods:
        rows = rows[rows["max_trials"].astype(int) >= max_trials]
    if method in top_k_methods:
        rows = rows[pd.to_numeric(rows["top_k"], errors="coerce") == top_k]
    return rows.iloc[-1] if len(rows) else None


# ------------------------------------------------------------------ the run
def _default_train(store: Any, exclude: list[str]) -> Any:
    from autometa.metalearn import train

    return train(store, exclude_datasets=exclude)


def run_benchmark(
    metabase: Optional[Path] = None,
    out_dir: Path = DEFAULT_OUT_DIR,
    *,
    n_datasets: Optional[int] = None,
    budgets: Sequence[int] = DEFAULT_BUDGETS,
    methods: Sequence[str] = METHODS,
    seed: Optional[int] = None,
    top_k: int = 10,
    dataset_ids: Optional[Sequence[str]] = None,
    train_model: Callable[[Any, list[str]], Any] = _default_train,
    source_roots: Optional[Sequence[Path]] = None,
    command: str = "",
    log: Callable[[str], None] = print,
    stem: str = "warmstart",
    after_dataset: Optional[Callable[[Path], None]] = None,
) -> Path:
    """Run (or resume) the benchmark, appending to ``<out_dir>/<stem>.csv``; returns the CSV path.

    ``train_model(store, exclude_ids)`` trains the leave-out meta-model; ``exclude_ids`` is the
    held-out dataset's whole family (a test passes a model that leaks to check the guard:
    :class:`~autometa.metalearn.LeakageError` is raised).
    """
    from autometa.evaluate import default_metric, make_splits
    from autometa.metabase import open_metabase
    from autometa.metalearn import assert_not_trained_on, families, family_members

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    needs_flaml = [m for m in methods if m in FLAML_METHODS]
    if needs_flaml and importlib.util.find_spec("flaml") is None:
        raise ConfigError(f"method(s) {', '.join(needs_flaml)} need FLAML, from the bench extra "
                          "(pip install -e \".[bench]\"); or leave them out with --methods")
    budgets = sorted({int(b) for b in budgets})
    if not budgets or budgets[0] < 1:
        raise ConfigError(f"budgets must be positive trial counts, got {budgets}")
    max_trials = budgets[-1]
    store = open_metabase(metabase)
    protocol = read_protocol(store.root)
    seed = protocol.seed if seed is None else int(seed)
    snap = _snapshot(store)
    fams = families(snap)
    complete = complete_datasets(snap.datasets(), snap.runs())
    if dataset_ids:
        missing = [d for d in dataset_ids if d not in set(complete["dataset_id"])]
        if missing:
            raise ConfigError(f"dataset id(s) {', '.join(missing)} are not complete datasets of {store.root}")
        chosen = complete.set_index("dataset_id").loc[list(dataset_ids)].reset_index()
    else:
        chosen = select_datasets(complete, n_datasets, seed=seed, families=fams)
    roots = list(source_roots or []) + [Path.cwd(), BENCH_DIR.parent, store.root.resolve().parent]
    sources = _Sources(protocol.sources, roots)
    csv_path = Path(out_dir) / f"{stem}.csv"
    log(f"benchmark: {len(chosen)} held-out dataset(s) (whole families) of {len(complete)} complete in {store.root} "
        f"({', '.join(f'{t}: {int((chosen.task == t).sum())}' for t in TASK_ORDER)}); protocol cv={protocol.cv} "
        f"max_rows={protocol.max_rows} seed={protocol.seed} run_time_limit={protocol.run_time_limit}; "
        f"budgets {budgets}; methods {', '.join(methods)}")
    order = [m for m in METHODS if m in methods]
    # FLAML AutoML's budget comes from autometa-combined's run: run that first
    for k, rec in enumerate(chosen.to_dict("records"), start=1):
        did = str(rec["dataset_id"])
        results = read_results(csv_path)
        todo = [m for m in order if _done(results, did, m, seed, max_trials, top_k) is None]
        if not todo:
            log(f"[{k}/{len(chosen)}] {rec['name']}: done")
            continue
        t_ds = time.perf_counter()
        try:
            ds = sources.load(rec)
            X, y, ct = benchmark_data(ds, protocol)
            task = str(rec["task"])
            metric = default_metric(task)
            splits = make_splits(y, task, cv=protocol.cv, seed=seed)
        except Exception as exc:
            log(f"[{k}/{len(chosen)}] {rec['name']}: skipped, cannot load ({type(exc).__name__}: {exc})")
            continue
        base = {"dataset_id": did, "name": rec["name"], "source": rec["source"], "task": task, "metric": metric,
                "rows_used": len(y), "seed": seed, "max_trials": max_trials}
        data = _TaskData(X, y, ct, task, metric, splits, protocol, seed)

        def leave_out_model() -> Any:
            family = family_members(fams, [did])
            model = train_model(snap, family)
            for member in family:  # no leakage: by id and family ...
                assert_not_trained_on(model, member, families=fams)
            if isinstance(rec.get("checksum"), str):
                assert_not_trained_on(model, rec["checksum"])  # ... and by content
            return model

        warm = _WarmStarter(leave_out_model, lambda m: assert_not_trained_on(m, did, families=fams),
                            ds, task, seed, top_k, n_rows=len(X))
        for method in todo:
            def automl_seconds() -> Optional[float]:
                return _automl_budget(_done(read_results(csv_path), did, MAIN, seed, max_trials, top_k))

            run, status, seconds = _run_method(
                "warm" if method in WARM_METHODS else method, data, max_trials,
                recommend=lambda m=method: warm.recommend(m.split("-", 1)[1]), automl_seconds=automl_seconds)
            if run is None:
                log(f"  {rec['name']}: flaml-automl needs {MAIN}'s time; skipped (run {MAIN} too)")
                continue
            if status != "ok":
                log(f"  {rec['name']} {method}: error {run.note}")
            _append(csv_path, _result_row(base, method, run, status, seconds,
                                          top_k if method in TOP_K_METHODS else ""))
            log(f"  {rec['name']} ({task}) {method}: best {run.best():.5g} in {len(run.scores)} trial(s), "
                f"{seconds:.1f}s")
        log(f"[{k}/{len(chosen)}] {rec['name']}: {time.perf_counter() - t_ds:.0f}s")
        if after_dataset is not None:
            after_dataset(csv_path)
    return csv_path


# ------------------------------------------------------------------ one method, shared by both modes
@dataclass
class _TaskData:
    """One held-out dataset ready to evaluate: its rows, folds, metric and evaluation protocol."""

    X: pd.DataFrame
    y: pd.Series
    ct: dict
    task: str
    metric: str
    splits: list
    protocol: Protocol
    seed: int


class _WarmStarter:
    """The leave-out meta-model's recommendations for one dataset: the model is trained (and its
    leakage checks run) by ``get_model`` on first use, the meta-features computed once; ``check``
    runs the leakage guard again before every ranking."""

    def __init__(self, get_model: Callable[[], Any], check: Callable[[Any], None], ds: Any, task: str,
                 seed: int, top_k: int, n_rows: int) -> None:
        self.get_model, self.check = get_model, check
        self.ds, self.task, self.seed, self.top_k, self.n_rows = ds, task, seed, top_k, n_rows
        self.model: Any = None
        self.mf: dict = {}
        self.mf_seconds = 0.0

    def recommend(self, method: str) -> tuple[list[dict], float, int, str]:
        """(top-k configurations of the meta-model's ``method``, seconds before the first trial
        (meta-features and ranking), training datasets of the task kind, ranking notes)."""
        if self.model is None:
            self.model = self.get_model()
            self.mf, self.mf_seconds = _describe(self.ds, self.model, self.task, self.seed)
        self.check(self.model)
        t_rank = time.perf_counter()
        ranking = self.model.rank(self.mf, self.task, top_k=self.top_k, method=method, n_rows=self.n_rows,
                                  seed=self.seed)
        overhead = self.mf_seconds + (time.perf_counter() - t_rank)
        n_train = len(self.model.kinds[space.task_kind(self.task)].matrix.dataset_ids)
        return [it["config"] for it in ranking.items], overhead, n_train, "; ".join(ranking.notes)[:200]


def _automl_budget(ref: Optional[pd.Series]) -> Optional[float]:
    """FLAML AutoML's time budget: the wall-clock seconds the autometa run ``ref`` (a results row)
    took for all its trials, meta-features and ranking included (None without that run)."""
    if ref is None:
        return None
    secs = json.loads(ref["trial_seconds"])
    return float(secs[-1]) if secs else float(ref["total_seconds"])


def _run_method(kind: str, d: _TaskData, n_trials: int, *,
                recommend: Callable[[], tuple[list[dict], float, int, str]],
                automl_seconds: Callable[[], Optional[float]]) -> tuple[Optional[MethodRun], str, float]:
    """Run one method on one dataset; (run, "ok" or "error", seconds). ``kind``: "warm" (the
    configurations of ``recommend()`` enqueued, then TPE), "tpe", "random", "lightgbm-default",
    "flaml-zeroshot" or "flaml-automl" (``automl_seconds()`` gives its budget; run None when
    there is none yet). An error is a result (status "error"), except a LeakageError."""
    from autometa.metalearn import LeakageError

    X, y, ct, task, metric, p, seed = d.X, d.y, d.ct, d.task, d.metric, d.protocol, d.seed
    t0 = time.perf_counter()
    try:
        if kind == "warm":
            warm, overhead, n_train, note = recommend()
            run = _run_search_method(X, y, ct, task, metric, n_trials, p, seed, warm, overhead)
            run.n_train, run.note = n_train, note
        elif kind == "tpe":
            run = _run_search_method(X, y, ct, task, metric, n_trials, p, seed, [], 0.0)
        elif kind == "random":
            import optuna

            run = _run_search_method(X, y, ct, task, metric, n_trials, p, seed, [], 0.0,
                                     sampler=optuna.samplers.RandomSampler(seed=seed),
                                     pruner=optuna.pruners.NopPruner())
        elif kind == "lightgbm-default":
            run = _lightgbm_default(X, y, ct, task, metric, p, seed, d.splits)
        elif kind == "flaml-zeroshot":
            run = _flaml_zeroshot(X, y, ct, task, metric, p, seed, d.splits)
        elif kind == "flaml-automl":
            budget = automl_seconds()
            if budget is None:
                return None, "skipped", 0.0
            run = _flaml_automl(X, y, ct, task, metric, p, seed, d.splits, budget)
        else:
            raise ConfigError(f"unknown method kind {kind!r}")
    except LeakageError:
        raise
    except Exception as exc:
        run = MethodRun(note=f"{type(exc).__name__}: {str(exc)[:200]}")
        return run, "error", time.perf_counter() - t0
    return run, "ok", time.perf_counter() - t0


def _result_row(base: dict, method: str, run: MethodRun, status: str, seconds: float, top_k: Any) -> dict:
    """The CSV row of one (dataset, method) result: ``base`` (the dataset's columns) plus the run's."""
    return dict(base, method=method, top_k=top_k, n_trials=len(run.scores), best_score=run.best(),
                total_seconds=round(run.seconds[-1] if run.seconds else seconds, 3),
                overhead_seconds=round(run.overhead, 3), trial_scores=_json_list(run.scores),
                trial_seconds=_json_list(run.seconds, 3),
                first_config=json.dumps(run.first_config, default=_default) if run.first_config else "",
                n_train_datasets=run.n_train if run.n_train is not None else "", status=status,
                note=run.note.replace("\n", " "), finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _describe(ds: Any, model: Any, task: str, seed: int) -> tuple[dict, float]:
    """Meta-features as :func:`autometa.recommend.recommend_details` computes them; (values, seconds)."""
    from autometa.metafeatures import describe_dataset
    from autometa.metalearn.features import groups_for
    from autometa.recommend import LANDMARK_ROWS, TIME_BUDGET

    names = model.kinds[space.task_kind(task)].scaler.names
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = describe_dataset(ds, groups=groups_for(names, task) or ["general"], seed=seed,
                              max_rows=LANDMARK_ROWS, time_budget=TIME_BUDGET)
    return dict(mf.values), time.perf_counter() - t0


# ------------------------------------------------------------------ analysis
def _curve(scores: list, n: int) -> float:
    """Best score within the first ``n`` trials (NaN when none succeeded)."""
    ok = [s for s in scores[:n] if s is not None and math.isfinite(s)]
    return max(ok) if ok else math.nan


def _as_float(value: Any) -> float:
    """A number from a CSV cell (NaN when empty or not a number)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _loads(text: Any) -> list:
    if not isinstance(text, str) or not text:
        return []
    return [math.nan if v is None else float(v) for v in json.loads(text)]


@dataclass
class Summary:
    """Aggregates of a results CSV (see :func:`summarise`)."""

    budgets: list[int]
    methods: list[str]
    datasets: pd.DataFrame  # dataset_id, name, task: the datasets every compared method finished
    norm: pd.DataFrame  # mean normalised score: index budget, columns method
    rank: pd.DataFrame  # mean rank: index budget, columns method
    per_dataset: pd.DataFrame  # long: dataset_id, method, budget, score, normalised, rank
    time_to_1pct: pd.DataFrame  # method -> median seconds, reached fraction
    wallclock: Optional[pd.DataFrame]  # autometa-combined vs flaml-automl per dataset
    wallclock_rank: dict[str, float] = field(default_factory=dict)
    wins: tuple[int, int, int] = (0, 0, 0)
    scale: dict[str, tuple[float, float]] = field(default_factory=dict)  # dataset -> (worst, best)
    main: str = MAIN  # the autometa method FLAML AutoML is compared with at equal wall-clock

    def normalise(self, dataset_id: str, score: float) -> float:
        """A score on a dataset's normalised scale (0 when it failed)."""
        lo, hi = self.scale.get(dataset_id, (math.nan, math.nan))
        if not math.isfinite(score):
            return 0.0
        return 1.0 if not hi > lo else float(min(max((score - lo) / (hi - lo), 0.0), 1.0))


def summarise(results: pd.DataFrame, budgets: Sequence[int] = DEFAULT_BUDGETS, *, main: str = MAIN,
              order: Sequence[str] = METHODS) -> Summary:
    """Per budget: mean normalised score and mean rank over the datasets every method finished.

    Normalisation per dataset: 1 = the best score any method reached (at any trial), 0 = the worst
    of the values compared (a method's best-so-far at a budget, or a single-configuration
    baseline); a method with no successful trial by a budget counts as 0 and ranks last. A search
    is not compared at budgets beyond its own number of trials (``max_trials``).
    ``flaml-automl`` is compared at equal wall-clock with ``main``'s full run only. ``order``: the
    methods in report order (those not in :data:`SINGLE_METHODS` nor ``flaml-automl`` are searches).
    """
    budgets = sorted({int(b) for b in budgets})
    search_methods = [m for m in order if m not in SINGLE_METHODS and m != "flaml-automl"]
    res = results[results["status"].fillna("ok") == "ok"].copy() if len(results) else results
    res = res.drop_duplicates(["dataset_id", "method"], keep="last")
    curve_methods = [m for m in order if m != "flaml-automl" and m in set(res["method"])]
    # datasets where every compared (curve) method finished
    counts = res[res["method"].isin(curve_methods)].groupby("dataset_id")["method"].nunique()
    keep = counts[counts == len(curve_methods)].index
    res = res[res["dataset_id"].isin(keep)]
    ds = res.drop_duplicates("dataset_id")[["dataset_id", "name", "task"]].reset_index(drop=True)
    rows = []
    best_any: dict[str, float] = {}
    for did, grp in res.groupby("dataset_id"):
        allv = [v for s in grp["trial_scores"] for v in _loads(s) if math.isfinite(v)]
        best_any[did] = max(allv) if allv else math.nan
        for _, r in grp[grp["method"].isin(curve_methods)].iterrows():
            sc = _loads(r["trial_scores"])
            search = r["method"] in search_methods
            limit = _as_float(r.get("max_trials"))
            for b in budgets:
                if search and math.isfinite(limit) and b > limit:
                    continue  # not run that far
                rows.append({"dataset_id": did, "method": r["method"], "budget": b,
                             "score": _curve(sc, b) if search else _curve(sc, 1)})
    long = pd.DataFrame(rows, columns=["dataset_id", "method", "budget", "score"])
    flaml_final = {d: _curve(_loads(g.iloc[-1]["trial_scores"]), 1)
                   for d, g in res[res["method"] == "flaml-automl"].groupby("dataset_id")}
    if len(long):
        worst = long.groupby("dataset_id")["score"].min()
        worst = pd.Series({d: np.nanmin([w, flaml_final.get(d, np.nan)]) for d, w in worst.items()})
        best = long["dataset_id"].map(best_any)
        lo = long["dataset_id"].map(worst)
        span = (best - lo)
        norm = np.where(span > 0, (long["score"] - lo) / span.where(span > 0, 1.0), 1.0)
        long["normalised"] = np.where(long["score"].notna(), norm, 0.0)
        filled = long["score"].fillna(-np.inf)
        long["rank"] = filled.groupby([long["dataset_id"], long["budget"]]).rank(ascending=False, method="average")
    else:
        long["normalised"] = []
        long["rank"] = []
    norm_t = long.pivot_table(index="budget", columns="method", values="normalised", aggfunc="mean")
    rank_t = long.pivot_table(index="budget", columns="method", values="rank", aggfunc="mean")
    shown = [m for m in order if m in norm_t.columns]
    norm_t, rank_t = norm_t.reindex(columns=shown), rank_t.reindex(columns=shown)

    # time to within 1% of the best score any method reached
    ttb = []
    for m in [m for m in order if m in set(res["method"])]:
        times = []
        for did, grp in res[res["method"] == m].groupby("dataset_id"):
            r = grp.iloc[-1]
            target = best_any[did] - 0.01 * abs(best_any[did])
            sc, secs = _loads(r["trial_scores"]), _loads(r["trial_seconds"])
            hit = math.inf
            run = -math.inf
            for s, t in zip(sc, secs):
                if math.isfinite(s):
                    run = max(run, s)
                if run >= target:
                    hit = t
                    break
            times.append(hit)
        arr = np.array(times, dtype=float)
        reached = np.isfinite(arr)
        ttb.append({"method": m, "datasets": len(arr), "reached": int(reached.sum()),
                    "median_seconds": float(np.median(arr)) if len(arr) else math.nan,
                    "median_seconds_when_reached": float(np.median(arr[reached])) if reached.any() else math.nan})
    ttb_t = pd.DataFrame(ttb).set_index("method") if ttb else pd.DataFrame()

    wall = None
    wall_rank: dict[str, float] = {}
    wins = (0, 0, 0)
    fl = res[res["method"] == "flaml-automl"].set_index("dataset_id")
    am = res[res["method"] == main].set_index("dataset_id")
    both = [d for d in fl.index if d in am.index]
    if both:
        recs = []
        for d in both:
            a = _curve(_loads(am.loc[d, "trial_scores"]), 10 ** 9)
            f = _curve(_loads(fl.loc[d, "trial_scores"]), 1)
            secs = _loads(am.loc[d, "trial_seconds"])
            recs.append({"dataset_id": d, "name": am.loc[d, "name"], "task": am.loc[d, "task"],
                         "autometa_seconds": secs[-1] if secs else math.nan, main: a, "flaml-automl": f,
                         "note": fl.loc[d, "note"]})
        wall = pd.DataFrame(recs)
        a = wall[main].fillna(-np.inf)
        f = wall["flaml-automl"].fillna(-np.inf)
        # relative tolerance: scores equal to 6 significant digits tie
        tie = np.isclose(a, f, rtol=1e-6, atol=1e-9) | ((a == f))
        ra = np.where(tie, 1.5, np.where(a > f, 1.0, 2.0))
        wall["rank_" + main], wall["rank_flaml-automl"] = ra, 3.0 - ra
        wall_rank = {main: float(ra.mean()), "flaml-automl": float((3.0 - ra).mean())}
        wins = (int((~tie & (a > f)).sum()), int(tie.sum()), int((~tie & (a < f)).sum()))
    out = Summary(budgets=budgets, methods=shown, datasets=ds, norm=norm_t, rank=rank_t, per_dataset=long,
                  time_to_1pct=ttb_t, wallclock=wall, wallclock_rank=wall_rank, wins=wins, main=main)
    if len(long):
        out.scale = {d: (float(worst.get(d, np.nan)), float(best_any.get(d, np.nan))) for d in worst.index}
    if wall is not None:
        wall["norm_" + main] = [out.normalise(d, v) for d, v in zip(wall["dataset_id"], wall[main])]
        wall["norm_flaml-automl"] = [out.normalise(d, v) for d, v in zip(wall["dataset_id"], wall["flaml-automl"])]
    return out


def machine_info() -> str:
    """One line: CPU model, cores, memory, OS, Python and key library versions."""
    cpu = cpu_model()
    gib = memory_gib()
    mem = f", {gib:.0f} GiB RAM" if gib else ""
    from importlib.metadata import PackageNotFoundError, version

    libs = []
    for pkg in ("autometa", "optuna", "lightgbm", "scikit-learn", "flaml", "numpy", "pandas"):
        try:
            libs.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            pass
    return (f"{cpu}, {os.cpu_count()} logical cores{mem}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}; " + ", ".join(libs))


def _fmt(v: float, digits: int = 3) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def _table(df: pd.DataFrame, digits: int = 3, index_name: str = "trials") -> list[str]:
    cols = list(df.columns)
    out = [f"| {index_name} | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for idx, row in df.iterrows():
        out.append(f"| {idx} | " + " | ".join(_fmt(row[c], digits) for c in cols) + " |")
    return out


def targets(s: Summary) -> list[tuple[str, Optional[bool], str]]:
    """(target, met?, evidence) for the issue's three targets (None: not measurable)."""
    out: list[tuple[str, Optional[bool], str]] = []
    n, r = s.norm, s.rank
    if 10 in n.index and 50 in n.index and MAIN in n.columns and "tpe" in n.columns:
        a, t = n.loc[10, MAIN], n.loc[50, "tpe"]
        out.append((f"{MAIN} at 10 trials >= cold TPE at 50 trials (mean normalised score)", bool(a >= t),
                    f"{a:.3f} vs {t:.3f}"))
    else:
        out.append(("autometa at 10 trials >= cold TPE at 50", None, "budgets 10 and 50 not both measured"))
    if 1 in n.index and MAIN in n.columns:
        a = n.loc[1, MAIN]
        for base in ("lightgbm-default", "flaml-zeroshot"):
            if base in n.columns:
                b = n.loc[1, base]
                out.append((f"{MAIN}'s first recommendation beats {base} (mean normalised score)", bool(a > b),
                            f"{a:.3f} vs {b:.3f}"))
    if s.wallclock_rank:
        a, f = s.wallclock_rank[MAIN], s.wallclock_rank["flaml-automl"]
        out.append((f"{MAIN} ahead of FLAML AutoML at equal wall-clock (mean rank, lower is better)", bool(a < f),
                    f"{a:.2f} vs {f:.2f} over {len(s.wallclock)} datasets; wins/ties/losses "
                    f"{s.wins[0]}/{s.wins[1]}/{s.wins[2]}"))
    return out


def recorded_command(md_path: Path) -> Optional[str]:
    """The run command an earlier report recorded (the line after ``Command:``), if any."""
    try:
        lines = Path(md_path).read_text().splitlines()
    except OSError:
        return None
    for i, line in enumerate(lines):
        if line.startswith("Command") and i + 3 < len(lines) and lines[i + 2] == "```":
            return lines[i + 3].strip() or None
    return None


def write_report(csv_path: Path, *, budgets: Sequence[int] = DEFAULT_BUDGETS, command: str = "",
                 metabase: Optional[Path] = None, out_md: Optional[Path] = None,
                 out_png: Optional[Path] = None, regenerated_by: str = "") -> tuple[Path, Path]:
    """Markdown and PNG from the results CSV; returns their paths.

    ``command`` is the command that produced the results; ``regenerated_by`` the one that rewrote
    the report from the CSV (``--report-only``), when that differs."""
    csv_path = Path(csv_path)
    out_md = out_md or csv_path.with_suffix(".md")
    out_png = out_png or csv_path.with_suffix(".png")
    results = read_results(csv_path)
    s = summarise(results, budgets)
    protocol = None
    try:
        from autometa.metabase import resolve_metabase_dir

        protocol = read_protocol(resolve_metabase_dir(metabase))
    except Exception:
        pass
    _plot(s, out_png)
    per_task = s.datasets["task"].value_counts()
    lines = ["# Warm-start benchmark (leave-datasets-out over the metabase)", ""]
    lines += ["Command (resumable: running it again extends the CSV and skips finished pairs):", "", "```",
              command or "python benchmarks/warmstart.py", "```", ""]
    if regenerated_by and regenerated_by != command:
        lines += [f"Report regenerated from the CSV with `{regenerated_by}` at "
                  f"{datetime.now(timezone.utc).isoformat(timespec='minutes')}.", ""]
    lines += [f"Machine: {machine_info()}.", ""]
    if protocol is not None:
        lines += [f"Protocol (from the metabase's manifest.json): {protocol.cv}-fold CV, stratified subsample "
                  f"of at most {protocol.max_rows} rows, seed {protocol.seed}, run time limit "
                  f"{protocol.run_time_limit:g} s per configuration, default metric per task (roc_auc / "
                  "log_loss / rmse); n_jobs=1 everywhere.", ""]
    lines += [f"Datasets covered (every compared method finished): **{len(s.datasets)}** — "
              + ", ".join(f"{t}: {int(per_task.get(t, 0))}" for t in TASK_ORDER)
              + f". Rows in the CSV: {len(results)} (dataset, method) results over "
              f"{results['dataset_id'].nunique() if len(results) else 0} datasets.", ""]
    lines += ["Each held-out dataset's meta-model is retrained without its whole family, the dataset and "
              "its copies (`train(exclude_datasets=family)`, families from the metabase's tasks.csv and "
              "content checksums), and `assert_not_trained_on` (id, content checksum and family) "
              "is checked before it recommends. Normalised score per dataset: 1 = best score any method "
              "reached, 0 = worst compared value; mean rank: 1 = best (ties averaged). `lightgbm-default` and "
              "`flaml-zeroshot` evaluate one configuration, so their value is the same at every budget. "
              f"`autometa-*` enqueue the meta-model's top recommendations, then TPE.", ""]
    lines += ["## Targets", ""]
    for name, met, ev in targets(s):
        verdict = "not measurable" if met is None else ("**met**" if met else "**not met**")
        lines.append(f"- {name}: {verdict} ({ev})")
    lines += ["", "## Mean normalised score (higher is better)", ""] + _table(s.norm)
    lines += ["", "## Mean rank (lower is better)", ""] + _table(s.rank, 2)
    lines += ["", "## Time to within 1% of the best score", "",
              "Seconds until a method's best-so-far score is within 1% (relative) of the best any method "
              "reached on that dataset; autometa's time includes computing meta-features and ranking. "
              "Median over datasets, a dataset never reached counting as infinite.", "",
              "| method | datasets | reached | median s | median s (reached only) |", "|---|---|---|---|---|"]
    for m, r in s.time_to_1pct.iterrows():
        lines.append(f"| {m} | {int(r['datasets'])} | {int(r['reached'])} | "
                     f"{'∞' if not np.isfinite(r['median_seconds']) else f'{r.median_seconds:.1f}'} | "
                     f"{_fmt(r['median_seconds_when_reached'], 1)} |")
    if s.wallclock is not None:
        w = s.wallclock
        lines += ["", "## Equal wall-clock: autometa-combined (all trials) vs FLAML AutoML", "",
                  f"FLAML AutoML gets the wall-clock time autometa-combined took for its trials "
                  f"(eval_method=\"cv\", same number of folds, n_jobs=1); its best configuration is "
                  f"re-scored on the benchmark's folds. Mean rank: {MAIN} {s.wallclock_rank[MAIN]:.2f}, "
                  f"flaml-automl {s.wallclock_rank['flaml-automl']:.2f}; wins/ties/losses for autometa "
                  f"{s.wins[0]}/{s.wins[1]}/{s.wins[2]}; mean normalised score {w['norm_' + MAIN].mean():.3f} vs "
                  f"{w['norm_flaml-automl'].mean():.3f}.", "",
                  "| dataset | task | seconds | autometa-combined | flaml-automl | FLAML run |", "|---|---|---|---|---|---|"]
        for _, r in w.iterrows():
            lines.append(f"| {r['name']} | {r['task']} | {_fmt(r['autometa_seconds'], 1)} | {_fmt(r[MAIN], 4)} | "
                         f"{_fmt(r['flaml-automl'], 4)} | {r['note']} |")
    lines += ["", "## Per dataset (best score at the largest budget; higher is better)", ""]
    if len(s.per_dataset):
        top = s.per_dataset[s.per_dataset["budget"] == s.budgets[-1]]
        piv = top.pivot_table(index="dataset_id", columns="method", values="score").reindex(columns=s.methods)
        names = s.datasets.set_index("dataset_id")
        lines += ["| dataset | task | " + " | ".join(s.methods) + " |", "|---" * (len(s.methods) + 2) + "|"]
        for did, row in piv.iterrows():
            lines.append(f"| {names.loc[did, 'name']} | {names.loc[did, 'task']} | "
                         + " | ".join(_fmt(row[m], 4) for m in s.methods) + " |")
    lines += ["", "## Notes", "",
              "- Every trial is a real CV evaluation (no surrogate, no lookup in the metabase's runs). "
              "Failed and pruned trials count as trials; autometa and cold TPE use the same "
              "median pruner (`run_search`), random search prunes nothing.",
              "- `tpe` and `random` coincide for the first trials: TPE starts with random trials drawn "
              "with the same seed.",
              "- Timings are wall-clock seconds of one process (n_jobs=1). Other jobs sharing the machine "
              "stretch them; a dataset's methods run back to back, so the equal wall-clock comparison "
              "sees the same conditions.",
              "- FLAML zero-shot suggests LightGBM hyperparameters from each training fold; FLAML AutoML "
              "searches its default learners with its own CV folds, and its chosen configuration is then "
              "re-scored on the benchmark's folds (so its score can differ from the loss it reported).",
              "- FLAML needs its `automl` extra (`pip install \"flaml[automl]\"`, which brings xgboost).",
              ]
    lines += ["", f"Plot: `{out_png.name}`; raw per-trial results: `{csv_path.name}` (one row per dataset and "
              "method: per-trial scores and elapsed seconds as JSON lists).", ""]
    out_md.write_text("\n".join(lines))
    return out_md, out_png


def _plot(s: Summary, path: Path) -> None:
    """Mean normalised score vs trials, one line per method (PNG)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    _draw_curves(ax, s, s.norm, f"Warm start vs cold search, {len(s.datasets)} held-out datasets",
                 star_at=s.budgets[-1])
    _save(fig, path)


def _pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _draw_curves(ax: Any, s: Summary, norm: pd.DataFrame, title: str, star_at: int,
                 datasets: Optional[Iterable[str]] = None) -> None:
    """One panel: ``norm`` (index budget, columns method) as lines, single-configuration methods as
    dashed levels, FLAML AutoML at equal wall-clock with ``s.main`` as a star at ``star_at`` trials
    (mean over ``datasets``, default all)."""
    import matplotlib.ticker
    import matplotlib.pyplot as plt

    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colours = {m: cycle[i % len(cycle)] for i, m in enumerate(METHODS)}
    colours.setdefault(s.main, colours[MAIN])  # another mode's main method (transfer: autometa)
    for m in norm.columns:
        y = norm[m]
        if m in SINGLE_METHODS:
            if y.notna().any():
                ax.axhline(y.dropna().iloc[0], ls="--", lw=1.2, color=colours.get(m), label=f"{m} (1 config)")
        else:
            ax.plot(norm.index, y.values, marker="o", lw=2 if m == s.main else 1.3, color=colours.get(m), label=m)
    if s.wallclock is not None and len(s.wallclock):
        keep = set(s.datasets["dataset_id"]) if datasets is None else set(datasets)
        w = s.wallclock[s.wallclock["dataset_id"].isin(keep)]
        if len(w):
            ax.scatter([star_at], [float(w["norm_flaml-automl"].mean())], marker="*", s=160,
                       color=colours["flaml-automl"], zorder=5, label="flaml-automl (equal wall-clock)")
    ax.set_xscale("log")
    ax.set_xticks(s.budgets)
    ax.set_xticklabels([str(b) for b in s.budgets])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("trials (configurations evaluated)")
    ax.set_ylabel("mean normalised score (1 = best seen)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower right")


# ------------------------------------------------------------------ command line (benchmarks/warmstart.py)
def parse_list(text: Optional[str], kind: type = str) -> Optional[list]:
    """``"1,3,10"`` -> [1, 3, 10]; None/empty -> None."""
    if text is None or not str(text).strip():
        return None
    try:
        return [kind(t.strip()) for t in str(text).split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"cannot read {text!r} as a comma-separated list of {kind.__name__}") from None


def main(datasets: Optional[int] = None, budgets: Optional[str] = None, methods: Optional[str] = None,
         metabase: Optional[str] = None, seed: Optional[int] = None, out_dir: Optional[str] = None,
         report_only: bool = False, top_k: int = 10, dataset_ids: Optional[str] = None,
         command: Optional[str] = None, log: Callable[[str], None] = print) -> tuple[Path, Path, Path]:
    """What ``benchmarks/warmstart.py`` runs; returns (csv, md, png). ``out_dir`` defaults to
    benchmarks/results (next to this file), not the current directory."""
    budget_list = parse_list(budgets, int) or list(DEFAULT_BUDGETS)
    method_list = parse_list(methods) or list(METHODS)
    command = command or " ".join(["python benchmarks/warmstart.py"] + sys.argv[1:])
    out_dir = Path(out_dir) if out_dir else DEFAULT_OUT_DIR
    csv_path = out_dir / "warmstart.csv"
    mb = Path(metabase) if metabase else None

    def report(path: Path) -> tuple[Path, Path]:
        return write_report(path, budgets=budget_list, command=command, metabase=mb)

    if not report_only:
        csv_path = run_benchmark(mb, out_dir, n_datasets=datasets, budgets=budget_list, methods=method_list,
                                 seed=seed, top_k=top_k, dataset_ids=parse_list(dataset_ids), command=command,
                                 log=log, after_dataset=report)
        md, png = report(csv_path)
    elif not csv_path.is_file():
        raise ConfigError(f"no results at {csv_path}; run the benchmark first (without --report-only)")
    else:
        md, png = write_report(csv_path, budgets=budget_list, metabase=mb, regenerated_by=command,
                               command=recorded_command(csv_path.with_suffix(".md")) or command)
    log(f"wrote {csv_path}, {md}, {png}")
    return csv_path, md, png

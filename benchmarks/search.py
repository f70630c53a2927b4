"""Benchmarks of the search (autometa.search) and of ``autometa fit``.

(a) overhead: per-trial cost of the search machinery alone (Optuna study, sampler, pruner,
    bookkeeping), with evaluate_config replaced by an instant fake; target < 20 ms per trial
    over 200 trials. Measured for autometa's sampler and for Optuna's plain grouped TPE.
(b) fit: ``autometa fit`` end to end (subprocess: load, 30 trials, refit, save) on a generated
    10,000-row table; target < 3 min on 2 cores.
(c) datasets: on each dataset of ../shared/datasets/arff (a fixed list of >= 10), a seeded 75/25
    holdout split; a 30-trial search on the 75 % (refit on it) vs LightGBM's defaults, both
    scored on the 25 % with the task's default metric. One CSV row is appended per dataset, so
    an interrupted run continues where it stopped.

Usage::

    python benchmarks/search.py --part a          # or b, c, all; --quick for a smoke run
    python benchmarks/search.py --report          # rewrite results/search.md from the CSVs

Results: benchmarks/results/search.md and search_{overhead,fit,datasets}.csv.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
SHARED_ARFF = Path(os.environ.get("AUTOMETA_SHARED_DIR", REPO.parent / "shared")) / "datasets" / "arff"

OVERHEAD_CSV = RESULTS / "search_overhead.csv"
FIT_CSV = RESULTS / "search_fit.csv"
DATASETS_CSV = RESULTS / "search_datasets.csv"
REPORT = RESULTS / "search.md"

# (group, file stem): moderate sizes, both tasks, numeric and nominal features
DATASETS = [
    ("classification", "credit.g"), ("classification", "diabetes"),
    ("classification", "kr.vs.kp"), ("classification", "vehicle"),
    ("classification", "segment"), ("classification", "spambase"),
    ("classification", "car"), ("classification", "vowel"),
    ("classification", "cmc"), ("classification", "ionosphere"),
    ("regression", "cpu.small"), ("regression", "bank8FM"),
    ("regression", "puma32H"), ("regression", "housing"), ("regression", "autompg"),
]


def machine_info() -> dict[str, Any]:
    """Cores, CPU model and library versions, for the report."""
    import lightgbm
    import optuna
    import sklearn

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import cores, cpu_model

    return {
        "cpu": cpu_model(), "cores": cores(), "python": platform.python_version(),
        "optuna": optuna.__version__, "scikit-learn": sklearn.__version__,
        "lightgbm": lightgbm.__version__, "platform": platform.platform(terse=True),
    }


def _append(path: Path, row: dict[str, Any]) -> None:
    """Append one row to a CSV (header written with the first row; rewritten if columns change)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    if not new and list(pd.read_csv(path, nrows=0).columns) != list(row):
        merged = pd.concat([pd.read_csv(path), pd.DataFrame([row])], ignore_index=True)
        merged.to_csv(path, index=False)
        return
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


# ---------------------------------------------------------------- (a) overhead
def _storage_kind(storage: Optional[str]) -> str:
    if storage is None:
        return "memory"
    return "sqlite" if storage.startswith("sqlite") else "journal"


def _overhead_once(n_trials: int, sampler: str, storage: Optional[str]) -> dict[str, Any]:
    import autometa.search as search
    from autometa.data import from_xy
    from autometa.evaluate import EvalResult

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(500, 8)), columns=[f"f{i}" for i in range(8)])
    ds = from_xy(X, (X["f0"] > 0).astype(int))

    def instant(config, X, y, column_types, task, *, metric, splits, report=None, **kwargs):
        # a deterministic pseudo-score per configuration, reported fold by fold like the real one
        r = np.random.default_rng(abs(hash(json.dumps(config, sort_keys=True))) % 2**32)
        scores: list[float] = []
        for i in range(len(splits)):
            scores.append(float(r.uniform(0.5, 1.0)))
            if report is not None and report(i, float(np.mean(scores))):
                return EvalResult("pruned", math.nan, math.nan, scores, [], 0.0, 0.0, "pruned")
        return EvalResult("ok", float(np.mean(scores)), float(np.std(scores)), scores, [], 0.0,
                          0.0, "")

    # plain grouped TPE (same options) or autometa's; the run's seed is run_search's default, 0
    tpe = search.tpe_sampler(0, conditional=sampler != "optuna-tpe")
    start = time.perf_counter()
    res = search.run_search(ds.X, ds.y, ds.column_types, ds.task, n_trials=n_trials,
                            storage=storage, evaluate=instant, sampler=tpe)
    elapsed = time.perf_counter() - start
    statuses = res.leaderboard["status"].value_counts().to_dict()
    return {
        "sampler": sampler, "storage": _storage_kind(storage), "n_trials": n_trials,
        "seconds": round(elapsed, 3), "ms_per_trial": round(1000 * elapsed / n_trials, 2),
        "pruned": int(statuses.get("pruned", 0)),
    }


def part_overhead(quick: bool) -> None:
    """(a): per-trial overhead, autometa's sampler vs plain grouped TPE, memory and SQLite."""
    n = 50 if quick else 200
    runs = [("autometa", None), ("optuna-tpe", None)]
    with tempfile.TemporaryDirectory() as tmp:
        runs.append(("autometa", f"sqlite:///{Path(tmp) / 'overhead.db'}"))
        runs.append(("autometa", str(Path(tmp) / "overhead.journal")))
        for sampler, storage in runs:
            row = _overhead_once(n, sampler, storage)
            print(f"(a) {row}", flush=True)
            _append(OVERHEAD_CSV, {"date": time.strftime("%Y-%m-%d %H:%M"), **row})


# ---------------------------------------------------------------- (b) autometa fit
def make_table(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """A 10k-row-style binary table: 12 numeric, 4 categorical features, missing values, noise."""
    rng = np.random.default_rng(seed)
    num = rng.normal(size=(n_rows, 12))
    frame = pd.DataFrame(num, columns=[f"n{i}" for i in range(12)])
    for i, levels in enumerate((3, 5, 12, 40)):
        frame[f"c{i}"] = rng.choice([f"l{j}" for j in range(levels)], size=n_rows)
    logit = (num[:, 0] - 0.8 * num[:, 1] + 0.5 * num[:, 2] * num[:, 3]
             + (frame["c0"] == "l1") - 0.7 * (frame["c2"].isin(["l2", "l5", "l7"])))
    frame["target"] = np.where(logit + rng.logistic(size=n_rows) > 0, "pos", "neg")
    frame.loc[rng.random(n_rows) < 0.03, "n4"] = np.nan
    return frame


def _children_cpu() -> float:
    """User + system CPU seconds of finished child processes (and the children they waited for)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _fit_seconds_by_algorithm(journal: Path) -> str:
    """Summed CV fit seconds and trial count per algorithm, from the study's journal."""
    import optuna

    from autometa.search import open_storage

    study = optuna.load_study(study_name="bench10k", storage=open_storage(str(journal)))
    seconds: dict[str, float] = {}
    counts: dict[str, int] = {}
    for t in study.trials:
        algo = t.params.get("algorithm", "?")
        seconds[algo] = seconds.get(algo, 0.0) + float(t.user_attrs.get("fit_seconds") or 0.0)
        counts[algo] = counts.get(algo, 0) + 1
    order = sorted(seconds, key=lambda a: -seconds[a])
    return "; ".join(f"{a} {seconds[a]:.0f} s ({counts[a]})" for a in order)


def part_fit(quick: bool, n_jobs: int) -> None:
    """(b): ``autometa fit`` with 30 trials on a generated 10,000-row table, in a subprocess."""
    n_rows, trials = (2000, 5) if quick else (10_000, 30)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "bench10k.csv"
        make_table(n_rows).to_csv(data, index=False)
        journal = Path(tmp) / "fit.journal"  # kept only to break the time down by algorithm
        cmd = [sys.executable, "-m", "autometa.cli", "fit", str(data), "--trials", str(trials),
               "--n-jobs", str(n_jobs), "--json", "--output", str(Path(tmp) / "model.joblib"),
               "--storage", str(journal)]
        load_before = os.getloadavg()[0]
        cpu_before = _children_cpu()
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
        elapsed = time.perf_counter() - start
        cpu = _children_cpu() - cpu_before
        if proc.returncode != 0:
            raise SystemExit(f"autometa fit failed: {proc.stderr.strip()[-500:]}")
        by_algorithm = _fit_seconds_by_algorithm(journal)
    out = json.loads(proc.stdout)
    row = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "rows": n_rows, "trials": trials,
        "n_jobs": n_jobs, "seconds": round(elapsed, 1), "cpu_seconds": round(cpu, 1),
        "load_1min_before": round(load_before, 2), "load_1min_after": round(os.getloadavg()[0], 2),
        "n_trials_done": out["n_trials"],
        "metric": out["metric"], "best_score": round(out["best_score"], 4),
        "best_algorithm": out["best_config"]["algorithm"],
        "cv_fit_seconds_by_algorithm (trials)": by_algorithm,
        "command": f"autometa fit bench10k.csv --trials {trials} --n-jobs {n_jobs} --json "
                   "--storage fit.journal",
    }
    print(f"(b) {row}", flush=True)
    _append(FIT_CSV, row)


# ---------------------------------------------------------------- (c) datasets
def _holdout(ds: Any, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(ds.y))
    stratify = None
    if ds.task != "regression":
        counts = ds.y.value_counts()
        stratify = ds.y.to_numpy() if (counts[counts > 0] >= 2).all() else None
    train, test = train_test_split(idx, test_size=0.25, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(test)


def _test_score(pipe: Any, X: pd.DataFrame, y: pd.Series, metric: str, labels: Any) -> float:
    """Raw metric value on held-out rows (probabilities aligned to ``labels``)."""
    from autometa.evaluate import score_predictions

    pred = np.asarray(pipe.predict(X))
    proba = None
    if labels is not None:
        raw = np.asarray(pipe.predict_proba(X), dtype=float)
        position = {c: i for i, c in enumerate(list(labels))}
        proba = np.zeros((len(X), len(labels)))
        proba[:, [position[c] for c in pipe.classes_]] = raw
    y_true = y.to_numpy() if labels is not None else y.to_numpy(dtype=float)
    return float(score_predictions(metric, y_true, pred, proba, labels))


def part_datasets(quick: bool, trials: int, limit: Optional[int]) -> None:
    """(c): 30-trial search vs LightGBM defaults on held-out data, one CSV row per dataset."""
    from autometa import space
    from autometa.data import load_data
    from autometa.evaluate import default_metric, get_metric
    from autometa.pipeline import build_pipeline, fit_context
    from autometa.search import refit_best, run_search

    if not SHARED_ARFF.is_dir():
        print(f"(c) skipped: the shared datasets are absent ({SHARED_ARFF})", flush=True)
        return
    done = set()
    if DATASETS_CSV.exists():
        done = set(pd.read_csv(DATASETS_CSV)["dataset"])
    chosen = DATASETS[: (3 if quick else limit or len(DATASETS))]
    for group, stem in chosen:
        if stem in done:
            print(f"(c) {stem}: already in {DATASETS_CSV.name}, skipped", flush=True)
            continue
        path = SHARED_ARFF / group / f"{stem}.arff.gz"
        row: dict[str, Any] = {"dataset": stem}
        try:
            ds = load_data(path)
            train, test = _holdout(ds)
            Xtr, ytr = ds.X.iloc[train].reset_index(drop=True), ds.y.iloc[train].reset_index(drop=True)
            Xte, yte = ds.X.iloc[test].reset_index(drop=True), ds.y.iloc[test].reset_index(drop=True)
            metric = default_metric(ds.task)
            labels = np.unique(ds.y.to_numpy()) if ds.task != "regression" else None
            load = os.getloadavg()[0]
            start, cpu_start = time.perf_counter(), time.process_time()
            res = run_search(Xtr, ytr, ds.column_types, ds.task, n_trials=trials, seed=0)
            search_seconds = time.perf_counter() - start
            search_cpu = time.process_time() - cpu_start
            pipe = refit_best(res, Xtr, ytr, ds.column_types)
            search_test = _test_score(pipe, Xte, yte, metric, labels)
            lgbm = build_pipeline(space.default_config("lightgbm", ds.task), ds.column_types,
                                  ds.task, seed=0)
            with fit_context(1):
                lgbm.fit(Xtr, ytr)
            lgbm_test = _test_score(lgbm, Xte, yte, metric, labels)
            lgbm_cv = res.leaderboard.loc[
                (res.leaderboard.origin == "warm-start") & (res.leaderboard.algorithm == "lightgbm"),
                "score"]
            better = get_metric(metric, ds.task).greater_is_better
            row.update({
                "task": ds.task, "rows": len(ds.y), "features": ds.X.shape[1], "metric": metric,
                "search_test": round(search_test, 5), "lgbm_default_test": round(lgbm_test, 5),
                "search_wins": (search_test > lgbm_test) if better else (search_test < lgbm_test),
                "search_cv": round(res.best_score, 5),
                "lgbm_default_cv": round(float(lgbm_cv.iloc[0]), 5) if len(lgbm_cv) else math.nan,
                "best_algorithm": res.best_config["algorithm"], "trials": res.n_trials,
                "search_seconds": round(search_seconds, 1),
                "search_cpu_seconds": round(search_cpu, 1), "load_1min": round(load, 2),
                "error": "",
            })
        except Exception as exc:  # one unusable dataset must not stop the benchmark
            row.update({"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"})
        print(f"(c) {row}", flush=True)
        full = {k: row.get(k, "") for k in (
            "dataset", "task", "rows", "features", "metric", "search_test", "lgbm_default_test",
            "search_wins", "search_cv", "lgbm_default_cv", "best_algorithm", "trials",
            "search_seconds", "search_cpu_seconds", "load_1min", "error")}
        _append(DATASETS_CSV, full)


# ---------------------------------------------------------------- report
def _table(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in frame.iterrows():
        lines.append("| " + " | ".join(_cell(v) for v in r) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    """A table cell: blank for NaN, floats to 6 significant digits (1000.0 -> 1000)."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def write_report() -> None:
    """Rewrite results/search.md from the CSVs that exist."""
    info = machine_info()
    parts = [
        "# Search benchmarks (`benchmarks/search.py`)",
        f"Machine: {info['cpu']}, {info['cores']} cores available; Python {info['python']}, "
        f"Optuna {info['optuna']}, scikit-learn {info['scikit-learn']}, LightGBM "
        f"{info['lightgbm']}; {info['platform']}.",
        "Commands (from the repository root): `python benchmarks/search.py --part a`, "
        "`--part b`, `--part c` (or `--part all`); `--report` rewrites this file.",
        "## (a) Per-trial overhead of the search machinery",
        "evaluate_config replaced by an instant fake (5 folds reported, pruning active); "
        "everything else real: study, sampler, pruner, user attributes, leaderboard. "
        "`autometa` is `ConditionalTPESampler` (grouped multivariate TPE drawing only the chosen "
        "algorithm's groups), `optuna-tpe` plain `TPESampler(multivariate=True, group=True)`. "
        "Target: < 20 ms per trial (in memory). SQLite runs in WAL mode with synchronous=NORMAL "
        "(see `autometa.search._sqlite_engine_kwargs`); the journal is Optuna's file journal.",
    ]
    if OVERHEAD_CSV.exists():
        overhead = pd.read_csv(OVERHEAD_CSV)
        parts.append(_table(overhead))
        mine = overhead[(overhead["sampler"] == "autometa") & (overhead["storage"] == "memory")]
        if len(mine):
            ms = float(mine["ms_per_trial"].iloc[-1])
            parts.append(f"Latest in-memory overhead: {ms:.1f} ms per trial over "
                         f"{int(mine['n_trials'].iloc[-1])} trials: target "
                         f"{'met' if ms < 20 else 'missed'}.")
    else:
        parts.append("(not run)")
    parts += ["## (b) `autometa fit`, 30 trials, generated 10,000-row table",
              "Binary target; 12 numeric features (one with 3 % missing), 4 categorical "
              "(3, 5, 12, 40 levels); default 3-fold CV (>= 10,000 rows) and all algorithms; "
              "wall time of the whole command (process start, load, search, refit, save), "
              "its CPU time (user + system, child processes included) and the machine's 1-minute "
              "load average around it: the 2 cores were shared with other jobs, so wall time "
              "above cpu_seconds / 2 is time spent waiting for a core. Target: < 3 min on 2 cores."]
    if FIT_CSV.exists():
        fit = pd.read_csv(FIT_CSV)
        parts.append(_table(fit))
        last = fit.iloc[-1]
        parts.append(f"Latest: {last['seconds']:.0f} s wall ({last['cpu_seconds']:.0f} CPU-seconds "
                     f"with --n-jobs {last['n_jobs']}, load average {last['load_1min_before']} "
                     f"before): target of 180 s {'met' if last['seconds'] < 180 else 'missed'}.")
    else:
        parts.append("(not run)")
    parts += ["## (c) 30 trials vs LightGBM defaults, held-out 25 %",
              "Per dataset: seeded 75/25 split (stratified for classification); the search "
              "(warm start = every algorithm's default, then TPE; default CV) runs on the 75 %, "
              "its best configuration is refit there; LightGBM with default parameters is fit "
              "on the same 75 %. Both are scored on the 25 % with the task's default metric "
              "(roc_auc: higher is better; log_loss, rmse: lower is better). `search_cv` and "
              "`lgbm_default_cv` are CV scores on the 75 % (higher is better: negated losses)."]
    if DATASETS_CSV.exists():
        frame = pd.read_csv(DATASETS_CSV)
        parts.append(_table(frame))
        ok = frame[frame["error"].isna() | (frame["error"] == "")]
        if len(ok):
            wins = int(ok["search_wins"].astype(str).str.lower().eq("true").sum())
            parts.append(f"Search better than LightGBM defaults on held-out data on {wins} of "
                         f"{len(ok)} datasets; median search time {ok['search_seconds'].median():.0f} s.")
    else:
        parts.append("(not run)")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n\n".join(parts) + "\n")
    print(f"wrote {REPORT}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["a", "b", "c", "all"], default=None)
    parser.add_argument("--quick", action="store_true", help="small smoke-test sizes")
    parser.add_argument("--trials", type=int, default=30, help="trials per dataset in (c)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many datasets in (c)")
    parser.add_argument("--n-jobs", type=int, default=2, help="--n-jobs of autometa fit in (b)")
    parser.add_argument("--report", action="store_true", help="only rewrite results/search.md")
    args = parser.parse_args()
    if not args.report:
        part = args.part or "all"
        if part in ("a", "all"):
            part_overhead(args.quick)
        if part in ("b", "all"):
            part_fit(args.quick, args.n_jobs)
        if part in ("c", "all"):
            part_datasets(args.quick, args.trials, args.limit)
    write_report()


if __name__ == "__main__":
    main()

"""Meta-feature extraction speed: autometa vs pymfe, side by side on a corpus of ARFF datasets.

For every dataset (``*.arff`` / ``*.arff.gz`` under ``--corpus``, default ``../shared/datasets/arff``
relative to the repository) and each of three group sets

======== ======================================== ==========================================
groupset autometa groups                          pymfe groups
======== ======================================== ==========================================
basic    general, statistical, infotheory         general, statistical, info-theory
landmark landmarking                              landmarking
model    model_based                              model-based
======== ======================================== ==========================================

the wall-clock (and CPU) seconds of each tool's extraction are measured in a forked child process
per (dataset, tool, groupset) with a timeout, so a hang or crash is recorded as ``timeout`` /
``error: <msg>`` and the benchmark goes on. Every BLAS/OpenMP pool is limited to one thread
before numpy is imported: one core per measurement.

Fairness rules:

* Loading is excluded: each dataset is read once with :func:`autometa.data.load_data` and both
  tools get the same typed table (pymfe: a numpy object array with ``cat_cols`` naming the
  categorical columns, y as an array of labels / floats).
* autometa computes landmarking and model-based meta-features on a stratified subsample of at most
  10,000 rows (its default ``max_rows``); pymfe gets exactly the same rows
  (:func:`autometa.metafeatures.stratified_subsample`, same seed) for those two group sets,
  selected outside its timing. autometa gets the full table and subsamples inside its timing.
* pymfe 0.4.4 cannot take missing values ("missing_data: Still not implemented"; its categorical
  encoding raises). Where the table has missing cells, pymfe gets a copy with categorical
  missing values as an extra level ``"?"`` and numeric ones replaced by the column median (done
  outside its timing; autometa keeps the missing values). The CSV says which input pymfe got.
* pymfe uses its default summary functions (mean, sd) with ``random_state=0``; autometa its
  defaults (``max_rows=10_000``, ``time_budget=10`` s per group; a group stopped by the budget
  is listed in ``autometa_cut_short``).
* Short measurements are repeated (until about 1 s of work or 7 runs) and the median is kept.
* Both tools are warmed up in the parent (lazy imports) before any child is forked.

The ratio is pymfe seconds / autometa seconds. A row is *comparable* when both tools finished
and each returned at least one finite value (pymfe's landmarking and model-based groups are
classification-only: on regression targets they return only NaN / nothing).

Also timed: autometa, all groups, on a 100,000 x 100 synthetic table (70 numeric, 30 categorical,
5% missing cells, binary target), one core (typing with ``from_xy`` is excluded and reported apart).

Results are appended to ``benchmarks/results/metafeatures.csv`` row by row (a rerun skips rows
already there) and ``benchmarks/results/metafeatures.md`` is regenerated from the CSV.

    python benchmarks/metafeatures.py                    # everything (resumes)
    python benchmarks/metafeatures.py --datasets iris,labor --limit 5 --timeout 120
    python benchmarks/metafeatures.py --report-only
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
             "NUMEXPR_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import csv
import datetime as _dt
import math
import multiprocessing as mp
import platform
import shlex
import statistics
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_CORPUS = "../shared/datasets/arff"  # relative to the repository root
RESULTS = HERE / "results"
CSV_PATH = RESULTS / "metafeatures.csv"
MD_PATH = RESULTS / "metafeatures.md"

GROUPSETS: dict[str, tuple[list[str], list[str]]] = {
    "basic": (["general", "statistical", "infotheory"], ["general", "statistical", "info-theory"]),
    "landmark": (["landmarking"], ["landmarking"]),
    "model": (["model_based"], ["model-based"]),
}
GROUPSET_LABEL = {
    "basic": "general+statistical+info-theory",
    "landmark": "landmarking",
    "model": "model-based",
}
EXPENSIVE_SETS = ("landmark", "model")
MAX_ROWS = 10_000
SEED = 0
TIME_BUDGET = 10.0
SYNTH_NAME = "synthetic-100000x100"
SYNTH_TARGET_S = 2.0
SPEED_TARGET = 10.0

COMMAND = "python benchmarks/metafeatures.py"  # this run's command line, stored with every row
MEMORY_GB = 6.0  # address-space allowance per measurement child, above what it inherits (--memory-gb)
REPEAT_UNTIL_S = 1.0  # repeat a measurement until this much work was timed ...
MAX_REPEATS = 7  # ... or this many runs

FIELDS = [
    "dataset", "path", "target", "task", "n_rows", "n_features", "n_numeric", "n_categorical", "missing_cells",
    "groupset", "rows_used",
    "autometa_status", "autometa_seconds", "autometa_cpu_seconds", "autometa_repeats",
    "autometa_group_seconds", "autometa_cut_short", "autometa_failed_groups",
    "autometa_n_values", "autometa_n_finite",
    "pymfe_input", "pymfe_status", "pymfe_seconds", "pymfe_cpu_seconds", "pymfe_repeats",
    "pymfe_n_values", "pymfe_n_finite",
    "ratio", "cpu_ratio", "comparable", "timeout_s", "loadavg_1min", "measured_at", "command",
]


# ----------------------------------------------------------------------------------------------
# measurement in a child process


def _timed(fn: Callable[[], dict], single: bool = False) -> dict:
    """Run ``fn`` (repeated while short); median wall and CPU seconds plus the last result."""
    walls: list[float] = []
    cpus: list[float] = []
    out: dict = {}
    while True:
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        if single or sum(walls) >= REPEAT_UNTIL_S or len(walls) >= MAX_REPEATS:
            break
    out = dict(out)
    out["seconds"] = statistics.median(walls)
    out["cpu_seconds"] = statistics.median(cpus)
    out["repeats"] = len(walls)
    return out


def _child(conn: Any, fn: Callable[[], dict]) -> None:
    """Child-process entry: run ``fn`` and send ``("ok", result)`` or ``("error", message)``."""
    warnings.simplefilter("ignore")
    try:
        _limit_memory(MEMORY_GB)
        res = fn()
        conn.send(("ok", res))
    except BaseException as exc:
        msg = f"{type(exc).__name__}: {exc}".replace("\n", " ").strip()
        conn.send(("error", msg[:300], traceback.format_exc()[-2000:]))
    finally:
        conn.close()


def _limit_memory(gb: float) -> None:
    """Cap this process's address space at what it has now plus ``gb`` GiB (MemoryError, not the OOM killer)."""
    if not gb or gb <= 0:
        return
    try:
        import resource

        vm_kb = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                     if line.startswith("VmSize:"))
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = vm_kb * 1024 + int(gb * 2**30)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, OSError, StopIteration, ValueError):
        pass


def run_isolated(fn: Callable[[], dict], timeout: float) -> tuple[str, dict]:
    """Run ``fn`` in a forked child with a timeout; (status, result)."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn), daemon=True)
    proc.start()
    child.close()
    msg = None
    if parent.poll(timeout):
        try:
            msg = parent.recv()
        except EOFError:
            msg = None
    if proc.is_alive() and msg is None:
        proc.kill()
        proc.join()
        return "timeout", {}
    proc.join(30)
    if proc.is_alive():
        proc.kill()
        proc.join()
    if msg is None:
        return f"error: child exited with code {proc.exitcode}", {}
    if msg[0] == "ok":
        return "ok", msg[1]
    return f"error: {msg[1]}", {}


# ----------------------------------------------------------------------------------------------
# the two tools


def _finite_count(values: Any) -> tuple[int, int]:
    vals = list(values)
    n_fin = 0
    for v in vals:
        try:
            n_fin += bool(math.isfinite(float(v)))
        except (TypeError, ValueError):
            pass
    return len(vals), n_fin


def autometa_job(ds: Any, groups: list[str]) -> Callable[[], dict]:
    from autometa.metafeatures import describe_dataset

    def once() -> dict:
        mf = describe_dataset(ds, groups=groups, seed=SEED, max_rows=MAX_ROWS, time_budget=TIME_BUDGET)
        n, fin = _finite_count(mf.values.values())
        return {
            "group_seconds": {g: round(s, 4) for g, s in mf.seconds.items()},
            "cut_short": list(mf.cut_short),
            "failed": dict(mf.failed),
            "n_values": n,
            "n_finite": fin,
            "rows_used": max(mf.n_rows_used.values()) if mf.n_rows_used else len(ds.X),
        }

    return lambda: _timed(once)


def pymfe_input(ds: Any, rows: Optional[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[int], str]:
    """(X, y, cat_cols, note) for pymfe: numpy object array, missing values filled if any."""
    X = ds.X if rows is None else ds.X.iloc[rows]
    y = ds.y if rows is None else ds.y.iloc[rows]
    cat_cols: list[int] = []
    out = np.empty(X.shape, dtype=object)
    filled = False
    for i, col in enumerate(X.columns):
        s = X[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cat_cols.append(i)
            vals = s.astype(object)
            if vals.isna().any():
                filled = True
                vals = vals.where(vals.notna(), "?")
            out[:, i] = vals.astype(str).to_numpy()
        else:
            a = s.to_numpy(dtype=np.float64, copy=True)
            bad = ~np.isfinite(a)
            if bad.any():
                filled = True
                good = a[~bad]
                a[bad] = float(np.median(good)) if good.size else 0.0
            out[:, i] = a
    if ds.task == "regression":
        yy = y.to_numpy(dtype=np.float64)
    else:
        yy = y.astype(str).to_numpy()
    return out, yy, cat_cols, ("missing filled" if filled else "same")


def pymfe_job(X: np.ndarray, y: np.ndarray, cat_cols: list[int], groups: list[str]) -> Callable[[], dict]:
    from pymfe.mfe import MFE

    def once() -> dict:
        mfe = MFE(groups=groups, random_state=SEED)
        mfe.fit(X, y, cat_cols=cat_cols, suppress_warnings=True)
        _names, values = mfe.extract(suppress_warnings=True)
        n, fin = _finite_count(values)
        return {"n_values": n, "n_finite": fin}

    return lambda: _timed(once)


def warm_up() -> None:
    """Exercise both tools once in the parent so children inherit warm imports."""
    from pymfe.mfe import MFE

    from autometa.data import from_xy
    from autometa.metafeatures import describe_dataset

    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame({
        "a": rng.normal(size=n), "b": rng.normal(size=n),
        "c": pd.Categorical(rng.choice(["x", "y", "z"], n)),
    })
    y = pd.Series(np.where(frame["a"] > 0, "p", "q"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for task, yy in (("binary", y), ("regression", frame["b"] * 2 + rng.normal(size=n))):
            ds = from_xy(frame, yy, task=task)
            describe_dataset(ds)
            X, ya, cats, _ = pymfe_input(ds, None)
            for _, pg in GROUPSETS.values():
                try:
                    MFE(groups=pg, random_state=0).fit(X, ya, cat_cols=cats, suppress_warnings=True).extract(
                        suppress_warnings=True)
                except Exception:
                    pass


# ----------------------------------------------------------------------------------------------
# datasets and the CSV


def find_datasets(corpus: Path) -> list[tuple[str, Path]]:
    files = sorted(p for p in corpus.rglob("*") if p.name.endswith((".arff", ".arff.gz")))
    out: list[tuple[str, Path]] = []
    seen: dict[str, int] = {}
    for p in files:
        name = p.name[: -len(".arff.gz")] if p.name.endswith(".gz") else p.name[: -len(".arff")]
        if name in seen:
            name = f"{p.parent.name}/{name}"
        seen[name] = 1
        out.append((name, p))
    return out


def read_rows(path: Path = CSV_PATH) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return [{k: (v or "") for k, v in r.items()} for r in csv.DictReader(fh)]


def rewrite_rows(rows: list[dict], path: Path = CSV_PATH) -> None:
    """Write ``rows`` as the whole CSV (current columns), atomically."""
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in FIELDS})
    tmp.replace(path)


def csv_header(path: Path) -> list[str]:
    if not path.exists() or path.stat().st_size == 0:
        return []
    with path.open(newline="") as fh:
        return next(csv.reader(fh), [])


def arff_target(path: Path) -> Optional[str]:
    """The ARFF attribute named ``class`` (any case) when there is one and it is not last, else None.

    ARFF has no marked target; load_data takes the last column. A few corpus files (wine,
    shuttle.landing.control, solar.flare1/2) put their ``class`` attribute first.
    """
    import gzip
    import shlex

    opener = gzip.open if path.name.endswith(".gz") else open
    names: list[str] = []
    with opener(path, "rt", errors="replace") as fh:
        for line in fh:
            low = line.strip().lower()
            if low.startswith("@data"):
                break
            if low.startswith("@attribute"):
                try:
                    names.append(shlex.split(line.strip()[len("@attribute"):], posix=True)[0])
                except (ValueError, IndexError):
                    names.append(line.split()[1].strip("'\""))
    for n in names[:-1]:
        if n.lower() == "class":
            return n
    return None


def append_row(row: dict, path: Path = CSV_PATH) -> None:
    row.setdefault("command", COMMAND)
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow({k: row.get(k, "") for k in FIELDS})
        fh.flush()
        os.fsync(fh.fileno())


def _fmt(x: Any, nd: int = 4) -> str:
    if x is None or x == "":
        return ""
    if isinstance(x, float):
        return f"{x:.{nd}g}" if abs(x) < 1e-3 and x != 0 else f"{x:.{nd}f}"
    return str(x)


def _short(msg: str, limit: int = 200) -> str:
    msg = " ".join(str(msg).split())
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


def measure_dataset(name: str, path: Path, corpus: Path, sets: list[str], timeout: float,
                    pymfe_timeout: float) -> list[dict]:
    """Load one dataset and measure the requested group sets; returns the CSV rows."""
    from autometa.data import load_data
    from autometa.metafeatures import stratified_subsample

    rel = path.relative_to(corpus).as_posix()
    base = {"dataset": name, "path": rel, "timeout_s": f"{pymfe_timeout:g}"}
    try:
        target = arff_target(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = load_data(path, target=target)
        base["target"] = ds.target + ("" if target else " (last column)")
    except Exception as exc:
        msg = _short(f"load failed: {type(exc).__name__}: {exc}")
        return [dict(base, groupset=g, autometa_status=f"error: {msg}", pymfe_status="not run (no data)",
                     comparable="no", measured_at=_now()) for g in sets]
    n_num = sum(not isinstance(ds.X[c].dtype, pd.CategoricalDtype) for c in ds.X.columns)
    base.update(task=ds.task, n_rows=len(ds.X), n_features=ds.X.shape[1], n_numeric=n_num,
                n_categorical=ds.X.shape[1] - n_num, missing_cells=int(ds.X.isna().to_numpy().sum()))
    rows_sub = stratified_subsample(ds.y, ds.task, MAX_ROWS, SEED)
    out = []
    for gs in sets:
        ag, pg = GROUPSETS[gs]
        rows = rows_sub if gs in EXPENSIVE_SETS else None
        row = dict(base, groupset=gs, rows_used=len(ds.X) if rows is None else len(rows))
        status, res = run_isolated(autometa_job(ds, ag), timeout)
        row["autometa_status"] = status
        if status == "ok":
            row.update(
                autometa_seconds=_fmt(res["seconds"], 5), autometa_cpu_seconds=_fmt(res["cpu_seconds"], 5),
                autometa_repeats=res["repeats"],
                autometa_group_seconds=";".join(f"{g}={s:.4f}" for g, s in res["group_seconds"].items()),
                autometa_cut_short=",".join(res["cut_short"]),
                autometa_failed_groups=_short("; ".join(f"{g}: {m}" for g, m in res["failed"].items())),
                autometa_n_values=res["n_values"], autometa_n_finite=res["n_finite"],
            )
        X, y, cats, note = pymfe_input(ds, rows)
        row["pymfe_input"] = note
        status, res_p = run_isolated(pymfe_job(X, y, cats, pg), pymfe_timeout)
        row["pymfe_status"] = status
        if status == "ok":
            row.update(pymfe_seconds=_fmt(res_p["seconds"], 5), pymfe_cpu_seconds=_fmt(res_p["cpu_seconds"], 5),
                       pymfe_repeats=res_p["repeats"], pymfe_n_values=res_p["n_values"],
                       pymfe_n_finite=res_p["n_finite"])
            if res_p["n_finite"] == 0:
                row["pymfe_status"] = "no values (all NaN)" if res_p["n_values"] else "no values (none returned)"
        if status == "ok" and row["autometa_status"] == "ok" and res["seconds"] > 0:
            row["ratio"] = _fmt(res_p["seconds"] / res["seconds"], 4)
            if res["cpu_seconds"] > 0:
                row["cpu_ratio"] = _fmt(res_p["cpu_seconds"] / res["cpu_seconds"], 4)
        ok_a = row["autometa_status"] == "ok" and int(row.get("autometa_n_finite") or 0) > 0
        row["comparable"] = "yes" if (ok_a and row["pymfe_status"] == "ok") else "no"
        row["loadavg_1min"] = f"{os.getloadavg()[0]:.2f}"
        row["measured_at"] = _now()
        out.append(row)
        print(f"  {name:28s} {gs:8s} autometa {row.get('autometa_seconds') or row['autometa_status']:>10}  "
              f"pymfe {row.get('pymfe_seconds') or row['pymfe_status'][:40]:>10}  ratio {row.get('ratio', '')}",
              flush=True)
    return out


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


# ----------------------------------------------------------------------------------------------
# synthetic 100k x 100


def synthetic_table(n: int = 100_000, n_num: int = 70, n_cat: int = 30, missing: float = 0.05,
                    seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    for j in range(n_num):
        kind = j % 3
        if kind == 0:
            v = rng.normal(size=n)
        elif kind == 1:
            v = rng.lognormal(sigma=0.8, size=n)
        else:
            v = rng.integers(0, 50, size=n).astype(np.float64)
        cols[f"num{j}"] = v
    for j in range(n_cat):
        k = 2 + (j * 7) % 19  # 2..20 levels
        levels = np.array([f"L{i}" for i in range(k)], dtype=object)
        p = rng.dirichlet(np.ones(k))
        cols[f"cat{j}"] = pd.Categorical(levels[rng.choice(k, size=n, p=p)], categories=list(levels))
    X = pd.DataFrame(cols)
    logit = X["num0"].to_numpy() + 0.5 * np.log(X["num1"].to_numpy()) + (X["cat0"].cat.codes.to_numpy() - 0.5)
    y = pd.Series(np.where(logit + rng.logistic(size=n) > 0, "yes", "no"), name="target")
    mask = rng.random(X.shape) < missing
    for j, c in enumerate(X.columns):
        m = mask[:, j]
        if isinstance(X[c].dtype, pd.CategoricalDtype):
            X[c] = X[c].mask(m)
        else:
            X[c] = X[c].mask(m)
    return X, y


def measure_synthetic(timeout: float) -> dict:
    from autometa.data import from_xy
    from autometa.metafeatures import describe_dataset

    X, y = synthetic_table()
    t0 = time.perf_counter()
    ds = from_xy(X, y, task="binary", name=SYNTH_NAME)
    typing_s = time.perf_counter() - t0

    def job() -> dict:
        runs = []
        for _ in range(3):
            w0, c0 = time.perf_counter(), time.process_time()
            mf = describe_dataset(ds, seed=SEED, max_rows=MAX_ROWS, time_budget=TIME_BUDGET)
            runs.append((time.perf_counter() - w0, time.process_time() - c0, mf))
        runs.sort(key=lambda r: r[0])
        wall, cpu, mf = runs[1]
        n, fin = _finite_count(mf.values.values())
        return {"seconds": wall, "cpu_seconds": cpu, "repeats": 3, "all_seconds": [r[0] for r in runs],
                "group_seconds": {g: round(s, 4) for g, s in mf.seconds.items()},
                "cut_short": list(mf.cut_short), "failed": dict(mf.failed), "n_values": n, "n_finite": fin,
                "rows_used": ",".join(f"{g}={k}" for g, k in mf.n_rows_used.items())}

    n_num = sum(not isinstance(ds.X[c].dtype, pd.CategoricalDtype) for c in ds.X.columns)
    row = {"dataset": SYNTH_NAME, "path": "(generated)", "task": ds.task, "n_rows": len(ds.X),
           "n_features": ds.X.shape[1], "n_numeric": n_num, "n_categorical": ds.X.shape[1] - n_num,
           "missing_cells": int(ds.X.isna().to_numpy().sum()), "groupset": "all",
           "pymfe_input": "", "pymfe_status": "not run", "comparable": "no", "timeout_s": f"{timeout:g}"}
    status, res = run_isolated(job, timeout)
    row["autometa_status"] = status
    if status == "ok":
        row.update(rows_used=res["rows_used"], autometa_seconds=_fmt(res["seconds"], 5),
                   autometa_cpu_seconds=_fmt(res["cpu_seconds"], 5), autometa_repeats=3,
                   autometa_group_seconds=";".join(f"{g}={s:.4f}" for g, s in res["group_seconds"].items())
                   + f";from_xy_typing(excluded)={typing_s:.4f};runs="
                   + "/".join(f"{s:.3f}" for s in res["all_seconds"]),
                   autometa_cut_short=",".join(res["cut_short"]),
                   autometa_failed_groups=_short("; ".join(f"{g}: {m}" for g, m in res["failed"].items())),
                   autometa_n_values=res["n_values"], autometa_n_finite=res["n_finite"])
    row["loadavg_1min"] = f"{os.getloadavg()[0]:.2f}"
    row["measured_at"] = _now()
    print(f"  {SYNTH_NAME}: {row.get('autometa_seconds') or status} s  {row.get('autometa_group_seconds', '')}",
          flush=True)
    return row


# ----------------------------------------------------------------------------------------------
# report


def _num(x: Any) -> Optional[float]:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _geomean(vals: list[float]) -> float:
    return float(math.exp(sum(math.log(v) for v in vals) / len(vals))) if vals else float("nan")


def _machine_info() -> list[str]:
    import importlib.metadata as md

    from machine import cpu_model, memory_gib

    cpu = cpu_model()
    gib = memory_gib()
    mem = f"{gib:.1f} GiB" if gib else "unknown"
    versions = []
    for pkg in ("autometa", "pymfe", "numpy", "pandas", "scipy", "scikit-learn"):
        try:
            versions.append(f"{pkg} {md.version(pkg)}")
        except md.PackageNotFoundError:
            versions.append(f"{pkg} (not installed)")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False, cwd=REPO, capture_output=True,
                                text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return [
        f"- CPU: {cpu}; {os.cpu_count()} logical cores visible; memory {mem}",
        f"- OS: {platform.system()} {platform.release()}; Python {platform.python_version()}",
        f"- Libraries: {', '.join(versions)}",
        f"- Repository commit (HEAD when the report was written; working tree may hold uncommitted work): {commit}",
    ]


def write_report(rows: list[dict], path: Path = MD_PATH) -> None:
    real = [r for r in rows if r["dataset"] != SYNTH_NAME]
    synth = [r for r in rows if r["dataset"] == SYNTH_NAME]
    datasets = sorted({r["dataset"] for r in real})
    timeouts = sorted({r.get("timeout_s", "") for r in real if r.get("timeout_s")})
    loads = [v for v in (_num(r.get("loadavg_1min")) for r in rows) if v is not None]
    when = sorted(r["measured_at"] for r in rows if r.get("measured_at"))
    lines: list[str] = []
    add = lines.append
    add("# Meta-feature extraction: autometa vs pymfe")
    add("")
    add("Generated by `benchmarks/metafeatures.py` from `benchmarks/results/metafeatures.csv` "
        "(one row per dataset and group set). Regenerate with "
        "`python benchmarks/metafeatures.py --report-only`.")
    add("")
    add("## How it was run")
    add("")
    cmds: dict[str, int] = {}
    for r in rows:
        c = r.get("command") or "python benchmarks/metafeatures.py (command not recorded)"
        cmds[c] = cmds.get(c, 0) + 1
    add("Commands (from the repository root), in the order run, with the number of CSV rows each produced "
        "(a rerun skips rows already in the CSV; `--redo`/`--retry-failed` drop the named rows and measure them "
        "again):")
    add("")
    for c, k in cmds.items():
        add(f"- `{c}` ({k} rows)")
    add("")
    if timeouts:
        add(f"pymfe timeout per measurement: {', '.join(t + ' s' for t in timeouts)} (column `timeout_s`); "
            "autometa: `--autometa-timeout` (default 300 s).")
        add("")
    add(f"- Corpus: every `*.arff.gz` under `{DEFAULT_CORPUS}` ({len(datasets)} datasets), "
        "each loaded once with `autometa.data.load_data` (loading not timed); both tools get the same typed table. "
        "Target: the last column (the loader's default), except where the file has an attribute named `class` "
        "that is not last (wine, shuttle.landing.control, solar.flare1, solar.flare2), which is used instead.")
    add("- Group sets: **basic** = autometa general+statistical+infotheory vs pymfe general+statistical+info-theory; "
        "**landmark** = landmarking vs landmarking; **model** = model_based vs model-based.")
    add(f"- Rows: basic uses all rows for both tools. For landmarking and model-based, autometa subsamples to at most "
        f"{MAX_ROWS:,} rows (stratified for classification, seed {SEED}; its default `max_rows`) and pymfe is given "
        "exactly the same subsample (selected outside its timing).")
    add("- pymfe 0.4.4 cannot take missing values, so where a table has missing cells pymfe gets a copy with the "
        "missing categorical values as an extra level `?` and missing numeric values replaced by the column median "
        "(prepared outside its timing; column `pymfe_input`). autometa keeps the missing values.")
    add(f"- Settings: pymfe `MFE(groups=..., random_state=0)` with its default summaries (mean, sd), "
        f"`fit(X, y, cat_cols=...)` + `extract()` timed together; autometa `describe_dataset(ds, groups=..., "
        f"max_rows={MAX_ROWS}, time_budget={TIME_BUDGET:g})` (its defaults).")
    add("- One core: OMP/OpenBLAS/MKL/BLIS/numexpr threads set to 1 before numpy is imported. Each (dataset, tool, "
        "group set) runs in a forked child process with a timeout; a hang is recorded as `timeout`, an exception "
        f"as `error: <msg>`; each child may add {MEMORY_GB:g} GiB of address space to what it inherits, beyond that "
        "it gets a `MemoryError` (so a runaway pymfe cannot bring the OOM killer onto the shared machine). Both tools are warmed up in the parent first (imports). Measurements shorter than 1 s "
        f"are repeated (up to {MAX_REPEATS} runs or 1 s in total) and the median is kept. Wall-clock seconds; "
        "process CPU seconds are recorded as a cross-check.")
    add("- Ratio = pymfe seconds / autometa seconds (> 1: autometa faster). A row is *comparable* when both tools "
        "finished and each returned at least one finite value; summaries use comparable rows only.")
    add("")
    add("### Machine")
    add("")
    lines.extend(_machine_info())
    if loads:
        add(f"- The machine was **shared** with other engineers' jobs while this ran (1-minute load average "
            f"over the measurements: median {statistics.median(loads):.2f}, max {max(loads):.2f} on "
            f"{os.cpu_count()} cores). Every measurement is single-threaded in its own process, but wall-clock "
            "times can still include waiting for a core; the CPU-time ratio is shown next to the wall-clock one.")
    if when:
        add(f"- Measured between {when[0]} and {when[-1]}.")
    add("")

    # summary ------------------------------------------------------------------------------
    add("## Summary")
    add("")
    add("| group set | datasets | comparable | median ratio | geo-mean ratio | min | max | median CPU ratio "
        "| autometa median s | pymfe median s | pymfe timeouts | pymfe errors | pymfe no values | autometa failures |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    all_ratios: list[float] = []
    all_cpu: list[float] = []
    for gs in list(GROUPSETS) + ["ALL"]:
        sel = [r for r in real if gs == "ALL" or r["groupset"] == gs]
        if not sel:
            continue
        comp = [r for r in sel if r.get("comparable") == "yes" and _num(r.get("ratio"))]
        ratios = [_num(r["ratio"]) for r in comp]
        cpu = [v for v in (_num(r.get("cpu_ratio")) for r in comp) if v]
        if gs != "ALL":
            all_ratios += ratios
            all_cpu += cpu
        a_s = [v for v in (_num(r.get("autometa_seconds")) for r in comp) if v is not None]
        p_s = [v for v in (_num(r.get("pymfe_seconds")) for r in comp) if v is not None]
        n_to = sum(r["pymfe_status"] == "timeout" for r in sel)
        n_err = sum(r["pymfe_status"].startswith("error") for r in sel)
        n_nov = sum(r["pymfe_status"].startswith("no values") for r in sel)
        n_af = sum(r["autometa_status"] != "ok" or int(r.get("autometa_n_finite") or 0) == 0 for r in sel)
        label = "**all three**" if gs == "ALL" else GROUPSET_LABEL[gs]
        add(f"| {label} | {len({r['dataset'] for r in sel})} | {len(comp)} | "
            f"{_fmt(statistics.median(ratios), 1) if ratios else '-'} | {_fmt(_geomean(ratios), 1) if ratios else '-'} | "
            f"{_fmt(min(ratios), 2) if ratios else '-'} | {_fmt(max(ratios), 1) if ratios else '-'} | "
            f"{_fmt(statistics.median(cpu), 1) if cpu else '-'} | "
            f"{_fmt(statistics.median(a_s), 4) if a_s else '-'} | {_fmt(statistics.median(p_s), 4) if p_s else '-'} | "
            f"{n_to} | {n_err} | {n_nov} | {n_af} |")
    add("")
    # classification only (pymfe's landmarking/model-based are classification-only)
    cls = [r for r in real if r.get("task") in ("binary", "multiclass") and r.get("comparable") == "yes"
           and _num(r.get("ratio"))]
    if cls:
        parts = []
        for gs in GROUPSETS:
            rr = [_num(r["ratio"]) for r in cls if r["groupset"] == gs]
            if rr:
                parts.append(f"{GROUPSET_LABEL[gs]} {statistics.median(rr):.1f}x (n={len(rr)})")
        allc = [_num(r["ratio"]) for r in cls]
        parts.append(f"all three {statistics.median(allc):.1f}x (geometric mean {_geomean(allc):.1f}x, n={len(allc)})")
        add("Classification datasets only (median ratio; pymfe's landmarking and model-based groups are "
            "classification-only and treat a numeric target as class labels): " + "; ".join(parts) + ".")
        add("")
    to_rows = [r for r in real if r["pymfe_status"] == "timeout" and _num(r.get("autometa_seconds"))]
    if to_rows:
        lb = [float(r["timeout_s"]) / float(r["autometa_seconds"]) for r in to_rows]
        add(f"pymfe timed out on {len(to_rows)} (dataset, group set) pairs; there the ratio is at least "
            f"timeout/autometa seconds (median lower bound {statistics.median(lb):.0f}x). They are not in the "
            "ratios above.")
        add("")

    # synthetic ------------------------------------------------------------------------------
    add("## Synthetic 100,000 x 100 table (autometa, all groups, one core)")
    add("")
    synth_ok = None
    if synth:
        r = synth[-1]
        add(f"{r.get('n_rows')} rows x {r.get('n_features')} features ({r.get('n_numeric')} numeric, "
            f"{r.get('n_categorical')} categorical with 2-20 levels), {r.get('missing_cells')} missing cells (5%), "
            f"binary target; `describe_dataset` with all five groups and default options, run 3 times in one child "
            f"process (median kept). Typing the frame with `from_xy` is excluded (like loading for the corpus).")
        add("")
        if r["autometa_status"] == "ok":
            secs = float(r["autometa_seconds"])
            synth_ok = secs <= SYNTH_TARGET_S
            add(f"- Total: **{secs:.3f} s** wall (CPU {float(r['autometa_cpu_seconds']):.3f} s); "
                f"target <= {SYNTH_TARGET_S:g} s: **{'met' if synth_ok else 'NOT met'}**.")
            parts = dict(p.split("=", 1) for p in r["autometa_group_seconds"].split(";") if "=" in p)
            add("")
            add("| group | seconds (median run) |")
            add("|---|---|")
            for g, s in parts.items():
                if g == "runs":
                    continue
                add(f"| {g} | {s} |")
            add("")
            add(f"- The three runs took {parts.get('runs', '?').replace('/', ', ')} s. "
                f"Rows each group used: {str(r.get('rows_used')).replace(',', ', ')}. Groups cut short by the time budget: "
                f"{r.get('autometa_cut_short') or 'none'}; failed: {r.get('autometa_failed_groups') or 'none'}; "
                f"{r.get('autometa_n_finite')}/{r.get('autometa_n_values')} values finite.")
        else:
            add(f"- autometa: {r['autometa_status']}")
    else:
        add("Not measured yet.")
    add("")

    # targets -------------------------------------------------------------------------------
    add("## Targets")
    add("")
    if all_ratios:
        med = statistics.median(all_ratios)
        add(f"- Median speed-up over pymfe >= {SPEED_TARGET:g}x (all comparable rows of the three group sets): "
            f"**{med:.1f}x, {'met' if med >= SPEED_TARGET else 'NOT met'}** "
            f"(geometric mean {_geomean(all_ratios):.1f}x over {len(all_ratios)} rows"
            + (f"; median CPU-time ratio {statistics.median(all_cpu):.1f}x" if all_cpu else "") + ").")
        for gs in GROUPSETS:
            rr = [_num(r["ratio"]) for r in real if r["groupset"] == gs and r.get("comparable") == "yes"
                  and _num(r.get("ratio"))]
            if rr:
                m = statistics.median(rr)
                add(f"  - {GROUPSET_LABEL[gs]}: median {m:.1f}x ({'met' if m >= SPEED_TARGET else 'not met'} "
                    f"on its own).")
        if cls:
            mc = statistics.median([_num(r["ratio"]) for r in cls])
            add(f"  - classification datasets only, all three group sets: median {mc:.1f}x "
                f"({'met' if mc >= SPEED_TARGET else 'not met'}). The all-dataset median includes the regression "
                "rows of the basic group set, where pymfe treats the numeric target as class labels and is "
                "very slow.")
    else:
        add("- Median speed-up: no comparable rows yet.")
    if synth_ok is not None:
        add(f"- 100k x 100 in <= {SYNTH_TARGET_S:g} s: **{'met' if synth_ok else 'NOT met'}** "
            f"({float(synth[-1]['autometa_seconds']):.3f} s).")
    add("")

    # failures --------------------------------------------------------------------------------
    add("## Failures and non-comparable rows")
    add("")
    fails_p = [r for r in real if r["pymfe_status"] != "ok"]
    fails_a = [r for r in real if r["autometa_status"] != "ok" or r.get("autometa_failed_groups")
               or int(r.get("autometa_n_finite") or 0) == 0 or r.get("autometa_cut_short")]
    add(f"### pymfe ({len(fails_p)} rows on {len({r['dataset'] for r in fails_p})} datasets)")
    add("")
    if fails_p:
        add("| dataset | task | group set | status |")
        add("|---|---|---|---|")
        for r in sorted(fails_p, key=lambda r: (r["groupset"], r["dataset"])):
            add(f"| {r['dataset']} | {r.get('task', '')} | {r['groupset']} | {_short(r['pymfe_status'], 160)} |")
    else:
        add("None.")
    add("")
    add(f"### autometa ({len(fails_a)} rows on {len({r['dataset'] for r in fails_a})} datasets; failures, "
        "groups that raised, no finite value, or cut short by the time budget)")
    add("")
    if fails_a:
        add("| dataset | task | group set | status | failed groups | cut short |")
        add("|---|---|---|---|---|---|")
        for r in sorted(fails_a, key=lambda r: (r["groupset"], r["dataset"])):
            st = r["autometa_status"]
            if st == "ok" and int(r.get("autometa_n_finite") or 0) == 0:
                st = "ok but no finite value"
            add(f"| {r['dataset']} | {r.get('task', '')} | {r['groupset']} | {_short(st, 160)} | "
                f"{_short(r.get('autometa_failed_groups', ''), 160)} | {r.get('autometa_cut_short', '')} |")
    else:
        add("None.")
    add("")
    filled = sorted({r["dataset"] for r in real if r.get("pymfe_input") == "missing filled"})
    if filled:
        add(f"pymfe got a copy with missing values filled for {len(filled)} datasets: {', '.join(filled)}.")
        add("")

    # per dataset -------------------------------------------------------------------------------
    add("## Per dataset")
    add("")
    add("Seconds are wall clock (median of repeats); `ratio` = pymfe / autometa. Full detail (CPU seconds, "
        "repeats, per-group seconds, value counts, load average) is in the CSV.")
    add("")
    add("| dataset | task | rows | feats (num/cat) | missing | group set | rows used | autometa s | pymfe s | ratio |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    order = {g: i for i, g in enumerate(GROUPSETS)}
    for r in sorted(real, key=lambda r: (r["dataset"].lower(), order.get(r["groupset"], 9))):
        a = r.get("autometa_seconds") or _short(r["autometa_status"], 40)
        p = r.get("pymfe_seconds") if r["pymfe_status"] == "ok" else _short(r["pymfe_status"], 40)
        ratio = f"{float(r['ratio']):.1f}" if _num(r.get("ratio")) else ""
        if ratio and r.get("comparable") != "yes":
            ratio = f"({ratio})"
        feats = f"{r.get('n_features', '')} ({r.get('n_numeric', '')}/{r.get('n_categorical', '')})" \
            if r.get("n_features") else ""
        add(f"| {r['dataset']} | {r.get('task', '')} | {r.get('n_rows', '')} | {feats} | {r.get('missing_cells', '')} "
            f"| {r['groupset']} | {r.get('rows_used', '')} | {a} | {p} | {ratio} |")
    add("")
    add("Ratios in parentheses are not comparable (one tool returned no finite value) and are left out of the summary.")
    add("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


# ----------------------------------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
    global MEMORY_GB, COMMAND
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=DEFAULT_CORPUS,
                    help="folder searched recursively for *.arff[.gz] (relative paths: to the repository root)")
    ap.add_argument("--datasets", default="", help="comma-separated dataset names (file names without .arff.gz)")
    ap.add_argument("--limit", type=int, default=0, help="measure at most this many (not yet done) datasets")
    ap.add_argument("--groupsets", default=",".join(GROUPSETS), help=f"subset of {','.join(GROUPSETS)}")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per pymfe measurement (default 300)")
    ap.add_argument("--autometa-timeout", type=float, default=300.0, help="seconds per autometa measurement")
    ap.add_argument("--memory-gb", type=float, default=MEMORY_GB,
                    help="address space a measurement may add before it gets a MemoryError (default 6 GiB; 0 = no cap)")
    ap.add_argument("--order", choices=("size", "name"), default="size",
                    help="process datasets smallest file first (default) or by name")
    ap.add_argument("--no-synthetic", action="store_true", help="skip the 100k x 100 synthetic timing")
    ap.add_argument("--redo-synthetic", action="store_true", help="measure the synthetic table again")
    ap.add_argument("--redo", default="", help="comma-separated datasets whose rows are dropped and measured again")
    ap.add_argument("--retry-failed", action="store_true",
                    help="measure again rows whose pymfe or autometa status is error/timeout")
    ap.add_argument("--report-only", action="store_true", help="only regenerate the markdown from the CSV")
    ap.add_argument("--csv", default=str(CSV_PATH), help=argparse.SUPPRESS)
    ap.add_argument("--md", default=str(MD_PATH), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    csv_path, md_path = Path(args.csv), Path(args.md)
    MEMORY_GB = args.memory_gb
    COMMAND = " ".join(["python", "benchmarks/metafeatures.py", *(shlex.quote(a) for a in sys.argv[1:])]) \
        if argv is None else COMMAND

    if args.report_only:
        write_report(read_rows(csv_path), md_path)
        print(f"wrote {md_path}")
        return 0

    corpus = Path(args.corpus)
    if not corpus.is_absolute():
        corpus = (REPO / corpus).resolve()
    sets = [g.strip() for g in args.groupsets.split(",") if g.strip()]
    bad = [g for g in sets if g not in GROUPSETS]
    if bad:
        ap.error(f"unknown group set(s) {bad}; choose from {list(GROUPSETS)}")
    if not corpus.is_dir():
        ap.error(f"corpus folder not found: {corpus}")
    found = find_datasets(corpus)
    if args.datasets:
        want = [d.strip() for d in args.datasets.split(",") if d.strip()]
        names = {n for n, _ in found}
        missing = [d for d in want if d not in names]
        if missing:
            ap.error(f"unknown dataset(s): {', '.join(missing)}")
        found = [(n, p) for n, p in found if n in want]
    if args.order == "size":
        found.sort(key=lambda np_: (np_[1].stat().st_size, np_[0]))

    rows = read_rows(csv_path)
    if rows and csv_header(csv_path) != FIELDS:  # columns changed since the CSV was started
        rewrite_rows(rows, csv_path)
    if args.redo:
        redo = {d.strip() for d in args.redo.split(",") if d.strip()}
        keep = [r for r in rows if r["dataset"] not in redo]
        if len(keep) != len(rows):
            rewrite_rows(keep, csv_path)
            rows = keep
    if args.retry_failed:
        def failed(r: dict) -> bool:
            return r["autometa_status"] != "ok" or r["pymfe_status"] in ("timeout",) or \
                r["pymfe_status"].startswith("error")
        keep = [r for r in rows if not failed(r)]
        if len(keep) != len(rows):
            rewrite_rows(keep, csv_path)
            rows = keep
    done = {(r["dataset"], r["groupset"]) for r in rows}
    todo = [(n, p, [g for g in sets if (n, g) not in done]) for n, p in found]
    todo = [t for t in todo if t[2]]
    if args.limit:
        todo = todo[: args.limit]

    print(f"{len(found)} datasets selected, {len(todo)} with work left; pymfe timeout {args.timeout:g} s", flush=True)
    warm_up()
    for i, (name, path, gsets) in enumerate(todo, 1):
        print(f"[{i}/{len(todo)}] {name} ({path.stat().st_size / 1024:.0f} KiB)", flush=True)
        for row in measure_dataset(name, path, corpus, gsets, args.autometa_timeout, args.timeout):
            append_row(row, csv_path)
    if not args.no_synthetic:
        have = any(r["dataset"] == SYNTH_NAME for r in read_rows(csv_path))
        if args.redo_synthetic or not have:
            if have:
                rewrite_rows([r for r in read_rows(csv_path) if r["dataset"] != SYNTH_NAME], csv_path)
            append_row(measure_synthetic(args.autometa_timeout), csv_path)
    write_report(read_rows(csv_path), md_path)
    print(f"wrote {csv_path} and {md_path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

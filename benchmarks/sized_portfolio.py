"""Does the portfolio pick better when the training datasets are weighted by size? A leave-family-out study.

The greedy portfolio (:mod:`autometa.metalearn.portfolio`) is the warm start for a dataset unlike
any in training, and one of the lists the combined method interleaves. Its stored order weighs
every training dataset alike, though what wins on 200 rows (often a regularised linear model) is
not what wins on 5,000 (boosting with more capacity). This study holds out every metabase
dataset's family and, for each of the dataset's built fidelities (``autometa:cv3/1000``: at most
1,000 rows; ``autometa:search/5000``: at most 5,000 rows with the search's folds), orders the
configurations that were run there with

* ``portfolio``: the greedy portfolio of the training matrix (every dataset weighted alike);
* ``sized-<b>``: the greedy portfolio with each training dataset weighted by a Gaussian in log10
  of the rows its runs used, ``b`` decades wide, centred on the rows of the held-out runs
  (:func:`autometa.metalearn.portfolio.size_weights`; ``b`` = 1 is the library's);

and, for each, the missing entries of the training matrix (configurations a dataset never ran)
imputed as the library does now (``prior=10``: the configuration's mean over the datasets that
ran it, shrunk toward the dataset's median by 10 pseudo-datasets) or as before (``prior=0``:
the plain mean; :func:`autometa.metalearn.matrix.impute_missing`).

A list's value is the best score among its first 1 / 3 / 10 configurations on the held-out runs,
as ``top``: ``(best - median) / (max - median)`` of that dataset's configurations, clipped to
[0, 1] (1 = the best configuration run there, 0 = no better than the median one), and as the
min-max normalised score. Only configurations run on the held-out dataset can be scored, so each
list is restricted to them. Outputs ``benchmarks/results/sized_portfolio.{csv,md}``. Command::

    python benchmarks/sized_portfolio.py              # the shipped metabase, ~2 min on one core
    python benchmarks/sized_portfolio.py --report-only
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "results"
DEPTHS = (1, 3, 10)
BANDWIDTHS = (0.5, 1.0, 2.0)
PRIORS = (0.0, 10.0)
BUCKETS = ((0, 499, "< 500 rows"), (500, 999, "500-999 rows"), (1000, 1000, "1,000 (subsample of a larger table)"),
           (1001, 10 ** 9, "5,000 (search folds)"))


def _bucket(rows: float) -> str:
    for lo, hi, name in BUCKETS:
        if lo <= rows <= hi:
            return name
    return "other"


def run_study(metabase: Path | None, log=print) -> pd.DataFrame:
    """One row per (held-out dataset, fidelity, list, prior) with its values at each depth."""
    from autometa.metabase import open_metabase
    from autometa.metabase.store import protocol_rows
    from autometa.metalearn.families import families as dataset_families
    from autometa.metalearn.families import family_members
    from autometa.metalearn.matrix import build_matrix, impute_missing
    from autometa.metalearn.portfolio import greedy_portfolio, size_weights

    store = open_metabase(metabase)
    datasets, configs, runs = store.datasets(), store.configs(), store.runs()
    fams = {str(d): str(f) for d, f in dataset_families(datasets, tasks=store.root / "tasks.csv").items()}
    protocols = sorted(p for p in runs["protocol"].dropna().astype(str).unique()
                       if p.startswith("autometa:") and protocol_rows(p))
    out = []
    for kind in ("classification", "regression"):
        truths = {p: build_matrix(datasets, configs, runs[runs["protocol"] == p], kind) for p in protocols}
        truths = {p: m for p, m in truths.items() if m is not None and len(m.dataset_ids) >= 5}
        trained: dict[str, object] = {}
        for protocol, truth in truths.items():
            for q, did in enumerate(truth.dataset_ids):
                family = fams.get(did, did)
                if family not in trained:
                    trained[family] = build_matrix(datasets, configs, runs, kind,
                                                   exclude=family_members(fams, [did]))
                train = trained[family]
                if train is None:
                    continue
                rows_q = float(truth.datasets["rows_used"].iloc[q])
                observed = ~truth.missing[q]
                col = {c: j for j, c in enumerate(truth.config_ids) if observed[j]}
                pool = [j for j, c in enumerate(train.config_ids) if c in col]
                raw = np.array([truth.raw[q, col[train.config_ids[j]]] for j in pool])
                mm = np.array([truth.normalised[q, col[train.config_ids[j]]] for j in pool])
                ok = np.isfinite(raw)
                if len(pool) < 10 or ok.sum() < 2:
                    continue
                best, median = raw[ok].max(), np.median(raw[ok])
                top = np.where(ok, np.clip((raw - median) / (best - median), 0, 1) if best > median else 1.0, 0.0)
                rows_train = pd.to_numeric(train.datasets["rows_used"], errors="coerce").to_numpy(dtype=float)
                for prior in PRIORS:
                    n = impute_missing(train.normalised, train.missing, prior=prior)[:, pool]
                    lists = {"portfolio": greedy_portfolio(n, size=10)[0]}
                    for b in BANDWIDTHS:
                        lists[f"sized-{b:g}"] = greedy_portfolio(n, size=10,
                                                                 weights=size_weights(rows_train, rows_q, b))[0]
                    for name, order in lists.items():
                        rec = {"kind": kind, "dataset_id": did, "name": truth.datasets["name"].iloc[q],
                               "protocol": protocol, "rows": rows_q, "bucket": _bucket(rows_q), "list": name,
                               "prior": prior, "n_candidates": len(pool),
                               "first": train.algorithms[pool[order[0]]]}
                        for k in DEPTHS:
                            rec[f"top@{k}"] = float(top[order[:k]].max())
                            rec[f"norm@{k}"] = float(mm[order[:k]].max())
                        out.append(rec)
            log(f"{kind} {protocol}: {len(truth.dataset_ids)} held-out dataset(s)")
    return pd.DataFrame(out)


def write_report(df: pd.DataFrame, out_md: Path, command: str) -> None:
    cols = [f"top@{k}" for k in DEPTHS] + [f"norm@{k}" for k in DEPTHS]
    lines = ["# Sized portfolio: weighting training datasets by size, leave-family-out", "",
             f"Command: `{command}`", "",
             "Each held-out dataset (its whole family left out of training) at each fidelity it was built at; "
             "values are the best `top` (1 = the best configuration run there, 0 = no better than the median) "
             "and min-max normalised score among the list's first 1 / 3 / 10 configurations, restricted to the "
             "configurations run on the held-out dataset. `prior`: how missing training entries were imputed "
             "(10 = shrunk toward the dataset's median, the library's; 0 = the plain configuration mean, before). "
             "`sized-1` is what `MetaModel.rank(n_rows=...)` uses.", ""]
    counts = df.drop_duplicates(["dataset_id", "protocol"]).groupby("bucket").size()
    for bucket in [b for _, _, b in BUCKETS if b in counts.index]:
        sub = df[df["bucket"] == bucket]
        lines += [f"## {bucket} ({counts[bucket]} held-out datasets)", "",
                  "| list | prior | " + " | ".join(cols) + " | first pick linear |",
                  "|---|---|" + "---|" * (len(cols) + 1)]
        g = sub.groupby(["list", "prior"])
        for (name, prior), part in g:
            vals = " | ".join(f"{part[c].mean():.3f}" for c in cols)
            lines.append(f"| {name} | {prior:g} | {vals} | {(part['first'] == 'linear').mean():.0%} |")
        lines.append("")
    lines += ["Per-dataset rows: `sized_portfolio.csv`.", ""]
    out_md.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metabase", default=None, help="metabase folder (default: the shipped one)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from the CSV")
    args = parser.parse_args(argv)
    command = "python benchmarks/sized_portfolio.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    csv = OUT_DIR / "sized_portfolio.csv"
    if args.report_only:
        df = pd.read_csv(csv)
    else:
        started = time.perf_counter()
        df = run_study(Path(args.metabase) if args.metabase else None)
        df.to_csv(csv, index=False)
        print(f"{len(df)} rows in {time.perf_counter() - started:.0f}s")
    write_report(df, OUT_DIR / "sized_portfolio.md", command.strip())
    print(f"wrote {csv} and {OUT_DIR / 'sized_portfolio.md'}")


if __name__ == "__main__":
    main()

"""When should the combined warm start give way to the portfolio? A leave-family-out study.

For every family of the metabase (:func:`autometa.metalearn.families`: a task and its copies)
and each task kind it has datasets of, the kind's meta-model (scaler, nearest datasets,
portfolio, ranker, confidence) is refitted without the family, and each held-out dataset is
ranked from its stored meta-features with

* ``combined`` -- the combined method with the confidence gate off (the method before the gate);
* ``portfolio`` -- the portfolio order;
* ``gate(r, a)`` -- simulated: ``portfolio`` when the neighbours' distance ratio exceeds ``r`` or
  their agreement is below ``a``, else ``combined``.

A list's value on the held-out dataset is the best normalised score (from the metabase's own
runs: every candidate was run on every dataset) among its first 1 / 3 / 10 configurations;
1 - value is the regret. The first 10 are what a warm-started search enqueues. No search is
run, so this takes minutes (one LightGBM ranker fit per family and kind).

Outputs ``benchmarks/results/confidence.csv`` (one row per held-out dataset) and
``benchmarks/results/confidence.md`` (the threshold grid; the chosen thresholds are the
library defaults in :mod:`autometa.metalearn.confidence`). Command::

    python benchmarks/confidence.py            # the shipped metabase, ~6 min on one core
    python benchmarks/confidence.py --report-only
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "results"
DEPTHS = (1, 3, 10)
RATIOS = (1.25, 1.5, 1.75, 2.0, 2.5, 3.0, math.inf)
AGREEMENTS = (-math.inf, 0.6, 0.7, 0.75, 0.8, 0.85)


def _mf(row: pd.Series) -> dict:
    return {c[3:]: row[c] for c in row.index if str(c).startswith("mf_") and pd.notna(row[c])}


def _rank_agreement(km, neighbours: list[dict]) -> float:
    """Mean pairwise Spearman correlation of the neighbours' normalised score vectors (an
    alternative agreement signal, reported for comparison)."""
    from scipy.stats import spearmanr

    index = {d: i for i, d in enumerate(km.knn.dataset_ids)}
    sub = km.knn.normalised[[index[n["dataset_id"]] for n in neighbours]]
    rho = np.atleast_2d(spearmanr(sub.T).correlation)
    return float(np.nanmean(rho[~np.eye(len(sub), dtype=bool)])) if len(sub) > 1 else math.nan


def run_study(metabase: Path | None, log=print) -> pd.DataFrame:
    """One row per held-out dataset: family, kind, confidence signals and best-of-k of each list."""
    from autometa.metabase import open_metabase
    from autometa.metalearn import MetaModel, families
    from autometa.metalearn.matrix import build_matrix
    from autometa.metalearn.model import KindModel

    store = open_metabase(metabase)
    datasets, configs, runs = store.datasets(), store.configs(), store.runs()
    fams = families(store)
    records = datasets.set_index(datasets["dataset_id"].astype(str))
    rows = []
    for kind in ("classification", "regression"):
        full = build_matrix(datasets, configs, runs, kind)
        if full is None:
            continue
        row_of = {d: i for i, d in enumerate(full.dataset_ids)}
        col_of = {c: j for j, c in enumerate(full.config_ids)}
        by_family: dict[str, list[str]] = {}
        for d in full.dataset_ids:
            by_family.setdefault(fams.get(d, d), []).append(d)
        t0 = time.perf_counter()
        for n, (fam, members) in enumerate(sorted(by_family.items()), start=1):
            gone = [d for d, f in fams.items() if f == fam] or members
            matrix = build_matrix(datasets, configs, runs, kind, exclude=gone)
            km = KindModel.fit(matrix, families=fams)
            model = MetaModel(kinds={kind: km}, settings={})
            for did in members:
                rec = records.loc[did]
                task = str(rec["task"])
                n_rows = int(rec["rows_used"]) if pd.notna(rec.get("rows_used")) else None
                truth = full.normalised[row_of[did]]
                out = {"dataset_id": did, "name": rec["name"], "family": fam, "kind": kind, "task": task,
                       "n_family": len(gone), "n_train": len(matrix.dataset_ids)}
                for label, method in (("combined", "combined"), ("portfolio", "portfolio")):
                    r = model.rank(_mf(rec), task, top_k=10, method=method, n_rows=n_rows, confidence_gate=False)
                    vals = [float(truth[col_of[it["config_id"]]]) for it in r.items]
                    for k in DEPTHS:
                        out[f"{label}@{k}"] = max(vals[:k])
                    out[f"{label}_ids"] = json.dumps([it["config_id"] for it in r.items])
                    if label == "combined":
                        out.update(novel=r.novel, distance=r.confidence["distance"],
                                   typical_distance=r.confidence["typical_distance"], ratio=r.confidence["ratio"],
                                   agreement=r.confidence["agreement"],
                                   typical_agreement=r.confidence["typical_agreement"],
                                   rank_agreement=_rank_agreement(km, r.neighbours[:km.knn.k]))
                out["oracle@1"] = float(truth.max())
                rows.append(out)
            if n % 25 == 0:
                log(f"{kind}: {n}/{len(by_family)} families, {time.perf_counter() - t0:.0f}s")
    return pd.DataFrame(rows)


def gated(df: pd.DataFrame, ratio: float, agree: float, k: int) -> np.ndarray:
    low = (df["ratio"] > ratio) | (df["agreement"] < agree)
    return np.where(low & ~df["novel"], df[f"portfolio@{k}"], df[f"combined@{k}"]), low & ~df["novel"]


def report(df: pd.DataFrame, command: str, chosen: tuple[float, float]) -> str:
    fmt = lambda v: "off" if not math.isfinite(v) else f"{v:g}"  # noqa: E731
    n_fam = df.groupby("kind")["family"].nunique()
    lines = ["# Confidence gate: combined vs portfolio, leave-family-out", "",
             f"Command: `{command}`", "",
             f"{len(df)} held-out datasets ({', '.join(f'{k}: {v}' for k, v in df['kind'].value_counts().items())}) "
             f"in {int(n_fam.sum())} (family, kind) folds; each fold's model is trained without the whole family. "
             "Values are the best normalised score (1 = the best candidate, 0 = the worst) among the first "
             "k recommendations, from the metabase's own runs; mean over held-out datasets "
             "(regret = 1 - value). `low` = datasets the gate sends to the portfolio.", "",
             "## Baselines", "", "| list | @1 | @3 | @10 |", "|---|---|---|---|"]
    for label in ("combined", "portfolio"):
        lines.append(f"| {label} | " + " | ".join(f"{df[f'{label}@{k}'].mean():.4f}" for k in DEPTHS) + " |")
    lines += ["", "Distance ratio (mean distance of the 10 nearest / typical) and agreement percentiles over "
              "held-out datasets:", "", "| | p10 | p50 | p90 | p99 |", "|---|---|---|---|---|"]
    for col in ("ratio", "agreement"):
        q = np.nanpercentile(df[col], [10, 50, 90, 99])
        lines.append(f"| {col} | " + " | ".join(f"{v:.3f}" for v in q) + " |")
    lines += ["", "`agreement`: mean score of each neighbour's best configuration on the other neighbours (the "
              "library's signal); `rank_agreement`: mean pairwise Spearman correlation of the neighbours' score "
              "vectors (an alternative, for comparison).", "",
              "## Does low confidence mean the portfolio does better?", "",
              "The least confident held-out datasets by each signal (highest ratio; lowest agreement), combined vs "
              "portfolio:", "",
              "| signal | share | n | combined @1 / @3 / @10 | portfolio @1 / @3 / @10 |", "|---|---|---|---|---|"]
    for col, high in (("ratio", True), ("agreement", False), ("rank_agreement", False)):
        for share in (5, 10, 20):
            cut = np.nanpercentile(df[col], 100 - share if high else share)
            low = df[col] > cut if high else df[col] < cut
            c = " / ".join(f"{df.loc[low, f'combined@{k}'].mean():.4f}" for k in DEPTHS)
            p_ = " / ".join(f"{df.loc[low, f'portfolio@{k}'].mean():.4f}" for k in DEPTHS)
            lines.append(f"| {col} {'>' if high else '<'} {cut:.3f} | {share}% | {int(low.sum())} | {c} | {p_} |")
    lines += ["", "Spearman correlation of each signal with the combined method's advantage over the portfolio "
              "(@1 / @3 / @10): " + "; ".join(
                  f"{col} " + " / ".join(f"{df[col].corr(df[f'combined@{k}'] - df[f'portfolio@{k}'], method='spearman'):+.3f}"
                                         for k in DEPTHS) for col in ("ratio", "agreement", "rank_agreement")) + ".", ""]
    lines += ["## Threshold grid (gate = portfolio when ratio > r or agreement < a)", "",
              "Chosen: the best mean of @1, @3 and @10 (the search evaluates the list in order, so the first "
              "configurations count as much as the tenth); ties within 1e-4 go to the gate that fires least.", "",
              "| r | a | low | @1 | @3 | @10 | low: combined@10 | low: portfolio@10 |",
              "|---|---|---|---|---|---|---|---|"]
    for r in RATIOS:
        for a in AGREEMENTS:
            vals = {k: gated(df, r, a, k)[0].mean() for k in DEPTHS}
            low = gated(df, r, a, 10)[1]
            mark = " **(chosen)**" if (r, a) == chosen else ""
            lines.append(f"| {fmt(r)} | {fmt(a)} | {int(low.sum())} | " + " | ".join(f"{vals[k]:.4f}" for k in DEPTHS)
                         + f" | {df.loc[low, 'combined@10'].mean():.4f} | {df.loc[low, 'portfolio@10'].mean():.4f}"
                         + f"{mark} |" if low.any() else
                         f"| {fmt(r)} | {fmt(a)} | 0 | " + " | ".join(f"{vals[k]:.4f}" for k in DEPTHS) + f" | - | -{mark} |")
    r, a = chosen
    low = gated(df, r, a, 10)[1]
    lines += ["", f"## Chosen: r = {fmt(r)}, a = {fmt(a)}", "",
              "(an agreement threshold `off` is stored as `min_agreement = 0`: the agreement is a mean of "
              "normalised scores, never below 0)", ""]
    if low.any():
        diff = (df.loc[low, "portfolio@10"] - df.loc[low, "combined@10"]).to_numpy()
        rng = np.random.default_rng(0)
        boot = [rng.choice(diff, len(diff)).mean() for _ in range(2000)]
        lo, hi = np.percentile(boot, [2.5, 97.5])
        lines += [f"{int(low.sum())} held-out datasets gated; on them the portfolio beats combined at @10 by "
                  f"{diff.mean():+.4f} (bootstrap 95% interval {lo:+.4f} .. {hi:+.4f}; portfolio better on "
                  f"{int((diff > 0).sum())}, worse on {int((diff < 0).sum())}); at @1 by "
                  f"{(df.loc[low, 'portfolio@1'] - df.loc[low, 'combined@1']).mean():+.4f}, at @3 by "
                  f"{(df.loc[low, 'portfolio@3'] - df.loc[low, 'combined@3']).mean():+.4f}.", ""]
        shown = df.loc[low, ["name", "kind", "ratio", "agreement", "combined@10", "portfolio@10"]]
        lines += ["| dataset | kind | ratio | agreement | combined@10 | portfolio@10 |", "|---|---|---|---|---|---|"]
        for _, row in shown.sort_values("ratio", ascending=False).iterrows():
            lines.append(f"| {row['name']} | {row['kind']} | {row['ratio']:.2f} | {row['agreement']:.3f} | "
                         f"{row['combined@10']:.4f} | {row['portfolio@10']:.4f} |")
    # held-out half check: choose on one half of the families, score on the other
    fam_ids = sorted(df["family"].unique())
    rng = np.random.default_rng(1)
    gains = []
    for _ in range(200):
        pick = set(rng.choice(fam_ids, len(fam_ids) // 2, replace=False))
        a_half, b_half = df[df["family"].isin(pick)], df[~df["family"].isin(pick)]
        r_, a_ = choose(a_half)
        gains.append([gated(b_half, r_, a_, k)[0].mean() - b_half[f"combined@{k}"].mean() for k in DEPTHS])
    gains = np.array(gains)
    lines += ["", "Over-fitting check: thresholds chosen on a random half of the families, applied to the other half "
              "(200 splits): gain over the ungated combined method on the unseen half, mean (p10 .. p90): "
              + ", ".join(f"@{k} {gains[:, j].mean():+.4f} ({np.percentile(gains[:, j], 10):+.4f} .. "
                          f"{np.percentile(gains[:, j], 90):+.4f})" for j, k in enumerate(DEPTHS)) + ".", ""]
    return "\n".join(lines) + "\n"


def choose(df: pd.DataFrame) -> tuple[float, float]:
    """Best mean of @1, @3, @10 over the grid; ties (within 1e-4) go to the gate that fires least."""
    scored = [(float(np.mean([gated(df, r, a, k)[0].mean() for k in DEPTHS])), int(gated(df, r, a, 10)[1].sum()), r, a)
              for r in RATIOS for a in AGREEMENTS]
    top = max(s[0] for s in scored)
    near = [s for s in scored if s[0] >= top - 1e-4]
    return min(near, key=lambda s: (s[1], -s[2], s[3]))[2:]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metabase", default=None, help="metabase folder (default: the shipped one)")
    parser.add_argument("--out-dir", default=str(OUT_DIR))
    parser.add_argument("--report-only", action="store_true", help="rewrite the markdown from the CSV")
    args = parser.parse_args(argv)
    command = "python benchmarks/confidence.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "confidence.csv"
    if args.report_only:
        df = pd.read_csv(csv_path)
    else:
        df = run_study(Path(args.metabase) if args.metabase else None, log=lambda m: print(m, flush=True))
        df.to_csv(csv_path, index=False)
    chosen = choose(df)
    (out / "confidence.md").write_text(report(df, command.replace(" --report-only", "").strip(), chosen))
    print(f"chosen thresholds: max_distance_ratio={chosen[0]}, min_agreement={chosen[1]}")


if __name__ == "__main__":
    main()

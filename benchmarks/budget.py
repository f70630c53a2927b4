"""Time-budget benchmark: does ``autometa fit --time-budget B`` end within B + 10 %?

For each table size and budget, runs the real command in a fresh process (interpreter start,
imports, loading the CSV, meta-features, search and refit all count) and records its wall-clock
time, whether a model was saved, and whether it was the fallback model. Tables are synthetic
(scikit-learn's make_classification / make_regression) so that the sizes are exact. Resumable:
rows already in the CSV are skipped. Writes benchmarks/results/budget.csv and budget.md.

    python benchmarks/budget.py                      # all sizes and budgets (about 20 minutes)
    python benchmarks/budget.py --sizes 20000x20 --budgets 5,20
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from machine import cpu_model

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DEFAULT_SIZES = "1000x10,20000x20,200000x50"
DEFAULT_BUDGETS = "5,20,60"
TOLERANCE = 0.10


def _table(path: Path, rows: int, cols: int, task: str) -> Path:
    from sklearn.datasets import make_classification, make_regression

    if path.exists():
        return path
    if task == "regression":
        X, y = make_regression(n_samples=rows, n_features=cols, n_informative=min(cols, 10), noise=10.0,
                               random_state=0)
    else:
        X, y = make_classification(n_samples=rows, n_features=cols, n_informative=max(2, min(cols // 2, 10)),
                                   n_redundant=min(2, cols // 4), n_classes=2, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(cols)])
    frame["target"] = y
    frame.to_csv(path, index=False)
    return path


def _one(data: Path, budget: float, workdir: Path) -> dict:
    model = workdir / f"{data.stem}-{budget:g}.joblib"
    if model.exists():
        model.unlink()
    script = Path(sys.executable).with_name("autometa")  # the console script, as a user runs it
    cmd = ([str(script)] if script.exists() else [sys.executable, "-m", "autometa.cli"]) + ["fit", str(data), "--time-budget", f"{budget:g}",
           "--trials", "1000", "--output", str(model), "--json"]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
    wall = time.monotonic() - t0
    row = {"wall_seconds": round(wall, 2), "exit_code": proc.returncode, "model_saved": model.exists(),
           "fallback": None, "n_trials": None, "best_score": None, "note": ""}
    if proc.returncode == 0 and proc.stdout.strip():
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        row.update(fallback=out.get("fallback"), n_trials=out.get("n_trials"), best_score=out.get("best_score"))
    else:
        row["note"] = (proc.stderr.strip().splitlines() or [""])[-1][:200]
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="ROWSxCOLS, comma-separated")
    parser.add_argument("--budgets", default=DEFAULT_BUDGETS, help="seconds, comma-separated")
    parser.add_argument("--task", default="binary", choices=["binary", "regression"])
    parser.add_argument("--out-dir", default=str(RESULTS))
    parser.add_argument("--data-dir", default=None, help="where the synthetic CSVs are kept (default: a temp folder)")
    parser.add_argument("--report-only", action="store_true", help="only rewrite budget.md from the CSV")
    args = parser.parse_args(argv)
    given = list(sys.argv[1:] if argv is None else argv)
    # the data folder does not change the results: it is left out of the recorded command
    shown = [a for i, a in enumerate(given) if a != "--data-dir" and (i == 0 or given[i - 1] != "--data-dir")
             and not a.startswith("--data-dir=") and a != "--report-only"]
    command = "python benchmarks/budget.py " + " ".join(shlex.quote(a) for a in shown)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "budget.csv"
    if args.report_only:
        write_report(csv_path, command)
        return
    done = pd.read_csv(csv_path) if csv_path.exists() else pd.DataFrame()
    data_dir = Path(args.data_dir or Path(tempfile.gettempdir()) / "autometa-budget-bench")
    data_dir.mkdir(parents=True, exist_ok=True)
    for size in args.sizes.split(","):
        rows, cols = (int(v) for v in size.lower().split("x"))
        data = _table(data_dir / f"{args.task}-{rows}x{cols}.csv", rows, cols, args.task)
        for budget in (float(b) for b in args.budgets.split(",")):
            if not done.empty and ((done["rows"] == rows) & (done["cols"] == cols) & (done["budget"] == budget)
                                   & (done["task"] == args.task)).any():
                continue
            row = {"task": args.task, "rows": rows, "cols": cols, "budget": budget, **_one(data, budget, data_dir),
                   "command": command.strip()}
            row["within_10pct"] = row["wall_seconds"] <= budget * (1 + TOLERANCE)
            print(json.dumps(row), flush=True)
            done = pd.concat([done, pd.DataFrame([row])], ignore_index=True)
            done.to_csv(csv_path, index=False)
    write_report(csv_path, command)


def write_report(csv_path: Path, command: str) -> Path:
    """budget.md beside the CSV: one row per run, and how many ended within budget + 10 %."""
    res = pd.read_csv(csv_path)
    lines = [
        "# Time-budget benchmark",
        "",
        "Wall-clock time of `autometa fit DATA --time-budget B --trials 1000` in a fresh process",
        "(interpreter start, imports, CSV loading, meta-features, search and refit included).",
        f"Target: every run ends within B + {TOLERANCE:.0%} and saves a model.",
        "",
        "Commands: " + ", ".join(f"`{c}`" for c in (res["command"].dropna().unique() if "command" in res
                                                       else [command.strip()])) + "  ",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}",
        "",
        "| task | rows × cols | budget s | wall s | wall / budget | model saved | fallback | trials | within +10 % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res.itertuples(index=False):
        lines.append(f"| {r.task} | {r.rows:,} × {r.cols} | {r.budget:g} | {r.wall_seconds:.1f} | "
                     f"{r.wall_seconds / r.budget:.2f} | {'yes' if r.model_saved else 'no'} | "
                     f"{r.fallback} | {'' if pd.isna(r.n_trials) else int(r.n_trials)} | "
                     f"{'yes' if r.within_10pct else '**no**'} |")
    ok = int(res["within_10pct"].sum())
    lines += ["", f"{ok} of {len(res)} runs ended within the budget + 10 %; "
                  f"{int(res['model_saved'].sum())} of {len(res)} saved a model.", ""]
    md = csv_path.with_suffix(".md")
    md.write_text("\n".join(lines))
    return md


if __name__ == "__main__":
    main()

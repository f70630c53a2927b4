"""Transfer benchmark: real-size, leave-family-out warm start (the code is in transfer_harness.py).

Held-out tasks of the curated task list (metabase/tasks.csv, kept tasks only): ``--small N`` with
fewer than 5,000 rows and ``--large M`` with at least 5,000, balanced over task types, one per
family, in a seeded order. Each is evaluated at real size (stratified subsample of at most
``--max-rows`` rows, the search's own folds, a per-trial time limit scaled to the size) with
autometa's warm start (the combined meta-model, trained without the task's family), cold TPE,
random search, LightGBM defaults, FLAML zero-shot and FLAML AutoML at autometa's wall-clock.

Resumable: results are appended per (task, method) to benchmarks/results/transfer.csv (next to
this script, whatever the current directory) and finished pairs are skipped. ``--shard i/n`` runs
every n-th task (from the i-th) into transfer-shard<i>of<n>.csv, so processes can share the work;
``--report-only --csv a.csv,b.csv`` merges shard CSVs into transfer.csv and writes transfer.md /
transfer.png. The flaml-* methods need the bench extra (``pip install -e ".[bench]"``); without
it they are skipped. Example (two processes, then the merged report)::

    python benchmarks/transfer.py --small 15 --large 15 --shard 1/2
    python benchmarks/transfer.py --small 15 --large 15 --shard 2/2
    python benchmarks/transfer.py --report-only \\
        --csv benchmarks/results/transfer-shard1of2.csv,benchmarks/results/transfer-shard2of2.csv
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # transfer_harness, also when imported


def main(argv: list[str] | None = None) -> None:
    from transfer_harness import (
        DEFAULT_LARGE, DEFAULT_MAX_ROWS, DEFAULT_OUT_DIR, DEFAULT_SMALL, DEFAULT_TRIAL_SECONDS, transfer_main,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=DEFAULT_SMALL, help="held-out tasks with < 5,000 rows")
    parser.add_argument("--large", type=int, default=DEFAULT_LARGE, help="held-out tasks with >= 5,000 rows")
    parser.add_argument("--task-ids", default=None, help="only these tasks.csv task ids, comma-separated")
    parser.add_argument("--trials", default=None,
                        help="trial budgets of the searches, e.g. autometa=10,tpe=50,random=50 (the defaults)")
    parser.add_argument("--methods", default=None, help="methods, comma-separated (default: all)")
    parser.add_argument("--metabase", default=None, help="metabase folder (default: the shipped one)")
    parser.add_argument("--tasks", default=None, help="curated task list (default: <metabase>/tasks.csv)")
    parser.add_argument("--arff-dir", default=None,
                        help="ARFF corpus (default: $AUTOMETA_ARFF_DIR or ../shared/datasets/arff)")
    parser.add_argument("--seed", type=int, default=0, help="selection, subsample, folds and search seed")
    parser.add_argument("--max-rows", type=int, default=DEFAULT_MAX_ROWS, help="row cap per task (stratified)")
    parser.add_argument("--trial-seconds", type=float, default=DEFAULT_TRIAL_SECONDS,
                        help="per-trial time limit at 1,000 rows (scaled by max(1, rows/1000)^0.75)")
    parser.add_argument("--top-k", type=int, default=10, help="recommendations enqueued before TPE")
    parser.add_argument("--budgets", default="1,3,10,25,50", help="trial counts reported, comma-separated")
    parser.add_argument("--shard", default=None, help="i/n: run every n-th task from the i-th (1-based)")
    parser.add_argument("--csv", default=None,
                        help="results CSV of a run; with --report-only, CSVs to merge (comma-separated)")
    parser.add_argument("--out-dir", default=str(DEFAULT_OUT_DIR),
                        help="where CSV/MD/PNG go (default: benchmarks/results next to this script)")
    parser.add_argument("--report-only", action="store_true", help="only write the report from the CSV(s)")
    args = parser.parse_args(argv)
    command = "python benchmarks/transfer.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    transfer_main(small=args.small, large=args.large, task_ids=args.task_ids, trials=args.trials,
                  methods=args.methods, metabase=args.metabase, tasks=args.tasks, arff_dir=args.arff_dir,
                  seed=args.seed, max_rows=args.max_rows, trial_seconds=args.trial_seconds, top_k=args.top_k,
                  budgets=args.budgets, shard=args.shard, csv=args.csv, out_dir=args.out_dir,
                  report_only=args.report_only, command=command.strip(), log=lambda m: print(m, flush=True))


if __name__ == "__main__":
    main()

"""Warm-start benchmark: leave-datasets-out over the metabase (the code is in warmstart_harness.py).

Resumable: results are appended per (dataset, method) to benchmarks/results/warmstart.csv (next
to this script, whatever the current directory) and finished pairs are skipped; ``--report-only``
rewrites warmstart.md / warmstart.png from the CSV. The flaml-* methods need the bench extra
(``pip install -e ".[bench]"``). Example (the full run, hours of CPU)::

    python benchmarks/warmstart.py --datasets 45 --budgets 1,3,10,25,50
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # warmstart_harness, also when imported


def main(argv: list[str] | None = None) -> None:
    from warmstart_harness import DEFAULT_OUT_DIR, main as run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=None, help="held-out datasets (default: all complete)")
    parser.add_argument("--budgets", default="1,3,10,25,50", help="trial budgets, comma-separated")
    parser.add_argument("--methods", default=None, help="methods, comma-separated (default: all)")
    parser.add_argument("--metabase", default=None, help="metabase folder (default: the shipped one)")
    parser.add_argument("--seed", type=int, default=None, help="search seed (default: the metabase's; sets the folds)")
    parser.add_argument("--top-k", type=int, default=10, help="recommendations enqueued before TPE")
    parser.add_argument("--dataset-ids", default=None, help="only these metabase dataset ids")
    parser.add_argument("--out-dir", default=str(DEFAULT_OUT_DIR),
                        help="where the CSV/MD/PNG go (default: benchmarks/results next to this script)")
    parser.add_argument("--report-only", action="store_true", help="only rewrite the report from the CSV")
    args = parser.parse_args(argv)
    command = "python benchmarks/warmstart.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    run(datasets=args.datasets, budgets=args.budgets, methods=args.methods, metabase=args.metabase, seed=args.seed,
        out_dir=args.out_dir, report_only=args.report_only, top_k=args.top_k, dataset_ids=args.dataset_ids,
        command=command.strip(), log=lambda m: print(m, flush=True))


if __name__ == "__main__":
    main()

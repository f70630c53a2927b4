"""Remove from a metabase the datasets the curated task list does not keep, and record why.

A dataset of a curated source (ARFF corpus, KEEL, scikit-learn, R datasets) stays only when
``metabase/tasks.csv`` keeps its task with the target it was built with
(:func:`autometa.metabase.tasks.outside_task_list`): datasets the list rejects (a nonsense
target, a copy of another task, fewer than 50 rows, no documented response), datasets it does
not list, and datasets built with another target than the documented one are deleted with all
their runs. The removed ids and reasons are appended to ``<metabase>/pruned.csv``; a later build
from ``tasks:metabase/tasks.csv`` builds the kept tasks again with their documented targets.

    python scripts/prune_metabase.py --dry-run     # list what would go
    python scripts/prune_metabase.py               # remove it (the build must not be running)
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

REPO_ROOT = Path(__file__).resolve().parents[1]


def main(argv: Optional[list[str]] = None) -> int:
    sys.path.insert(0, str(REPO_ROOT))
    import pandas as pd

    from autometa.metabase.store import Metabase
    from autometa.metabase.tasks import outside_task_list

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metabase", default=str(REPO_ROOT / "metabase"), help="metabase folder")
    parser.add_argument("--tasks", default=None, help="task list (default: <metabase>/tasks.csv)")
    parser.add_argument("--dry-run", action="store_true", help="only list the datasets that would be removed")
    args = parser.parse_args(argv)
    root = Path(args.metabase)
    tasks = pd.read_csv(Path(args.tasks) if args.tasks else root / "tasks.csv")
    store = Metabase(root, create=False)
    try:
        datasets = store.datasets()
        outside = outside_task_list(datasets, tasks)
        names = dict(zip(datasets["dataset_id"].astype(str), datasets["name"].astype(str)))
        sources = dict(zip(datasets["dataset_id"].astype(str), datasets["source"].astype(str)))
        for did, why in sorted(outside.items()):
            print(f"{did} ({sources[did]}:{names[did]}): {why}")
        print(f"{len(outside)} of {len(datasets)} datasets outside the task list"
              + ("" if args.dry_run else "; removing them"))
        if args.dry_run or not outside:
            return 0
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        record = pd.DataFrame({"dataset_id": list(outside), "name": [names[d] for d in outside],
                               "source": [sources[d] for d in outside], "reason": list(outside.values()),
                               "removed_at": stamp})
        store.remove_datasets(outside)
        path = root / "pruned.csv"
        record.to_csv(path, mode="a", header=not path.exists(), index=False)
        print(f"removed {len(outside)}; listed in {path}")
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

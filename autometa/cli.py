"""The ``autometa`` command line: one Typer app, every command a thin layer over the library.

Errors a user can fix (:class:`autometa.errors.AutometaError`) are printed as one line and exit
with code 2; ``--debug`` (anywhere on the command line) shows the traceback instead.
"""
from __future__ import annotations

import json
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
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """AutoML that learns from past experiments how to start new ones."""


def main(argv: Optional[list[str]] = None) -> None:
    """Console-script entry point: run the app, turning user errors into one line + exit 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        # accept --debug anywhere, not only before the command name
        args = ["--debug"] + [a for a in args if a != "--debug"]
    try:
        app(args=args, prog_name="autometa", standalone_mode=False)
    except AutometaError as exc:
        if debug:
            raise
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted", highlight=False)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors and anything unexpected
        import click

        if isinstance(exc, click.exceptions.ClickException):
            if debug:
                raise
            exc.show()
            sys.exit(exc.exit_code if exc.exit_code else 2)
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        if debug:
            raise
        err_console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc} "
            "(rerun with --debug for the traceback and please report it)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


# Commands are defined below, one section per command group.

"""The metabase: run histories of a shared candidate set of configurations on many datasets.

:mod:`autometa.metabase.store` keeps the tables (datasets with meta-features, configurations,
per-fold runs in OpenML's run schema), :mod:`autometa.metabase.sources` lists datasets from
folders and bundled collections, and :mod:`autometa.metabase.build` evaluates the candidates.

The shipped metabase lives in the repository's top-level ``metabase/`` folder and is installed
as the resource package ``autometa_metabase``; :func:`default_metabase_dir` finds it (the
``AUTOMETA_METABASE`` environment variable overrides).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from autometa.metabase.store import Metabase, content_checksum, normalise_name

ENV_VAR = "AUTOMETA_METABASE"
RESOURCE_PACKAGE = "autometa_metabase"

__all__ = [
    "Metabase",
    "content_checksum",
    "normalise_name",
    "default_metabase_dir",
    "resolve_metabase_dir",
    "open_metabase",
    "ENV_VAR",
]


def default_metabase_dir() -> Path:
    """Where the metabase is read from when none is given.

    ``$AUTOMETA_METABASE`` if set; else the installed resource package ``autometa_metabase``
    (the shipped ``metabase/`` folder, present after ``pip install .``); else the ``metabase/``
    folder of a source checkout.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    try:
        from importlib.resources import files

        resource = files(RESOURCE_PACKAGE)
        path = Path(str(resource))
        if path.is_dir():
            return path
    except (ModuleNotFoundError, TypeError, ValueError):
        pass
    return Path(__file__).resolve().parents[2] / "metabase"


def resolve_metabase_dir(path: Optional[Union[str, Path]] = None) -> Path:
    """``path`` when given, else :func:`default_metabase_dir`."""
    return Path(path).expanduser() if path else default_metabase_dir()


def open_metabase(path: Optional[Union[str, Path]] = None) -> Metabase:
    """Open an existing metabase for reading (ConfigError when there is none at the location)."""
    return Metabase(resolve_metabase_dir(path), create=False)

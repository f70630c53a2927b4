"""autometa: AutoML that learns from past experiments how to start new ones.

Data flows one way: :mod:`autometa.data` (load) -> :mod:`autometa.metafeatures` (describe)
-> recommend -> :mod:`autometa.search` (search) -> refit -> report.

The library reports progress and skipped work through :mod:`logging` (loggers under
``autometa``, e.g. ``autometa.metabase.build``) and prints nothing itself: the command line
shows those messages, a program configures logging to see them.
"""
from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# a library: no output unless the application configures logging (not Python's last-resort stderr)
logging.getLogger(__name__).addHandler(logging.NullHandler())

# public name -> module that defines it; imported on first use so `import autometa` stays fast
_EXPORTS = {
    "load_data": "autometa.data",
    "from_xy": "autometa.data",
    "Dataset": "autometa.data",
    "extract_metafeatures": "autometa.metafeatures",
    "describe": "autometa.metafeatures",
    "AutoMetaClassifier": "autometa.estimators",
    "AutoMetaRegressor": "autometa.estimators",
    "run_search": "autometa.search",
    "recommend": "autometa.recommend",
    "AutometaError": "autometa.errors",
    "DataError": "autometa.errors",
    "ConfigError": "autometa.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'autometa' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__

"""Versions of autometa and of the libraries that determine its results, recorded with what it
saves: a model file's header (to explain a model that no longer loads) and every metabase run."""
from __future__ import annotations

from typing import Sequence

#: the libraries a saved pipeline depends on
MODEL_LIBRARIES = ("autometa", "scikit-learn", "lightgbm")
#: the libraries that determine a metabase run's scores
RUN_LIBRARIES = MODEL_LIBRARIES + ("numpy", "pandas")


def library_versions(packages: Sequence[str] = MODEL_LIBRARIES) -> dict[str, str]:
    """``{distribution name: version}`` of the installed ``packages`` (those not installed are
    left out; autometa's own is its ``__version__``, also when run from a checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    from autometa import __version__

    versions: dict[str, str] = {}
    for package in packages:
        if package == "autometa":
            versions[package] = __version__
            continue
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    return versions

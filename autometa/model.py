"""The saved model: a fitted pipeline plus what is needed to use it on new data, in one file.

``autometa fit`` writes a :class:`FittedModel` with joblib; ``autometa predict`` loads it, coerces
the new table to the training columns (:func:`autometa.data.align_features`) and predicts.
Loading unpickles the file: only load models you (or someone you trust) wrote.
"""
from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import pandas as pd

from autometa.errors import ConfigError, DataError

MODEL_FORMAT = "autometa-model"
FORMAT_VERSION = 1


def library_versions() -> dict[str, str]:
    """Versions of the libraries a saved pipeline depends on (to explain a failed load later)."""
    import lightgbm
    import sklearn

    from autometa import __version__

    return {"autometa": __version__, "scikit-learn": sklearn.__version__,
            "lightgbm": lightgbm.__version__}


@dataclass
class FittedModel:
    """A fitted pipeline with its task, training columns, classes, search outcome and provenance."""

    pipeline: Any
    task: str
    target: str
    column_types: dict[str, str]
    classes: Optional[list] = None  # original class labels, in predict_proba column order
    metric: str = ""
    best_config: dict = field(default_factory=dict)
    best_score: float = float("nan")
    device: str = "cpu"
    versions: dict[str, str] = field(default_factory=library_versions)
    notes: list[str] = field(default_factory=list)  # notes from loading the training data
    format: str = MODEL_FORMAT
    format_version: int = FORMAT_VERSION

    @property
    def is_classifier(self) -> bool:
        """Whether the model predicts classes (binary or multiclass)."""
        return self.task in ("binary", "multiclass")

    def align(self, X: Any) -> tuple[pd.DataFrame, list[str]]:
        """Coerce new data to the training columns; return it with notes (e.g. extra columns ignored).

        A missing training column raises :class:`DataError` naming it.
        """
        from autometa.data import align_features

        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(X)
        return align_features(X, self.column_types)

    def _require_classifier(self, what: str) -> None:
        if not self.is_classifier:
            raise ConfigError(f"{what} needs a classification model; this one does {self.task}")

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (classification) or values (regression) for each row of ``X``."""
        aligned, _ = self.align(X)
        return np.asarray(self.pipeline.predict(aligned))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per entry of :attr:`classes`."""
        self._require_classifier("predict_proba")
        aligned, _ = self.align(X)
        return np.asarray(self.pipeline.predict_proba(aligned))

    def prediction_frame(self, X: Any, proba: bool = False) -> tuple[pd.DataFrame, list[str]]:
        """Predictions as a table (column named after the target, or one per class) plus notes."""
        if proba:
            self._require_classifier("--proba")
        aligned, notes = self.align(X)
        try:
            if proba:
                values = np.asarray(self.pipeline.predict_proba(aligned))
                columns = [str(c) for c in self.classes or []]
                return pd.DataFrame(values, columns=columns, index=aligned.index), notes
            values = np.asarray(self.pipeline.predict(aligned))
        except ValueError as exc:
            if "infinity" not in str(exc) and "too large" not in str(exc):
                raise
            # finite values near float64's maximum overflow to inf inside the preprocessing
            raise DataError("prediction data holds values too large for the model (near 1e308); "
                            "replace them with realistic numbers or leave those cells empty") from None
        return pd.DataFrame({self.target: values}, index=aligned.index), notes

    def save(self, path: Union[str, os.PathLike]) -> Path:
        """Write the model atomically (temporary file, then rename): a crash never leaves half a file."""
        import joblib

        path = Path(path)
        if not path.parent.is_dir():
            raise ConfigError(
                f"cannot save the model to {str(path)!r}: folder {str(path.parent)!r} does not exist"
            )
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                joblib.dump(self, fh, compress=3)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "FittedModel":
        """Read a model written by :meth:`save`; DataError if missing, not a model, or corrupt."""
        import joblib

        path = Path(path)
        if not path.is_file():
            raise DataError(f"model file {str(path)!r} not found; check the path (autometa fit writes it)")
        try:
            obj = joblib.load(path)
        except (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError, TypeError,
                AttributeError, ImportError, ModuleNotFoundError, OSError) as exc:
            raise DataError(
                f"cannot read model file {str(path)!r} ({type(exc).__name__}); it is corrupt or "
                "not an autometa model: refit with autometa fit"
            ) from None
        if not isinstance(obj, cls) or getattr(obj, "format", None) != MODEL_FORMAT:
            raise DataError(
                f"{str(path)!r} is not an autometa model (found {type(obj).__name__}); "
                "pass a file written by autometa fit"
            )
        return obj

"""The saved model: a fitted pipeline plus what is needed to use it on new data, in one file.

``autometa fit`` writes a :class:`FittedModel`; ``autometa predict`` loads it, coerces the new
table to the training columns (:func:`autometa.data.align_features`) and predicts.

File format (``format_version`` 2), one file so that a model cannot lose a side-car on the way
(copying, uploading, attaching): the first line is a JSON header, then the joblib payload::

    {"format": "autometa-model", "format_version": 2, "payload": "joblib", "payload_bytes": N,
     "sha256": "<hex digest of the payload>", "task": ..., "target": ..., "versions": {...}}\n
    <N bytes written by joblib.dump>

:meth:`FittedModel.load` reads and checks the header, the payload's length and its SHA-256
*before* unpickling anything, so a file that is not an autometa model (a plain pickle, an older
autometa model, another program's file) or a corrupt, truncated or edited one is refused with a
one-line :class:`~autometa.errors.DataError` without running any of its code.

The checksum protects against accidents, not against a malicious author: whoever writes a
model file can write a matching header, and unpickling can run arbitrary code. Only load models
you (or someone you trust) wrote.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import pandas as pd

from autometa.errors import ConfigError, DataError
from autometa.versions import library_versions

MODEL_FORMAT = "autometa-model"
FORMAT_VERSION = 2
PAYLOAD = "joblib"
MAX_HEADER_BYTES = 64 * 1024  # a header is a few hundred bytes; more means another kind of file
_CHUNK = 1 << 20


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
    categories: dict[str, list[str]] = field(default_factory=dict)  # training levels per categorical column
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
        return align_features(X, self.column_types, getattr(self, "categories", None) or None)

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

    def header(self, payload_bytes: int, sha256: str) -> dict[str, Any]:
        """The JSON header written before the payload (see the module docstring)."""
        return {
            "format": MODEL_FORMAT, "format_version": FORMAT_VERSION, "payload": PAYLOAD,
            "payload_bytes": int(payload_bytes), "sha256": sha256, "task": self.task,
            "target": str(self.target), "metric": self.metric, "versions": dict(self.versions),
        }

    def save(self, path: Union[str, os.PathLike]) -> Path:
        """Write the model, header then payload (see the module docstring), atomically: to a
        temporary file renamed onto ``path``, so that a crash never leaves half a file."""
        import joblib

        from autometa.paths import atomic_write

        path = Path(path)
        if not path.parent.is_dir():
            raise ConfigError(
                f"cannot save the model to {str(path)!r}: folder {str(path.parent)!r} does not exist"
            )
        # the payload goes to a scratch file first: the header, written first, holds its digest
        with tempfile.TemporaryFile(dir=path.parent) as payload:
            joblib.dump(self, payload, compress=3)
            size = payload.tell()
            payload.seek(0)
            digest = _sha256(payload, size)
            header = json.dumps(self.header(size, digest), sort_keys=True, ensure_ascii=True,
                                allow_nan=False, default=str)
            payload.seek(0)
            with atomic_write(path, "wb") as fh:
                fh.write(header.encode("ascii") + b"\n")
                shutil.copyfileobj(payload, fh, _CHUNK)
        return path

    @classmethod
    def read_header(cls, path: Union[str, os.PathLike]) -> tuple[dict[str, Any], int]:
        """The checked header of a model file and the payload's offset in it; DataError if the
        file is missing, not an autometa model, from a newer autometa, truncated or corrupt.

        Reads the whole file to verify the payload's SHA-256; unpickles nothing.
        """
        path = Path(path)
        shown = repr(str(path))
        if not path.is_file():
            raise DataError(f"model file {shown} not found; check the path (autometa fit writes it)")
        not_model = (f"{shown} is not an autometa model (no autometa header; models saved before "
                     "format 2 must be refitted); pass a file written by autometa fit")
        try:
            with open(path, "rb") as fh:
                line = fh.readline(MAX_HEADER_BYTES)
                offset = fh.tell()
                header = _parse_header(line)
                if header is None:
                    raise DataError(not_model)
                version = header.get("format_version")
                if not isinstance(version, int) or version > FORMAT_VERSION:
                    raise DataError(
                        f"model file {shown} has format {version!r}, newer than this autometa "
                        f"reads ({FORMAT_VERSION}); upgrade autometa or refit the model"
                    )
                size, expected = header.get("payload_bytes"), header.get("sha256")
                if (version != FORMAT_VERSION or header.get("payload") != PAYLOAD
                        or not isinstance(size, int) or size < 0 or not isinstance(expected, str)):
                    raise DataError(not_model)
                actual_size = os.fstat(fh.fileno()).st_size - offset
                if actual_size != size:
                    raise DataError(
                        f"model file {shown} is truncated or has extra bytes ({actual_size} bytes of "
                        f"model data, the header says {size}); copy it again or refit with autometa fit"
                    )
                if _sha256(fh, size) != expected.lower():
                    raise DataError(
                        f"model file {shown} is corrupt or was modified (its SHA-256 checksum does "
                        "not match the header); copy it again or refit with autometa fit"
                    )
        except OSError as exc:
            raise DataError(f"cannot read model file {shown} ({exc.strerror or type(exc).__name__}); "
                            "check the path and its permissions") from None
        return header, offset

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "FittedModel":
        """Read a model written by :meth:`save`; DataError if missing, not a model, or corrupt.

        The header and checksum are checked before the payload is unpickled (see the module
        docstring: this catches accidents, not a malicious model file).
        """
        import joblib

        path = Path(path)
        header, offset = cls.read_header(path)
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                obj = joblib.load(fh)
        except (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError, TypeError,
                AttributeError, ImportError, ModuleNotFoundError, OSError) as exc:
            saved = ", ".join(f"{k} {v}" for k, v in sorted((header.get("versions") or {}).items()))
            raise DataError(
                f"cannot read model file {str(path)!r} ({type(exc).__name__}); it was saved with "
                f"{saved or 'unknown versions'}: install those versions or refit with autometa fit"
            ) from None
        if not isinstance(obj, cls) or getattr(obj, "format", None) != MODEL_FORMAT:
            raise DataError(
                f"{str(path)!r} is not an autometa model (found {type(obj).__name__}); "
                "pass a file written by autometa fit"
            )
        return obj


def _sha256(fh: Any, size: int) -> str:
    """Hex SHA-256 of the next ``size`` bytes of ``fh`` (fewer if the file ends first)."""
    digest = hashlib.sha256()
    left = size
    while left > 0:
        chunk = fh.read(min(_CHUNK, left))
        if not chunk:
            break
        digest.update(chunk)
        left -= len(chunk)
    return digest.hexdigest()


def _parse_header(line: bytes) -> Optional[dict[str, Any]]:
    """The JSON header of a model file's first line, or None if it is not an autometa header."""
    if not line.startswith(b"{") or not line.endswith(b"\n"):
        return None
    try:
        header = json.loads(line.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(header, dict) or header.get("format") != MODEL_FORMAT:
        return None
    return header

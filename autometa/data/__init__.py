"""Load tabular data (CSV/TSV/Parquet/ARFF files or in-memory tables) into a typed :class:`Dataset`.

Every later stage works on a ``Dataset``: numeric features are float64, every other usable feature
is a pandas ``category``, the target is typed for its task, and whatever was changed or dropped on
the way is written down in ``notes`` / ``dropped``. Problems a user can fix raise
:class:`~autometa.errors.DataError` with one line naming the problem and the fix.

One module per job; import the public names from here (``from autometa.data import load_data``):

========================  =====================================================================
``read``                  files -> raw table: CSV/TSV sniffing, encodings, gzip, Parquet
                          (:func:`read_table`)
``arff``                  the tolerant ARFF parser (and why it is not liac-arff)
``columns``               typing of feature columns and data hygiene (inf, ID-like columns,
                          junk strings in numeric columns)
``target``                target column, task inference (:func:`infer_task`), stratification
                          of the classes (:func:`check_stratifiable`)
``dataset``               :class:`Dataset`, :func:`load_data`, :func:`from_xy`
``align``                 prediction time: new data to the training columns (:func:`align_features`)
``labels``                shared helpers: values as labels, categoricals, message lists
========================  =====================================================================
"""
from __future__ import annotations

from autometa.data.align import align_features
from autometa.data.dataset import Dataset, from_xy, load_data
from autometa.data.labels import MISSING_MARKERS
from autometa.data.read import NOTES_ATTR, SUPPORTED_EXTENSIONS, read_table
from autometa.data.target import (
    TASKS, RareClassWarning, check_stratifiable, describe_rare_classes, infer_task,
)
from autometa.errors import ConfigError, DataError  # importable from here, as before

__all__ = [
    "TASKS",
    "SUPPORTED_EXTENSIONS",
    "Dataset",
    "read_table",
    "load_data",
    "from_xy",
    "infer_task",
    "check_stratifiable",
    "describe_rare_classes",
    "RareClassWarning",
    "align_features",
    "NOTES_ATTR",
    "MISSING_MARKERS",
    "DataError",
    "ConfigError",
]

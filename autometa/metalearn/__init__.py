"""Meta-learning: from the metabase's run histories to a ranked list of configurations to try first.

Components, trained per task kind (classification / regression) by :func:`train`:

* :mod:`~autometa.metalearn.knn` -- best configurations of the most similar training datasets;
* :mod:`~autometa.metalearn.portfolio` -- greedy portfolio minimising mean normalised regret;
* :mod:`~autometa.metalearn.ranker` -- LightGBM model of a configuration's normalised score
  given the dataset's meta-features;
* ``method="combined"`` mixes the three (:class:`~autometa.metalearn.model.MetaModel`), starting
  from the portfolio when the nearest datasets are far or disagree
  (:mod:`~autometa.metalearn.confidence`).

:func:`families` groups a metabase's datasets into families (a task and its copies, from the
metabase's tasks.csv and content checksums); training leaves whole families out.

The trained bundle is JSON + Parquet + LightGBM text (:func:`save_model` / :func:`load_model`),
records the datasets it saw (and their families), and :func:`assert_not_trained_on` guards
benchmarks against leakage, copies included.
"""
from __future__ import annotations

from autometa.metalearn.confidence import Confidence
from autometa.metalearn.families import families, family_members
from autometa.metalearn.model import (
    METHODS,
    MODEL_DIR,
    KindModel,
    LeakageError,
    MetaModel,
    Ranking,
    assert_not_trained_on,
    default_model_dir,
    load_model,
    save_model,
    train,
)

__all__ = [
    "Confidence",
    "families",
    "family_members",
    "METHODS",
    "MODEL_DIR",
    "KindModel",
    "LeakageError",
    "MetaModel",
    "Ranking",
    "assert_not_trained_on",
    "default_model_dir",
    "load_model",
    "save_model",
    "train",
]

"""scikit-learn estimators wrapping the whole search: ``AutoMetaClassifier().fit(X, y).predict(X)``.

``fit`` validates the data (numpy arrays or DataFrames with categorical/string columns, missing
values allowed), runs :func:`autometa.search.run_search` and refits the best configuration on all
of ``X``. The estimators follow scikit-learn's conventions (parameters stored as given and
validated in ``fit``, fitted attributes ending in ``_``), so they clone, pickle and sit inside
``cross_val_score`` or a ``Pipeline`` like any other estimator.

Progress is logged (``autometa.estimators`` and the other ``autometa`` loggers, INFO level). As in
scikit-learn, ``verbose=1`` shows it: during ``fit`` a handler prints those messages on stderr
as ``[autometa] ...`` lines (one per trial); with ``verbose=0`` nothing is printed unless the
application configures logging (e.g. ``logging.basicConfig(level=logging.INFO)``).
"""
from __future__ import annotations

import logging
import math
import sys
import time
import warnings
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d, validate_data

from autometa.errors import ConfigError, DataError
from autometa.evaluate import make_splits

logger = logging.getLogger(__name__)


def _as_frame(X: Any) -> pd.DataFrame:
    """Features as a DataFrame with string column names, validated the way scikit-learn does.

    Arrays go through ``check_array`` (2-D, at least one row and column, no complex numbers,
    sparse refused); object arrays are numeric when every value converts to a float, else they
    keep their values (strings become categorical columns later).
    """
    if isinstance(X, pd.DataFrame):
        if X.shape[0] == 0 or X.shape[1] == 0:
            check_array(np.empty(X.shape))  # the standard "0 sample(s)/feature(s)" ValueError
        frame = X.copy()
        frame.columns = [str(c) for c in X.columns]
        return frame
    arr = check_array(X, dtype=None, ensure_all_finite="allow-nan", accept_sparse=False)
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except ValueError:  # strings: keep them, they become categorical features
            pass
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


def _as_1d(y: Any, name: str) -> np.ndarray:
    """Target as a 1-D array (a column vector warns, as in scikit-learn); ValueError for None."""
    if y is None:
        raise DataError(
            f"{name} requires y to be passed, but the target y is None; pass the target values"
        )
    if isinstance(y, pd.DataFrame) and y.shape[1] == 1:
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        y = y.to_numpy()
    return column_or_1d(np.asarray(y), warn=True)


@contextmanager
def _verbose_logging(verbose: int) -> Iterator[None]:
    """``verbose > 0``: while the block runs, the ``autometa`` loggers' INFO messages (and worse)
    are printed on stderr as ``[autometa] message`` lines."""
    if not verbose or verbose <= 0:
        yield
        return
    package = logging.getLogger("autometa")
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("[autometa] %(message)s"))
    level = package.level
    if not package.isEnabledFor(logging.INFO):
        package.setLevel(logging.INFO)
    package.addHandler(handler)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(level)


class _AutoMetaBase(BaseEstimator):
    """Shared parameters, fit and predict of the two estimators."""

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        # the storage URL may carry a database password: shown masked (get_params keeps it as given)
        from autometa.redact import mask_url

        return mask_url(super().__repr__(N_CHAR_MAX=N_CHAR_MAX))

    def __init__(
        self,
        metric: Optional[str] = None,
        n_trials: int = 50,
        time_budget: Optional[float] = None,
        cv: Optional[int] = None,
        seed: int = 0,
        n_jobs: int = 1,
        storage: Optional[str] = None,
        study_name: Optional[str] = None,
        device: str = "cpu",
        warm_start: Any = True,
        algorithms: Optional[Sequence[str]] = None,
        trial_time_limit: Optional[float] = None,
        verbose: int = 0,
    ) -> None:
        self.metric = metric
        self.n_trials = n_trials
        self.time_budget = time_budget
        self.cv = cv
        self.seed = seed
        self.n_jobs = n_jobs
        self.storage = storage
        self.study_name = study_name
        self.device = device
        self.warm_start = warm_start
        self.algorithms = algorithms
        self.trial_time_limit = trial_time_limit
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # the pipelines impute missing values
        return tags

    def _encode_target(self, y: np.ndarray) -> tuple[np.ndarray, str, Optional[np.ndarray]]:
        """Check the target; return what the search fits on, the task and the classes (or None)."""
        raise NotImplementedError

    def _progress(self, fp: Any) -> None:
        p = fp.search
        if p is None or p.trial is None or not logger.isEnabledFor(logging.INFO):
            return
        from autometa.display import format_score

        score = format_score(p.metric, p.score)
        best = format_score(p.metric, p.best_score)
        logger.info(f"trial {p.done}/{p.total} {p.algorithm} {p.status} score={score} best={best} ({p.elapsed:.1f}s)")

    def fit(self, X: Any, y: Any) -> "_AutoMetaBase":
        """Search configurations by cross-validation, then refit the best one on all of ``X``."""
        from autometa.automl import FitInterrupted, fit_automl
        from autometa.data import RareClassWarning, from_xy

        started = time.monotonic()
        frame = _as_frame(X)
        y_arr = _as_1d(y, type(self).__name__)
        validate_data(self, X, skip_check_array=True)  # n_features_in_, feature_names_in_
        if len(y_arr) != len(frame):
            raise DataError(
                f"X has {len(frame)} rows but y has {len(y_arr)} values; pass one target per row"
            )
        if len(frame) < 2:
            raise DataError(f"got {len(frame)} sample(s); need at least 2 samples to cross-validate")
        target, task, classes = self._encode_target(y_arr)
        data = from_xy(frame, pd.Series(target, name="target"), task=task,
                       name=type(self).__name__)

        try:
            with _verbose_logging(self.verbose), warnings.catch_warnings():
                # the rare-class warning was given by _encode_target with the original labels
                warnings.simplefilter("ignore", RareClassWarning)
                fitted = fit_automl(
                    data, metric=self.metric, n_trials=self.n_trials, time_budget=self.time_budget,
                    cv=self.cv, seed=self.seed, n_jobs=self.n_jobs, storage=self.storage,
                    study_name=self.study_name, warm_start=self.warm_start, algorithms=self.algorithms,
                    device=self.device, trial_time_limit=self.trial_time_limit,
                    progress=self._progress, started=started,
                )
        except FitInterrupted as stop:
            if stop.result is None:
                raise KeyboardInterrupt from None
            # Ctrl-C in a notebook: keep the best model so far usable, then stop as asked
            self._set_fitted(stop.result, data, classes)
            warnings.warn("interrupted: the estimator holds the best model of the trials that finished",
                          RuntimeWarning, stacklevel=2)
            raise KeyboardInterrupt from None
        self._set_fitted(fitted, data, classes)
        return self

    def _set_fitted(self, fitted: Any, data: Any, classes: Optional[np.ndarray]) -> None:
        search = fitted.search
        self.best_pipeline_ = fitted.pipeline
        self.best_config_ = fitted.best_config
        self.best_score_ = fitted.best_score
        self.metric_ = fitted.metric
        if search is not None:
            self.leaderboard_ = search.leaderboard
        else:  # the budget fallback: no trial finished
            from autometa.search import LEADERBOARD_COLUMNS

            self.leaderboard_ = pd.DataFrame(columns=LEADERBOARD_COLUMNS)
        self.study_ = search.study if search is not None else None
        self.task_ = data.task
        self.column_types_ = dict(data.column_types)
        self.categories_ = data.categories
        self.device_ = fitted.device
        self.notes_ = list(fitted.notes)
        self.warm_start_notes_ = list(fitted.plan.notes) if fitted.plan is not None else []
        self.fallback_ = fitted.fallback
        if classes is not None:
            self.classes_ = classes

    def _aligned(self, X: Any) -> pd.DataFrame:
        """Prediction features checked against the training ones and coerced to their types.

        DataFrame columns are matched by name (any order; extra columns ignored, a missing one is
        a DataError naming it); array columns by position, as in scikit-learn.
        """
        from autometa.data import align_features

        check_is_fitted(self, "best_pipeline_")
        frame = _as_frame(X)
        if not isinstance(X, pd.DataFrame):
            validate_data(self, X, skip_check_array=True, reset=False)  # number of features
            if hasattr(self, "feature_names_in_"):
                frame.columns = [str(c) for c in self.feature_names_in_]
        aligned, _ = align_features(frame, self.column_types_, getattr(self, "categories_", None))
        return aligned

    def predict(self, X: Any) -> np.ndarray:
        """Predicted classes (classifier) or values (regressor) of the best pipeline."""
        aligned = self._aligned(X)  # NotFittedError before anything else
        return np.asarray(self.best_pipeline_.predict(aligned))


class AutoMetaClassifier(ClassifierMixin, _AutoMetaBase):
    """Classifier that searches algorithms and hyperparameters by CV (warm-started Optuna TPE).

    Parameters mirror :func:`autometa.search.run_search`; ``warm_start=True`` starts from
    each algorithm's default configuration. After ``fit``: ``best_config_``, ``best_pipeline_``,
    ``best_score_`` (CV score, higher is better), ``leaderboard_``, ``study_``, ``classes_``,
    ``device_`` (device actually used) and the usual ``n_features_in_``/``feature_names_in_``.
    """

    def _encode_target(self, y: np.ndarray) -> tuple[np.ndarray, str, Optional[np.ndarray]]:
        if pd.isna(pd.Series(y, dtype=object)).any():
            raise DataError("Input y contains NaN (missing class labels); drop those rows")
        try:
            check_classification_targets(y)
        except ValueError as exc:
            raise DataError(
                f"{str(exc).split('.')[0]}; AutoMetaClassifier needs discrete class labels: use "
                "AutoMetaRegressor for a numeric target"
            ) from None
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise DataError(
                f"y has only {len(classes)} class; a classifier needs at least 2 classes"
            )
        task = "binary" if len(classes) == 2 else "multiclass"
        # fold feasibility checked on the original labels, so that an error or the warning about
        # rare classes (kept in every training fold, see make_splits) names them
        make_splits(pd.Series(classes.astype(str)[codes], dtype=object), task, cv=self.cv,
                    seed=self.seed)
        # the search sees class indices 0..k-1; predictions map back through classes_
        return codes, task, classes

    def _class_order(self) -> np.ndarray:
        """Index into ``classes_`` of each class of the fitted pipeline (its labels are "0", "1", ...)."""
        return np.asarray([int(c) for c in self.best_pipeline_.classes_])

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels (the original labels of ``y``)."""
        aligned = self._aligned(X)  # NotFittedError before anything else
        pred = np.asarray(self.best_pipeline_.predict(aligned))
        return self.classes_[pred.astype(np.int64)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        aligned = self._aligned(X)
        proba = np.asarray(self.best_pipeline_.predict_proba(aligned), dtype=np.float64)
        out = np.zeros((proba.shape[0], len(self.classes_)))
        out[:, self._class_order()] = proba
        return out


class AutoMetaRegressor(RegressorMixin, _AutoMetaBase):
    """Regressor that searches algorithms and hyperparameters by CV (warm-started Optuna TPE).

    Same parameters and fitted attributes as :class:`AutoMetaClassifier`, without ``classes_``.
    """

    def _encode_target(self, y: np.ndarray) -> tuple[np.ndarray, str, Optional[np.ndarray]]:
        try:
            values = y.astype(np.float64)
        except (TypeError, ValueError):
            raise DataError(
                "y is not numeric; AutoMetaRegressor needs a numeric target: use "
                "AutoMetaClassifier for class labels"
            ) from None
        if np.isnan(values).any():
            raise DataError("Input y contains NaN; drop the rows whose target is missing")
        if not np.isfinite(values).all():
            raise DataError("Input y contains infinity; drop or fix those target values")
        return values, "regression", None

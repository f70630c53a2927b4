"""Metrics, resampling splits and the cross-validated evaluation of one configuration.

:func:`evaluate_config` is what every search trial and every metabase run calls: it fits the
configuration's pipeline (:func:`autometa.pipeline.build_pipeline`) on each split, scores it with
the chosen metric, records every applicable metric per fold, and reports failures with the OpenML
run vocabulary ("ok", "timeout", "memout", "crash", "pruned") instead of raising.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from autometa.errors import ConfigError, DataError
from autometa.pipeline import build_pipeline, fit_context
from autometa.space import CLASSIFICATION, REGRESSION, task_kind, validate_config

__all__ = [
    "Metric",
    "METRICS",
    "default_metric",
    "get_metric",
    "score_predictions",
    "make_splits",
    "EvalResult",
    "evaluate_config",
    "STATUSES",
]

#: Run outcomes, in the OpenML vocabulary.
STATUSES = ("ok", "timeout", "memout", "crash", "pruned")
#: Probabilities are clipped to [EPS, 1 - EPS] before the log loss (a finite worst case).
EPS = 1e-15
_MESSAGE_CHARS = 300


# ---------------------------------------------------------------- metrics
def _labels_of(y_true: Any, labels: Optional[Sequence[Any]], *more: Any) -> np.ndarray:
    if labels is not None:
        return np.asarray(labels)
    return np.unique(np.concatenate([np.asarray(y_true)] + [np.asarray(m) for m in more]))


def _proba_matrix(proba: Any, n_labels: int) -> np.ndarray:
    """Probabilities as an (n, n_labels) matrix; a 1-D binary input is P(second label)."""
    p = np.asarray(proba, dtype=float)
    if p.ndim == 1:
        if n_labels != 2:
            raise ValueError(f"1-D probabilities need 2 labels, got {n_labels}")
        p = np.column_stack([1.0 - p, p])
    if p.ndim != 2 or p.shape[1] != n_labels:
        raise ValueError(f"probabilities of shape {p.shape} do not match {n_labels} labels")
    return p


def _roc_auc(y_true: Any, proba: Any, labels: Optional[Sequence[Any]] = None) -> float:
    """Binary AUC of P(second label); multiclass: macro average of one-vs-rest AUCs."""
    y = np.asarray(y_true)
    lab = _labels_of(y, labels)
    p = _proba_matrix(proba, len(lab))
    if len(lab) == 2:
        return float(skm.roc_auc_score(y == lab[1], p[:, 1]))
    aucs = [skm.roc_auc_score(y == c, p[:, i]) for i, c in enumerate(lab)
            if 0 < np.sum(y == c) < len(y)]
    if not aucs:
        raise ValueError("roc_auc needs at least two classes in y_true")
    return float(np.mean(aucs))


def _log_loss(y_true: Any, proba: Any, labels: Optional[Sequence[Any]] = None) -> float:
    """Log loss of probabilities clipped to [EPS, 1-EPS] and renormalised, columns = labels."""
    y = np.asarray(y_true)
    lab = _labels_of(y, labels)
    p = np.clip(_proba_matrix(proba, len(lab)), EPS, 1.0 - EPS)
    p = p / p.sum(axis=1, keepdims=True)
    return float(skm.log_loss(y, p, labels=lab))


def _accuracy(y_true: Any, pred: Any, labels: Optional[Sequence[Any]] = None) -> float:
    return float(skm.accuracy_score(np.asarray(y_true), np.asarray(pred)))


def _balanced_accuracy(y_true: Any, pred: Any, labels: Optional[Sequence[Any]] = None) -> float:
    import warnings

    with warnings.catch_warnings():  # "y_pred contains classes not in y_true"
        warnings.simplefilter("ignore", UserWarning)
        return float(skm.balanced_accuracy_score(np.asarray(y_true), np.asarray(pred)))


def _f1(y_true: Any, pred: Any, labels: Optional[Sequence[Any]] = None) -> float:
    """F1 of the positive class: the second label in sorted order (1, "yes", True, ...)."""
    lab = _labels_of(y_true, labels, pred)
    if len(lab) != 2:
        raise ValueError(f"f1 is for binary tasks; got {len(lab)} labels (use f1_macro)")
    return float(skm.f1_score(np.asarray(y_true), np.asarray(pred), pos_label=lab[1],
                              zero_division=0.0))


def _f1_macro(y_true: Any, pred: Any, labels: Optional[Sequence[Any]] = None) -> float:
    """Macro F1 over the labels that occur in ``y_true`` or ``pred``: a class absent from both
    (a rare class kept out of a validation fold) is not counted as an F1 of 0."""
    lab = _labels_of(y_true, labels, pred)
    lab = lab[np.isin(lab, np.concatenate([np.asarray(y_true), np.asarray(pred)]))]
    return float(skm.f1_score(np.asarray(y_true), np.asarray(pred), labels=lab, average="macro",
                              zero_division=0.0))


def _rmse(y_true: Any, pred: Any, labels: Optional[Sequence[Any]] = None) -> float:
    return float(math.sqrt(skm.mean_squared_error(y_true, pred)))


def _mae(y_true: Any, pred: Any, labels: Optional[Sequence[Any]] = None) -> float:
    return float(skm.mean_absolute_error(y_true, pred))


def _r2(y_true: Any, pred: Any, labels: Optional[Sequence[Any]] = None) -> float:
    return float(skm.r2_score(y_true, pred))


@dataclass(frozen=True)
class Metric:
    """A scoring function with its direction, input kind and the tasks it applies to.

    ``kinds`` holds task kinds ("classification", "regression") or single tasks ("binary").
    """

    name: str
    greater_is_better: bool
    needs_proba: bool
    kinds: tuple[str, ...]
    func: Callable[..., float] = field(repr=False, compare=False)

    def __call__(self, y_true: Any, y_pred_or_proba: Any,
                 labels: Optional[Sequence[Any]] = None) -> float:
        """The raw value, in the metric's own direction.

        Give class probabilities (columns in the order of ``labels``, default: sorted labels of
        ``y_true``) when :attr:`needs_proba`, predicted labels or values otherwise.
        """
        return self.func(y_true, y_pred_or_proba, labels)

    def score(self, raw: float) -> float:
        """The higher-is-better version of a raw value (the log loss becomes -log_loss)."""
        return float(raw) if self.greater_is_better else -float(raw)

    def applies_to(self, task: str) -> bool:
        """Whether the metric is defined for a task ("binary", "multiclass", "regression")."""
        return task in self.kinds or task_kind(task) in self.kinds


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("roc_auc", True, True, (CLASSIFICATION,), _roc_auc),
        Metric("log_loss", False, True, (CLASSIFICATION,), _log_loss),
        Metric("accuracy", True, False, (CLASSIFICATION,), _accuracy),
        Metric("balanced_accuracy", True, False, (CLASSIFICATION,), _balanced_accuracy),
        Metric("f1", True, False, ("binary",), _f1),
        Metric("f1_macro", True, False, (CLASSIFICATION,), _f1_macro),
        Metric("rmse", False, False, (REGRESSION,), _rmse),
        Metric("mae", False, False, (REGRESSION,), _mae),
        Metric("r2", True, False, (REGRESSION,), _r2),
    )
}

_DEFAULT_METRICS = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


def _check_task(task: str) -> str:
    if task not in _DEFAULT_METRICS:
        raise ConfigError(f"unknown task {task!r}; use binary, multiclass or regression")
    return task


def default_metric(task: str) -> str:
    """The metric optimised when none is given, as in the AutoML benchmark (AMLB).

    binary -> roc_auc, multiclass -> log_loss, regression -> rmse.
    """
    return _DEFAULT_METRICS[_check_task(task)]


def get_metric(name: Union[str, Metric], task: str) -> Metric:
    """Look up a metric for a task; ConfigError for unknown names or metrics of another task."""
    _check_task(task)
    valid = [n for n, m in METRICS.items() if m.applies_to(task)]
    if isinstance(name, Metric):
        metric = name
    elif name not in METRICS:
        raise ConfigError(
            f"unknown metric {name!r}; for {task} tasks use one of {', '.join(valid)}"
        )
    else:
        metric = METRICS[name]
    if not metric.applies_to(task):
        raise ConfigError(
            f"metric {metric.name!r} does not apply to {task} tasks; use one of {', '.join(valid)}"
        )
    return metric


def score_predictions(metric: Union[str, Metric], y_true: Any, pred: Any, proba: Any,
                      labels: Optional[Sequence[Any]] = None) -> float:
    """Raw metric value from predictions: uses ``proba`` when the metric needs it, else ``pred``.

    Both come from the same model, so callers can compute every metric from one prediction.
    """
    m = metric if isinstance(metric, Metric) else METRICS[metric] if metric in METRICS else None
    if m is None:
        raise ConfigError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    if m.needs_proba:
        if proba is None:
            raise ValueError(f"{m.name} needs class probabilities and the model gave none")
        return m(y_true, proba, labels)
    return m(y_true, pred, labels)


# ---------------------------------------------------------------- splits
def _target_array(y: Any) -> np.ndarray:
    if isinstance(y, (pd.Series, pd.Index)):
        return y.to_numpy()
    return np.asarray(y)


def _stratification(y: np.ndarray, n_folds: int, what: str) -> tuple[int, np.ndarray]:
    """Folds to use and a mask of the rows of rare classes (training only), warning about them.

    The policy is :func:`autometa.data.check_stratifiable`'s (the one stratification check).
    """
    import warnings

    from autometa.data import RareClassWarning, check_stratifiable, describe_rare_classes

    folds, rare = check_stratifiable(pd.Series(y, dtype=object), n_folds, classification=True)
    mask = np.zeros(len(y), dtype=bool)
    if rare:
        mask = pd.Series(y, dtype=object).isin(rare).to_numpy()
    message = describe_rare_classes(pd.Series(y, dtype=object), rare, folds, n_folds, what)
    if message:
        warnings.warn(message, RareClassWarning, stacklevel=3)
    return folds, mask


def make_splits(y: Any, task: str, cv: Optional[int] = None, seed: int = 0,
                holdout_above: int = 200_000) -> list[tuple[np.ndarray, np.ndarray]]:
    """Resampling splits as ``(train_indices, test_indices)`` pairs of positions in ``y``.

    Classification is stratified, regression shuffled; both are seeded. With ``cv=None``: 5 folds
    below 10,000 rows, 3 folds from 10,000 rows, and above ``holdout_above`` rows one 80/20
    holdout split (stratified for classification). An explicit ``cv`` gives ``cv`` folds.

    Rare classes (:func:`autometa.data.check_stratifiable`): a class with fewer rows than folds
    (than 2 rows for the holdout split) is kept, its rows in the training part of every split
    and in no validation part; the folds are lowered only when fewer than two classes could be
    validated otherwise. One UserWarning names those classes and says what was done; DataError
    only when fewer than two classes have 2 rows.
    """
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    kind = task_kind(_check_task(task))
    if cv is not None and (isinstance(cv, bool) or not isinstance(cv, (int, np.integer))
                           or cv < 2):
        raise ConfigError(f"cv={cv!r} must be an integer of at least 2 (number of folds)")
    y_arr = _target_array(y)
    n = len(y_arr)
    if n == 0:
        raise DataError("the target is empty; the data needs rows to evaluate on")
    missing = int(pd.isna(pd.Series(y_arr)).sum())
    if missing:
        raise DataError(f"the target has {missing} missing value(s); drop those rows first")
    positions = np.arange(n)
    if cv is None and n > holdout_above:
        if kind != CLASSIFICATION:
            train, test = train_test_split(positions, test_size=0.2, random_state=seed, shuffle=True)
            return [(np.sort(train), np.sort(test))]
        _, rare = _stratification(y_arr, 2, "rows a stratified holdout split needs")
        common = positions[~rare]
        train, test = train_test_split(common, test_size=0.2, random_state=seed,
                                       shuffle=True, stratify=y_arr[common])
        return [(np.sort(np.concatenate([train, positions[rare]])), np.sort(test))]
    n_folds = int(cv) if cv is not None else (5 if n < 10_000 else 3)
    if n < n_folds:
        raise DataError(f"only {n} rows for {n_folds} folds; pass a smaller cv")
    if kind == CLASSIFICATION:
        n_folds, rare = _stratification(y_arr, n_folds, "cross-validation folds")
        splitter: Any = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        if not rare.any():
            return [(tr, te) for tr, te in splitter.split(positions, y_arr)]
        common, kept = positions[~rare], positions[rare]
        return [(np.sort(np.concatenate([common[tr], kept])), common[te])
                for tr, te in splitter.split(common, y_arr[common])]
    splitter = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in splitter.split(positions)]


# ---------------------------------------------------------------- evaluation
@dataclass
class EvalResult:
    """Outcome of evaluating one configuration over the splits.

    ``score`` is the mean fold score, higher is better (NaN unless ``status == "ok"``);
    ``fold_scores`` / ``fold_metrics`` cover the folds that completed, ``fold_metrics`` holding
    the raw value of every metric that applies to the task (NaN where one could not be computed).
    """

    status: str
    score: float
    std: float
    fold_scores: list[float]
    fold_metrics: list[dict[str, float]]
    fit_seconds: float
    predict_seconds: float
    message: str = ""

    @property
    def ok(self) -> bool:
        """Whether every fold ran and was scored."""
        return self.status == "ok"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return line if len(line) <= _MESSAGE_CHARS else line[: _MESSAGE_CHARS - 3] + "..."


def _predict(model: Any, X: pd.DataFrame, labels: Optional[np.ndarray]
             ) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Predictions and, for classifiers, probabilities aligned to ``labels`` (absent classes: 0)."""
    if labels is None:
        return np.asarray(model.predict(X), dtype=float), None
    if not hasattr(model, "predict_proba"):
        return np.asarray(model.predict(X)), None
    raw = np.asarray(model.predict_proba(X), dtype=float)
    position = {label: i for i, label in enumerate(labels.tolist())}
    classes = np.asarray(model.classes_).tolist()
    unknown = [c for c in classes if c not in position]
    if unknown:
        raise ValueError(f"the model predicts class {unknown[0]!r} that is not a label of y")
    proba = np.zeros((raw.shape[0], len(labels)))
    proba[:, [position[c] for c in classes]] = raw
    return labels[np.argmax(proba, axis=1)], proba


def _fold_metrics(metrics: list[Metric], y_true: np.ndarray, pred: np.ndarray,
                  proba: Optional[np.ndarray], labels: Optional[np.ndarray]) -> dict[str, float]:
    values: dict[str, float] = {}
    for m in metrics:
        try:
            values[m.name] = float(score_predictions(m, y_true, pred, proba, labels))
        except Exception:  # a metric undefined on this fold (one class, no probabilities, ...)
            values[m.name] = float("nan")
    return values


def evaluate_config(config: dict, X: pd.DataFrame, y: Any, column_types: dict[str, str],
                    task: str, *, metric: Union[str, Metric],
                    splits: Sequence[tuple[np.ndarray, np.ndarray]], seed: int = 0,
                    device: str = "cpu", n_jobs: int = 1, time_limit: Optional[float] = None,
                    report: Optional[Callable[[int, float], bool]] = None) -> EvalResult:
    """Cross-validate one configuration; failures become a status, never an exception.

    For each ``(train, test)`` split (positions, e.g. from :func:`make_splits`) a fresh pipeline
    is fitted and scored; probabilities are aligned to the sorted labels of the whole ``y``, so
    a fold that lacks a class still gets the full label set. After fold ``i`` (0-based),
    ``report(i, running_mean_score)`` is called; returning True stops with status "pruned" (a
    pruner that raises, e.g. ``optuna.TrialPruned``, propagates). Exceptions while fitting or
    predicting give status "crash" with a one-line message, MemoryError gives "memout";
    KeyboardInterrupt propagates. Mistakes of the caller (unknown metric, invalid configuration,
    column types that do not match X) raise ConfigError / DataError before any fold runs.

    ``time_limit`` (seconds) is checked after each fold: once the elapsed time exceeds it the
    status is "timeout". It is a soft limit: a single slow fit is not interrupted (a hard limit
    needs a child process that can be killed).
    """
    metric_obj = get_metric(metric, task)
    config = validate_config(config, task)
    if not isinstance(X, pd.DataFrame):
        raise DataError(f"X must be a pandas DataFrame, got {type(X).__name__}; "
                        "load the data with autometa.data")
    y_arr = _target_array(y)
    if len(y_arr) != len(X):
        raise DataError(f"X has {len(X)} rows but y has {len(y_arr)}; pass matching rows")
    splits = list(splits)
    if not splits:
        raise ConfigError("splits is empty; pass (train, test) pairs, e.g. make_splits(y, task)")
    if time_limit is not None and not time_limit > 0:
        raise ConfigError(f"time_limit={time_limit!r} must be a positive number of seconds or None")
    # the caller's mistakes (bad column types, device, n_jobs, columns missing from X) raise here
    build_pipeline(config, column_types, task, seed=seed, device=device, n_jobs=n_jobs)
    absent = [c for c in column_types if c not in X.columns]
    if absent:
        raise DataError(f"column(s) {', '.join(map(repr, absent[:5]))} of column_types are not "
                        "in X; pass the column types of these data")

    classification = task_kind(task) == CLASSIFICATION
    labels = np.unique(y_arr) if classification else None
    if not classification:
        y_arr = y_arr.astype(float)
    metrics = [m for m in METRICS.values() if m.applies_to(task)]
    if metric_obj.name not in {m.name for m in metrics}:
        metrics.append(metric_obj)

    start = time.perf_counter()
    fit_seconds = predict_seconds = 0.0
    fold_scores: list[float] = []
    fold_metrics: list[dict[str, float]] = []

    def result(status: str, message: str = "") -> EvalResult:
        ok = status == "ok"
        return EvalResult(
            status=status,
            score=float(np.mean(fold_scores)) if ok else float("nan"),
            std=float(np.std(fold_scores)) if ok else float("nan"),
            fold_scores=list(fold_scores), fold_metrics=list(fold_metrics),
            fit_seconds=fit_seconds, predict_seconds=predict_seconds, message=message,
        )

    for i, (train, test) in enumerate(splits):
        try:
            with fit_context(n_jobs):
                model = build_pipeline(config, column_types, task, seed=seed, device=device,
                                       n_jobs=n_jobs)
                t0 = time.perf_counter()
                model.fit(X.iloc[train], y_arr[train])
                fit_seconds += time.perf_counter() - t0
                t0 = time.perf_counter()
                pred, proba = _predict(model, X.iloc[test], labels)
                predict_seconds += time.perf_counter() - t0
            values = _fold_metrics(metrics, y_arr[test], pred, proba, labels)
            raw = values[metric_obj.name]
            if not math.isfinite(raw):
                # recompute outside the guard so the message says why
                raw = score_predictions(metric_obj, y_arr[test], pred, proba, labels)
                raise ValueError(f"{metric_obj.name} is {raw} on fold {i}")
        except KeyboardInterrupt:
            raise
        except MemoryError as exc:
            return result("memout", _one_line(exc) if str(exc) else "MemoryError: out of memory")
        except Exception as exc:
            return result("crash", _one_line(exc))
        fold_scores.append(metric_obj.score(raw))
        fold_metrics.append(values)
        if report is not None and report(i, float(np.mean(fold_scores))):
            return result("pruned", f"pruned after fold {i + 1} of {len(splits)}")
        elapsed = time.perf_counter() - start
        if time_limit is not None and elapsed > time_limit:
            return result("timeout", f"time limit of {time_limit:g}s exceeded after fold "
                                     f"{i + 1} of {len(splits)} ({elapsed:.1f}s)")
    return result("ok")

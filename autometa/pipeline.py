"""Configuration + column types -> an unfitted scikit-learn :class:`~sklearn.pipeline.Pipeline`.

A pipeline has two steps: ``"preprocess"`` (a :class:`~sklearn.compose.ColumnTransformer`) and
``"model"`` (the estimator of the configuration's algorithm, its parameters taken verbatim from
:mod:`autometa.space`). Preprocessing depends on the algorithm and on each categorical column's
*observed* number of distinct non-missing values ("levels"), counted on the training data when the
pipeline is fitted (:class:`ColumnSelector`), so one pipeline object serves every fold.

LightGBM and HistGradientBoosting (``Algorithm.native_categorical``):

- numeric columns pass through (the models handle NaN themselves);
- categoricals with at most :data:`NATIVE_MAX_LEVELS` (64) levels pass through as pandas
  ``category`` columns and are split on natively (LightGBM ``categorical_feature="auto"``,
  HistGradientBoosting ``categorical_features="from_dtype"``); unseen levels count as missing;
- categoricals with more levels are target-encoded (cross-fitted).

Every other algorithm:

- numeric columns: median imputation, then standardisation where ``Algorithm.scale``;
- categoricals with at most :data:`ONEHOT_MAX_LEVELS` (10) levels: one-hot encoding, where a
  missing value is a level of its own and an unseen level encodes as all zeros;
- categoricals with more levels: cross-fitted target encoding (standardised where
  ``Algorithm.scale``); unseen levels get the target mean.

Why these thresholds: one-hot encoding beyond :data:`ONEHOT_MAX_LEVELS` (10) levels makes wide,
sparse inputs that distance-based and linear models handle poorly, while a cross-fitted
:class:`~sklearn.preprocessing.TargetEncoder` summarises any number of levels in one column (one
per class for multiclass) without leaking the fold's own targets. Native categorical splits of
LightGBM and HistGradientBoosting beat encodings on moderate cardinalities but overfit when many
levels are rare; above :data:`NATIVE_MAX_LEVELS` (64) target encoding is used instead (it also
keeps HistGradientBoosting well under its hard limit of 255 categories per feature).
Columns typed "boolean" are handled as categoricals. Columns that are entirely missing in the
training data, and columns absent from ``column_types``, are dropped.
"""
from __future__ import annotations

import contextlib
import inspect
import math
import warnings
from importlib import import_module
from typing import Any, Iterator, Optional, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler, TargetEncoder

from autometa.errors import ConfigError, DataError
from autometa.space import ALGORITHMS, CLASSIFICATION, model_params, task_kind, validate_config

__all__ = [
    "ONEHOT_MAX_LEVELS",
    "NATIVE_MAX_LEVELS",
    "COLUMN_KINDS",
    "ColumnSelector",
    "select_columns",
    "high_cardinality",
    "build_pipeline",
    "pipeline_code",
    "fit_context",
]

#: Categorical columns with at most this many observed levels are one-hot encoded.
ONEHOT_MAX_LEVELS = 10
#: LightGBM / HistGradientBoosting split natively on categoricals with at most this many levels.
NATIVE_MAX_LEVELS = 64
#: Kinds a ``column_types`` entry may take.
COLUMN_KINDS = ("numeric", "categorical", "boolean")

# iterations of the linear solvers: enough to converge on standardised inputs; the rest is a
# ConvergenceWarning that :func:`fit_context` silences (the fit is still usable)
_LBFGS_MAX_ITER = 1000
_SAGA_MAX_ITER = 500
_ELASTICNET_MAX_ITER = 2000
# folds of the SVM's probability calibration (see _svm_classifier)
_SVM_CALIBRATION_FOLDS = 3
# folds of the target encoder's cross fitting
_TARGET_ENCODER_FOLDS = 5


# ---------------------------------------------------------------- column selection
def select_columns(X, columns, min_levels=0, max_levels=None):
    """Names in ``columns`` whose number of distinct non-missing values in X is within bounds.

    Used as a ColumnTransformer column selector, so the choice is made from the training data
    when the pipeline is fitted and then fixed for prediction. ``min_levels=1`` drops columns
    that are entirely missing.
    """
    picked = []
    for name in columns:
        column = X[name]
        if max_levels is None and min_levels <= 1:  # no need to count the levels
            keep = min_levels == 0 or bool(column.notna().any())
        else:
            levels = int(column.nunique(dropna=True))
            keep = min_levels <= levels and (max_levels is None or levels <= max_levels)
        if keep:
            picked.append(name)
    return picked


def lightgbm_safe_name(transformer_name, feature_name):
    """Output column name without the characters LightGBM refuses in feature names.

    LightGBM stores feature names in JSON and rejects ``" , : [ ] { }``; such characters are
    replaced by ``_`` and a short checksum of the original name keeps the names distinct.
    """
    import zlib

    name = f"{transformer_name}__{feature_name}"
    safe = "".join("_" if ch in '",:[]{}' else ch for ch in name)
    if safe != name:
        safe += f"_{zlib.crc32(name.encode()):08x}"
    return safe


class ColumnSelector:
    """Picklable, clone-able column selector: the ``columns`` whose level count is within bounds.

    Deterministic: the result keeps the order of ``columns`` and depends only on the values of
    the data it is called with. A column missing from the data raises :class:`DataError`.
    """

    def __init__(self, columns: Sequence[str], min_levels: int = 0,
                 max_levels: Optional[int] = None) -> None:
        self.columns = tuple(columns)
        self.min_levels = int(min_levels)
        self.max_levels = None if max_levels is None else int(max_levels)

    def __call__(self, X: pd.DataFrame) -> list[str]:
        missing = [c for c in self.columns if c not in X.columns]
        if missing:
            raise DataError(
                f"column(s) {', '.join(map(repr, missing[:5]))} named in column_types are missing "
                "from X; pass the same columns the pipeline was built for"
            )
        return select_columns(X, self.columns, self.min_levels, self.max_levels)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ColumnSelector) and (
            (self.columns, self.min_levels, self.max_levels)
            == (other.columns, other.min_levels, other.max_levels)
        )

    def __hash__(self) -> int:
        return hash((self.columns, self.min_levels, self.max_levels))

    def __repr__(self) -> str:
        bounds = f"min_levels={self.min_levels}, max_levels={self.max_levels}"
        return f"ColumnSelector({list(self.columns)!r}, {bounds})"


def _check_column_types(column_types: Any) -> dict[str, str]:
    if not isinstance(column_types, dict) or not column_types:
        raise DataError("column_types is empty; the pipeline needs at least one feature column")
    bad = {c: k for c, k in column_types.items() if k not in COLUMN_KINDS}
    if bad:
        name, kind = next(iter(bad.items()))
        raise ConfigError(
            f"column {name!r} has type {kind!r}; column types are {', '.join(COLUMN_KINDS)}"
        )
    return dict(column_types)


def _split_kinds(column_types: dict[str, str]) -> tuple[list[str], list[str]]:
    numeric = [c for c, k in column_types.items() if k == "numeric"]
    categorical = [c for c, k in column_types.items() if k != "numeric"]
    return numeric, categorical


def high_cardinality(column_types: dict[str, str], X: pd.DataFrame,
                     threshold: int = ONEHOT_MAX_LEVELS) -> list[str]:
    """Categorical/boolean columns of X with more than ``threshold`` observed levels.

    These are the columns that non-native algorithms target-encode instead of one-hot encoding
    (pass ``threshold=NATIVE_MAX_LEVELS`` for the ones LightGBM/HistGradientBoosting encode).
    """
    _, categorical = _split_kinds(_check_column_types(column_types))
    return ColumnSelector(categorical, min_levels=int(threshold) + 1)(X)


# ---------------------------------------------------------------- preprocessing
def _target_encoder(task: str, seed: int) -> TargetEncoder:
    """Cross-fitted target encoder with shuffled, seeded folds (across scikit-learn versions)."""
    # classification: "auto" reads binary/multiclass from the training labels, so a training set
    # that lacks some classes (custom splits) still encodes
    target_type = "auto" if task_kind(task) == CLASSIFICATION else "continuous"
    signature = inspect.signature(TargetEncoder.__init__).parameters
    if signature["shuffle"].default == "deprecated":  # scikit-learn >= 1.9 takes a splitter
        splitter_cls = KFold if target_type == "continuous" else StratifiedKFold
        cv = splitter_cls(_TARGET_ENCODER_FOLDS, shuffle=True, random_state=seed)
        return TargetEncoder(target_type=target_type, cv=cv)
    return TargetEncoder(target_type=target_type, cv=_TARGET_ENCODER_FOLDS, shuffle=True,
                         random_state=seed)


def _preprocessor(algorithm: str, column_types: dict[str, str], task: str,
                  seed: int) -> ColumnTransformer:
    algo = ALGORITHMS[algorithm]
    numeric, categorical = _split_kinds(column_types)
    steps: list[tuple[str, Any, Any]] = []
    if algo.native_categorical:
        if numeric:
            steps.append(("numeric", "passthrough", ColumnSelector(numeric, min_levels=1)))
        if categorical:
            steps.append(("native", "passthrough",
                          ColumnSelector(categorical, min_levels=1, max_levels=NATIVE_MAX_LEVELS)))
            steps.append(("target", _target_encoder(task, seed),
                          ColumnSelector(categorical, min_levels=NATIVE_MAX_LEVELS + 1)))
        ct = ColumnTransformer(steps, remainder="drop",
                               verbose_feature_names_out=lightgbm_safe_name)
        # pandas output keeps the "category" dtype the models split on natively
        ct.set_output(transform="pandas")
        return ct

    if numeric:
        imputer = SimpleImputer(strategy="median")
        if algo.scale:
            num: Any = Pipeline([("impute", imputer), ("scale", StandardScaler())])
        else:
            num = imputer
        steps.append(("numeric", num, ColumnSelector(numeric, min_levels=1)))
    if categorical:
        onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        steps.append(("onehot", onehot,
                      ColumnSelector(categorical, min_levels=1, max_levels=ONEHOT_MAX_LEVELS)))
        encoder: Any = _target_encoder(task, seed)
        if algo.scale:
            encoder = Pipeline([("encode", encoder), ("scale", StandardScaler())])
        steps.append(("target", encoder,
                      ColumnSelector(categorical, min_levels=ONEHOT_MAX_LEVELS + 1)))
    return ColumnTransformer(steps, remainder="drop")


# ---------------------------------------------------------------- estimators
def _logistic_regression(params: dict[str, Any], seed: int) -> Any:
    """LogisticRegression with a solver that supports the penalty (lbfgs for l2, saga otherwise)."""
    from sklearn.linear_model import LogisticRegression

    penalty = params["penalty"]
    solver = "lbfgs" if penalty == "l2" else "saga"
    max_iter = _LBFGS_MAX_ITER if solver == "lbfgs" else _SAGA_MAX_ITER
    l1_ratio = {"l2": 0.0, "l1": 1.0}.get(penalty, params.get("l1_ratio"))
    kwargs: dict[str, Any] = dict(C=params["C"], solver=solver, max_iter=max_iter,
                                  random_state=seed)
    signature = inspect.signature(LogisticRegression.__init__).parameters
    if signature["penalty"].default == "deprecated":
        kwargs["l1_ratio"] = l1_ratio  # scikit-learn >= 1.8: the penalty is set by l1_ratio
    else:
        kwargs["penalty"] = penalty
        if penalty == "elasticnet":
            kwargs["l1_ratio"] = l1_ratio
    return LogisticRegression(**kwargs)


def _svm_classifier(params: dict[str, Any], gamma: Any, seed: int, n_jobs: int) -> Any:
    """RBF SVC wrapped in sigmoid calibration, so that AUC and log loss get probabilities.

    Measured (scikit-learn 1.9, 20 features, 2.4k-4.8k training rows): plain ``SVC`` fits in 1x;
    ``CalibratedClassifierCV(SVC, cv=3, ensemble=False)`` in ~2.5-3.5x, predicts in 1x;
    ``SVC(probability=True)`` (internal 5-fold Platt scaling, deprecated in 1.9) in ~4-5.5x with
    the same log loss on binary tasks. Calibration with ``ensemble=False`` keeps one SVC for
    prediction, and ``predict`` agrees with the argmax of ``predict_proba``.
    """
    from sklearn.svm import SVC

    svc = SVC(C=params["C"], gamma=gamma, kernel="rbf")
    return RareSafeCalibratedClassifierCV(svc, method="sigmoid", cv=_SVM_CALIBRATION_FOLDS, ensemble=False,
                                          n_jobs=n_jobs)


class RareSafeCalibratedClassifierCV(CalibratedClassifierCV):
    """:class:`~sklearn.calibration.CalibratedClassifierCV` that also fits when a class has fewer
    rows than the calibration folds (autometa keeps rare classes in training, see
    :func:`autometa.evaluate.make_splits`; cross-validated calibration refuses them): the
    estimator is then fitted on all rows and the sigmoid calibrated on its own training
    decisions, which is overconfident but covers every class. Exported pipeline code
    (:func:`pipeline_code`) uses the plain scikit-learn class."""

    def fit(self, X: Any, y: Any, **fit_params: Any) -> "RareSafeCalibratedClassifierCV":
        _, counts = np.unique(np.asarray(y), return_counts=True)
        if not (isinstance(self.cv, int) and len(counts) and counts.min() < self.cv):
            return super().fit(X, y, **fit_params)
        from sklearn.base import clone
        from sklearn.frozen import FrozenEstimator

        fitted = clone(self.estimator).fit(X, y, **fit_params)
        inner = CalibratedClassifierCV(FrozenEstimator(fitted), method=self.method).fit(X, y)
        for key, value in vars(inner).items():
            if key.endswith("_") and not key.startswith("_"):
                setattr(self, key, value)
        return self


def _estimator(algorithm: str, params: dict[str, Any], task: str, seed: int, device: str,
               n_jobs: int) -> Any:
    classification = task_kind(task) == CLASSIFICATION
    p = params
    if algorithm == "lightgbm":
        from lightgbm import LGBMClassifier, LGBMRegressor

        kwargs: dict[str, Any] = dict(
            n_estimators=p["n_estimators"], learning_rate=p["learning_rate"],
            num_leaves=p["num_leaves"], min_child_samples=p["min_child_samples"],
            subsample=p["subsample"],
            # LightGBM only bags rows when bagging_freq > 0
            subsample_freq=1 if p["subsample"] < 1.0 else 0,
            colsample_bytree=p["colsample_bytree"], reg_alpha=p["reg_alpha"],
            reg_lambda=p["reg_lambda"], random_state=seed, n_jobs=n_jobs, verbose=-1,
        )
        if device == "gpu":
            kwargs["device_type"] = "gpu"
        return (LGBMClassifier if classification else LGBMRegressor)(**kwargs)
    if algorithm == "hist_gb":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
        # early stopping off: max_iter is a searched parameter, and "auto" would switch
        # early stopping on only above 10,000 rows
        return cls(max_iter=p["max_iter"], learning_rate=p["learning_rate"],
                   max_leaf_nodes=p["max_leaf_nodes"], min_samples_leaf=p["min_samples_leaf"],
                   l2_regularization=p["l2_regularization"], max_features=p["max_features"],
                   categorical_features="from_dtype", early_stopping=False, random_state=seed)
    if algorithm in ("random_forest", "extra_trees"):
        from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor,
                                      RandomForestClassifier, RandomForestRegressor)

        if algorithm == "random_forest":
            cls = RandomForestClassifier if classification else RandomForestRegressor
        else:
            cls = ExtraTreesClassifier if classification else ExtraTreesRegressor
        # "fraction" + max_features_fraction -> the fraction (decoded in one place: autometa.space)
        max_features = model_params({"algorithm": algorithm, "params": p})["max_features"]
        return cls(n_estimators=p["n_estimators"], max_features=max_features,
                   min_samples_leaf=p["min_samples_leaf"],
                   min_samples_split=p["min_samples_split"], bootstrap=p["bootstrap"],
                   random_state=seed, n_jobs=n_jobs)
    if algorithm == "linear":
        if classification:
            return _logistic_regression(p, seed)
        from sklearn.linear_model import ElasticNet

        return ElasticNet(alpha=p["alpha"], l1_ratio=p["l1_ratio"],
                          max_iter=_ELASTICNET_MAX_ITER, random_state=seed)
    if algorithm == "svm":
        gamma = model_params({"algorithm": algorithm, "params": p})["gamma"]  # "scale" or gamma_value
        if classification:
            return _svm_classifier(p, gamma, seed, n_jobs)
        from sklearn.svm import SVR

        return SVR(C=p["C"], gamma=gamma, epsilon=p["epsilon"], kernel="rbf")
    if algorithm == "knn":
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        cls = KNeighborsClassifier if classification else KNeighborsRegressor
        return cls(n_neighbors=p["n_neighbors"], weights=p["weights"], p=p["p"], n_jobs=n_jobs)
    raise ConfigError(  # pragma: no cover - validate_config rejects unknown algorithms first
        f"no estimator for algorithm {algorithm!r}; choose from {', '.join(ALGORITHMS)}"
    )


def build_pipeline(config: dict, column_types: dict[str, str], task: str, *, seed: int = 0,
                   device: str = "cpu", n_jobs: int = 1) -> Pipeline:
    """An unfitted ``Pipeline([("preprocess", ...), ("model", ...)])`` for a configuration.

    ``config`` is validated (and completed with defaults) by :func:`autometa.space.validate_config`.
    Fit it on a DataFrame holding the ``column_types`` columns (float64 numeric, pandas
    ``category`` categoricals, NaN missing); other columns are dropped. Categorical levels unseen
    in training are ignored (one-hot), mapped to the prior (target encoding) or treated as missing
    (native). ``device="gpu"`` trains LightGBM on the GPU; other algorithms ignore it. ``n_jobs``
    goes to the models that take it (HistGradientBoosting uses OpenMP threads instead).
    Fit inside :func:`fit_context` to bound threads and silence expected warnings.
    """
    config = validate_config(config, task)
    column_types = _check_column_types(column_types)
    if device not in ("cpu", "gpu"):
        raise ConfigError(f"device={device!r} is not supported; use 'cpu' or 'gpu'")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise ConfigError(f"n_jobs={n_jobs!r} must be a non-zero integer (-1 for all cores)")
    algorithm = config["algorithm"]
    return Pipeline([
        ("preprocess", _preprocessor(algorithm, column_types, task, int(seed))),
        ("model", _estimator(algorithm, config["params"], task, int(seed), device, int(n_jobs))),
    ])


@contextlib.contextmanager
def fit_context(n_jobs: int = 1) -> Iterator[None]:
    """Fit and predict candidates with bounded threads and without the expected warnings.

    Limits OpenMP and BLAS thread pools to ``n_jobs`` threads (``-1``: no limit), which also
    bounds HistGradientBoosting (it has no ``n_jobs``) and avoids oversubscribed, spinning threads
    when several fits share a machine. Silences ConvergenceWarning (linear models and SVMs that
    stopped at ``max_iter`` are still usable) and scikit-learn's note that a class has fewer
    members than the target encoder's folds.
    """
    from threadpoolctl import threadpool_limits

    limits = None if n_jobs is None or n_jobs < 0 else max(int(n_jobs), 1)
    with warnings.catch_warnings(), threadpool_limits(limits=limits):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="The least populated class in y has only")
        yield


# ---------------------------------------------------------------- source code
_INDENT = "    "
_LINE = 88


def _public_module(cls: type) -> str:
    """The shortest public module exposing ``cls`` (``sklearn.ensemble``, not ``._forest``)."""
    module = cls.__module__
    parts = module.split(".")
    for i in range(1, len(parts) + 1):
        candidate = ".".join(parts[:i])
        if any(part.startswith("_") for part in parts[:i]):
            break
        try:
            if getattr(import_module(candidate), cls.__name__, None) is cls:
                return candidate
        except ImportError:  # pragma: no cover - a module that imported once imports again
            continue
    return module


def _call(name: str, args: list[str], indent: int) -> str:
    inline = f"{name}({', '.join(args)})"
    if "\n" not in inline and len(_INDENT * indent) + len(inline) <= _LINE:
        return inline
    inner = _INDENT * (indent + 1)
    return f"{name}(\n" + "".join(f"{inner}{a},\n" for a in args) + f"{_INDENT * indent})"


def _sequence(items: list[str], open_: str, close: str, indent: int) -> str:
    if open_ == "(" and len(items) == 1:
        return f"({items[0]},)"
    inline = open_ + ", ".join(items) + close
    if "\n" not in inline and len(_INDENT * indent) + len(inline) <= _LINE:
        return inline
    inner = _INDENT * (indent + 1)
    return open_ + "\n" + "".join(f"{inner}{i},\n" for i in items) + _INDENT * indent + close


def _same(value: Any, default: Any) -> bool:
    if value is default:
        return True
    if isinstance(value, BaseEstimator) or isinstance(default, BaseEstimator):
        return False
    try:
        return type(value) is type(default) and bool(value == default)
    except Exception:  # arrays and other values without a plain truth value
        return False


def _str(text: str) -> str:
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return repr(text)


def _render(value: Any, imports: set[tuple[str, str]], indent: int,
            show: frozenset[str] = frozenset()) -> str:
    """Python source that rebuilds ``value`` (an estimator, selector or plain parameter value).

    Estimator arguments equal to the library default are left out unless named in ``show``.
    """
    if isinstance(value, ColumnSelector):
        imports.add(("functools", "partial"))
        args = [f"columns={_render(list(value.columns), imports, indent + 1)}"]
        if value.min_levels:
            args.append(f"min_levels={value.min_levels}")
        if value.max_levels is not None:
            args.append(f"max_levels={value.max_levels}")
        return _call("partial", ["select_columns"] + args, indent)
    if value is lightgbm_safe_name:
        return "lightgbm_safe_name"
    if isinstance(value, (KFold, StratifiedKFold)):
        imports.add(("sklearn.model_selection", type(value).__name__))
        args = [str(value.n_splits), f"shuffle={value.shuffle!r}",
                f"random_state={value.random_state!r}"]
        return _call(type(value).__name__, args, indent)
    if hasattr(value, "get_params") and not isinstance(value, type):
        cls = type(value)
        while cls.__module__.split(".")[0] == "autometa":  # standalone code: the library class it extends
            cls = cls.__mro__[1]
        imports.add((_public_module(cls), cls.__name__))
        signature = inspect.signature(cls.__init__).parameters
        positional, keywords = [], []
        for key, val in value.get_params(deep=False).items():
            spec = signature.get(key)
            if spec is not None and spec.default is inspect.Parameter.empty:
                positional.append(_render(val, imports, indent + 1, show))
            elif isinstance(val, str) and val == "deprecated":
                continue  # a placeholder for an argument the library has retired (e.g. penalty)
            elif spec is None or key in show or not _same(val, spec.default):
                keywords.append(f"{key}={_render(val, imports, indent + 1, show)}")
        args = positional + keywords
        return _call(cls.__name__, args, indent)
    if isinstance(value, (list, tuple)):
        items = [_render(v, imports, indent + 1, show) for v in value]
        return _sequence(items, "[" if isinstance(value, list) else "(",
                         "]" if isinstance(value, list) else ")", indent)
    if isinstance(value, dict):
        items = [f"{_render(k, imports, indent + 1)}: {_render(v, imports, indent + 1)}"
                 for k, v in value.items()]
        return _sequence(items, "{", "}", indent)
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, (int, np.integer)):
        return repr(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            return f"float({str(value)!r})"
        return repr(value)
    if isinstance(value, str):
        return _str(value)
    if value is None:
        return "None"
    if isinstance(value, type):
        module = value.__module__ if value.__module__ != "builtins" else None
        if module is None:
            return value.__name__
        if module == "numpy":
            imports.add(("numpy", ""))
            return f"np.{value.__name__}"
        imports.add((module, value.__name__))
        return value.__name__
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as source")  # pragma: no cover


def _imports_block(imports: set[tuple[str, str]]) -> str:
    by_module: dict[str, set[str]] = {}
    for module, name in imports:
        by_module.setdefault(module, set()).add(name)
    std, third = [], []
    for module in sorted(by_module):
        names = sorted(n for n in by_module[module] if n)
        lines = []
        if "" in by_module[module]:
            lines.append("import numpy as np" if module == "numpy" else f"import {module}")
        if names:
            lines.append(f"from {module} import {', '.join(names)}")
        (std if module in ("functools",) else third).extend(lines)
    return "\n".join(std) + ("\n\n" if std else "") + "\n".join(third)


def pipeline_code(config: dict, column_types: dict[str, str], task: str, *, seed: int = 0) -> str:
    """Readable, runnable Python source that builds the same unfitted pipeline as
    :func:`build_pipeline` (CPU, one job), with plain scikit-learn / LightGBM imports.

    The source defines ``pipeline``; fit it with ``pipeline.fit(X, y)`` on a DataFrame whose
    categorical columns have the pandas ``category`` dtype.
    """
    pipe = build_pipeline(config, column_types, task, seed=seed)
    config = validate_config(config, task)
    algo = ALGORITHMS[config["algorithm"]]
    imports: set[tuple[str, str]] = {("sklearn.pipeline", "Pipeline")}
    preprocess = _render(pipe.named_steps["preprocess"], imports, 0)
    # the configuration's hyperparameters stay visible even where they equal a library default
    show = frozenset(config["params"]) | {"gamma"}
    model = _render(pipe.named_steps["model"], imports, 0, show)
    uses_selector = "select_columns" in preprocess
    parts = [
        f'"""{algo.label} pipeline for a {task} task, written by autometa.\n\n'
        "Fit with ``pipeline.fit(X, y)`` on a pandas DataFrame holding the columns named in\n"
        '``preprocess`` (numeric ones as floats, categorical ones with the "category" dtype, NaN\n'
        'for missing values).\n"""\n\n' + _imports_block(imports),
    ]
    if uses_selector:
        parts.append(inspect.getsource(select_columns).rstrip())
    if "lightgbm_safe_name" in preprocess:
        parts.append(inspect.getsource(lightgbm_safe_name).rstrip())
    body = f"preprocess = {preprocess}\n"
    if algo.native_categorical:
        body += ('# pandas output keeps the "category" dtype the model splits on natively\n'
                 'preprocess.set_output(transform="pandas")\n')
    body += (f"model = {model}\n"
             'pipeline = Pipeline([("preprocess", preprocess), ("model", model)])')
    parts.append(body)
    return "\n\n\n".join(parts) + "\n"


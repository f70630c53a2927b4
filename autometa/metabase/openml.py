"""Import OpenML run histories into a metabase: evaluations + setups -> autometa configurations.

:func:`import_openml` lists the run evaluations of OpenML tasks (optionally of chosen flows),
fetches the runs' hyperparameter setups, and maps each run's flow onto autometa's search space
(:mod:`autometa.space`) through small flow adapters (:data:`ADAPTERS`). Each task's dataset is
downloaded once to compute autometa's own meta-features (the same
:func:`autometa.metafeatures.describe` call and dataset columns as ``autometa metabase build``,
on the table typed by :func:`autometa.data.from_xy`); OpenML's data qualities are kept beside
them as ``openml_qualities`` (JSON). Datasets, configurations and runs go into a
:class:`autometa.metabase.store.Metabase`:

* runs get ``fold = -1`` (OpenML lists the evaluation aggregated over the task's folds),
  ``status = "ok"``, metric values as ``m_<name>`` (:data:`OPENML_METRICS`), ``seed`` = the
  OpenML run id (OpenML runs share no seed; the id keeps repeated runs of one configuration
  apart and makes re-imports idempotent), ``fit_seconds`` / ``predict_seconds`` NaN (not
  listed), and the provenance ``openml_run_id`` / ``openml_task_id`` / ``openml_flow_id`` /
  ``openml_setup_id`` / ``openml_flow`` plus ``openml_clipped`` (what was clipped into range);
* ``score`` is the first OpenML measure of :data:`OPENML_SCORES` the run has, oriented
  higher-is-better: AUC for binary tasks (autometa's default metric), predictive accuracy for
  multiclass ones (OpenML reports no log loss, autometa's multiclass default), RMSE for
  regression. ``metric`` names it (an autometa metric name, or ``openml_<measure>`` for a
  measure autometa computes differently) and ``protocol`` is
  ``openml:<estimation procedure>/<OpenML measure>`` (:func:`estimation_procedure`, e.g.
  ``openml:cv10r10/predictive_accuracy`` for 10 times repeated 10-fold CV), so that the
  meta-model never averages these scores with built runs (``autometa:cv<k>/<rows>``, see
  :mod:`autometa.metabase.store`);
* runs no adapter can map, or without any such measure, are written to ``unmapped.jsonl`` in
  the metabase folder (flow name, reason, and the score / metric / protocol they would have
  had) and counted in the summary.

An adapter turns the parameter values of one flow into a configuration and validates it with
:func:`autometa.space.validate_config`. Values outside autometa's ranges are clipped and the
clip is recorded; parameters autometa holds fixed (e.g. ``max_depth`` of a forest) must have
their default value, otherwise the run is not mapped, because the configuration would describe
a different model. Flows with no faithful counterpart are listed in :data:`NO_ADAPTER` with
the reason (xgboost, single trees, search wrappers, ...).
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, Union

from autometa import space
from autometa.errors import AutometaError, ConfigError, DataError

logger = logging.getLogger(__name__)

__all__ = [
    "ADAPTERS",
    "NO_ADAPTER",
    "OPENML_METRICS",
    "OPENML_SCORES",
    "DEFAULT_SERVER",
    "Adapter",
    "Adapted",
    "FlowContext",
    "Unmappable",
    "ImportSummary",
    "parse_value",
    "strip_version",
    "flow_estimator",
    "find_adapter",
    "map_run",
    "estimation_procedure",
    "openml_score",
    "import_openml",
]

DEFAULT_SERVER = "https://www.openml.org/api/v1/xml"
UNMAPPED_FILE = "unmapped.jsonl"

#: OpenML evaluation measure -> autometa metric name, per task. Only measures computed the same
#: way: OpenML's aggregated ``area_under_roc_curve`` is the class-frequency weighted mean of
#: one-vs-rest AUCs, which equals the AUC for binary tasks but not autometa's macro average for
#: multiclass ones; OpenML's RMSE/MAE of classification runs are on class probabilities.
OPENML_METRICS: dict[str, dict[str, str]] = {
    "binary": {"predictive_accuracy": "accuracy", "area_under_roc_curve": "roc_auc"},
    "multiclass": {"predictive_accuracy": "accuracy"},
    "regression": {"root_mean_squared_error": "rmse", "mean_absolute_error": "mae"},
}

#: OpenML measures a run's ``score`` is taken from, per task, in order of preference (the first
#: with a finite value counts). Binary: AUC (autometa's default metric, computed the same way).
#: Multiclass: predictive accuracy (OpenML's task measure; OpenML reports no log loss), else
#: OpenML's weighted AUC. Regression: RMSE (autometa's default), else MAE.
OPENML_SCORES: dict[str, tuple[str, ...]] = {
    "binary": ("area_under_roc_curve", "predictive_accuracy"),
    "multiclass": ("predictive_accuracy", "area_under_roc_curve"),
    "regression": ("root_mean_squared_error", "mean_absolute_error"),
}
#: whether a larger value of the OpenML measure is better
_HIGHER_IS_BETTER = {"predictive_accuracy": True, "area_under_roc_curve": True,
                     "root_mean_squared_error": False, "mean_absolute_error": False}

_CHUNK = 100  # ids per list call (OpenML's URLs must stay short)


# ================================================================== values and flow names
def parse_value(text: Any) -> Any:
    """An OpenML parameter value as Python: JSON (scikit-learn flows) or R literals (mlr flows).

    ``"10"`` -> 10, ``"\\"sqrt\\""`` -> "sqrt", ``"null"``/``"NA"``/``""`` -> None,
    ``"TRUE"``/``"true"`` -> True, ``"radial"`` -> "radial".
    """
    if text is None:
        return None
    if not isinstance(text, str):
        return text
    s = text.strip()
    if s == "":
        return None
    try:
        return json.loads(s)
    except ValueError:
        pass
    low = s.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    if low in ("na", "null", "none", "nan"):
        return None
    try:
        return float(s)
    except ValueError:
        return s


_VERSION = re.compile(r"\(\d+\)$")


def strip_version(flow_name: str) -> str:
    """``"mlr.classif.ranger(8)"`` -> ``"mlr.classif.ranger"`` (OpenML appends the flow version)."""
    return _VERSION.sub("", str(flow_name).strip())


def _split_top(args: str) -> list[str]:
    """Split ``a=x(b=y,c=z),d=w`` on the commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(args):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(args[start:i])
            start = i + 1
    parts.append(args[start:])
    return [p.strip() for p in parts if p.strip()]


def flow_estimator(flow_name: str) -> str:
    """The class of the model a flow fits: the last step of (nested) scikit-learn pipelines.

    ``sklearn.pipeline.Pipeline(imputer=...,svc=sklearn.svm.SVC)(1)`` -> ``sklearn.svm.SVC``;
    other flows give their own name without version and components
    (``sklearn.model_selection.RandomizedSearchCV(estimator=...)`` -> ``...RandomizedSearchCV``).
    """
    name = strip_version(flow_name)
    while True:
        head, paren, rest = name.partition("(")
        if not paren or not rest.endswith(")"):
            return head
        if head.rsplit(".", 1)[-1] != "Pipeline":
            return head
        steps = _split_top(rest[:-1])
        if not steps:
            return head
        last = steps[-1]
        key, eq, value = last.partition("=")
        name = strip_version(value if eq and "(" not in key else last)


# ================================================================== adapter machinery
@dataclass(frozen=True)
class FlowContext:
    """What an adapter may need to know about the task a run was made on."""

    task: str  # "binary", "multiclass" or "regression"
    n_rows: int
    n_features: int  # feature columns as OpenML serves them (what mtry / int max_features count)
    n_train: float  # rows each model was trained on (the task's estimation procedure)

    @property
    def kind(self) -> str:
        """The task kind: classification or regression."""
        return space.task_kind(self.task)


@dataclass
class Adapted:
    """An adapter's result: the validated configuration and what the mapping changed."""

    config: dict
    clipped: list[str] = field(default_factory=list)  # "num.trees=2000 -> n_estimators=500"
    notes: list[str] = field(default_factory=list)  # approximations and ignored settings


class Unmappable(Exception):
    """A run whose flow or parameter values have no faithful autometa configuration."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Unmappable(f"{what}={value!r} is not a number")
    v = float(value)
    if not math.isfinite(v):
        raise Unmappable(f"{what}={value!r} is not finite")
    return v


class _Builder:
    """Collects autometa parameter values for one algorithm, clipping numbers into range."""

    def __init__(self, algorithm: str, ctx: FlowContext) -> None:
        self.algorithm = algorithm
        self.ctx = ctx
        self.params: dict[str, Any] = {}
        self.clipped: list[str] = []
        self.notes: list[str] = []
        algo = space.get_algorithm(algorithm)
        self._specs = {p.name: p for p in algo.params if ctx.kind in p.tasks}

    def number(self, name: str, value: Any, source: str) -> None:
        """Set a numeric parameter from ``value`` (described by ``source``), clipped to its range."""
        spec = self._specs[name]
        v = _number(value, source.split("=")[0])
        target: float = v
        if spec.kind == "int":
            target = float(math.floor(v + 0.5))
        lo, hi = float(spec.low), float(spec.high)
        clipped = min(max(target, lo), hi)
        final: Union[int, float] = int(clipped) if spec.kind == "int" else float(clipped)
        if clipped != target:
            self.clipped.append(f"{source} -> {name}={_fmt(final)}")
        elif target != v:
            self.notes.append(f"{source} rounded to {name}={_fmt(final)}")
        self.params[name] = final

    def choice(self, name: str, value: Any) -> None:
        """Set a categorical or boolean parameter."""
        self.params[name] = value

    def note(self, text: str) -> None:
        """Record an approximation or an ignored setting."""
        self.notes.append(text)

    def done(self) -> Adapted:
        """Validate with :func:`autometa.space.validate_config` (ConfigError -> Unmappable)."""
        try:
            config = space.validate_config({"algorithm": self.algorithm, "params": self.params}, self.ctx.task)
        except ConfigError as exc:
            raise Unmappable(str(exc)) from None
        return Adapted(config=config, clipped=list(self.clipped), notes=list(self.notes))


def _require(params: dict[str, Any], name: str, allowed: Sequence[Any], why: str) -> None:
    """Refuse a run whose parameter autometa holds fixed has another value."""
    if name in params and params[name] not in allowed:
        raise Unmappable(f"{name}={params[name]!r} ({why})")


def _fraction_or_count(value: Any, ctx_total: float, what: str) -> tuple[float, str]:
    """scikit-learn's int-or-fraction convention -> a fraction of ``ctx_total``."""
    v = _number(value, what)
    if isinstance(value, float) and 0.0 < v <= 1.0:
        return v, f"{what}={_fmt(value)}"
    return v / max(ctx_total, 1.0), f"{what}={_fmt(value)} (fraction {_fmt(v / max(ctx_total, 1.0))})"


def _count(value: Any, total: float, what: str) -> float:
    """scikit-learn's int-or-fraction-of-rows convention -> a count (fractions are of ``total``)."""
    v = _number(value, what)
    if isinstance(value, float) and 0.0 < v < 1.0:
        return float(math.ceil(v * total))
    return v


@dataclass(frozen=True)
class Adapter:
    """Maps one family of flows to an autometa algorithm; ``doc`` says how and what is lost."""

    algorithm: str
    convert: Callable[[dict[str, Any], FlowContext, str], Adapted] = field(repr=False)
    doc: str = ""

    def __call__(self, params: dict[str, Any], ctx: FlowContext, estimator: str = "") -> Adapted:
        """The configuration for parameter values ``params`` (parsed with :func:`parse_value`)."""
        return self.convert(params, ctx, estimator)


# ================================================================== mlr (R) flows
def _mlr_ranger(p: dict[str, Any], ctx: FlowContext, estimator: str) -> Adapted:
    algo = "extra_trees" if p.get("splitrule") == "extratrees" else "random_forest"
    _require(p, "max.depth", (None, 0, 0.0), "autometa grows trees to full depth")
    _require(p, "class.weights", (None,), "autometa does not weight classes")
    _require(p, "splitrule", (None, "gini", "variance", "extratrees"), "autometa splits on gini/variance")
    b = _Builder(algo, ctx)
    trees = p.get("num.trees")
    b.number("n_estimators", 500 if trees is None else trees, f"num.trees={_fmt(500 if trees is None else trees)}")
    mtry = p.get("mtry")
    if mtry is None:  # ranger's default: floor(sqrt(number of features))
        b.choice("max_features", "sqrt")
    else:
        v = _number(mtry, "mtry")
        frac = v if 0.0 < v < 1.0 else v / max(ctx.n_features, 1)
        b.choice("max_features", "fraction")
        b.number("max_features_fraction", frac, f"mtry={_fmt(mtry)} (fraction {_fmt(frac)})")
    # ranger leaves a node unsplit when it holds <= min.node.size rows (defaults 1 / 5)
    size = p.get("min.node.size")
    size = (5 if ctx.kind == "regression" else 1) if size is None else size
    b.number("min_samples_split", _number(size, "min.node.size") + 1, f"min.node.size={_fmt(size)}")
    replace = p.get("replace")
    replace = True if replace is None else bool(replace)
    b.choice("bootstrap", replace)
    fraction = p.get("sample.fraction")
    if fraction is not None and abs(_number(fraction, "sample.fraction") - (1.0 if replace else 0.632)) > 1e-9:
        b.note(f"sample.fraction={_fmt(fraction)} ignored (autometa's forests draw all rows)")
    if p.get("respect.unordered.factors") not in (None, False, "ignore"):
        b.note(f"respect.unordered.factors={p['respect.unordered.factors']} ignored")
    return b.done()


def _mlr_svm(p: dict[str, Any], ctx: FlowContext, estimator: str) -> Adapted:
    kernel = p.get("kernel") or "radial"
    if kernel != "radial":
        raise Unmappable(f"kernel={kernel} (autometa's svm has the RBF kernel only)")
    _require(p, "type", (None, "C-classification", "eps-regression"), "autometa fits C-SVC / epsilon-SVR")
    _require(p, "class.weights", (None,), "autometa does not weight classes")
    b = _Builder("svm", ctx)
    gamma = p.get("gamma")  # None: e1071's default 1/ncol(x) on standardised inputs = scikit-learn's "scale"
    _svm_rbf(b, ctx, "cost", p.get("cost"), gamma, None if gamma is None else f"gamma={_fmt(gamma)}",
             p.get("epsilon"))
    if p.get("scale") is False:
        b.note("scale=FALSE ignored (autometa standardises svm inputs)")
    return b.done()


def _mlr_glmnet(p: dict[str, Any], ctx: FlowContext, estimator: str) -> Adapted:
    lam = p.get("s") if p.get("s") is not None else p.get("lambda")
    if lam is None:
        raise Unmappable("no single lambda (s/lambda unset: glmnet fitted a whole regularisation path)")
    lam = _number(lam, "lambda")
    if lam <= 0:
        raise Unmappable(f"lambda={_fmt(lam)} (autometa's linear models are penalised)")
    alpha = p.get("alpha")
    alpha = 1.0 if alpha is None else _number(alpha, "alpha")
    if not 0.0 <= alpha <= 1.0:
        raise Unmappable(f"alpha={_fmt(alpha)} is outside [0, 1]")
    b = _Builder("linear", ctx)
    if p.get("standardize") is False:
        b.note("standardize=FALSE ignored (autometa standardises linear-model inputs)")
    if ctx.kind == "classification":
        # glmnet: -loglik/N + lambda*[(1-alpha)/2 |b|^2 + alpha |b|_1]; scikit-learn's
        # LogisticRegression: C * sum(loss) + penalty, i.e. the same objective with C = 1/(lambda*N)
        penalty = "l2" if alpha == 0.0 else "l1" if alpha == 1.0 else "elasticnet"
        b.choice("penalty", penalty)
        c = 1.0 / (lam * ctx.n_train)
        b.number("C", c, f"lambda={_fmt(lam)} (C=1/(lambda*n_train)={_fmt(c)})")
        if penalty == "elasticnet":
            b.number("l1_ratio", alpha, f"alpha={_fmt(alpha)}")
    else:
        # glmnet gaussian: RSS/(2N) + lambda*[...] is scikit-learn's ElasticNet with alpha=lambda
        b.number("alpha", lam, f"lambda={_fmt(lam)}")
        b.number("l1_ratio", alpha, f"alpha={_fmt(alpha)}")
    return b.done()


def _mlr_kknn(p: dict[str, Any], ctx: FlowContext, estimator: str) -> Adapted:
    b = _Builder("knn", ctx)
    k = p.get("k")
    b.number("n_neighbors", 7 if k is None else k, f"k={_fmt(7 if k is None else k)}")
    _set_minkowski(b, p.get("distance"), "distance")
    kernel = p.get("kernel") or "optimal"
    if kernel == "rectangular":
        b.choice("weights", "uniform")
    else:
        b.choice("weights", "distance")
        b.note(f"kernel={kernel} approximated by inverse-distance weights")
    return b.done()


def _set_minkowski(b: _Builder, p_value: Any, what: str) -> None:
    """Minkowski power -> autometa's p in {1, 2} (nearest; other powers are recorded as clipped)."""
    v = 2.0 if p_value is None else _number(p_value, what)
    nearest = 1 if v < 1.5 else 2
    if v != nearest:
        b.clipped.append(f"{what}={_fmt(p_value)} -> p={nearest}")
    b.choice("p", nearest)


# ================================================================== scikit-learn flows
def _is_regressor(estimator: str) -> bool:
    return estimator.endswith("Regressor") or estimator.endswith("SVR")


def _check_kind(estimator: str, ctx: FlowContext) -> None:
    if _is_regressor(estimator) != (ctx.kind == "regression"):
        raise Unmappable(f"{estimator.rsplit('.', 1)[-1]} does not fit a {ctx.task} task")


def _sk_forest(p: dict[str, Any], ctx: FlowContext, estimator: str) -> Adapted:
    _check_kind(estimator, ctx)
    for name, allowed in (("max_depth", (None,)), ("max_leaf_nodes", (None,)),
                          ("min_impurity_decrease", (0, 0.0)), ("min_weight_fraction_leaf", (0, 0.0)),
                          ("class_weight", (None,)), ("max_samples", (None,)), ("ccp_alpha", (0, 0.0)),
                          ("min_impurity_split", (None, 0, 0.0, 1e-7)), ("monotonic_cst", (None,))):
        _require(p, name, allowed, "autometa keeps it at scikit-learn's default")
    extra = "ExtraTrees" in estimator
    b = _Builder("extra_trees" if extra else "random_forest", ctx)
    n = p.get("n_estimators")
    b.number("n_estimators", 100 if n is None else n, f"n_estimators={_fmt(100 if n is None else n)}")
    regression = ctx.kind == "regression"
    mf = p["max_features"] if "max_features" in p else ("sqrt" if not regression else 1.0)
    if mf == "auto":  # old scikit-learn: sqrt for classifiers, all features for regressors
        mf = 1.0 if regression else "sqrt"
    if mf in ("sqrt", "log2"):
        b.choice("max_features", mf)
    elif mf is None:
        b.choice("max_features", "fraction")
        b.choice("max_features_fraction", 1.0)
    else:
        frac, source = _fraction_or_count(mf, ctx.n_features, "max_features")
        b.choice("max_features", "fraction")
        b.number("max_features_fraction", frac, source)
    for name, default in (("min_samples_leaf", 1), ("min_samples_split", 2)):
        raw = p.get(name)
        raw = default if raw is None else raw
        b.number(name, _count(raw, ctx.n_train, name), f"{name}={_fmt(raw)}")
    boot = p.get("bootstrap")
    b.choice("bootstrap", (not extra) if boot is None else bool(boot))
    crit = p.get("criterion")
    if crit not in (None, "gini", "squared_error", "mse"):
        b.note(f"criterion={crit} ignored (autometa uses gini / squared error)")
    return b.done()


def _sk_svm(p: dict[str, Any], ctx: FlowContext, estimator: str) -> Adapted:
    _check_kind(estimator, ctx)
    kernel = p.get("kernel") or "rbf"
    if kernel != "rbf":
        raise Unmappable(f"kernel={kernel} (autometa's svm has the RBF kernel only)")
    _require(p, "class_weight", (None,), "autometa does not weight classes")
    b = _Builder("svm", ctx)
    gamma = p.get("gamma")
    if gamma in (None, "scale"):
        value, source = None, None
    elif gamma in ("auto", "auto_deprecated"):  # 1 / n_features
        value, source = 1.0 / max(ctx.n_features, 1), f"gamma={gamma} (1/n_features)"
    else:
        value, source = gamma, f"gamma={_fmt(gamma)}"
    _svm_rbf(b, ctx, "C", p.get("C"), value, source, p.get("epsilon"))
    return b.done()


def _svm_rbf(b: _Builder, ctx: FlowContext, cost_name: str, cost: Any, gamma: Any,
             gamma_source: Optional[str], epsilon: Any) -> None:
    """What both SVM translators set: C (the flow calls it ``cost_name``; default 1), gamma
    ("scale" when ``gamma`` is None, else the value) and, for regression, epsilon (default 0.1)."""
    c = 1.0 if cost is None else cost
    b.number("C", c, f"{cost_name}={_fmt(c)}")
    if gamma is None:
        b.choice("gamma", "scale")
    else:
        b.choice("gamma", "value")
        b.number("gamma_value", gamma, gamma_source)
    if ctx.kind == "regression":
        b.number("epsilon", 0.1 if epsilon is None else epsilon, f"epsilon={_fmt(0.1 if epsilon is None else epsilon)}")


_MINKOWSKI = {"minkowski": None, "euclidean": 2, "l2": 2, "manhattan": 1, "cityblock": 1, "l1": 1}


def _sk_knn(p: dict[str, Any], ctx: FlowContext, estimator: str) -> Adapted:
    _check_kind(estimator, ctx)
    metric = p.get("metric") or "minkowski"
    if metric not in _MINKOWSKI:
        raise Unmappable(f"metric={metric} (autometa's knn uses Minkowski distances with p=1 or 2)")
    _require(p, "metric_params", (None, {}), "autometa passes no metric parameters")
    weights = p.get("weights") or "uniform"
    if weights not in ("uniform", "distance"):
        raise Unmappable(f"weights={weights!r} (autometa's knn weights are uniform or distance)")
    b = _Builder("knn", ctx)
    k = p.get("n_neighbors")
    b.number("n_neighbors", 5 if k is None else k, f"n_neighbors={_fmt(5 if k is None else k)}")
    b.choice("weights", weights)
    fixed = _MINKOWSKI[metric]
    _set_minkowski(b, p.get("p") if fixed is None else fixed, "p")
    return b.done()


def _sk_logistic(p: dict[str, Any], ctx: FlowContext, estimator: str) -> Adapted:
    if ctx.kind != "classification":
        raise Unmappable(f"LogisticRegression does not fit a {ctx.task} task")
    _require(p, "class_weight", (None,), "autometa does not weight classes")
    _require(p, "fit_intercept", (None, True), "autometa fits an intercept")
    b = _Builder("linear", ctx)
    penalty = p.get("penalty")
    ratio = p.get("l1_ratio")
    if penalty in (None, "deprecated"):  # scikit-learn >= 1.8 describes the penalty by l1_ratio
        r = 0.0 if ratio is None else _number(ratio, "l1_ratio")
        penalty = "l2" if r == 0.0 else "l1" if r == 1.0 else "elasticnet"
    c = p.get("C")
    c = 1.0 if c is None else c
    if penalty == "none" or (isinstance(c, (int, float)) and math.isinf(float(c))):
        b.choice("penalty", "l2")
        b.number("C", 1e300, "penalty=none (unpenalised)")
    elif penalty in ("l1", "l2", "elasticnet"):
        b.choice("penalty", penalty)
        b.number("C", c, f"C={_fmt(c)}")
        if penalty == "elasticnet":
            b.number("l1_ratio", 0.5 if ratio is None else ratio, f"l1_ratio={_fmt(ratio)}")
    else:
        raise Unmappable(f"penalty={penalty!r} is not l1, l2, elasticnet or none")
    return b.done()


def _sk_linear_regression(p: dict[str, Any], ctx: FlowContext, estimator: str) -> Adapted:
    if ctx.kind != "regression":
        raise Unmappable(f"{estimator.rsplit('.', 1)[-1]} does not fit a {ctx.task} task")
    _require(p, "fit_intercept", (None, True), "autometa fits an intercept")
    _require(p, "positive", (None, False), "autometa does not constrain coefficients")
    cls = estimator.rsplit(".", 1)[-1]
    b = _Builder("linear", ctx)
    alpha = p.get("alpha")
    alpha = 1.0 if alpha is None else alpha
    if cls == "ElasticNet":
        ratio = p.get("l1_ratio")
        b.number("alpha", alpha, f"alpha={_fmt(alpha)}")
        b.number("l1_ratio", 0.5 if ratio is None else ratio, f"l1_ratio={_fmt(0.5 if ratio is None else ratio)}")
    elif cls == "Lasso":
        b.number("alpha", alpha, f"alpha={_fmt(alpha)}")
        b.choice("l1_ratio", 1.0)
    elif cls == "Ridge":
        # Ridge: |y-Xw|^2 + a|w|^2 equals ElasticNet's |y-Xw|^2/(2n) + alpha/2 |w|^2 at alpha = a/n
        scaled = _number(alpha, "alpha") / ctx.n_train
        b.number("alpha", scaled, f"alpha={_fmt(alpha)} (ridge alpha/n_train={_fmt(scaled)})")
        b.choice("l1_ratio", 0.0)
    else:  # LinearRegression: no penalty
        b.number("alpha", 0.0, "unpenalised (LinearRegression)")
    return b.done()


_HGB_LOSSES = (None, "auto", "log_loss", "binary_crossentropy", "categorical_crossentropy",
               "squared_error", "least_squares")


def _sk_hist_gb(p: dict[str, Any], ctx: FlowContext, estimator: str) -> Adapted:
    _check_kind(estimator, ctx)
    _require(p, "loss", _HGB_LOSSES, "autometa uses the default loss")
    _require(p, "max_depth", (None,), "autometa does not limit the depth")
    _require(p, "class_weight", (None,), "autometa does not weight classes")
    _require(p, "monotonic_cst", (None,), "autometa sets no monotonic constraints")
    _require(p, "interaction_cst", (None,), "autometa sets no interaction constraints")
    b = _Builder("hist_gb", ctx)
    for name, default in (("max_iter", 100), ("learning_rate", 0.1), ("min_samples_leaf", 20),
                          ("l2_regularization", 0.0), ("max_features", 1.0)):
        v = p.get(name)
        v = default if v is None else v
        b.number(name, v, f"{name}={_fmt(v)}")
    leaves = p["max_leaf_nodes"] if "max_leaf_nodes" in p else 31
    if leaves is None:
        b.number("max_leaf_nodes", 1e9, "max_leaf_nodes=None (unlimited)")
    else:
        b.number("max_leaf_nodes", leaves, f"max_leaf_nodes={_fmt(leaves)}")
    stop = p.get("early_stopping")
    if stop is True or (stop == "auto" and ctx.n_train > 10_000):
        b.note(f"early_stopping={stop} ignored (autometa trains all max_iter iterations)")
    return b.done()


def _lgbm(p: dict[str, Any], ctx: FlowContext, estimator: str) -> Adapted:
    _check_kind(estimator, ctx)
    _require(p, "boosting_type", (None, "gbdt"), "autometa boosts plain gbdt trees")
    _require(p, "max_depth", (None, -1, 0), "autometa does not limit the depth")
    _require(p, "class_weight", (None,), "autometa does not weight classes")
    b = _Builder("lightgbm", ctx)
    for name, default in (("n_estimators", 100), ("learning_rate", 0.1), ("num_leaves", 31),
                          ("min_child_samples", 20), ("colsample_bytree", 1.0),
                          ("reg_alpha", 0.0), ("reg_lambda", 0.0)):
        v = p.get(name)
        v = default if v is None else v
        b.number(name, v, f"{name}={_fmt(v)}")
    sub = p.get("subsample")
    sub = 1.0 if sub is None else sub
    freq = p.get("subsample_freq")
    if freq in (None, 0) and _number(sub, "subsample") < 1.0:
        b.note(f"subsample={_fmt(sub)} had no effect (subsample_freq=0): mapped to 1.0")
        sub = 1.0
    elif freq not in (None, 0, 1):
        b.note(f"subsample_freq={freq} treated as 1")
    b.number("subsample", sub, f"subsample={_fmt(sub)}")
    return b.done()


# ================================================================== the registries
_SK = r"sklearn(\.\w+)*\."

#: Flow class pattern (a regular expression matched in full against :func:`flow_estimator`'s
#: result) -> adapter. mlr flows are OpenML's R "random bot" learners.
ADAPTERS: dict[str, Adapter] = {
    r"mlr\.(classif|regr)\.ranger": Adapter(
        "random_forest", _mlr_ranger,
        "ranger: num.trees->n_estimators; mtry->max_features_fraction (mtry/n_features; unset -> "
        "sqrt); min.node.size m -> min_samples_split m+1 (ranger does not split nodes of <= m "
        "rows); replace->bootstrap; splitrule=extratrees -> extra_trees; sample.fraction ignored"),
    r"mlr\.(classif|regr)\.svm": Adapter(
        "svm", _mlr_svm,
        "e1071 svm with kernel=radial: cost->C, gamma->gamma_value (unset -> scale), epsilon; "
        "other kernels are not mapped"),
    r"mlr\.(classif|regr)\.glmnet": Adapter(
        "linear", _mlr_glmnet,
        "glmnet: classification C = 1/(lambda*n_train), alpha 0/1/else -> l2/l1/elasticnet with "
        "l1_ratio=alpha; regression alpha=lambda, l1_ratio=alpha (same objectives)"),
    r"mlr\.(classif|regr)\.kknn": Adapter(
        "knn", _mlr_kknn,
        "kknn: k->n_neighbors, distance->p (nearest of 1, 2), kernel rectangular -> uniform, "
        "other kernels approximated by distance weights"),
    _SK + r"(RandomForest|ExtraTrees)(Classifier|Regressor)": Adapter(
        "random_forest", _sk_forest,
        "forests: n_estimators, max_features (sqrt/log2, 'auto', None, int or float -> fraction), "
        "min_samples_leaf/split (fractions of n_train -> counts), bootstrap; depth limits, class "
        "weights and max_samples must be default"),
    _SK + r"(SVC|SVR)": Adapter(
        "svm", _sk_svm, "SVC/SVR with kernel=rbf: C, gamma (scale; auto -> 1/n_features; float), epsilon"),
    _SK + r"KNeighbors(Classifier|Regressor)": Adapter(
        "knn", _sk_knn, "k-NN: n_neighbors, weights, Minkowski p (euclidean -> 2, manhattan -> 1)"),
    _SK + r"LogisticRegression": Adapter(
        "linear", _sk_logistic, "LogisticRegression: C, penalty (none -> l2 at the largest C), l1_ratio"),
    _SK + r"(ElasticNet|Lasso|Ridge|LinearRegression)": Adapter(
        "linear", _sk_linear_regression,
        "ElasticNet (alpha, l1_ratio), Lasso (l1_ratio=1), Ridge (alpha/n_train, l1_ratio=0), "
        "LinearRegression (smallest alpha)"),
    _SK + r"HistGradientBoosting(Classifier|Regressor)": Adapter(
        "hist_gb", _sk_hist_gb,
        "HistGradientBoosting: max_iter, learning_rate, max_leaf_nodes (None -> 256), "
        "min_samples_leaf, l2_regularization, max_features"),
    r"lightgbm(\.\w+)*\.LGBM(Classifier|Regressor)": Adapter(
        "lightgbm", _lgbm,
        "LightGBM scikit-learn API: the same parameter names; subsample counts only with subsample_freq>0"),
}

#: Flow class pattern -> why it is deliberately not mapped (reported as the unmapped reason).
NO_ADAPTER: dict[str, str] = {
    r"mlr\.(classif|regr)\.xgboost|" + r"xgboost(\.\w+)*\.XGB\w+":
        "xgboost grows depth-wise trees limited by max_depth and hessian-weighted min_child_weight; "
        "autometa's lightgbm grows leaf-wise (num_leaves, min_child_samples), so its parameters do "
        "not carry over faithfully",
    r"mlr\.(classif|regr)\.(rpart|J48|ctree)|" + _SK + r"DecisionTree(Classifier|Regressor)|weka\.\w+":
        "single decision trees (and Weka learners) are not in autometa's search space",
    _SK + r"(GradientBoosting|AdaBoost|Bagging)(Classifier|Regressor)":
        "depth-limited exact-split boosting and bagging ensembles are not in autometa's space",
    r".*SearchCV":
        "a hyperparameter search flow: its setup does not fix the hyperparameters of the final model",
}


def find_adapter(estimator: str) -> Optional[tuple[str, Adapter]]:
    """The ``(pattern, adapter)`` whose pattern matches the estimator class, or None."""
    for pattern, adapter in ADAPTERS.items():
        if re.fullmatch(pattern, estimator):
            return pattern, adapter
    return None


def _no_adapter_reason(estimator: str) -> str:
    for pattern, reason in NO_ADAPTER.items():
        if re.fullmatch(pattern, estimator):
            return reason
    return f"no adapter for flow class {estimator}"


def _estimator_params(parameters: Any, estimator: str) -> dict[str, Any]:
    """The setup's parameter values of the flow whose name is ``estimator``, parsed."""
    out: dict[str, Any] = {}
    if not parameters:
        return out
    items: Iterable[Any] = parameters.values() if isinstance(parameters, dict) else parameters
    for prm in items:
        get = prm.get if isinstance(prm, dict) else (lambda k, _p=prm: getattr(_p, k, None))
        flow = strip_version(str(get("flow_name") or ""))
        if flow != estimator:
            continue
        name = get("parameter_name")
        if name:
            out[str(name)] = parse_value(get("value"))
    return out


def map_run(flow_name: str, parameters: Any, ctx: FlowContext) -> Adapted:
    """Map one run (its flow name and setup parameters) to an autometa configuration.

    ``parameters`` is a setup's parameter list or dict (``flow_name``, ``parameter_name``,
    ``value`` per entry, as ``openml.setups.list_setups`` returns them). Raises
    :class:`Unmappable` with the reason when no adapter applies or the values cannot be mapped.
    """
    estimator = flow_estimator(flow_name)
    found = find_adapter(estimator)
    if found is None:
        raise Unmappable(_no_adapter_reason(estimator))
    _pattern, adapter = found
    return adapter(_estimator_params(parameters, estimator), ctx, estimator)


# ================================================================== OpenML session and errors
@contextlib.contextmanager
def _openml_session(server: str, cache_dir: Optional[Path], retries: int) -> Iterator[Any]:
    """Point the ``openml`` package at ``server`` and a cache folder; restore its settings after.

    The API key is cleared for the session: reads need none, and it must not go to another server.
    """
    try:
        import openml
    except ImportError:  # pragma: no cover - openml is a dependency
        raise ConfigError("import-openml needs the openml package; install it with `pip install openml`") from None
    cfg = openml.config
    saved = (cfg.server, cfg.apikey, Path(cfg._root_cache_directory), cfg.connection_n_retries,
             cfg.retry_policy, cfg.show_progress)
    tmp: Optional[tempfile.TemporaryDirectory] = None
    try:
        if cache_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="autometa-openml-")
            cache_dir = Path(tmp.name)
        cache_dir.mkdir(parents=True, exist_ok=True)
        cfg.server = server
        cfg.apikey = ""
        cfg.set_root_cache_directory(cache_dir)
        cfg.set_retry_policy("human", max(1, int(retries)))
        cfg.show_progress = False
        yield openml
    finally:
        cfg.server, cfg.apikey = saved[0], saved[1]
        cfg.set_root_cache_directory(saved[2])
        cfg.set_retry_policy(saved[4], saved[3])
        cfg.show_progress = saved[5]
        if tmp is not None:
            tmp.cleanup()


def _first_line(text: Any, limit: int = 160) -> str:
    lines = str(text).strip().splitlines()
    line = lines[0].strip() if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _is_network_error(exc: BaseException) -> bool:
    import requests
    import urllib3

    seen: set[int] = set()
    cur: Optional[BaseException] = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                            urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _translate(exc: BaseException, server: str, what: str) -> AutometaError:
    """One-line DataError for an OpenML error response, an unreachable server or a bad download."""
    from openml.exceptions import OpenMLServerError, OpenMLServerException

    if isinstance(exc, OpenMLServerException):
        message = re.sub(r"\s+-\s+None$", "", str(getattr(exc, "message", "") or "")).strip()
        return DataError(
            f"OpenML error {exc.code} ({_first_line(message, 120)}) while fetching {what}; "
            "check the id (it must exist on the server) or the --server URL"
        )
    if _is_network_error(exc):
        return DataError(
            f"OpenML could not be reached at {server} ({type(exc).__name__}); check the network or "
            "--server, or build a metabase offline with `autometa metabase build`"
        )
    if isinstance(exc, OpenMLServerError):
        return DataError(f"OpenML answered unexpectedly while fetching {what} ({_first_line(exc, 120)}); "
                         "retry later or check the --server URL")
    return DataError(f"fetching {what} from OpenML failed ({type(exc).__name__}: {_first_line(exc, 120)}); "
                     "retry, or pass --debug for the traceback")


def _call(fn: Callable[..., Any], server: str, what: str, *args: Any, **kwargs: Any) -> Any:
    """Run one ``openml`` call, turning its failures into one-line DataErrors."""
    try:
        return fn(*args, **kwargs)
    except AutometaError:
        raise
    except Exception as exc:  # openml/requests raise many types; all become one line
        raise _translate(exc, server, what) from exc


# ================================================================== the importer
@dataclass
class ImportSummary:
    """What :func:`import_openml` did (``to_dict`` for JSON)."""

    out: str
    server: str
    tasks: list[dict] = field(default_factory=list)
    skipped_tasks: dict[str, str] = field(default_factory=dict)
    datasets_new: int = 0
    configs: int = 0
    runs_listed: int = 0
    runs_added: int = 0
    runs_existing: int = 0
    runs_unmapped: int = 0
    runs_clipped: int = 0
    unmapped_by_flow: dict[str, int] = field(default_factory=dict)
    unmapped_file: Optional[str] = None
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """Plain JSON-able dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _parse_ids(values: Union[None, str, int, Iterable[Any]], what: str) -> Optional[list[int]]:
    if values is None:
        return None
    items = values.split(",") if isinstance(values, str) else [values] if isinstance(values, int) else list(values)
    out: list[int] = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        if not re.fullmatch(r"\d+", text):
            raise ConfigError(f"{what} must be positive integer ids separated by commas, got {text!r}")
        out.append(int(text))
    return out


def _procedure(task: Any) -> tuple[str, float, float, float]:
    """``(type, folds, repeats, percentage)`` of a task's estimation procedure (0 when not given)."""
    procedure = getattr(task, "estimation_procedure", None) or {}
    params = procedure.get("parameters") or {}

    def _num(key: str) -> float:
        try:
            return float(params.get(key) or 0)
        except (TypeError, ValueError):
            return 0.0

    kind = str(procedure.get("type") or "").lower()
    return kind, _num("number_folds"), _num("number_repeats"), _num("percentage")


def _train_rows(task: Any, n_rows: int) -> float:
    """Rows one model of the task's estimation procedure was trained on (k-fold CV or holdout)."""
    kind, folds, _repeats, pct = _procedure(task)
    if folds > 1 and "holdout" not in kind:
        return n_rows * (folds - 1) / folds
    if 0 < pct < 100:
        return n_rows * (100 - pct) / 100
    return float(n_rows)


def _task_kind_of(task: Any) -> Optional[str]:
    from openml.tasks import TaskType

    ttype = getattr(task, "task_type_id", None)
    if ttype == TaskType.SUPERVISED_CLASSIFICATION:
        return "classification"
    if ttype == TaskType.SUPERVISED_REGRESSION:
        return "regression"
    return None


def _chunks(items: Sequence[int], n: int = _CHUNK) -> Iterator[list[int]]:
    for i in range(0, len(items), n):
        yield list(items[i:i + n])


def _list_evaluations(oml: Any, server: str, function: str, task_id: int, *, flows: Optional[list[int]],
                      size: Optional[int], runs: Optional[list[int]] = None) -> Any:
    import pandas as pd

    frames = []
    if runs is None:
        frames.append(_call(oml.evaluations.list_evaluations, server, f"the {function} evaluations of task {task_id}",
                            function, tasks=[task_id], flows=flows, size=size, output_format="dataframe"))
    else:
        for chunk in _chunks(runs):
            frames.append(_call(oml.evaluations.list_evaluations, server,
                                f"the {function} evaluations of task {task_id}",
                                function, runs=chunk, size=None, output_format="dataframe"))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _list_setups(oml: Any, server: str, setup_ids: list[int]) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for chunk in _chunks(sorted(set(setup_ids))):
        df = _call(oml.setups.list_setups, server, f"setups {chunk[0]}..{chunk[-1]}", setup=chunk,
                   output_format="dataframe")
        for _, row in df.iterrows():
            out[int(row["setup_id"])] = row["parameters"]
    return out


def estimation_procedure(task: Any) -> str:
    """A short name of an OpenML task's estimation procedure, as used in run protocols.

    ``cv10`` (10-fold CV), ``cv10r10`` (10 times repeated 10-fold CV), ``holdout33`` (33 % of
    the rows held out; ``r<n>`` when repeated), ``loo`` (leave-one-out); other procedure types
    give their type name (``testthentrain``, ...), ``unknown`` when the task names none.
    """
    kind, folds_, repeats_, pct = _procedure(task)
    kind = re.sub(r"[^a-z0-9]", "", kind)
    folds, repeats = int(folds_), int(repeats_)
    again = f"r{repeats}" if repeats > 1 else ""
    if kind == "leaveoneout":
        return "loo"
    if "crossvalidation" in kind and folds > 1:
        return f"cv{folds}{again}"
    if "holdout" in kind and 0 < pct < 100:
        return f"holdout{pct:g}{again}"
    return kind or "unknown"


def _metric_name(task: str, measure: str) -> str:
    """The ``metric`` recorded for a score taken from an OpenML measure."""
    return OPENML_METRICS[task].get(measure) or f"openml_{measure}"


def openml_score(task: str, measures: dict[str, float], procedure: str) -> tuple[float, Optional[str], Optional[str]]:
    """``(score, metric, protocol)`` of an OpenML run from its measures ``{OpenML name: value}``.

    The first measure of :data:`OPENML_SCORES` with a finite value is the score, oriented so that
    higher is better; ``metric`` names it (an autometa metric, or ``openml_<measure>`` where
    OpenML computes it differently) and ``protocol`` is ``openml:<procedure>/<measure>``.
    ``(nan, None, None)`` when the run has none of them.
    """
    for measure in OPENML_SCORES[task]:
        value = measures.get(measure)
        if value is None or not math.isfinite(float(value)):
            continue
        value = float(value)
        return ((value if _HIGHER_IS_BETTER[measure] else -value), _metric_name(task, measure),
                f"openml:{procedure}/{measure}")
    return math.nan, None, None


def _read_unmapped(path: Path) -> dict[tuple[int, int], dict]:
    out: dict[tuple[int, int], dict] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    rec = json.loads(line)
                    out[(int(rec["task_id"]), int(rec["run_id"]))] = rec
                except (ValueError, KeyError, TypeError):
                    raise DataError(f"{path} has an unreadable line; delete the file and import again") from None
    return out


def _store_dataset(store: Any, ds: Any, data_id: Any, qualities: dict[str, Optional[float]],
                   mf_time_budget: float) -> tuple[str, bool]:
    """Add the task's dataset as the metabase build does (same dedup, meta-features and columns).

    A dataset already stored (same content, or same name and shape) keeps its row; the OpenML
    source is noted on it (``also_in`` / ``source_id``) and OpenML's qualities are added if absent.
    """
    import warnings

    from autometa.metabase.build import json_list
    from autometa.metabase.store import content_checksum
    from autometa.metafeatures import describe

    name = ds.name
    checksum = content_checksum(ds.X, ds.y)
    n_rows, n_cols = int(len(ds.y)), int(ds.X.shape[1])
    base = {"name": name, "source": "openml", "source_id": str(data_id), "task": ds.task,
            "n_rows": n_rows, "n_cols": n_cols, "checksum": checksum}
    existing = store.find_dataset(checksum, name, n_rows, n_cols)
    if existing is not None:
        dataset_id, _ = store.add_dataset(base)
        if qualities and not isinstance(store.dataset(dataset_id).get("openml_qualities"), str):
            store.update_dataset(dataset_id, openml_qualities=json.dumps(qualities, sort_keys=True))
        return dataset_id, False
    logger.info(f"meta-features of {name} ({n_rows} rows, {n_cols} columns)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = describe(ds.X, ds.y, ds.task, seed=0, time_budget=mf_time_budget)
    seconds = getattr(mf, "seconds", None)
    record = dict(base)
    record.update({
        "target": ds.target,
        "metafeatures": {k: (math.nan if v is None else float(v)) for k, v in mf.values.items()},
        "extract_seconds": float(sum(seconds.values())) if isinstance(seconds, dict) else math.nan,
        "extract_subsampled": json_list(getattr(mf, "subsampled", [])),
        "extract_cut_short": json_list(getattr(mf, "cut_short", [])),
        "extract_failed": json_list(getattr(mf, "failed", [])),
        "openml_qualities": json.dumps(qualities, sort_keys=True),
    })
    return store.add_dataset(record)


def import_openml(
    out: Union[str, Path],
    *,
    tasks: Union[None, str, Iterable[Any]] = None,
    suite: Union[None, str, int] = None,
    flows: Union[None, str, Iterable[Any]] = None,
    max_runs: Optional[int] = 1000,
    server: Optional[str] = None,
    cache_dir: Union[None, str, Path] = None,
    retries: int = 3,
    mf_time_budget: float = 10.0,
) -> ImportSummary:
    """Import OpenML run evaluations of ``tasks`` (or a ``suite``) into the metabase at ``out``.

    ``flows`` restricts the runs to these flow ids; ``max_runs`` caps the runs listed per task
    (None: all). ``server`` defaults to openml.org; ``cache_dir`` keeps ``openml``'s downloads
    (default: a temporary folder removed afterwards); ``retries`` is how often ``openml`` tries a
    request. Meta-features are computed as the metabase build computes them (``mf_time_budget``
    seconds per group). Progress lines go to the ``autometa.metabase.openml`` logger (INFO). Raises DataError with one line for OpenML
    error responses and an unreachable server, ConfigError for bad arguments. Each finished task
    is flushed to the store, so an interrupted import keeps what it finished and a rerun adds
    only what is missing.
    """
    from autometa.metabase.store import Metabase

    started = time.perf_counter()
    task_ids = _parse_ids(tasks, "--tasks")
    if (task_ids is None) == (suite is None or str(suite).strip() == ""):
        raise ConfigError("give either --tasks ID,... or --suite ID (not both, not neither)")
    if task_ids is not None and not task_ids:
        raise ConfigError("--tasks is empty; give task ids such as --tasks 1,3")
    flow_ids = _parse_ids(flows, "--flows")
    if max_runs is not None and (isinstance(max_runs, bool) or int(max_runs) < 1):
        raise ConfigError(f"--max-runs must be a positive integer, got {max_runs!r}")
    if not (isinstance(mf_time_budget, (int, float)) and mf_time_budget > 0):
        raise ConfigError(f"the meta-feature time budget must be a positive number of seconds, got {mf_time_budget!r}")
    server = (server or DEFAULT_SERVER).rstrip("/")
    if not re.match(r"https?://[^/]+", server):
        raise ConfigError(f"--server must be an http(s) URL such as {DEFAULT_SERVER}, got {server!r}")
    root = Path(out)
    summary = ImportSummary(out=str(root), server=server)
    unmapped_path = root / UNMAPPED_FILE
    config_ids: set[str] = set()

    with _openml_session(server, None if cache_dir is None else Path(cache_dir), retries) as oml:
        if task_ids is None:
            ident = str(suite).strip()
            found = _call(oml.study.get_suite, server, f"suite {ident}", int(ident) if ident.isdigit() else ident)
            task_ids = [int(t) for t in (found.tasks or [])]
            if not task_ids:
                raise DataError(f"OpenML suite {ident} lists no tasks; choose another suite or give --tasks")
        store = Metabase(root, create=True)
        unmapped = _read_unmapped(unmapped_path)
        completed = False
        try:
            job = _TaskImport(oml, server, store, summary, unmapped, config_ids, flow_ids, max_runs,
                              mf_time_budget)
            for tid in task_ids:
                job.run(tid)
                store.flush()
            completed = True
        finally:
            store.flush()
            _write_unmapped(unmapped_path, unmapped)
            summary.configs = len(config_ids)
            summary.unmapped_file = str(unmapped_path) if unmapped else None
            summary.seconds = round(time.perf_counter() - started, 3)
            manifest = store.manifest()
            manifest["openml_imports"] = list(manifest.get("openml_imports") or []) + [{
                "server": server, "tasks": task_ids, "suite": None if suite is None else str(suite),
                "flows": flow_ids, "max_runs": max_runs, "completed": completed,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "runs_added": summary.runs_added, "runs_unmapped": summary.runs_unmapped,
            }]
            store.write_manifest(manifest)
            store.close()
    return summary


class _TaskImport:
    """Imports one task at a time into a store, adding to a shared summary."""

    def __init__(self, oml: Any, server: str, store: Any, summary: ImportSummary,
                 unmapped: dict[tuple[int, int], dict], config_ids: set[str], flows: Optional[list[int]],
                 max_runs: Optional[int], mf_time_budget: float) -> None:
        self.oml, self.server, self.store, self.summary = oml, server, store, summary
        self.unmapped, self.config_ids, self.flows, self.max_runs = unmapped, config_ids, flows, max_runs
        self.mf_time_budget = mf_time_budget

    def _dataset(self, tid: int) -> Optional[tuple[Any, Any, Any, Any]]:
        """(task, openml dataset, typed autometa dataset, raw X) or None when the task is skipped."""
        from autometa.data import from_xy

        server = self.server
        logger.info(f"task {tid}: downloading the task and its dataset")
        task = _call(self.oml.tasks.get_task, server, f"task {tid} (with its dataset description)", tid,
                     download_splits=False)
        kind = _task_kind_of(task)
        if kind is None:
            self.summary.skipped_tasks[str(tid)] = f"task type {getattr(task, 'task_type', '?')} is not supported"
            return None
        dataset = _call(task.get_dataset, server, f"the dataset of task {tid}")
        X, y, _cat, _names = _call(dataset.get_data, server, f"the data of dataset {dataset.dataset_id}",
                                   target=task.target_name)
        try:
            ds = from_xy(X, y, task=kind, name=str(dataset.name or f"openml-{dataset.dataset_id}"))
        except AutometaError as exc:
            self.summary.skipped_tasks[str(tid)] = f"dataset {dataset.dataset_id} is unusable: {exc}"
            return None
        return task, dataset, ds, X

    def run(self, tid: int) -> None:
        """Import task ``tid``: its dataset, then its runs (mapped or set aside)."""
        got = self._dataset(tid)
        if got is None:
            return
        task, dataset, ds, X = got
        server, summary = self.server, self.summary
        raw = _call(lambda: dataset.qualities, server, f"the qualities of dataset {dataset.dataset_id}")
        qualities = {str(k): (None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v))
                     for k, v in (raw or {}).items()}
        dataset_id, is_new = _store_dataset(self.store, ds, dataset.dataset_id, qualities,
                                            self.mf_time_budget)
        summary.datasets_new += int(is_new)
        info = {"task_id": tid, "data_id": int(dataset.dataset_id), "name": ds.name, "task": ds.task,
                "dataset_id": dataset_id, "new_dataset": bool(is_new), "runs_listed": 0,
                "runs_added": 0, "runs_unmapped": 0, "runs_clipped": 0, "protocols": {}}
        summary.tasks.append(info)

        logger.info(f"task {tid}: listing run evaluations and setups")
        functions = list(OPENML_METRICS[ds.task])
        functions += [m for m in OPENML_SCORES[ds.task] if m not in functions]
        primary = _list_evaluations(self.oml, server, functions[0], tid, flows=self.flows, size=self.max_runs)
        info["runs_listed"] = int(len(primary))
        summary.runs_listed += int(len(primary))
        if not len(primary):
            return
        run_ids = [int(r) for r in primary["run_id"]]
        measures: dict[int, dict[str, float]] = {r: {} for r in run_ids}  # OpenML measure -> value
        frames = [(functions[0], primary)] + [
            (fn, _list_evaluations(self.oml, server, fn, tid, flows=None, size=None, runs=run_ids))
            for fn in functions[1:]
        ]
        for fn, frame in frames:
            if not len(frame):
                continue
            for rid, val in zip(frame["run_id"], frame["value"]):
                if int(rid) in measures and val is not None and math.isfinite(float(val)):
                    measures[int(rid)][fn] = float(val)
        setups = _list_setups(self.oml, server, [int(s) for s in primary["setup_id"]])

        procedure = estimation_procedure(task)
        ctx = FlowContext(task=ds.task, n_rows=int(len(X)), n_features=int(X.shape[1]),
                          n_train=_train_rows(task, int(len(X))))
        rows, configs = [], []
        for _, ev in primary.iterrows():
            rid, sid, flow_name = int(ev["run_id"]), int(ev["setup_id"]), str(ev["flow_name"])
            got = measures.get(rid, {})
            score, metric, protocol = openml_score(ds.task, got, procedure)
            try:
                if metric is None:
                    raise Unmappable(f"OpenML lists none of {', '.join(OPENML_SCORES[ds.task])} for the run "
                                     "(nothing to score it by)")
                adapted = map_run(flow_name, setups.get(sid), ctx)
            except Unmappable as exc:
                self.unmapped[(tid, rid)] = {
                    "task_id": tid, "data_id": int(dataset.dataset_id), "run_id": rid, "setup_id": sid,
                    "flow_id": int(ev["flow_id"]), "flow_name": flow_name,
                    "estimator": flow_estimator(flow_name), "reason": exc.reason,
                    "score": score if math.isfinite(score) else None, "metric": metric, "protocol": protocol,
                }
                info["runs_unmapped"] += 1
                summary.unmapped_by_flow[flow_name] = summary.unmapped_by_flow.get(flow_name, 0) + 1
                continue
            self.unmapped.pop((tid, rid), None)
            metrics = {OPENML_METRICS[ds.task][m]: v for m, v in got.items() if m in OPENML_METRICS[ds.task]}
            rows.append(_run_row(dataset_id, tid, rid, sid, int(ev["flow_id"]), flow_name, adapted, metrics,
                                 score=score, metric=metric, protocol=protocol))
            configs.append(adapted.config)
            info["runs_clipped"] += int(bool(adapted.clipped))
            info["protocols"][protocol] = info["protocols"].get(protocol, 0) + 1
        ids = self.store.add_configs(configs, ds.task) if configs else []
        for row, cid in zip(rows, ids):
            row["config_id"] = cid
        self.config_ids.update(ids)
        added = self.store.add_runs(rows)
        info["runs_added"] = added
        summary.runs_added += added
        summary.runs_existing += len(rows) - added
        summary.runs_unmapped += info["runs_unmapped"]
        summary.runs_clipped += info["runs_clipped"]
        logger.info(f"task {tid}: {added} runs added, {len(rows) - added} already stored, "
                    f"{info['runs_unmapped']} unmapped")


def _run_row(dataset_id: str, tid: int, rid: int, sid: int, flow_id: int, flow_name: str,
             adapted: Adapted, metrics: dict[str, float], *, score: float, metric: str, protocol: str) -> dict:
    """The store row of one mapped OpenML run (aggregated over the task's folds: fold -1)."""
    detail = ([f"clipped {'; '.join(adapted.clipped)}"] if adapted.clipped else []) + adapted.notes
    row = {
        "dataset_id": dataset_id, "fold": -1, "seed": rid, "status": "ok",
        "score": score, "metric": metric, "protocol": protocol,
        "fit_seconds": math.nan, "predict_seconds": math.nan,
        "message": "; ".join([f"openml run {rid} (flow {flow_name}, setup {sid})"] + detail),
        "openml_run_id": rid, "openml_task_id": tid, "openml_flow_id": flow_id, "openml_setup_id": sid,
        "openml_flow": flow_name, "openml_clipped": "; ".join(adapted.clipped),
    }
    row.update({f"m_{k}": v for k, v in metrics.items()})
    return row


def _write_unmapped(path: Path, records: dict[tuple[int, int], dict]) -> None:
    """Rewrite ``unmapped.jsonl`` (one JSON object per unmapped run, sorted by task and run)."""
    from autometa.paths import atomic_write_bytes

    if not records and not path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(records[k], sort_keys=True) + "\n" for k in sorted(records))
    atomic_write_bytes(path, text.encode("utf-8"))

"""The search space: algorithms x hyperparameters x defaults x encoding, defined once.

Everything that needs to know which configurations exist reads this module: the Optuna search
(:func:`suggest_config`), metabase building (:func:`sample_configs`), and the meta-model
(:func:`encode`). A configuration is plain JSON: ``{"algorithm": "lightgbm", "params": {...}}``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np

from autometa.errors import ConfigError

Value = Union[int, float, str, bool]
Config = dict[str, Any]

CLASSIFICATION = "classification"
REGRESSION = "regression"
#: the tasks autometa knows (a task's kind is classification or regression, see task_kind)
TASKS = ("binary", "multiclass", REGRESSION)


def task_kind(task: str) -> str:
    """Map a task ("binary", "multiclass", "regression") to "classification" or "regression"."""
    if task in ("binary", "multiclass", CLASSIFICATION):
        return CLASSIFICATION
    if task == REGRESSION:
        return REGRESSION
    raise ConfigError(f"unknown task {task!r}; use binary, multiclass or regression")


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its range or choices, scale, default and when it is active."""

    name: str
    kind: str  # "float" | "int" | "categorical" | "bool"
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    choices: tuple = ()
    default: Any = None  # a value, or {"classification": v1, "regression": v2}
    # active only when another parameter of the same algorithm takes one of these values
    condition: Optional[tuple[str, tuple]] = None
    # tasks the parameter applies to ("classification" / "regression")
    tasks: tuple[str, ...] = (CLASSIFICATION, REGRESSION)

    def default_for(self, kind: str) -> Value:
        """The default value for a task kind."""
        return self.default[kind] if isinstance(self.default, dict) else self.default

    def active(self, params: dict[str, Any], kind: str) -> bool:
        """Whether this parameter applies, given the task kind and the other parameter values."""
        if kind not in self.tasks:
            return False
        if self.condition is None:
            return True
        other, values = self.condition
        return params.get(other) in values

    def from_unit(self, u: float) -> Value:
        """Map a point of [0, 1) onto the parameter's range (log-aware); used by space-filling designs."""
        u = min(max(float(u), 0.0), 1.0 - 1e-12)
        if self.kind == "categorical":
            return self.choices[int(u * len(self.choices))]
        if self.kind == "bool":
            return bool(u >= 0.5)
        lo, hi = float(self.low), float(self.high)
        if self.kind == "int":
            if self.log:
                value = math.exp(math.log(lo) + u * (math.log(hi + 1) - math.log(lo)))
            else:
                value = lo + u * (hi + 1 - lo)
            return int(min(max(math.floor(value), lo), hi))
        if self.log:
            return float(math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))))
        return float(lo + u * (hi - lo))

    def to_unit(self, value: Value) -> float:
        """Position of a value in [0, 1] (the encoding the meta-model sees)."""
        if self.kind == "categorical":
            idx = self.choices.index(value) if value in self.choices else 0
            return idx / max(len(self.choices) - 1, 1)
        if self.kind == "bool":
            return 1.0 if value else 0.0
        lo, hi, v = float(self.low), float(self.high), float(value)
        v = min(max(v, lo), hi)
        if self.log:
            return (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
        return (v - lo) / (hi - lo) if hi > lo else 0.0

    def check(self, value: Any, algorithm: str) -> Value:
        """Validate and normalise one value; ConfigError names the parameter and its range."""
        where = f"{algorithm}.{self.name}"
        if self.kind == "categorical":
            if value not in self.choices:
                raise ConfigError(f"{where}={value!r} is not one of {list(self.choices)}")
            return value
        if self.kind == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise ConfigError(f"{where}={value!r} must be true or false")
            return bool(value)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ConfigError(f"{where}={value!r} must be a number in [{self.low}, {self.high}]")
        if self.kind == "int":
            if float(value) != int(value):
                raise ConfigError(f"{where}={value!r} must be an integer in [{self.low}, {self.high}]")
            value = int(value)
        else:
            value = float(value)
        if not (self.low <= value <= self.high):
            raise ConfigError(f"{where}={value!r} is outside [{self.low}, {self.high}]")
        return value


@dataclass(frozen=True)
class Algorithm:
    """A model family with its hyperparameters and how its pipeline must be prepared."""

    name: str
    label: str
    params: tuple[Param, ...]
    scale: bool = False  # needs standardised numeric inputs
    native_categorical: bool = False  # handles pandas categoricals itself
    max_rows: Optional[int] = None  # offered only up to this many training rows
    gpu: bool = False  # has a GPU implementation
    tasks: tuple[str, ...] = field(default=(CLASSIFICATION, REGRESSION))

    def active_params(self, kind: str) -> list[Param]:
        """Parameters that exist for this task kind (conditional ones included)."""
        return [p for p in self.params if kind in p.tasks]


def _p(name: str, kind: str, low=None, high=None, *, log=False, choices=(), default=None,
       condition=None, tasks=(CLASSIFICATION, REGRESSION)) -> Param:
    return Param(name, kind, low, high, log, tuple(choices), default, condition, tuple(tasks))


_TREE_ENSEMBLE = (
    _p("n_estimators", "int", 50, 500, log=True, default=100),
    # scikit-learn's defaults: sqrt(n_features) for classification, all features for regression
    _p("max_features", "categorical", choices=("sqrt", "log2", "fraction"),
       default={CLASSIFICATION: "sqrt", REGRESSION: "fraction"}),
    _p("max_features_fraction", "float", 0.05, 1.0, default=1.0,
       condition=("max_features", ("fraction",))),
    _p("min_samples_leaf", "int", 1, 30, log=True, default=1),
    _p("min_samples_split", "int", 2, 30, log=True, default=2),
)

ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm(
            "lightgbm", "LightGBM",
            (
                _p("n_estimators", "int", 50, 1000, log=True, default=100),
                _p("learning_rate", "float", 0.005, 0.3, log=True, default=0.1),
                _p("num_leaves", "int", 4, 256, log=True, default=31),
                _p("min_child_samples", "int", 2, 100, log=True, default=20),
                _p("subsample", "float", 0.5, 1.0, default=1.0),
                _p("colsample_bytree", "float", 0.3, 1.0, default=1.0),
                _p("reg_alpha", "float", 1e-8, 10.0, log=True, default=1e-8),
                _p("reg_lambda", "float", 1e-8, 10.0, log=True, default=1e-8),
            ),
            native_categorical=True, gpu=True,
        ),
        Algorithm(
            "hist_gb", "Histogram gradient boosting",
            (
                _p("max_iter", "int", 50, 1000, log=True, default=100),
                _p("learning_rate", "float", 0.01, 0.3, log=True, default=0.1),
                _p("max_leaf_nodes", "int", 4, 256, log=True, default=31),
                _p("min_samples_leaf", "int", 2, 100, log=True, default=20),
                _p("l2_regularization", "float", 1e-8, 10.0, log=True, default=1e-8),
                _p("max_features", "float", 0.3, 1.0, default=1.0),
            ),
            native_categorical=True,
        ),
        Algorithm("random_forest", "Random forest",
                  _TREE_ENSEMBLE + (_p("bootstrap", "bool", default=True),)),
        Algorithm("extra_trees", "Extra trees",
                  _TREE_ENSEMBLE + (_p("bootstrap", "bool", default=False),)),
        Algorithm(
            "linear", "Linear (logistic regression / elastic net)",
            (
                _p("C", "float", 1e-4, 1e4, log=True, default=1.0, tasks=(CLASSIFICATION,)),
                _p("penalty", "categorical", choices=("l2", "l1", "elasticnet"), default="l2",
                   tasks=(CLASSIFICATION,)),
                _p("alpha", "float", 1e-6, 10.0, log=True, default=1e-3, tasks=(REGRESSION,)),
                _p("l1_ratio", "float", 0.0, 1.0, default=0.5,
                   condition=("penalty", ("elasticnet",)), tasks=(CLASSIFICATION,)),
                _p("l1_ratio", "float", 0.0, 1.0, default=0.5, tasks=(REGRESSION,)),
            ),
            scale=True,
        ),
        Algorithm(
            "svm", "Support vector machine (RBF)",
            (
                _p("C", "float", 1e-3, 1e3, log=True, default=1.0),
                _p("gamma", "categorical", choices=("scale", "value"), default="scale"),
                _p("gamma_value", "float", 1e-4, 10.0, log=True, default=0.1,
                   condition=("gamma", ("value",))),
                _p("epsilon", "float", 1e-3, 1.0, log=True, default=0.1, tasks=(REGRESSION,)),
            ),
            # RBF kernels scale ~quadratically in rows: beyond ~5k training rows one SVM trial
            # costs as much as dozens of boosting trials (measured in benchmarks/search.py)
            scale=True, max_rows=5_000,
        ),
        Algorithm(
            "knn", "k-nearest neighbours",
            (
                _p("n_neighbors", "int", 1, 100, log=True, default=5),
                _p("weights", "categorical", choices=("uniform", "distance"), default="uniform"),
                _p("p", "categorical", choices=(1, 2), default=2),
            ),
            scale=True, max_rows=100_000,
        ),
    )
}

# the order in which defaults are tried when nothing better is known
DEFAULT_ORDER = ("lightgbm", "hist_gb", "random_forest", "extra_trees", "linear", "svm", "knn")


def get_algorithm(name: str) -> Algorithm:
    """Look an algorithm up by name; ConfigError lists the known ones."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ConfigError(
            f"unknown algorithm {name!r}; choose from {', '.join(ALGORITHMS)}"
        ) from None


def algorithms_for(task: str, n_rows: Optional[int] = None,
                   include: Optional[Iterable[str]] = None) -> list[str]:
    """Algorithms offered for a task, skipping those too costly for ``n_rows`` training rows."""
    kind = task_kind(task)
    names = list(include) if include is not None else list(DEFAULT_ORDER)
    for n in names:
        get_algorithm(n)
    return [
        n for n in names
        if kind in ALGORITHMS[n].tasks
        and (n_rows is None or ALGORITHMS[n].max_rows is None or n_rows <= ALGORITHMS[n].max_rows)
    ]


def _active(algo: Algorithm, params: dict[str, Any], kind: str) -> list[Param]:
    return [p for p in algo.params if p.active(params, kind)]


def default_config(algorithm: str, task: str) -> Config:
    """The algorithm's default configuration for a task."""
    algo = get_algorithm(algorithm)
    kind = task_kind(task)
    params: dict[str, Any] = {}
    for p in algo.params:  # conditions refer to earlier parameters
        if p.active(params, kind):
            params[p.name] = p.default_for(kind)
    return {"algorithm": algorithm, "params": params}


#: Hand-picked settings that practitioners often start from, beside each algorithm's default:
#: larger ensembles with slower learning, feature subsampling, moderate regularisation. Per task
#: kind (``None`` = both); every entry is checked by :func:`validate_config` when used. They are
#: part of the metabase's candidate set (:func:`candidate_configs`), ahead of the Sobol points.
KNOWN_GOOD: dict[str, tuple[tuple[Optional[str], dict[str, Any]], ...]] = {
    "lightgbm": (
        (None, {"n_estimators": 500, "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 20,
                "subsample": 0.8, "colsample_bytree": 0.8, "reg_lambda": 1.0}),
        (None, {"n_estimators": 1000, "learning_rate": 0.02, "num_leaves": 63, "min_child_samples": 10,
                "subsample": 0.7, "colsample_bytree": 0.5, "reg_lambda": 0.1}),
    ),
    "hist_gb": (
        (None, {"max_iter": 500, "learning_rate": 0.05, "max_leaf_nodes": 31, "min_samples_leaf": 20,
                "l2_regularization": 1.0, "max_features": 0.8}),
        (None, {"max_iter": 300, "learning_rate": 0.1, "max_leaf_nodes": 63, "min_samples_leaf": 10,
                "max_features": 0.5}),
    ),
    "random_forest": (
        (None, {"n_estimators": 300, "max_features": "fraction", "max_features_fraction": 0.5}),
        (None, {"n_estimators": 300, "max_features": "sqrt", "min_samples_leaf": 3}),
    ),
    "extra_trees": (
        (None, {"n_estimators": 300, "max_features": "fraction", "max_features_fraction": 0.7,
                "min_samples_leaf": 2}),
        (None, {"n_estimators": 300, "max_features": "sqrt", "min_samples_leaf": 1}),
    ),
    "linear": (
        (CLASSIFICATION, {"C": 0.1, "penalty": "l2"}),
        (CLASSIFICATION, {"C": 10.0, "penalty": "l2"}),
        (REGRESSION, {"alpha": 0.01, "l1_ratio": 0.1}),
        (REGRESSION, {"alpha": 1e-5, "l1_ratio": 0.0}),
    ),
    "svm": (
        (None, {"C": 10.0, "gamma": "scale"}),
        (None, {"C": 100.0, "gamma": "value", "gamma_value": 0.01}),
    ),
    "knn": (
        (None, {"n_neighbors": 15, "weights": "distance", "p": 2}),
        (None, {"n_neighbors": 30, "weights": "distance", "p": 1}),
    ),
}


def known_good_configs(algorithm: str, task: str) -> list[Config]:
    """The :data:`KNOWN_GOOD` settings of one algorithm for a task, validated and filled."""
    kind = task_kind(task)
    out = []
    for only, params in KNOWN_GOOD.get(get_algorithm(algorithm).name, ()):
        if only is None or only == kind:
            out.append(validate_config({"algorithm": algorithm, "params": params}, kind))
    return out


def candidate_configs(task: str, per_algorithm: int, seed: int = 0,
                      algorithms: Optional[Sequence[str]] = None) -> list[Config]:
    """The metabase's shared candidate list for a task kind, per algorithm in :data:`DEFAULT_ORDER`:
    its default, its :data:`KNOWN_GOOD` settings, then ``per_algorithm`` Sobol configurations.

    Sobol points are a prefix-stable sequence, so a larger ``per_algorithm`` extends a smaller
    one: runs of the shorter list stay valid, and each algorithm's first ``n`` entries
    (:func:`first_per_algorithm`) form a cheaper, still space-filling subset.
    """
    names = algorithms_for(task, None, include=algorithms)
    out: list[Config] = []
    for algo in names:
        seen: set[str] = set()
        for cfg in [default_config(algo, task), *known_good_configs(algo, task),
                    *sample_configs(algo, task, per_algorithm, seed=seed)]:
            key = _key(cfg)
            if key not in seen:
                seen.add(key)
                out.append(cfg)
    return out


def first_per_algorithm(configs: Sequence[Config], n: int) -> list[Config]:
    """Each algorithm's first ``n`` configurations of ``configs`` (order kept)."""
    counts: dict[str, int] = {}
    out = []
    for cfg in configs:
        k = counts.get(cfg["algorithm"], 0)
        if k < n:
            out.append(cfg)
        counts[cfg["algorithm"]] = k + 1
    return out


def default_configs(task: str, n_rows: Optional[int] = None) -> list[Config]:
    """Every offered algorithm's default, in :data:`DEFAULT_ORDER` (the cold warm-start list)."""
    return [default_config(a, task) for a in algorithms_for(task, n_rows)]


def validate_config(config: Any, task: str) -> Config:
    """Check a configuration, fill missing parameters with defaults, drop inactive ones."""
    if not isinstance(config, dict) or "algorithm" not in config:
        raise ConfigError('a configuration is {"algorithm": NAME, "params": {...}}; got ' + repr(config)[:80])
    algo = get_algorithm(config["algorithm"])
    kind = task_kind(task)
    if kind not in algo.tasks:
        raise ConfigError(f"{algo.name} does not support {kind}")
    given = dict(config.get("params") or {})
    known = {p.name for p in algo.active_params(kind)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {', '.join(unknown)} for {algo.name}; known: {', '.join(sorted(known))}"
        )
    params: dict[str, Any] = {}
    for p in algo.params:
        if p.active(params, kind):
            params[p.name] = p.check(given[p.name], algo.name) if p.name in given else p.default_for(kind)
    return {"algorithm": algo.name, "params": params}


# ---------------------------------------------------------------- Optuna
def trial_param_name(algorithm: str, param: str) -> str:
    """Name of a hyperparameter inside an Optuna trial (prefixed: spaces of algorithms never clash)."""
    return f"{algorithm}:{param}"


def suggest_config(trial: Any, task: str, algorithms: Sequence[str]) -> Config:
    """Draw a configuration from an Optuna trial over the conditional space algorithm -> params."""
    kind = task_kind(task)
    algorithm = trial.suggest_categorical("algorithm", list(algorithms))
    algo = ALGORITHMS[algorithm]
    params: dict[str, Any] = {}
    for p in algo.params:
        if not p.active(params, kind):
            continue
        name = trial_param_name(algorithm, p.name)
        if p.kind == "float":
            params[p.name] = trial.suggest_float(name, p.low, p.high, log=p.log)
        elif p.kind == "int":
            params[p.name] = trial.suggest_int(name, int(p.low), int(p.high), log=p.log)
        elif p.kind == "bool":
            params[p.name] = trial.suggest_categorical(name, [False, True])
        else:
            params[p.name] = trial.suggest_categorical(name, list(p.choices))
    return {"algorithm": algorithm, "params": params}


def to_trial_params(config: Config, task: str) -> dict[str, Any]:
    """Flatten a configuration to the Optuna parameter names (for ``study.enqueue_trial``)."""
    config = validate_config(config, task)
    flat: dict[str, Any] = {"algorithm": config["algorithm"]}
    for k, v in config["params"].items():
        flat[trial_param_name(config["algorithm"], k)] = v
    return flat


def from_trial_params(flat: dict[str, Any]) -> Config:
    """Inverse of :func:`to_trial_params`."""
    algorithm = flat["algorithm"]
    prefix = f"{algorithm}:"
    params = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
    return {"algorithm": algorithm, "params": params}


# ---------------------------------------------------------------- designs
def sample_configs(algorithm: str, task: str, n: int, seed: int = 0) -> list[Config]:
    """``n`` space-filling configurations of one algorithm (scrambled Sobol), defaults excluded.

    The same (algorithm, task, n, seed) always gives the same list: metabase building uses it to
    evaluate one shared candidate set on every dataset.
    """
    from scipy.stats import qmc

    algo = get_algorithm(algorithm)
    kind = task_kind(task)
    dims = algo.active_params(kind)
    if n <= 0:
        return []
    sampler = qmc.Sobol(d=len(dims), scramble=True, seed=seed)
    m = int(math.ceil(math.log2(max(n * 2, 2))))
    points = sampler.random_base2(m)
    seen = {_key(default_config(algorithm, task))}
    out: list[Config] = []
    for row in points:
        params: dict[str, Any] = {}
        for p, u in zip(dims, row):
            if p.active(params, kind):
                params[p.name] = p.from_unit(u)
        cfg = {"algorithm": algorithm, "params": params}
        k = _key(cfg)
        if k in seen:
            continue
        seen.add(k)
        out.append(cfg)
        if len(out) == n:
            break
    return out


def _key(config: Config) -> str:
    import json

    return json.dumps(config, sort_keys=True, default=str)


def config_id(config: Config) -> str:
    """A short stable id of a configuration (hash of its canonical JSON)."""
    import hashlib

    return hashlib.sha1(_key(config).encode()).hexdigest()[:12]


# ---------------------------------------------------------------- decoding (what the model receives)
def _encoded_params() -> dict[tuple[str, str], tuple[Any, str]]:
    """Hyperparameters searched as a categorical switch plus a numeric value.

    A parameter named ``<switch>_<choice>`` that is active only when ``<switch> == <choice>``
    holds the switch's numeric value (``gamma`` = "value" -> ``gamma_value``; ``max_features`` =
    "fraction" -> ``max_features_fraction``). Returns (algorithm, switch) -> (choice, value name).
    """
    out: dict[tuple[str, str], tuple[Any, str]] = {}
    for a in ALGORITHMS.values():
        for p in a.params:
            if p.condition is not None and len(p.condition[1]) == 1:
                switch, (choice,) = p.condition
                if p.name == f"{switch}_{choice}":
                    out[(a.name, switch)] = (choice, p.name)
    return out


#: (algorithm, switch) -> (the switch's choice that hands over to a numeric parameter, its name)
ENCODED_PARAMS: dict[tuple[str, str], tuple[Any, str]] = _encoded_params()


def model_params(config: Config) -> dict[str, Any]:
    """A configuration's hyperparameters as the estimator receives them, in space order.

    Switch + value pairs are decoded into one argument named like the switch:
    ``gamma="value", gamma_value=0.0065`` -> ``gamma=0.0065``; ``gamma="scale"`` stays ``"scale"``
    (the value parameter is dropped either way). :func:`autometa.pipeline.build_pipeline` builds
    the estimators from this, and every display of a configuration shows it. Parameters the space
    does not know are kept, after the known ones.
    """
    algorithm = config.get("algorithm")
    params = dict(config.get("params") or {})
    algo = ALGORITHMS.get(algorithm) if isinstance(algorithm, str) else None
    known = [p.name for p in algo.params] if algo is not None else []
    names = list(dict.fromkeys([n for n in known if n in params] + list(params)))
    values = {ENCODED_PARAMS[(algorithm, n)][1] for n in names if (algorithm, n) in ENCODED_PARAMS}
    out: dict[str, Any] = {}
    for name in names:
        if name in values:
            continue
        value = params[name]
        choice, value_name = ENCODED_PARAMS.get((algorithm, name), (None, None))
        if value_name is not None and value == choice and value_name in params:
            value = params[value_name]
        out[name] = value
    return out


# ---------------------------------------------------------------- encoding
def _slots() -> list[tuple[str, str]]:
    slots: list[tuple[str, str]] = []
    for a in ALGORITHMS.values():
        for p in a.params:
            if (a.name, p.name) not in slots:
                slots.append((a.name, p.name))
    return slots


_SLOTS = _slots()


def encoding_names() -> list[str]:
    """Names of the columns of :func:`encode` (algorithm one-hot, then every parameter slot)."""
    return [f"algo={a}" for a in ALGORITHMS] + [f"{a}:{p}" for a, p in _SLOTS]


def encode(config: Config, task: str) -> np.ndarray:
    """Fixed-length numeric vector of a configuration: one-hot algorithm + each parameter in [0, 1].

    Parameters of other algorithms, and inactive ones, are NaN (tree models treat NaN as "absent").
    """
    config = validate_config(config, task)
    algo = ALGORITHMS[config["algorithm"]]
    kind = task_kind(task)
    vec = np.full(len(ALGORITHMS) + len(_SLOTS), np.nan)
    vec[: len(ALGORITHMS)] = [1.0 if a == algo.name else 0.0 for a in ALGORITHMS]
    specs = {p.name: p for p in algo.active_params(kind)}
    for i, (a, name) in enumerate(_SLOTS):
        if a == algo.name and name in config["params"]:
            vec[len(ALGORITHMS) + i] = specs[name].to_unit(config["params"][name])
    return vec

"""A self-contained report of a search: the data, the warm start, the optimisation, the pipeline.

:func:`write_report` writes HTML (``.html``/``.htm``: one file, figures embedded as base64 PNG
data URIs, inline CSS, no external resources) or Markdown (``.md``: figures written as PNG files
beside it and linked). Sections:

1. the dataset in plain words (rows, column types, missingness, task, class balance) and its key
   meta-features;
2. the warm start: the meta-model's recommendations with the similar datasets behind them, or a
   statement that every algorithm's default configuration was used;
3. the optimisation history (best score vs trial, warm-start trials marked) with, when the
   metabase holds runs on the nearest training dataset, the best-of-first-k curve of the
   default configurations there as a cold-start reference (omitted with a note otherwise);
4. the score distribution per algorithm;
5. hyperparameter importance (Optuna's fANOVA) for the best algorithm's completed trials;
6. the final pipeline: configuration, CV score ± std and runnable code.

Figures are drawn with matplotlib's Agg canvas (no display, no pyplot state).
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import pandas as pd

from autometa import __version__, space
from autometa.errors import ConfigError
from autometa.paths import atomic_write_bytes
from autometa.search import ORIGIN_TPE, ORIGIN_WARM_START, quiet_optuna

__all__ = ["REPORT_FORMATS", "write_report", "check_report_path", "dataset_summary", "key_metafeatures", "cold_start_curves",
           "param_importance"]

#: file suffix -> report format
REPORT_FORMATS = {".html": "html", ".htm": "html", ".md": "markdown"}

_WARM_STYLE = {"marker": "s", "color": "#d95f02"}
_TPE_STYLE = {"marker": "o", "color": "#1b9e77"}
_BEST_COLOR = "#333333"
_COLD_COLOR = "#7570b3"
_TOP_TRIALS = 10
_MAX_CLASSES_LISTED = 20
_DPI = 100


# ------------------------------------------------------------------ document model
@dataclass
class _Block:
    kind: str  # "p", "note", "table", "figure", "code"
    text: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    png: bytes = b""
    name: str = ""  # figure file stem (Markdown)


@dataclass
class _Section:
    anchor: str
    title: str
    blocks: list[_Block] = field(default_factory=list)

    def p(self, text: str) -> None:
        self.blocks.append(_Block("p", text))

    def note(self, text: str) -> None:
        self.blocks.append(_Block("note", text))

    def table(self, headers: list[str], rows: list[list[str]]) -> None:
        self.blocks.append(_Block("table", headers=headers, rows=rows))

    def figure(self, name: str, fig: Any, caption: str) -> None:
        self.blocks.append(_Block("figure", caption, png=_png(fig), name=name))

    def code(self, text: str) -> None:
        self.blocks.append(_Block("code", text))


# ------------------------------------------------------------------ small helpers
def _fmt(value: Any, digits: int = 4) -> str:
    """A number for a table: NaN as an en dash, floats to ``digits`` decimals (or 3 significant)."""
    if value is None:
        return "–"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return "–"
    if x.is_integer() and abs(x) < 1e12:
        return f"{int(x):,}"
    if abs(x) >= 1e4 or abs(x) < 10 ** -(digits - 1):
        return f"{x:.3g}"
    return f"{x:.{digits}f}"


def _score(value: Any) -> str:
    """A CV score or its std: always 4 decimals (scores compare digit by digit); NaN as an en dash."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{x:.4f}" if math.isfinite(x) else "–"


def _pct(fraction: float) -> str:
    """A share as a percentage that never rounds a non-zero share to 0% or a partial one to 100%."""
    p = 100.0 * fraction
    if p == 0:
        return "0%"
    if p < 1:
        return f"{p:.1f}%" if p >= 0.1 else "<0.1%"
    if p > 99 and p < 100:
        return f"{p:.1f}%"
    return f"{p:.0f}%"


_NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven",
                 8: "eight", 9: "nine", 10: "ten"}


def _count_word(n: int) -> str:
    return _NUMBER_WORDS.get(n, f"{n:,}")


def _plural(n: int, word: str, plural: Optional[str] = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def _png(fig: Any) -> bytes:
    """Render a matplotlib Figure to PNG bytes with the Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def _new_figure(width: float = 7.5, height: float = 4.2) -> tuple[Any, Any]:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        raise ConfigError("reports need matplotlib; install it with `pip install matplotlib`") from None
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots()


def check_report_path(path: Union[str, os.PathLike]) -> str:
    """The report format (``"html"`` or ``"markdown"``) for ``path``; ConfigError for another
    suffix or a missing folder (so that a command can fail before its work, not after it)."""
    path = Path(path)
    fmt = REPORT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"cannot write a report to {path.name!r}: use a file name ending in .html, .htm or .md"
        )
    if not path.parent.is_dir():
        raise ConfigError(f"cannot write the report: folder {str(path.parent)!r} does not exist; create it first")
    return fmt


def _trials(result: Any) -> list[Any]:
    """The search's finished trials (complete, pruned, failed) in trial-number order."""
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return sorted(result.study.get_trials(deepcopy=False, states=states), key=lambda t: t.number)


def _scored(trial: Any) -> bool:
    """Whether a trial completed with a finite score (a pruned trial keeps its last running mean
    as ``value``: it does not count)."""
    from optuna.trial import TrialState

    return trial.state == TrialState.COMPLETE and trial.value is not None and math.isfinite(trial.value)


def _origin(trial: Any) -> str:
    return str(trial.user_attrs.get("origin") or ORIGIN_TPE)


def _trial_config(trial: Any) -> Optional[dict]:
    from autometa.search import trial_config

    try:
        return trial_config(trial)
    except (ValueError, KeyError, TypeError):  # a trial that failed before it drew its configuration
        return None


def _config_key(config: Optional[dict], task: str) -> Optional[str]:
    """Id of a configuration after filling defaults (None when it is not valid for the task)."""
    if not config:
        return None
    try:
        return space.config_id(space.validate_config(config, task))
    except (ValueError, KeyError, TypeError):  # ConfigError is a ValueError
        return None


def _metric_direction_text(metric: str, task: str) -> str:
    """The metric with its direction, e.g. "rmse (lower is better)": every score in the report is
    the metric's own value (losses are not shown negated)."""
    from autometa.display import metric_direction

    return f"{metric} ({metric_direction(metric)})"


def _value(metric: str, score: Any) -> float:
    """The metric's own value of a stored (higher-is-better) score; NaN stays NaN."""
    from autometa.display import metric_value

    try:
        return metric_value(metric, score)
    except (TypeError, ValueError):
        return math.nan


def _values(metric: str, scores: Any) -> np.ndarray:
    """:func:`_value` of each score."""
    return np.asarray([_value(metric, s) for s in np.asarray(scores, dtype=float).ravel()], dtype=float)


def _score_text(metric: str, score: Any, std: Any = None) -> str:
    """A stored score (± std) as the metric's own value, 4 decimals; NaN as an en dash."""
    from autometa.display import format_score

    try:
        return format_score(metric, score, std)
    except (TypeError, ValueError):
        return "–"


# ------------------------------------------------------------------ 1. dataset
def dataset_summary(dataset: Any) -> str:
    """The dataset in one plain sentence, e.g. "1,000 rows, 20 columns (13 numeric, 7 categorical);
    3% of values missing; binary target "churn": two classes, 70/30"."""
    X, y = dataset.X, dataset.y
    kinds = pd.Series(dataset.column_types, dtype="object").value_counts()
    parts = [f"{int(kinds[k]):,} {k}" for k in ("numeric", "categorical", "boolean") if k in kinds]
    text = f"{_plural(len(X), 'row')}, {_plural(X.shape[1], 'column')}"
    if parts:
        text += f" ({', '.join(parts)})"
    missing = float(X.isna().to_numpy().mean()) if X.size else 0.0
    text += "; no missing values" if missing == 0 else f"; {_pct(missing)} of values missing"
    text += f"; {dataset.task} target {dataset.target!r}"
    if dataset.task == "regression":
        values = pd.to_numeric(y, errors="coerce")
        text += f": mean {_fmt(values.mean(), 3)}, std {_fmt(values.std(), 3)}, range {_fmt(values.min(), 3)} to " \
                f"{_fmt(values.max(), 3)}"
    else:
        shares = y.value_counts(normalize=True, sort=True)
        n = len(shares)
        if n <= 5:
            text += f": {_count_word(n)} classes, " + "/".join(f"{100 * s:.0f}" for s in shares)
        else:
            text += f": {_count_word(n)} classes, largest {_pct(float(shares.iloc[0]))}, " \
                    f"smallest {_pct(float(shares.iloc[-1]))}"
    return text


def _mf_value(values: dict, name: str) -> Optional[float]:
    v = values.get(name)
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def key_metafeatures(values: dict[str, float], task: str) -> list[tuple[str, float, str]]:
    """The informative meta-features, each as ``(name, value, plain-words reading)``; missing or
    NaN ones are left out."""
    out: list[tuple[str, float, str]] = []

    def add(name: str, words: Any) -> None:
        v = _mf_value(values, name)
        if v is not None:
            out.append((name, v, words(v)))

    add("Dimensionality", lambda v: f"about {1 / v:,.0f} rows per column" if v > 0 else "no columns")
    if task != "regression":
        add("NormalizedClassEntropy",
            lambda v: f"class entropy is {v:.0%} of its maximum (100% = perfectly balanced classes)")
        add("MinorityClassPercentage", lambda v: f"the rarest class holds {v:.1f}% of the rows")
    add("MeanAbsCorrelationOfNumericAtts",
        lambda v: f"numeric columns are {'weakly' if v < 0.2 else 'moderately' if v < 0.5 else 'strongly'} "
                  f"correlated with each other on average")
    add("PCAFractionOfComponentsFor95PercentVariance",
        lambda v: f"{v:.0%} of the principal components carry 95% of the numeric variance"
                  + (" (much redundancy)" if v < 0.3 else ""))
    add("MeanSkewnessOfNumericAtts",
        lambda v: "numeric columns are roughly symmetric on average" if abs(v) < 0.5
        else f"numeric columns are {'right' if v > 0 else 'left'}-skewed on average")
    add("MaxNominalAttDistinctValues", lambda v: f"the categorical column with most levels has {v:.0f}")
    add("MeanMutualInformation", lambda v: f"a column shares on average {v:.3f} bits of information with the target")
    if task == "regression":
        landmarks = [("DecisionStumpR2", "a one-split tree"), ("LinearRegR2", "linear regression"),
                     ("kNN_1NR2", "1-nearest neighbour")]
        for name, label in landmarks:
            add(name, lambda v, label=label: f"{label} explains R² = {v:.2f} of the target (landmarker)")
    else:
        landmarks = [("DecisionStump", "a one-split tree"), ("NaiveBayes", "naive Bayes"),
                     ("LDA", "linear discriminant analysis"), ("kNN_1N", "1-nearest neighbour")]
        for name, label in landmarks:
            add(f"{name}ErrRate", lambda v, label=label: f"{label} misclassifies {v:.0%} of held-out rows (landmarker)")
            add(f"{name}AUC", lambda v, label=label: f"{label} reaches a held-out AUC of {v:.2f} (landmarker)")
    add("TreeLeaves", lambda v: f"a fully grown decision tree needs {v:,.0f} leaves")
    add("TreeDepth", lambda v: f"that tree is {v:.0f} levels deep")
    return out


def _dataset_section(dataset: Any, metafeatures: Any, result: Any, recommendations: Any) -> _Section:
    sec = _Section("dataset", "Dataset")
    sec.p(f"{dataset.name}: {dataset_summary(dataset)}.")
    X = dataset.X
    kinds = pd.Series(dataset.column_types, dtype="object")
    missing_cols = X.isna().mean()
    rows_missing = float(X.isna().any(axis=1).mean()) if len(X) else 0.0
    table = [
        ["rows", _fmt(len(X))],
        ["columns", _fmt(X.shape[1])],
        *[[f"{k} columns", _fmt(int((kinds == k).sum()))] for k in ("numeric", "categorical", "boolean")
          if (kinds == k).any()],
        ["missing values", _pct(float(X.isna().to_numpy().mean())) if X.size else "0%"],
        ["rows with a missing value", _pct(rows_missing)],
        ["columns with missing values", _fmt(int((missing_cols > 0).sum()))],
        ["task", dataset.task],
        ["target", str(dataset.target)],
        ["metric", _metric_direction_text(result.metric, result.task)],
    ]
    sec.table(["", "value"], table)
    if dataset.task != "regression":
        counts = dataset.y.value_counts(sort=True)
        rows = [[str(label), _fmt(int(n)), _pct(n / max(1, len(dataset.y)))]
                for label, n in counts.head(_MAX_CLASSES_LISTED).items()]
        sec.p("Class balance:")
        sec.table(["class", "rows", "share"], rows)
        if len(counts) > _MAX_CLASSES_LISTED:
            sec.note(f"{len(counts) - _MAX_CLASSES_LISTED} smaller classes are not listed.")
    worst = missing_cols[missing_cols > 0].sort_values(ascending=False).head(5)
    if len(worst):
        sec.p("Columns with the most missing values: "
              + ", ".join(f"{name} ({_pct(float(v))})" for name, v in worst.items()) + ".")
    if dataset.dropped:
        sec.p("Columns left out when loading: "
              + "; ".join(f"{c} ({why})" for c, why in list(dataset.dropped.items())[:10])
              + (" ..." if len(dataset.dropped) > 10 else "") + ".")
    for note in dataset.notes:
        sec.note(note)
    values = metafeatures if isinstance(metafeatures, dict) else getattr(metafeatures, "values", None) or {}
    keys = key_metafeatures(values, dataset.task)
    if keys:
        sec.p("Key meta-features in plain words:")
        sec.table(["meta-feature", "value", "in plain words"], [[n, _fmt(v, 3), w] for n, v, w in keys])
    else:
        sec.note("No meta-features were computed for this report.")
    recs, method, _, _ = _recommendation_parts(recommendations)
    used = getattr(recommendations, "metafeatures", None) or {}
    if used and _from_meta_model(recs, method):
        sec.p(f"The meta-model found similar datasets by these {len(used)} meta-features (values of this dataset):")
        sec.table(["meta-feature", "value"], [[n, _fmt(v, 4)] for n, v in used.items()])
    return sec


# ------------------------------------------------------------------ 2. warm start
def _recommendation_parts(recommendations: Any) -> tuple[list[Any], str, list[dict], list[str]]:
    """(recommendations, method, nearest training datasets, notes) from a RecommendResult or a list."""
    if recommendations is None:
        return [], "", [], []
    if hasattr(recommendations, "recommendations"):
        recs = list(recommendations.recommendations)
        return (recs, str(recommendations.method), list(getattr(recommendations, "neighbours", []) or []),
                list(getattr(recommendations, "notes", []) or []))
    recs = list(recommendations)
    method = str(getattr(recs[0], "method", "")) if recs else ""
    return recs, method, [], []


def _from_meta_model(recs: Sequence[Any], method: str) -> bool:
    return bool(recs) and method not in ("", "default")


def _rec_config(rec: Any) -> dict:
    config = getattr(rec, "config", None)
    return config if config else {"algorithm": rec.algorithm, "params": dict(rec.params)}


def _similar_text(items: Sequence[dict]) -> str:
    return ", ".join(f"{s.get('name', s.get('dataset_id', '?'))} ({_fmt(s.get('distance'), 2)})" for s in items) or "–"


def _warm_start_section(result: Any, recommendations: Any, trials: list[Any]) -> _Section:
    from autometa.search import params_text

    sec = _Section("warm-start", "Warm start and recommendations")
    recs, method, neighbours, notes = _recommendation_parts(recommendations)
    warm = [t for t in trials if _origin(t) == ORIGIN_WARM_START]
    warm_keys = {_config_key(_trial_config(t), result.task) for t in warm} - {None}
    defaults = {_config_key(space.default_config(a, result.task), result.task)
                for a in space.algorithms_for(result.task)}
    meta = _from_meta_model(recs, method)
    rec_keys = {_config_key(_rec_config(r), result.task) for r in recs} - {None}
    used = len(warm_keys & rec_keys) if meta else 0
    if not warm:
        sec.p("The search ran no warm-start trials: it started with TPE's random start-up phase.")
    elif meta and used:
        sec.p(f"The search was warm-started by the meta-model (method {method}): {used} of "
              f"{_plural(len(warm), 'warm-start trial')} ran the recommended configurations below, chosen "
              "because they did well on the most similar datasets of the metabase.")
    elif warm_keys and warm_keys <= defaults:
        sec.p(f"The search was warm-started with every algorithm's default configuration "
              f"({_plural(len(warm), 'warm-start trial')}); no meta-model recommendations were used.")
    else:
        sec.p(f"The search was warm-started with {_plural(len(warm), 'configuration')} given by the caller.")
    for note in notes:
        sec.note(note)
    if meta:
        rows = []
        for r in recs:
            key = _config_key(_rec_config(r), result.task)
            rows.append([str(r.rank), r.algorithm, params_text(_rec_config(r)), _fmt(r.predicted_score, 3),
                         _similar_text(r.similar_datasets), "yes" if key in warm_keys else "no"])
        heading = "Recommended configurations" if used else \
            "Recommendations of the meta-model (computed, but not used to warm-start this search)"
        sec.p(f"{heading}, in the meta-model's order (the order a warm-started search tries them); predicted = "
              "estimated normalised score, higher is better (1 = best candidate on similar data, "
              "0 = worst); similar datasets = training datasets (distance) where the configuration did well:")
        sec.table(["rank", "algorithm", "key params", "predicted", "similar datasets (distance)", "tried"], rows)
        if neighbours:
            sec.p("Nearest training datasets in meta-feature space: " + _similar_text(neighbours[:5]) + ".")
    elif recs:
        sec.note("No trained meta-model was available, so the recommendations are the algorithms' defaults.")
    return sec


# ------------------------------------------------------------------ 3. history
def _open_store(metabase: Any, recommendations: Any) -> Any:
    """A Metabase from the argument, else the one the meta-model was trained from, else the default."""
    from autometa.metabase import Metabase, open_metabase

    if isinstance(metabase, Metabase):
        return metabase
    if metabase is not None:
        return open_metabase(metabase)
    model_path = getattr(recommendations, "model_path", None)
    if model_path:
        parent = Path(model_path).parent
        if (parent / "datasets.parquet").is_file():
            return open_metabase(parent)
    return open_metabase(None)


def _nearest(recs: Sequence[Any], neighbours: Sequence[dict]) -> Optional[dict]:
    items = list(neighbours) or [s for r in recs for s in (r.similar_datasets or [])]
    items = [s for s in items if s.get("dataset_id")]
    return min(items, key=lambda s: float(s.get("distance", math.inf))) if items else None


def cold_start_curves(
    store: Any, dataset_id: str, task: str, metric: str, n_rows: Optional[int] = None,
    recommended: Optional[Sequence[dict]] = None,
) -> tuple[dict[str, np.ndarray], str]:
    """Best-of-first-k curves on one metabase dataset: the default configurations in
    :data:`autometa.space.DEFAULT_ORDER` (key ``"defaults"``) and, when given, the recommended
    configurations in rank order (``"recommended"``); scores are the mean ``metric`` over the
    stored folds of one run protocol (built runs when the dataset has any, never averaged with
    runs imported from OpenML), oriented so that higher is better (NaN until a configuration succeeded).

    Returns ``({}, reason)`` when the metabase has no usable runs for that dataset.
    """
    from autometa.evaluate import get_metric

    runs = store.runs()
    if not len(runs) or "dataset_id" not in runs.columns:
        return {}, "the metabase holds no runs"
    runs = runs[runs["dataset_id"].astype(str) == str(dataset_id)]
    if not len(runs):
        return {}, f"the metabase holds no runs on {dataset_id}"
    from autometa.metabase.store import one_protocol_per_dataset

    runs = one_protocol_per_dataset(runs)  # built runs, not averaged with imported ones
    col = f"m_{metric}"
    if col not in runs.columns or not runs[col].notna().any():
        return {}, f"the metabase stores no {metric} scores for {dataset_id}"
    m = get_metric(metric, task)
    grouped = runs.groupby(runs["config_id"].astype(str))
    ok = grouped["status"].agg(lambda s: bool((s == "ok").all()))
    mean = grouped[col].mean().map(lambda v: m.score(v) if pd.notna(v) else math.nan)
    scores = mean.where(ok, math.nan)

    def curve(configs: Sequence[dict]) -> np.ndarray:
        values = [scores.get(_config_key(c, task) or "", math.nan) for c in configs]
        return np.fmax.accumulate(np.asarray(values, dtype=float)) if values else np.array([])

    curves = {"defaults": curve(space.default_configs(task, n_rows))}
    if recommended:
        curves["recommended"] = curve(list(recommended))
    curves = {k: v for k, v in curves.items() if len(v) and np.isfinite(v).any()}
    if "defaults" not in curves:
        return {}, f"the metabase has no successful runs of the default configurations on {dataset_id}"
    return curves, ""


def _history_figure(trials: list[Any], reference: dict[str, np.ndarray], reference_name: str,
                    metric: str) -> Any:
    """Score of each trial (warm-start and TPE marked apart), best so far, and reference curves,
    as the metric's own values (an RMSE is plotted positive, lower is better)."""
    fig, ax = _new_figure()
    done = [t for t in trials if _scored(t)]
    for origin, style, label in ((ORIGIN_WARM_START, _WARM_STYLE, "warm-start trial"),
                                 (ORIGIN_TPE, _TPE_STYLE, "TPE trial")):
        pts = [t for t in done if (_origin(t) == ORIGIN_WARM_START) == (origin == ORIGIN_WARM_START)]
        if pts:
            ax.scatter([t.number for t in pts], _values(metric, [t.value for t in pts]), s=36, alpha=0.85,
                       zorder=3, label=label, edgecolors="white", linewidths=0.5, **style)
    if done:
        xs = [t.number for t in trials]
        best, run = [], -math.inf
        for t in trials:
            if _scored(t):
                run = max(run, t.value)
            best.append(run if math.isfinite(run) else math.nan)
        ax.step(xs, _values(metric, best), where="post", color=_BEST_COLOR, linewidth=1.8, label="best so far", zorder=2)
    bad = [t.number for t in trials if not _scored(t)]
    if bad:
        ax.scatter(bad, [0.03] * len(bad), transform=ax.get_xaxis_transform(), marker="x", color="#999999",
                   s=28, zorder=3, label="pruned / failed (no score)")
    styles = {"defaults": ("--", "cold start: best of first k defaults"),
              "recommended": (":", "warm start: best of first k recommendations")}
    for key, curve in reference.items():
        style, label = styles[key]
        ax.step(np.arange(len(curve)), _values(metric, curve), where="post", linestyle=style, color=_COLD_COLOR, linewidth=1.6,
                marker="D" if key == "recommended" else "^", markersize=4,
                label=f"{label} on {reference_name} (metabase)")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"CV score ({_metric_direction_text(metric, '')})")
    ax.set_title("Optimisation history")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    return fig


def _history_section(result: Any, trials: list[Any], recommendations: Any, metabase: Any,
                     n_rows: int) -> _Section:
    sec = _Section("history", "Optimisation history")
    recs, method, neighbours, _ = _recommendation_parts(recommendations)
    done = [t for t in trials if _scored(t)]
    warm = [t for t in trials if _origin(t) == ORIGIN_WARM_START]
    counts = pd.Series([t.user_attrs.get("status") or t.state.name.lower() for t in trials]).value_counts()
    others = ", ".join(f"{int(n)} {s}" for s, n in counts.items() if s != "ok")
    sec.p(f"{_plural(len(trials), 'trial')} finished in {result.elapsed:.1f} s ({len(done)} scored"
          + (f"; {others}" if others else "") + f"), on the {result.device}. "
          f"{_plural(len(warm), 'warm-start trial')} (orange squares) ran first, then TPE (green circles).")
    if done:
        best = max(done, key=lambda t: (t.value, -t.number))
        warm_best = max((t.value for t in done if _origin(t) == ORIGIN_WARM_START), default=math.nan)
        metric = result.metric
        text = (f"The best score, {metric} {_score_text(metric, best.value)}, came from trial {best.number} "
                f"({_origin(best)}).")
        if math.isfinite(warm_best):
            gain = best.value - warm_best  # stored scores: higher is better, so gain > 0 is progress
            text += (f" The best warm-start trial scored {_score_text(metric, warm_best)}; "
                     + (f"TPE improved on it by {_score(gain)}." if gain > 0 else "TPE did not improve on it."))
        sec.p(text)

    reference: dict[str, np.ndarray] = {}
    reference_name = ""
    nearest = _nearest(recs, neighbours) if _from_meta_model(recs, method) else None
    if nearest is None:
        why = ("the search was not warm-started from the meta-model, so there is no similar dataset to compare with"
               if not _from_meta_model(recs, method) else "the recommendations name no similar dataset")
        sec.note(f"No cold-start reference line: {why}.")
    else:
        reference_name = str(nearest.get("name") or nearest["dataset_id"])
        try:
            store = _open_store(metabase, recommendations)
            recommended = [_rec_config(r) for r in sorted(recs, key=lambda r: r.rank)]
            reference, why = cold_start_curves(store, str(nearest["dataset_id"]), result.task, result.metric,
                                               n_rows, recommended)
        except Exception as exc:  # missing or unreadable metabase: the report still gets written
            reference, why = {}, f"the metabase could not be read ({str(exc).splitlines()[0][:200]})"
        if reference:
            sec.p(f"Dashed line: the cold-start reference, i.e. the best score after trying the first k default "
                  f"configurations on {reference_name}, the nearest dataset in the metabase (distance "
                  f"{_fmt(nearest.get('distance'), 2)}); dotted line: the same for the recommended configurations. "
                  "These are that dataset's stored scores, not runs on this data.")
        else:
            sec.note(f"No cold-start reference line: {why}.")
    sec.figure("history", _history_figure(trials, reference, reference_name, result.metric),
               "Best CV score vs trial; warm-start trials are orange squares, TPE trials green circles.")
    top = result.leaderboard.head(_TOP_TRIALS)
    rows = [[str(int(r.trial)), r.algorithm, r.params,
             _score_text(result.metric, r.score, r.std) if r.status == "ok" else str(r.status),
             _fmt(r.fit_seconds, 2),
             "warm-start ◆" if r.origin == ORIGIN_WARM_START else str(r.origin)]
            for r in top.itertuples(index=False)]
    sec.p(f"Top {len(rows)} of {len(result.leaderboard)} trials (CV score: "
          f"{_metric_direction_text(result.metric, result.task)}):")
    sec.table(["trial", "algorithm", "key params", "CV score", "fit s", "origin"], rows)
    failed = result.leaderboard[~result.leaderboard["status"].isin(["ok", "pruned"])]
    for (status, message), group in failed.groupby(["status", "message"], sort=False):
        sec.note(f"{_plural(len(group), 'trial')} {status}: {message}")
    return sec


# ------------------------------------------------------------------ 4. per algorithm
def _algorithm_figure(board: pd.DataFrame, metric: str) -> Any:
    ok = board[board["status"] == "ok"]
    algos = [a for a in dict.fromkeys(board["algorithm"]) if (ok["algorithm"] == a).any()]
    fig, ax = _new_figure(width=max(5.0, 1.2 * len(algos) + 2.5))
    data = [_values(metric, ok.loc[ok["algorithm"] == a, "score"]) for a in algos]
    positions = list(range(1, len(algos) + 1))
    if algos:
        ax.boxplot(data, positions=positions, widths=0.5, showfliers=False, medianprops={"color": _BEST_COLOR})
        rng = np.random.default_rng(0)
        for pos, a in zip(positions, algos):
            rows = ok[ok["algorithm"] == a]
            for warm, style in ((True, _WARM_STYLE), (False, _TPE_STYLE)):
                part = rows[(rows["origin"] == ORIGIN_WARM_START) == warm]
                if len(part):
                    ax.scatter(pos + rng.uniform(-0.15, 0.15, len(part)), _values(metric, part["score"]), s=22,
                               alpha=0.8,
                               zorder=3, edgecolors="white", linewidths=0.4, **style)
        ax.set_xticks(positions, algos)
    ax.set_ylabel(f"CV score ({_metric_direction_text(metric, '')})")
    ax.set_title("Scores per algorithm (squares: warm-start trials)")
    ax.grid(alpha=0.3, axis="y")
    return fig


def _algorithm_section(result: Any) -> _Section:
    sec = _Section("algorithms", "Scores per algorithm")
    board = result.leaderboard
    rows = []
    for algo, part in board.groupby("algorithm", sort=False):
        scores = part.loc[part["status"] == "ok", "score"]
        rows.append([str(algo), _fmt(len(part)), _fmt(int((part["status"] == "ok").sum())),
                     _fmt(int((part["status"] == "pruned").sum())),
                     _fmt(int((~part["status"].isin(["ok", "pruned"])).sum())),
                     # best and median of the stored (higher-is-better) scores, shown as the metric's values
                     _score_text(result.metric, scores.max() if len(scores) else math.nan),
                     _score_text(result.metric, scores.median() if len(scores) else math.nan),
                     _fmt(part["fit_seconds"].median(), 2)])
    sec.p(f"CV scores: {_metric_direction_text(result.metric, result.task)}.")
    sec.figure("algorithms", _algorithm_figure(board, result.metric),
               "Distribution of CV scores per algorithm (box: quartiles of scored trials; points: trials).")
    sec.table(["algorithm", "trials", "scored", "pruned", "failed", "best", "median", "median fit s"], rows)
    return sec


# ------------------------------------------------------------------ 5. importance
def param_importance(result: Any, algorithm: Optional[str] = None, seed: int = 0
                     ) -> tuple[dict[str, float], str]:
    """fANOVA importance of ``algorithm``'s hyperparameters (default: the best configuration's),
    from its completed trials only; ``({}, reason)`` when there are too few trials or no
    hyperparameter varied. Names are returned without the ``algorithm:`` prefix."""
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances
    from optuna.trial import TrialState

    algorithm = algorithm or result.best_config["algorithm"]
    prefix = space.trial_param_name(algorithm, "")
    trials = [t for t in result.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if t.params.get("algorithm") == algorithm and _scored(t)]
    if len(trials) < 2:
        return {}, (f"fANOVA needs at least two completed {algorithm} trials with differing hyperparameters; "
                    f"this search has {len(trials)}")
    common = set.intersection(*({k for k in t.params if k.startswith(prefix)} for t in trials))
    varying = sorted(n for n in common
                     if len({json.dumps(t.params[n], default=str) for t in trials}) > 1
                     and not trials[0].distributions[n].single())
    if not varying:
        return {}, (f"the {len(trials)} completed {algorithm} trials share the same hyperparameter values; "
                    "fANOVA needs at least two that differ")
    if len({t.value for t in trials}) < 2:
        return {}, f"all {len(trials)} completed {algorithm} trials scored the same; no hyperparameter mattered"
    try:
        with quiet_optuna(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fANOVA's and scikit-learn's warnings too
            sub = optuna.create_study(direction="maximize", storage=optuna.storages.InMemoryStorage())
            sub.add_trials(trials)
            raw = get_param_importances(sub, evaluator=FanovaImportanceEvaluator(seed=seed), params=varying)
    except Exception as exc:
        return {}, f"fANOVA failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})"
    imp = {k[len(prefix):]: float(v) for k, v in raw.items()}
    if not imp or not all(math.isfinite(v) for v in imp.values()):
        return {}, "fANOVA gave no finite importances"
    return imp, ""


def _importance_figure(imp: dict[str, float], algorithm: str) -> Any:
    items = sorted(imp.items(), key=lambda kv: kv[1])
    fig, ax = _new_figure(height=max(2.2, 0.4 * len(items) + 1.2))
    ax.barh([k for k, _ in items], [v for _, v in items], color=_TPE_STYLE["color"])
    ax.set_xlabel("share of the score's variance (fANOVA)")
    ax.set_title(f"Hyperparameter importance: {algorithm}")
    ax.grid(alpha=0.3, axis="x")
    return fig


def _importance_section(result: Any) -> _Section:
    sec = _Section("importance", "Hyperparameter importance")
    algorithm = result.best_config["algorithm"]
    imp, why = param_importance(result, algorithm)
    if not imp:
        sec.note(f"No hyperparameter importance for {algorithm}: {why}.")
        return sec
    n = sum(1 for t in _trials(result) if t.params.get("algorithm") == algorithm and _scored(t))
    sec.p(f"fANOVA (Optuna) on the {_plural(n, 'completed trial')} of the best algorithm, {algorithm}: the share "
          "of the variance of the CV score each hyperparameter explains on its own.")
    left_out = [k for k in result.best_config.get("params", {}) if k not in imp]
    if left_out:
        sec.p(f"Not rated: {', '.join(left_out)} (the same in every trial, or set only in some of them).")
    sec.figure("importance", _importance_figure(imp, algorithm), f"fANOVA importance of {algorithm}'s hyperparameters.")
    sec.table(["hyperparameter", "importance"],
              [[k, f"{v:.3f}"] for k, v in sorted(imp.items(), key=lambda kv: -kv[1])])
    return sec


# ------------------------------------------------------------------ 6. pipeline
def _pipeline_section(result: Any, dataset: Any, code: Optional[str]) -> _Section:
    from autometa.pipeline import pipeline_code as make_code

    sec = _Section("pipeline", "Final pipeline")
    config = result.best_config
    folds = ""
    for t in _trials(result):
        if _scored(t) and math.isclose(t.value, result.best_score) and t.user_attrs.get("fold_scores"):
            folds = f" over {len(t.user_attrs['fold_scores'])} cross-validation folds"
            break
    from autometa.display import metric_direction

    sec.p(f"{config['algorithm']}: CV {result.metric} {_score_text(result.metric, result.best_score, result.best_std)}"
          f"{folds} (mean ± standard deviation across folds; {metric_direction(result.metric)}), refitted on all "
          f"{_plural(len(dataset.X), 'row')}.")
    params = space.model_params(config)  # as the estimator receives them: gamma=0.01, not gamma_value
    sec.table(["hyperparameter", "value"],
              [["algorithm", str(config["algorithm"])]] + [[k, _fmt(v) if isinstance(v, float) else str(v)]
                                                          for k, v in params.items()])
    if code is None:
        try:
            code = make_code(config, dataset.column_types, result.task)
        except Exception as exc:
            sec.note(f"The pipeline code could not be generated ({type(exc).__name__}).")
    if code:
        sec.p("Code that builds the same (unfitted) scikit-learn pipeline:")
        sec.code(code)
    return sec


# ------------------------------------------------------------------ rendering
_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:980px;margin:0 auto;padding:1.5em 2em;background:#fff}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
.meta{color:#666;font-size:.9em}nav ul{columns:2;padding-left:1.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f0f0f0}tr:nth-child(even) td{background:#fafafa}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.4em .8em}
pre{background:#f5f5f5;padding:.8em;overflow-x:auto;font-size:.85em;line-height:1.35}
figure{margin:1em 0}img{max-width:100%;height:auto}figcaption{color:#555;font-size:.9em}
"""


def _render_html(title: str, subtitle: str, sections: list[_Section]) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{e(title)}</title><style>{_CSS}</style></head><body><main>",
           f"<h1>{e(title)}</h1>", f'<p class="meta">{e(subtitle)}</p>', "<nav><ul>"]
    out += [f'<li><a href="#{s.anchor}">{e(s.title)}</a></li>' for s in sections]
    out.append("</ul></nav>")
    for s in sections:
        out.append(f'<section id="{s.anchor}"><h2>{e(s.title)}</h2>')
        for b in s.blocks:
            if b.kind == "p":
                out.append(f"<p>{e(b.text)}</p>")
            elif b.kind == "note":
                out.append(f'<p class="note">Note: {e(b.text)}</p>')
            elif b.kind == "table":
                head = "".join(f"<th>{e(h)}</th>" for h in b.headers)
                body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in b.rows)
                out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            elif b.kind == "figure":
                data = base64.b64encode(b.png).decode("ascii")
                out.append(f'<figure><img alt="{e(b.text)}" src="data:image/png;base64,{data}">'
                           f"<figcaption>{e(b.text)}</figcaption></figure>")
            elif b.kind == "code":
                out.append(f'<pre><code class="language-python">{e(b.text)}</code></pre>')
        out.append("</section>")
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"


def _md_cell(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _render_markdown(title: str, subtitle: str, sections: list[_Section], images: dict[int, str]) -> str:
    out = [f"# {title}", "", f"*{subtitle}*", ""]
    out += [f"- [{s.title}](#{s.anchor})" for s in sections] + [""]
    for s in sections:
        out += [f'<a id="{s.anchor}"></a>', "", f"## {s.title}", ""]
        for b in s.blocks:
            if b.kind == "p":
                out += [b.text, ""]
            elif b.kind == "note":
                out += [f"> **Note:** {b.text}", ""]
            elif b.kind == "table":
                out.append("| " + " | ".join(_md_cell(h) for h in b.headers) + " |")
                out.append("|" + "|".join("---" for _ in b.headers) + "|")
                out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
                out.append("")
            elif b.kind == "figure":
                alt = b.text.replace("[", "(").replace("]", ")")
                out += [f"![{alt}]({images[id(b)]})", "", f"*{b.text}*", ""]
            elif b.kind == "code":
                fence = "~~~~" if "```" in b.text else "```"
                out += [f"{fence}python", b.text.rstrip("\n"), fence, ""]
    return "\n".join(out).rstrip("\n") + "\n"


# ------------------------------------------------------------------ public API
def write_report(
    path: Union[str, os.PathLike],
    *,
    dataset: Any,
    result: Any,
    metafeatures: Any = None,
    recommendations: Any = None,
    pipeline_code: Optional[str] = None,
    metabase: Any = None,
) -> Path:
    """Write a self-contained report of a search to ``path`` and return the path.

    The format follows the suffix: ``.html``/``.htm`` (one file, figures embedded) or ``.md``
    (figures written beside it as ``<stem>-<figure>.png``); anything else raises ConfigError.
    ``dataset`` is the :class:`~autometa.data.Dataset` searched, ``result`` the
    :class:`~autometa.search.SearchResult`. ``metafeatures`` (a MetaFeatures or a name -> value
    dict) are computed when not given (2 s per group at most). ``recommendations`` is a
    :class:`~autometa.recommend.RecommendResult` or a list of Recommendations; ``pipeline_code``
    defaults to :func:`autometa.pipeline.pipeline_code` of the best configuration; ``metabase``
    (a folder or a Metabase) supplies the cold-start reference, by default the metabase the
    meta-model came from.
    """
    path = Path(path)
    fmt = check_report_path(path)
    if metafeatures is None:
        from autometa.metafeatures import describe_dataset

        metafeatures = describe_dataset(dataset, max_rows=2_000, time_budget=2.0)
    trials = _trials(result)
    sections = [
        _dataset_section(dataset, metafeatures, result, recommendations),
        _warm_start_section(result, recommendations, trials),
        _history_section(result, trials, recommendations, metabase, len(dataset.X)),
        _algorithm_section(result),
        _importance_section(result),
        _pipeline_section(result, dataset, pipeline_code),
    ]
    title = f"autometa report: {dataset.name}"
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = (f"{dataset.task} task, {result.metric}, {_plural(result.n_trials, 'trial')}; "
                f"written by autometa {__version__} on {stamp}")
    if fmt == "html":
        atomic_write_bytes(path, _render_html(title, subtitle, sections).encode("utf-8"))
        return path
    images: dict[int, str] = {}
    for s in sections:
        for b in s.blocks:
            if b.kind == "figure":
                name = f"{path.stem}-{b.name}.png"
                atomic_write_bytes(path.parent / name, b.png)
                images[id(b)] = name
    atomic_write_bytes(path, _render_markdown(title, subtitle, sections, images).encode("utf-8"))
    return path

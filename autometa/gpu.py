"""Choose the compute device: check once that LightGBM's GPU backend really works, else use the CPU.

LightGBM is the only model family with a GPU implementation here; most pip wheels are built
without it, and a GPU build can still fail at run time (no OpenCL/CUDA device, driver mismatch).
A tiny probe fit finds out in milliseconds instead of letting every trial of a search crash.
"""
from __future__ import annotations

import warnings
from typing import Optional

from autometa.errors import ConfigError

DEVICES = ("cpu", "gpu")

# probe result: None = not probed yet, "" = works, otherwise the reason it does not
_probe_result: Optional[str] = None


def _probe_lightgbm_gpu() -> str:
    """Fit a 2-round LightGBM model with ``device_type="gpu"``; return "" on success, else why not."""
    try:
        import lightgbm as lgb
        import numpy as np

        rng = np.random.default_rng(0)
        X = rng.normal(size=(64, 3))
        y = (X[:, 0] > 0).astype(int)
        model = lgb.LGBMClassifier(
            device_type="gpu", n_estimators=2, num_leaves=4, min_child_samples=2, verbose=-1
        )
        model.fit(X, y)
        model.predict(X[:4])
    except Exception as exc:  # any failure means "not usable", whatever the library raised
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return reason[:200]
    return ""


def gpu_available() -> bool:
    """Whether LightGBM's GPU backend works on this machine (probed once per process, then cached)."""
    global _probe_result
    if _probe_result is None:
        _probe_result = _probe_lightgbm_gpu()
    return _probe_result == ""


def gpu_unavailable_reason() -> str:
    """Why LightGBM's GPU backend is not usable here ("" when it works); probes like :func:`gpu_available`."""
    gpu_available()
    return _probe_result or ""


def resolve_device(device: str) -> str:
    """Return the device to actually use: "cpu", or "gpu" only when the GPU backend works.

    Asking for "gpu" on a machine without a working backend warns once (per call) and falls back
    to "cpu" so that a search still runs; the device used is what callers record.
    """
    if not isinstance(device, str) or device.lower() not in DEVICES:
        raise ConfigError(f"unknown device {device!r}; use cpu or gpu")
    device = device.lower()
    if device == "cpu":
        return "cpu"
    if gpu_available():
        return "gpu"
    warnings.warn(
        f"GPU requested but LightGBM's GPU backend is not available ({_probe_result}); using CPU",
        UserWarning,
        stacklevel=2,
    )
    return "cpu"

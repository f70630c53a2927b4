"""Evaluation functions with deliberately bad configurations, for the per-trial limit tests.

Module-level functions so that autometa.limits can send them to a child process by name (the
tests folder is on sys.path under pytest, and the child inherits sys.path).
"""
from __future__ import annotations

import time
from typing import Any

from autometa.evaluate import EvalResult, evaluate_config


def hang_on_knn(config: dict, *args: Any, **kwargs: Any) -> EvalResult:
    """Like evaluate_config, but a knn configuration never returns (a hanging fit).

    With $AUTOMETA_TEST_PID_FILE set, the hanging process writes its pid there first.
    """
    if config["algorithm"] == "knn":
        import os

        if os.environ.get("AUTOMETA_TEST_PID_FILE"):
            with open(os.environ["AUTOMETA_TEST_PID_FILE"], "w") as f:
                f.write(str(os.getpid()))
        time.sleep(3600)
    return evaluate_config(config, *args, **kwargs)


def hog_memory_on_knn(config: dict, *args: Any, **kwargs: Any) -> EvalResult:
    """Like evaluate_config, but a knn configuration allocates memory without end (8 GiB max)."""
    if config["algorithm"] == "knn":
        hoard = []
        for _ in range(8 * 1024 // 64):
            hoard.append(bytearray(64 * 1024 * 1024))  # touched: zero-filled pages
    return evaluate_config(config, *args, **kwargs)


def crash_process_on_knn(config: dict, *args: Any, **kwargs: Any) -> EvalResult:
    """Like evaluate_config, but a knn configuration kills its own process (a segfault-like death)."""
    if config["algorithm"] == "knn":
        import os
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    return evaluate_config(config, *args, **kwargs)

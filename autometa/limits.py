"""Hard per-trial limits: evaluate one configuration in a child process that can be killed.

:func:`run_limited` runs an evaluation function (by default
:func:`autometa.evaluate.evaluate_config`) in a child process started with the "forkserver"
context where the platform has it ("spawn" elsewhere), so the parent's threads (OpenMP, database
connections) never leak into the child. The child's address space is capped with
``resource.setrlimit(RLIMIT_AS)`` at what it holds when it starts plus ``memory_limit_mb``, so an
allocation beyond that raises MemoryError (status "memout"); the parent kills the child when the
wall-clock limit passes (status "timeout"). Fold reports travel over a pipe, so the parent's
pruner still decides after each fold. The evaluation function must be importable by name (a
module-level function): it is sent to the child by reference.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import pickle
import signal
import sys
import time
import traceback
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

from autometa.errors import ConfigError
from autometa.evaluate import EvalResult

__all__ = ["check_limits", "can_isolate", "run_limited", "warm_up"]

_MB = 1024 * 1024
# seconds between the kill and giving up on the child's exit
_KILL_WAIT = 5.0
# most seconds a child may take to start (imports), not counted in the trial time limit
_START_WAIT = 120.0
_CONTEXT: Any = None
# modules the fork server imports once, so that no trial pays for them (the estimators are
# imported lazily by autometa.pipeline); a missing one is skipped by multiprocessing
_PRELOAD = ("autometa.evaluate", "autometa.limits", "sklearn.linear_model", "sklearn.neighbors",
            "sklearn.ensemble", "sklearn.svm", "sklearn.calibration", "lightgbm")


def check_limits(time_limit: Optional[float], memory_limit_mb: Optional[float]) -> None:
    """ConfigError unless each limit is None or a positive number (memory limits need POSIX)."""
    for name, value, unit in (("trial_time_limit", time_limit, "seconds"),
                              ("trial_memory_limit_mb", memory_limit_mb, "megabytes")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(float(value)) or not value > 0):
            raise ConfigError(f"{name}={value!r} must be a positive number of {unit}")
    if memory_limit_mb is not None:
        try:
            import resource  # noqa: F401
        except ImportError:
            raise ConfigError("trial_memory_limit_mb needs a POSIX system (no resource module); "
                              "leave the memory limit out") from None


def can_isolate(func: Callable[..., Any]) -> bool:
    """Whether ``func`` can be sent to a child process (a module-level function or picklable)."""
    try:
        pickle.dumps(func)
    except Exception:
        return False
    return True


def _context() -> Any:
    global _CONTEXT
    if _CONTEXT is None:
        methods = multiprocessing.get_all_start_methods()
        _CONTEXT = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if "forkserver" in methods:
            # import the heavy modules once in the server, not once per trial
            _CONTEXT.set_forkserver_preload(list(_PRELOAD))
    return _CONTEXT


def warm_up() -> None:
    """Start the fork server (and its imports) in the background, so that the first limited
    trial of a time-budgeted search does not wait for it."""
    import threading

    ctx = _context()
    if ctx.get_start_method() != "forkserver":
        return

    def start() -> None:
        try:
            from multiprocessing import forkserver

            forkserver.ensure_running()
        except Exception:  # the first trial starts it then
            pass

    threading.Thread(target=start, name="autometa-forkserver", daemon=True).start()


def _address_space() -> int:
    """Bytes of virtual memory this process maps now (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _die_with_parent(lifeline: Any) -> None:
    """Exit as soon as the search process is gone (killed): its end of ``lifeline`` closes."""
    import threading

    def watch() -> None:
        try:
            lifeline.recv()  # nothing is ever sent: returns by EOFError when the parent is gone
        except BaseException:
            pass
        os._exit(1)

    threading.Thread(target=watch, name="autometa-lifeline", daemon=True).start()


def _child(conn: Any, lifeline: Any, func: Callable[..., EvalResult], args: tuple, kwargs: dict,
           memory_limit_mb: Optional[float], prunable: bool) -> None:
    """Child process: cap memory, evaluate, send fold reports and the result over ``conn``."""
    _die_with_parent(lifeline)
    if memory_limit_mb is not None:
        import resource

        limit = _address_space() + int(memory_limit_mb * _MB)
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    conn.send(("ready",))

    def report(fold: int, running_mean: float) -> bool:
        conn.send(("report", fold, running_mean))
        return bool(conn.recv()) if prunable else False

    try:
        result = func(*args, report=report, **kwargs)
        conn.send(("result", result))
    except MemoryError as exc:
        conn.send(("memout", f"MemoryError: {exc}" if str(exc) else "MemoryError: out of memory"))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent as text
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        try:
            conn.send(("error", type(exc).__name__, last[:300]))
        except Exception:
            pass
    finally:
        conn.close()


def _failed(status: str, message: str) -> EvalResult:
    return EvalResult(status=status, score=math.nan, std=math.nan, fold_scores=[],
                      fold_metrics=[], fit_seconds=math.nan, predict_seconds=math.nan,
                      message=message)


@contextmanager
def _main_not_reimported(func: Callable[..., Any]) -> Iterator[None]:
    """Keep a child from re-running the parent's script (``python script.py``).

    A "forkserver"/"spawn" child imports the parent's main script unless it is a module (``-m``),
    which re-runs a script that lacks an ``if __name__ == "__main__":`` guard. The child needs
    nothing from it unless ``func`` lives there, so the script's path is hidden while it starts.
    """
    main = sys.modules.get("__main__")
    hide = (main is not None and getattr(main, "__spec__", None) is None
            and hasattr(main, "__file__") and getattr(func, "__module__", None) != "__main__")
    if not hide:
        yield
        return
    path = main.__file__
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def _stop(process: Any) -> None:
    if process.is_alive():
        process.kill()
    process.join(_KILL_WAIT)


def run_limited(func: Callable[..., EvalResult], args: tuple, kwargs: dict, *,
                time_limit: Optional[float] = None, memory_limit_mb: Optional[float] = None,
                report: Optional[Callable[[int, float], bool]] = None,
                deadline: Optional[float] = None) -> EvalResult:
    """Run ``func(*args, report=..., **kwargs)`` in a child process under hard limits.

    Returns the child's EvalResult, or a "timeout" result when ``time_limit`` seconds pass (the
    child is killed), a "memout" result when the child runs out of the ``memory_limit_mb``
    megabytes it may allocate (MemoryError, or death by a signal under a memory limit), a "crash"
    result when it dies otherwise. ``report`` runs in the parent after each fold; True prunes. An
    AutometaError raised in the child (the caller's mistake) is raised again here.

    ``time_limit`` counts from the moment the child is ready (its start-up is not the trial's
    fault); ``deadline`` (a ``time.monotonic()`` value, e.g. the end of a time budget) counts
    start-up too: the child is killed when either passes.
    """
    check_limits(time_limit, memory_limit_mb)
    ctx = _context()
    parent, child = ctx.Pipe(duplex=True)
    life_r, life_w = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_child, args=(child, life_r, func, args, kwargs, memory_limit_mb, report is not None),
        daemon=False,  # a trial may start processes of its own (n_jobs); killed in finally
    )
    with _main_not_reimported(func):
        process.start()
    child.close()
    life_r.close()
    try:
        # the clock starts once the child is ready: a slow process start is no slow trial
        start_wait = _START_WAIT if deadline is None else max(0.0, min(_START_WAIT, deadline - time.monotonic()))
        if not parent.poll(start_wait):
            if deadline is not None and time.monotonic() >= deadline:
                return _failed("timeout", "the time budget ran out while the trial process started")
            return _failed("crash", f"the trial process did not start within {_START_WAIT:g}s")
        try:
            parent.recv()
        except (EOFError, OSError):
            return _died(process, memory_limit_mb)
        ends = None if time_limit is None else time.monotonic() + float(time_limit)
        if deadline is not None:
            ends = deadline if ends is None else min(ends, deadline)
        while True:
            wait = None if ends is None else max(0.0, ends - time.monotonic())
            if not parent.poll(wait):
                if ends is not None and time.monotonic() >= ends:
                    _stop(process)
                    if time_limit is None:
                        return _failed("timeout", "the time budget ran out; the trial was stopped")
                    return _failed("timeout", f"trial time limit of {time_limit:g}s exceeded; "
                                              "the trial was stopped")
                continue
            try:
                message = parent.recv()
            except (EOFError, OSError):
                return _died(process, memory_limit_mb)
            kind = message[0]
            if kind == "report":
                answer = report(message[1], message[2]) if report is not None else False
                parent.send(bool(answer))
            elif kind == "result":
                return message[1]
            elif kind == "memout":
                return _failed("memout", f"{message[1]} (trial memory limit of "
                                         f"{memory_limit_mb:g} MB)")
            else:
                _, name, text = message
                from autometa import errors

                error_type = getattr(errors, name, None)
                if isinstance(error_type, type) and issubclass(error_type, errors.AutometaError):
                    raise error_type(text.split(": ", 1)[-1])
                return _failed("crash", text)
    finally:
        parent.close()
        _stop(process)
        life_w.close()


def _died(process: Any, memory_limit_mb: Optional[float]) -> EvalResult:
    """The result for a child that closed the pipe without sending a result."""
    process.join(_KILL_WAIT)
    code = process.exitcode
    how = f"exit code {code}"
    if code is not None and code < 0:
        try:
            how = f"signal {signal.Signals(-code).name}"
        except ValueError:
            how = f"signal {-code}"
    if memory_limit_mb is not None:
        return _failed("memout", f"the trial process died ({how}) under the trial memory limit "
                                 f"of {memory_limit_mb:g} MB")
    return _failed("crash", f"the trial process died ({how})")

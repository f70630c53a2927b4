"""Files a command writes: checks of the paths, done before the work, not after it, and the one
atomic write (temporary file beside the target, fsync, rename, fsync of the folder) that every
module writing a file uses."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterable, Iterator, Optional, Union

from autometa.errors import ConfigError

PathLike = Union[str, "os.PathLike[str]"]


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file: ``os.path.samefile`` when both exist (it sees hard
    links and symbolic links), else equality of the resolved paths."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError, ValueError):  # unreadable, a symlink loop, a NUL byte, ...
        return os.path.abspath(a) == os.path.abspath(b)


def check_output_path(
    path: PathLike, *, inputs: Iterable[Optional[PathLike]] = (), option: str = "--output",
) -> Path:
    """``path`` as a :class:`Path` if a command may write its file there; else a one-line
    :class:`ConfigError` naming ``option``.

    Refused: an empty path, a path ending in a path separator or naming an existing folder, a
    path whose folder does not exist, an existing path that is not a regular file (a device, a
    pipe, a socket), and a path that is the same file as one of ``inputs`` (files the command
    reads, e.g. the data and the model, or writes elsewhere): writing there would destroy it.
    ``None`` entries of ``inputs`` are skipped.
    """
    raw = os.fspath(path)
    if not raw:
        raise ConfigError(f"{option} is empty; name the file to write")
    seps = tuple(s for s in (os.sep, os.altsep) if s)
    out = Path(raw)
    if raw.endswith(seps) or out.is_dir():
        raise ConfigError(f"{option} {raw!r} is a folder; name a file (inside it, for example)")
    if not out.parent.is_dir():
        raise ConfigError(f"{option} folder {str(out.parent)!r} does not exist; create it first")
    if out.exists() and not out.is_file():
        raise ConfigError(f"{option} {raw!r} exists and is not a regular file (a device, pipe or "
                          "socket?); choose another path")
    for item in inputs:
        if item is None or not os.fspath(item):
            continue
        other = os.fspath(item)
        if _same_file(out, Path(other)):
            same = "" if other == raw else f" (the same file as {other!r})"
            raise ConfigError(f"{option} {raw!r} would overwrite a file this command reads or "
                              f"writes{same}; choose another path")
    return out


def storage_file(storage: Optional[str]) -> Optional[str]:
    """The local file a storage argument names (a journal file or a SQLite database), or None
    (a server URL, in memory): an output must not overwrite it."""
    if not storage:
        return None
    if "://" not in storage:
        return storage
    if storage.lower().startswith("sqlite:///"):
        db = storage[len("sqlite:///"):].split("?", 1)[0]
        return db if db and db != ":memory:" else None
    return None


def _new_file_mode(existing: Path) -> int:
    """Permissions for a file replacing ``existing``: its own, or those of a new file (0o666
    less the umask); a temporary file is created 0o600."""
    try:
        return existing.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


#: temporary files of :func:`atomic_write` are named ``.<name>.tmp-<pid>-<random>``
_TEMP_MARK = ".tmp-"


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every system can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path: PathLike, mode: str = "wb", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on success rename it onto ``path``.

    A failure (or an interrupt) while writing deletes the temporary file and leaves ``path``
    as it was: never half a file, never an existing file truncated before the new one is done.
    The data are fsynced before the rename and the folder after it, so a process killed at any
    moment (even ``kill -9``) or a power cut leaves the old or the new file, never a torn one.
    The temporary file is ``.<name>.tmp-<pid>-<random>``: :func:`remove_stale_temp_files`
    deletes those whose process is gone.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{_TEMP_MARK}{os.getpid()}-", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` with :func:`atomic_write`."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (True when that cannot be told, e.g.
    another user's process: callers then keep its files and trials)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists but belongs to someone else
        return True
    return True


def remove_stale_temp_files(folder: PathLike) -> None:
    """Delete the temporary files of :func:`atomic_write` in ``folder`` left by a process that is
    gone (killed while writing); those of running processes are kept."""
    for tmp in Path(folder).glob(f".*{_TEMP_MARK}*"):
        pid = tmp.name.rsplit(_TEMP_MARK, 1)[-1].split("-")[0]
        if pid.isdigit() and not process_alive(int(pid)):
            tmp.unlink(missing_ok=True)

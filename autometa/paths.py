"""Checks of the files a command is about to write, done before the work, not after it."""
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


@contextmanager
def atomic_write(path: PathLike, mode: str = "wb", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on success rename it onto ``path``.

    A failure (or an interrupt) while writing deletes the temporary file and leaves ``path``
    as it was: never half a file, never an existing file truncated before the new one is done.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

"""Hide passwords in text that a user, a log or a file may see: :func:`mask_url`.

Storage URLs such as ``postgresql://alice:S3cret@db.example/optuna`` carry a password, and
errors of SQLAlchemy or a database driver often echo the URL. Every message that can contain a
storage URL goes through :func:`mask_url` before it is printed or stored.

(The module is not called ``secrets``: running ``python autometa/cli.py`` puts this folder on
``sys.path``, and numpy imports the standard library's ``secrets``.)
"""
from __future__ import annotations

import re

MASK = "***"

# scheme://user:PASSWORD@host... The password ends at the first "@" that is followed by a host
# (characters up to a "/", "?", "#", whitespace or the end, with no further "@"), so that an
# unencoded "@" inside the password is hidden too, while an "@" in the path or query is not.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@?#]*:)"
    r"(?P<password>\S*?)"
    r"(?=@[^\s@/?#]*(?:[/?#\s]|$))"
)
# key=value passwords, e.g. libpq's "password=..." or a URL query "?password=..."
_KEY_PASSWORD = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd)\s*=\s*)(?P<password>'[^']*'|\"[^\"]*\"|[^\s&;,)'\"]+)",
    re.IGNORECASE,
)


def mask_url(text: object) -> str:
    """``text`` (converted to ``str``) with the password of every URL in it replaced by ``***``.

    ``postgresql://alice:S3cret@host/db`` becomes ``postgresql://alice:***@host/db``; URLs
    without a password (``sqlite:///search.db``, ``postgresql://alice@host/db``) and the rest of
    the text are unchanged. ``password=...`` pairs (libpq connection strings, URL queries) are
    masked as well. Masking an already masked text changes nothing.
    """
    text = str(text)
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    if "=" in text:
        text = _KEY_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    return text

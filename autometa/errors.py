"""Exceptions that carry a one-line, user-facing message."""
from __future__ import annotations


class AutometaError(Exception):
    """Base class for errors a user can fix; the message is one line naming problem and fix."""


class DataError(AutometaError, ValueError):
    """The input data cannot be used as given (unreadable file, bad target, ...)."""


class ConfigError(AutometaError, ValueError):
    """A configuration, option or argument is invalid."""

"""Exceptions that carry a message fit to show a user on one line."""

from __future__ import annotations


class WatcherError(Exception):
    """Base class: str(error) is a complete, one-line explanation."""


class ConfigError(WatcherError):
    """feeds.yaml is wrong. `path` names the key, e.g. ``sources[0].url``."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class FetchError(WatcherError):
    """An upstream request failed for good (after retries). Secrets are already redacted."""


class ParseError(WatcherError):
    """An upstream response could not be understood."""


class UpstreamError(WatcherError):
    """The upstream answered, but with an error of its own (e.g. <ERROR> inside HTTP 200)."""


class StoreError(WatcherError):
    """The database is unusable (corrupt, foreign, too new, read-only)."""


def os_reason(exc: OSError) -> str:
    """An OSError in words, naming the file it is about: "/srv/x: Not a directory"."""
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason

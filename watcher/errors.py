"""Exceptions that carry a message fit to show a person on one line.

Each class says whose problem it is, and so which exit code the CLI gives:
ConfigError and UsageError (2: fix what you typed), SourceError (1: an upstream failed; the other
sources were still polled), StoreError (1: the database), OutputError (1: a digest could not be written).
"""

from __future__ import annotations


class WatcherError(Exception):
    """Base class: str(error) is a complete, one-line explanation."""


class ConfigError(WatcherError):
    """feeds.yaml is wrong. `path` names the key, e.g. ``sources[0].url``."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class UsageError(WatcherError):
    """A command-line argument is wrong, e.g. ``--week 2026-53``."""


class SourceError(WatcherError):
    """An upstream failed. The message starts with the upstream's host once it is known.

    `url` is the whole request URL (secrets redacted), for the log; the message shows only the
    host, the reason and the path up to its query.
    """

    def __init__(self, reason: str, *, host: str | None = None, url: str | None = None) -> None:
        self.reason = reason
        self.host = host
        self.url = url
        super().__init__(f"{host}: {reason}" if host else reason)

    def at(self, host: str) -> SourceError:
        """The same error, said of `host` when it does not name one yet."""
        if self.host:
            return self
        return type(self)(self.reason, host=host, url=self.url)


class FetchError(SourceError):
    """A request failed for good (after retries). Secrets are already redacted."""


class ParseError(SourceError):
    """A response could not be understood."""


class UpstreamError(SourceError):
    """The upstream answered, but with an error of its own (e.g. <ERROR> inside HTTP 200)."""


class StoreError(WatcherError):
    """The database is unusable (corrupt, foreign, too new, read-only, disk full)."""


class OutputError(WatcherError):
    """A digest file (or the index) could not be written."""


def os_reason(exc: OSError) -> str:
    """An OSError in words, naming the file it is about: "/srv/x: Not a directory"."""
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason

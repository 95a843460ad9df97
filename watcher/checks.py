"""Value checkers shared by every settings parser. Each returns the value or raises
ConfigError(path, message) naming the key path and saying what to write instead."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .errors import ConfigError

T = TypeVar("T")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def describe(value: Any) -> str:
    """What a YAML value is, in words, for "must be X, not …"."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, bool):
        return f"true/false ({value!r})"
    if value is None:
        return "empty"
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:59] + "…"
    if isinstance(value, str):
        return f"text {shown}"
    return f"{type(value).__name__} {shown}"


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def mapping(value: Any, path: str, what: str = "a mapping of keys to values") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(path, f"must be {what}, not {describe(value)}")
    return value


def check_keys(raw: Mapping[Any, Any], path: str, allowed: Collection[str], required: Collection[str] = ()) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(join(path, str(key)), f"unknown key; expected one of: {', '.join(sorted(allowed))}")
    for key in sorted(required):
        if key not in raw:
            raise ConfigError(join(path, key), "is required but missing")


def text(value: Any, path: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ConfigError(path, f"must be text, not {describe(value)}")
    if not allow_empty and not value.strip():
        raise ConfigError(path, "must not be empty")
    return value.strip()


def one_line(value: Any, path: str) -> str:
    found = text(value, path)
    if "\n" in found or "\r" in found:
        raise ConfigError(path, "must be a single line")
    return found


def name(value: Any, path: str, what: str = "name") -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ConfigError(
            path, f"{what} {value!r} must be 1-40 lower-case letters, digits, '_' or '-', starting with a letter or digit"
        )
    return value


def integer(value: Any, path: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(path, f"must be a whole number from {lo} to {hi}, not {describe(value)}")
    if not lo <= value <= hi:
        raise ConfigError(path, f"must be from {lo} to {hi}, not {value}")
    return value


def number(value: Any, path: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(path, f"must be a number from {lo:g} to {hi:g}, not {describe(value)}")
    if not lo <= value <= hi:
        raise ConfigError(path, f"must be from {lo:g} to {hi:g}, not {value}")
    return float(value)


def between(lo: int, hi: int) -> Callable[[Any, str], int]:
    """A whole-number checker for `optional`: `optional(raw, "limit", path, between(1, 1000), 100)`."""
    return lambda value, path: integer(value, path, lo, hi)


def http_url(value: Any, path: str) -> str:
    url = text(value, path)
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        ok = False
    if not ok:
        raise ConfigError(path, f"must be a full http(s) URL with a host, e.g. https://example.org/path, not {url!r}")
    return url


def clock_time(value: Any, path: str) -> str:
    if not isinstance(value, str) or not HHMM_RE.match(value):
        raise ConfigError(path, f'must be a 24-hour time "HH:MM" in quotes, e.g. "06:00", not {value!r}')
    return value


def string_list(value: Any, path: str, check: Callable[[Any, str], str] = text) -> tuple[str, ...]:
    """A non-empty list (a single string counts as a list of one), each entry checked, none twice."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(path, f"must be a non-empty list, not {describe(value)}")
    found = tuple(check(v, f"{path}[{i}]") for i, v in enumerate(value))
    for i, v in enumerate(found):
        if v in found[:i]:
            raise ConfigError(f"{path}[{i}]", f"{v!r} is listed twice")
    return found


def optional(raw: Mapping[str, Any], key: str, path: str, check: Callable[[Any, str], T], default: T) -> T:
    """raw[key] checked, or `default` when the key is absent or empty."""
    return check(raw[key], join(path, key)) if key in raw and raw[key] is not None else default

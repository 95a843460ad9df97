"""feeds.yaml → a typed, validated Config. Every error names its key path and the fix.

Each part of the file is parsed by the module that owns it: topics by `topics`, each source's own
keys by its source type (through the registry); the value checkers are in `checks`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from . import __version__
from .article.claims import ArticleSettings, parse_article
from .checks import (
    between,
    check_keys,
    clock_time,
    describe,
    http_url,
    mapping,
    name,
    number,
    one_line,
    optional,
    string_list,
    text,
)
from .corrections.settings import CrossrefSettings, parse_crossref
from .errors import ConfigError
from .model import Contact, HttpSettings, SourceConfig
from .regulatory.settings import RegulatorySettings, parse_regulatory
from .relevance.topics import Topic, compile_topics
from .sources.registry import SOURCE_TYPES
from .works import parse_separate

TOP_KEYS = {"timezone", "database", "digests", "contact", "http", "schedule", "sources", "topics", "outputs", "site_url", "email",
            "article", "regulatory", "separate", "crossref"}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # APScheduler 3's names; Monday first, as ISO
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# What `outputs` may name (digest/publish.py has a renderer for each); Markdown is the primary record.
OUTPUTS = ("markdown", "html", "atom")
SECURITY = ("starttls", "ssl", "none")
EMAIL_RE = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")


@dataclass(frozen=True, slots=True)
class PollTime:
    """One `schedule.poll` entry: a local time on some weekdays; "06:00" alone is every day."""

    days: tuple[str, ...]  # of WEEKDAYS, in week order; all seven: every day
    time: str  # "HH:MM"

    @property
    def every_day(self) -> bool:
        return len(self.days) == len(WEEKDAYS)

    def __str__(self) -> str:
        return self.time if self.every_day else f"{','.join(self.days)} {self.time}"


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    polls: tuple[PollTime, ...]
    digest_day: str  # mon..sun
    digest_time: str  # "HH:MM"

    @property
    def longest_interval(self) -> timedelta:
        """The longest wall-clock stretch between two consecutive scheduled polls, the week round."""
        moments: set[timedelta] = set()  # after Monday 00:00
        for poll in self.polls:
            hour, minute = (int(part) for part in poll.time.split(":"))
            moments.update(timedelta(days=WEEKDAYS.index(day), hours=hour, minutes=minute) for day in poll.days)
        ordered = sorted(moments)
        return max([b - a for a, b in pairwise(ordered)] + [ordered[0] + timedelta(days=7) - ordered[-1]])


@dataclass(frozen=True, slots=True)
class EmailSettings:
    host: str
    port: int
    security: str  # starttls | ssl | none
    sender: str  # feeds.yaml `from`
    to: tuple[str, ...]
    subject_prefix: str = "Literature watch"


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    timezone: ZoneInfo
    database: Path
    digests: Path
    contact: Contact
    http: HttpSettings
    schedule: ScheduleSettings
    sources: tuple[SourceConfig[Any], ...]
    topics: tuple[Topic, ...]
    outputs: tuple[str, ...] = OUTPUTS  # what is written: the Markdown record first, then the others
    site_url: str | None = None  # where digests/ is published: absolute links in the feed and the mail
    email: EmailSettings | None = None
    article: ArticleSettings | None = None  # the clinic's page: its claims, and its URL to watch
    regulatory: RegulatorySettings | None = None  # the products and facts of the digest's board
    separate: tuple[str, ...] = ()  # record ids each kept a work of its own: a wrong link undone (works.py)
    crossref: CrossrefSettings | None = None  # the listed DOIs re-checked for notices; None: Crossref is not asked


def load(path: str | os.PathLike[str]) -> Config:
    """Read and validate feeds.yaml. Raises ConfigError (one line) on any problem."""
    path = Path(path)
    try:
        raw_text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("", f"{path}: no such file (pass --config PATH, or run in the folder holding feeds.yaml)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("", f"{path}: cannot read: {exc}") from None
    try:
        raw = yaml.load(raw_text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError("", f"{path}: YAML syntax error{where}: {yaml_problem(exc)}") from None
    except ConfigError as exc:  # a key written twice
        raise ConfigError("", f"{path}: {exc.message}") from None
    return parse(raw, base=path.resolve().parent, path=path)


# PyYAML names what it expected or found by token; a person reads these words instead.
YAML_TOKENS = {
    "<stream end>": "the end of the file",
    "<block end>": "the end of the indented block",
    "<block mapping start>": "a key indented differently from the lines above",
    "<block sequence start>": "a list item indented differently from the lines above",
    "<flow sequence end>": "']'",
    "<flow mapping end>": "'}'",
    "<scalar>": "a value",
}


def yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's problem in words, with what to do about the usual ones."""
    problem = str(getattr(exc, "problem", None) or "invalid YAML")
    context = str(getattr(exc, "context", None) or "")
    opened = getattr(exc, "context_mark", None)
    at = f" at line {opened.line + 1}" if opened else ""
    if "'\\t'" in problem:
        return problem + "; indent with spaces, not tabs"
    if problem == "mapping values are not allowed here":
        return "a ':' where a value was expected; put the value in quotes if it contains ': '"
    if "end of stream" in problem and "quoted" in context:
        return f"a quoted text opened{at} is not closed; add the closing quote"
    if "flow node" in context and "<stream end>" in problem:
        return "the file ends inside a list or mapping: a '[' or '{' is not closed"
    if "flow sequence" in context:
        return f"a list opened with '['{at} is not closed with ']' (or an item in it lacks a ',')"
    if "flow mapping" in context:
        return f"a mapping opened with '{{'{at} is not closed with '}}' (or an entry in it lacks a ',')"
    if problem.startswith("expected <block end>"):
        return "this line is indented differently from the lines above it; align it with its siblings"
    for token, words in YAML_TOKENS.items():
        problem = problem.replace(f"'{token}'", words).replace(token, words)
    return problem


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load, except that a key written twice in one mapping is an error: YAML's "the last
    one wins" would silently drop, say, a whole first `sources:` list."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: SafeLoader reports it
                continue
            if first != key_node.start_mark.line + 1:
                raise ConfigError(
                    "", f"line {key_node.start_mark.line + 1}: key {key!r} appears twice in one mapping"
                        f" (first on line {first}); keep one of them")
        return super().construct_mapping(node, deep=deep)


def parse(raw: Any, *, base: Path, path: Path) -> Config:
    if raw is None:
        raise ConfigError("", f"{path}: the file is empty; it needs at least `sources` and `topics`")
    if not isinstance(raw, Mapping):
        raise ConfigError("", f"{path}: must be a mapping of keys to values, not {describe(raw)}; it needs at least `sources` and `topics`")
    check_keys(raw, "", TOP_KEYS, required={"sources", "topics"})
    tz_name = optional(raw, "timezone", "", text, "America/Chicago")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("timezone", f"unknown time zone {tz_name!r}; use an IANA name such as America/Chicago") from None
    sources = parse_sources(raw["sources"])
    topics = compile_topics(raw["topics"], "topics", source_names=[s.name for s in sources])
    contact = parse_contact(raw.get("contact") or {})
    article = (parse_article(raw["article"], topics=topics, source_names=[s.name for s in sources], base=base)
               if raw.get("article") is not None else None)
    regulatory = parse_regulatory(raw["regulatory"], sources) if raw.get("regulatory") is not None else None
    if regulatory is not None:
        check_fact_claims(regulatory, article)
    return Config(
        path=path,
        timezone=tz,
        database=base / optional(raw, "database", "", text, "watcher.db"),
        digests=base / optional(raw, "digests", "", text, "digests"),
        contact=contact,
        http=parse_http(raw.get("http") or {}, contact),
        schedule=parse_schedule(raw.get("schedule") or {}),
        sources=sources,
        topics=topics,
        outputs=optional(raw, "outputs", "", parse_outputs, OUTPUTS),
        site_url=optional(raw, "site_url", "", site_url, None),
        email=parse_email(raw["email"]) if raw.get("email") is not None else None,
        regulatory=regulatory,
        article=article,
        separate=optional(raw, "separate", "", parse_separate, ()),
        crossref=parse_crossref(raw["crossref"], sources) if "crossref" in raw else None,
    )


def check_fact_claims(regulatory: RegulatorySettings, article: ArticleSettings | None) -> None:
    """Every claim a curated fact contradicts or supports is a claim of `article`."""
    known = [c.id for c in article.claims] if article else []
    for i, fact in enumerate(regulatory.facts):
        for relation, ids in (("contradicts", fact.contradicts), ("supports", fact.supports)):
            for j, claim_id in enumerate(ids):
                if claim_id not in known:
                    where = f"regulatory.facts[{i}].{relation}[{j}]"
                    if not known:
                        raise ConfigError(where, f"names the claim {claim_id!r}, but feeds.yaml has no `article` block with claims")
                    raise ConfigError(where, f"{claim_id!r} is not the id of a claim in article.claims; known: {', '.join(known)}")


def parse_outputs(raw: Any, path: str) -> tuple[str, ...]:
    def known(value: Any, where: str) -> str:
        found = text(value, where).lower()
        if found not in OUTPUTS:
            raise ConfigError(where, f"unknown output {found!r}; use some of: {', '.join(OUTPUTS)}")
        return found

    chosen = string_list(raw, path, known)
    if "markdown" not in chosen:
        raise ConfigError(path, "must include markdown: the Markdown digest is the primary record, the others are made from it")
    return tuple(sorted(chosen, key=OUTPUTS.index))


def site_url(value: Any, path: str) -> str:
    url = http_url(value, path)
    return url if url.endswith("/") else url + "/"


def address(value: Any, path: str) -> str:
    found = one_line(value, path)
    if not EMAIL_RE.fullmatch(found):
        raise ConfigError(path, f"must be an e-mail address such as digest@clinic.example, not {found!r}")
    return found


def parse_email(raw: Any) -> EmailSettings:
    path = "email"
    raw = mapping(raw, path)
    check_keys(raw, path, {"host", "port", "security", "from", "to", "subject_prefix"}, required={"host", "from", "to"})
    security = optional(raw, "security", path, text, "starttls").lower()
    if security not in SECURITY:
        raise ConfigError(f"{path}.security", f"must be one of {', '.join(SECURITY)}, not {security!r}")
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[security]
    return EmailSettings(
        host=one_line(raw["host"], f"{path}.host"),
        port=optional(raw, "port", path, between(1, 65535), default_port),
        security=security,
        sender=address(raw["from"], f"{path}.from"),
        to=string_list(raw["to"], f"{path}.to", address),
        subject_prefix=optional(raw, "subject_prefix", path, one_line, "Literature watch"),
    )


def parse_contact(raw: Any) -> Contact:
    raw = mapping(raw, "contact")
    check_keys(raw, "contact", {"tool", "email"})
    email = optional(raw, "email", "contact", text, "")
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise ConfigError("contact.email", f"must be an e-mail address, not {email!r}")
    return Contact(tool=optional(raw, "tool", "contact", text, "watcher"), email=email)


def default_user_agent(contact: Contact) -> str:
    """fda.gov answers library agents with a redirect to an "apology" page: say who asks, and how to reach them."""
    return f"watcher/{__version__} (+{contact.email})" if contact.email else f"watcher/{__version__} (literature watch)"


def parse_http(raw: Any, contact: Contact) -> HttpSettings:
    raw = mapping(raw, "http")
    check_keys(raw, "http", {"user_agent", "timeout", "deadline", "max_mb"})
    timeout = optional(raw, "timeout", "http", lambda v, p: number(v, p, 1, 600), 30.0)
    deadline = optional(raw, "deadline", "http", lambda v, p: number(v, p, 1, 3600), max(300.0, timeout))
    if deadline < timeout:
        raise ConfigError("http.deadline", f"must be at least http.timeout ({timeout:g} s), not {deadline:g}")
    return HttpSettings(
        user_agent=optional(raw, "user_agent", "http", text, default_user_agent(contact)),
        timeout=timeout,
        max_mb=optional(raw, "max_mb", "http", between(1, 2000), 200),
        deadline=deadline,
    )


POLL_EXAMPLES = '"06:00" (every day), "mon 06:00", "mon,thu 06:00" or "mon-fri 06:00"'


def poll_time(value: Any, path: str) -> PollTime:
    """A `schedule.poll` entry: "HH:MM" every day, or weekdays (names, lists, ranges) and a time."""
    days_text, _, hhmm = value.strip().rpartition(" ") if isinstance(value, str) else ("", "", value)
    try:
        found = clock_time(hhmm, path)
    except ConfigError:
        raise ConfigError(path, f'must be a 24-hour time "HH:MM" in quotes, after the weekdays if not every day,'
                                f" e.g. {POLL_EXAMPLES}; not {value!r}") from None
    return PollTime(weekdays(days_text.strip(), path) if days_text.strip() else WEEKDAYS, found)


def weekdays(text: str, path: str) -> tuple[str, ...]:
    """"mon,thu" or "mon-fri" (a range may wrap: "fri-mon") → the days, in week order."""
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        start = weekday(first, path)
        end = weekday(last, path) if last else start
        days.update((start + k) % 7 for k in range((end - start) % 7 + 1))
    return tuple(WEEKDAYS[d] for d in sorted(days))


def weekday(word: str, path: str) -> int:
    for i, day in enumerate(WEEKDAYS):
        if word in (day, DAY_NAMES[i]):
            return i
    raise ConfigError(path, f"{word!r} is not a weekday: write {', '.join(WEEKDAYS[:-1])} or {WEEKDAYS[-1]}"
                            f" (a list with commas, a range with a hyphen), e.g. {POLL_EXAMPLES}")


def parse_schedule(raw: Any) -> ScheduleSettings:
    raw = mapping(raw, "schedule")
    check_keys(raw, "schedule", {"poll", "digest"})
    polls = raw.get("poll", ["06:00"])
    if isinstance(polls, str):
        polls = [polls]
    elif isinstance(polls, (int, float)) and not isinstance(polls, bool):  # YAML reads 18:00 unquoted as 1080
        clock_time(polls, "schedule.poll")
    if not isinstance(polls, list) or not polls:
        raise ConfigError("schedule.poll", f'must be a time "HH:MM" or a list of them, e.g. ["06:00", "18:00"]; each may'
                                           f" name weekdays first, e.g. {POLL_EXAMPLES}")
    poll_times = tuple(poll_time(v, f"schedule.poll[{i}]") for i, v in enumerate(polls))
    digest = mapping(raw.get("digest") or {}, "schedule.digest")
    check_keys(digest, "schedule.digest", {"day", "time"})
    day = optional(digest, "day", "schedule.digest", text, "mon").lower()[:3]
    if day not in WEEKDAYS:
        raise ConfigError("schedule.digest.day", f"must be a weekday name such as mon, not {digest['day']!r}")
    return ScheduleSettings(
        polls=poll_times, digest_day=day, digest_time=optional(digest, "time", "schedule.digest", clock_time, "07:00")
    )


def parse_sources(raw: Any) -> tuple[SourceConfig[Any], ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("sources", "must be a non-empty list of sources, each with name, type and url")
    seen: dict[str, int] = {}
    out = []
    for i, entry in enumerate(raw):
        path = f"sources[{i}]"
        entry = mapping(entry, path)
        check_keys(entry, path, set(entry), required={"name", "type", "url"})
        source_name = name(text(entry["name"], f"{path}.name"), f"{path}.name", "source name")
        if source_name in seen:
            raise ConfigError(f"{path}.name", f"{source_name!r} is already the name of sources[{seen[source_name]}]; names must be unique")
        seen[source_name] = i
        # Past its name, a source's errors say which source they are about: "sources[5] (europepmc).query: …".
        named = f"{path} ({source_name})"
        try:
            kind = text(entry["type"], f"{named}.type")
            if kind not in SOURCE_TYPES:
                raise ConfigError(f"{named}.type", f"unknown source type {kind!r}; known types: {', '.join(sorted(SOURCE_TYPES))}")
            url = http_url(entry["url"], f"{named}.url")
            rest = {k: v for k, v in entry.items() if k not in ("name", "type", "url")}
            settings = SOURCE_TYPES[kind].parse_settings(rest, path)
        except ConfigError as exc:
            if exc.path == path or exc.path.startswith((f"{path}.", f"{path}[")):
                raise ConfigError(named + exc.path[len(path):], exc.message) from None
            raise
        out.append(SourceConfig(name=source_name, type=kind, url=url, settings=settings))
    return tuple(out)

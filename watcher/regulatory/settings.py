"""feeds.yaml `regulatory`: the products whose FDA record opens every digest (the board), and the
facts no API states, each with its source and, once a person has read that source, the day they did.

    regulatory:
      source: openfda                 # the openfda source whose URL and API key are used
      products:
        - {name: Brand (generic) nasal spray, application: NDA000000}
      facts:
        - {statement: …, date: 2022-02, source: https://…, checked: 2026-11-30,   # checked: optional
           contradicts: [claim-id], supports: [claim-id]}                      # optional: article claims
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..checks import check_keys, describe, http_url, mapping, name, one_line, optional, string_list, text
from ..errors import ConfigError
from ..model import SourceConfig

KEYS = {"source", "products", "facts"}
FACT_KEYS = {"statement", "date", "source", "checked", "contradicts", "supports"}
# The name the board's fetches are recorded under (polls, status, the digest header): its own, so
# its health is not mixed with the date-window source's.
REGULATORY = "regulatory"
# As Drugs@FDA writes them: NDA211243, ANDA074549, BLA125057.
APPLICATION_RE = re.compile(r"^(NDA|ANDA|BLA)\d{6}$")
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH_RE = re.compile(r"^\d{4}-\d{2}$")
RECHECK_DAYS = 365  # a fact checked longer ago is marked "re-check" on the board


@dataclass(frozen=True, slots=True)
class Product:
    name: str  # as the board heads its block
    application: str  # NDA211243


@dataclass(frozen=True, slots=True)
class Fact:
    statement: str
    date: str  # YYYY-MM-DD or YYYY-MM: when it was said or happened
    source: str  # an http(s) page a reader can check it against
    # The day a person last read `source` and found the statement so; None: nobody has yet, and the
    # board says so instead of vouching for it.
    checked: dt.date | None = None
    # The ids of the article's claims (feeds.yaml `article.claims`) this fact says the opposite of,
    # and those it bears out: the editors' verdicts quote the fact against the page.
    contradicts: tuple[str, ...] = ()
    supports: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RegulatorySettings:
    source: str  # the name of the openfda source whose URL and key the fetches use
    products: tuple[Product, ...]
    facts: tuple[Fact, ...] = ()


def application_number(value: Any, path: str) -> str:
    found = re.sub(r"\s+", "", value).upper() if isinstance(value, str) else ""
    if not APPLICATION_RE.match(found):
        raise ConfigError(path, "must be an application number as Drugs@FDA writes it: NDA, ANDA or BLA and six digits,"
                                f" e.g. NDA016812, not {describe(value)}")
    return found


def _valid_day(found: str, path: str, example: str) -> dt.date:
    try:
        return dt.date.fromisoformat(found)
    except ValueError:
        raise ConfigError(path, f"{found!r} is not a day of the calendar; write it as {example}") from None


def fact_date(value: Any, path: str) -> str:
    """YYYY-MM-DD or YYYY-MM. YAML reads an unquoted 2019-03-05 as a date: that is fine too."""
    if isinstance(value, dt.date):
        return value.isoformat()
    found = value.strip() if isinstance(value, str) else ""
    if MONTH_RE.match(found) and 1 <= int(found[5:]) <= 12:
        return found
    if DAY_RE.match(found):
        _valid_day(found, path, "YYYY-MM-DD, e.g. 2019-03-05")
        return found
    raise ConfigError(path, f"must be a date YYYY-MM-DD or a month YYYY-MM, e.g. 2022-02, not {describe(value)}")


def checked_day(value: Any, path: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    found = value.strip() if isinstance(value, str) else ""
    if not DAY_RE.match(found):
        raise ConfigError(path, f"must be the day a person checked the fact against its source, YYYY-MM-DD,"
                                f" e.g. 2026-11-30, not {describe(value)}")
    return _valid_day(found, path, "YYYY-MM-DD, e.g. 2026-11-30")


def parse_product(raw: Any, path: str) -> Product:
    raw = mapping(raw, path, "a mapping with name and application")
    check_keys(raw, path, {"name", "application"}, required={"name", "application"})
    return Product(name=one_line(raw["name"], f"{path}.name"), application=application_number(raw["application"], f"{path}.application"))


def parse_fact(raw: Any, path: str) -> Fact:
    raw = mapping(raw, path, "a mapping with statement, date, source and (once a person has read the source) checked")
    check_keys(raw, path, FACT_KEYS, required={"statement", "date", "source"})
    fact = Fact(
        statement=one_line(raw["statement"], f"{path}.statement"),
        date=fact_date(raw["date"], f"{path}.date"),
        source=http_url(raw["source"], f"{path}.source"),
        checked=optional(raw, "checked", path, checked_day, None),
        contradicts=optional(raw, "contradicts", path, claim_ids, ()),
        supports=optional(raw, "supports", path, claim_ids, ()),
    )
    both = sorted(set(fact.contradicts) & set(fact.supports))
    if both:
        raise ConfigError(f"{path}.supports", f"{both[0]!r} is also under contradicts: a fact cannot both contradict and support a claim")
    return fact


def claim_ids(value: Any, path: str) -> tuple[str, ...]:
    """A list of claim ids (checked against `article.claims` once both blocks are read: config.py)."""
    return string_list(value, path, lambda v, p: name(v, p, "claim id"))


def entries(value: Any, path: str, *, required: bool) -> list[Any]:
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        raise ConfigError(path, f"must be a {'non-empty ' if required else ''}list, not {describe(value)}")
    return value


def parse_regulatory(raw: Any, sources: Sequence[SourceConfig[Any]], path: str = REGULATORY) -> RegulatorySettings:
    raw = mapping(raw, path)
    check_keys(raw, path, KEYS, required={"products"})
    openfda = [s.name for s in sources if s.type == "openfda"]
    if any(s.name == REGULATORY for s in sources):
        raise ConfigError(f"{path}", f"a source is named {REGULATORY!r}, the name the board's fetches are recorded under;"
                                     " rename that source")
    source = optional(raw, "source", path, text, openfda[0] if len(openfda) == 1 else "")
    if not source:
        raise ConfigError(f"{path}.source", "is required: name the openfda source whose URL and key to use"
                                            f" ({', '.join(openfda) if openfda else 'add a source of type openfda first'})")
    if source not in openfda:
        known = f"one of: {', '.join(openfda)}" if openfda else "none is configured: add a source of type openfda"
        raise ConfigError(f"{path}.source", f"{source!r} is not a source of type openfda; {known}")
    listed = entries(raw["products"], f"{path}.products", required=True)
    products = tuple(parse_product(p, f"{path}.products[{i}]") for i, p in enumerate(listed))
    for i, product in enumerate(products):
        first = next(j for j, p in enumerate(products) if p.application == product.application)
        if first != i:
            raise ConfigError(f"{path}.products[{i}].application", f"{product.application} is already products[{first}]")
    written = entries(raw.get("facts"), f"{path}.facts", required=False)
    facts = tuple(parse_fact(f, f"{path}.facts[{i}]") for i, f in enumerate(written))
    return RegulatorySettings(source=source, products=products, facts=facts)

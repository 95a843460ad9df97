"""The rows the store hands out and takes in: small frozen dataclasses, one per table family's
record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..decide import Notice
from ..model import Item, Match
from ..relevance.labels import Label


@dataclass(frozen=True, slots=True)
class StoredItem:
    item: Item
    match: Match
    first_seen: str
    first_matched: str | None


@dataclass(frozen=True, slots=True)
class StoredKeys:
    """What works.py needs of a stored item to join it with the records of other sources."""

    id: str
    source: str
    first_seen: str
    first_matched: str | None
    matched: bool
    doi: str | None
    identifiers: tuple[str, ...]
    publication_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoredNotice:
    stored: StoredItem  # the item as it is now
    notice: Notice
    at: str


@dataclass(frozen=True, slots=True)
class LabelResult:
    stored: int
    unchanged: int  # equal to the item's latest label: not stored again
    unknown: list[str]  # ids that are no stored item (then nothing was stored)


@dataclass(frozen=True, slots=True)
class StoredLabel:
    stored: StoredItem
    label: Label
    at: str  # UTC, when it was given
    user: str = ""  # who gave it ("" for labels stored before users were recorded)


@dataclass(frozen=True, slots=True)
class Decision:
    """One row of the labels table (labels.py): the item's whole decision when it was made."""

    id: int
    item_id: str
    label: str | None  # relevant | irrelevant | None (no verdict: a note alone, or an undo)
    claim: str | None  # the claim it is cited for (with a relevant verdict)
    note: str
    at: str  # UTC
    user: str
    undoes: int | None  # set on an undo: the row it withdraws


@dataclass(frozen=True, slots=True)
class StoredUser:
    name: str
    role: str  # editor | reader
    password: str  # the argon2id hash
    created: str
    changed: str
    generation: int  # grows with every change of password or role: sessions signed before are void


@dataclass(frozen=True, slots=True)
class Snapshot:
    kind: str
    key: str
    at: str
    data: Any  # decoded JSON
    sha256: str


@dataclass(frozen=True, slots=True)
class PollRecord:
    source: str
    at: str
    ok: bool
    fetched: int = 0
    new: int = 0
    new_matched: int = 0
    error: str | None = None


INTERRUPTED = "interrupted"  # a run's status: stopped on request (finished set) or found dead (finished NULL)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of a command (a poll), as the `runs` table holds it."""

    id: int
    command: str
    started: str  # UTC text
    finished: str | None  # None: it never reached its end (still running, or killed)
    status: str | None  # ok | failed | interrupted; None while running, or until a writer finds it dead

    def died(self, *, latest: bool, writer_busy: bool) -> bool:
        """It did not finish and never will: a writer found it unfinished (only a dead run is, once
        that writer holds the lock), a later run began (runs take the lock), or it is the latest run
        and nobody holds the writer lock. A run stopped on request finished: it is not dead."""
        return self.finished is None and (self.status == INTERRUPTED or not latest or not writer_busy)


@dataclass(frozen=True, slots=True)
class OutputRecord:
    """One file written for one week in one format."""

    week: str
    format: str
    path: str  # relative to the digests folder
    written_at: str
    items: int
    sha256: str
    warnings: int = 0  # sources that failed or were not polled that week
    changed_at: str = ""  # when its content last changed; set by the store


@dataclass(frozen=True, slots=True)
class MailRecord:
    week: str
    recipients: str
    message_id: str
    at: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SaveResult:
    new: int  # items never stored before
    new_matched: int  # items that matched for the first time


@dataclass(frozen=True, slots=True)
class ClaimResolution:
    """An editor's record on a claim (store/claims.py)."""

    claim_id: str
    action: str  # "resolved" | "reopened"
    by: str
    note: str
    text: str  # the claim's wording when it was recorded: a record holds for that wording only
    at: str  # UTC

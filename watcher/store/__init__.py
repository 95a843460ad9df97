"""The only place with state: one SQLite file holding items, per-source state, polls, runs, the
outputs written, mails, snapshots and labels. `Store` is one connection with the queries of every
table family; the row types are in rows.py."""

from __future__ import annotations

from .claims import REOPENED, RESOLVED, ClaimsMixin
from .database import Database, store_failure
from .health import HealthMixin
from .items import ItemsMixin
from .labels import LabelsMixin
from .outputs import OutputsMixin
from .queue import QueueMixin
from .rows import (
    INTERRUPTED,
    ClaimResolution,
    Decision,
    LabelResult,
    MailRecord,
    OutputRecord,
    PollRecord,
    RunRecord,
    SaveResult,
    Snapshot,
    StoredItem,
    StoredKeys,
    StoredLabel,
    StoredNotice,
    StoredUser,
)
from .search import SearchMixin
from .snapshots import SnapshotsMixin
from .users import UsersMixin

__all__ = [
    "INTERRUPTED", "REOPENED", "RESOLVED", "ClaimResolution", "Decision", "LabelResult", "MailRecord", "OutputRecord",
    "PollRecord", "RunRecord", "SaveResult", "Snapshot", "Store", "StoredItem", "StoredKeys", "StoredLabel", "StoredNotice",
    "StoredUser", "store_failure",
]


class Store(ItemsMixin, HealthMixin, OutputsMixin, SnapshotsMixin, LabelsMixin, ClaimsMixin, UsersMixin, SearchMixin, QueueMixin,
            Database):
    """One database: `Store.open(path)`, then the queries of every table family."""

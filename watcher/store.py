"""The only place with state: one SQLite file holding items, per-source state, polls, runs and
the outputs written.

Schema changes are numbered migrations, each applied in its own transaction and recorded in
PRAGMA user_version, so a crash mid-migration leaves the previous version intact.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import StoreError, os_reason
from .labels import Label
from .model import CORE, Hit, Item, Match, Related, SourceState
from .notices import FLAG, Notice, announced, changes
from .weeks import utc_iso

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE items (
        id            TEXT PRIMARY KEY,           -- stable: pubmed:<PMID>, ...
        source        TEXT NOT NULL,
        data          TEXT NOT NULL,              -- the Item as JSON
        matched       INTEGER NOT NULL,
        match         TEXT NOT NULL,              -- the Match as JSON (topics, hits)
        first_seen    TEXT NOT NULL,              -- UTC ISO 8601; never changes
        first_matched TEXT,                       -- UTC; when it first matched: picks its digest week
        last_seen     TEXT NOT NULL
    );
    CREATE INDEX items_first_matched ON items(first_matched) WHERE first_matched IS NOT NULL;
    CREATE INDEX items_source ON items(source);
    CREATE TABLE sources (
        name                 TEXT PRIMARY KEY,
        cursor               TEXT,
        etag                 TEXT,
        last_modified        TEXT,
        last_attempt         TEXT,
        last_success         TEXT,
        last_error           TEXT,
        last_error_at        TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE runs (
        id        INTEGER PRIMARY KEY,
        command   TEXT NOT NULL,
        started   TEXT NOT NULL,
        finished  TEXT,
        status    TEXT,                           -- ok | failed | interrupted; NULL while running
        new_items INTEGER NOT NULL DEFAULT 0,
        matched   INTEGER NOT NULL DEFAULT 0,
        failures  INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE polls (                        -- one row per source per poll: the digest header's record
        id          INTEGER PRIMARY KEY,
        run_id      INTEGER REFERENCES runs(id),
        source      TEXT NOT NULL,
        at          TEXT NOT NULL,
        ok          INTEGER NOT NULL,
        fetched     INTEGER NOT NULL DEFAULT 0,
        new         INTEGER NOT NULL DEFAULT 0,
        new_matched INTEGER NOT NULL DEFAULT 0,
        error       TEXT
    );
    CREATE INDEX polls_at ON polls(at);
    CREATE TABLE digests (
        week       TEXT PRIMARY KEY,              -- YYYY-Www
        path       TEXT NOT NULL,
        written_at TEXT NOT NULL,
        items      INTEGER NOT NULL,
        sha256     TEXT NOT NULL
    );
    """,
    # 2: one row per (week, format), now that a week is written in more than one format; an item's
    #    section and kind become fields of its own instead of keys of `extra`.
    """
    CREATE TABLE outputs (
        week       TEXT NOT NULL,                 -- YYYY-Www
        format     TEXT NOT NULL,                 -- markdown, ...
        path       TEXT NOT NULL,                 -- relative to the digests folder
        written_at TEXT NOT NULL,
        items      INTEGER NOT NULL,
        sha256     TEXT NOT NULL,
        PRIMARY KEY (week, format)
    );
    INSERT INTO outputs (week, format, path, written_at, items, sha256)
        SELECT week, 'markdown', path, written_at, items, sha256 FROM digests;
    DROP TABLE digests;
    UPDATE items SET data = json_remove(
        json_set(data, '$.section', json_extract(data, '$.extra.section'), '$.kind', json_extract(data, '$.extra.kind')),
        '$.extra.section', '$.extra.kind');
    """,
    # 3: when each output last changed (an Atom entry's `updated`), and every mail sent or tried.
    """
    ALTER TABLE outputs ADD COLUMN changed_at TEXT;
    UPDATE outputs SET changed_at = written_at;
    ALTER TABLE outputs ADD COLUMN warnings INTEGER NOT NULL DEFAULT 0;  -- sources failing or not polled
    CREATE TABLE mails (
        id         INTEGER PRIMARY KEY,
        week       TEXT NOT NULL,
        recipients TEXT NOT NULL,                 -- the To addresses, sorted, comma-separated
        message_id TEXT NOT NULL,
        at         TEXT NOT NULL,
        ok         INTEGER NOT NULL,
        error      TEXT                           -- why it failed, or which recipients were refused
    );
    CREATE INDEX mails_week ON mails(week, recipients);
    """,
    # 4: news about stored items (a retraction, a trial update): see notices.py
    """
    CREATE TABLE notices (
        id      INTEGER PRIMARY KEY,
        item_id TEXT NOT NULL REFERENCES items(id),
        at      TEXT NOT NULL,                    -- UTC; picks the digest week that reports it
        kind    TEXT NOT NULL,                    -- flag | update | …
        detail  TEXT NOT NULL
    );
    CREATE INDEX notices_at ON notices(at);
    CREATE INDEX notices_item ON notices(item_id);
    """,
    # 5: snapshots: the whole state of something watched as a whole (a product's FDA record, the
    #    clinic's page), one row per successful fetch; the digest compares two of them.
    """
    CREATE TABLE snapshots (
        id     INTEGER PRIMARY KEY,
        kind   TEXT NOT NULL,                     -- what is watched: "regulatory", "article", …
        key    TEXT NOT NULL,                     -- which one: an application number, a URL, …
        at     TEXT NOT NULL,                     -- UTC, when it was fetched
        data   TEXT NOT NULL,                     -- JSON, as the watcher of that kind writes it
        sha256 TEXT NOT NULL                      -- of `data`: an unchanged fetch is cheap to see
    );
    CREATE INDEX snapshots_kind_key ON snapshots(kind, key, at);
    """,
    # 6: editors' labels (relevant / irrelevant) per item, every one kept with its time; the latest
    #    counts. A separate table, so that re-fetching an item never touches them.
    """
    CREATE TABLE labels (
        id      INTEGER PRIMARY KEY,
        item_id TEXT NOT NULL REFERENCES items(id),
        label   TEXT NOT NULL CHECK (label IN ('relevant', 'irrelevant')),
        note    TEXT NOT NULL DEFAULT '',
        at      TEXT NOT NULL                     -- UTC, when it was given
    );
    CREATE INDEX labels_item ON labels(item_id, id);
    """,
    # 7: a notice's own link: the record that carries the news (a retraction or erratum notice)
    """
    ALTER TABLE notices ADD COLUMN link TEXT;
    """,
    # 8: the identifiers that make records of different sources one work (works.py); PubMed records
    #    stored before them get theirs from their PMID (their trial numbers come with the next fetch).
    """
    UPDATE items SET data = json_set(data, '$.identifiers', json_array('pmid:' || json_extract(data, '$.extra.pmid')))
        WHERE json_type(data, '$.identifiers') IS NULL AND json_type(data, '$.extra.pmid') = 'text';
    """,
)
# Tables any version of watcher has created: a version-0 file holding others is not ours.
OUR_TABLES = {"items", "sources", "runs", "polls", "digests", "outputs", "mails", "notices", "snapshots", "labels"}


def statements(script: str) -> Iterator[str]:
    """Split a migration into statements (executescript would commit; we need one transaction)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL in migration: {pending.strip()[:60]}")


def store_failure(path: Path, exc: sqlite3.Error) -> str:
    """A database error met after opening, in one line that says what to do."""
    text = " ".join(str(exc).split())
    if isinstance(exc, sqlite3.OperationalError) and ("full" in text or "I/O" in text):
        return f"{path}: cannot write the database ({text}): is the disk full? Nothing after the last commit was kept"
    return f"{path}: database error ({text}); it is left as it is: if it is damaged, restore it from a backup"


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


# ---- JSON round trip of the dataclasses ----


def item_to_json(item: Item) -> str:
    # Not dataclasses.asdict: its deep copies were most of the cost of saving a batch.
    raw = {f.name: getattr(item, f.name) for f in fields(item)}
    raw["related"] = [{"kind": r.kind, "ref": r.ref, "pmid": r.pmid, "url": r.url, "item_id": r.item_id} for r in item.related]
    return json.dumps(raw, ensure_ascii=False, sort_keys=True)


def item_from_json(data: str) -> Item:
    raw = json.loads(data)
    raw["related"] = tuple(Related(**r) for r in raw.get("related", ()))
    raw["tracked"] = tuple((str(k), str(v)) for k, v in raw.get("tracked", ()))
    for key in ("authors", "publication_types", "mesh_headings", "keywords", "identifiers"):
        raw[key] = tuple(raw.get(key, ()))
    return Item(**raw)


def _strings(data: str | None) -> list[str]:
    """A JSON array of text from json_extract (None when the record has none)."""
    found = json.loads(data) if isinstance(data, str) and data.startswith("[") else []
    return [v for v in found if isinstance(v, str)]


def match_to_json(match: Match) -> str:
    raw: dict[str, Any] = {"topics": list(match.topics), "hits": [asdict(h) for h in match.hits]}
    if match.tier is not None:
        raw.update(tier=match.tier, score=match.score, reason=match.reason)
    return json.dumps(raw, ensure_ascii=False)


def match_from_json(matched: int, data: str) -> Match:
    raw = json.loads(data)
    # Rows stored before tiers existed have none: a matched one reads as core, as it was shown then.
    tier = raw.get("tier") or (CORE if matched else None)
    return Match(bool(matched), tuple(raw["topics"]), tuple(Hit(**h) for h in raw["hits"]), tier,
                 float(raw.get("score", 0.0)), str(raw.get("reason", "")))


class Store:
    """A thin layer over one sqlite3 connection. Writes happen only inside `transaction()`."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    # ---- opening and migrating ----

    @classmethod
    def open(cls, path: str | Path, *, writer: bool = False) -> Store:
        """`writer`: the caller holds the writer lock (lock.py), so no run it finds unfinished is
        still running: each is marked interrupted (its `finished` left NULL) before anything else."""
        path = Path(path)
        conn = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None, timeout=30)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            # A damaged page deep in the file passes the lines above; find it before anything is
            # written into it (about 3 ms per MB).
            damage = " ".join(str(conn.execute("PRAGMA quick_check(1)").fetchone()[0]).split())
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise StoreError(f"{path}: not a usable watcher database ({exc}); move it aside or fix the path") from None
        except OSError as exc:
            raise StoreError(f"{path}: cannot open the database: {os_reason(exc)}") from None
        if damage != "ok":
            conn.close()
            raise StoreError(f"{path}: the database is damaged ({damage[:200]}); it is left as it is:"
                             " restore it from a backup, or move it aside to start a new one")
        if version == 0 and tables - OUR_TABLES:
            conn.close()
            foreign = ", ".join(sorted(tables - OUR_TABLES))
            raise StoreError(f"{path}: holds tables that are not watcher's ({foreign}); refusing to touch it")
        if version > len(MIGRATIONS):
            conn.close()
            raise StoreError(f"{path}: schema version {version} is newer than this watcher knows ({len(MIGRATIONS)}); upgrade watcher")
        store = cls(conn, path)
        try:
            # WAL lets readers (status, digest) work while a poll writes.
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            store.migrate(version)
            if writer:
                store.mark_dead_runs()
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"{path}: cannot write the database: {exc}") from None
        return store

    def migrate(self, version: int) -> None:
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction() as conn:
                for statement in statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock at once, so a second writer waits here rather than mid-way.
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            if self.conn.in_transaction:  # SQLite may have rolled back already (e.g. on a disk I/O error)
                self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # ---- writing ----

    def save_batch(
        self,
        source: str,
        entries: Sequence[tuple[Item, Match]],
        *,
        now: datetime,
        cursor: str | None = None,
        validators: tuple[str | None, str | None] | None = None,
        final: bool = False,
    ) -> SaveResult:
        """Store one batch; on the final batch also move the cursor and mark the source healthy.

        All of it is one transaction: the cursor can only move together with the items it covers.
        """
        stamp = utc_iso(now)
        new = new_matched = 0
        with self.transaction() as conn:
            for item, match in entries:
                row = conn.execute("SELECT first_matched, data FROM items WHERE id = ?", (item.id,)).fetchone()
                first_matched = stamp if match.matched else None
                if row is None:
                    new += 1
                    new_matched += match.matched
                    conn.execute(
                        "INSERT INTO items (id, source, data, matched, match, first_seen, first_matched, last_seen)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (item.id, source, item_to_json(item), int(match.matched), match_to_json(match), stamp, first_matched, stamp),
                    )
                else:
                    if row["first_matched"] is None and match.matched:
                        new_matched += 1
                    for notice in changes(item_from_json(row["data"]), item):
                        self._add_notice(conn, item.id, notice, stamp)
                    # Upstream records get revised (e.g. MeSH added later): keep the newest text,
                    # never the first-seen time or the week it was first reported in.
                    conn.execute(
                        "UPDATE items SET data = ?, matched = ?, match = ?, last_seen = ?,"
                        " first_matched = COALESCE(first_matched, ?) WHERE id = ?",
                        (item_to_json(item), int(match.matched), match_to_json(match), stamp, first_matched, item.id),
                    )
                # A record that is news about another stored one (a retraction notice naming it).
                for target, notice in announced(item):
                    if conn.execute("SELECT 1 FROM items WHERE id = ?", (target,)).fetchone():
                        self._add_notice(conn, target, notice, stamp)
            if final:
                self._ensure_source(conn, source)
                sets = "last_attempt = ?, last_success = ?, consecutive_failures = 0"
                args: list[Any] = [stamp, stamp]
                if cursor is not None:
                    sets += ", cursor = ?"
                    args.append(cursor)
                if validators is not None:
                    sets += ", etag = ?, last_modified = ?"
                    args.extend(validators)
                conn.execute(f"UPDATE sources SET {sets} WHERE name = ?", (*args, source))
        return SaveResult(new, new_matched)

    def record_poll(self, record: PollRecord, *, run_id: int | None = None) -> None:
        """Log one source's poll; a failure also updates the source's state."""
        with self.transaction() as conn:
            if not record.ok:
                self._ensure_source(conn, record.source)
                conn.execute(
                    "UPDATE sources SET last_attempt = ?, last_error = ?, last_error_at = ?,"
                    " consecutive_failures = consecutive_failures + 1 WHERE name = ?",
                    (record.at, record.error, record.at, record.source),
                )
            conn.execute(
                "INSERT INTO polls (run_id, source, at, ok, fetched, new, new_matched, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, record.source, record.at, int(record.ok), record.fetched, record.new, record.new_matched, record.error),
            )

    def add_notice(self, item_id: str, notice: Notice, *, now: datetime) -> None:
        """News about a stored item that no revision of its own record carries (e.g. a retraction
        notice arriving as a record of its own)."""
        with self.transaction() as conn:
            self._add_notice(conn, item_id, notice, utc_iso(now))

    @staticmethod
    def _add_notice(conn: sqlite3.Connection, item_id: str, notice: Notice, stamp: str) -> None:
        # A flag is news once: a retraction reported by its notice (RetractionOf) is not reported
        # again when the retracted record itself later says so (RetractionIn).
        if notice.kind == FLAG and conn.execute("SELECT 1 FROM notices WHERE item_id = ? AND kind = ? AND detail = ?",
                                                (item_id, notice.kind, notice.detail)).fetchone():
            return
        conn.execute("INSERT INTO notices (item_id, at, kind, detail, link) VALUES (?, ?, ?, ?, ?)",
                     (item_id, stamp, notice.kind, notice.detail, notice.link))

    @staticmethod
    def _ensure_source(conn: sqlite3.Connection, source: str) -> None:
        conn.execute("INSERT OR IGNORE INTO sources (name) VALUES (?)", (source,))

    def begin_run(self, command: str, *, now: datetime) -> int:
        with self.transaction() as conn:
            cur = conn.execute("INSERT INTO runs (command, started) VALUES (?, ?)", (command, utc_iso(now)))
            assert cur.lastrowid is not None  # set by every INSERT
            return cur.lastrowid

    def mark_dead_runs(self) -> int:
        """Runs that never reached their end (the process was killed, the machine lost power) are
        marked interrupted, their `finished` left NULL. Only for a holder of the writer lock."""
        with self.transaction() as conn:
            return conn.execute("UPDATE runs SET status = ? WHERE status IS NULL AND finished IS NULL", (INTERRUPTED,)).rowcount

    def finish_run(self, run_id: int, *, now: datetime, status: str, new_items: int, matched: int, failures: int) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET finished = ?, status = ?, new_items = ?, matched = ?, failures = ? WHERE id = ?",
                (utc_iso(now), status, new_items, matched, failures, run_id),
            )

    def record_output(self, record: OutputRecord) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO outputs (week, format, path, written_at, items, sha256, warnings, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(week, format) DO UPDATE SET path = excluded.path, written_at = excluded.written_at,"
                " items = excluded.items, sha256 = excluded.sha256, warnings = excluded.warnings,"
                " changed_at = CASE WHEN sha256 = excluded.sha256 THEN changed_at ELSE excluded.changed_at END",
                (record.week, record.format, record.path, record.written_at, record.items, record.sha256, record.warnings,
                 record.written_at),
            )

    def save_snapshot(self, kind: str, key: str, data: Any, *, now: datetime) -> Snapshot:
        """Keep what was fetched, whole. Every fetch is kept (the history is what the digest diffs);
        a failed fetch saves nothing, so the previous snapshot stands."""
        text = json.dumps(data, ensure_ascii=False, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        with self.transaction() as conn:
            conn.execute("INSERT INTO snapshots (kind, key, at, data, sha256) VALUES (?, ?, ?, ?, ?)",
                         (kind, key, utc_iso(now), text, digest))
        return Snapshot(kind, key, utc_iso(now), data, digest)

    def snapshots(self, kind: str, key: str, *, before: datetime | None = None) -> list[Snapshot]:
        """The snapshots of one watched thing, oldest first; only those fetched before `before`."""
        rows = self.conn.execute(
            "SELECT kind, key, at, data, sha256 FROM snapshots WHERE kind = ? AND key = ? AND (? IS NULL OR at < ?)"
            " ORDER BY at, id",
            (kind, key, *(2 * [utc_iso(before) if before else None])),
        )
        return [Snapshot(r["kind"], r["key"], r["at"], json.loads(r["data"]), r["sha256"]) for r in rows]

    def add_labels(self, labels: Sequence[Label], *, now: datetime) -> LabelResult:
        """Store labels in one transaction. A label equal to the item's latest (same verdict and
        note) is not stored again; when an id is not a stored item, nothing is stored."""
        with self.transaction() as conn:
            unknown = [lb.item_id for lb in labels
                       if conn.execute("SELECT 1 FROM items WHERE id = ?", (lb.item_id,)).fetchone() is None]
            if unknown:
                return LabelResult(0, 0, unknown)
            fresh = []
            for lb in labels:
                latest = conn.execute("SELECT label, note FROM labels WHERE item_id = ? ORDER BY id DESC LIMIT 1",
                                      (lb.item_id,)).fetchone()
                if latest is None or (latest["label"], latest["note"]) != (lb.label, lb.note):
                    fresh.append(lb)
            conn.executemany("INSERT INTO labels (item_id, label, note, at) VALUES (?, ?, ?, ?)",
                             [(lb.item_id, lb.label, lb.note, utc_iso(now)) for lb in fresh])
        return LabelResult(len(fresh), len(labels) - len(fresh), [])

    def labels(self) -> list[StoredLabel]:
        """Each labelled item with its latest label, by id."""
        rows = self.conn.execute(
            "SELECT l.label AS label_value, l.note AS label_note, l.at AS label_at, i.* FROM labels l"
            " JOIN items i ON i.id = l.item_id"
            " WHERE l.id = (SELECT MAX(id) FROM labels WHERE item_id = l.item_id) ORDER BY i.id"
        )
        return [StoredLabel(self._stored(r), Label(r["id"], r["label_value"], r["label_note"]), r["label_at"]) for r in rows]
    def latest_snapshot(self, kind: str, key: str, *, before: datetime | None = None) -> Snapshot | None:
        """The newest snapshot of one watched thing (fetched before `before`), without reading its history."""
        row = self.conn.execute(
            "SELECT kind, key, at, data, sha256 FROM snapshots WHERE kind = ? AND key = ? AND (? IS NULL OR at < ?)"
            " ORDER BY at DESC, id DESC LIMIT 1",
            (kind, key, *(2 * [utc_iso(before) if before else None])),
        ).fetchone()
        return Snapshot(row["kind"], row["key"], row["at"], json.loads(row["data"]), row["sha256"]) if row else None

    def record_mail(self, record: MailRecord) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO mails (week, recipients, message_id, at, ok, error) VALUES (?, ?, ?, ?, ?, ?)",
                (record.week, record.recipients, record.message_id, record.at, int(record.ok), record.error),
            )

    # ---- reading ----

    def source_state(self, name: str) -> SourceState:
        row = self.conn.execute("SELECT * FROM sources WHERE name = ?", (name,)).fetchone()
        return SourceState(**dict(row)) if row else SourceState(name=name)

    def source_states(self) -> dict[str, SourceState]:
        return {r["name"]: SourceState(**dict(r)) for r in self.conn.execute("SELECT * FROM sources ORDER BY name")}

    def item_counts(self) -> dict[str, tuple[int, int]]:
        """source → (items stored, items matched)."""
        rows = self.conn.execute("SELECT source, COUNT(*), SUM(matched) FROM items GROUP BY source")
        return {r[0]: (r[1], r[2] or 0) for r in rows}

    def matched_between(self, start: datetime, end: datetime) -> list[StoredItem]:
        """Items that first matched in [start, end), in a stable order."""
        rows = self.conn.execute(
            "SELECT * FROM items WHERE first_matched >= ? AND first_matched < ? AND matched = 1 ORDER BY id",
            (utc_iso(start), utc_iso(end)),
        )
        return [self._stored(r) for r in rows]

    def notices_between(self, start: datetime, end: datetime) -> list[StoredNotice]:
        """News seen in [start, end) about items listed in a digest before `start`, oldest first."""
        rows = self.conn.execute(
            "SELECT n.kind, n.detail, n.link, n.at AS notice_at, i.* FROM notices n JOIN items i ON i.id = n.item_id"
            " WHERE n.at >= ? AND n.at < ? AND i.matched = 1 AND i.first_matched < ? ORDER BY n.at, n.id",
            (utc_iso(start), utc_iso(end), utc_iso(start)),
        )
        return [StoredNotice(self._stored(r), Notice(r["kind"], r["detail"], r["link"]), r["notice_at"]) for r in rows]

    def matched_among(self, ids: Sequence[str]) -> set[str]:
        """Which of these ids are stored items that matched: already listed, or listed this week."""
        found: set[str] = set()
        for i in range(0, len(ids), 500):  # SQLite's limit on parameters is 999 in older builds
            part = ids[i : i + 500]
            rows = self.conn.execute(f"SELECT id FROM items WHERE matched = 1 AND id IN ({', '.join('?' * len(part))})", part)
            found.update(r[0] for r in rows)
        return found

    def polls_between(self, start: datetime, end: datetime) -> list[PollRecord]:
        rows = self.conn.execute(
            "SELECT source, at, ok, fetched, new, new_matched, error FROM polls WHERE at >= ? AND at < ? ORDER BY at, id",
            (utc_iso(start), utc_iso(end)),
        )
        return [PollRecord(**{**dict(r), "ok": bool(r["ok"])}) for r in rows]

    def last_success_before(self, source: str, end: datetime) -> str | None:
        row = self.conn.execute(
            "SELECT MAX(at) FROM polls WHERE source = ? AND ok = 1 AND at < ?", (source, utc_iso(end))
        ).fetchone()
        return str(row[0]) if row[0] is not None else None

    def matched_ids(self, source: str) -> frozenset[str]:
        """Ids of the source's items that matched a topic (listed, or to be listed, in a digest)."""
        rows = self.conn.execute("SELECT id FROM items WHERE source = ? AND first_matched IS NOT NULL", (source,))
        return frozenset(r[0] for r in rows)

    def flag_history(self) -> dict[str, dict[str, str]]:
        """item id → {flag: when a notice first reported it}, for the flags items gained after first seen."""
        rows = self.conn.execute("SELECT item_id, detail, MIN(at) FROM notices WHERE kind = ? GROUP BY item_id, detail", (FLAG,))
        history: dict[str, dict[str, str]] = {}
        for item_id, flag, at in rows:
            history.setdefault(item_id, {})[flag] = at
        return history

    def work_keys(self) -> list[StoredKeys]:
        """Every item's identifiers, without decoding whole records (thousands are read per digest)."""
        rows = self.conn.execute(
            "SELECT id, source, first_seen, first_matched, matched, json_extract(data, '$.doi'),"
            " json_extract(data, '$.identifiers'), json_extract(data, '$.publication_types') FROM items"
        )
        return [
            StoredKeys(r[0], r[1], r[2], r[3], bool(r[4]), r[5] if isinstance(r[5], str) else None,
                       tuple(_strings(r[6])), tuple(_strings(r[7])))
            for r in rows
        ]

    def items_by_id(self, ids: Iterable[str]) -> dict[str, StoredItem]:
        wanted = sorted(set(ids))
        found: dict[str, StoredItem] = {}
        for start in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
            part = wanted[start : start + 500]
            rows = self.conn.execute(f"SELECT * FROM items WHERE id IN ({', '.join('?' * len(part))})", part)
            found.update((r["id"], self._stored(r)) for r in rows)
        return found

    def iter_items(self) -> Iterator[StoredItem]:
        for row in self.conn.execute("SELECT * FROM items ORDER BY first_seen, id"):
            yield self._stored(row)

    def mails(self) -> list[MailRecord]:
        """Every mail sent or tried, oldest first."""
        rows = self.conn.execute("SELECT week, recipients, message_id, at, ok, error FROM mails ORDER BY at, id")
        return [MailRecord(**{**dict(r), "ok": bool(r["ok"])}) for r in rows]

    def outputs(self, format: str | None = None) -> list[OutputRecord]:
        """Outputs written, newest week first; of one format when `format` is given."""
        rows = self.conn.execute(
            "SELECT * FROM outputs WHERE ? IS NULL OR format = ? ORDER BY week DESC, format", (format, format)
        )
        return [OutputRecord(**dict(r)) for r in rows]

    # ---- reading: the schedule's view of the past (catch-up, digest gaps) ----

    def last_poll_at(self) -> str | None:
        """When the latest poll attempt that ran to its end (ok or failed) began, UTC text.

        Interrupted or still-running runs do not count: after one, a poll is still due. Source
        polls logged without a run (older databases, tests) count too.
        """
        row = self.conn.execute(
            "SELECT MAX(at) FROM ("
            " SELECT started AS at FROM runs WHERE command = 'poll' AND status IN ('ok', 'failed')"
            " UNION ALL SELECT at FROM polls)"
        ).fetchone()
        return str(row[0]) if row[0] is not None else None

    def unfinished_runs(self, command: str = "poll") -> list[RunRecord]:
        """Runs of `command` that never reached their end (running, or dead), oldest first."""
        rows = self.conn.execute(
            "SELECT id, command, started, finished, status FROM runs WHERE command = ? AND finished IS NULL ORDER BY started, id",
            (command,),
        )
        return [RunRecord(*r) for r in rows]

    def latest_run_id(self) -> int | None:
        row = self.conn.execute("SELECT MAX(id) FROM runs").fetchone()
        return int(row[0]) if row[0] is not None else None

    def completed_run_after(self, run_id: int, command: str = "poll") -> str | None:
        """When the first run of `command` begun after run `run_id` that ran to its end (ok or failed) began."""
        row = self.conn.execute(
            "SELECT MIN(started) FROM runs WHERE command = ? AND id > ? AND status IN ('ok', 'failed')", (command, run_id)
        ).fetchone()
        return str(row[0]) if row[0] is not None else None

    def first_activity(self) -> str | None:
        """The earliest run start or item first_seen: where the history of this database begins."""
        row = self.conn.execute(
            "SELECT MIN(at) FROM (SELECT MIN(started) AS at FROM runs UNION ALL SELECT MIN(first_seen) FROM items)"
        ).fetchone()
        return str(row[0]) if row[0] is not None else None

    def runs_between(self, start: datetime, end: datetime, command: str = "poll") -> list[str]:
        """Start times (UTC text) of the runs of `command` that began in [start, end), oldest first.

        Any status counts: an interrupted run still shows the job was running.
        """
        rows = self.conn.execute(
            "SELECT started FROM runs WHERE command = ? AND started >= ? AND started < ? ORDER BY started, id",
            (command, utc_iso(start), utc_iso(end)),
        )
        return [r[0] for r in rows]

    def run_before(self, moment: datetime, command: str = "poll") -> str | None:
        """Start time of the latest run of `command` that began before `moment`."""
        row = self.conn.execute(
            "SELECT MAX(started) FROM runs WHERE command = ? AND started < ?", (command, utc_iso(moment))
        ).fetchone()
        return str(row[0]) if row[0] is not None else None

    def run_after(self, moment: datetime, command: str = "poll") -> str | None:
        """Start time of the earliest run of `command` that began at or after `moment`."""
        row = self.conn.execute(
            "SELECT MIN(started) FROM runs WHERE command = ? AND started >= ?", (command, utc_iso(moment))
        ).fetchone()
        return str(row[0]) if row[0] is not None else None

    @staticmethod
    def _stored(row: sqlite3.Row) -> StoredItem:
        return StoredItem(
            item=item_from_json(row["data"]),
            match=match_from_json(row["matched"], row["match"]),
            first_seen=row["first_seen"],
            first_matched=row["first_matched"],
        )

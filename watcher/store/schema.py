"""The schema as numbered migrations. Each is applied in its own transaction and recorded in
PRAGMA user_version (database.py), so a crash mid-migration leaves the previous version intact."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

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
    # 4: news about stored items (a retraction, a trial update): see decide.py
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
    # 9: editors' records on the article's claims: a contradicted claim resolved (the page corrected)
    #    or reopened, by whom and when, for the claim's wording at the time; every record kept.
    """
    CREATE TABLE claim_resolutions (
        id       INTEGER PRIMARY KEY,
        claim_id TEXT NOT NULL,                   -- feeds.yaml article.claims[].id
        action   TEXT NOT NULL CHECK (action IN ('resolved', 'reopened')),
        by_name  TEXT NOT NULL,                   -- who, as they gave it
        note     TEXT NOT NULL DEFAULT '',
        text     TEXT NOT NULL,                   -- the claim's text when it was recorded
        at       TEXT NOT NULL                    -- UTC
    );
    CREATE INDEX claim_resolutions_claim ON claim_resolutions(claim_id, id);
    """,
    # 10: editors' decisions in the workspace are labels too: who gave each, "cite for claim X" (a
    #    relevant verdict naming the claim it is evidence for), a note alone, and undo (a row that
    #    withdraws an earlier one). Each row is the item's whole decision then; the latest row not
    #    withdrawn counts, every one is kept. SQLite cannot change a CHECK constraint in place: the
    #    table is rebuilt, its rows copied with their ids.
    """
    CREATE TABLE labels_new (
        id      INTEGER PRIMARY KEY,
        item_id TEXT NOT NULL REFERENCES items(id),
        label   TEXT CHECK (label IN ('relevant', 'irrelevant')),   -- NULL: no verdict (a note alone, an undo)
        claim   TEXT CHECK (claim IS NULL OR label = 'relevant'),    -- cite for this claim (an id in feeds.yaml)
        note    TEXT NOT NULL DEFAULT '',
        at      TEXT NOT NULL,                    -- UTC, when it was given
        user    TEXT NOT NULL DEFAULT '',         -- who: an account, `local`, or the login of a `watcher label`
        undoes  INTEGER REFERENCES labels_new(id), -- this row withdraws that one
        CHECK (undoes IS NULL OR (label IS NULL AND claim IS NULL))
    );
    INSERT INTO labels_new (id, item_id, label, note, at) SELECT id, item_id, label, note, at FROM labels;
    DROP TABLE labels;
    ALTER TABLE labels_new RENAME TO labels;
    CREATE INDEX labels_item ON labels(item_id, id);
    CREATE INDEX labels_undoes ON labels(undoes) WHERE undoes IS NOT NULL;
    """,
    # 11: the workspace's accounts (`watcher user`): a password is kept only as its argon2id hash;
    #     `generation` grows with every password or role change, which voids the sessions signed before.
    """
    CREATE TABLE users (
        name       TEXT PRIMARY KEY,
        role       TEXT NOT NULL CHECK (role IN ('editor', 'reader')),
        password   TEXT NOT NULL,                 -- the argon2id hash (PHC string), never the password
        created    TEXT NOT NULL,
        changed    TEXT NOT NULL,
        generation INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 12: full-text search (FTS5) over every item's title, abstract and authors, kept in step by
    #     triggers in the transaction that writes the item (any writer, any version of the poll).
    #     Contentless (the text stays in `items` alone); its rows are keyed by `search_keys.id`, an
    #     INTEGER PRIMARY KEY that VACUUM keeps (the rowids of `items` it may renumber).
    """
    CREATE TABLE search_keys (
        id      INTEGER PRIMARY KEY,
        item_id TEXT NOT NULL UNIQUE
    );
    CREATE VIRTUAL TABLE item_search USING fts5(title, abstract, authors, content='', tokenize='unicode61 remove_diacritics 2');
    CREATE TRIGGER items_search_insert AFTER INSERT ON items BEGIN
        INSERT INTO search_keys (item_id) VALUES (new.id);
        INSERT INTO item_search (rowid, title, abstract, authors) VALUES (
            (SELECT id FROM search_keys WHERE item_id = new.id), json_extract(new.data, '$.title'),
            json_extract(new.data, '$.abstract'), (SELECT group_concat(value, '; ') FROM json_each(new.data, '$.authors')));
    END;
    CREATE TRIGGER items_search_update AFTER UPDATE OF data ON items BEGIN
        INSERT INTO item_search (item_search, rowid, title, abstract, authors) VALUES (
            'delete', (SELECT id FROM search_keys WHERE item_id = old.id), json_extract(old.data, '$.title'),
            json_extract(old.data, '$.abstract'), (SELECT group_concat(value, '; ') FROM json_each(old.data, '$.authors')));
        INSERT INTO item_search (rowid, title, abstract, authors) VALUES (
            (SELECT id FROM search_keys WHERE item_id = new.id), json_extract(new.data, '$.title'),
            json_extract(new.data, '$.abstract'), (SELECT group_concat(value, '; ') FROM json_each(new.data, '$.authors')));
    END;
    CREATE TRIGGER items_search_delete AFTER DELETE ON items BEGIN
        INSERT INTO item_search (item_search, rowid, title, abstract, authors) VALUES (
            'delete', (SELECT id FROM search_keys WHERE item_id = old.id), json_extract(old.data, '$.title'),
            json_extract(old.data, '$.abstract'), (SELECT group_concat(value, '; ') FROM json_each(old.data, '$.authors')));
        DELETE FROM search_keys WHERE item_id = old.id;
    END;
    INSERT INTO search_keys (item_id) SELECT id FROM items ORDER BY first_seen, id;
    INSERT INTO item_search (rowid, title, abstract, authors)
        SELECT k.id, json_extract(i.data, '$.title'), json_extract(i.data, '$.abstract'),
               (SELECT group_concat(value, '; ') FROM json_each(i.data, '$.authors'))
        FROM search_keys k JOIN items i ON i.id = k.item_id;
    """,
    # 13: the items written since a moment, found without reading them all (the workspace's caches)
    """
    CREATE INDEX items_last_seen ON items(last_seen);
    """,
)
# Tables any version of watcher has created: a version-0 file holding others is not ours.
OUR_TABLES = {"items", "sources", "runs", "polls", "digests", "outputs", "mails", "notices", "snapshots", "labels",
              "claim_resolutions", "users", "search_keys",
              *(f"item_search{part}" for part in ("", "_data", "_idx", "_docsize", "_config"))}


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

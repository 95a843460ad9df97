"""Editors' records on the article's claims: a contradicted claim resolved (the page corrected, or
the claim found right after all) or reopened, each kept with who, when, a note and the claim's
wording at the time. Nothing is ever updated or deleted: the latest record of a claim counts."""

from __future__ import annotations

from datetime import datetime

from ..weeks import utc_iso
from .database import Database
from .rows import ClaimResolution

RESOLVED, REOPENED = "resolved", "reopened"


class ClaimsMixin(Database):
    """The table `claim_resolutions`."""

    def resolve_claim(self, claim_id: str, user: str, note: str, now: datetime, *, text: str,
                      action: str = RESOLVED) -> ClaimResolution:
        """Record that `user` resolved (or, with action="reopened", reopened) the claim as `text` words it."""
        if action not in (RESOLVED, REOPENED):
            raise ValueError(f"unknown action {action!r}")
        record = ClaimResolution(claim_id, action, user, note, text, utc_iso(now))
        with self.transaction() as conn:
            conn.execute("INSERT INTO claim_resolutions (claim_id, action, by_name, note, text, at) VALUES (?, ?, ?, ?, ?, ?)",
                         (record.claim_id, record.action, record.by, record.note, record.text, record.at))
        return record

    def claim_resolutions(self, claim_id: str | None = None, *, before: datetime | None = None) -> list[ClaimResolution]:
        """Every record (of one claim, when given; made before `before`, when given), oldest first."""
        rows = self.conn.execute(
            "SELECT claim_id, action, by_name, note, text, at FROM claim_resolutions"
            " WHERE (? IS NULL OR claim_id = ?) AND (? IS NULL OR at < ?) ORDER BY at, id",
            (claim_id, claim_id, *(2 * [utc_iso(before) if before else None])),
        )
        return [ClaimResolution(r["claim_id"], r["action"], r["by_name"], r["note"], r["text"], r["at"]) for r in rows]

"""What was written for each week and format, and every mail sent or tried."""

from __future__ import annotations

from .database import Database
from .rows import MailRecord, OutputRecord


class OutputsMixin(Database):
    """The tables `outputs` and `mails`."""

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

    def outputs(self, format: str | None = None) -> list[OutputRecord]:
        """Outputs written, newest week first; of one format when `format` is given."""
        rows = self.conn.execute(
            "SELECT * FROM outputs WHERE ? IS NULL OR format = ? ORDER BY week DESC, format", (format, format)
        )
        return [OutputRecord(**dict(r)) for r in rows]

    def record_mail(self, record: MailRecord) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO mails (week, recipients, message_id, at, ok, error) VALUES (?, ?, ?, ?, ?, ?)",
                (record.week, record.recipients, record.message_id, record.at, int(record.ok), record.error),
            )

    def mails(self) -> list[MailRecord]:
        """Every mail sent or tried, oldest first."""
        rows = self.conn.execute("SELECT week, recipients, message_id, at, ok, error FROM mails ORDER BY at, id")
        return [MailRecord(**{**dict(r), "ok": bool(r["ok"])}) for r in rows]

"""The workspace's accounts: a name, a role (editor or reader) and the argon2id hash of a password.
Hashing is the caller's (web/accounts.py): the store never sees a password."""

from __future__ import annotations

from datetime import datetime

from ..weeks import utc_iso
from .database import Database
from .rows import StoredUser


class UsersMixin(Database):
    """The table `users`."""

    def add_user(self, name: str, role: str, password_hash: str, *, now: datetime) -> bool:
        """False when the name is taken (nothing is changed)."""
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                return False
            conn.execute("INSERT INTO users (name, role, password, created, changed) VALUES (?, ?, ?, ?, ?)",
                         (name, role, password_hash, utc_iso(now), utc_iso(now)))
            return True

    def change_user(self, name: str, *, now: datetime, password_hash: str | None = None, role: str | None = None) -> bool:
        """A new password and/or role; every session of the user signed before is void. False: no such user."""
        with self.transaction() as conn:
            return conn.execute(
                "UPDATE users SET password = COALESCE(?, password), role = COALESCE(?, role), changed = ?,"
                " generation = generation + 1 WHERE name = ?", (password_hash, role, utc_iso(now), name)).rowcount == 1

    def remove_user(self, name: str) -> bool:
        """The account goes (its decisions stay, under its name). False: no such user."""
        with self.transaction() as conn:
            return conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 1

    def user(self, name: str) -> StoredUser | None:
        row = self.conn.execute("SELECT name, role, password, created, changed, generation FROM users WHERE name = ?",
                                (name,)).fetchone()
        return StoredUser(*row) if row else None

    def users(self) -> list[StoredUser]:
        rows = self.conn.execute("SELECT name, role, password, created, changed, generation FROM users ORDER BY name")
        return [StoredUser(*r) for r in rows]

    def has_users(self) -> bool:
        return self.conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

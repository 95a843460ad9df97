"""Accounts of the workspace: names, roles, passwords hashed with argon2id, and the key that signs
sessions. The store keeps only hashes; the key lives in a file of its own beside the database."""

from __future__ import annotations

import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import UsageError, WatcherError

EDITOR, READER = "editor", "reader"
ROLES = (EDITOR, READER)
LOCAL = "local"  # the one user of a workspace on this machine's loopback while no account exists
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,39}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 takes any length; a megabyte "password" is only a way to load the server

# argon2-cffi's defaults are RFC 9106's second recommended profile (argon2id, 64 MiB, t=3, p=4).
HASHER = PasswordHasher()
# Verified against when the name is unknown, so a sign-in takes as long whether or not it exists.
_DUMMY = HASHER.hash(secrets.token_hex(16))


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    generation: int = 0
    local: bool = False  # the implicit local user (no account exists, loopback only)

    @property
    def can_decide(self) -> bool:
        return self.role == EDITOR


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise UsageError(f"user: {name!r} is not a user name: 1 to 40 of a-z 0-9 . _ -, starting with a letter or digit")
    if name == LOCAL:
        raise UsageError(f"user: {LOCAL!r} is the name of the workspace's local user; choose another")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"user: the password is {len(password)} characters long; use at least {MIN_PASSWORD}")
    if len(password) > MAX_PASSWORD:
        raise UsageError(f"user: the password is longer than {MAX_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    return HASHER.hash(check_password(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether `password` is the one hashed; an unknown user (None) costs one verification too."""
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return HASHER.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


# ---------------------------------------------------------------- the session key


def key_path(database: Path) -> Path:
    return database.with_name(database.name + ".session-key")


def session_key(database: Path) -> bytes:
    """The key that signs session cookies: read from `<database>.session-key`, made on first use
    (64 random bytes, hex, the file readable by its owner alone). A key file others can read is
    refused: whoever reads it can sign a session as anyone."""
    path = key_path(database)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise WatcherError(f"{path}: cannot create the session key: {exc.strerror}") from None
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(64) + "\n")
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise WatcherError(f"{path}: cannot read the session key: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise WatcherError(f"{path}: the session key is readable by others (mode {stat.S_IMODE(mode):o});"
                           f" run `chmod 600 {path}`, or delete it to make a new one (everyone signs in again)")
    if not re.fullmatch(r"[0-9a-f]{64,}", text):
        raise WatcherError(f"{path}: not a session key; delete it to make a new one (everyone signs in again)")
    return bytes.fromhex(text)

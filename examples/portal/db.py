"""Accounts in SQLite (stdlib ``sqlite3``), each call run in a worker thread off the event loop.

Only what a service keeps: the email, argon2id hashes, sealed TOTP secrets and face templates,
recovery-code digests and passkey credentials. Never a photo, a code or a plain secret.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from verifykit import Way

__all__ = ["Account", "Accounts"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    subject TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    locale TEXT NOT NULL DEFAULT 'en',
    email_verified INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT,
    totp BLOB,
    totp_pending BLOB,
    recovery TEXT,
    face BLOB,
    created REAL NOT NULL
);
-- One row per passkey: a credential id belongs to one account only (WebAuthn 7.1, step 26).
CREATE TABLE IF NOT EXISTS passkeys (
    credential_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL REFERENCES accounts (subject) ON DELETE CASCADE,
    stored TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS passkeys_by_subject ON passkeys (subject);
"""
_COLUMNS = frozenset(
    {"locale", "email_verified", "password_hash", "totp", "totp_pending", "recovery", "face"}
)


@dataclass(frozen=True, slots=True)
class Account:
    subject: str
    email: str
    locale: str = "en"
    email_verified: bool = False
    password_hash: str | None = None
    totp: bytes | None = field(default=None, repr=False)
    totp_pending: bytes | None = field(default=None, repr=False)
    recovery: str | None = field(default=None, repr=False)
    face: bytes | None = field(default=None, repr=False)
    #: The stored passkeys (``verifykit.passkey`` credential strings), oldest first.
    passkeys: tuple[str, ...] = field(default=(), repr=False)

    def ways(self) -> tuple[Way, ...]:
        """The ways in this account has set up, for the ladder."""
        ways: list[Way] = []
        if self.email_verified:
            ways.append(Way.EMAIL_CODE)
        if self.password_hash:
            ways.append(Way.PASSWORD)
        if self.totp:
            ways.append(Way.AUTHENTICATOR_APP)
        if self.recovery:
            ways.append(Way.RECOVERY_CODE)
        if self.face:
            ways.append(Way.FACE)
        if self.passkeys:
            ways.append(Way.PASSKEY)
        return tuple(ways)


class Accounts:
    """One SQLite connection behind a lock; every method is a coroutine that runs it in a thread."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.executescript(_SCHEMA)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return fn(self._db)

        return await asyncio.to_thread(locked)

    async def create(self, email: str, locale: str) -> Account:
        """A new account for ``email``, or the existing one that never confirmed its address."""
        subject = "acct-" + secrets.token_hex(12)

        def insert(db: sqlite3.Connection) -> None:
            row = db.execute("SELECT email_verified FROM accounts WHERE email = ?", (email,)).fetchone()
            if row is not None and not row["email_verified"]:
                db.execute("DELETE FROM accounts WHERE email = ?", (email,))
            elif row is not None:
                raise ValueError("taken")
            db.execute(
                "INSERT INTO accounts (subject, email, locale, created) VALUES (?, ?, ?, ?)",
                (subject, email, locale, time.time()),
            )

        await self._run(insert)
        return Account(subject, email, locale)

    async def by_subject(self, subject: str) -> Account | None:
        return await self._one("SELECT * FROM accounts WHERE subject = ?", subject)

    async def by_email(self, email: str) -> Account | None:
        return await self._one("SELECT * FROM accounts WHERE email = ?", email)

    async def _one(self, sql: str, value: str) -> Account | None:
        def read(db: sqlite3.Connection) -> Account | None:
            row = db.execute(sql, (value,)).fetchone()
            if row is None:
                return None
            passkeys = db.execute(
                "SELECT stored FROM passkeys WHERE subject = ? ORDER BY created, rowid", (row["subject"],)
            ).fetchall()
            return _account(row, tuple(p["stored"] for p in passkeys))

        return await self._run(read)

    async def add_passkey(self, subject: str, credential_id: str, stored: str) -> None:
        """Keep a new passkey; ``ValueError`` when any account holds that credential id already."""

        def insert(db: sqlite3.Connection) -> None:
            try:
                db.execute(
                    "INSERT INTO passkeys (credential_id, subject, stored, created) VALUES (?, ?, ?, ?)",
                    (credential_id, subject, stored, time.time()),
                )
            except sqlite3.IntegrityError:
                raise ValueError("credential id taken") from None

        await self._run(insert)

    async def update_passkey(self, subject: str, credential_id: str, stored: str) -> None:
        """Replace a passkey's stored form (its new signature counter, or a newer key's MAC)."""
        sql = "UPDATE passkeys SET stored = ? WHERE credential_id = ? AND subject = ?"
        await self._run(lambda db: db.execute(sql, (stored, credential_id, subject)))

    async def update(self, subject: str, **values: Any) -> None:
        unknown = set(values) - _COLUMNS
        if unknown:
            raise ValueError(f"unknown columns: {sorted(unknown)}")
        # Column names come from _COLUMNS only, never from a request.
        assignments = ", ".join(f"{name} = ?" for name in values)
        sql = f"UPDATE accounts SET {assignments} WHERE subject = ?"
        await self._run(lambda db: db.execute(sql, (*values.values(), subject)))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _account(row: sqlite3.Row, passkeys: tuple[str, ...]) -> Account:
    return Account(
        subject=row["subject"],
        email=row["email"],
        locale=row["locale"],
        email_verified=bool(row["email_verified"]),
        password_hash=row["password_hash"],
        totp=row["totp"],
        totp_pending=row["totp_pending"],
        recovery=row["recovery"],
        face=row["face"],
        passkeys=passkeys,
    )

"""PasswordVerifier: policy on set, argon2id with transparent upgrade on verify, throttling on
the shared store, and a memory budget so a flood of logins cannot exhaust the machine.

The rules live in :mod:`verifykit.password._core`; this class runs them with blocking I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._flow import FlowIO, run_sync
from .._verdict import Verdict, WaysIn
from ..crypto import Keyring
from ..store import ChallengeStore
from ._core import PasswordShell
from ._settings import DEFAULT_CLIENT_LIMIT, DEFAULT_LOCKOUT, PasswordSettings

__all__ = ["DEFAULT_CLIENT_LIMIT", "DEFAULT_LOCKOUT", "PasswordVerifier"]


class PasswordVerifier(PasswordShell):
    """Hash new passwords and verify them, the way NIST SP 800-63B and RFC 9106 ask.

    verifykit owns no user table: :meth:`hash` returns a PHC string for the caller to store,
    and :meth:`verify` takes it back. A wrong password is a :class:`~verifykit.Verdict`;
    a password that breaks the policy raises :class:`PolicyViolation`; a flood beyond the
    memory budget raises :class:`~verifykit.BusyError`; a store that does not answer raises
    :class:`~verifykit.StoreUnavailable` (nothing is approved). :class:`PasswordSettings` says
    how; ``ways_in(subject)`` names the other ways in a locked-out subject can be offered.
    """

    def __init__(
        self,
        *,
        store: ChallengeStore,
        keyring: Keyring,
        settings: PasswordSettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        ways_in: WaysIn | None = None,
    ) -> None:
        super().__init__(store=store, keyring=keyring, settings=settings, audit=audit, ways_in=ways_in)
        self._io = FlowIO(store=store, audit=audit, budget=self.budget)

    def hash(self, password: str, *, subject: str | None = None, context: Sequence[str] = ()) -> str:
        """Check the policy, then return an argon2id PHC string to store.

        Raises :class:`PolicyViolation` (``.reason``, ``.result``) when the policy refuses.
        """
        return run_sync(self._flows.hash(password, subject=subject, context=context), self._io)

    def verify(
        self, subject: str, stored_hash: str | None, password: str, *, client: str | None = None
    ) -> Verdict:
        """Verify ``password`` for ``subject`` against the hash the caller stored.

        Pass ``stored_hash=None`` for a subject that does not exist: the same work is spent on
        a dummy hash and the answer is ``wrong_password``, so neither the verdict nor the time
        it takes tells which accounts exist. A success whose hash is outdated carries the new
        hash in ``verdict.stored``: store it in place of the old one (None: keep the old one).
        """
        return run_sync(self._flows.verify(subject, stored_hash, password, client=client), self._io)

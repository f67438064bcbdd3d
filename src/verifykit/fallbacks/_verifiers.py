"""The fallback verifiers with blocking calls; :mod:`verifykit.aio` has the same with ``async def``."""

from __future__ import annotations

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._shell import SyncShell
from .._verdict import Verdict, WaysIn
from ..crypto import Keyring
from ..store import ChallengeStore
from ._recovery import RecoveryCodeSet, RecoveryFlows, count_left
from ._settings import RecoverySettings, TOTPSettings
from ._totp import TOTPEnrollment, TOTPFlows

__all__ = ["RecoveryCodes", "TOTPVerifier"]


class TOTPVerifier(SyncShell[TOTPFlows]):
    """Codes from an authenticator app (RFC 6238), the first rung of the ladder after email.

    verifykit keeps no user database: :meth:`enroll` returns the secret sealed to the subject
    (``.stored``) and the caller stores it. A code is accepted at most once, across servers;
    guessing is capped per subject and per client (:class:`TOTPSettings`).
    """

    def __init__(
        self,
        *,
        store: ChallengeStore,
        keyring: Keyring,
        settings: TOTPSettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        ways_in: WaysIn | None = None,
    ) -> None:
        super().__init__(
            "TOTPVerifier",
            store=store,
            keyring=keyring,
            audit=audit,
            flows=lambda: TOTPFlows(keyring=keyring, settings=settings, ways_in=ways_in),
        )

    def enroll(self, subject: str, account_name: str) -> TOTPEnrollment:
        """A new secret for ``subject``; ``account_name`` is the label the app shows (e.g. an email)."""
        return self._run(self._flows.enroll(subject, account_name))

    def verify(
        self, subject: str, stored: bytes, code: str, *, client: str | None = None, at: float | None = None
    ) -> Verdict:
        """Check ``code`` against the secret the caller stored, at time ``at`` (default: the
        store's clock). Raises :class:`~verifykit.InvalidInput` for a malformed code (nothing is
        spent) and :class:`~verifykit.TemplateError` for a secret that is not this subject's."""
        return self._run(self._flows.verify(subject, stored, code, client=client, at=at))

    def remove(self, subject: str, stored: bytes) -> None:
        """Record (audit, must be written) that the caller forgets ``subject``'s secret; then
        delete ``stored``. The subject's lockout stays, so removing and enrolling again does not
        reset it. Raises :class:`~verifykit.TemplateError` for a secret that is not this subject's."""
        self._run(self._flows.remove(subject, stored))


class RecoveryCodes(SyncShell[RecoveryFlows]):
    """One-time recovery codes, kept by the caller as one opaque string of keyed digests.

    :meth:`generate` returns the codes to show once and ``stored``; :meth:`redeem` returns a
    verdict whose ``stored`` replaces the caller's (``None``: keep it). A code works once,
    across servers, even before the caller saved the shortened set.
    """

    def __init__(
        self,
        *,
        store: ChallengeStore,
        keyring: Keyring,
        settings: RecoverySettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        ways_in: WaysIn | None = None,
    ) -> None:
        super().__init__(
            "RecoveryCodes",
            store=store,
            keyring=keyring,
            audit=audit,
            flows=lambda: RecoveryFlows(keyring=keyring, settings=settings, ways_in=ways_in),
        )

    def generate(self, subject: str) -> RecoveryCodeSet:
        """A new set of codes for ``subject``; its ``stored`` replaces any set the caller kept."""
        return self._run(self._flows.generate(subject))

    def redeem(self, subject: str, stored: str, code: str, *, client: str | None = None) -> Verdict:
        """Spend ``code`` if it is in ``stored``; on approval and on ``replayed`` the verdict's
        ``stored`` is the shortened set. Raises :class:`~verifykit.InvalidInput` for a malformed
        code or set (nothing is spent)."""
        return self._run(self._flows.redeem(subject, stored, code, client=client))

    def count(self, stored: str) -> int:
        """Codes the stored set still holds (no store call); :class:`~verifykit.InvalidInput`
        for a string :meth:`generate` or :meth:`redeem` did not hand out."""
        return count_left(stored)

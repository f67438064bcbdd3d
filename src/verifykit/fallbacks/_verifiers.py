"""The fallback verifiers with blocking calls; :mod:`verifykit.aio` has the same with ``async def``."""

from __future__ import annotations

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._verdict import Verdict, WaysIn
from ..crypto import Keyring
from ..store import ChallengeStore
from ._assisted import AssistedFlows
from ._recovery import RecoveryCodeSet, RecoveryFlows
from ._settings import AssistedSettings, RecoverySettings, TOTPSettings
from ._shell import SyncShell
from ._totp import TOTPEnrollment, TOTPFlows

__all__ = ["AssistedCheck", "RecoveryCodes", "TOTPVerifier"]


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
        super().__init__(store, audit, TOTPFlows(keyring=keyring, settings=settings, ways_in=ways_in))

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
        super().__init__(store, audit, RecoveryFlows(keyring=keyring, settings=settings, ways_in=ways_in))

    def generate(self, subject: str) -> RecoveryCodeSet:
        """A new set of codes for ``subject``; its ``stored`` replaces any set the caller kept."""
        return self._run(self._flows.generate(subject))

    def redeem(self, subject: str, stored: str, code: str, *, client: str | None = None) -> Verdict:
        """Spend ``code`` if it is in ``stored``; on approval and on ``replayed`` the verdict's
        ``stored`` is the shortened set. Raises :class:`~verifykit.InvalidInput` for a malformed
        code or set (nothing is spent)."""
        return self._run(self._flows.redeem(subject, stored, code, client=client))


class AssistedCheck(SyncShell[AssistedFlows]):
    """The last rung, which every subject has: an operator checks an identity document in
    person and records the decision. An approval clears the subject's lockouts for the
    verifiers in ``settings.unlocks``: the documented way back in from a hard lock."""

    def __init__(
        self,
        *,
        store: ChallengeStore,
        keyring: Keyring,
        settings: AssistedSettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
    ) -> None:
        super().__init__(store, audit, AssistedFlows(keyring=keyring, settings=settings))

    def record(
        self,
        subject: str,
        *,
        operator: str,
        evidence: str,
        approved: bool,
        document_ref_hint: str = "",
        note: str = "",
        second_operator: str | None = None,
        client: str | None = None,
    ) -> Verdict:
        """Record an operator's decision (``evidence``: ``passport``, ``national_id``, …); on
        approval clear the subject's lockouts. Raises :class:`~verifykit.InvalidInput` for any
        malformed field; nothing changes then."""
        return self._run(
            self._flows.record(
                subject, operator, evidence, approved, document_ref_hint, note, second_operator, client
            )
        )

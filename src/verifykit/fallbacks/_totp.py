"""Authenticator-app codes (TOTP, RFC 6238): enrol, then verify each code at most once."""

from __future__ import annotations

import hmac
import unicodedata
from dataclasses import dataclass, field

import pyotp

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._charged import decision_event, locked_verdict, wrong_verdict
from .._errors import InvalidInput, KeyringError, TemplateError
from .._subject import lockout_key, subject_tag, validate_subject
from .._verdict import Reason, Verdict, WaysIn, assisted_check_only
from ..crypto import Keyring
from ..otp._codes import normalize_code
from ..store import ChallengeStore, MemoryStore, WindowPolicy
from ._totp_settings import TOTPSettings

__all__ = ["TOTPEnrollment", "TOTPVerifier"]

_VERIFIER = "totp"
_SEAL_PURPOSE = "totp-secret"
_MAX_LABEL = 256


@dataclass(frozen=True, slots=True)
class TOTPEnrollment:
    """What :meth:`TOTPVerifier.enroll` hands back.

    Store ``sealed_secret`` with the account (it opens only with this keyring, only for this
    subject). Show ``provisioning_uri`` as a QR code, or ``secret_base32`` for typing, once,
    then forget both.
    """

    sealed_secret: bytes = field(repr=False)
    provisioning_uri: str = field(repr=False)
    secret_base32: str = field(repr=False)


def _label(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} must be a non-empty string", field=name)
    if len(value) > _MAX_LABEL or any(unicodedata.category(ch).startswith("C") for ch in value):
        raise InvalidInput(f"{name} must be at most {_MAX_LABEL} printable characters", field=name)
    return value


class TOTPVerifier:
    """Codes from an authenticator app, the first rung of the ladder after email.

    verifykit keeps no user database: :meth:`enroll` returns the secret sealed to the subject
    and the caller stores it. :meth:`verify` charges one failure to the subject before
    comparing (so the NIST cap of 100 consecutive failures holds exactly under concurrency)
    and resets it on success. A code is accepted at most once: the accepted time step is
    marked on the shared store in the same atomic hit that checks it, so a code read over a
    shoulder, or submitted twice at once to two servers, is refused as ``replayed``.
    """

    def __init__(
        self,
        *,
        store: ChallengeStore | None = None,
        keyring: Keyring | None = None,
        settings: TOTPSettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        issuer: str = "verifykit",
        ways_in: WaysIn | None = None,
    ) -> None:
        self.store = store if store is not None else MemoryStore()
        self.keyring = keyring if keyring is not None else Keyring.generate()
        self.settings = settings if settings is not None else TOTPSettings()
        self.audit = audit
        self.issuer = _label(issuer, "issuer")
        self._ways_in: WaysIn = ways_in if ways_in is not None else assisted_check_only

    def _totp(self, secret: str) -> pyotp.TOTP:
        return pyotp.TOTP(secret, digits=self.settings.digits, interval=self.settings.interval)

    def _event(self, action: str, subject: str, outcome: str, reason: Reason, client: str | None) -> None:
        decision_event(
            self.audit,
            _VERIFIER,
            action,
            subject,
            outcome,
            reason=reason,
            client=client,
        )

    def _open(self, subject: str, sealed_secret: object) -> str:
        if not isinstance(sealed_secret, bytes | bytearray | memoryview):
            raise InvalidInput("sealed_secret is the bytes that enroll returned", field="sealed_secret")
        try:
            secret = self.keyring.open(_SEAL_PURPOSE, bytes(sealed_secret), aad=subject.encode())
        except KeyringError as exc:
            raise TemplateError(f"the TOTP secret cannot be opened for this subject: {exc.message}") from None
        return secret.decode("ascii")

    def enroll(self, subject: str, account_name: str) -> TOTPEnrollment:
        """A new secret for ``subject``; ``account_name`` is the label the app shows (e.g. an email)."""
        subject = validate_subject(subject)
        account_name = _label(account_name, "account_name")
        secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
        sealed = self.keyring.seal(_SEAL_PURPOSE, secret.encode("ascii"), aad=subject.encode())
        uri = self._totp(secret).provisioning_uri(name=account_name, issuer_name=self.issuer)
        self._event("enroll", subject, "enrolled", Reason.APPROVED, None)
        return TOTPEnrollment(sealed_secret=sealed, provisioning_uri=uri, secret_base32=secret)

    def verify(
        self,
        subject: str,
        sealed_secret: bytes,
        code: str,
        *,
        client: str | None = None,
        at: float | None = None,
    ) -> Verdict:
        """Check ``code`` at time ``at`` (default: the store's clock).

        Raises :class:`InvalidInput` for a malformed code (nothing is spent) and
        :class:`TemplateError` for a secret that is not this subject's or was changed.
        """
        subject = validate_subject(subject)
        secret = self._open(subject, sealed_secret)
        normalized = normalize_code(code, self.settings.digits)
        settings = self.settings
        tag = subject_tag(self.keyring, subject)
        key = lockout_key(_VERIFIER, tag)

        state = self.store.charge(key, settings.lockout)
        if not state.allowed:
            self._event("verify", subject, "refused", Reason.LOCKED_OUT, client)
            return locked_verdict(state, self._ways_in(subject))

        now = self.store.now() if at is None else at
        current = int(now // settings.interval)
        totp = self._totp(secret)
        matched: int | None = None
        # Compare every step in the window, without stopping early, in constant time.
        for step in range(current - settings.valid_window, current + settings.valid_window + 1):
            if hmac.compare_digest(totp.generate_otp(step), normalized) and matched is None:
                matched = step
        if matched is None:
            self._event("verify", subject, "denied", Reason.WRONG_CODE, client)
            return wrong_verdict(Reason.WRONG_CODE, state, settings.lockout, self._ways_in(subject))

        # A step stays markable while any window could still accept it, and a little longer.
        keep = float((2 * settings.valid_window + 2) * settings.interval)
        used = self.store.hit(f"{{{tag}}}:totp-used:{matched}", WindowPolicy(limit=1, window=keep))
        if not used.allowed:
            self._event("verify", subject, "denied", Reason.REPLAYED, client)
            return wrong_verdict(Reason.REPLAYED, state, settings.lockout, self._ways_in(subject))

        self.store.reset_failures(key)
        self._event("verify", subject, "approved", Reason.APPROVED, client)
        return Verdict(True, Reason.APPROVED, attempts_left=settings.lockout.threshold)

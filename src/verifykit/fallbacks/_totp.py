"""Authenticator-app codes (TOTP, RFC 6238): the rules, free of I/O.

:class:`TOTPFlows` decides and yields the store operations and audit events it needs;
``verifykit.fallbacks.TOTPVerifier`` and ``verifykit.aio.TOTPVerifier`` only run its flows.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import unicodedata
from dataclasses import dataclass, field

import pyotp

from .._charged import (
    ClientCharge,
    charge_client_flow,
    charge_subject_flow,
    decision_step,
    outcome,
    refund_flow,
    reset_subject_flow,
    validate_client,
)
from .._codes import normalize_code
from .._errors import InvalidInput, KeyringError, TemplateError
from .._flow import Emit, Flow, store_op
from .._subject import stable_tag, subject_tag, validate_subject
from .._verdict import Reason, Verdict, Way, WaysIn, counter_voucher_only
from ..crypto import Keyring
from ..store import WindowPolicy, WindowResult
from ._settings import TOTPSettings

__all__ = ["TOTPEnrollment", "TOTPFlows"]

_VERIFIER = Way.AUTHENTICATOR_APP
_SEAL_PURPOSE = "totp-secret"
_MAX_LABEL = 256


@dataclass(frozen=True, slots=True)
class TOTPEnrollment:
    """What ``enroll`` hands back.

    Store ``stored`` with the account (the sealed secret: it opens only with this keyring,
    only for this subject). Show ``provisioning_uri`` as a QR code, or ``secret_base32`` for
    typing, once, then forget both.
    """

    stored: bytes = field(repr=False)
    provisioning_uri: str = field(repr=False)
    secret_base32: str = field(repr=False)


def _label(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} must be a non-empty string", field=name)
    if len(value) > _MAX_LABEL or any(unicodedata.category(ch).startswith("C") for ch in value):
        raise InvalidInput(f"{name} must be at most {_MAX_LABEL} printable characters", field=name)
    return value


def _used_key(keyring: Keyring, tag: str, secret: str, step: int) -> str:
    """The store key marking ``step`` as used for this subject's secret.

    Per secret, not per subject: a mark per subject would refuse a freshly enrolled app's code
    as ``replayed`` whenever the old app's code of the same step was just used. The secret
    appears only as a keyed tag under the keyring's tag key, which never rotates with the
    sealing keys, so rotating a sealing key cannot free a used code. The subject's tag stays
    the Redis Cluster hash tag, so the mark shares a slot with the subject's other keys.
    """
    return f"{{{tag}}}:totp-used:{stable_tag(keyring, _SEAL_PURPOSE, secret)}:{step}"


class TOTPFlows:
    """The rules of authenticator-app codes, each a flow that any driver can run.

    :meth:`verify` charges the client's window and one failure to the subject before comparing
    (so the limits hold exactly under concurrency) and resets the failures on success. A code is
    accepted at most once: the accepted time step is marked on the shared store in the same
    atomic hit that checks it, so a code read over a shoulder, or submitted twice at once to
    two servers, is refused as ``replayed``. The mark names the secret as well as the subject
    (by a keyed tag, never the secret itself), so a new app's first code, right after enrolling
    again, is not taken for a replay of the old app's code of the same step.
    """

    def __init__(self, *, keyring: Keyring, settings: TOTPSettings | None, ways_in: WaysIn | None) -> None:
        self.keyring = keyring
        self.settings = settings if settings is not None else TOTPSettings()
        self._ways_in: WaysIn = ways_in if ways_in is not None else counter_voucher_only

    def _totp(self, secret: str) -> pyotp.TOTP:
        settings = self.settings
        digest = getattr(hashlib, settings.algorithm)
        return pyotp.TOTP(secret, digits=settings.digits, interval=settings.interval, digest=digest)

    def _open(self, subject: str, stored: object) -> str:
        if not isinstance(stored, bytes | bytearray | memoryview):
            raise InvalidInput("stored is the bytes that enroll returned", field="stored")
        try:
            secret = self.keyring.open(_SEAL_PURPOSE, bytes(stored), aad=subject.encode())
        except KeyringError as exc:
            raise TemplateError(f"the TOTP secret cannot be opened for this subject: {exc.message}") from None
        return secret.decode("ascii")

    def enroll(self, subject: str, account_name: str) -> Flow[TOTPEnrollment]:
        """A new secret for ``subject``; ``account_name`` is the label the app shows."""
        subject = validate_subject(subject)
        account_name = _label(account_name, "account_name")
        secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
        sealed = self.keyring.seal(_SEAL_PURPOSE, secret.encode("ascii"), aad=subject.encode())
        uri = self._totp(secret).provisioning_uri(name=account_name, issuer_name=self.settings.issuer)
        yield decision_step(_VERIFIER, "enroll", subject, "enrolled", reason=Reason.APPROVED, client=None)
        return TOTPEnrollment(stored=sealed, provisioning_uri=uri, secret_base32=secret)

    def remove(self, subject: str, stored: bytes) -> Flow[None]:
        """Record that the caller forgets ``subject``'s secret ``stored`` (:class:`TemplateError`
        when it is not this subject's); the record must be written, or nothing is removed.

        Nothing on the store is cleared: the lockout counts the subject's failures, not the
        secret's, so removing and enrolling again cannot reset a guesser's budget. The marks of
        used codes belong to the secret that produced them (a new secret's codes are free at
        once) and expire on their own within ``(2 * valid_window + 2) * interval`` seconds.
        """
        subject = validate_subject(subject)
        self._open(subject, stored)
        step = decision_step(_VERIFIER, "remove", subject, "removed", reason=Reason.APPROVED, client=None)
        yield Emit(step.event, required=True)

    def verify(
        self, subject: str, stored: bytes, code: str, *, client: str | None, at: float | None
    ) -> Flow[Verdict]:
        """Check ``code`` at time ``at`` (``None``: the store's clock).

        Raises :class:`InvalidInput` for a malformed code, client or time (nothing is spent) and
        :class:`TemplateError` for a secret that is not this subject's or was changed.
        """
        subject = validate_subject(subject)
        secret = self._open(subject, stored)
        normalized = normalize_code(code, self.settings.digits)
        if at is not None and (
            isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at) or at < 0
        ):
            raise InvalidInput("at is a finite, non-negative Unix time in seconds", field="at")
        if client is not None:
            validate_client(client)
        settings = self.settings

        charge = yield from charge_client_flow(_VERIFIER, client, settings.client_limit)
        verdict = (
            charge.verdict()
            if charge.refused
            else (yield from self._check(subject, secret, normalized, at, charge))
        )
        yield decision_step(
            _VERIFIER, "verify", subject, outcome(verdict), reason=verdict.reason, client=client
        )
        return verdict

    def _check(
        self, subject: str, secret: str, code: str, at: float | None, charge: ClientCharge
    ) -> Flow[Verdict]:
        settings = self.settings
        tag = subject_tag(self.keyring, subject)
        charged = yield from charge_subject_flow(_VERIFIER, tag, settings.lockout)
        if not charged.allowed:
            yield from refund_flow(charge)  # nothing was compared: not this client's guess
            return charged.locked(self._ways_in(subject))
        now: float = (yield store_op.now()) if at is None else at
        matched = self._match(secret, code, now)
        if matched is None:
            return charged.wrong(Reason.WRONG_CODE, self._ways_in(subject))
        # A step stays markable while any window could still accept it, and a little longer.
        keep = float((2 * settings.valid_window + 2) * settings.interval)
        used: WindowResult = yield store_op.hit(
            _used_key(self.keyring, tag, secret, matched), WindowPolicy(1, keep)
        )
        if not used.allowed:
            return charged.wrong(Reason.REPLAYED, self._ways_in(subject))
        yield from reset_subject_flow(_VERIFIER, tag)
        yield from refund_flow(charge)
        return Verdict(True, Reason.APPROVED)

    def _match(self, secret: str, code: str, now: float) -> int | None:
        """The time step whose code ``code`` is, if any in the window."""
        settings = self.settings
        current = int(now // settings.interval)
        totp = self._totp(secret)
        matched: int | None = None
        # Compare every step in the window, without stopping early, in constant time.
        # No code exists before step 0 (pyotp refuses one), so the window starts there at the earliest.
        for step in range(max(0, current - settings.valid_window), current + settings.valid_window + 1):
            if hmac.compare_digest(totp.generate_otp(step), code) and matched is None:
                matched = step
        return matched

"""Recovery codes: a printed list of one-time codes for when every device is gone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._charged import decision_event, locked_verdict, wrong_verdict
from .._errors import ConfigurationError, InvalidInput
from .._subject import lockout_key, subject_tag, validate_subject
from .._verdict import Reason, Verdict, WaysIn, assisted_check_only
from ..crypto import Keyring
from ..store import ChallengeStore, LockoutPolicy, MemoryStore, WindowPolicy
from ._recovery_codes import generate, normalize

__all__ = ["RecoveryCodeSet", "RecoveryCodes", "RecoveryResult"]

_VERIFIER = "recovery"
_PURPOSE = "recovery-code"
_MAX_DIGESTS = 100
# A used code stays marked longer than any code set is kept.
_USED = WindowPolicy(limit=1, window=10 * 365 * 86400.0)


@dataclass(frozen=True, slots=True)
class RecoveryCodeSet:
    """Fresh codes: show ``codes`` to the person once; store only ``digests``."""

    codes: list[str] = field(repr=False)
    digests: list[str]


@dataclass(frozen=True, slots=True)
class RecoveryResult:
    """A redemption's verdict and the digests still unused: store ``remaining_digests``."""

    verdict: Verdict
    remaining_digests: list[str]


class RecoveryCodes:
    """One-time recovery codes, kept by the caller as keyed HMAC digests bound to the subject.

    A code works once, even across servers and even if the caller has not yet saved the
    shortened list: redeeming marks the matched digest on the shared store in one atomic hit,
    and a second redemption finds the mark and is refused as ``replayed``. Each redemption
    charges one failure to the subject before checking and resets it on success, so the NIST
    cap of 100 consecutive failures holds exactly. 60-bit codes make guessing hopeless anyway.
    """

    def __init__(
        self,
        *,
        store: ChallengeStore | None = None,
        keyring: Keyring | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        count: int = 10,
        lockout: LockoutPolicy | None = None,
        ways_in: WaysIn | None = None,
    ) -> None:
        if not 1 <= count <= _MAX_DIGESTS:
            raise ConfigurationError(f"count must be between 1 and {_MAX_DIGESTS}")
        self.store = store if store is not None else MemoryStore()
        self.keyring = keyring if keyring is not None else Keyring.generate()
        self.audit = audit
        self.count = count
        self.lockout = (
            lockout
            if lockout is not None
            else LockoutPolicy(threshold=10, lockout=60, lockout_max=3600, hard_cap=100)
        )
        self._ways_in: WaysIn = ways_in if ways_in is not None else assisted_check_only

    def _data(self, subject: str, code: str) -> bytes:
        return f"{subject}\x00{code}".encode()

    def _event(
        self, action: str, subject: str, outcome: str, reason: Reason, client: str | None, **details: str
    ) -> None:
        decision_event(
            self.audit,
            _VERIFIER,
            action,
            subject,
            outcome,
            reason=reason,
            client=client,
            **details,
        )

    def generate(self, subject: str) -> RecoveryCodeSet:
        """A new set of ``count`` codes for ``subject``; it replaces any earlier set the caller kept."""
        subject = validate_subject(subject)
        codes = [generate() for _ in range(self.count)]
        digests = [self.keyring.digest(_PURPOSE, self._data(subject, code)) for code in codes]
        self._event("generate", subject, "issued", Reason.APPROVED, None, count=str(self.count))
        return RecoveryCodeSet(codes=codes, digests=digests)

    def redeem(
        self, subject: str, code: str, digests: Sequence[str], *, client: str | None = None
    ) -> RecoveryResult:
        """Spend ``code`` if it is one of ``digests``. Raises :class:`InvalidInput` for a
        malformed code or digest list (nothing is spent)."""
        subject = validate_subject(subject)
        normalized = normalize(code)
        if isinstance(digests, str) or not all(isinstance(d, str) for d in digests):
            raise InvalidInput("digests is the list of strings that generate returned", field="digests")
        if len(digests) > _MAX_DIGESTS:
            raise InvalidInput(f"at most {_MAX_DIGESTS} digests", field="digests")
        remaining = list(digests)
        tag = subject_tag(self.keyring, subject)
        key = lockout_key(_VERIFIER, tag)

        state = self.store.charge(key, self.lockout)
        if not state.allowed:
            self._event("redeem", subject, "refused", Reason.LOCKED_OUT, client)
            return RecoveryResult(locked_verdict(state, self._ways_in(subject)), remaining)

        data = self._data(subject, normalized)
        matched: str | None = None
        # Check every digest, without stopping early, each in constant time.
        for stored in remaining:
            if self.keyring.verify_digest(_PURPOSE, data, stored) and matched is None:
                matched = stored
        if matched is None:
            self._event("redeem", subject, "denied", Reason.WRONG_CODE, client)
            verdict = wrong_verdict(Reason.WRONG_CODE, state, self.lockout, self._ways_in(subject))
            return RecoveryResult(verdict, remaining)

        remaining = [d for d in remaining if d != matched]
        _kid, _, digest_hex = matched.partition(":")
        used = self.store.hit(f"{{{tag}}}:recovery-used:{digest_hex}", _USED)
        if not used.allowed:
            self._event("redeem", subject, "denied", Reason.REPLAYED, client)
            verdict = wrong_verdict(Reason.REPLAYED, state, self.lockout, self._ways_in(subject))
            return RecoveryResult(verdict, remaining)

        self.store.reset_failures(key)
        left = str(len(remaining))
        self._event("redeem", subject, "approved", Reason.APPROVED, client, remaining=left)
        return RecoveryResult(Verdict(True, Reason.APPROVED, details={"remaining": left}), remaining)

"""Recovery codes, a printed list of one-time codes for when every device is gone: the rules,
free of I/O.

:class:`RecoveryFlows` decides and yields the store operations and audit events it needs;
``verifykit.fallbacks.RecoveryCodes`` and ``verifykit.aio.RecoveryCodes`` only run its flows.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

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
from .._errors import InvalidInput
from .._flow import Flow, store_op
from .._subject import subject_tag, validate_subject
from .._verdict import Reason, Verdict, Way, WaysIn, counter_voucher_only
from ..crypto import Keyring
from ..store import WindowPolicy, WindowResult
from ._recovery_codes import generate, normalize
from ._settings import RecoverySettings

__all__ = ["RecoveryCodeSet", "RecoveryFlows", "count_left"]

_VERIFIER = Way.RECOVERY_CODE
_PURPOSE = "recovery-code"
_MAX_DIGESTS = 100
# A stored set is the digests ("kid:hex") joined by commas. A later format will start with a
# "vN$" mark, which no key id can hold, so both stay readable.
_DIGEST = re.compile(r"[A-Za-z0-9_-]{1,32}:[0-9a-f]{64}")
_MAX_STORED = _MAX_DIGESTS * (32 + 1 + 64 + 1)
# A used code stays marked longer than any code set is kept.
_USED = WindowPolicy(limit=1, window=10 * 365 * 86400.0)


@dataclass(frozen=True, slots=True)
class RecoveryCodeSet:
    """Fresh codes: show ``codes`` to the person once; store only ``stored`` (an opaque string)."""

    codes: list[str] = field(repr=False)
    stored: str


def _parse(stored: object) -> list[str]:
    """The digests in a stored set; :class:`InvalidInput` for anything ``generate`` or ``redeem``
    did not hand out."""
    if not isinstance(stored, str) or len(stored) > _MAX_STORED:
        raise InvalidInput("stored is the string that generate or redeem returned", field="stored")
    digests = stored.split(",") if stored else []
    well_formed = all(_DIGEST.fullmatch(d) for d in digests) and len(set(digests)) == len(digests)
    if len(digests) > _MAX_DIGESTS or not well_formed:
        raise InvalidInput("stored is the string that generate or redeem returned", field="stored")
    return digests


def count_left(stored: str) -> int:
    """Codes a stored set still holds; :class:`InvalidInput` for a string ``generate`` or
    ``redeem`` did not hand out. A code spent on another server before the caller saved the
    shortened set still counts until its redemption is refused as ``replayed``."""
    return len(_parse(stored))


class RecoveryFlows:
    """The rules of recovery codes, each a flow that any driver can run.

    Codes are kept by the caller as keyed HMAC digests bound to the subject. A code works
    once, even across servers and even if the caller has not yet saved the shortened set:
    redeeming marks the matched digest on the shared store in one atomic hit, and a second
    redemption finds the mark and is refused as ``replayed``. Each redemption charges the
    client's window and one failure to the subject before checking and resets the failures on
    success, so the NIST cap of 100 consecutive failures holds exactly.
    """

    def __init__(
        self, *, keyring: Keyring, settings: RecoverySettings | None, ways_in: WaysIn | None
    ) -> None:
        self.keyring = keyring
        self.settings = settings if settings is not None else RecoverySettings()
        self._ways_in: WaysIn = ways_in if ways_in is not None else counter_voucher_only

    def _data(self, subject: str, code: str) -> bytes:
        return f"{subject}\x00{code}".encode()

    def generate(self, subject: str) -> Flow[RecoveryCodeSet]:
        """A new set of ``settings.count`` codes; it replaces any earlier set the caller kept."""
        subject = validate_subject(subject)
        count = self.settings.count
        codes = [generate() for _ in range(count)]
        digests = [self.keyring.digest(_PURPOSE, self._data(subject, code)) for code in codes]
        yield decision_step(
            _VERIFIER, "generate", subject, "issued", reason=Reason.APPROVED, client=None, count=str(count)
        )
        return RecoveryCodeSet(codes=codes, stored=",".join(digests))

    def redeem(self, subject: str, stored: str, code: str, *, client: str | None) -> Flow[Verdict]:
        """Spend ``code`` if it is in ``stored``. Raises :class:`InvalidInput` for a malformed
        code, stored set or client (nothing is spent)."""
        subject = validate_subject(subject)
        digests = _parse(stored)
        normalized = normalize(code)
        if client is not None:
            validate_client(client)
        settings = self.settings

        charge = yield from charge_client_flow(_VERIFIER, client, settings.client_limit)
        verdict = (
            charge.verdict()
            if charge.refused
            else (yield from self._check(subject, digests, normalized, charge))
        )
        details = {"remaining": verdict.details["remaining"]} if verdict.approved else {}
        yield decision_step(
            _VERIFIER, "redeem", subject, outcome(verdict), reason=verdict.reason, client=client, **details
        )
        return verdict

    def _check(self, subject: str, digests: list[str], code: str, charge: ClientCharge) -> Flow[Verdict]:
        lockout = self.settings.lockout
        tag = subject_tag(self.keyring, subject)
        charged = yield from charge_subject_flow(_VERIFIER, tag, lockout)
        if not charged.allowed:
            yield from refund_flow(charge)  # nothing was compared: not this client's guess
            return charged.locked(self._ways_in(subject))
        matched = self._match(subject, digests, code)
        if matched is None:
            return charged.wrong(Reason.WRONG_CODE, self._ways_in(subject))
        remaining = ",".join(d for d in digests if d != matched)
        _kid, _, digest_hex = matched.partition(":")
        used: WindowResult = yield store_op.hit(f"{{{tag}}}:recovery-used:{digest_hex}", _USED)
        if not used.allowed:
            # Spent elsewhere: the set the caller keeps drops it all the same.
            refused = charged.wrong(Reason.REPLAYED, self._ways_in(subject))
            return dataclasses.replace(refused, stored=remaining)
        yield from reset_subject_flow(_VERIFIER, tag)
        yield from refund_flow(charge)
        left = str(len(digests) - 1)
        return Verdict(True, Reason.APPROVED, stored=remaining, details={"remaining": left})

    def _match(self, subject: str, digests: list[str], code: str) -> str | None:
        """The stored digest of ``code``, if any."""
        data = self._data(subject, code)
        matched: str | None = None
        # Check every digest, without stopping early, each in constant time.
        for digest in digests:
            if self.keyring.verify_digest(_PURPOSE, data, digest) and matched is None:
                matched = digest
        return matched

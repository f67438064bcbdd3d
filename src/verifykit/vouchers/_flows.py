"""Redeeming a counter voucher: the rules, free of I/O.

:class:`VoucherFlows` decides and yields the store operations and audit records it needs;
:class:`verifykit.vouchers.Vouchers` and :class:`verifykit.aio.Vouchers` only run its flows.

A redemption, in order:

1. one event from the client's window (before any work);
2. the voucher checked against the officers and the store's clock (:func:`inspect_voucher`);
3. the one-time marker: one atomic hit on a window of one, keyed by the voucher's nonce and kept
   for longer than any acceptable voucher lives, so of any number of concurrent redemptions of
   one voucher exactly one gets through;
4. the audit record of the redemption, which must be written (``Emit(required=True)``): if it
   cannot be, the marker is given back and nothing is unlocked;
5. the subject's failure budget, and the lockouts of the verifiers the voucher names, cleared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from .._audit import AuditEvent
from .._charged import charge_client_flow, decision_record, decision_step, validate_client
from .._errors import AuditUnavailable, InvalidInput
from .._flow import Emit, Flow, store_op
from .._subject import subject_tag, unlock_keys, validate_subject
from .._verdict import Reason, Verdict, Way
from ..crypto import Keyring
from ..store import WindowPolicy, WindowResult
from ._check import Inspection, inspect_voucher, unlocked_ways
from ._officers import OfficerRegistry
from ._settings import VoucherSettings

__all__ = ["Redemption", "VoucherFlows", "marker_key"]

_VERIFIER = Way.COUNTER_VOUCHER


@dataclass(frozen=True, slots=True)
class Redemption:
    """The answer to a redemption: approved, or the reason why not (``same_officer``, ``replayed``...).

    ``unlocked`` are the ways whose lockouts were cleared; ``officers`` the key ids that signed
    (known only once the voucher could be read).
    """

    approved: bool
    reason: Reason
    unlocked: tuple[Way, ...] = ()
    officers: tuple[str, ...] = ()
    retry_after: float | None = None
    details: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.approved

    def verdict(self) -> Verdict:
        """The same answer as a :class:`~verifykit.Verdict`, for callers that handle every check alike."""
        if self.approved:
            return Verdict(True, Reason.APPROVED, details={"unlocked": ",".join(self.unlocked)})
        return Verdict(False, self.reason, retry_after=self.retry_after)


def marker_key(nonce_hex: str) -> str:
    """The store key of a voucher's redemption marker."""
    return f"voucher:{nonce_hex}"


class VoucherFlows:
    """Counter vouchers as flows that any driver can run."""

    def __init__(self, *, keyring: Keyring, settings: VoucherSettings | None) -> None:
        self.keyring = keyring
        self.settings = settings if settings is not None else VoucherSettings()

    def inspect(self, registry: OfficerRegistry, text: str, subject: str | None) -> Flow[Inspection]:
        """Check ``text`` with the store's clock; nothing is redeemed or recorded."""
        if subject is not None:
            subject = validate_subject(subject)
        now: float = yield store_op.now()
        return inspect_voucher(text, registry, self.settings, now=now, subject=subject)

    def redeem(
        self, registry: OfficerRegistry, subject: str, text: str, client: str | None
    ) -> Flow[Redemption]:
        """Redeem ``text`` for ``subject``: once, on the record, clearing the lockouts it names.

        A bad voucher is a refused :class:`Redemption`, never an exception. Raises
        :class:`InvalidInput` for a malformed subject or client or a non-string voucher, and
        :class:`~verifykit.AuditUnavailable` when the record of an approval cannot be written
        (nothing was redeemed: the voucher still works once the audit log does).
        """
        subject = validate_subject(subject)
        if not isinstance(text, str):
            raise InvalidInput("a voucher is base64url text", field="voucher")
        if client is not None:
            validate_client(client)

        charge = yield from charge_client_flow(_VERIFIER, client, self.settings.client_limit)
        if charge.refused:
            refused = Redemption(False, Reason.RATE_LIMITED, retry_after=charge.retry_after)
            yield self._record(subject, client, refused)
            return refused

        now: float = yield store_op.now()
        inspection = inspect_voucher(text, registry, self.settings, now=now, subject=subject)
        voucher = inspection.voucher
        officers = tuple(s.key_id for s in voucher.signatures) if voucher is not None else ()
        details = _voucher_details(inspection)
        if inspection.reason is not None or voucher is None:
            refused = Redemption(
                False, inspection.reason or Reason.MALFORMED, officers=officers, details=details
            )
            yield self._record(subject, client, refused)
            return refused

        key = marker_key(voucher.nonce_hex)
        policy = WindowPolicy(1, self.settings.marker_window)
        marker: WindowResult = yield store_op.hit(key, policy)
        if not marker.allowed:
            refused = Redemption(False, Reason.REPLAYED, officers=officers, details=details)
            yield self._record(subject, client, refused)
            return refused

        unlocked = unlocked_ways(voucher)
        approved = Redemption(True, Reason.APPROVED, unlocked, officers, details=details)
        try:
            yield Emit(self._event(subject, client, approved), required=True)
        except AuditUnavailable:
            yield store_op.refund(key, policy)
            raise
        tag = subject_tag(self.keyring, subject)
        for key in unlock_keys(tag, unlocked):  # the subject's one budget, and each named verifier's
            yield store_op.reset_failures(key)
        return approved

    def _event(self, subject: str, client: str | None, redemption: Redemption) -> AuditEvent:
        return decision_record(
            _VERIFIER,
            "redeem",
            subject,
            "approved" if redemption.approved else "refused",
            reason=redemption.reason,
            client=client,
            **_event_details(redemption),
        )

    def _record(self, subject: str, client: str | None, redemption: Redemption) -> Emit:
        reason = redemption.reason
        return decision_step(
            _VERIFIER,
            "redeem",
            subject,
            "refused",
            reason=reason,
            client=client,
            **_event_details(redemption),
        )


def _voucher_details(inspection: Inspection) -> dict[str, str]:
    """What the record says about the voucher: never the voucher itself (it is a bearer token
    until redeemed), only its nonce's SHA-256 (the issuing counter logs the same, so the two records
    meet without either holding a value to test guessed subjects against), reason, lifetime and
    what it names."""
    voucher = inspection.voucher
    if voucher is None:
        return {}
    return {
        "nonce_sha256": hashlib.sha256(voucher.nonce).hexdigest(),
        "voucher_reason": voucher.reason,
        "unlocks": ",".join(voucher.unlocks),
        "issued_at": str(voucher.issued_at),
        "expires_at": str(voucher.expires_at),
    }


def _event_details(redemption: Redemption) -> dict[str, str]:
    details = dict(redemption.details)
    if redemption.officers:
        details["officers"] = ",".join(redemption.officers)
    if redemption.unlocked:
        details["unlocked"] = ",".join(redemption.unlocked)
    return details

"""Email one-time codes, written once: the flows behind both :class:`verifykit.otp.EmailOTP` and
:class:`verifykit.aio.EmailOTP`.

Every method here is a flow (see :mod:`verifykit._flow`): it validates, decides, and yields the
store operations, deliveries and audit events it needs; the sync and async classes only run it.
Nothing here does I/O, so the two flavours cannot drift apart.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
import secrets
from typing import Any, NoReturn

from .._audit import AuditEvent, AuditSink
from .._charged import charge_client_flow, client_key, validate_client
from .._codes import generate_code, normalize_code
from .._errors import (
    ChallengeClosed,
    ChallengeNotFound,
    ConfigurationError,
    DeliveryError,
    InvalidInput,
    RateLimited,
    StoreUnavailable,
)
from .._flow import Emit, Flow, Send, store_op
from .._shell import require
from .._subject import budget_key, stable_tag, subject_tag, validate_subject
from .._verdict import Reason, Verdict, Way, WaysIn, counter_voucher_only, store_name
from ..crypto import Keyring
from ..delivery import SUPPORTED_LOCALES, canonical_mailbox, mask_email, normalize_email, prepare_otp_email
from ..store import (
    ChallengeBrief,
    ChallengeRecord,
    NewChallenge,
    Opened,
    ResendOutcome,
    WindowPolicy,
    WindowResult,
    resend_refusal,
)
from ._decide import Challenge, DeliveryStatus, challenge_view, verdict_for_attempt
from ._settings import OTPSettings

__all__ = ["KIND", "EmailOTPFlows", "OTPShell"]

KIND = "email_otp"
_VERIFIER = Way.EMAIL_CODE
_ID = re.compile(r"^([a-z2-7]{26})\.([A-Za-z0-9_-]{22,64})$")
_DIGEST_PURPOSE = "otp-code"
_SEAL_PURPOSE = "otp-destination"


def _parse_id(challenge_id: object) -> tuple[str, str]:
    if not isinstance(challenge_id, str):
        raise InvalidInput("challenge id must be a string", field="challenge_id")
    m = _ID.match(challenge_id)
    if m is None:
        raise InvalidInput("malformed challenge id", field="challenge_id")
    return challenge_id, m.group(1)


def _not_found() -> ChallengeNotFound:
    return ChallengeNotFound("no such challenge (it never existed or has been purged)")


def _refuse_resend(outcome: ResendOutcome, wait: float, record: ChallengeRecord) -> NoReturn:
    """The error for a resend the rule (:func:`~verifykit.store.resend_refusal`) refused."""
    if outcome is ResendOutcome.MISSING:
        raise _not_found()
    if outcome is ResendOutcome.MAX_SENDS:
        raise RateLimited(
            "this challenge has had all its sends; start a new one", retry_after=0, reason="max_sends"
        )
    if outcome is ResendOutcome.TOO_SOON:
        raise RateLimited(f"resend allowed in {wait:.0f} s", retry_after=wait, reason="resend_cooldown")
    status = "expired" if outcome is ResendOutcome.EXPIRED else record.status.value
    raise ChallengeClosed(f"challenge is {status}; start a new one", status=status)


def _start_refused(subject: str, reason: str, client: str | None) -> Emit:
    """The record of a start refused before any challenge existed: by a send limit (its name)
    or by the subject's lockout."""
    event = AuditEvent("limit", _VERIFIER, subject, "refused", reason=reason, client=client)
    return Emit(event)


class EmailOTPFlows:
    """The configuration of an email OTP verifier and its flows: ``start``, ``check``, ``resend``,
    ``cancel`` and ``status``, each a generator the drivers in :mod:`verifykit._flow` run."""

    def __init__(self, *, keyring: Keyring, settings: OTPSettings | None, ways_in: WaysIn | None) -> None:
        if not isinstance(keyring, Keyring):
            raise ConfigurationError(
                "EmailOTP needs a keyring (Keyring.from_string(...); Keyring.generate() only in tests)"
            )
        self.keyring = keyring
        self.settings = settings if settings is not None else OTPSettings()
        self.ways_in: WaysIn = ways_in if ways_in is not None else counter_voucher_only

    # -- helpers ---------------------------------------------------------------------------------

    def _digest(self, challenge_id: str, code: str) -> str:
        return self.keyring.digest(_DIGEST_PURPOSE, f"{challenge_id}\x00{code}".encode())

    def _view(self, record: ChallengeRecord) -> Flow[Challenge]:
        # Judged at the store's clock when the record was read: no round trip for the time.
        now = record.as_of if not math.isnan(record.as_of) else (yield store_op.now())
        return challenge_view(record, now, self.ways_in(record.subject), self.settings.max_sends)

    def _event(
        self,
        action: str,
        record: ChallengeRecord | ChallengeBrief,
        outcome: str,
        reason: str = "",
        client: str | None = None,
        **details: str,
    ) -> Emit:
        return Emit(
            AuditEvent(
                action=action,
                verifier=_VERIFIER,
                subject=record.subject,
                outcome=outcome,
                reason=reason,
                challenge_id=record.id,
                destination=record.destination,
                client=client,
                details=details,
            )
        )

    def _opened(self, action: str, record: ChallengeRecord, client: str | None) -> Emit:
        """The record of a code sent out (a start or a resend): with the challenge's expiry on the
        store's clock, so that the log alone tells a challenge that expired unanswered
        (``verifykit report``) whatever ``ttl`` the sidecar ran with."""
        return self._event(action, record, "pending", client=client, expires_at=f"{record.expires_at:.3f}")

    def _limits(self, *named: tuple[str | None, str]) -> list[tuple[str, WindowPolicy, str]]:
        """The send limits in force, in order: (key, policy, name) for each named setting that is set."""
        out: list[tuple[str, WindowPolicy, str]] = []
        for key, name in named:
            policy: WindowPolicy | None = getattr(self.settings, name)
            if key is not None and policy is not None:
                out.append((key, policy, name))
        return out

    def _limit(self, key: str, policy_name: str, client: str | None, subject: str) -> Flow[None]:
        policy = getattr(self.settings, policy_name)
        if policy is None:
            return
        result: WindowResult = yield store_op.hit(key, policy)
        if not result.allowed:
            yield from self._refused(policy_name, result, client, subject)

    def _refused(
        self, policy_name: str, result: WindowResult, client: str | None, subject: str
    ) -> Flow[NoReturn]:
        """A send limit refused: record it, and tell the caller when to try again."""
        yield _start_refused(subject, policy_name, client)
        raise RateLimited(
            f"too many requests ({policy_name.replace('_', ' ')}); retry in {result.retry_after:.0f} s",
            retry_after=result.retry_after,
            reason=policy_name,
        )

    def _deliver(
        self, record: ChallengeRecord, address: str, code: str, locale: str, client: str | None
    ) -> Flow[ChallengeRecord]:
        # This send is the record's newest; it was requested one ttl before its own expiry.
        requested = record.live[-1].expires_at - self.settings.ttl if record.live else record.created_at
        template = prepare_otp_email(
            sender=self.settings.sender,
            ttl_seconds=self.settings.ttl,
            locale=locale,
            service_name=self.settings.service_name,
        )
        message = template.render(
            to=address,
            code=code,
            send=record.sends,
            sends=record.sends,
            requested_at=dt.datetime.fromtimestamp(requested, self.settings.zone()),
        )
        try:
            yield Send(message)
        except DeliveryError as exc:
            reason = (("temporary: " if exc.temporary else "permanent: ") + exc.message)[:200]
            failed = yield store_op.set_delivery(record.id, DeliveryStatus.FAILED, reason)
            yield self._event("send", record, "failed", reason, client=client)
            return failed or record
        sent = yield store_op.set_delivery(record.id, DeliveryStatus.SENT)
        yield self._event("send", record, "sent", client=client)
        return sent or record

    def _destination_key(self, address: str) -> str:
        """The destination limit's key: one per mailbox, however its address is spelled."""
        mailbox = canonical_mailbox(address, self.settings.mailbox_rules)
        return f"dest:{store_name(_VERIFIER)}:{stable_tag(self.keyring, 'email', mailbox)}"

    def _record(self, challenge_id: str) -> Flow[ChallengeRecord]:
        record: ChallengeRecord | None = yield store_op.get(challenge_id)
        if record is None or record.kind != KIND:
            raise _not_found()
        return record

    # -- flows -----------------------------------------------------------------------------------

    def start(
        self, subject: str, email: str, *, locale: str | None = None, client: str | None = None
    ) -> Flow[Challenge]:
        subject = validate_subject(subject)
        address = normalize_email(email)
        destination_key = self._destination_key(address)  # refuses look-alike addresses before any I/O
        locale = locale or self.settings.default_locale
        if locale not in SUPPORTED_LOCALES:
            raise InvalidInput(f"locale must be one of {sorted(SUPPORTED_LOCALES)}", field="locale")
        if client is not None:
            validate_client(client)
        tag = subject_tag(self.keyring, subject)

        challenge_id = f"{tag}.{secrets.token_urlsafe(16)}"
        code = generate_code(self.settings.digits)
        sealed = self.keyring.seal(_SEAL_PURPOSE, address.encode(), aad=challenge_id.encode())
        new = NewChallenge(
            id=challenge_id,
            kind=KIND,
            subject=subject,
            secret=self._digest(challenge_id, code),
            ttl=self.settings.ttl,
            max_attempts=self.settings.max_attempts,
            resend_after=self.settings.resend_cooldown,
            destination=mask_email(address),
            delivery=DeliveryStatus.QUEUED,
            data={"to": base64.b64encode(sealed).decode("ascii"), "locale": locale},
        )
        # The subject's lockout, each send limit in turn and the new challenge: one atomic store
        # step (the same as reading the lockout, hitting each limit and creating, in that order).
        limits = self._limits(
            (client_key(_VERIFIER, client) if client is not None else None, "client_limit"),
            (f"subject:{store_name(_VERIFIER)}:{tag}", "subject_limit"),
            (destination_key, "destination_limit"),
        )
        opened: Opened = yield store_op.open(
            new,
            retention=self.settings.retention,
            lockout_key=budget_key(tag),
            limits=[(key, policy) for key, policy, _ in limits],
        )
        if opened.locked is not None:
            hard = opened.locked.hard_locked
            why = Reason.HARD_LOCKED if hard else Reason.LOCKED_OUT
            yield _start_refused(subject, why.value, client)
            raise RateLimited(
                "this subject is locked until another way in or a counter voucher clears it"
                if hard
                else "this subject is locked out after too many failed tries",
                retry_after=opened.locked.retry_after,
                reason=why,
            )
        if opened.limited is not None and opened.window is not None:
            yield from self._refused(limits[opened.limited][2], opened.window, client, subject)
        if opened.record is None:
            raise StoreUnavailable("the store neither opened the challenge nor named what refused it")
        record = opened.record
        yield self._opened("start", record, client)
        record = yield from self._deliver(record, address, code, locale, client)
        return (yield from self._view(record))

    def check(self, challenge_id: str, code: str, *, client: str | None = None) -> Flow[Verdict]:
        challenge_id, tag = _parse_id(challenge_id)
        normalized = normalize_code(code, self.settings.digits)
        if client is not None:
            validate_client(client)
        # Charged before the check, in one atomic hit: racing checks never pass the limit.
        charge = yield from charge_client_flow(_VERIFIER, client, self.settings.client_limit)
        if charge.refused:
            return charge.verdict(challenge_id=challenge_id)
        candidates = self.keyring.digests(_DIGEST_PURPOSE, f"{challenge_id}\x00{normalized}".encode())
        # The subject's one failure budget (every method's failures) is checked, charged and, on
        # approval, reset in the challenge's own atomic step: it shares the challenge's hash tag.
        outcome, record, failure = yield store_op.attempt(
            challenge_id, candidates, lockout_key=budget_key(tag), lockout=self.settings.lockout
        )
        if record is None or record.kind != KIND:
            raise _not_found()
        verdict = verdict_for_attempt(outcome, record, failure, others=self.ways_in(record.subject))
        outcome_name = "approved" if verdict.approved else "denied"
        started = {} if math.isnan(record.created_at) else {"started_at": f"{record.created_at:.3f}"}
        yield self._event("check", record, outcome_name, verdict.reason.value, client=client, **started)
        return verdict

    def resend(self, challenge_id: str, *, client: str | None = None) -> Flow[Challenge]:
        challenge_id, _tag = _parse_id(challenge_id)
        if client is not None:
            validate_client(client)
        record = yield from self._record(challenge_id)
        # The store applies this rule again atomically; asking it first keeps a refused resend
        # from spending the send limits below.
        refused = resend_refusal(record, (yield store_op.now()), self.settings.max_sends)
        if refused is not None:
            _refuse_resend(*refused, record)
        address = self.keyring.open(
            _SEAL_PURPOSE, base64.b64decode(record.data["to"]), aad=challenge_id.encode()
        ).decode()
        if client is not None:
            yield from self._limit(client_key(_VERIFIER, client), "client_limit", client, record.subject)
        yield from self._limit(self._destination_key(address), "destination_limit", client, record.subject)
        code = generate_code(self.settings.digits)
        outcome, updated, wait = yield store_op.resend(
            challenge_id,
            self._digest(challenge_id, code),
            ttl=self.settings.ttl,
            max_sends=self.settings.max_sends,
            cooldown=self.settings.resend_cooldown,
            cooldown_factor=self.settings.resend_factor,
            cooldown_max=self.settings.resend_cooldown_max,
            live_sends=self.settings.live_sends,
        )
        if updated is None:
            raise _not_found()
        if outcome is not ResendOutcome.OK:
            _refuse_resend(outcome, wait, updated)
        yield self._opened("resend", updated, client)
        locale = record.data.get("locale", self.settings.default_locale)
        updated = yield from self._deliver(updated, address, code, locale, client)
        return (yield from self._view(updated))

    def cancel(self, challenge_id: str) -> Flow[Challenge]:
        challenge_id, _tag = _parse_id(challenge_id)
        changed, record = yield store_op.cancel(challenge_id)
        if record is None or record.kind != KIND:
            raise _not_found()
        if changed:
            yield self._event("cancel", record, "canceled")
        return (yield from self._view(record))

    def status(self, challenge_id: str) -> Flow[Challenge]:
        challenge_id, _tag = _parse_id(challenge_id)
        record = yield from self._record(challenge_id)
        return (yield from self._view(record))


class OTPShell:
    """What both flavours of ``EmailOTP`` hold: the flows, the store, the mailer and the audit sink.

    ``store``, ``keyring`` and ``mailer`` are required: verifykit never picks a secret or a place
    to keep state behind its caller's back (``verifykit.testing`` offers ``MemoryStore``,
    ``Keyring.generate`` and ``Outbox`` for tests).
    """

    def __init__(
        self,
        *,
        store: Any,
        keyring: Keyring,
        mailer: Any,
        settings: OTPSettings | None,
        audit: AuditSink | None,
        ways_in: WaysIn | None,
    ) -> None:
        require("EmailOTP", store=store, keyring=keyring)
        if mailer is None:
            raise ConfigurationError("EmailOTP needs a mailer (verifykit.testing has one for tests)")
        self._flows = EmailOTPFlows(keyring=keyring, settings=settings, ways_in=ways_in)
        self.store = store
        self.mailer = mailer
        self.audit = audit

    @property
    def keyring(self) -> Keyring:
        return self._flows.keyring

    @property
    def settings(self) -> OTPSettings:
        return self._flows.settings

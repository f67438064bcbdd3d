"""Email one-time codes: start, check, resend, cancel, status."""

from __future__ import annotations

import base64
import re
import secrets

from .._audit import DEFAULT_AUDIT_SINK, AuditEvent, AuditSink, emit
from .._charged import charge_client, client_key
from .._errors import (
    ChallengeClosed,
    ChallengeNotFound,
    DeliveryError,
    InvalidInput,
    RateLimited,
)
from .._subject import lockout_key, stable_tag, subject_tag, validate_subject
from .._verdict import Verdict, WaysIn, assisted_check_only
from ..crypto import Keyring
from ..delivery import (
    SUPPORTED_LOCALES,
    Mailer,
    Outbox,
    canonical_mailbox,
    mask_email,
    normalize_email,
    render_otp_email,
)
from ..store import ChallengeRecord, ChallengeStatus, ChallengeStore, MemoryStore, NewChallenge, ResendOutcome
from ._codes import generate_code, normalize_code
from ._decide import Challenge, DeliveryStatus, challenge_view, verdict_for_attempt
from ._settings import OTPSettings

__all__ = ["EmailOTP"]

KIND = "email_otp"
_VERIFIER = "otp"
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


class EmailOTP:
    """One-time codes sent by email.

    Codes are stored only as HMAC-SHA256 digests bound to their challenge id, under a
    keyring key, and compared inside one atomic store step. A resend issues a *new* code
    and the old one stops working; it restarts the expiry but not the attempt budget.

    ``ways_in(subject)`` tells which other ways in a subject has (authenticator app,
    recovery codes, …); verdicts and challenges in trouble offer them. The default offers
    an assisted check at a counter, which every subject has.
    """

    def __init__(
        self,
        *,
        store: ChallengeStore | None = None,
        keyring: Keyring | None = None,
        mailer: Mailer | None = None,
        settings: OTPSettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        ways_in: WaysIn | None = None,
    ) -> None:
        self.store = store if store is not None else MemoryStore()
        self.keyring = keyring if keyring is not None else Keyring.generate()
        self.mailer: Mailer = mailer if mailer is not None else Outbox()
        self.settings = settings if settings is not None else OTPSettings()
        if self.settings.default_locale not in SUPPORTED_LOCALES:
            raise InvalidInput(f"default_locale must be one of {sorted(SUPPORTED_LOCALES)}", field="locale")
        self.audit = audit
        self._ways_in: WaysIn = ways_in if ways_in is not None else assisted_check_only

    # -- helpers ---------------------------------------------------------------------------------

    def _digest_inputs(self, challenge_id: str, code: str) -> bytes:
        return f"{challenge_id}\x00{code}".encode()

    def _view(self, record: ChallengeRecord) -> Challenge:
        return challenge_view(
            record, self.store.now(), self._ways_in(record.subject), self.settings.max_sends
        )

    def _event(
        self, action: str, record: ChallengeRecord, outcome: str, reason: str = "", **kw: str | None
    ) -> None:
        emit(
            self.audit,
            AuditEvent(
                action=action,
                verifier=_VERIFIER,
                subject=record.subject,
                outcome=outcome,
                reason=reason,
                challenge_id=record.id,
                destination=record.destination,
                client=kw.get("client"),
            ),
        )

    def _limit(self, key: str, policy_name: str, client: str | None, subject: str) -> None:
        policy = getattr(self.settings, policy_name)
        if policy is None:
            return
        result = self.store.hit(key, policy)
        if not result.allowed:
            emit(
                self.audit,
                AuditEvent(
                    action="limit",
                    verifier=_VERIFIER,
                    subject=subject,
                    outcome="refused",
                    reason=policy_name,
                    client=client,
                ),
            )
            raise RateLimited(
                f"too many requests ({policy_name.replace('_', ' ')}); retry in {result.retry_after:.0f} s",
                retry_after=result.retry_after,
                reason=policy_name,
            )

    def _deliver(
        self, record: ChallengeRecord, address: str, code: str, locale: str, client: str | None
    ) -> ChallengeRecord:
        message = render_otp_email(
            to=address,
            sender=self.settings.sender,
            code=code,
            ttl_seconds=self.settings.ttl,
            locale=locale,
            service_name=self.settings.service_name,
        )
        try:
            self.mailer.send(message)
        except DeliveryError as exc:
            reason = ("temporary: " if exc.temporary else "permanent: ") + exc.message
            updated = self.store.set_delivery(record.id, DeliveryStatus.FAILED, reason[:200])
            self._event("send", record, "failed", reason[:200], client=client)
            return updated or record
        updated = self.store.set_delivery(record.id, DeliveryStatus.SENT)
        self._event("send", record, "sent", client=client)
        return updated or record

    def _destination_key(self, address: str) -> str:
        """The destination limit's key: one per mailbox, however its address is spelled."""
        mailbox = canonical_mailbox(address, self.settings.mailbox_rules)
        return f"dest:{_VERIFIER}:{stable_tag(self.keyring, 'email', mailbox)}"

    def _record(self, challenge_id: str) -> ChallengeRecord:
        record = self.store.get(challenge_id)
        if record is None or record.kind != KIND:
            raise ChallengeNotFound("no such challenge (it never existed or has been purged)")
        return record

    # -- API -------------------------------------------------------------------------------------

    def start(
        self, subject: str, email: str, *, locale: str | None = None, client: str | None = None
    ) -> Challenge:
        """Send a code to ``email`` for ``subject`` and return the new challenge.

        A failed delivery does not raise: the challenge records it (``delivery == "failed"``)
        and offers other ways in, and :meth:`resend` works once the mail server is back.
        Raises :class:`InvalidInput` for a bad subject, address or locale (nothing is stored)
        and :class:`RateLimited` when a send limit refuses.
        """
        subject = validate_subject(subject)
        address = normalize_email(email)
        destination_key = self._destination_key(address)  # refuses look-alike addresses before any I/O
        locale = locale or self.settings.default_locale
        if locale not in SUPPORTED_LOCALES:
            raise InvalidInput(f"locale must be one of {sorted(SUPPORTED_LOCALES)}", field="locale")
        tag = subject_tag(self.keyring, subject)

        lock = self.store.failure_state(lockout_key(_VERIFIER, tag))
        if not lock.allowed:
            raise RateLimited(
                "this subject is locked out after too many failed codes",
                retry_after=lock.retry_after,
                reason="locked_out",
            )
        if client is not None:
            self._limit(client_key(_VERIFIER, client), "client_limit", client, subject)
        self._limit(f"subject:{_VERIFIER}:{tag}", "subject_limit", client, subject)
        self._limit(destination_key, "destination_limit", client, subject)

        challenge_id = f"{tag}.{secrets.token_urlsafe(16)}"
        code = generate_code(self.settings.digits)
        sealed = self.keyring.seal(_SEAL_PURPOSE, address.encode(), aad=challenge_id.encode())
        record = self.store.create(
            NewChallenge(
                id=challenge_id,
                kind=KIND,
                subject=subject,
                secret=self.keyring.digest(_DIGEST_PURPOSE, self._digest_inputs(challenge_id, code)),
                ttl=self.settings.ttl,
                max_attempts=self.settings.max_attempts,
                resend_after=self.settings.resend_cooldown,
                destination=mask_email(address),
                delivery=DeliveryStatus.QUEUED,
                data={"to": base64.b64encode(sealed).decode("ascii"), "locale": locale},
            ),
            retention=self.settings.retention,
        )
        self._event("start", record, "pending", client=client)
        record = self._deliver(record, address, code, locale, client)
        return self._view(record)

    def check(self, challenge_id: str, code: str, *, client: str | None = None) -> Verdict:
        """Check a code. One atomic store step: it spends an attempt, applies the per-subject
        lockout, and approves at most once, however many checks race."""
        challenge_id, tag = _parse_id(challenge_id)
        normalized = normalize_code(code, self.settings.digits)
        # Charged before the check, in one atomic hit: racing checks never pass the limit.
        client_charge = charge_client(self.store, _VERIFIER, client, self.settings.client_limit)
        if client_charge.refused:
            return client_charge.verdict(challenge_id=challenge_id)
        candidates = self.keyring.digests(_DIGEST_PURPOSE, self._digest_inputs(challenge_id, normalized))
        outcome, record, failure = self.store.attempt(
            challenge_id,
            candidates,
            lockout_key=lockout_key(_VERIFIER, tag),
            lockout=self.settings.lockout,
        )
        if record is None or record.kind != KIND:
            raise ChallengeNotFound("no such challenge (it never existed or has been purged)")
        verdict = verdict_for_attempt(outcome, record, failure, others=self._ways_in(record.subject))
        self._event(
            "check", record, "approved" if verdict.approved else "denied", verdict.reason.value, client=client
        )
        return verdict

    def resend(self, challenge_id: str, *, client: str | None = None) -> Challenge:
        """Send a new code (the old one stops working) once the cooldown has passed.

        Raises :class:`RateLimited` (with ``retry_after``) while cooling down, at the send
        limits, or at ``max_sends``; :class:`ChallengeClosed` if the challenge is finished.
        """
        challenge_id, _tag = _parse_id(challenge_id)
        record = self._record(challenge_id)
        now = self.store.now()
        if record.status is not ChallengeStatus.PENDING:
            raise ChallengeClosed(
                f"challenge is {record.status.value}; start a new one", status=record.status.value
            )
        if record.sends >= self.settings.max_sends:
            raise RateLimited(
                "this challenge has had all its sends; start a new one", retry_after=0, reason="max_sends"
            )
        if now < record.resend_at:
            raise RateLimited(
                f"resend allowed in {record.resend_at - now:.0f} s",
                retry_after=record.resend_at - now,
                reason="resend_cooldown",
            )
        address = self.keyring.open(
            _SEAL_PURPOSE, base64.b64decode(record.data["to"]), aad=challenge_id.encode()
        ).decode()
        if client is not None:
            self._limit(client_key(_VERIFIER, client), "client_limit", client, record.subject)
        self._limit(self._destination_key(address), "destination_limit", client, record.subject)
        code = generate_code(self.settings.digits)
        outcome, updated, wait = self.store.resend(
            challenge_id,
            self.keyring.digest(_DIGEST_PURPOSE, self._digest_inputs(challenge_id, code)),
            ttl=self.settings.ttl,
            max_sends=self.settings.max_sends,
            cooldown=self.settings.resend_cooldown,
            cooldown_factor=self.settings.resend_factor,
            cooldown_max=self.settings.resend_cooldown_max,
        )
        if outcome is ResendOutcome.MISSING or updated is None:
            raise ChallengeNotFound("no such challenge (it never existed or has been purged)")
        if outcome in (ResendOutcome.CLOSED, ResendOutcome.EXPIRED):
            raise ChallengeClosed(
                f"challenge is {updated.status.value}; start a new one", status=updated.status.value
            )
        if outcome is ResendOutcome.MAX_SENDS:
            raise RateLimited(
                "this challenge has had all its sends; start a new one", retry_after=0, reason="max_sends"
            )
        if outcome is ResendOutcome.TOO_SOON:
            raise RateLimited(f"resend allowed in {wait:.0f} s", retry_after=wait, reason="resend_cooldown")
        self._event("resend", updated, "pending", client=client)
        updated = self._deliver(
            updated, address, code, record.data.get("locale", self.settings.default_locale), client
        )
        return self._view(updated)

    def cancel(self, challenge_id: str) -> Challenge:
        """Close a pending challenge (idempotent: a closed one is returned as it is)."""
        challenge_id, _tag = _parse_id(challenge_id)
        changed, record = self.store.cancel(challenge_id)
        if record is None or record.kind != KIND:
            raise ChallengeNotFound("no such challenge (it never existed or has been purged)")
        if changed:
            self._event("cancel", record, "canceled")
        return self._view(record)

    def status(self, challenge_id: str) -> Challenge:
        """The challenge as it stands, including delivery status and fallbacks."""
        challenge_id, _tag = _parse_id(challenge_id)
        return self._view(self._record(challenge_id))

"""Passkeys (WebAuthn), written once: the flows behind :class:`verifykit.passkey.PasskeyVerifier`
and :class:`verifykit.passkey.AsyncPasskeyVerifier`.

Every method here is a flow (see :mod:`verifykit._flow`): it validates, decides, and yields the
store operations and audit events it needs; the two classes only run it.

The WebAuthn library is python-fido2 (Yubico), chosen over py_webauthn (Duo Labs) for what
installing each did here: py_webauthn pulls in pyOpenSSL, which caps ``cryptography`` below the
version this project runs (pip downgraded it), and ships its checks as functions that refuse with
an exception's message; fido2 depends on ``cryptography`` alone, is typed, and offers the parts
an I/O-free core needs (authenticator data, COSE keys, every attestation format) without holding
any state, so the ceremony's rules stay here and each refusal gets a reason of its own.

Challenges are the shared store's ordinary challenge records: one per ceremony, bound to the
subject (its id carries the subject's tag, its record the subject), to the relying party (its
``rp_id`` in the record) and to the ceremony (its kind), with one attempt, so the atomic
``attempt`` that checks a response's challenge also spends it: a second use of the same
challenge, on any server, is ``replayed``. The store keeps a keyed digest of the challenge,
never the challenge itself.
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

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
from .._errors import ConfigurationError, InvalidInput, RateLimited
from .._flow import Emit, Flow, store_op
from .._subject import stable_tag, subject_tag, validate_subject
from .._verdict import Reason, Verdict, Way, WaysIn, counter_voucher_only, store_name
from ..crypto import Keyring
from ..store import AttemptOutcome, ChallengeRecord, NewChallenge, WindowResult
from ._credential import PasskeyCredential, current, open_credential, open_credentials, seal_credential
from ._response import Assertion, b64url_encode, parse_assertion, parse_attestation
from ._settings import PasskeySettings

__all__ = ["AUTHENTICATION", "REGISTRATION", "PasskeyEnrollment", "PasskeyFlows", "PasskeyOptions"]

_WAY = Way.PASSKEY
REGISTRATION = "passkey_registration"
AUTHENTICATION = "passkey_authentication"
_CHALLENGE_PURPOSE = "passkey-challenge"
_USER_PURPOSE = "passkey-user"
_CHALLENGE_BYTES = 32
_MAX_LABEL = 256
_EXTRA_HINT = "passkeys need the passkey extra: pip install 'verifykit[passkey]'"
# A challenge id: the subject's tag (the store's cluster hash tag), a dot and 128 random bits.
_ID = re.compile(r"([a-z2-7]{26})\.[A-Za-z0-9_-]{22}")


@dataclass(frozen=True, slots=True)
class PasskeyOptions:
    """A ceremony begun: hand ``options_json`` to the browser (``PublicKeyCredential.
    parseCreationOptionsFromJSON`` or ``parseRequestOptionsFromJSON``) and keep ``challenge_id``
    with the session until the response comes back; it answers once, before ``expires_at``."""

    challenge_id: str
    options_json: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class PasskeyEnrollment:
    """What ``register`` answers.

    On approval keep ``stored`` with the subject's other passkeys (a string, like a password
    hash: nothing secret, but verifykit checks it was not changed); ``credential`` is the same,
    readable. First check that no account holds ``credential.credential_id`` already: only the
    caller can see every account (WebAuthn Level 3, section 7.1, step 26).
    """

    approved: bool
    reason: Reason
    details: Mapping[str, str] = field(default_factory=dict)
    stored: str | None = None
    credential: PasskeyCredential | None = None


def _label(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} must be a non-empty string", field=name)
    if len(value) > _MAX_LABEL or any(unicodedata.category(ch).startswith("C") for ch in value):
        raise InvalidInput(f"{name} must be at most {_MAX_LABEL} printable characters", field=name)
    return value


def _parse_id(challenge_id: object) -> tuple[str, str]:
    """The id and the subject tag it carries; :class:`InvalidInput` for anything else."""
    if not isinstance(challenge_id, str):
        raise InvalidInput("challenge id must be a string", field="challenge_id")
    match = _ID.fullmatch(challenge_id)
    if match is None:
        raise InvalidInput("malformed challenge id", field="challenge_id")
    return challenge_id, match.group(1)


def _options_key(client: str) -> str:
    """The client's window for starting ceremonies, apart from its window for failed checks."""
    return f"client:{store_name(_WAY)}-options:{validate_client(client)}"


def _challenge_input(challenge_id: str, challenge: bytes) -> bytes:
    return challenge_id.encode("ascii") + b"\x00" + challenge


def require_extra() -> None:
    """Fail now, naming the extra, rather than at the first ceremony."""
    try:
        import fido2.attestation  # noqa: F401 - imported for its presence
    except ModuleNotFoundError as exc:
        raise ConfigurationError(_EXTRA_HINT) from exc


# What a spent challenge's attempt says about the response that spent it.
_SPENT = {
    AttemptOutcome.EXPIRED: Reason.EXPIRED,
    AttemptOutcome.CLOSED: Reason.REPLAYED,  # answered already
    AttemptOutcome.EXHAUSTED: Reason.REPLAYED,  # the response signs another challenge: an old one
    AttemptOutcome.WRONG: Reason.REPLAYED,
    AttemptOutcome.MISSING: Reason.NOT_FOUND,
    AttemptOutcome.LOCKED: Reason.LOCKED_OUT,
}


class PasskeyFlows:
    """The rules of passkeys, each a flow that either driver runs.

    ``verify`` charges the client's window and one failure to the subject before anything is
    compared (the limits hold exactly under concurrency), spends the challenge, checks the
    response, and on approval resets the subject's failures; so a passkey's failures count in
    the subject's one failure budget, as every other way in's do.
    """

    def __init__(self, *, keyring: Keyring, settings: PasskeySettings, ways_in: WaysIn | None) -> None:
        if not isinstance(settings, PasskeySettings):
            raise ConfigurationError(
                "PasskeyVerifier needs settings: PasskeySettings(rp_id=..., rp_name=..., origins=(...))"
            )
        require_extra()
        self.keyring = keyring
        self.settings = settings
        self._roots = settings.roots()
        self._ways_in: WaysIn = ways_in if ways_in is not None else counter_voucher_only

    # -- helpers ---------------------------------------------------------------------------------

    def _user_handle(self, subject: str) -> bytes:
        """The WebAuthn user id: a keyed tag, so that no account id reaches an authenticator."""
        return stable_tag(self.keyring, _USER_PURPOSE, subject).encode("ascii")

    def _digests(self, challenge_id: str, challenge: bytes) -> list[str]:
        """The challenge's digest under every key, so a rotation mid-ceremony still matches."""
        return self.keyring.digests(_CHALLENGE_PURPOSE, _challenge_input(challenge_id, challenge))

    def _limit_options(self, client: str | None, subject: str) -> Flow[None]:
        policy = self.settings.options_limit
        if client is None or policy is None:
            return
        result: WindowResult = yield store_op.hit(_options_key(client), policy)
        if not result.allowed:
            yield decision_step(
                _WAY, "options", subject, "refused", reason=Reason.RATE_LIMITED, client=client
            )
            raise RateLimited(
                f"too many passkey ceremonies from this client; retry in {result.retry_after:.0f} s",
                retry_after=result.retry_after,
                reason="options_limit",
            )

    def _begin(self, subject: str, kind: str, client: str | None) -> Flow[tuple[str, bytes, float]]:
        """A new challenge on the store: its id, its bytes and when it expires."""
        yield from self._limit_options(client, subject)
        tag = subject_tag(self.keyring, subject)
        challenge_id = f"{tag}.{secrets.token_urlsafe(16)}"
        challenge = secrets.token_bytes(_CHALLENGE_BYTES)
        settings = self.settings
        new = NewChallenge(
            id=challenge_id,
            kind=kind,
            subject=subject,
            secret=self.keyring.digest(_CHALLENGE_PURPOSE, _challenge_input(challenge_id, challenge)),
            ttl=settings.challenge_ttl,
            max_attempts=1,
            resend_after=settings.challenge_ttl,
            destination=settings.rp_id,
            delivery="none",
            data={"rp_id": settings.rp_id},
        )
        record: ChallengeRecord = yield store_op.create(new, retention=settings.retention)
        return challenge_id, challenge, record.expires_at

    def _spend(
        self, subject: str, tag: str, challenge_id: str, kind: str, challenge: bytes
    ) -> Flow[Reason | None]:
        """Spend the challenge the response signed; ``None`` when it was this ceremony's, pending
        and the one issued. A challenge of another subject, relying party or ceremony (or another
        verifier's, such as an email code's) is ``not_found`` and is left untouched."""
        if tag != subject_tag(self.keyring, subject):
            return Reason.NOT_FOUND
        record: ChallengeRecord | None = yield store_op.get(challenge_id)
        if (
            record is None
            or record.kind != kind
            or record.subject != subject
            or record.data.get("rp_id") != self.settings.rp_id
        ):
            return Reason.NOT_FOUND
        spent, _record, _state = yield store_op.attempt(challenge_id, self._digests(challenge_id, challenge))
        return None if spent is AttemptOutcome.APPROVED else _SPENT[spent]

    # -- registration ------------------------------------------------------------------------------

    def registration_options(
        self,
        subject: str,
        *,
        user_name: str,
        display_name: str,
        exclude: Sequence[str],
        client: str | None,
    ) -> Flow[PasskeyOptions]:
        subject = validate_subject(subject)
        user_name = _label(user_name, "user_name")
        display_name = _label(display_name, "display_name")
        excluded = open_credentials(self.keyring, subject, exclude, "exclude")
        if client is not None:
            validate_client(client)
        settings = self.settings
        challenge_id, challenge, expires_at = yield from self._begin(subject, REGISTRATION, client)
        options: dict[str, Any] = {
            "rp": {"id": settings.rp_id, "name": settings.rp_name},
            "user": {
                "id": b64url_encode(self._user_handle(subject)),
                "name": user_name,
                "displayName": display_name,
            },
            "challenge": b64url_encode(challenge),
            "pubKeyCredParams": [{"type": "public-key", "alg": alg} for alg in settings.algorithms],
            "timeout": int(settings.timeout * 1000),
            "excludeCredentials": [_descriptor(c) for c in excluded],
            "authenticatorSelection": {
                "residentKey": "preferred",
                "requireResidentKey": False,
                "userVerification": settings.user_verification,
            },
            "attestation": settings.attestation,
        }
        return PasskeyOptions(challenge_id, json.dumps(options, separators=(",", ":")), expires_at)

    def register(
        self, subject: str, challenge_id: str, response_json: str, *, client: str | None
    ) -> Flow[PasskeyEnrollment]:
        """Check a registration response. Raises :class:`InvalidInput` for one that is not a
        WebAuthn response at all (nothing is spent); every other refusal is an enrolment with a
        reason."""
        from ._ceremony import check_registration

        subject = validate_subject(subject)
        challenge_id, tag = _parse_id(challenge_id)
        response = parse_attestation(response_json)
        if client is not None:
            validate_client(client)
        refused = yield from self._spend(
            subject, tag, challenge_id, REGISTRATION, response.client_data.challenge
        )
        if refused is not None:
            enrollment = PasskeyEnrollment(False, refused)
        else:
            now: float = yield store_op.now()
            checked = check_registration(response, self.settings, now=now, roots=self._roots)
            stored = (
                None
                if checked.credential is None
                else seal_credential(self.keyring, subject, checked.credential)
            )
            enrollment = PasskeyEnrollment(
                checked.approved, checked.reason, dict(checked.details), stored, checked.credential
            )
        yield decision_step(
            _WAY,
            "enroll",
            subject,
            "enrolled" if enrollment.approved else "denied",
            reason=enrollment.reason,
            client=client,
            **enrollment.details,
        )
        return enrollment

    # -- authentication ----------------------------------------------------------------------------

    def authentication_options(
        self, subject: str, *, credentials: Sequence[str], client: str | None
    ) -> Flow[PasskeyOptions]:
        subject = validate_subject(subject)
        allowed = open_credentials(self.keyring, subject, credentials, "credentials")
        if client is not None:
            validate_client(client)
        challenge_id, challenge, expires_at = yield from self._begin(subject, AUTHENTICATION, client)
        options = {
            "challenge": b64url_encode(challenge),
            "timeout": int(self.settings.timeout * 1000),
            "rpId": self.settings.rp_id,
            "allowCredentials": [_descriptor(c) for c in allowed],
            "userVerification": self.settings.user_verification,
        }
        return PasskeyOptions(challenge_id, json.dumps(options, separators=(",", ":")), expires_at)

    def verify(
        self,
        subject: str,
        challenge_id: str,
        response_json: str,
        *,
        credentials: Sequence[str],
        client: str | None,
    ) -> Flow[Verdict]:
        """Check an authentication response against the subject's stored passkeys.

        Raises :class:`InvalidInput` for a response that is not a WebAuthn response at all, or a
        malformed argument, and :class:`~verifykit.TemplateError` for a stored passkey that is not
        this subject's or was changed; nothing is spent then.
        """
        subject = validate_subject(subject)
        challenge_id, tag = _parse_id(challenge_id)
        response = parse_assertion(response_json)
        known = list(
            zip(open_credentials(self.keyring, subject, credentials, "credentials"), credentials, strict=True)
        )
        if client is not None:
            validate_client(client)

        charge = yield from charge_client_flow(_WAY, client, self.settings.client_limit)
        if charge.refused:
            verdict = charge.verdict(challenge_id=challenge_id)
        else:
            verdict = yield from self._check(
                subject, tag, challenge_id, response=response, known=known, charge=charge
            )
        record = decision_step(
            _WAY,
            "verify",
            subject,
            outcome(verdict),
            reason=verdict.reason,
            client=client,
            **verdict.details,
        )
        # A cloned authenticator is the one refusal an operator must act on: its record must be
        # written, or the caller hears of it (AuditUnavailable) instead of a plain refusal.
        yield Emit(record.event, required=verdict.reason is Reason.CLONED_AUTHENTICATOR)
        return verdict

    def _check(
        self,
        subject: str,
        tag: str,
        challenge_id: str,
        *,
        response: Assertion,
        known: list[tuple[PasskeyCredential, str]],
        charge: ClientCharge,
    ) -> Flow[Verdict]:
        from ._ceremony import check_assertion

        charged = yield from charge_subject_flow(_WAY, tag, self.settings.lockout)
        if not charged.allowed:
            yield from refund_flow(charge)  # nothing was compared: not this client's failure
            return charged.locked(self._ways_in(subject))
        refused = yield from self._spend(
            subject, tag, challenge_id, AUTHENTICATION, response.client_data.challenge
        )
        if refused is not None:
            return charged.wrong(refused, self._ways_in(subject))
        credentials = [credential for credential, _stored in known]
        checked = check_assertion(
            response, credentials, self.settings, user_handle=self._user_handle(subject)
        )
        used = checked.credential
        if not checked.approved or used is None:  # an approval always carries the credential
            wrong = charged.wrong(checked.reason, self._ways_in(subject))
            return replace(wrong, details={**wrong.details, **checked.details})
        yield from reset_subject_flow(_WAY, tag)
        yield from refund_flow(charge)
        was, sealed = next((c, text) for c, text in known if c.credential_id == used.credential_id)
        fresh = used != was or not current(self.keyring, sealed)
        stored = seal_credential(self.keyring, subject, used) if fresh else None
        return Verdict(True, Reason.APPROVED, stored=stored, details=dict(checked.details))

    # -- reading stored credentials --------------------------------------------------------------

    def credential(self, subject: str, stored: str) -> PasskeyCredential:
        """A stored passkey read back (no store call): the facts a ladder needs."""
        return open_credential(self.keyring, validate_subject(subject), stored)


def _descriptor(credential: PasskeyCredential) -> dict[str, Any]:
    descriptor: dict[str, Any] = {"type": "public-key", "id": credential.id}
    if credential.transports:
        descriptor["transports"] = list(credential.transports)
    return descriptor

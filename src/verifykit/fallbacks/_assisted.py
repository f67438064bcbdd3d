"""The assisted check: a person at a counter looks at a document and decides, on the record."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from .._audit import DEFAULT_AUDIT_SINK, AuditEvent, AuditSink, emit
from .._errors import ConfigurationError, InvalidInput
from .._subject import lockout_key, subject_tag, validate_subject
from .._verdict import Reason, Verdict
from ..crypto import Keyring
from ..store import ChallengeStore, MemoryStore

__all__ = ["DEFAULT_UNLOCKS", "AssistedCheck"]

_VERIFIER = "assisted"
DEFAULT_UNLOCKS = ("otp", "password", "face", "totp", "recovery")
_TOKEN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_HINT = re.compile(r"^[A-Za-z0-9]{0,4}$")
_MAX_OPERATOR = 128
_MAX_NOTE = 500


def _text(value: object, name: str, limit: int, *, required: bool) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string", field=name)
    if required and not value.strip():
        raise InvalidInput(f"{name} must not be empty", field=name)
    if len(value) > limit:
        raise InvalidInput(f"{name} is longer than {limit} characters", field=name)
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise InvalidInput(f"{name} must not contain control characters", field=name)
    return value


class AssistedCheck:
    """The last rung of the ladder, which every subject has: an operator checks an identity
    document in person and records the decision.

    Every decision is an audit event naming the operator, the kind of evidence and a masked
    document hint (at most 4 characters, e.g. the last 4 digits: never the full number). An
    approval clears the subject's lockouts for the verifiers in ``unlocks``; it is the
    documented way back in for a subject hard-locked at the NIST cap. With
    ``require_second_operator=True`` an approval needs a second, different operator
    (four eyes).
    """

    def __init__(
        self,
        *,
        store: ChallengeStore | None = None,
        keyring: Keyring | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        unlocks: Sequence[str] = DEFAULT_UNLOCKS,
        require_second_operator: bool = False,
    ) -> None:
        if isinstance(unlocks, str) or not all(isinstance(v, str) and _TOKEN.match(v) for v in unlocks):
            raise ConfigurationError("unlocks is a list of verifier names such as 'otp' or 'password'")
        self.store = store if store is not None else MemoryStore()
        self.keyring = keyring if keyring is not None else Keyring.generate()
        self.audit = audit
        self.unlocks = tuple(unlocks)
        self.require_second_operator = require_second_operator

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
        """Record an operator's decision; on approval clear the subject's lockouts.

        ``evidence`` names the kind of document (``passport``, ``national_id``, …). Raises
        :class:`InvalidInput` for any malformed field, a document hint longer than 4 letters
        or digits, or a missing or repeated second operator where one is required; nothing
        changes then.
        """
        subject = validate_subject(subject)
        operator = _text(operator, "operator", _MAX_OPERATOR, required=True)
        if not isinstance(evidence, str) or not _TOKEN.match(evidence):
            raise InvalidInput("evidence is a short lowercase name such as 'passport'", field="evidence")
        if not isinstance(document_ref_hint, str) or not _HINT.match(document_ref_hint):
            raise InvalidInput(
                "document_ref_hint is at most 4 letters or digits (masked)", field="document_ref_hint"
            )
        note = _text(note, "note", _MAX_NOTE, required=False)
        if not isinstance(approved, bool):
            raise InvalidInput("approved must be True or False", field="approved")
        if second_operator is not None:
            second_operator = _text(second_operator, "second_operator", _MAX_OPERATOR, required=True)
            if second_operator == operator:
                raise InvalidInput("the second operator must be another person", field="second_operator")
        elif approved and self.require_second_operator:
            raise InvalidInput("an approval needs a second operator", field="second_operator")

        unlocked: tuple[str, ...] = ()
        if approved:
            tag = subject_tag(self.keyring, subject)
            for verifier in self.unlocks:
                self.store.reset_failures(lockout_key(verifier, tag))
            unlocked = self.unlocks
        reason = Reason.APPROVED if approved else Reason.DENIED
        details = {"operator": operator, "evidence": evidence}
        if document_ref_hint:
            details["document_ref_hint"] = document_ref_hint
        if second_operator is not None:
            details["second_operator"] = second_operator
        if note:
            details["note"] = note
        if unlocked:
            details["unlocked"] = ",".join(unlocked)
        emit(
            self.audit,
            AuditEvent(
                action="record",
                verifier=_VERIFIER,
                subject=subject,
                outcome=reason.value,
                reason=reason.value,
                client=client,
                details=details,
            ),
        )
        return Verdict(approved, reason, details={"unlocked": ",".join(unlocked)} if unlocked else {})

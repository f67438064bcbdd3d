"""The assisted check, a person at a counter looks at a document and decides, on the record:
the rules, free of I/O.

:class:`AssistedFlows` decides and yields the store operations and audit events it needs;
``verifykit.fallbacks.AssistedCheck`` and ``verifykit.aio.AssistedCheck`` only run its flows.
"""

from __future__ import annotations

import re
import unicodedata

from .._charged import charge_client_flow, decision_step, validate_client
from .._errors import InvalidInput
from .._flow import Flow, store_op
from .._subject import lockout_key, subject_tag, validate_subject
from .._verdict import Reason, Verdict, VerifierId
from ..crypto import Keyring
from ._outcome import outcome
from ._settings import AssistedSettings

__all__ = ["AssistedFlows"]

_VERIFIER = VerifierId.ASSISTED
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


class AssistedFlows:
    """The last rung of the ladder, which every subject has: an operator checks an identity
    document in person and records the decision; the rules as a flow that any driver can run.

    Every decision is an audit event naming the operator, the kind of evidence and a masked
    document hint (at most 4 characters, e.g. the last 4 digits: never the full number). An
    approval clears the subject's lockouts for the verifiers in ``settings.unlocks``; it is the
    documented way back in for a subject hard-locked at the NIST cap. With
    ``settings.require_second_operator`` an approval needs a second, different operator
    (four eyes).
    """

    def __init__(self, *, keyring: Keyring, settings: AssistedSettings | None) -> None:
        self.keyring = keyring
        self.settings = settings if settings is not None else AssistedSettings()

    def record(  # noqa: PLR0917 - the public record() is keyword-only; its shells pass these in order
        self,
        subject: str,
        operator: str,
        evidence: str,
        approved: bool,
        document_ref_hint: str,
        note: str,
        second_operator: str | None,
        client: str | None,
    ) -> Flow[Verdict]:
        """Record an operator's decision; on approval clear the subject's lockouts.

        Raises :class:`InvalidInput` for any malformed field, a document hint longer than 4
        letters or digits, or a missing or repeated second operator where one is required;
        nothing changes then.
        """
        subject = validate_subject(subject)
        if not isinstance(approved, bool):
            raise InvalidInput("approved must be True or False", field="approved")
        details = _details(
            operator=operator,
            evidence=evidence,
            document_ref_hint=document_ref_hint,
            note=note,
            second_operator=second_operator,
        )
        if "second_operator" not in details and approved and self.settings.require_second_operator:
            raise InvalidInput("an approval needs a second operator", field="second_operator")
        if client is not None:
            validate_client(client)

        charge = yield from charge_client_flow(_VERIFIER, client, self.settings.client_limit)
        if charge.refused:
            verdict = charge.verdict()
        elif approved:
            tag = subject_tag(self.keyring, subject)
            for verifier in self.settings.unlocks:
                yield store_op.reset_failures(lockout_key(verifier, tag))
            unlocked = ",".join(self.settings.unlocks)
            details["unlocked"] = unlocked
            verdict = Verdict(True, Reason.APPROVED, details={"unlocked": unlocked})
        else:
            verdict = Verdict(False, Reason.DENIED)
        yield decision_step(
            _VERIFIER, "record", subject, outcome(verdict), reason=verdict.reason, client=client, **details
        )
        return verdict


def _details(
    *, operator: str, evidence: str, document_ref_hint: str, note: str, second_operator: str | None
) -> dict[str, str]:
    """The decision's fields for the audit record, each checked; :class:`InvalidInput` names a bad one."""
    details = {"operator": _text(operator, "operator", _MAX_OPERATOR, required=True)}
    if not isinstance(evidence, str) or not _TOKEN.match(evidence):
        raise InvalidInput("evidence is a short lowercase name such as 'passport'", field="evidence")
    details["evidence"] = evidence
    if not isinstance(document_ref_hint, str) or not _HINT.match(document_ref_hint):
        raise InvalidInput(
            "document_ref_hint is at most 4 letters or digits (masked)", field="document_ref_hint"
        )
    if document_ref_hint:
        details["document_ref_hint"] = document_ref_hint
    if second_operator is not None:
        second_operator = _text(second_operator, "second_operator", _MAX_OPERATOR, required=True)
        if second_operator == operator:
            raise InvalidInput("the second operator must be another person", field="second_operator")
        details["second_operator"] = second_operator
    note = _text(note, "note", _MAX_NOTE, required=False)
    if note:
        details["note"] = note
    return details

"""Every password decision leaves an audit event, and no event carries a password or a hash."""

from __future__ import annotations

import pytest
from password_support import GOOD, MakeVerifier

from verifykit import AuditEvent
from verifykit.password import HashParameters, PolicyViolation


@pytest.fixture
def store_url() -> str:
    # Audit events do not depend on the backend.
    return "memory://"


def test_a_verify_emits_its_outcome_and_reason(make_verifier: MakeVerifier, events: list[AuditEvent]) -> None:
    pv = make_verifier()
    stored = pv.hash(GOOD)
    pv.verify("ana", stored, GOOD, client="192.0.2.1")
    pv.verify("ana", stored, "wrong password")
    verifies = [e for e in events if e.action == "verify"]
    assert [(e.outcome, e.reason) for e in verifies] == [
        ("approved", "approved"),
        ("denied", "wrong_password"),
    ]
    assert verifies[0].verifier == "password" and verifies[0].client == "192.0.2.1"


def test_a_policy_refusal_emits_the_rule(make_verifier: MakeVerifier, events: list[AuditEvent]) -> None:
    with pytest.raises(PolicyViolation):
        make_verifier().hash("iloveyou2", subject="ana")
    assert [(e.action, e.outcome, e.reason) for e in events] == [("set", "refused", "breached")]


def test_no_event_carries_a_password_or_a_hash(make_verifier: MakeVerifier, events: list[AuditEvent]) -> None:
    pv = make_verifier()
    stored = pv.hash(GOOD, subject="ana")
    pv.verify("ana", stored, GOOD)
    pv.verify("ana", stored, "a wrong guess here")
    pv.verify("ghost", None, "another wrong guess")
    with pytest.raises(PolicyViolation):
        pv.hash("iloveyou2")
    text = "\n".join(e.to_json() for e in events)
    for secret in (
        GOOD,
        "a wrong guess here",
        "another wrong guess",
        "iloveyou2",
        stored,
        stored.split("$")[-1],
    ):
        assert secret not in text


def test_an_upgrade_is_noted_in_the_event(make_verifier: MakeVerifier, events: list[AuditEvent]) -> None:
    old = make_verifier(audit=None).hash(GOOD)
    make_verifier(preset=HashParameters(1, 128, 1)).verify("ana", old, GOOD)
    assert events[-1].details == {"scheme": "argon2id", "upgraded": "true"}

"""Passwords over the sidecar: policy, hash, verify, transparent upgrade, and the policy error."""

from __future__ import annotations

import logging

import grpc
import pytest
from sidecars import Running, Serve

from verifykit import Reason
from verifykit._wire import password_pb2, password_pb2_grpc
from verifykit.password import PasswordSettings, PasswordVerifier, PolicyViolation
from verifykit.testing import Keyring, MemoryStore

PASSWORD = "correct horse battery staple"


@pytest.fixture
def running(serve: Serve) -> Running:
    return serve(password_preset="cheap_tests_only")


def test_the_policy_check_names_the_rule_a_weak_password_breaks(running: Running) -> None:
    result = running.client.password.check_policy("qwertyuiop", subject="applicant-1")
    assert (result.approved, result.reason) == (False, Reason.BREACHED)
    assert result.message and "qwertyuiop" not in result.message  # never echoed
    assert running.client.password.check_policy(PASSWORD, subject="applicant-1").approved


def test_a_context_word_in_the_password_is_refused(running: Running) -> None:
    result = running.client.password.check_policy(
        "ana.putri-2024!", subject="applicant-1", context=["ana.putri"]
    )
    assert (result.approved, result.reason) == (False, Reason.CONTEXT)


def test_hash_then_verify_approves_the_right_password_only(running: Running) -> None:
    password = running.client.password
    stored = password.hash(PASSWORD, subject="applicant-1")
    assert stored.startswith("$argon2id$")
    right = password.verify("applicant-1", stored, PASSWORD)
    assert (right.approved, right.reason, right.stored) == (True, Reason.APPROVED, None)
    wrong = password.verify("applicant-1", stored, PASSWORD + "!")
    assert (wrong.approved, wrong.reason) == (False, Reason.WRONG_PASSWORD)


def test_an_unknown_account_is_a_wrong_password_verdict(running: Running) -> None:
    verdict = running.client.password.verify("nobody", None, PASSWORD)
    assert (verdict.approved, verdict.reason) == (False, Reason.WRONG_PASSWORD)


def test_hashing_a_weak_password_raises_the_policy_violation_with_its_rule(running: Running) -> None:
    with pytest.raises(PolicyViolation) as caught:
        running.client.password.hash("12345678", subject="applicant-1")
    assert caught.value.reason in {Reason.BREACHED, Reason.SEQUENTIAL}
    assert isinstance(caught.value.reason, Reason)  # rebuilt from the trailer as the library's Reason
    assert "12345678" not in caught.value.message


def test_the_policy_violation_is_invalid_argument_on_the_wire(running: Running) -> None:
    stub = password_pb2_grpc.PasswordServiceStub(running.client.channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.HashPassword(password_pb2.HashPasswordRequest(password="aaaaaaaaaa"), timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_a_hash_with_weaker_parameters_is_upgraded_on_a_successful_verify(serve: Serve) -> None:
    running = serve(password_preset="owasp_minimum")
    old = PasswordVerifier(
        store=MemoryStore(),
        keyring=Keyring.generate(),
        settings=PasswordSettings(preset="cheap_tests_only"),
        audit=None,
    ).hash(PASSWORD)
    verdict = running.client.password.verify("applicant-1", old, PASSWORD)
    assert verdict.approved
    assert verdict.stored is not None
    assert "m=19456,t=2,p=1" in verdict.stored
    again = running.client.password.verify("applicant-1", verdict.stored, PASSWORD)
    assert (again.approved, again.stored) == (True, None)


def test_passwords_and_hashes_never_reach_the_access_log(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    running = serve(password_preset="cheap_tests_only", access_log=True)
    with caplog.at_level(logging.INFO, logger="verifykit.access"):
        stored = running.client.password.hash(PASSWORD, subject="applicant-1")
        running.client.password.verify("applicant-1", stored, PASSWORD)
        running.client.password.check_policy("qwertyuiop")
    lines = [r.getMessage() for r in caplog.records if r.name == "verifykit.access"]
    assert len(lines) == 3
    for line in lines:
        assert PASSWORD not in line and stored not in line and "qwertyuiop" not in line
        assert "applicant-1" not in line

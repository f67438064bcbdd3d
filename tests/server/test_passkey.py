"""Passkeys over the sidecar: registration and sign-in with a software authenticator answer what the
library answers; a refusal is a verdict with its own reason; malformed input is INVALID_ARGUMENT and
spends nothing; the service is absent without a relying party; and one signed assertion sent to two
sidecar processes on one Redis at once is approved exactly once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from sidecars import Running, Serve, ServeProcess

from passkey.authenticator import ORIGIN, RP_ID, SoftAuthenticator, TestCA
from verifykit import (
    AuditUnavailable,
    ConfigurationError,
    InvalidInput,
    Keyring,
    RateLimited,
    Reason,
    TemplateError,
    Verdict,
)
from verifykit._audit import AuditEvent
from verifykit._wire import passkey_pb2, passkey_pb2_grpc
from verifykit.aio import AsyncMemoryStore
from verifykit.client import AsyncClient, Client, SidecarError
from verifykit.passkey import PasskeyCredential, assurance
from verifykit.server import Components, ServerConfig, create_server
from verifykit.store import MemoryStore

PASSKEYS: dict[str, Any] = {"passkey_rp_id": RP_ID, "passkey_origins": f"{ORIGIN},https://login.example.com"}
SUBJECT = "applicant-1"


@pytest.fixture
def passkeys(serve: Serve) -> Running:
    """A sidecar serving passkeys for example.com."""
    return serve(**PASSKEYS)


def register(client: Client, authenticator: SoftAuthenticator, subject: str = SUBJECT, **create: Any) -> str:
    """Register ``authenticator``'s passkey for ``subject``; returns what the caller stores."""
    options = client.passkey.registration_options(subject, user_name="ana@example.com", display_name="Ana")
    enrollment = client.passkey.register(
        subject, options.challenge_id, authenticator.create(options.options_json, **create)
    )
    assert enrollment.approved and enrollment.stored is not None, enrollment
    return enrollment.stored


def sign_in(
    client: Client, authenticator: SoftAuthenticator, stored: str, subject: str = SUBJECT, **get: Any
) -> Verdict:
    """One whole sign-in through the sidecar; ``get`` tunes what the authenticator answers."""
    options = client.passkey.authentication_options(subject, credentials=[stored])
    response = authenticator.get(options.options_json, **get)
    return client.passkey.verify(subject, options.challenge_id, response, credentials=[stored])


# -- the ceremonies --------------------------------------------------------------------------------


def test_register_then_sign_in_and_keep_the_updated_credential(passkeys: Running) -> None:
    client, device = passkeys.client, SoftAuthenticator()
    options = client.passkey.registration_options(SUBJECT, user_name="ana@example.com", display_name="Ana")
    assert options.expires_at > time.time()
    enrollment = client.passkey.register(SUBJECT, options.challenge_id, device.create(options.options_json))
    assert (enrollment.approved, enrollment.reason) == (True, Reason.APPROVED)
    credential = enrollment.credential
    assert isinstance(credential, PasskeyCredential) and enrollment.stored is not None
    assert (credential.credential_id, credential.sign_count, credential.attestation_format) == (
        device.credential_id,
        1,
        "none",
    )
    assert enrollment.details["credential_id"] == credential.id
    assert client.passkey.credential(SUBJECT, enrollment.stored) == credential  # read back, unchanged

    stored = enrollment.stored
    for expected_count in (2, 3):
        verdict = sign_in(client, device, stored)
        assert (verdict.approved, verdict.reason) == (True, Reason.APPROVED), verdict
        assert verdict.details["credential_id"] == credential.id
        assert isinstance(verdict.stored, str) and verdict.stored != stored  # the new counter
        stored = verdict.stored
        assert client.passkey.credential(SUBJECT, stored).sign_count == expected_count


def test_the_same_assertion_twice_is_replayed(passkeys: Running) -> None:
    client, device = passkeys.client, SoftAuthenticator()
    stored = register(client, device)
    options = client.passkey.authentication_options(SUBJECT, credentials=[stored])
    response = device.get(options.options_json)
    first = client.passkey.verify(SUBJECT, options.challenge_id, response, credentials=[stored])
    again = client.passkey.verify(SUBJECT, options.challenge_id, response, credentials=[stored])
    assert first.approved
    assert (again.approved, again.reason, again.stored) == (False, Reason.REPLAYED, None)


def test_the_async_client_has_the_same_methods_and_results(passkeys: Running) -> None:
    device = SoftAuthenticator()

    async def ceremonies() -> tuple[bool, Verdict, int]:
        async with AsyncClient(passkeys.target, timeout=30) as client:
            options = await client.passkey.registration_options(
                SUBJECT, user_name="ana@example.com", display_name="Ana"
            )
            enrollment = await client.passkey.register(
                SUBJECT, options.challenge_id, device.create(options.options_json)
            )
            assert enrollment.stored is not None
            request = await client.passkey.authentication_options(SUBJECT, credentials=[enrollment.stored])
            verdict = await client.passkey.verify(
                SUBJECT,
                request.challenge_id,
                device.get(request.options_json),
                credentials=[enrollment.stored],
            )
            assert isinstance(verdict.stored, str)
            described = await client.passkey.credential(SUBJECT, verdict.stored)
            return enrollment.approved, verdict, described.sign_count

    registered, verdict, sign_count = asyncio.run(ceremonies())
    assert (registered, verdict.approved, sign_count) == (True, True, 2)


# -- refusals: verdicts with their own reason ----------------------------------------------------------


@pytest.mark.parametrize(
    ("get", "reason"),
    [
        ({"origin": "https://evil.example"}, Reason.WRONG_ORIGIN),
        ({"rp_id": "evil.example"}, Reason.WRONG_RP_ID),
        ({"uv": False}, Reason.USER_NOT_VERIFIED),
        ({"sign_count": 1}, Reason.CLONED_AUTHENTICATOR),  # a clone whose counter lags behind
        ({"flip_signature": True}, Reason.BAD_SIGNATURE),
    ],
    ids=["wrong_origin", "wrong_rp_id", "user_not_verified", "cloned_authenticator", "bad_signature"],
)
def test_a_refused_sign_in_is_a_verdict_with_its_reason(
    passkeys: Running, get: dict[str, Any], reason: Reason
) -> None:
    client, device = passkeys.client, SoftAuthenticator()
    stored = register(client, device)
    verdict = sign_in(client, device, stored, **get)
    assert (verdict.approved, verdict.reason, verdict.stored) == (False, reason, None)
    assert verdict.budget_left == 9  # one failure charged to the subject
    assert verdict.details["credential_id"] == client.passkey.credential(SUBJECT, stored).id


def test_a_passkey_the_caller_did_not_store_is_an_unknown_credential(passkeys: Running) -> None:
    client = passkeys.client
    stored = register(client, SoftAuthenticator())
    stranger = SoftAuthenticator()  # holds a passkey of its own, never registered here
    verdict = sign_in(client, stranger, stored)
    assert (verdict.approved, verdict.reason) == (False, Reason.UNKNOWN_CREDENTIAL)


def test_a_refused_registration_carries_its_reason_and_nothing_to_store(passkeys: Running) -> None:
    client = passkeys.client
    options = client.passkey.registration_options(SUBJECT, user_name="ana@example.com", display_name="Ana")
    response = SoftAuthenticator().create(options.options_json, origin="https://evil.example")
    enrollment = client.passkey.register(SUBJECT, options.challenge_id, response)
    assert (enrollment.approved, enrollment.reason) == (False, Reason.WRONG_ORIGIN)
    assert (enrollment.stored, enrollment.credential) == (None, None)


def test_a_second_allowed_origin_is_accepted(passkeys: Running) -> None:
    client, device = passkeys.client, SoftAuthenticator()
    stored = register(client, device, origin="https://login.example.com")
    assert sign_in(client, device, stored, origin="https://login.example.com").approved


# -- errors: statuses ---------------------------------------------------------------------------------


def test_a_malformed_response_is_invalid_argument_and_spends_nothing(passkeys: Running) -> None:
    client, device = passkeys.client, SoftAuthenticator()
    stored = register(client, device)
    options = client.passkey.authentication_options(SUBJECT, credentials=[stored])
    for junk in ("{not json", '{"type": "public-key"}', "[]"):
        with pytest.raises(InvalidInput):
            client.passkey.verify(SUBJECT, options.challenge_id, junk, credentials=[stored])
    stub = passkey_pb2_grpc.PasskeyServiceStub(client.channel)
    request = passkey_pb2.VerifyPasskeyRequest(
        subject=SUBJECT, challenge_id=options.challenge_id, response_json="{not json", credentials=[stored]
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.VerifyPasskey(request, timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    # Nothing was spent or charged: the real response still answers, first time.
    verdict = client.passkey.verify(
        SUBJECT, options.challenge_id, device.get(options.options_json), credentials=[stored]
    )
    assert verdict.approved, verdict


def test_malformed_arguments_are_invalid_argument(passkeys: Running) -> None:
    client = passkeys.client
    with pytest.raises(InvalidInput):
        client.passkey.registration_options("", user_name="ana@example.com", display_name="Ana")
    with pytest.raises(InvalidInput):
        client.passkey.registration_options(SUBJECT, user_name="", display_name="Ana")
    with pytest.raises(InvalidInput):
        client.passkey.register(SUBJECT, "not-a-challenge-id", "{}")
    with pytest.raises(InvalidInput):
        client.passkey.authentication_options(SUBJECT, credentials=["not a stored passkey"])
    with pytest.raises(InvalidInput):
        client.passkey.credential(SUBJECT, "pk1.junk")


def test_another_subjects_stored_passkey_is_invalid_argument(passkeys: Running) -> None:
    client, device = passkeys.client, SoftAuthenticator()
    stored = register(client, device)
    with pytest.raises(TemplateError):
        client.passkey.credential("applicant-2", stored)
    with pytest.raises(TemplateError):
        client.passkey.authentication_options("applicant-2", credentials=[stored])
    stub = passkey_pb2_grpc.PasskeyServiceStub(client.channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.DescribePasskey(
            passkey_pb2.DescribePasskeyRequest(subject="applicant-2", stored=stored), timeout=10
        )
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_too_many_ceremonies_from_one_client_are_resource_exhausted(passkeys: Running) -> None:
    client = passkeys.client
    for _ in range(60):  # the default: 60 ceremonies per client address per 10 minutes
        client.passkey.authentication_options(SUBJECT, client="203.0.113.9")
    with pytest.raises(RateLimited) as refused:
        client.passkey.authentication_options(SUBJECT, client="203.0.113.9")
    assert refused.value.retry_after > 0
    stub = passkey_pb2_grpc.PasskeyServiceStub(client.channel)
    request = passkey_pb2.BeginPasskeySignInRequest(subject=SUBJECT, client_address="203.0.113.9")
    with pytest.raises(grpc.RpcError) as caught:
        stub.BeginPasskeySignIn(request, timeout=10)
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert any(key == "retry-after" for key, _ in caught.value.trailing_metadata())
    client.passkey.authentication_options(SUBJECT, client="198.51.100.7")  # another client is not limited


@contextmanager
def audited(sink: Callable[[AuditEvent], None]) -> Iterator[Client]:
    """A passkey sidecar whose audit events go to ``sink``, and a client of it."""
    sidecar, port = create_server(
        ServerConfig(listen="127.0.0.1:0", access_log=False, grace=0.5, **PASSKEYS),
        Components(store=AsyncMemoryStore(MemoryStore()), keyring=Keyring.generate(), audit=sink),
    )
    sidecar.start()
    try:
        with Client(f"127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        sidecar.stop(0)


def test_a_cloned_authenticator_fails_closed_when_its_audit_record_cannot_be_written() -> None:
    def broken(event: AuditEvent) -> None:
        if event.reason == Reason.CLONED_AUTHENTICATOR.value:
            raise OSError("disk full")

    with audited(broken) as client:
        device = SoftAuthenticator()
        stored = register(client, device)
        with pytest.raises(AuditUnavailable):
            sign_in(client, device, stored, sign_count=1)


def test_every_decision_is_audited_as_a_passkey_decision() -> None:
    events: list[AuditEvent] = []
    with audited(events.append) as client:
        device = SoftAuthenticator()
        stored = register(client, device)
        assert sign_in(client, device, stored).approved
        assert not sign_in(client, device, stored, origin="https://evil.example").approved
    decided = [
        (e.verifier, e.action, e.outcome, e.reason) for e in events if e.action in {"enroll", "verify"}
    ]
    assert decided == [
        ("passkey", "enroll", "enrolled", "approved"),
        ("passkey", "verify", "approved", "approved"),
        ("passkey", "verify", "denied", "wrong_origin"),
    ]


# -- configuration ---------------------------------------------------------------------------------------


def test_without_a_relying_party_the_service_is_not_served(sidecar: Running) -> None:
    with pytest.raises(SidecarError) as refused:
        sidecar.client.passkey.authentication_options(SUBJECT)
    assert refused.value.status == "UNIMPLEMENTED"
    services = set(ProtoReflectionDescriptorDatabase(sidecar.client.channel).get_services())
    assert "verifykit.v1.PasskeyService" not in services


def test_with_a_relying_party_reflection_lists_the_service(passkeys: Running) -> None:
    services = set(ProtoReflectionDescriptorDatabase(passkeys.client.channel).get_services())
    assert "verifykit.v1.PasskeyService" in services


def test_serve_help_says_passkeys_need_a_relying_party() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFYKIT_")}
    done = subprocess.run(
        [sys.executable, "-m", "verifykit", "serve", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    text = " ".join(done.stdout.split())
    for flag in ("--passkey-rp-id", "--passkey-rp-name", "--passkey-origins", "--passkey-attestation-roots"):
        assert flag in text
    assert "every PasskeyService call is UNIMPLEMENTED" in text


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"passkey_origins": ORIGIN}, "passkey_origins needs passkey_rp_id"),
        ({"passkey_rp_id": "https://example.com"}, "rp_id is a lowercase domain"),
        ({"passkey_rp_id": RP_ID, "passkey_origins": "http://example.com"}, "must use https"),
        ({"passkey_rp_id": RP_ID, "passkey_origins": "https://example.org"}, "not example.com or below"),
    ],
)
def test_a_relying_party_that_cannot_work_stops_the_start(settings: dict[str, str], complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        ServerConfig(listen="127.0.0.1:0", **settings)


_WITHOUT_THE_EXTRA = """
import sys
sys.modules["fido2"] = None  # as if the passkey extra were not installed
from verifykit import Keyring
from verifykit.delivery import Outbox
from verifykit.server import Components, ServerConfig, create_server
config = ServerConfig(listen="127.0.0.1:0", audit_log=False, access_log=False, passkey_rp_id="example.com")
sidecar, port = create_server(config, Components(mailer=Outbox(), keyring=Keyring.generate()))
print(sorted(sidecar.services))
sidecar.stop(0)
"""


def test_without_the_passkey_extra_the_sidecar_serves_the_rest_and_says_why() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_THE_EXTRA], capture_output=True, text=True, timeout=120, check=True
    )
    assert "verifykit.v1.PasskeyService" not in done.stdout
    assert "verifykit.v1.TotpService" in done.stdout
    assert "passkeys are off" in done.stderr and "verifykit[passkey]" in done.stderr


def test_the_origin_defaults_to_https_on_the_rp_id(serve: Serve) -> None:
    running = serve(passkey_rp_id=RP_ID)
    device = SoftAuthenticator()
    stored = register(running.client, device)  # from https://example.com
    assert sign_in(running.client, device, stored).approved


def test_trusted_attestation_roots_lift_a_device_bound_key_to_aal3(serve: Serve, tmp_path: Path) -> None:
    vendor, stranger = TestCA("Vendor Root"), TestCA("Someone Else")
    roots = tmp_path / "roots.pem"
    roots.write_bytes(vendor.pem)
    running = serve(**PASSKEYS, passkey_attestation_roots=str(roots))
    options = running.client.passkey.registration_options(SUBJECT, user_name="ana", display_name="Ana")
    assert '"attestation":"direct"' in options.options_json
    stub = passkey_pb2_grpc.PasskeyServiceStub(running.client.channel)
    for ca, trusted, level in ((vendor, True, 3), (stranger, False, 2)):
        stored = register(running.client, SoftAuthenticator(attestation="packed", ca=ca))
        credential = running.client.passkey.credential(SUBJECT, stored)
        assert (credential.trusted_attestation, assurance(credential)) == (trusted, level)
        described = stub.DescribePasskey(passkey_pb2.DescribePasskeyRequest(subject=SUBJECT, stored=stored))
        assert described.credential.assurance_level == level


def test_an_attestation_root_file_that_cannot_be_read_stops_the_start(serve: Serve, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigurationError, match="holds no PEM certificate"):
        serve(**PASSKEYS, passkey_attestation_roots=str(junk))
    with pytest.raises(ConfigurationError, match="cannot read passkey_attestation_roots"):
        serve(**PASSKEYS, passkey_attestation_roots=str(tmp_path / "missing.pem"))


# -- two sidecars, one Redis ---------------------------------------------------------------------------


def test_one_assertion_sent_to_two_sidecar_processes_at_once_is_approved_exactly_once(
    serve_process: ServeProcess, tmp_path: Path
) -> None:
    env = {
        "VERIFYKIT_STORE": "redis://127.0.0.1:6379/0",
        "VERIFYKIT_NAMESPACE": f"passkey-race-{time.time_ns()}",
        "VERIFYKIT_KEYS": Keyring.new_keyring_string("race"),
        "VERIFYKIT_ACCESS_LOG": "false",
        "VERIFYKIT_PASSKEY_RP_ID": RP_ID,
        "VERIFYKIT_PASSKEY_ORIGINS": ORIGIN,
    }
    sidecars = [serve_process("--mailer", f"file:{tmp_path / 'mail'}", "--insecure-dev-mailer", env=env)
                for _ in range(2)]  # fmt: skip
    clients = [Client(p.target, timeout=30) for p in sidecars]
    try:
        for client in clients:
            client.wait_ready(30)
        for round_ in range(5):
            subject = f"applicant-{round_}"
            device = SoftAuthenticator()
            stored = register(clients[0], device, subject)
            options = clients[1].passkey.authentication_options(subject, credentials=[stored])
            response = device.get(options.options_json)  # one signed assertion, sent twice
            barrier = threading.Barrier(2)
            verdicts: list[Verdict | None] = [None, None]

            def submit(
                i: int,
                subject: str = subject,
                challenge_id: str = options.challenge_id,
                response: str = response,
                stored: str = stored,
            ) -> None:
                barrier.wait(timeout=30)
                verdicts[i] = clients[i].passkey.verify(subject, challenge_id, response, credentials=[stored])

            threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert all(v is not None for v in verdicts), "a sidecar did not answer"
            reasons = sorted(v.reason.value for v in verdicts if v is not None)
            assert reasons == ["approved", "replayed"], reasons
            approved = next(v for v in verdicts if v is not None and v.approved)
            assert isinstance(approved.stored, str)  # the winner hands back the new counter
    finally:
        for client in clients:
            client.close()

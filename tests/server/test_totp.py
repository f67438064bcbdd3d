"""Authenticator-app codes over the sidecar: enrol, confirm, verify and remove answer what the
library answers; codes from an independent implementation (oathtool) verify at the window edges;
RFC 6238's test vectors pass; a code is approved once even when two sidecars race for it."""

from __future__ import annotations

import base64
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import grpc
import pyotp
import pytest
from sidecars import Running, Serve, ServeProcess

from verifykit import AuditUnavailable, InvalidInput, Keyring, Reason, TemplateError
from verifykit._audit import AuditEvent
from verifykit._wire import totp_pb2, totp_pb2_grpc
from verifykit.aio import AsyncMemoryStore
from verifykit.client import Client
from verifykit.fallbacks import TOTPSettings
from verifykit.fallbacks._totp import _SEAL_PURPOSE
from verifykit.server import Components, ServerConfig, create_server
from verifykit.store import MemoryStore
from verifykit.testing import FakeClock

START = 1_700_000_010.0  # 10 s into a 30-second step


def at(clock_or_time: float) -> str:
    return datetime.fromtimestamp(clock_or_time, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@pytest.fixture(scope="module")
def oathtool() -> Callable[..., str]:
    found = shutil.which("oathtool")
    if found is None:
        pytest.skip("oathtool is not installed (scripts/services.sh installs it: apt-get install oathtool)")

    def code(secret: str, when: float, *, digits: int = 6, algorithm: str = "sha1") -> str:
        result = subprocess.run(
            [found, f"--totp={algorithm}", "-d", str(digits), "-b", secret, "--now", at(when)],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        return result.stdout.strip()

    return code


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def timed(serve: Serve, clock: FakeClock) -> Running:
    """A sidecar whose store's clock (the one TOTP judges time by) moves only when told."""
    return serve(store=AsyncMemoryStore(MemoryStore(clock=clock)))


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def test_enroll_returns_a_sealed_secret_and_a_provisioning_uri(timed: Running) -> None:
    enrollment = timed.client.totp.enroll("applicant-1", "ana@example.com")
    uri = urlsplit(enrollment.provisioning_uri)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert parse_qs(uri.query)["secret"] == [enrollment.secret_base32]
    assert enrollment.secret_base32.encode() not in enrollment.stored  # sealed, not plain


def test_confirm_approves_the_first_code_and_refuses_a_wrong_one(timed: Running, clock: FakeClock) -> None:
    totp = timed.client.totp
    enrollment = totp.enroll("applicant-1", "ana@example.com")
    code = pyotp.TOTP(enrollment.secret_base32).at(clock.now())
    refused = totp.confirm("applicant-1", enrollment.stored, wrong(code))
    assert (refused.approved, refused.reason, refused.budget_left) == (False, Reason.WRONG_CODE, 9)
    assert totp.confirm("applicant-1", enrollment.stored, code).approved


def test_a_code_verifies_once_and_its_replay_is_refused(timed: Running, clock: FakeClock) -> None:
    totp = timed.client.totp
    enrollment = totp.enroll("applicant-1", "ana@example.com")
    code = pyotp.TOTP(enrollment.secret_base32).at(clock.now())
    assert totp.verify("applicant-1", enrollment.stored, code).approved
    again = totp.verify("applicant-1", enrollment.stored, code)
    assert (again.approved, again.reason) == (False, Reason.REPLAYED)


def test_another_subjects_secret_is_invalid_argument(timed: Running) -> None:
    totp = timed.client.totp
    enrollment = totp.enroll("applicant-1", "ana@example.com")
    with pytest.raises(TemplateError):
        totp.verify("applicant-2", enrollment.stored, "123456")
    with pytest.raises(TemplateError):
        totp.remove("applicant-2", enrollment.stored)


def test_a_malformed_code_is_invalid_argument_and_spends_nothing(timed: Running, clock: FakeClock) -> None:
    totp = timed.client.totp
    enrollment = totp.enroll("applicant-1", "ana@example.com")
    with pytest.raises(InvalidInput):
        totp.verify("applicant-1", enrollment.stored, "12ab56")
    code = pyotp.TOTP(enrollment.secret_base32).at(clock.now())
    refused = totp.verify("applicant-1", enrollment.stored, wrong(code))
    assert refused.budget_left == 9  # the malformed try was not counted


@contextmanager
def audited(sink: Callable[[AuditEvent], None], clock: FakeClock) -> Iterator[Client]:
    """A sidecar whose audit events go to ``sink``, and a client of it."""
    sidecar, port = create_server(
        ServerConfig(listen="127.0.0.1:0", access_log=False, grace=0.5),
        Components(store=AsyncMemoryStore(MemoryStore(clock=clock)), keyring=Keyring.generate(), audit=sink),
    )
    sidecar.start()
    try:
        with Client(f"127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        sidecar.stop(0)


def test_remove_is_recorded_and_keeps_the_subjects_lockout(clock: FakeClock) -> None:
    events: list[AuditEvent] = []
    with audited(events.append, clock) as client:
        totp = client.totp
        first = totp.enroll("applicant-1", "ana@example.com")
        code = pyotp.TOTP(first.secret_base32).at(clock.now())
        assert totp.verify("applicant-1", first.stored, wrong(code)).budget_left == 9
        totp.remove("applicant-1", first.stored)
        second = totp.enroll("applicant-1", "ana@example.com")
        fresh = pyotp.TOTP(second.secret_base32).at(clock.now())
        # The budget is the subject's: a new secret does not give a guesser new tries.
        assert totp.verify("applicant-1", second.stored, wrong(fresh)).budget_left == 8
    removals = [e for e in events if (e.verifier, e.action) == ("authenticator_app", "remove")]
    assert [e.outcome for e in removals] == ["removed"]


def test_remove_fails_closed_when_the_audit_record_cannot_be_written(clock: FakeClock) -> None:
    def broken(event: AuditEvent) -> None:
        if event.action == "remove":
            raise OSError("disk full")

    with audited(broken, clock) as client:
        enrollment = client.totp.enroll("applicant-1", "ana@example.com")
        with pytest.raises(AuditUnavailable):
            client.totp.remove("applicant-1", enrollment.stored)


def test_rpc_statuses_on_the_wire(timed: Running) -> None:
    stub = totp_pb2_grpc.TotpServiceStub(timed.client.channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.VerifyTotp(totp_pb2.VerifyTotpRequest(subject="a", stored=b"junk", code="123456"), timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as caught:
        stub.EnrollTotp(totp_pb2.EnrollTotpRequest(subject="", account_name="x"), timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


# -- oathtool, an independent implementation -------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "approved"),
    [
        (-30, True),  # the first second of the previous step
        (-31, False),  # the last second of the step before it
        (59, True),  # the last second of the next step
        (60, False),  # the first second of the step after it
        (0, True),  # the first second of the current step
        (29, True),  # its last second
    ],
)
def test_oathtool_codes_verify_exactly_within_the_window(
    timed: Running, clock: FakeClock, oathtool: Callable[..., str], offset: int, approved: bool
) -> None:
    boundary = 1_700_000_010.0 - 1_700_000_010.0 % 30  # the start of the current step
    clock.set(boundary)
    enrollment = timed.client.totp.enroll("applicant-1", "ana@example.com")
    code = oathtool(enrollment.secret_base32, boundary + offset)
    verdict = timed.client.totp.verify("applicant-1", enrollment.stored, code)
    assert verdict.approved is approved, (offset, verdict)


def test_oathtool_codes_follow_the_clock_across_a_step_boundary(
    timed: Running, clock: FakeClock, oathtool: Callable[..., str]
) -> None:
    boundary = 1_700_000_010.0 - 1_700_000_010.0 % 30 + 30
    enrollment = timed.client.totp.enroll("applicant-1", "ana@example.com")
    ahead = oathtool(enrollment.secret_base32, boundary + 30)  # two steps after the last second below
    clock.set(boundary - 1)
    assert timed.client.totp.verify("applicant-1", enrollment.stored, ahead).reason is Reason.WRONG_CODE
    clock.set(boundary)
    assert timed.client.totp.verify("applicant-1", enrollment.stored, ahead).approved


# -- RFC 6238, appendix B --------------------------------------------------------------------------

_SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
_VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
def test_the_rfc_6238_test_vectors_verify_through_the_sidecar(
    serve: Serve, clock: FakeClock, algorithm: str
) -> None:
    running = serve(
        store=AsyncMemoryStore(MemoryStore(clock=clock)),
        totp_settings=TOTPSettings(digits=8, algorithm=algorithm),
    )
    secret = base64.b32encode(_SEEDS[algorithm]).decode()
    column = ["sha1", "sha256", "sha512"].index(algorithm) + 1
    for n, vector in enumerate(_VECTORS):
        subject = f"rfc-{n}"
        stored = running.keyring.seal(_SEAL_PURPOSE, secret.encode(), aad=subject.encode())
        clock.set(float(vector[0]))
        verdict = running.client.totp.verify(subject, stored, str(vector[column]))
        assert verdict.approved, (algorithm, vector[0], verdict)


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
def test_oathtool_agrees_with_the_rfc_6238_test_vectors(oathtool: Callable[..., str], algorithm: str) -> None:
    secret = base64.b32encode(_SEEDS[algorithm]).decode()
    column = ["sha1", "sha256", "sha512"].index(algorithm) + 1
    for vector in _VECTORS[:5]:  # oathtool's --now stops at 2038 on some builds
        assert oathtool(secret, vector[0], digits=8, algorithm=algorithm) == vector[column]


# -- two sidecars, one Redis -----------------------------------------------------------------------


def test_a_code_sent_to_two_sidecar_processes_at_once_is_approved_exactly_once(
    serve_process: ServeProcess, oathtool: Callable[..., str], tmp_path: Path
) -> None:
    keys = Keyring.new_keyring_string("race")
    env = {
        "VERIFYKIT_STORE": "redis://127.0.0.1:6379/0",
        "VERIFYKIT_NAMESPACE": f"totp-race-{time.time_ns()}",
        "VERIFYKIT_KEYS": keys,
        "VERIFYKIT_ACCESS_LOG": "false",
    }
    sidecars = [serve_process("--mailer", f"file:{tmp_path / 'mail'}", "--insecure-dev-mailer", env=env)
                for _ in range(2)]  # fmt: skip
    clients = [Client(p.target, timeout=30) for p in sidecars]
    try:
        for client in clients:
            client.wait_ready(30)
        for round_ in range(5):
            subject = f"applicant-{round_}"
            enrollment = clients[0].totp.enroll(subject, "ana@example.com")
            # The code of the current step; the window accepts it for at least 30 s more.
            code = oathtool(enrollment.secret_base32, time.time())
            barrier = threading.Barrier(2)
            verdicts: list[object] = [None, None]

            def submit(
                i: int, subject: str = subject, stored: bytes = enrollment.stored, code: str = code
            ) -> None:
                barrier.wait(timeout=30)
                verdicts[i] = clients[i].totp.verify(subject, stored, code)

            threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            reasons = sorted(v.reason.value for v in verdicts)  # type: ignore[attr-defined]
            assert reasons == ["approved", "replayed"], reasons
    finally:
        for client in clients:
            client.close()

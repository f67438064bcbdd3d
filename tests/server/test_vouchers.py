"""Counter vouchers over the sidecar, from both Python clients: an officer's voucher clears a hard
lock once; a replayed, altered or misdirected one is refused with its reason; inspecting never
redeems; without an officer registry the service is not served at all."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from sidecars import Running, Serve

from verifykit import ConfigurationError, Reason, Way
from verifykit.auditlog import load_public_key as load_audit_public_key
from verifykit.auditlog import verify_log, write_key_pair
from verifykit.client import AsyncClient, SidecarError
from verifykit.server import ServerConfig
from verifykit.vouchers import (
    OfficerRegistry,
    RegistryFile,
    SignatureStatus,
    decode_voucher,
    generate_officer_key,
    issue_voucher,
    key_id,
    private_key_pem,
)
from verifykit.vouchers._format import encode_voucher

SUBJECT = "applicant-7"
VOUCHER_SERVICE = "verifykit.v1.VoucherService"


@dataclass
class Counter:
    """A sidecar with an officer registry, an audit log and hard locks after two failures."""

    running: Running
    officer: Any
    officer_id: str
    key_file: Path
    audit_file: Path
    audit_public: Path

    def voucher(self, subject: str = SUBJECT, unlocks: tuple[str, ...] = ("authenticator_app",)) -> str:
        return issue_voucher(self.officer, subject=subject, reason="lost_phone", unlocks=list(unlocks))


@pytest.fixture
def counter(serve: Serve, tmp_path: Path) -> Counter:
    officer = generate_officer_key()
    registry = tmp_path / "officers.json"
    RegistryFile(registry).save(OfficerRegistry.empty().add(officer.public_key(), "Officer Ana"))
    key_file = tmp_path / "officer.key"
    key_file.write_bytes(private_key_pem(officer))
    key_file.chmod(0o600)
    audit_file, audit_key, audit_public = (
        tmp_path / "audit.log",
        tmp_path / "audit.key",
        tmp_path / "audit.pub",
    )
    write_key_pair(audit_key, audit_public)
    running = serve(
        officers_file=registry, audit_file=audit_file, audit_key_file=audit_key, lockout_hard_cap=2
    )
    return Counter(running, officer, key_id(officer.public_key()), key_file, audit_file, audit_public)


@pytest.fixture(params=["sync", "async"])
def vouchers(request: pytest.FixtureRequest, counter: Counter) -> Callable[..., Any]:
    """``vouchers("redeem", …)``: the call through the blocking client or the asyncio one."""
    if request.param == "sync":
        return lambda method, *args, **kwargs: getattr(counter.running.client.vouchers, method)(
            *args, **kwargs
        )

    def call(method: str, *args: Any, **kwargs: Any) -> Any:
        async def work() -> Any:
            async with AsyncClient(counter.running.target, timeout=30) as client:
                return await getattr(client.vouchers, method)(*args, **kwargs)

        return asyncio.run(work())

    return call


def _hard_lock(running: Running) -> tuple[bytes, pyotp.TOTP]:
    """Enrol an authenticator for SUBJECT, then get two codes wrong: a hard lock."""
    enrollment = running.client.totp.enroll(SUBJECT, "ana@example.com")
    app = pyotp.TOTP(enrollment.secret_base32)
    for _ in range(2):
        wrong = f"{(int(app.now()) + 1) % 10**6:06d}"
        running.client.totp.verify(SUBJECT, enrollment.stored, wrong)
    locked = running.client.totp.verify(SUBJECT, enrollment.stored, app.now())
    assert (locked.approved, locked.reason, locked.details) == (False, Reason.HARD_LOCKED, {})
    return enrollment.stored, app


def test_a_voucher_signed_on_the_command_line_clears_a_hard_lock(
    counter: Counter, vouchers: Callable[..., Any]
) -> None:
    stored, app = _hard_lock(counter.running)
    signed = subprocess.run(
        [sys.executable, "-m", "verifykit", "voucher", "sign", "--key", str(counter.key_file),
         "--subject", SUBJECT, "--reason", "lost_phone", "--unlock", "authenticator_app"],
        capture_output=True, text=True, check=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("VERIFYKIT_")},
    )  # fmt: skip
    redemption = vouchers("redeem", SUBJECT, signed.stdout.strip())
    assert redemption.approved
    assert redemption.unlocked == (Way.AUTHENTICATOR_APP,)
    assert redemption.officers == (counter.officer_id,)
    assert redemption.verdict().reason is Reason.APPROVED
    assert counter.running.client.totp.verify(SUBJECT, stored, app.now()).approved


def test_a_voucher_signed_with_the_names_of_an_earlier_release_unlocks_the_ways_they_mean(
    counter: Counter, vouchers: Callable[..., Any]
) -> None:
    stored, app = _hard_lock(counter.running)
    redemption = vouchers("redeem", SUBJECT, counter.voucher(unlocks=("totp",)))
    assert redemption.unlocked == (Way.AUTHENTICATOR_APP,)
    assert counter.running.client.totp.verify(SUBJECT, stored, app.now()).approved


def test_a_hard_lock_counts_no_budget_left_and_no_attempts_over_the_wire(counter: Counter) -> None:
    stored, app = _hard_lock(counter.running)
    locked = counter.running.client.totp.verify(SUBJECT, stored, app.now())
    assert (locked.budget_left, locked.attempts_left, locked.retry_after) == (0, None, None)
    assert Way.COUNTER_VOUCHER in locked.ways_in


def test_the_redemption_is_in_an_audit_log_that_verifies(counter: Counter) -> None:
    _hard_lock(counter.running)
    assert counter.running.client.vouchers.redeem(SUBJECT, counter.voucher()).approved
    counter.running.sidecar.stop(0)
    report = verify_log(counter.audit_file, load_audit_public_key(counter.audit_public))
    assert report.ok
    text = counter.audit_file.read_text()
    assert '"verifier":"counter_voucher"' in text.replace(" ", "")
    assert SUBJECT not in text  # subjects are written as keyed tags


def test_a_replayed_voucher_is_refused(counter: Counter, vouchers: Callable[..., Any]) -> None:
    voucher = counter.voucher()
    assert vouchers("redeem", SUBJECT, voucher).approved
    again = vouchers("redeem", SUBJECT, voucher)
    assert (again.approved, again.reason) == (False, Reason.REPLAYED)
    assert again.verdict().reason is Reason.REPLAYED


def test_an_altered_voucher_is_refused_and_the_lock_stays(
    counter: Counter, vouchers: Callable[..., Any]
) -> None:
    stored, app = _hard_lock(counter.running)
    original = decode_voucher(counter.voucher())
    body = bytearray(original.body)
    body[9] ^= 0x01  # one bit of the expiry
    altered = encode_voucher(bytes(body), original.signatures)
    refused = vouchers("redeem", SUBJECT, altered)
    assert (refused.approved, refused.reason, refused.unlocked) == (False, Reason.BAD_SIGNATURE, ())
    assert refused.verdict().reason is Reason.BAD_SIGNATURE
    assert not counter.running.client.totp.verify(SUBJECT, stored, app.now()).approved


def test_a_voucher_for_another_subject_is_refused(counter: Counter, vouchers: Callable[..., Any]) -> None:
    refused = vouchers("redeem", SUBJECT, counter.voucher(subject="applicant-8"))
    assert (refused.approved, refused.reason) == (False, Reason.WRONG_SUBJECT)


def test_inspecting_shows_the_voucher_and_its_signatures_and_never_redeems(
    counter: Counter, vouchers: Callable[..., Any]
) -> None:
    voucher = counter.voucher()
    first = vouchers("inspect", voucher, subject=SUBJECT)
    second = vouchers("inspect", voucher, subject="applicant-8")
    assert first.acceptable and first.subject_matches is True
    assert first.voucher == decode_voucher(voucher)
    assert (first.voucher.reason, first.voucher.unlocks) == ("lost_phone", ("authenticator_app",))
    assert [(s.key_id, s.status, s.name) for s in first.signatures] == [
        (counter.officer_id, SignatureStatus.VALID, "Officer Ana")
    ]
    assert (second.subject_matches, second.reason) == (False, Reason.WRONG_SUBJECT)
    assert vouchers("redeem", SUBJECT, voucher).approved


def test_inspecting_a_malformed_voucher_answers_malformed(
    counter: Counter, vouchers: Callable[..., Any]
) -> None:
    found = vouchers("inspect", "not-a-voucher")
    assert (found.acceptable, found.voucher, found.reason, found.subject_matches) == (
        False,
        None,
        Reason.MALFORMED,
        None,
    )


def test_the_service_is_listed_by_reflection_when_an_officer_registry_is_configured(counter: Counter) -> None:
    services = ProtoReflectionDescriptorDatabase(counter.running.client.channel).get_services()
    assert VOUCHER_SERVICE in set(services)
    assert counter.running.client.health(VOUCHER_SERVICE) == "SERVING"


def test_without_an_officer_registry_the_service_is_not_served(sidecar: Running) -> None:
    with pytest.raises(SidecarError) as caught:
        sidecar.client.vouchers.redeem(SUBJECT, "AAAA")
    assert caught.value.status == "UNIMPLEMENTED"
    assert VOUCHER_SERVICE not in set(
        ProtoReflectionDescriptorDatabase(sidecar.client.channel).get_services()
    )

    async def inspect() -> None:
        async with AsyncClient(sidecar.target, timeout=30) as client:
            await client.vouchers.inspect("AAAA")

    with pytest.raises(SidecarError) as caught:
        asyncio.run(inspect())
    assert caught.value.status == "UNIMPLEMENTED"


def test_an_officer_registry_without_an_audit_log_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"officers_file.*audit_file"):
        ServerConfig(officers_file=tmp_path / "officers.json")


def test_an_unreadable_officer_registry_stops_the_start(serve: Serve, tmp_path: Path) -> None:
    write_key_pair(tmp_path / "audit.key", tmp_path / "audit.pub")
    with pytest.raises(ConfigurationError, match="officer registry"):
        serve(
            officers_file=tmp_path / "missing.json",
            audit_file=tmp_path / "audit.log",
            audit_key_file=tmp_path / "audit.key",
        )


def test_a_lower_hard_cap_applies_to_every_verifier_with_a_lockout() -> None:
    from verifykit.fallbacks import TOTPSettings
    from verifykit.server._app import _capped

    config = dataclasses.replace(ServerConfig(), lockout_hard_cap=3)
    lockout = _capped(config, TOTPSettings()).lockout
    assert (lockout.threshold, lockout.hard_cap) == (3, 3)
    assert _capped(ServerConfig(), TOTPSettings()) == TOTPSettings()

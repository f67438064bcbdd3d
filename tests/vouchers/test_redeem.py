"""Redeeming counter vouchers, over both flavours and every store backend: once, on the record,
clearing the hard locks the voucher names, and refused with a reason for every way it can be wrong."""

from __future__ import annotations

import base64
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyotp
import pytest
from voucher_support import HARD_AFTER_TWO, Counter, Officers

from verifykit import AuditEvent, AuditUnavailable, ConfigurationError, InvalidInput, Reason, Way, aio
from verifykit._subject import budget_key, subject_tag
from verifykit.fallbacks import TOTPSettings, TOTPVerifier
from verifykit.store import MemoryStore, WindowPolicy
from verifykit.vouchers import (
    RegistryFile,
    Vouchers,
    VoucherSettings,
    VoucherSignature,
    cosign_voucher,
    decode_voucher,
    issue_voucher,
    key_id,
)


def test_a_voucher_clears_the_hard_locks_it_names(counter: Counter) -> None:
    password = counter.hard_lock(Way.PASSWORD)
    totp = counter.hard_lock(Way.AUTHENTICATOR_APP)
    redemption = counter.vouchers().redeem("user-1", counter.issue(unlocks=("password", "authenticator_app")))
    assert redemption.approved and redemption.reason is Reason.APPROVED
    assert redemption.unlocked == (Way.PASSWORD, Way.AUTHENTICATOR_APP)
    assert counter.failures(password).failures == 0 and counter.failures(totp).failures == 0


def test_a_voucher_signed_with_the_names_of_earlier_releases_unlocks_the_ways_they_mean(
    counter: Counter,
) -> None:
    locks = [counter.hard_lock(way) for way in (Way.EMAIL_CODE, Way.AUTHENTICATOR_APP, Way.RECOVERY_CODE)]
    redemption = counter.vouchers().redeem("user-1", counter.issue(unlocks=("otp", "totp", "recovery")))
    assert redemption.approved
    assert redemption.unlocked == (Way.EMAIL_CODE, Way.AUTHENTICATOR_APP, Way.RECOVERY_CODE)
    assert [counter.failures(lock).failures for lock in locks] == [0, 0, 0]


def test_a_name_of_an_earlier_release_is_unlockable_as_the_way_it_means(counter: Counter) -> None:
    vouchers = counter.vouchers(unlockable=(Way.AUTHENTICATOR_APP,))
    assert vouchers.redeem("user-1", counter.issue(unlocks=("totp",))).unlocked == (Way.AUTHENTICATOR_APP,)


def test_a_voucher_clears_the_subjects_one_failure_budget(counter: Counter) -> None:
    budget = budget_key(subject_tag(counter.keyring, "user-1"))
    for _ in range(HARD_AFTER_TWO.hard_cap):
        counter.call("charge", budget, HARD_AFTER_TWO)
    assert counter.vouchers().redeem("user-1", counter.issue(unlocks=("password",))).approved
    assert not counter.failures(budget).hard_locked


def test_a_voucher_clears_a_passkey_lock_by_default(counter: Counter) -> None:
    passkey = counter.hard_lock(Way.PASSKEY)
    redemption = counter.vouchers().redeem("user-1", counter.issue(unlocks=("passkey",)))
    assert redemption.unlocked == (Way.PASSKEY,)
    assert counter.failures(passkey).failures == 0


@pytest.mark.parametrize("unlockable", [(Way.COUNTER_VOUCHER,), ("sms",)])
def test_a_voucher_can_unlock_only_ways_with_a_lockout(unlockable: tuple[object, ...]) -> None:
    with pytest.raises(ConfigurationError, match="unlockable names ways in"):
        VoucherSettings(unlockable=unlockable)  # type: ignore[arg-type]


def test_a_voucher_leaves_the_lockouts_it_does_not_name_in_place(counter: Counter) -> None:
    face = counter.hard_lock(Way.FACE)
    assert counter.vouchers().redeem("user-1", counter.issue(unlocks=("password",))).approved
    assert counter.failures(face).hard_locked


def test_a_voucher_lets_a_hard_locked_person_back_into_their_authenticator_app(counter: Counter) -> None:
    totp = counter.flavour.build(
        TOTPVerifier,
        aio.TOTPVerifier,
        store=counter.store,
        keyring=counter.keyring,
        settings=TOTPSettings(lockout=HARD_AFTER_TWO),
        audit=None,
    )
    enrollment = totp.enroll("user-1", "ana")
    at = 1_700_000_015.0
    right = pyotp.TOTP(enrollment.secret_base32).at(at)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(2):
        totp.verify("user-1", enrollment.stored, wrong, at=at)
    assert totp.verify("user-1", enrollment.stored, right, at=at).reason is Reason.HARD_LOCKED
    assert counter.vouchers().redeem("user-1", counter.issue(unlocks=("authenticator_app",))).approved
    assert totp.verify("user-1", enrollment.stored, right, at=at).approved


def test_an_approval_names_the_signing_officers_by_key_id(counter: Counter) -> None:
    redemption = counter.vouchers().redeem("user-1", counter.issue())
    assert redemption.officers == (key_id(counter.officers.alice.public_key()),)
    verdict = redemption.verdict()
    assert verdict.approved and verdict.reason is Reason.APPROVED
    assert verdict.details["unlocked"] == "password,authenticator_app"


def test_the_redemption_is_on_the_record_before_anything_is_unlocked(counter: Counter) -> None:
    lock = counter.hard_lock(Way.PASSWORD)
    seen: list[tuple[AuditEvent, bool]] = []
    vouchers = counter.vouchers(audit=lambda event: seen.append((event, counter.failures(lock).hard_locked)))
    text = counter.issue(unlocks=("password",))
    assert vouchers.redeem("user-1", text).approved
    [(event, locked_while_written)] = seen
    assert locked_while_written
    assert (event.verifier, event.action, event.outcome) == ("counter_voucher", "redeem", "approved")
    assert event.details["officers"] == key_id(counter.officers.alice.public_key())
    assert event.details["nonce_sha256"] == hashlib.sha256(decode_voucher(text).nonce).hexdigest()
    assert decode_voucher(text).nonce_hex not in event.to_json()
    assert event.details["unlocked"] == "password"
    assert text not in event.to_json()  # the voucher itself is never recorded


def test_an_approval_whose_record_cannot_be_written_unlocks_nothing_and_can_be_redeemed_later(
    counter: Counter,
) -> None:
    lock = counter.hard_lock(Way.PASSWORD)

    def broken(event: AuditEvent) -> None:
        raise OSError("disk full")

    text = counter.issue(unlocks=("password",))
    with pytest.raises(AuditUnavailable):
        counter.vouchers(audit=broken).redeem("user-1", text)
    assert counter.failures(lock).hard_locked
    assert counter.vouchers().redeem("user-1", text).approved
    assert not counter.failures(lock).hard_locked


def test_a_voucher_is_redeemed_once(counter: Counter) -> None:
    vouchers = counter.vouchers()
    text = counter.issue()
    assert vouchers.redeem("user-1", text).approved
    again = vouchers.redeem("user-1", text)
    assert again.reason is Reason.REPLAYED
    assert again.verdict().reason is Reason.REPLAYED


def test_fifty_concurrent_redemptions_of_one_voucher_approve_exactly_once(counter: Counter) -> None:
    vouchers = counter.vouchers()
    text = counter.issue()
    barrier = threading.Barrier(50)

    def redeem(_: int) -> Reason:
        barrier.wait()
        return vouchers.redeem("user-1", text).reason

    with ThreadPoolExecutor(50) as pool:
        reasons = list(pool.map(redeem, range(50)))
    assert reasons.count(Reason.APPROVED) == 1
    assert reasons.count(Reason.REPLAYED) == 49


def test_a_forged_signature_is_refused(counter: Counter) -> None:
    # Signed by a stranger's key, claiming to be alice's.
    genuine = decode_voucher(counter.issue(counter.officers.stranger))
    alice = key_id(counter.officers.alice.public_key())
    forged = decode_voucher(genuine.encode())
    text = _with_signatures(forged.body, [VoucherSignature(alice, genuine.signatures[0].signature)])
    assert counter.vouchers().redeem("user-1", text).reason is Reason.BAD_SIGNATURE


def test_an_altered_voucher_is_refused(counter: Counter) -> None:
    lock = counter.hard_lock(Way.FACE)
    voucher = decode_voucher(counter.issue(unlocks=("password",)))
    body = voucher.body.replace(b"\x08password", b"\x04face")
    redemption = counter.vouchers().redeem("user-1", _with_signatures(body, voucher.signatures))
    assert redemption.reason is Reason.BAD_SIGNATURE
    assert counter.failures(lock).hard_locked


def test_an_expired_voucher_is_refused(counter: Counter) -> None:
    redemption = counter.vouchers().redeem("user-1", counter.issue(ttl=600, ago=601))
    assert redemption.reason is Reason.EXPIRED
    assert redemption.verdict().reason is Reason.EXPIRED


def test_a_voucher_issued_ahead_of_the_store_clock_is_refused(counter: Counter) -> None:
    text = issue_voucher(
        counter.officers.alice,
        subject="user-1",
        reason="lost_phone",
        unlocks=["email_code"],
        now=counter.now() + 3600,
    )
    assert counter.vouchers(clock_skew=60).redeem("user-1", text).reason is Reason.NOT_YET_VALID


def test_a_voucher_for_another_subject_is_refused_and_unlocks_nothing(counter: Counter) -> None:
    lock = counter.hard_lock(Way.PASSWORD)
    redemption = counter.vouchers().redeem("user-1", counter.issue(subject="user-2"))
    assert redemption.reason is Reason.WRONG_SUBJECT
    assert counter.failures(lock).hard_locked


def test_a_revoked_officers_voucher_is_refused(counter: Counter) -> None:
    redemption = counter.vouchers().redeem("user-1", counter.issue(counter.officers.revoked))
    assert redemption.reason is Reason.REVOKED_OFFICER


def test_an_unknown_officers_voucher_is_refused(counter: Counter) -> None:
    redemption = counter.vouchers().redeem("user-1", counter.issue(counter.officers.stranger))
    assert redemption.reason is Reason.UNKNOWN_OFFICER


def test_a_lifetime_longer_than_the_service_accepts_is_refused(counter: Counter) -> None:
    redemption = counter.vouchers(max_ttl=300).redeem("user-1", counter.issue(ttl=301))
    assert redemption.reason is Reason.TTL_TOO_LONG


def test_a_voucher_naming_a_way_the_service_does_not_unlock_is_refused(counter: Counter) -> None:
    vouchers = counter.vouchers(unlockable=(Way.EMAIL_CODE,))
    text = counter.issue(unlocks=("email_code", "authenticator_app"))
    assert vouchers.redeem("user-1", text).reason is Reason.NOT_UNLOCKABLE


def test_text_that_is_not_a_voucher_is_refused_as_malformed(counter: Counter) -> None:
    redemption = counter.vouchers().redeem("user-1", "not a voucher")
    assert redemption.reason is Reason.MALFORMED
    verdict = redemption.verdict()
    assert (verdict.reason, verdict.details) == (Reason.MALFORMED, {})


def test_a_voucher_that_is_not_text_is_invalid_input(counter: Counter) -> None:
    with pytest.raises(InvalidInput):
        counter.vouchers().redeem("user-1", b"AQAA")  # type: ignore[arg-type]


def test_every_refusal_is_on_the_record_with_its_reason(counter: Counter) -> None:
    counter.vouchers().redeem("user-1", counter.issue(counter.officers.stranger))
    [event] = counter.events
    assert (event.verifier, event.outcome, event.reason) == ("counter_voucher", "refused", "unknown_officer")


def test_four_eyes_refuse_a_voucher_with_one_signature(counter: Counter) -> None:
    vouchers = counter.vouchers(settings=VoucherSettings.preset("four_eyes"))
    assert vouchers.redeem("user-1", counter.issue()).reason is Reason.FOUR_EYES_REQUIRED


def test_four_eyes_refuse_the_same_officer_signing_twice(counter: Counter) -> None:
    voucher = decode_voucher(counter.issue())
    twice = _with_signatures(voucher.body, [voucher.signatures[0], voucher.signatures[0]])
    vouchers = counter.vouchers(settings=VoucherSettings.preset("four_eyes"))
    assert vouchers.redeem("user-1", twice).reason is Reason.SAME_OFFICER


@pytest.mark.parametrize("second", ["alice_space", "alice_cyrillic"])
def test_four_eyes_tell_officers_apart_by_key_never_by_name(counter: Counter, second: str) -> None:
    cosigned = cosign_voucher(counter.issue(), getattr(counter.officers, second), subject="user-1")
    redemption = counter.vouchers(four_eyes=True).redeem("user-1", cosigned)
    assert redemption.approved
    assert len(set(redemption.officers)) == 2


def test_four_eyes_refuse_a_second_signature_from_a_revoked_officer(counter: Counter) -> None:
    cosigned = cosign_voucher(counter.issue(), counter.officers.revoked, subject="user-1")
    assert counter.vouchers(four_eyes=True).redeem("user-1", cosigned).reason is Reason.REVOKED_OFFICER


def test_a_full_client_window_refuses_before_any_check(counter: Counter) -> None:
    vouchers = counter.vouchers(client_limit=WindowPolicy(limit=1, window=3600))
    assert vouchers.redeem("user-1", counter.issue(), client="desk-7").approved
    refused = vouchers.redeem("user-1", counter.issue(), client="desk-7")
    assert refused.reason is Reason.RATE_LIMITED
    assert refused.retry_after is not None and refused.retry_after > 0


def test_inspecting_a_voucher_does_not_redeem_it(counter: Counter) -> None:
    vouchers = counter.vouchers()
    text = counter.issue()
    inspection = vouchers.inspect(text, subject="user-1")
    assert inspection.acceptable and inspection.subject_matches
    assert vouchers.redeem("user-1", text).approved


def test_a_revocation_in_the_registry_file_applies_to_the_next_redemption(
    counter: Counter, officers: Officers, tmp_path: Path
) -> None:
    registry_file = RegistryFile(tmp_path / "officers.json")
    registry_file.save(officers.registry)
    vouchers = counter.vouchers(registry=registry_file)
    assert vouchers.redeem("user-1", counter.issue()).approved
    registry_file.save(officers.registry.revoke(key_id(officers.alice.public_key())))
    assert vouchers.redeem("user-1", counter.issue()).reason is Reason.REVOKED_OFFICER


@pytest.mark.parametrize("service", [Vouchers, aio.Vouchers])
def test_a_voucher_service_without_an_audit_sink_is_refused(
    service: type[Vouchers], officers: Officers
) -> None:
    with pytest.raises(ConfigurationError):
        service(store=MemoryStore(), keyring=_keyring(), registry=officers.registry, audit=None)


@pytest.mark.parametrize("service", [Vouchers, aio.Vouchers])
def test_a_voucher_service_without_a_registry_is_refused(service: type[Vouchers]) -> None:
    with pytest.raises(ConfigurationError):
        service(store=MemoryStore(), keyring=_keyring(), registry="officers.json")  # type: ignore[arg-type]


def _keyring() -> object:
    from verifykit import Keyring

    return Keyring.generate()


def _with_signatures(body: bytes, signatures: object) -> str:
    sigs = list(signatures)  # type: ignore[call-overload]
    tail = bytes([len(sigs)]) + b"".join(bytes.fromhex(s.key_id) + s.signature for s in sigs)
    return base64.urlsafe_b64encode(body + tail).decode().rstrip("=")

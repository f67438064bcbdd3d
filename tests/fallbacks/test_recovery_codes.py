"""Recovery codes: each works once, on any server, however it is typed; guessing is capped."""

from __future__ import annotations

import re
import threading

import pytest
from fallback_support import Build

from verifykit import AuditEvent, ConfigurationError, InvalidInput, Keyring, Reason, aio
from verifykit.fallbacks import RecoveryCodes, RecoverySettings
from verifykit.store import LockoutPolicy, MemoryStore, WindowPolicy

_SHAPE = re.compile(r"^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$")
THRESHOLD = RecoverySettings().lockout.threshold


def a_wrong_code(codes: list[str]) -> str:
    """A well-formed code that is not in the set."""
    candidate = "0000-0000-0000"
    while candidate in codes:
        candidate = "0000-0000-" + format(int(candidate[-4:]) + 1, "04d")
    return candidate


def test_generate_gives_count_distinct_codes_of_12_symbols_from_32_unambiguous_ones(
    recovery: RecoveryCodes,
) -> None:
    issued = recovery.generate("user-1")
    assert len(set(issued.codes)) == 10
    assert all(_SHAPE.match(code) for code in issued.codes)


def test_what_is_stored_reveals_no_code(recovery: RecoveryCodes) -> None:
    issued = recovery.generate("user-1")
    for code in issued.codes:
        assert code not in issued.stored and code.replace("-", "") not in issued.stored
    assert issued.codes[0] not in repr(issued)


def test_each_code_redeems_once_and_each_redemption_hands_back_the_shorter_set(
    recovery: RecoveryCodes,
) -> None:
    issued = recovery.generate("user-1")
    stored = issued.stored
    for left, code in reversed(list(enumerate(issued.codes))):
        verdict = recovery.redeem("user-1", stored, code)
        assert verdict.approved and verdict.details["remaining"] == str(left)
        assert isinstance(verdict.stored, str)
        stored = verdict.stored
    assert recovery.redeem("user-1", stored, issued.codes[0]).reason is Reason.WRONG_CODE


def test_an_approval_has_no_attempts_left_to_count(recovery: RecoveryCodes) -> None:
    issued = recovery.generate("user-1")
    verdict = recovery.redeem("user-1", issued.stored, issued.codes[0])
    assert verdict.budget_left is None and verdict.attempts_left is None


def test_a_redeemed_code_is_refused_even_with_the_old_set(recovery: RecoveryCodes) -> None:
    issued = recovery.generate("user-1")
    code = issued.codes[3]
    assert recovery.redeem("user-1", issued.stored, code).approved
    again = recovery.redeem("user-1", issued.stored, code)
    assert not again.approved and again.reason is Reason.REPLAYED
    assert isinstance(again.stored, str)
    assert recovery.redeem("user-1", again.stored, code).reason is Reason.WRONG_CODE


def test_a_redeemed_code_is_refused_by_another_instance_on_the_same_store(
    recovery: RecoveryCodes, build: Build
) -> None:
    issued = recovery.generate("user-1")
    assert recovery.redeem("user-1", issued.stored, issued.codes[0]).approved
    other = build.recovery(audit=None)
    assert other.redeem("user-1", issued.stored, issued.codes[0]).reason is Reason.REPLAYED


def test_the_same_code_redeemed_twice_at_once_approves_exactly_once(recovery: RecoveryCodes) -> None:
    issued = recovery.generate("user-1")
    barrier = threading.Barrier(2)
    reasons: list[Reason] = []

    def redeem() -> None:
        barrier.wait()
        reasons.append(recovery.redeem("user-1", issued.stored, issued.codes[0]).reason)

    threads = [threading.Thread(target=redeem) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(reasons) == sorted([Reason.APPROVED, Reason.REPLAYED])


def test_a_wrong_code_denies_and_says_keep_what_you_have(recovery: RecoveryCodes) -> None:
    issued = recovery.generate("user-1")
    verdict = recovery.redeem("user-1", issued.stored, a_wrong_code(issued.codes))
    assert verdict.reason is Reason.WRONG_CODE
    assert verdict.stored is None


def test_codes_are_bound_to_their_subject(recovery: RecoveryCodes) -> None:
    issued = recovery.generate("user-1")
    assert recovery.redeem("user-2", issued.stored, issued.codes[0]).reason is Reason.WRONG_CODE


@pytest.mark.parametrize(
    "typed",
    [
        lambda c: c.upper(),
        lambda c: c.replace("-", ""),
        lambda c: c.replace("-", " "),
        lambda c: f"  {c}  ",
        lambda c: c.replace("0", "o").replace("1", "l"),
        lambda c: c.replace("1", "I"),
        lambda c: "".join(chr(ord(ch) + 0xFEE0) if ch.isalnum() else ch for ch in c),  # full width
    ],
    ids=["upper", "no-dashes", "spaces", "padded", "o-for-0-l-for-1", "I-for-1", "full-width"],
)
def test_codes_are_accepted_however_they_are_typed(recovery: RecoveryCodes, typed: object) -> None:
    issued = recovery.generate("user-1")
    code = issued.codes[0]
    assert callable(typed)
    assert recovery.redeem("user-1", issued.stored, typed(code)).approved


@pytest.mark.parametrize(
    "code", ["", "abcd-efgh", "abcd-efgh-ijkm-n", "abcd-efgh-uuuu", "ab!d-efgh-jkmn", 42]
)
def test_malformed_code_is_invalid_input_and_spends_nothing(recovery: RecoveryCodes, code: object) -> None:
    issued = recovery.generate("user-1")
    with pytest.raises(InvalidInput):
        recovery.redeem("user-1", issued.stored, code)  # type: ignore[arg-type]
    wrong = recovery.redeem("user-1", issued.stored, a_wrong_code(issued.codes))
    assert wrong.budget_left == THRESHOLD - 1


@pytest.mark.parametrize(
    "stored",
    [
        ["k1:" + "0" * 64],
        b"k1:" + b"0" * 64,
        "k1:" + "0" * 63,
        "k1:" + "0" * 64 + "," + "k1:" + "0" * 64,
        "k1:" + "0" * 64 + ",",
        ",".join(["k1:" + format(i, "064x") for i in range(101)]),
    ],
    ids=["list", "bytes", "short-digest", "repeated-digest", "trailing-comma", "too-many"],
)
def test_a_stored_set_that_redeem_did_not_hand_out_is_invalid_input(
    recovery: RecoveryCodes, stored: object
) -> None:
    issued = recovery.generate("user-1")
    with pytest.raises(InvalidInput) as raised:
        recovery.redeem("user-1", stored, issued.codes[0])  # type: ignore[arg-type]
    assert raised.value.field == "stored"


def test_consecutive_failures_lock_the_subject_out_even_for_a_right_code(build: Build) -> None:
    recovery = build.recovery(audit=None, lockout=LockoutPolicy(threshold=3, lockout=60, hard_cap=3))
    issued = recovery.generate("user-1")
    for _ in range(3):
        wrong = recovery.redeem("user-1", issued.stored, a_wrong_code(issued.codes))
        assert wrong.reason is Reason.WRONG_CODE
    locked = recovery.redeem("user-1", issued.stored, issued.codes[0])
    assert locked.reason is Reason.HARD_LOCKED
    assert locked.details == {}
    assert locked.stored is None


def test_success_resets_the_failure_count(recovery: RecoveryCodes) -> None:
    issued = recovery.generate("user-1")
    wrong = a_wrong_code(issued.codes)
    recovery.redeem("user-1", issued.stored, wrong)
    recovery.redeem("user-1", issued.stored, wrong)
    assert recovery.redeem("user-1", issued.stored, issued.codes[0]).approved
    assert recovery.redeem("user-1", issued.stored, wrong).budget_left == THRESHOLD - 1


def test_a_client_beyond_its_limit_is_rate_limited_before_any_comparison(build: Build) -> None:
    recovery = build.recovery(client_limit=WindowPolicy(limit=2, window=600))
    issued = recovery.generate("user-1")
    for _ in range(2):
        recovery.redeem("user-1", issued.stored, a_wrong_code(issued.codes), client="198.51.100.7")
    limited = recovery.redeem("user-1", issued.stored, issued.codes[0], client="198.51.100.7")
    assert limited.reason is Reason.RATE_LIMITED and limited.retry_after
    assert recovery.redeem("user-1", issued.stored, issued.codes[0], client="198.51.100.8").approved


def test_an_approval_gives_the_clients_charge_back(build: Build) -> None:
    recovery = build.recovery(client_limit=WindowPolicy(limit=1, window=600))
    issued = recovery.generate("user-1")
    for code in issued.codes[:2]:
        assert recovery.redeem("user-1", issued.stored, code, client="198.51.100.7").approved


def test_codes_still_redeem_after_a_key_rotation(build: Build) -> None:
    k1, k2 = Keyring.new_keyring_string("k1"), Keyring.new_key_string("k2")
    issued = build.recovery(keyring=Keyring.from_string(k1), audit=None).generate("user-1")
    rotated = build.recovery(keyring=Keyring.from_string(f"{k1},{k2}"), audit=None)
    assert rotated.redeem("user-1", issued.stored, issued.codes[0]).approved


def test_audit_events_hold_no_code(recovery: RecoveryCodes, events: list[AuditEvent]) -> None:
    issued = recovery.generate("user-1")
    recovery.redeem("user-1", issued.stored, issued.codes[0])
    recovery.redeem("user-1", issued.stored, issued.codes[0])
    assert [(e.action, e.outcome, e.reason) for e in events] == [
        ("generate", "issued", "approved"),
        ("redeem", "approved", "approved"),
        ("redeem", "denied", "replayed"),
    ]
    assert all(e.verifier == "recovery_code" for e in events)
    for event in events:
        text = event.to_json()
        assert not any(code in text or code.replace("-", "") in text for code in issued.codes)
        assert not any(digest in text for digest in issued.stored.split(","))


@pytest.mark.parametrize("verifier", [RecoveryCodes, aio.RecoveryCodes])
def test_store_and_keyring_are_required(verifier: type[RecoveryCodes]) -> None:
    with pytest.raises(TypeError):
        verifier(keyring=Keyring.generate())  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        verifier(store=MemoryStore())  # type: ignore[call-arg]


def test_the_wallet_preset_prints_five_codes(build: Build) -> None:
    assert len(build.recovery(settings=RecoverySettings.preset("wallet")).generate("user-1").codes) == 5
    with pytest.raises(ConfigurationError):
        RecoverySettings(count=0)

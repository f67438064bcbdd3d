"""Recovery codes: each works once, on any server, however it is typed; guessing is capped."""

from __future__ import annotations

import re
import threading

import pytest

from verifykit import AuditEvent, InvalidInput, Keyring, Reason
from verifykit.fallbacks import RecoveryCodes
from verifykit.store import ChallengeStore, LockoutPolicy

_SHAPE = re.compile(r"^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$")


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
    assert len(issued.codes) == len(issued.digests) == 10
    assert len(set(issued.codes)) == 10
    assert all(_SHAPE.match(code) for code in issued.codes)


def test_digests_reveal_no_code(recovery: RecoveryCodes) -> None:
    issued = recovery.generate("user-1")
    for code, digest in zip(issued.codes, issued.digests, strict=True):
        assert code.replace("-", "") not in digest
    assert issued.codes[0] not in repr(issued)


def test_each_code_redeems(recovery: RecoveryCodes) -> None:
    issued = recovery.generate("user-1")
    digests = issued.digests
    for code in issued.codes:
        result = recovery.redeem("user-1", code, digests)
        assert result.verdict.approved and result.verdict.reason is Reason.APPROVED
        assert len(result.remaining_digests) == len(digests) - 1
        digests = result.remaining_digests
    assert digests == []


def test_a_redeemed_code_is_refused_even_with_the_old_digest_list(recovery: RecoveryCodes) -> None:
    issued = recovery.generate("user-1")
    code = issued.codes[3]
    assert recovery.redeem("user-1", code, issued.digests).verdict.approved
    again = recovery.redeem("user-1", code, issued.digests)
    assert not again.verdict.approved and again.verdict.reason is Reason.REPLAYED
    assert issued.digests[3] not in again.remaining_digests


def test_a_redeemed_code_is_refused_by_another_instance_on_the_same_store(
    recovery: RecoveryCodes, store: ChallengeStore, keyring: Keyring
) -> None:
    issued = recovery.generate("user-1")
    assert recovery.redeem("user-1", issued.codes[0], issued.digests).verdict.approved
    other = RecoveryCodes(store=store, keyring=keyring, audit=None)
    assert other.redeem("user-1", issued.codes[0], issued.digests).verdict.reason is Reason.REPLAYED


def test_the_same_code_redeemed_twice_at_once_approves_exactly_once(recovery: RecoveryCodes) -> None:
    issued = recovery.generate("user-1")
    barrier = threading.Barrier(2)
    reasons: list[Reason] = []

    def redeem() -> None:
        barrier.wait()
        reasons.append(recovery.redeem("user-1", issued.codes[0], issued.digests).verdict.reason)

    threads = [threading.Thread(target=redeem) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(reasons) == sorted([Reason.APPROVED, Reason.REPLAYED])


def test_a_wrong_code_denies_and_keeps_every_digest(recovery: RecoveryCodes) -> None:
    issued = recovery.generate("user-1")
    result = recovery.redeem("user-1", a_wrong_code(issued.codes), issued.digests)
    assert result.verdict.reason is Reason.WRONG_CODE
    assert result.remaining_digests == issued.digests


def test_codes_are_bound_to_their_subject(recovery: RecoveryCodes) -> None:
    issued = recovery.generate("user-1")
    assert recovery.redeem("user-2", issued.codes[0], issued.digests).verdict.reason is Reason.WRONG_CODE


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
    assert recovery.redeem("user-1", typed(code), issued.digests).verdict.approved


@pytest.mark.parametrize(
    "code", ["", "abcd-efgh", "abcd-efgh-ijkm-n", "abcd-efgh-uuuu", "ab!d-efgh-jkmn", 42]
)
def test_malformed_code_is_invalid_input_and_spends_nothing(recovery: RecoveryCodes, code: object) -> None:
    issued = recovery.generate("user-1")
    with pytest.raises(InvalidInput):
        recovery.redeem("user-1", code, issued.digests)  # type: ignore[arg-type]
    wrong = recovery.redeem("user-1", a_wrong_code(issued.codes), issued.digests)
    assert wrong.verdict.attempts_left == recovery.lockout.threshold - 1


def test_a_digest_list_that_is_not_a_list_of_strings_is_invalid_input(recovery: RecoveryCodes) -> None:
    issued = recovery.generate("user-1")
    with pytest.raises(InvalidInput):
        recovery.redeem("user-1", issued.codes[0], issued.digests[0])
    with pytest.raises(InvalidInput):
        recovery.redeem("user-1", issued.codes[0], [b"k1:00"])  # type: ignore[list-item]


def test_consecutive_failures_lock_the_subject_out_even_for_a_right_code(
    store: ChallengeStore, keyring: Keyring
) -> None:
    recovery = RecoveryCodes(
        store=store, keyring=keyring, audit=None, lockout=LockoutPolicy(threshold=3, lockout=60, hard_cap=3)
    )
    issued = recovery.generate("user-1")
    for _ in range(3):
        assert recovery.redeem("user-1", a_wrong_code(issued.codes), issued.digests).verdict.reason is (
            Reason.WRONG_CODE
        )
    locked = recovery.redeem("user-1", issued.codes[0], issued.digests)
    assert locked.verdict.reason is Reason.LOCKED_OUT
    assert locked.verdict.details["hard_locked"] == "true"
    assert locked.remaining_digests == issued.digests


def test_success_resets_the_failure_count(recovery: RecoveryCodes) -> None:
    issued = recovery.generate("user-1")
    wrong = a_wrong_code(issued.codes)
    recovery.redeem("user-1", wrong, issued.digests)
    recovery.redeem("user-1", wrong, issued.digests)
    assert recovery.redeem("user-1", issued.codes[0], issued.digests).verdict.approved
    after = recovery.redeem("user-1", wrong, issued.digests)
    assert after.verdict.attempts_left == recovery.lockout.threshold - 1


def test_codes_still_redeem_after_a_key_rotation(store: ChallengeStore) -> None:
    k1, k2 = Keyring.new_keyring_string("k1"), Keyring.new_key_string("k2")
    issued = RecoveryCodes(store=store, keyring=Keyring.from_string(k1), audit=None).generate("user-1")
    rotated = RecoveryCodes(store=store, keyring=Keyring.from_string(f"{k1},{k2}"), audit=None)
    assert rotated.redeem("user-1", issued.codes[0], issued.digests).verdict.approved


def test_audit_events_hold_no_code(recovery: RecoveryCodes, events: list[AuditEvent]) -> None:
    issued = recovery.generate("user-1")
    recovery.redeem("user-1", issued.codes[0], issued.digests)
    recovery.redeem("user-1", issued.codes[0], issued.digests)
    assert [(e.action, e.outcome, e.reason) for e in events] == [
        ("generate", "issued", "approved"),
        ("redeem", "approved", "approved"),
        ("redeem", "denied", "replayed"),
    ]
    for event in events:
        text = event.to_json()
        assert not any(code in text or code.replace("-", "") in text for code in issued.codes)
        assert not any(digest in text for digest in issued.digests)

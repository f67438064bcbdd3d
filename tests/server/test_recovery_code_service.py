"""Recovery codes over the sidecar: generate, redeem and count answer what the library answers."""

from __future__ import annotations

import grpc
import pytest
from sidecars import Running

from verifykit import InvalidInput, Reason
from verifykit._wire import recovery_pb2, recovery_pb2_grpc


def test_generate_gives_ten_codes_and_a_stored_set_of_ten(sidecar: Running) -> None:
    fresh = sidecar.client.recovery_codes.generate("applicant-1")
    assert len(fresh.codes) == len(set(fresh.codes)) == 10
    assert all(code not in fresh.stored for code in fresh.codes)
    assert sidecar.client.recovery_codes.count(fresh.stored) == 10


def test_a_code_is_redeemed_once_and_the_set_shrinks(sidecar: Running) -> None:
    codes = sidecar.client.recovery_codes
    fresh = codes.generate("applicant-1")
    verdict = codes.redeem("applicant-1", fresh.stored, fresh.codes[3].upper().replace("-", " "))
    assert (verdict.approved, verdict.reason) == (True, Reason.APPROVED)
    assert isinstance(verdict.stored, str)
    assert codes.count(verdict.stored) == 9
    # Replayed against the old set (not yet saved by the caller): refused, and dropped all the same.
    again = codes.redeem("applicant-1", fresh.stored, fresh.codes[3])
    assert (again.approved, again.reason) == (False, Reason.REPLAYED)
    assert again.stored == verdict.stored


def test_a_wrong_code_is_a_verdict_that_keeps_the_set(sidecar: Running) -> None:
    codes = sidecar.client.recovery_codes
    fresh = codes.generate("applicant-1")
    verdict = codes.redeem("applicant-1", fresh.stored, "0000-0000-0000")
    assert (verdict.approved, verdict.reason, verdict.budget_left) == (False, Reason.WRONG_CODE, 9)
    assert verdict.stored is None  # keep what you have


def test_another_subjects_code_does_not_redeem(sidecar: Running) -> None:
    codes = sidecar.client.recovery_codes
    fresh = codes.generate("applicant-1")
    assert codes.redeem("applicant-2", fresh.stored, fresh.codes[0]).reason is Reason.WRONG_CODE


def test_a_malformed_code_or_set_is_invalid_argument(sidecar: Running) -> None:
    codes = sidecar.client.recovery_codes
    fresh = codes.generate("applicant-1")
    with pytest.raises(InvalidInput) as caught:
        codes.redeem("applicant-1", fresh.stored, "not a code")
    assert caught.value.field == "code"
    with pytest.raises(InvalidInput) as caught:
        codes.count("k1:zz")
    assert caught.value.field == "stored"


def test_the_remaining_set_travels_beside_the_verdict_not_as_a_password_hash(sidecar: Running) -> None:
    stub = recovery_pb2_grpc.RecoveryCodeServiceStub(sidecar.client.channel)
    fresh = sidecar.client.recovery_codes.generate("applicant-1")
    response = stub.RedeemRecoveryCode(
        recovery_pb2.RedeemRecoveryCodeRequest(
            subject="applicant-1", stored=fresh.stored, code=fresh.codes[0]
        ),
        timeout=10,
    )
    assert (response.remaining, response.verdict.upgraded_hash) == (9, "")
    with pytest.raises(grpc.RpcError) as caught:
        stub.CountRecoveryCodes(recovery_pb2.CountRecoveryCodesRequest(stored="junk"), timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT

"""The ladder over the sidecar answers what verifykit.ladder answers: the open ways in, in order,
and why each other one is closed."""

from __future__ import annotations

import asyncio

import grpc
import pyotp
import pytest
from sidecars import Running

from verifykit import InvalidInput, Reason, Way
from verifykit._wire import ladder_pb2, ladder_pb2_grpc
from verifykit.client import AsyncClient
from verifykit.ladder import AAL, Offer


def test_a_failed_email_closes_the_email_code_and_offers_the_authenticator_first(sidecar: Running) -> None:
    offer = sidecar.client.ladder.ways_in(
        "applicant-1", [Way.EMAIL_CODE, Way.AUTHENTICATOR_APP], delivery="failed"
    )
    assert offer.open[0].way is Way.AUTHENTICATOR_APP
    assert offer.open[-1].way is Way.COUNTER_VOUCHER
    closed = {rung.way: rung.reason for rung in offer.closed}
    assert closed[Way.EMAIL_CODE] is Reason.DELIVERY_FAILED
    assert closed[Way.PASSWORD] is Reason.NOT_ENROLLED


def test_asking_for_aal2_offers_only_combinations_that_reach_it(sidecar: Running) -> None:
    offer = sidecar.client.ladder.ways_in(
        "applicant-1", ["email_code", "password", "authenticator_app"], level="aal2"
    )
    assert offer.level is AAL.AAL2
    assert offer.combinations
    assert all(c.level >= AAL.AAL2 for c in offer.combinations)
    assert all(Way.EMAIL_CODE not in c.ways for c in offer.combinations)


def test_failures_elsewhere_show_in_the_subjects_budget(sidecar: Running) -> None:
    enrollment = sidecar.client.totp.enroll("applicant-1", "ana@example.com")
    code = pyotp.TOTP(enrollment.secret_base32).now()
    sidecar.client.totp.verify("applicant-1", enrollment.stored, f"{(int(code) + 1) % 10**6:06d}")
    offer = sidecar.client.ladder.ways_in("applicant-1", [Way.AUTHENTICATOR_APP])
    assert offer.budget.failures == 1


def test_the_async_client_gets_the_same_offer(sidecar: Running) -> None:
    async def work() -> Offer:
        async with AsyncClient(sidecar.target, timeout=30) as client:
            return await client.ladder.ways_in("applicant-1", [Way.RECOVERY_CODE], delivery="sent")

    offer = asyncio.run(work())
    assert offer == sidecar.client.ladder.ways_in("applicant-1", [Way.RECOVERY_CODE], delivery="sent")


def test_an_unknown_way_or_level_is_invalid_argument(sidecar: Running) -> None:
    with pytest.raises(InvalidInput):
        sidecar.client.ladder.ways_in("applicant-1", ["carrier_pigeon"])
    stub = ladder_pb2_grpc.LadderServiceStub(sidecar.client.channel)
    for request in (
        ladder_pb2.GetWaysInRequest(subject="applicant-1", enrolled=[99]),  # type: ignore[list-item]
        ladder_pb2.GetWaysInRequest(subject="applicant-1", level=7),  # type: ignore[arg-type]
        ladder_pb2.GetWaysInRequest(subject=""),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetWaysIn(request, timeout=10)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT

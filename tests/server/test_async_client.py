"""``AsyncClient``: the methods, results and errors of ``Client``, awaited, against a real sidecar."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from sidecars import PKI, Running, Serve

from verifykit import ChallengeClosed, ChallengeNotFound, ConfigurationError, InvalidInput, Reason
from verifykit.client import AsyncClient, SidecarError
from verifykit.store import ChallengeStatus
from verifykit.testing import last_code

T = TypeVar("T")
TOKEN = "s3cret-token-for-tests-0123456789"
PASSWORD = "correct horse battery staple"


def run(work: Callable[[AsyncClient], Awaitable[T]], target: str, **options: Any) -> T:
    """Open an ``AsyncClient`` in a fresh event loop, run ``work`` with it, close it."""

    async def main() -> T:
        async with AsyncClient(target, timeout=30, **options) as client:
            return await work(client)

    return asyncio.run(main())


def test_an_email_code_round_trip_gives_the_same_results_as_the_library(sidecar: Running) -> None:
    async def work(client: AsyncClient) -> tuple[Any, ...]:
        challenge = await client.email_otp.start("applicant-1", "ana@example.com")
        wrong = await client.email_otp.check(
            challenge.id, "000000" if last_code(sidecar.outbox) != "000000" else "111111"
        )
        right = await client.email_otp.check(challenge.id, last_code(sidecar.outbox))
        status = await client.email_otp.status(challenge.id)
        return challenge.sends, (wrong.reason, wrong.attempts_left), right.reason, status.status

    assert run(work, sidecar.target) == (1, (Reason.WRONG_CODE, 4), Reason.APPROVED, ChallengeStatus.APPROVED)


def test_refusals_raise_the_librarys_exceptions(sidecar: Running) -> None:
    async def unknown(client: AsyncClient) -> None:
        await client.email_otp.check("a" * 26 + "." + "b" * 22, "123456")

    async def cancelled_then_resent(client: AsyncClient) -> None:
        challenge = await client.email_otp.start("applicant-1", "ana@example.com")
        await client.email_otp.cancel(challenge.id)
        await client.email_otp.resend(challenge.id)

    with pytest.raises(ChallengeNotFound):
        run(unknown, sidecar.target)
    with pytest.raises(ChallengeClosed):
        run(cancelled_then_resent, sidecar.target)


def test_passwords_hash_verify_and_policy(serve: Serve) -> None:
    running = serve(password_preset="cheap_tests_only")

    async def work(client: AsyncClient) -> tuple[Any, ...]:
        stored = await client.password.hash(PASSWORD, subject="applicant-1")
        right = await client.password.verify("applicant-1", stored, PASSWORD)
        wrong = await client.password.verify("applicant-1", stored, PASSWORD + "!")
        policy = await client.password.check_policy("short")
        return right.approved, wrong.reason, policy.approved

    assert run(work, running.target) == (True, Reason.WRONG_PASSWORD, False)


def test_a_policy_violation_on_hash_is_invalid_input(serve: Serve) -> None:
    running = serve(password_preset="cheap_tests_only")

    async def work(client: AsyncClient) -> str:
        return await client.password.hash("short")

    with pytest.raises(InvalidInput):
        run(work, running.target)


def test_health_and_readiness(sidecar: Running) -> None:
    async def work(client: AsyncClient) -> str:
        await client.wait_ready(timeout=10)
        return await client.health("verifykit.v1.EmailOtpService")

    assert run(work, sidecar.target) == "SERVING"


def test_a_token_is_sent_on_every_call(serve: Serve) -> None:
    running = serve(token=TOKEN)

    async def start(client: AsyncClient) -> int:
        return (await client.email_otp.start("applicant-1", "ana@example.com")).sends

    with pytest.raises(SidecarError) as caught:
        run(start, running.target)
    assert caught.value.status == "UNAUTHENTICATED"
    assert run(start, running.target, token=TOKEN) == 1


def test_tls_serves_an_async_client_that_trusts_the_ca(serve: Serve, pki: PKI) -> None:
    running = serve(tls_cert=pki.server_cert, tls_key=pki.server_key, tls_client_ca=pki.ca_path)
    credentials = {
        "root_certificates": pki.ca,
        "certificate_chain": pki.client_cert,
        "private_key": pki.client_key,
    }

    async def work(client: AsyncClient) -> str:
        return await client.health()

    assert run(work, running.target, **credentials) == "SERVING"


@pytest.mark.parametrize("target", ["10.0.0.8:50051", "verify.internal:50051"])
def test_the_async_client_refuses_a_token_over_plaintext_beyond_loopback(target: str) -> None:
    with pytest.raises(ConfigurationError, match="clear text"):
        AsyncClient(target, token=TOKEN)


def test_the_async_client_shows_no_token() -> None:
    async def build() -> str:
        async with AsyncClient("127.0.0.1:1", token=TOKEN) as client:
            return repr(client)

    assert TOKEN not in asyncio.run(build())


def test_authenticator_codes_enroll_confirm_verify_and_remove(sidecar: Running) -> None:
    import pyotp

    async def work(client: AsyncClient) -> tuple[Any, ...]:
        enrollment = await client.totp.enroll("applicant-1", "ana@example.com")
        code = pyotp.TOTP(enrollment.secret_base32).now()  # accepted for 30 s more at least
        confirmed = await client.totp.confirm("applicant-1", enrollment.stored, code)
        replayed = await client.totp.verify("applicant-1", enrollment.stored, code)
        await client.totp.remove("applicant-1", enrollment.stored)
        return confirmed.reason, replayed.reason

    # The same code twice: the confirmation used it, so the verify is a replay.
    assert run(work, sidecar.target) == (Reason.APPROVED, Reason.REPLAYED)


def test_recovery_codes_generate_redeem_and_count(sidecar: Running) -> None:
    async def work(client: AsyncClient) -> tuple[Any, ...]:
        fresh = await client.recovery_codes.generate("applicant-1")
        verdict = await client.recovery_codes.redeem("applicant-1", fresh.stored, fresh.codes[0])
        assert isinstance(verdict.stored, str)
        return verdict.reason, await client.recovery_codes.count(verdict.stored)

    assert run(work, sidecar.target) == (Reason.APPROVED, 9)

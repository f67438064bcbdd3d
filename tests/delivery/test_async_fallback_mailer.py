"""AsyncFallbackMailer keeps FallbackMailer's promises, with async and sync routes alike."""

from __future__ import annotations

import asyncio

import pytest

from verifykit import DeliveryError
from verifykit.aio import AsyncFallbackMailer
from verifykit.delivery import render_otp_email
from verifykit.testing import Outbox


def _message():
    return render_otp_email(
        to="ana@example.com", sender="no-reply@example.com", code="123456", ttl_seconds=600
    )


class AsyncOutbox:
    def __init__(self, fail: DeliveryError | None = None) -> None:
        self.fail, self.sent = fail, []

    async def send(self, message) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append(message)


def test_the_fallback_route_delivers_when_the_primary_fails() -> None:
    primary, fallback = AsyncOutbox(DeliveryError("down", temporary=True)), Outbox()
    asyncio.run(AsyncFallbackMailer(primary, fallback).send(_message()))
    assert len(fallback) == 1


def test_when_both_fail_the_error_names_both_and_is_temporary_if_either_was() -> None:
    primary = AsyncOutbox(DeliveryError("primary down", temporary=True))
    fallback = AsyncOutbox(DeliveryError("fallback refused", temporary=False))
    with pytest.raises(DeliveryError) as caught:
        asyncio.run(AsyncFallbackMailer(primary, fallback).send(_message()))
    assert "primary down" in caught.value.message and "fallback refused" in caught.value.message
    assert caught.value.temporary

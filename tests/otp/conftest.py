from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from verifykit import AuditEvent, Keyring
from verifykit.otp import EmailOTP, OTPSettings
from verifykit.store import ChallengeStore, MemoryStore
from verifykit.testing import FakeClock, Outbox

MakeOTP = Callable[..., EmailOTP]


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def make_otp(store: ChallengeStore, keyring: Keyring, outbox: Outbox, events: list[AuditEvent]) -> MakeOTP:
    """An EmailOTP on the parametrized store; keyword arguments override settings."""

    def make(**settings: Any) -> EmailOTP:
        return EmailOTP(
            store=store, keyring=keyring, mailer=outbox, settings=OTPSettings(**settings), audit=events.append
        )

    return make


@pytest.fixture
def memory_otp(clock: FakeClock, keyring: Keyring, outbox: Outbox, events: list[AuditEvent]) -> MakeOTP:
    """An EmailOTP on a memory store whose time only moves when the test says so."""

    def make(**settings: Any) -> EmailOTP:
        return EmailOTP(
            store=MemoryStore(clock=clock),
            keyring=keyring,
            mailer=outbox,
            settings=OTPSettings(**settings),
            audit=events.append,
        )

    return make


from smtp_servers import smtp_server, unused_port  # noqa: E402 - real SMTP servers on loopback

__all__ = ["smtp_server", "unused_port"]

"""Email OTP fixtures: every behaviour test runs on every store backend, written once against the
sync methods.

``flavour`` (``tests/conftest.py``) is ``sync`` (:class:`verifykit.otp.EmailOTP`) or ``async``
(:class:`verifykit.aio.EmailOTP` on the async twin of the test's store, behind the same sync-looking
methods); the async run is kept where it proves code of its own (``tests/flavours.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flavours import Flavour, LoopThread
from verifykit import AuditEvent, Keyring, aio
from verifykit.otp import EmailOTP, OTPSettings
from verifykit.store import ChallengeStore, MemoryStore
from verifykit.testing import FakeClock, Outbox

MakeOTP = Callable[..., Any]


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.stop()


@pytest.fixture
def async_twin(request: pytest.FixtureRequest, loop_thread: LoopThread) -> Iterator[Callable[..., Any]]:
    """``async_twin(store, url=None, **options)``: an async store on the same backend and namespace."""
    opened: list[aio.AsyncChallengeStore] = []

    def twin(store: ChallengeStore, url: str | None = None, **options: Any) -> aio.AsyncChallengeStore:
        if isinstance(store, MemoryStore):
            return aio.AsyncMemoryStore(store)
        url = url if url is not None else str(request.getfixturevalue("store_url"))
        opened.append(new := aio.open_store(url, namespace=store.namespace, **options))
        return new

    yield twin
    for each in opened:
        loop_thread.run(each.close())


@pytest.fixture
def otp_for(flavour: Flavour, request: pytest.FixtureRequest) -> MakeOTP:
    """``otp_for(store=..., keyring=..., mailer=..., url=None, store_options={}, **kw)``: an EmailOTP
    of this test's flavour (``url`` and ``store_options`` open the async twin of a store not made by
    the ``store`` fixture)."""

    def make(
        *, store: ChallengeStore, url: str | None = None, store_options: Any = None, **kwargs: Any
    ) -> Any:
        if flavour.is_async and url is None and not isinstance(store, MemoryStore):
            url = str(request.getfixturevalue("store_url"))
        twin = flavour.twin(store, url or "", **(store_options or {}))
        return flavour.build(EmailOTP, aio.EmailOTP, store=twin, **kwargs)

    return make


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def make_otp(
    otp_for: MakeOTP, store: ChallengeStore, keyring: Keyring, outbox: Outbox, events: list[AuditEvent]
) -> MakeOTP:
    """An EmailOTP of each flavour on the parametrized store; keyword arguments override settings."""

    def make(**settings: Any) -> Any:
        return otp_for(
            store=store, keyring=keyring, mailer=outbox, settings=OTPSettings(**settings), audit=events.append
        )

    return make


@pytest.fixture
def memory_otp(
    otp_for: MakeOTP, clock: FakeClock, keyring: Keyring, outbox: Outbox, events: list[AuditEvent]
) -> MakeOTP:
    """An EmailOTP of each flavour on a memory store whose time only moves when the test says so."""

    def make(**settings: Any) -> Any:
        return otp_for(
            store=MemoryStore(clock=clock),
            keyring=keyring,
            mailer=outbox,
            settings=OTPSettings(**settings),
            audit=events.append,
        )

    return make


from smtp_servers import smtp_server, unused_port  # noqa: E402 - real SMTP servers on loopback

__all__ = ["smtp_server", "unused_port"]

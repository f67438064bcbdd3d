"""The asyncio store is the sync store's twin: the same operations, URLs and refusals.

Its behaviour is held to the sync store's by the whole store suite, which runs over both
flavours (``store_flavour``); this file checks the shape they share.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from store_support import RIGHT, challenge

from verifykit import ConfigurationError
from verifykit.aio import (
    AsyncChallengeStore,
    AsyncMemoryStore,
    AsyncRedisClusterStore,
    AsyncRedisStore,
    open_store,
)
from verifykit.store import AttemptOutcome, ChallengeStore
from verifykit.store import open_store as open_sync_store
from verifykit.testing import FakeClock

OPERATIONS = sorted(
    name
    for name, member in vars(ChallengeStore).items()
    if inspect.isfunction(member) and not name.startswith("_")
)


def test_the_async_store_offers_every_sync_operation_and_no_other() -> None:
    async_operations = sorted(
        name
        for name, member in vars(AsyncChallengeStore).items()
        if inspect.isfunction(member) and not name.startswith("_")
    )
    assert async_operations == OPERATIONS


@pytest.mark.parametrize("name", OPERATIONS)
def test_each_async_operation_takes_the_same_arguments_and_is_awaited(name: str) -> None:
    sync, awaited = getattr(ChallengeStore, name), getattr(AsyncChallengeStore, name)
    assert inspect.iscoroutinefunction(awaited)
    assert inspect.signature(awaited) == inspect.signature(sync)


@pytest.mark.parametrize(
    ("url", "flavour"),
    [
        ("memory://", AsyncMemoryStore),
        ("redis://127.0.0.1:6379/0", AsyncRedisStore),
        ("rediss://localhost:6379/0", AsyncRedisStore),
        ("unix:///tmp/redis.sock", AsyncRedisStore),
        ("redis+cluster://127.0.0.1:7000,127.0.0.1:7001", AsyncRedisClusterStore),
    ],
)
def test_open_store_picks_the_async_backend_the_url_names_without_connecting(url: str, flavour: type) -> None:
    assert type(open_store(url)) is flavour


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("mongodb://127.0.0.1/", {}),
        ("redis://127.0.0.1:6379/0", {"namespace": "a{b"}),
        ("redis://127.0.0.1:6379/0", {"clock": FakeClock()}),
        ("redis://127.0.0.1:6379/0?socket_timeout=0", {}),
        ("redis://127.0.0.1:6379/0", {"ssl_ca_certs": "/etc/ssl/ca.pem"}),
        ("redis+cluster://127.0.0.1:notaport", {}),
    ],
)
def test_open_store_refuses_what_the_sync_open_store_refuses(url: str, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as sync_refusal:
        open_sync_store(url, **options)
    with pytest.raises(ConfigurationError) as async_refusal:
        open_store(url, **options)
    assert str(async_refusal.value) == str(sync_refusal.value)


def test_a_rediss_async_store_checks_the_hostname_as_the_sync_one_does() -> None:
    store = open_store("rediss://localhost:6379/0")
    assert isinstance(store, AsyncRedisStore)
    assert store.options == open_sync_store("rediss://localhost:6379/0").options
    assert store.options["ssl_check_hostname"] is True


def test_an_async_memory_store_shares_state_with_the_memory_store_it_wraps() -> None:
    memory = AsyncMemoryStore()
    new = challenge()

    async def approve() -> AttemptOutcome:
        async with memory:
            await memory.create(new, retention=60)
            outcome, _, _ = await memory.attempt(new.id, [RIGHT])
            return outcome

    assert asyncio.run(approve()) is AttemptOutcome.APPROVED
    record = memory.sync.get(new.id)
    assert record is not None and record.status.value == "approved"

"""Password verifiers, written once against the sync methods; the ``flavour`` fixture
(``tests/conftest.py``) runs them over the asyncio API (:mod:`verifykit.aio`) where that proves
code of its own (``tests/flavours.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flavours import Flavour
from verifykit import AuditEvent, Keyring
from verifykit.aio import PasswordVerifier as AsyncPasswordVerifier
from verifykit.password import PasswordSettings, PasswordVerifier
from verifykit.store import MemoryStore
from verifykit.testing import FakeClock

MakeVerifier = Callable[..., PasswordVerifier]
__all__ = ["cheap", "make_verifier", "memory_verifier"]


def _factory(flavour: Flavour, keyring: Keyring, store: Callable[[], Any], audit: Any) -> MakeVerifier:
    def make(
        *, keyring: Keyring = keyring, audit: Any = audit, ways_in: Any = None, **settings: Any
    ) -> PasswordVerifier:
        settings.setdefault("preset", "cheap_tests_only")
        return flavour.build(
            PasswordVerifier,
            AsyncPasswordVerifier,
            store=store(),
            keyring=keyring,
            settings=PasswordSettings(**settings),
            audit=audit,
            ways_in=ways_in,
        )

    return make


@pytest.fixture
def make_verifier(
    flavour: Flavour, store_url: str, keyring: Keyring, events: list[AuditEvent]
) -> MakeVerifier:
    """A PasswordVerifier of each flavour on each store backend, the cheap preset, auditing to
    ``events``; keywords are settings (and ``keyring``, ``audit``, ``ways_in``). Verifiers it makes
    share one store."""
    store = flavour.store(store_url)
    return _factory(flavour, keyring, lambda: store, events.append)


@pytest.fixture
def cheap(flavour: Flavour, keyring: Keyring) -> MakeVerifier:
    """A PasswordVerifier of each flavour on a memory store of its own, the cheap preset, no audit."""
    return _factory(flavour, keyring, lambda: flavour.store("memory://"), None)


@pytest.fixture
def memory_verifier(
    flavour: Flavour, clock: FakeClock, keyring: Keyring, events: list[AuditEvent]
) -> MakeVerifier:
    """A cheap PasswordVerifier of each flavour on a memory store whose time moves only when the
    test says so."""
    return _factory(flavour, keyring, lambda: flavour.memory_store(MemoryStore(clock=clock)), events.append)

"""Fallback verifiers of each flavour on each store backend: every test here runs over the sync
API and the asyncio API (:mod:`verifykit.aio`), written once against the sync methods."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fallback_support import Build

from flavours import FLAVOURS
from verifier_flavours import Flavour
from verifykit import AuditEvent, Keyring
from verifykit.fallbacks import RecoveryCodes


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest, make_store: Any, make_async_store: Any) -> Iterator[Flavour]:
    """Each flavour in turn: ``sync`` (verifykit.fallbacks) and ``async`` (verifykit.aio)."""
    built = Flavour(str(request.param), make_store, make_async_store)
    yield built
    built.close()


@pytest.fixture
def build(flavour: Flavour, store_url: str, keyring: Keyring, events: list[AuditEvent]) -> Build:
    """Verifiers of each flavour sharing one store of each backend."""
    return Build(flavour, flavour.store(store_url), keyring, events)


@pytest.fixture
def recovery(build: Build) -> RecoveryCodes:
    return build.recovery()

"""Passkey verifiers on each store backend, written once against the sync methods; the
``flavour`` fixture (``tests/conftest.py``) runs them over the asyncio API where a test is marked
``async_too`` (``tests/flavours.py``)."""

from __future__ import annotations

import pytest
from passkey_support import SETTINGS, Build

from flavours import Flavour
from verifykit import AuditEvent, Keyring
from verifykit.passkey import PasskeyVerifier
from verifykit.store import MemoryStore
from verifykit.testing import FakeClock


@pytest.fixture
def build(flavour: Flavour, store_url: str, keyring: Keyring, events: list[AuditEvent]) -> Build:
    """Passkey verifiers of each flavour sharing one store of each backend."""
    return Build(flavour, flavour.store(store_url), keyring, events)


@pytest.fixture
def clocked(clock: FakeClock, keyring: Keyring, events: list[AuditEvent]) -> PasskeyVerifier:
    """A passkey verifier on a memory store whose clock moves only when the test says so."""
    return PasskeyVerifier(
        store=MemoryStore(clock=clock), keyring=keyring, settings=SETTINGS, audit=events.append
    )

"""Way verifiers on each store backend, written once against the sync methods; the ``flavour``
fixture (``tests/conftest.py``) runs them over the asyncio API (:mod:`verifykit.aio`) where that
proves code of its own (``tests/flavours.py``)."""

from __future__ import annotations

import pytest
from fallback_support import Build

from flavours import Flavour
from verifykit import AuditEvent, Keyring
from verifykit.fallbacks import RecoveryCodes


@pytest.fixture
def build(flavour: Flavour, store_url: str, keyring: Keyring, events: list[AuditEvent]) -> Build:
    """Verifiers of each flavour sharing one store of each backend."""
    return Build(flavour, flavour.store(store_url), keyring, events)


@pytest.fixture
def recovery(build: Build) -> RecoveryCodes:
    return build.recovery()

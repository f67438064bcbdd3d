"""Voucher services of each flavour on each store backend, and officers with keys of their own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from voucher_support import Counter, Officers

from flavours import FLAVOURS
from verifier_flavours import Flavour
from verifykit import AuditEvent, Keyring


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest, make_store: Any, make_async_store: Any) -> Iterator[Flavour]:
    """Each flavour in turn: ``sync`` (verifykit.vouchers) and ``async`` (verifykit.aio)."""
    built = Flavour(str(request.param), make_store, make_async_store)
    yield built
    built.close()


@pytest.fixture
def officers() -> Officers:
    """Three active officers (``alice``, ``alice `` and a Cyrillic ``\u0430lice``) and a revoked one."""
    return Officers()


@pytest.fixture
def counter(
    flavour: Flavour, store_url: str, keyring: Keyring, events: list[AuditEvent], officers: Officers
) -> Counter:
    """Voucher services of the test's flavour on one store of each backend."""
    return Counter(flavour, flavour.store(store_url), keyring, events, officers)

"""Voucher services of each flavour on each store backend, and officers with keys of their own."""

from __future__ import annotations

import pytest
from voucher_support import Counter, Officers

from flavours import Flavour
from verifykit import AuditEvent, Keyring


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

"""The ladder and the verifiers it reads, on each store backend, written once against the sync
methods; the ``flavour`` fixture (``tests/conftest.py``) runs them over the asyncio API
(:mod:`verifykit.aio`) where that proves code of its own (``tests/flavours.py``)."""

from __future__ import annotations

import pytest
from ladder_support import Tour

from flavours import Flavour
from verifykit import Keyring


@pytest.fixture
def tour(flavour: Flavour, store_url: str, keyring: Keyring) -> Tour:
    """The ladder and the verifiers of each flavour, sharing one store of each backend."""
    return Tour(flavour, flavour.store(store_url), keyring)

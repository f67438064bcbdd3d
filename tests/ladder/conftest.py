"""The ladder and the verifiers it reads, of each flavour on each store backend: every test here
runs over the sync API and the asyncio API (:mod:`verifykit.aio`), written once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ladder_support import Tour

from flavours import FLAVOURS
from verifier_flavours import Flavour
from verifykit import Keyring


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest, make_store: Any, make_async_store: Any) -> Iterator[Flavour]:
    """Each flavour in turn: ``sync`` and ``async`` (verifykit.aio)."""
    built = Flavour(str(request.param), make_store, make_async_store)
    yield built
    built.close()


@pytest.fixture
def tour(flavour: Flavour, store_url: str, keyring: Keyring) -> Tour:
    """The ladder and the verifiers of each flavour, sharing one store of each backend."""
    return Tour(flavour, flavour.store(store_url), keyring)

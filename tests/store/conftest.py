"""The store suite's fixtures: a store per backend and flavour, plus a way to let time pass on it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from store_support import Backend, real_time

from verifykit.store import ChallengeStore
from verifykit.testing import FakeClock


@pytest.fixture
def store(store_url: str, store_flavour: str, make_store: Callable[..., ChallengeStore]) -> ChallengeStore:
    """A store on each backend, in each flavour (the async one driven through the sync methods)."""
    return make_store(store_url, flavour=store_flavour)


@pytest.fixture
def backend(store_url: str, store_flavour: str, make_store: Callable[..., ChallengeStore]) -> Backend:
    """On memory:// time is a FakeClock the test moves; on Redis it is the server's clock,
    so tests use short real TTLs and sleep just past them."""
    if store_url.startswith("memory:"):
        clock = FakeClock()
        store = make_store(store_url, flavour=store_flavour, clock=clock)
        return Backend("memory", store_url, store, clock.advance)
    name = "cluster" if "+cluster://" in store_url else "redis"
    return Backend(name, store_url, make_store(store_url, flavour=store_flavour), real_time)

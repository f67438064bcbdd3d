"""The store suite's fixture: a store per backend plus a way to let time pass on it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from store_support import Backend, real_time

from verifykit.store import ChallengeStore
from verifykit.testing import FakeClock


@pytest.fixture
def backend(store_url: str, make_store: Callable[..., ChallengeStore]) -> Backend:
    """On memory:// time is a FakeClock the test moves; on Redis it is the server's clock,
    so tests use short real TTLs and sleep just past them."""
    if store_url.startswith("memory:"):
        clock = FakeClock()
        return Backend("memory", store_url, make_store(store_url, clock=clock), clock.advance)
    name = "cluster" if "+cluster://" in store_url else "redis"
    return Backend(name, store_url, make_store(store_url), real_time)

"""Fixtures for the fault suite: a fault proxy in front of the shared Redis server."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from proxy import FaultProxy


@pytest.fixture
def fault_proxy(redis_url: str) -> Iterator[FaultProxy]:
    """A :class:`FaultProxy` in front of the test Redis server, healed and closed afterwards."""
    parts = urlsplit(redis_url)
    with FaultProxy((parts.hostname or "127.0.0.1", parts.port or 6379)) as proxy:
        yield proxy

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from verifykit import AuditEvent, Keyring
from verifykit.password import PasswordVerifier
from verifykit.store import ChallengeStore, MemoryStore
from verifykit.testing import FakeClock

MakeVerifier = Callable[..., PasswordVerifier]


@pytest.fixture
def make_verifier(store: ChallengeStore, keyring: Keyring, events: list[AuditEvent]) -> MakeVerifier:
    """A PasswordVerifier on the parametrized store with the cheap preset; keywords override."""

    def make(**options: Any) -> PasswordVerifier:
        options.setdefault("preset", "cheap_tests_only")
        return PasswordVerifier(store=store, keyring=keyring, audit=events.append, **options)

    return make


@pytest.fixture
def memory_verifier(clock: FakeClock, keyring: Keyring, events: list[AuditEvent]) -> MakeVerifier:
    """A cheap PasswordVerifier on a memory store whose time moves only when the test says so."""

    def make(**options: Any) -> PasswordVerifier:
        options.setdefault("preset", "cheap_tests_only")
        return PasswordVerifier(
            store=MemoryStore(clock=clock), keyring=keyring, audit=events.append, **options
        )

    return make

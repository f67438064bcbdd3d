"""Fixtures for the fallback verifiers: each on the parametrized store, recording audit events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from verifykit import AuditEvent, Keyring
from verifykit.fallbacks import AssistedCheck, RecoveryCodes, TOTPSettings, TOTPVerifier
from verifykit.store import ChallengeStore

MakeTOTP = Callable[..., TOTPVerifier]


@pytest.fixture
def make_totp(store: ChallengeStore, keyring: Keyring, events: list[AuditEvent]) -> MakeTOTP:
    """A TOTPVerifier on the parametrized store; keyword arguments override settings."""

    def make(**settings: Any) -> TOTPVerifier:
        return TOTPVerifier(
            store=store, keyring=keyring, settings=TOTPSettings(**settings), audit=events.append
        )

    return make


@pytest.fixture
def recovery(store: ChallengeStore, keyring: Keyring, events: list[AuditEvent]) -> RecoveryCodes:
    return RecoveryCodes(store=store, keyring=keyring, audit=events.append)


@pytest.fixture
def assisted(store: ChallengeStore, keyring: Keyring, events: list[AuditEvent]) -> AssistedCheck:
    return AssistedCheck(store=store, keyring=keyring, audit=events.append)

"""Every verifier, in both flavours, refuses a missing store or keyring when it is built, saying
what to pass, instead of failing later with an AttributeError (INTERNAL over the sidecar)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from verifykit import ConfigurationError, Keyring, aio
from verifykit.delivery import Outbox
from verifykit.face import FaceIndex, FaceVerifier
from verifykit.fallbacks import RecoveryCodes, TOTPVerifier
from verifykit.ladder import Ladder
from verifykit.otp import EmailOTP
from verifykit.password import PasswordVerifier
from verifykit.store import MemoryStore
from verifykit.vouchers import OfficerRegistry, Vouchers


def _sink(_event: object) -> None:
    return None


BUILDERS: dict[str, Callable[..., Any]] = {
    "EmailOTP": lambda **kw: EmailOTP(mailer=Outbox(), **kw),
    "aio.EmailOTP": lambda **kw: aio.EmailOTP(mailer=Outbox(), **kw),
    "PasswordVerifier": PasswordVerifier,
    "aio.PasswordVerifier": aio.PasswordVerifier,
    "FaceVerifier": FaceVerifier,
    "aio.FaceVerifier": aio.FaceVerifier,
    "FaceIndex": lambda *, store, keyring: FaceIndex(keyring, store=store),
    "aio.FaceIndex": lambda *, store, keyring: aio.FaceIndex(keyring, store=store),
    "TOTPVerifier": TOTPVerifier,
    "aio.TOTPVerifier": aio.TOTPVerifier,
    "RecoveryCodes": RecoveryCodes,
    "aio.RecoveryCodes": aio.RecoveryCodes,
    "Ladder": Ladder,
    "aio.Ladder": aio.Ladder,
    "Vouchers": lambda **kw: Vouchers(registry=OfficerRegistry.empty(), audit=_sink, **kw),
    "aio.Vouchers": lambda **kw: aio.Vouchers(registry=OfficerRegistry.empty(), audit=_sink, **kw),
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_a_verifier_without_a_store_is_refused_when_built(name: str) -> None:
    with pytest.raises(ConfigurationError, match="needs a store"):
        BUILDERS[name](store=None, keyring=Keyring.generate())


@pytest.mark.parametrize("name", list(BUILDERS))
@pytest.mark.parametrize("keyring", [None, "k1:c2VjcmV0"], ids=["none", "a-string"])
def test_a_verifier_without_a_keyring_is_refused_when_built(name: str, keyring: object) -> None:
    with pytest.raises(ConfigurationError, match="needs a keyring"):
        BUILDERS[name](store=MemoryStore(), keyring=keyring)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_a_verifier_with_both_is_built(name: str) -> None:
    assert BUILDERS[name](store=MemoryStore(), keyring=Keyring.generate()) is not None

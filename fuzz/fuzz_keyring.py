"""Keyring strings (``tag:base64,kid:base64,…``) from configuration and the environment."""

from __future__ import annotations

from verifykit import Keyring

from ._support import Input, typed

MAX_LEN = 4096


def TestOneInput(data: bytes) -> None:
    text = Input(data).text(2000)
    keyring = typed(lambda: Keyring.from_string(text))
    if keyring is None:
        return
    assert keyring.current_id in keyring.key_ids
    sealed = keyring.seal("fuzz", b"payload", aad=b"context")
    assert keyring.open("fuzz", sealed, aad=b"context") == b"payload"
    repr(keyring)

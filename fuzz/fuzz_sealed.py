"""Sealed blobs handed back by callers (TOTP secrets, templates, indexes) before authentication."""

from __future__ import annotations

from verifykit import Keyring

from ._support import Input, typed

MAX_LEN = 4096
_KEYRING = Keyring.from_string(
    ",".join(
        [
            "tag:" + "A" * 43,
            "old:" + "B" * 43,
            "k1:" + "C" * 43,
        ]
    )
)


def TestOneInput(data: bytes) -> None:
    given = Input(data)
    aad = given.text(64).encode("utf-8", "surrogateescape") if given.flag() else b"subject"
    blob = given.rest()
    kid = typed(lambda: Keyring.sealed_key_id(blob))
    opened = typed(lambda: _KEYRING.open("fuzz", blob, aad=aad))
    if opened is not None:
        # Only what this keyring sealed, for this context, opens.
        assert kid in _KEYRING.key_ids and aad == b"subject" and opened == b"secret"

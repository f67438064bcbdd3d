"""Counter vouchers: the text a person brings (or its decoded bytes), and the officer registry."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifykit.vouchers import (
    Inspection,
    OfficerRegistry,
    VoucherSettings,
    decode_voucher,
    inspect_voucher,
)

from ._support import Input, typed

MAX_LEN = 4096
NOW = 1_700_000_000.0
SUBJECT = "fuzz-subject"
#: Fixed officer keys, so seeds made with them stay valid.
OFFICERS = tuple(Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32) for n in (1, 2, 3))
_REGISTRY = (
    OfficerRegistry.empty()
    .add(OFFICERS[0].public_key(), "Officer One", at=NOW - 86400)
    .add(OFFICERS[1].public_key(), "Officer Two", at=NOW - 86400)
    .add(OFFICERS[2].public_key(), "Officer Three", at=NOW - 86400)
)
_REGISTRY = _REGISTRY.revoke(next(o.key_id for o in _REGISTRY if o.name == "Officer Three"), at=NOW - 3600)
_SETTINGS = VoucherSettings()


def _inspect(text: str) -> None:
    # Never raises for a bad voucher: the refusal says why.
    inspection = inspect_voucher(text, _REGISTRY, _SETTINGS, now=NOW, subject=SUBJECT)
    assert isinstance(inspection, Inspection)
    voucher = typed(lambda: decode_voucher(text))
    assert (voucher is None) == (inspection.voucher is None)
    if voucher is not None:
        assert decode_voucher(voucher.encode()) == voucher  # one text per voucher


def TestOneInput(data: bytes) -> None:
    given = Input(data)
    mode = given.pick(3)
    if mode == 0:
        _inspect(given.text())
    elif mode == 1:  # the binary format itself, as its base64url text
        _inspect(base64.urlsafe_b64encode(given.rest()).decode("ascii").rstrip("="))
    else:
        registry = typed(lambda: OfficerRegistry.from_json(given.rest()))
        if registry is not None:
            assert OfficerRegistry.from_json(registry.to_json()).to_json() == registry.to_json()

"""Weak officer keys: a public key of small order (or a non-canonical encoding) lets anyone forge
that officer's signatures, so no such key is admitted, whether added, loaded or checked against."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verifykit import ConfigurationError, InvalidInput, Keyring
from verifykit.store import MemoryStore
from verifykit.vouchers import (
    Officer,
    OfficerRegistry,
    OfficerState,
    RegistryFile,
    Vouchers,
    VoucherSignature,
    check_public_key,
    decode_voucher,
    generate_officer_key,
    issue_voucher,
    key_id,
    load_public_key,
)
from verifykit.vouchers._ed25519 import KeyWeakness, public_key_weakness

IDENTITY = bytes.fromhex("01" + "00" * 31)

#: The eight points whose order divides 8, each in its one canonical encoding (libsodium's
#: ``has_small_order`` list, with the x-sign bit both ways where x is not 0).
SMALL_ORDER = {
    "identity (order 1)": IDENTITY.hex(),
    "(0, -1) (order 2)": "ec" + "ff" * 30 + "7f",
    "y = 0, x even (order 4)": "00" * 32,
    "y = 0, x odd (order 4)": "00" * 31 + "80",
    "order 8 (a)": "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "order 8 (a, -x)": "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "order 8 (b)": "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "order 8 (b, -x)": "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
}

NON_CANONICAL = {
    "y = p (the order-4 y = 0)": "ed" + "ff" * 30 + "7f",
    "y = p + 1 (the identity again)": "ee" + "ff" * 30 + "7f",
    "y = p + 1 with the sign bit": "ee" + "ff" * 31,
    "y = 2^255 - 1": "ff" * 31 + "7f",
    "the identity with the x-sign bit set, x = 0": "01" + "00" * 30 + "80",
    "(0, -1) with the x-sign bit set, x = 0": "ec" + "ff" * 31,
}

WEAK = {**SMALL_ORDER, **NON_CANONICAL}


def raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def weak_registry_file(path: Path, public_key: bytes) -> RegistryFile:
    """A registry file listing ``public_key`` as an active officer, as an editor could write it."""
    entry = {
        "key_id": key_id(public_key),
        "name": "mallory",
        "public_key": base64.urlsafe_b64encode(public_key).decode().rstrip("="),
        "state": "active",
        "added_at": 0.0,
        "revoked_at": None,
    }
    path.write_text(json.dumps({"format": "verifykit-officers", "version": 1, "officers": [entry]}))
    path.chmod(0o644)
    return RegistryFile(path)


def forged_voucher(subject: str) -> str:
    """A voucher "signed" for the identity key with R = identity, S = 0: no private key involved."""
    genuine = decode_voucher(
        issue_voucher(generate_officer_key(), subject=subject, reason="locked_out", unlocks=["password"])
    )
    forged = VoucherSignature(key_id(IDENTITY), IDENTITY + bytes(32))
    return replace(genuine, signatures=(forged,)).encode()


def test_the_forgery_is_real_for_the_underlying_verifier() -> None:
    # Why the check exists: Ed25519 verification alone accepts (identity, 0) for every message.
    Ed25519PublicKey.from_public_bytes(IDENTITY).verify(IDENTITY + bytes(32), b"any message at all")


def test_sound_keys_pass() -> None:
    for _ in range(20):
        public = raw(generate_officer_key().public_key())
        assert public_key_weakness(public) is None
        assert check_public_key(public) == public


@pytest.mark.parametrize("encoding", SMALL_ORDER.values(), ids=SMALL_ORDER.keys())
def test_every_point_of_small_order_is_weak(encoding: str) -> None:
    assert public_key_weakness(bytes.fromhex(encoding)) is KeyWeakness.SMALL_ORDER


@pytest.mark.parametrize("encoding", NON_CANONICAL.values(), ids=NON_CANONICAL.keys())
def test_a_non_canonical_encoding_is_weak(encoding: str) -> None:
    assert public_key_weakness(bytes.fromhex(encoding)) is KeyWeakness.NON_CANONICAL


def test_bytes_that_are_no_point_are_refused() -> None:
    assert public_key_weakness((2).to_bytes(32, "little")) is KeyWeakness.NOT_A_POINT
    assert public_key_weakness(bytes(31)) is KeyWeakness.LENGTH


@pytest.mark.parametrize("encoding", WEAK.values(), ids=WEAK.keys())
def test_a_weak_key_cannot_be_added(encoding: str) -> None:
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(encoding))
    with pytest.raises(InvalidInput, match="make a new key pair"):
        OfficerRegistry.empty().add(public, "mallory")


def test_a_weak_key_in_pem_is_refused_when_read() -> None:
    pem = Ed25519PublicKey.from_public_bytes(IDENTITY).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InvalidInput, match="small-order"):
        load_public_key(pem)


def test_no_officer_is_made_with_a_weak_key() -> None:
    with pytest.raises(InvalidInput):
        Officer(key_id(IDENTITY), "mallory", IDENTITY, OfficerState.ACTIVE, 0.0)


@pytest.mark.parametrize("encoding", WEAK.values(), ids=WEAK.keys())
def test_a_registry_file_listing_a_weak_key_is_refused(tmp_path: Path, encoding: str) -> None:
    registry = weak_registry_file(tmp_path / "officers.json", bytes.fromhex(encoding))
    with pytest.raises(ConfigurationError, match="remove the entry"):
        registry.current()


def test_a_voucher_forged_for_the_identity_key_unlocks_nothing(tmp_path: Path) -> None:
    vouchers = Vouchers(
        store=MemoryStore(),
        keyring=Keyring.generate(),
        registry=weak_registry_file(tmp_path / "officers.json", IDENTITY),
        audit=list().append,
    )
    with pytest.raises(ConfigurationError):
        vouchers.redeem("user-1", forged_voucher("user-1"))

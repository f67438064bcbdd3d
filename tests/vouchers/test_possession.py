"""Proof of possession: a public key from elsewhere joins a registry only with its holder's
signature over a purpose string, that registry's id and the key, so no one registers a key they
do not hold, and a proof made for one registry admits nothing in another."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verifykit import ConfigurationError, InvalidInput
from verifykit.vouchers import (
    OfficerRegistry,
    RegistryFile,
    generate_officer_key,
    key_id,
    possession_proof,
    verify_possession,
)

ALICE = generate_officer_key()
MALLORY = generate_officer_key()
IDENTITY = bytes.fromhex("01" + "00" * 31)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_a_proof_made_with_the_key_for_this_registry_admits_it() -> None:
    registry = OfficerRegistry.empty()
    assert registry.registry_id is not None
    proof = possession_proof(ALICE, registry_id=registry.registry_id)
    [officer] = registry.add_proven(ALICE.public_key(), "alice", proof)
    assert officer.key_id == key_id(ALICE.public_key())


def test_a_proof_made_for_another_registry_is_refused() -> None:
    elsewhere, here = OfficerRegistry.empty(), OfficerRegistry.empty()
    assert elsewhere.registry_id is not None
    proof = possession_proof(ALICE, registry_id=elsewhere.registry_id)
    with pytest.raises(InvalidInput, match="made for registry"):
        here.add_proven(ALICE.public_key(), "alice", proof)


def test_a_proof_made_with_another_key_is_refused() -> None:
    registry = OfficerRegistry.empty()
    assert registry.registry_id is not None
    proof = possession_proof(MALLORY, registry_id=registry.registry_id)
    with pytest.raises(InvalidInput, match="not for this public key"):
        registry.add_proven(ALICE.public_key(), "alice", proof)


def test_a_proof_naming_the_key_but_signed_by_another_is_refused() -> None:
    registry = OfficerRegistry.empty()
    assert registry.registry_id is not None
    theirs = base64.urlsafe_b64decode(possession_proof(MALLORY, registry_id=registry.registry_id) + "==")
    claimed = theirs[:17] + bytes.fromhex(key_id(ALICE.public_key())) + theirs[33:]
    with pytest.raises(InvalidInput, match="does not verify"):
        registry.add_proven(ALICE.public_key(), "alice", b64(claimed))


def test_a_forged_proof_for_the_identity_key_is_refused() -> None:
    # (identity, 0) verifies for any message under the identity key: the weak-key check stops it.
    registry = OfficerRegistry.empty()
    assert registry.registry_id is not None
    forged = (
        b"\x01" + bytes.fromhex(registry.registry_id) + bytes.fromhex(key_id(IDENTITY)) + IDENTITY + bytes(32)
    )
    with pytest.raises(InvalidInput, match="small-order"):
        registry.add_proven(Ed25519PublicKey.from_public_bytes(IDENTITY), "mallory", b64(forged))


@pytest.mark.parametrize(
    "proof", ["", "not base64!", "AAAA", "version-2"], ids=["empty", "text", "short", "v2"]
)
def test_something_that_is_not_a_proof_is_refused(proof: str) -> None:
    registry = OfficerRegistry.empty()
    assert registry.registry_id is not None
    if proof == "version-2":
        good = base64.urlsafe_b64decode(possession_proof(ALICE, registry_id=registry.registry_id) + "==")
        proof = b64(b"\x02" + good[1:])
    with pytest.raises(InvalidInput, match="not a proof of possession"):
        verify_possession(ALICE.public_key(), proof, registry_id=registry.registry_id)


def test_a_registry_without_an_id_admits_no_proven_key() -> None:
    legacy = OfficerRegistry({})
    with pytest.raises(ConfigurationError, match="officer init"):
        legacy.add_proven(ALICE.public_key(), "alice", "anything")


def test_the_registry_id_is_kept_through_adding_revoking_and_saving(tmp_path: Path) -> None:
    registry = OfficerRegistry.empty()
    changed = registry.add(ALICE.public_key(), "alice").revoke(key_id(ALICE.public_key()))
    RegistryFile(tmp_path / "officers.json").save(changed)
    assert RegistryFile(tmp_path / "officers.json").current().registry_id == registry.registry_id


def test_a_registry_written_before_ids_is_read_and_given_one_keeping_its_officers(tmp_path: Path) -> None:
    path = tmp_path / "officers.json"
    RegistryFile(path).save(OfficerRegistry.empty().add(ALICE.public_key(), "alice"))
    doc = json.loads(path.read_text())
    del doc["registry_id"]
    path.write_text(json.dumps(doc))
    legacy = RegistryFile(path).current()
    assert legacy.registry_id is None and len(legacy) == 1
    given = legacy.with_registry_id()
    assert given.registry_id is not None and list(given) == list(legacy)


def test_a_malformed_registry_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "officers.json"
    path.write_text(
        json.dumps({"format": "verifykit-officers", "version": 1, "registry_id": "x", "officers": []})
    )
    with pytest.raises(ConfigurationError, match="registry_id"):
        RegistryFile(path).current()

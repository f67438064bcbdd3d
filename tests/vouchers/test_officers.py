"""The officer registry: officers are their keys, revocation is final, and the file the operator
keeps is read only when it is whole, valid and writable by its owner alone."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from verifykit import ConfigurationError, InvalidInput
from verifykit.vouchers import OfficerRegistry, OfficerState, RegistryFile, generate_officer_key, key_id

ALICE = generate_officer_key()
BOB = generate_officer_key()


def test_officers_with_look_alike_names_are_distinct_by_key() -> None:
    keys = [generate_officer_key() for _ in range(3)]
    registry = OfficerRegistry.empty()
    for key, name in zip(keys, ["alice", "alice ", "\u0430lice"], strict=True):
        registry = registry.add(key.public_key(), name)
    assert len({o.key_id for o in registry}) == 3


def test_the_key_id_is_the_truncated_sha256_of_the_raw_public_key() -> None:
    registry = OfficerRegistry.empty().add(ALICE.public_key(), "alice")
    [officer] = registry
    assert officer.key_id == key_id(ALICE.public_key()) == key_id(officer.public_key)
    assert len(officer.key_id) == 32 and officer.state is OfficerState.ACTIVE


def test_a_key_is_registered_once_whatever_the_name() -> None:
    registry = OfficerRegistry.empty().add(ALICE.public_key(), "alice")
    with pytest.raises(InvalidInput):
        registry.add(ALICE.public_key(), "someone else")


def test_revocation_is_final() -> None:
    registry = OfficerRegistry.empty().add(ALICE.public_key(), "alice").revoke(key_id(ALICE.public_key()))
    officer = registry.get(key_id(ALICE.public_key()))
    assert officer is not None and officer.state is OfficerState.REVOKED and officer.revoked_at is not None
    with pytest.raises(InvalidInput):
        registry.add(ALICE.public_key(), "alice")


def test_revoking_an_unknown_key_id_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        OfficerRegistry.empty().revoke("00" * 16)


@pytest.mark.parametrize("name", ["", "   ", "a\nb", "x" * 129])
def test_a_malformed_display_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        OfficerRegistry.empty().add(ALICE.public_key(), name)


def test_look_alike_names_are_pointed_out() -> None:
    registry = OfficerRegistry.empty().add(ALICE.public_key(), "Alice ")
    assert [o.name for o in registry.look_alikes("alice")] == ["Alice "]
    assert registry.look_alikes("bob") == []


def test_the_registry_file_reads_back_what_was_saved(tmp_path: Path) -> None:
    registry = OfficerRegistry.empty().add(ALICE.public_key(), "alice").add(BOB.public_key(), "bob")
    registry = registry.revoke(key_id(BOB.public_key()))
    RegistryFile(tmp_path / "officers.json").save(registry)
    assert RegistryFile(tmp_path / "officers.json").current() == registry


def test_a_registry_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    file = RegistryFile(tmp_path / "officers.json")
    file.save(OfficerRegistry.empty().add(ALICE.public_key(), "alice"))
    assert len(file.current()) == 1
    RegistryFile(file.path).save(file.current().add(BOB.public_key(), "bob"))
    assert len(file.current()) == 2


def test_an_entry_whose_key_id_does_not_match_its_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "officers.json"
    RegistryFile(path).save(OfficerRegistry.empty().add(ALICE.public_key(), "alice"))
    doc = json.loads(path.read_text())
    doc["officers"][0]["key_id"] = key_id(BOB.public_key())
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigurationError):
        RegistryFile(path).current()


def test_an_officer_listed_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "officers.json"
    RegistryFile(path).save(OfficerRegistry.empty().add(ALICE.public_key(), "alice"))
    doc = json.loads(path.read_text())
    doc["officers"].append(dict(doc["officers"][0], state="active"))
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigurationError):
        RegistryFile(path).current()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_registry_file_others_can_write_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "officers.json"
    RegistryFile(path).save(OfficerRegistry.empty())
    path.chmod(0o666)
    with pytest.raises(ConfigurationError):
        RegistryFile(path).current()


@pytest.mark.parametrize("content", [b"", b"[]", b'{"format": "other"}', b'{"format": "verifykit-officers"}'])
def test_a_file_that_is_not_a_registry_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "officers.json"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError):
        RegistryFile(path).current()


def test_a_missing_registry_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        RegistryFile(tmp_path / "absent.json").current()

"""The officer registry: officers are their keys, revocation is final, and the file the operator
keeps is read only when it is whole, valid and writable by its owner alone."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from verifykit import ConfigurationError, InvalidInput
from verifykit.vouchers import OfficerRegistry, OfficerState, RegistryFile, generate_officer_key, key_id

ALICE = generate_officer_key()
BOB = generate_officer_key()
posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes and owners are POSIX")


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


@posix_only
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


# -- who can change the registry file ----------------------------------------------------------


@pytest.fixture
def give_away(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Make a path belong to another user: chown as root; otherwise this process takes another
    uid, so every path it owns looks foreign (its directory included)."""

    def give(path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, 65534, -1)
        else:
            uid = os.geteuid()
            monkeypatch.setattr(os, "geteuid", lambda: uid + 1)

    return give


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    """A sound registry file naming alice, in a directory of its own (mode 0700)."""
    folder = tmp_path / "etc"
    folder.mkdir(mode=0o700)
    RegistryFile(folder / "officers.json").save(OfficerRegistry.empty().add(ALICE.public_key(), "alice"))
    return folder / "officers.json"


@posix_only
def test_a_registry_file_owned_by_its_user_in_a_private_directory_is_read(registry_path: Path) -> None:
    assert len(RegistryFile(registry_path).current()) == 1


@posix_only
def test_a_registry_reached_through_a_symbolic_link_is_refused(registry_path: Path) -> None:
    link = registry_path.parent / "linked.json"
    link.symlink_to(registry_path.name)
    with pytest.raises(ConfigurationError, match="symbolic link"):
        RegistryFile(link).current()


@posix_only
def test_a_registry_replaced_by_a_symbolic_link_after_reading_is_refused(registry_path: Path) -> None:
    file = RegistryFile(registry_path)
    file.current()
    other = registry_path.parent / "other.json"
    registry_path.rename(other)
    registry_path.symlink_to(other.name)
    with pytest.raises(ConfigurationError, match="symbolic link"):
        file.current()


@posix_only
@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777], ids=oct)
def test_a_registry_in_a_directory_group_or_others_can_write_is_refused(
    registry_path: Path, mode: int
) -> None:
    registry_path.parent.chmod(mode)
    with pytest.raises(ConfigurationError, match=r"directory .* is writable by group or others.*chmod go-w"):
        RegistryFile(registry_path).current()


@posix_only
def test_a_registry_owned_by_another_user_is_refused(
    registry_path: Path, give_away: Callable[[Path], None]
) -> None:
    give_away(registry_path)
    with pytest.raises(ConfigurationError, match=r"is owned by uid .*chown it"):
        RegistryFile(registry_path).current()


@posix_only
def test_a_registry_in_a_directory_owned_by_another_user_is_refused(
    registry_path: Path, give_away: Callable[[Path], None]
) -> None:
    give_away(registry_path.parent)
    with pytest.raises(ConfigurationError, match=r"directory .* is owned by uid"):
        RegistryFile(registry_path).current()


def test_a_registry_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "officers.json").mkdir()
    with pytest.raises(ConfigurationError):
        RegistryFile(tmp_path / "officers.json").current()

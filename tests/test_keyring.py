"""The keyring: digests and sealing under rotatable, purpose-separated keys."""

from __future__ import annotations

import pytest

from verifykit import ConfigurationError, Keyring, KeyringError


def test_a_digest_names_its_key_and_verifies() -> None:
    ring = Keyring.generate("k1")
    digest = ring.digest("otp", b"123456")
    assert digest.startswith("k1:") and len(digest) == 3 + 64
    assert ring.verify_digest("otp", b"123456", digest)
    assert not ring.verify_digest("otp", b"123457", digest)


def test_purposes_use_separate_keys() -> None:
    ring = Keyring.generate()
    assert ring.digest("otp", b"x") != ring.digest("other", b"x")


def test_a_digest_made_before_rotation_still_verifies_after_it() -> None:
    old = Keyring.new_key_string("k1")
    digest = Keyring.from_string(old).digest("otp", b"123456")
    rotated = Keyring.from_string(old + "," + Keyring.new_key_string("k2"))
    assert rotated.current_id == "k2"
    assert rotated.verify_digest("otp", b"123456", digest)
    assert digest in rotated.digests("otp", b"123456")


def test_sealed_data_opens_with_the_same_purpose_and_context_only() -> None:
    ring = Keyring.generate()
    blob = ring.seal("template", b"secret bytes", aad=b"subject-1")
    assert ring.open("template", blob, aad=b"subject-1") == b"secret bytes"
    with pytest.raises(KeyringError):
        ring.open("template", blob, aad=b"subject-2")
    with pytest.raises(KeyringError):
        ring.open("other", blob, aad=b"subject-1")


def test_tampered_sealed_data_is_refused() -> None:
    ring = Keyring.generate()
    blob = bytearray(ring.seal("template", b"secret bytes"))
    blob[-1] ^= 1
    with pytest.raises(KeyringError):
        ring.open("template", bytes(blob))


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x02abc", b"\x01\x02k1" + b"\x00" * 5])
def test_garbage_is_not_a_sealed_blob(blob: bytes) -> None:
    with pytest.raises(KeyringError):
        Keyring.generate().open("template", blob)


def test_data_sealed_under_an_old_key_opens_after_rotation_and_names_that_key() -> None:
    old = Keyring.new_key_string("k1")
    blob = Keyring.from_string(old).seal("template", b"t")
    rotated = Keyring.from_string(old + "," + Keyring.new_key_string("k2"))
    assert rotated.open("template", blob) == b"t"
    assert Keyring.sealed_key_id(blob) == "k1"
    assert Keyring.sealed_key_id(rotated.seal("template", b"t")) == "k2"


def test_data_sealed_under_a_removed_key_cannot_be_opened() -> None:
    blob = Keyring.generate("k1").seal("template", b"t")
    with pytest.raises(KeyringError):
        Keyring.generate("k2").open("template", blob)


@pytest.mark.parametrize("text", ["", "k1", "k1:short", "bad id!:" + "A" * 43, "k1:***"])
def test_malformed_key_strings_are_configuration_errors(text: str) -> None:
    with pytest.raises(ConfigurationError):
        Keyring.from_string(text)


def test_from_env_names_the_variable_when_it_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VERIFYKIT_KEYS", raising=False)
    with pytest.raises(ConfigurationError, match="VERIFYKIT_KEYS"):
        Keyring.from_env()


def test_repr_never_shows_key_material() -> None:
    entry = Keyring.new_key_string("k1")
    assert entry.split(":")[1] not in repr(Keyring.from_string(entry))

"""The keyring: digests and sealing under rotatable, purpose-separated keys."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from verifykit import ConfigurationError, Keyring, KeyringError
from verifykit._subject import stable_tag, subject_tag


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
    old = Keyring.new_keyring_string("k1")
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
    old = Keyring.new_keyring_string("k1")
    blob = Keyring.from_string(old).seal("template", b"t")
    rotated = Keyring.from_string(old + "," + Keyring.new_key_string("k2"))
    assert rotated.open("template", blob) == b"t"
    assert Keyring.sealed_key_id(blob) == "k1"
    assert Keyring.sealed_key_id(rotated.seal("template", b"t")) == "k2"


def test_data_sealed_under_a_removed_key_cannot_be_opened() -> None:
    blob = Keyring.generate("k1").seal("template", b"t")
    with pytest.raises(KeyringError):
        Keyring.generate("k2").open("template", blob)


@pytest.mark.parametrize("entry", ["k1", "k1:short", "bad id!:" + "A" * 43, "k1:***"])
def test_malformed_key_entries_are_configuration_errors(entry: str) -> None:
    # A valid tag entry and key ride along, so each case fails for its own malformation.
    with pytest.raises(ConfigurationError):
        Keyring.from_string(",".join([Keyring.new_keyring_string("ok"), entry]))


def test_an_empty_keyring_string_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        Keyring.from_string("")


def test_a_short_tag_entry_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="tag key"):
        Keyring.from_string(f"tag:c2hvcnQ,{Keyring.new_key_string('k1')}")


def test_from_env_names_the_variable_when_it_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VERIFYKIT_KEYS", raising=False)
    with pytest.raises(ConfigurationError, match="VERIFYKIT_KEYS"):
        Keyring.from_env()


def test_repr_never_shows_key_material() -> None:
    text = Keyring.new_keyring_string("k1")
    shown = repr(Keyring.from_string(text))
    for entry in text.split(","):
        assert entry.split(":")[1] not in shown


# The tag key: subject tags (the store names of lockouts, windows and replay markers) come from it alone.

_K1, _K2, _TAG = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32


def _b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def test_retiring_the_oldest_sealing_key_keeps_every_subject_tag() -> None:
    before = Keyring({"k1": _K1, "k2": _K2}, tag_key=_TAG)
    after = Keyring({"k2": _K2}, tag_key=_TAG)
    assert subject_tag(after, "user-1") == subject_tag(before, "user-1")
    assert stable_tag(after, "email", "a@example.com") == stable_tag(before, "email", "a@example.com")


def test_retiring_the_oldest_key_from_a_keyring_string_keeps_every_subject_tag() -> None:
    tag = f"tag:{_b64(_TAG)}"  # the tag entry may stand anywhere in the string
    before = Keyring.from_string(f"k1:{_b64(_K1)},k2:{_b64(_K2)},{tag}")
    after = Keyring.from_string(f"k2:{_b64(_K2)},{tag}")
    assert after.key_ids == ("k2",) and after.current_id == "k2"
    assert subject_tag(after, "user-1") == subject_tag(before, "user-1")


def test_subject_tags_depend_on_the_tag_key_and_on_no_sealing_key() -> None:
    assert subject_tag(Keyring({"k1": _K1}, tag_key=_TAG), "u") == subject_tag(
        Keyring({"k9": _K2}, tag_key=_TAG), "u"
    )
    assert subject_tag(Keyring({"k1": _K1}, tag_key=_TAG), "u") != subject_tag(
        Keyring({"k1": _K1}, tag_key=_K2), "u"
    )


def test_a_tag_key_equal_to_the_oldest_key_reproduces_the_tags_earlier_releases_made() -> None:
    # Earlier releases derived tags from the oldest sealing key; the migration keeps them.
    earlier_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"verifykit/subject-tag").derive(
        _K1
    )
    earlier_mac = hmac.new(earlier_key, b"subject\x00user-1", hashlib.sha256).digest()[:16]
    earlier_tag = base64.b32encode(earlier_mac).decode().rstrip("=").lower()
    migrated = Keyring.from_string(f"tag:{_b64(_K1)},k1:{_b64(_K1)},k2:{_b64(_K2)}")
    assert subject_tag(migrated, "user-1") == earlier_tag


def test_generated_keyrings_have_their_own_random_tag_keys() -> None:
    assert subject_tag(Keyring.generate(), "user-1") != subject_tag(Keyring.generate(), "user-1")


def test_a_new_keyring_string_holds_a_tag_key_and_one_sealing_key() -> None:
    ring = Keyring.from_string(Keyring.new_keyring_string("k7"))
    assert ring.key_ids == ("k7",) and ring.current_id == "k7"


def test_a_keyring_string_without_a_tag_key_is_refused_and_says_how_to_add_one() -> None:
    k1 = Keyring.new_key_string("k1")
    with pytest.raises(ConfigurationError, match="no tag key") as caught:
        Keyring.from_string(f"{k1},{Keyring.new_key_string('k2')}")
    message = str(caught.value)
    assert "tag:" in message and "'k1'" in message  # how to add one, and which key keeps old tags
    assert k1.split(":")[1] not in message


def test_a_keyring_without_a_tag_key_cannot_be_constructed() -> None:
    with pytest.raises(TypeError):
        Keyring({"k1": _K1})  # type: ignore[call-arg]


def test_a_short_tag_key_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="tag key"):
        Keyring({"k1": _K1}, tag_key=b"\x03" * 31)


def test_a_key_id_given_twice_is_refused() -> None:
    # Before, the second entry silently replaced the first: data sealed under it stopped opening.
    text = f"tag:{_b64(_TAG)},k1:{_b64(_K1)},k1:{_b64(_K2)}"
    with pytest.raises(ConfigurationError, match="'k1' appears more than once"):
        Keyring.from_string(text)


def test_a_tag_entry_given_twice_is_refused() -> None:
    text = f"tag:{_b64(_TAG)},k1:{_b64(_K1)},tag:{_b64(_K2)}"
    with pytest.raises(ConfigurationError, match="more than one tag entry"):
        Keyring.from_string(text)


def test_the_tag_id_is_reserved_and_cannot_name_a_sealing_key() -> None:
    with pytest.raises(ConfigurationError, match="reserved"):
        Keyring({"tag": _K1}, tag_key=_TAG)

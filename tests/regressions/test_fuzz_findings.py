"""Inputs the fuzzers (fuzz/) found that escaped as something other than a verifykit error.

Each is refused now with the parser's own error; the crash inputs are also kept as seeds in
fuzz/corpus/<target>/, so tests/test_fuzz_harnesses.py replays them through the harnesses.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pyotp
import pytest

from verifykit import ConfigurationError, InvalidInput, Keyring, TemplateError
from verifykit.face._models import MODEL_ID
from verifykit.face._template import open_template
from verifykit.fallbacks import TOTPVerifier
from verifykit.password import PasswordHasher
from verifykit.password._hasher import parse_hash
from verifykit.password._profiles import CHEAP_TESTS_ONLY
from verifykit.server._config import load_config
from verifykit.store import MemoryStore
from verifykit.testing import FakeClock


def _config_file(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "verifykit.toml"
    path.write_bytes(content)
    return path


def test_a_config_file_that_is_not_utf8_is_a_configuration_error(tmp_path: Path) -> None:
    path = _config_file(tmp_path, b'store = "memory://"\nmailer = "smtp://u:p\xe4ss@mail:25"\n')
    with pytest.raises(ConfigurationError, match="not UTF-8"):
        load_config(environ={}, config_file=path)


@pytest.mark.parametrize("line", ["workers = inf", "heavy_workers = -inf", "grace = nan", "grace = inf"])
def test_a_number_in_the_config_must_be_finite(tmp_path: Path, line: str) -> None:
    with pytest.raises(ConfigurationError, match=r"must be a (finite )?number"):
        load_config(environ={}, config_file=_config_file(tmp_path, line.encode()))


def test_a_non_finite_number_from_the_environment_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="finite"):
        load_config(environ={"VERIFYKIT_GRACE": "nan"})


# A superscript two, an Arabic-Indic three, full-width digits: str.isdigit() says yes to each.
@pytest.mark.parametrize("port", ["\u00b2", "\u0663", "\uff15\uff10"])
def test_a_listen_port_must_be_ascii_digits(port: str) -> None:
    with pytest.raises(ConfigurationError, match="HOST:PORT"):
        load_config(environ={"VERIFYKIT_LISTEN": f"127.0.0.1:{port}"})


def test_a_nul_in_a_config_path_is_a_configuration_error(tmp_path: Path) -> None:
    path = _config_file(tmp_path, b'face_index = "~\\u0000/index"\n')
    with pytest.raises(ConfigurationError, match="NUL"):
        load_config(environ={}, config_file=path)


def test_a_config_path_under_an_unknown_user_is_a_configuration_error(tmp_path: Path) -> None:
    path = _config_file(tmp_path, b'face_index = "~no-such-user-verifykit/index"\n')
    with pytest.raises(ConfigurationError, match="usable path"):
        load_config(environ={}, config_file=path)


def test_a_stored_hash_holding_a_lone_surrogate_is_invalid_input() -> None:
    # What a surrogate-escaped byte string from a database driver looks like.
    stored = "pbkdf2_sha256$1000$\udce6salt$" + "A" * 43 + "="
    with pytest.raises(InvalidInput) as raised:
        PasswordHasher(CHEAP_TESTS_ONLY).verify(stored, "correct horse")
    assert raised.value.field == "stored_hash"
    with pytest.raises(InvalidInput):
        parse_hash(stored)


@pytest.mark.parametrize("at", [float("nan"), float("inf"), float("-inf"), -1.0])
def test_a_totp_check_at_a_non_finite_or_negative_time_is_invalid_input(at: float) -> None:
    store = MemoryStore(clock=FakeClock())
    totp = TOTPVerifier(store=store, keyring=Keyring.generate(), audit=None)
    stored = totp.enroll("subject-1", "alice@example.com").stored
    with pytest.raises(InvalidInput) as raised:
        totp.verify("subject-1", stored, "123456", at=at)
    assert raised.value.field == "at"
    assert store.sizes()["lockouts"] == 0  # nothing was spent


@pytest.mark.parametrize("at", [0.0, 29.0, 31.0])
def test_a_totp_check_in_the_first_time_steps_is_a_verdict(at: float) -> None:
    """The window around step 0 or 1 reaches before step 0, where no code exists."""
    totp = TOTPVerifier(store=MemoryStore(clock=FakeClock()), keyring=Keyring.generate(), audit=None)
    enrolled = totp.enroll("subject-1", "alice@example.com")
    code = pyotp.TOTP(enrolled.secret_base32).at(at)
    assert totp.verify("subject-1", enrolled.stored, code, at=at).approved
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert not totp.verify("subject-1", enrolled.stored, wrong, at=at).approved


@pytest.mark.parametrize("tail", [b"", b"\x80"])
def test_a_template_that_ends_after_its_model_id_is_a_template_error(tail: bytes) -> None:
    keyring = Keyring.generate()
    model = MODEL_ID.encode()
    payload = b"VKFT\x01" + bytes([len(model)]) + model + tail
    sealed = keyring.seal("face-template", payload, aad=b"subject-1")
    with pytest.raises(TemplateError, match="wrong size"):
        open_template(keyring, "subject-1", sealed)


def test_a_template_of_the_right_layout_still_opens() -> None:
    keyring = Keyring.generate()
    model = MODEL_ID.encode()
    payload = b"VKFT\x01" + bytes([len(model)]) + model + struct.pack("<H", 128) + bytes(512)
    sealed = keyring.seal("face-template", payload, aad=b"subject-1")
    assert open_template(keyring, "subject-1", sealed).shape == (128,)

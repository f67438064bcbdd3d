"""Passkeys: what is not a WebAuthn response at all is refused as invalid input, cheaply and before
anything is spent; a verifier needs its settings and its extra."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import pytest
from authenticator import b64url, cbor, unb64url
from passkey_support import SETTINGS, Build, Enrolled

from verifykit import ConfigurationError, InvalidInput, Keyring, Reason
from verifykit.passkey import MAX_RESPONSE_LENGTH, PasskeySettings, PasskeyVerifier
from verifykit.store import MemoryStore


def edited(response: str, edit: Callable[[dict], None]) -> str:
    doc = json.loads(response)
    edit(doc)
    return json.dumps(doc)


@pytest.fixture
def enrolled(build: Build) -> Enrolled:
    return build.enrolled()


def refused_as_invalid(enrolled: Enrolled, response: object) -> InvalidInput:
    challenge_id, _options = enrolled.begin()
    with pytest.raises(InvalidInput) as refused:
        enrolled.passkeys.verify("user-1", challenge_id, response, credentials=[enrolled.stored])  # type: ignore[arg-type]
    return refused.value


@pytest.mark.parametrize(
    "response",
    [
        "",
        "not json",
        "[]",
        '{"type": "public-key"}',
        '{"type": "public-key", "rawId": "AAAA", "response": {}}',
        b'{"type": "public-key"}',
        "[" * 30_000,
    ],
    ids=["empty", "text", "array", "no-response", "no-fields", "bytes", "deeply-nested"],
)
def test_what_is_not_a_response_is_invalid_input(enrolled: Enrolled, response: object) -> None:
    assert refused_as_invalid(enrolled, response).field == "response"


def test_a_response_longer_than_the_limit_is_refused_unread(enrolled: Enrolled) -> None:
    assert refused_as_invalid(enrolled, " " * (MAX_RESPONSE_LENGTH + 1)).field == "response"


def test_base64url_with_foreign_characters_is_invalid(enrolled: Enrolled) -> None:
    _challenge_id, options = enrolled.begin()
    response = edited(
        enrolled.authenticator.get(options), lambda d: d["response"].update(signature="ab+/cd==")
    )
    refused_as_invalid(enrolled, response)


def test_authenticator_data_with_trailing_bytes_is_invalid(enrolled: Enrolled) -> None:
    _challenge_id, options = enrolled.begin()
    response = enrolled.authenticator.get(options)
    data = json.loads(response)["response"]["authenticatorData"]
    refused_as_invalid(enrolled, response.replace(data, data + "AA"))


def test_a_cbor_bomb_is_refused_by_the_walk_before_any_decoder_runs(
    build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A flat array of 20 000 items: a decoder that copies its input per item would do ~200 MB of
    # work, so the linear walk must refuse it before anything decodes a single item.
    import verifykit.passkey._response as response_module

    decoded: list[int] = []
    real = response_module._decode
    monkeypatch.setattr(response_module, "_decode", lambda data, at: (decoded.append(at), real(data, at))[1])
    passkeys = build.passkeys()
    options = passkeys.registration_options("user-1", user_name="ana", display_name="Ana")
    bomb = cbor({"fmt": "none", "attStmt": {}, "authData": b""})[:-1] + b"\x99\x4e\x20" + b"\x00" * 20_000
    response = json.dumps(
        {
            "id": "AAAA",
            "rawId": "AAAA",
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(b'{"type":"webauthn.create","challenge":"AAAA","origin":"x"}'),
                "attestationObject": b64url(bomb),
            },
        }
    )
    with pytest.raises(InvalidInput, match="CBOR"):
        passkeys.register("user-1", options.challenge_id, response)
    assert decoded == []


def test_malformed_input_spends_neither_the_challenge_nor_the_budget(enrolled: Enrolled) -> None:
    challenge_id, options = enrolled.begin()
    with pytest.raises(InvalidInput):
        enrolled.passkeys.verify("user-1", challenge_id, "{}", credentials=[enrolled.stored])
    good = enrolled.passkeys.verify(
        "user-1", challenge_id, enrolled.authenticator.get(options), credentials=[enrolled.stored]
    )
    assert good.approved
    assert enrolled.sign_in(flip_signature=True).budget_left == SETTINGS.lockout.threshold - 1


@pytest.mark.parametrize("challenge_id", ["", "x.y", "a" * 26 + ".short", "A" * 26 + "." + "b" * 22, None])
def test_a_malformed_challenge_id_is_invalid_input(enrolled: Enrolled, challenge_id: object) -> None:
    _id, options = enrolled.begin()
    with pytest.raises(InvalidInput) as refused:
        enrolled.passkeys.verify(
            "user-1",
            challenge_id,  # type: ignore[arg-type]
            enrolled.authenticator.get(options),
            credentials=[enrolled.stored],
        )
    assert refused.value.field == "challenge_id"


def test_something_other_than_a_stored_passkey_is_invalid_input(enrolled: Enrolled) -> None:
    challenge_id, options = enrolled.begin()
    with pytest.raises(InvalidInput):
        enrolled.passkeys.verify(
            "user-1", challenge_id, enrolled.authenticator.get(options), credentials=["a password hash"]
        )


def test_a_registration_response_of_the_wrong_ceremony_type_is_malformed(build: Build) -> None:
    enrolled = build.enrolled()
    options = enrolled.passkeys.registration_options("user-1", user_name="ana", display_name="Ana")
    response = enrolled.authenticator.create(options.options_json)
    client_data = json.loads(response)["response"]["clientDataJSON"]
    wrong_type = b64url(unb64url(client_data).replace(b"webauthn.create", b"webauthn.get"))
    enrollment = enrolled.passkeys.register(
        "user-1", options.challenge_id, response.replace(client_data, wrong_type)
    )
    assert enrollment.reason is Reason.MALFORMED


def test_a_verifier_needs_settings(keyring: Keyring) -> None:
    with pytest.raises(ConfigurationError, match="PasskeySettings"):
        PasskeyVerifier(store=MemoryStore(), keyring=keyring, settings=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fields",
    [
        {"rp_id": "https://example.com"},
        {"rp_id": "Example.com"},
        {"origins": ("https://evil.test",)},
        {"origins": ("http://example.com",)},
        {"origins": ("https://example.com/login",)},
        {"origins": ()},
        {"origins": ["https://example.com"]},
        {"user_verification": "always"},
        {"attestation": "full"},
        {"algorithms": (-7, -7)},
        {"algorithms": (-65535,)},
        {"timeout": 300},
        {"attestation_roots": (b"not a certificate",)},
    ],
)
def test_settings_that_no_browser_would_honour_are_refused(fields: dict[str, object]) -> None:
    base = {"rp_id": "example.com", "rp_name": "Example", "origins": ("https://example.com",)}
    with pytest.raises(ConfigurationError):
        PasskeySettings(**{**base, **fields})  # type: ignore[arg-type]


def test_localhost_over_http_is_an_allowed_origin_for_development() -> None:
    assert PasskeySettings(rp_id="localhost", rp_name="Dev", origins=("http://localhost:8000",))


def test_without_the_extra_the_package_imports_and_a_verifier_names_what_to_install(
    keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "fido2", None)  # as if python-fido2 were not installed
    with pytest.raises(ConfigurationError, match=r"verifykit\[passkey\]"):
        PasskeyVerifier(store=MemoryStore(), keyring=keyring, settings=SETTINGS)

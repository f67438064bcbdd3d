"""Passkeys at the portal over plain HTTP, with the software authenticator of tests/passkey playing
the browser: sign up with a passkey instead of a password, sign in with it, keep its new counter,
and each refusal a person can meet in words (English and Bahasa Indonesia). The browser tests
(test_passkeys_browser.py) run the same journeys in Chromium with its virtual authenticator.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from portal_http import Client, Reply

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "passkey"))  # not a package
from authenticator import SoftAuthenticator


def _origin(portal_url: str) -> str:
    return portal_url.replace("://127.0.0.1:", "://localhost:")


def _authenticator() -> SoftAuthenticator:
    """A platform passkey, as Chromium's makes them: a 32-byte id, transport ``internal``."""
    return SoftAuthenticator(credential_id=os.urandom(32), transports=("internal",))


def _ceremony(client: Client, kind: str, answer: Callable[[str], str], body: object = None) -> Reply:
    """Options from the portal, ``answer`` (the authenticator) to them, the answer posted back."""
    begun = client.post_json(f"/passkey/{kind}/options", body or {})
    assert begun.status == 200, begun.body
    response = answer(json.dumps(begun.json()["options"]))
    return client.request(
        "POST",
        f"/passkey/{kind}",
        response.encode(),
        {"Content-Type": "application/json", "X-CSRF-Token": client.csrf},
    )


def sign_up_with_passkey(portal_url: str, email: str, key: SoftAuthenticator) -> Client:
    """Sign up: the email code, then a passkey instead of a password, recovery codes, no photo."""
    client = Client(portal_url)
    client.get("/signup")
    client.post("/signup", {"email": email})
    assert client.post("/signup/email", {"code": client.email_code(email)}).location == "/signup/password"
    client.get("/signup/password")
    done = _ceremony(client, "register", lambda o: key.create(o, origin=_origin(portal_url)))
    assert done.json() == {"approved": True, "next": "/signup/recovery"}
    client.get("/signup/recovery")
    assert client.post("/signup/recovery").location == "/signup/face"
    assert client.post("/signup/face", {"action": "skip"}).location == "/account"
    return client


@dataclass
class Holder:
    """An account that signed up with a passkey, and the authenticator that holds it."""

    portal_url: str
    email: str
    key: SoftAuthenticator

    def sign_in(self, lang: str = "en", *, origin: str | None = None, **get: Any) -> dict[str, Any]:
        """A passkey sign-in from the login page; ``get`` tunes what the authenticator answers."""
        client = Client(self.portal_url)
        if lang != "en":
            client.get(f"/lang/{lang}")
        client.get("/login")
        seen = origin or _origin(self.portal_url)
        reply = _ceremony(
            client, "login", lambda o: self.key.get(o, origin=seen, **get), {"email": self.email}
        )
        answer: dict[str, Any] = reply.json()
        answer["session_keys"] = reply.session_keys()
        return answer


@pytest.fixture(scope="module")
def holder(portal_url: str) -> Holder:
    holder = Holder(portal_url, f"pk-{secrets.token_hex(4)}@example.com", _authenticator())
    page = sign_up_with_passkey(portal_url, holder.email, holder.key).get("/account").body
    assert "AAL2" in page and "<li>Passkey</li>" in page and "<li>Password</li>" not in page
    return holder


def test_sign_in_with_the_passkey_made_at_sign_up(holder: Holder) -> None:
    answer = holder.sign_in()
    assert answer["approved"] is True and answer["next"] == "/account"
    assert "user" in answer["session_keys"]


def test_the_new_counter_is_kept_so_a_copy_that_lags_is_refused(holder: Holder) -> None:
    assert holder.sign_in()["approved"]
    # A copy of the key, one use behind: its counter does not grow past the one the portal kept.
    answer = holder.sign_in(sign_count=holder.key.sign_count)
    assert answer["approved"] is False and answer["reason"] == "cloned_authenticator"
    assert answer["message"].startswith("This passkey looks copied")
    assert holder.sign_in()["approved"], "the real key goes on"


@pytest.mark.parametrize(
    ("lang", "get", "reason", "words"),
    [
        ("en", {"uv": False}, "user_not_verified", "Your device did not check your fingerprint"),
        ("id", {"uv": False}, "user_not_verified", "Perangkat Anda tidak memeriksa sidik jari"),
        ("en", {"origin": "http://localhost:1"}, "wrong_origin", "came from another website"),
        ("id", {"origin": "http://localhost:1"}, "wrong_origin", "datang dari situs web lain"),
    ],
)
def test_a_refused_passkey_says_why(
    holder: Holder, lang: str, get: dict[str, Any], reason: str, words: str
) -> None:
    answer = holder.sign_in(lang, **get)
    assert answer["approved"] is False and answer["reason"] == reason
    assert words in answer["message"]
    offered = [way["way"] for way in answer["ways"]]
    assert offered[-1] == "counter_voucher" and "passkey" not in offered


def test_options_for_an_address_with_a_passkey_look_like_any_others(holder: Holder) -> None:
    def options(address: str) -> tuple[int, list[tuple[int, list[str]]], frozenset[str] | None]:
        client = Client(holder.portal_url)
        client.get("/login")
        reply = client.post_json("/passkey/login/options", {"email": address})
        allowed = reply.json()["options"]["allowCredentials"]
        return reply.status, [(len(c["id"]), c["transports"]) for c in allowed], reply.session_keys()

    assert options(holder.email) == options(f"nobody-{secrets.token_hex(4)}@example.com")


def test_a_passkey_is_added_from_the_account_page(portal_url: str) -> None:
    address = f"pk-{secrets.token_hex(4)}@example.com"
    first, second = _authenticator(), _authenticator()
    client = sign_up_with_passkey(portal_url, address, first)
    client.get("/account")
    done = _ceremony(client, "register", lambda o: second.create(o, origin=_origin(portal_url)))
    assert done.json() == {"approved": True, "next": "/account"}
    page = client.get("/account").body
    assert "Passkey added." in page and "Passkeys: 2" in page
    # An authenticator that holds one of them is not registered again: the options exclude both.
    begun = client.post_json("/passkey/register/options", {}).json()["options"]
    assert len(begun["excludeCredentials"]) == 2

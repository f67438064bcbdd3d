"""What the portal promises without a browser: CSRF tokens on every POST, cookie flags (Secure
outside development mode), a strict Content-Security-Policy, recovery codes shown once, and the
assurance level each combination of ways reaches."""

from __future__ import annotations

import secrets
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from portal_browser import Applicant, t
from portal_http import Client, portal_module, recovery_codes, served, start_sign_up

from verifykit import Keyring


def _post(url: str, data: dict[str, str], cookie: str = "") -> int:
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(data).encode(), headers={"Cookie": cookie}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.parametrize(
    "path",
    [
        "/signup",
        "/login",
        "/logout",
        "/login/voucher",
        "/dev/counter",
        "/dev/clock",
        "/passkey/login/options",
    ],
)
def test_a_post_without_the_sessions_csrf_token_is_refused(portal_url: str, path: str) -> None:
    assert _post(portal_url + path, {"email": "a@example.com", "password": "x"}) == 403
    assert _post(portal_url + path, {"email": "a@example.com", "csrf": "guessed"}) == 403


def test_cookie_flags_and_security_headers(portal_url: str) -> None:
    with urllib.request.urlopen(portal_url + "/", timeout=30) as response:
        cookie = response.headers["set-cookie"].lower()
        csp = response.headers["content-security-policy"]
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie, "development mode runs on plain http; Secure is on outside it"
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_outside_development_the_session_cookie_is_secure_httponly_and_samesite_lax(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What production mode insists on, none of it reached by a page that only sets a session.
    monkeypatch.setenv("VERIFYKIT_KEYS", Keyring.new_keyring_string())
    config = portal_module("config").Config(
        development=False,
        database=str(tmp_path / "accounts.db"),
        session_secret=secrets.token_urlsafe(32),
        smtp_host="smtp.portal.invalid",
        officers=tmp_path / "officers.json",
        origin="https://portal.example.org",
        face_workers="thread",
    )
    with served(config) as base:
        reply = Client(base).get("/")
        assert Client(base).get("/dev/mailbox").status == 404, "development mode is off"
    cookies = [c for c in reply.headers.get_all("set-cookie") or [] if c.startswith("portal_session=")]
    assert len(cookies) == 1, reply.headers
    flags = {part.strip().split("=", 1)[0].lower(): part.strip() for part in cookies[0].split(";")[1:]}
    assert "secure" in flags, cookies[0]
    assert "httponly" in flags, cookies[0]
    assert flags.get("samesite", "").lower() == "samesite=lax", cookies[0]


def test_recovery_codes_are_shown_once_and_a_reload_does_not_show_them_again(portal_url: str) -> None:
    applicant = Applicant(f"once-{secrets.token_hex(4)}@example.com", "amber kettle seven foxes")
    client = start_sign_up(portal_url, applicant)
    first = client.get("/signup/recovery")
    codes = recovery_codes(first.body)
    assert first.status == 200 and len(codes) == 10
    again = client.get("/signup/recovery")
    assert again.status == 200
    assert recovery_codes(again.body) == []
    assert not any(code in again.body for code in codes)
    assert t("en", "signup.recovery_shown") in again.body
    assert client.post("/signup/recovery").location == "/signup/face", "the sign-up goes on"


def test_levels_follow_sp_800_63b_4() -> None:
    level_of = portal_module("app").level_of
    assert level_of(["password", "authenticator_app"]) == "AAL2"
    assert level_of(["password", "recovery_code"]) == "AAL2"
    assert level_of(["password", "email_code"]) == "AAL1"
    assert level_of(["email_code"]) == "none"
    assert level_of(["password", "counter_voucher"]) == "counter"
    assert level_of(["passkey"]) == "AAL2", "a passkey alone: a multi-factor cryptographic authenticator"
    assert level_of(["passkey"], passkey_level=3) == "AAL3", "device-bound, attestation trusted"
    assert level_of(["recovery_code"]) == "AAL1"


def test_a_lock_says_until_when_in_both_languages() -> None:
    i18n = portal_module("i18n")
    reason_key, translate, until_text = i18n.reason_key, i18n.translate, i18n.until_text
    until = until_text(90, now=0)
    assert translate("en", "refusal.until", until=until) == "Locked until 00:01:30 UTC."
    assert translate("id", "refusal.until", until=until) == "Terkunci sampai 00:01:30 UTC."
    assert translate("id", reason_key("expired")).startswith("Kode itu sudah kedaluwarsa")
    assert reason_key("four_eyes_required") == "reason.denied"

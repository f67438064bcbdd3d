"""Passkeys in Chromium: its virtual authenticator (CTAP2, internal, discoverable keys, a user it
verifies) stands in for a phone's fingerprint reader. Sign up with a passkey and sign in with it,
a passkey added to an account that signed up with a password, then offered first after the
password and on the page of other ways when the email never arrives; and the refusals: a device
that cannot verify its user, and one that holds no passkey for the account. Each test is whole on
its own and runs in English and in Bahasa Indonesia, reading the page's words from the portal's
message catalogs.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from portal_browser import LANGS, Applicant, Page, add_passkey_device, log_out, t, totp_code
from portal_http import sign_up as sign_up_over_http

DOMAINS = {"en": "example.com", "id": "example.co.id"}


@pytest.fixture
def device(browser: Page) -> Iterator[Page]:
    """The browser with a passkey device attached for this test only."""
    add_passkey_device(browser)
    try:
        yield browser
    finally:
        browser.driver.remove_virtual_authenticator()


def _sign_up_with_a_passkey(
    page: Page, email: str, shots: tuple[str | None, str | None] = (None, None)
) -> None:
    page.go("/signup")
    page.fill("email", email)
    page.submit("send-code")
    page.fill("code", page.email_code(email))
    page.submit("check-code")
    page.expect_path("/signup/password")
    page.shot(shots[0])
    page.press("passkey-signup", then="/signup/recovery")  # navigator.credentials.create
    assert page.driver.find_elements("css selector", "#recovery-codes code")
    page.submit("saved-codes")
    page.submit("skip-photo")
    page.expect_path("/account")
    page.shot(shots[1])


def _passkey_login(page: Page, email: str) -> None:
    page.go("/login")
    page.fill("email", email)


@pytest.mark.parametrize("lang", LANGS)
def test_sign_up_and_sign_in_with_a_passkey(device: Page, lang: str) -> None:
    page = device
    shots = {
        # sign-up, account, sign-in, refused (no user verification), refused (no passkey held)
        "en": (
            "en-30-passkey-signup",
            "en-31-passkey-account",
            "en-32-passkey-login",
            "en-33-passkey-refused",
            None,
        ),
        "id": ("id-30-daftar-passkey", None, None, None, "id-31-passkey-ditolak"),
    }[lang]
    page.go("/")
    page.set_language(lang)
    email = f"pia-{secrets.token_hex(4)}@{DOMAINS[lang]}"
    _sign_up_with_a_passkey(page, email, (shots[0], shots[1]))
    assert page.text("#level") == t(lang, "level.AAL2")
    ways = page.text("#ways-set")
    assert t(lang, "way.passkey") in ways and t(lang, "way.password") not in ways
    log_out(page)

    _passkey_login(page, email)
    page.shot(shots[2])
    page.press("passkey-login", then="/account")  # navigator.credentials.get
    assert page.text("#level") == t(lang, "level.AAL2")
    assert page.text("#signed-in") == t(lang, "account.signed_in", email=email)
    log_out(page)

    # The device can no longer verify its user (no fingerprint): the browser refuses the request,
    # and the page says so in words, with the other ways in still open.
    page.driver.set_user_verified(False)
    _passkey_login(page, email)
    assert page.script_refusal("passkey-login") == "browser:NotAllowedError"
    assert page.error().startswith(t(lang, "passkey.failed"))
    page.shot(shots[3])
    assert page.path == "/login"

    # A device that holds no passkey for this account (here: its passkeys were deleted).
    page.driver.set_user_verified(True)
    page.driver.remove_all_credentials()
    _passkey_login(page, email)
    assert page.script_refusal("passkey-login") == "browser:NotAllowedError"
    assert page.error().startswith(t(lang, "passkey.failed"))
    page.shot(shots[4])
    assert page.path == "/login"


def _password(page: Page, applicant: Applicant) -> None:
    page.go("/login")
    page.fill("email", applicant.email)
    page.fill("password", applicant.password)
    page.submit("login")
    page.expect_path("/login/second")


@pytest.mark.parametrize("lang", LANGS)
def test_a_passkey_added_later_is_offered_after_the_password(
    device: Page, portal_url: str, lang: str
) -> None:
    page = device
    applicant = sign_up_over_http(
        portal_url, Applicant(f"wira-{secrets.token_hex(4)}@{DOMAINS[lang]}", "copper meadow sixty kites")
    )
    page.go("/")
    page.set_language(lang)
    _password(page, applicant)
    page.fill("app-code", totp_code(applicant.secret, ahead=1))
    page.submit("check-app")
    page.expect_path("/account")
    page.press("passkey-register", then="/account")
    assert page.text("#notice") == t(lang, "passkey.added")
    assert page.text("#passkey-count") == t(lang, "account.passkeys", count=1)
    log_out(page)

    # First among the second ways.
    _password(page, applicant)
    first = page.driver.find_elements("css selector", "main h2:not(#ways-heading)")[0]
    assert first.text.startswith(t(lang, "login.passkey_heading")), "the ladder offers a passkey first"
    offered = [a.get_attribute("data-way") for a in page.driver.find_elements("css selector", "#ways a")]
    assert offered[0] == "passkey" and offered[-1] == "counter_voucher"
    page.shot({"en": "en-34-second-step-passkey"}.get(lang))
    page.press("passkey-second", then="/account")
    assert page.text("#level") == t(lang, "level.AAL2")
    log_out(page)

    # And when the email code never arrives, first on the page of other ways.
    _password(page, applicant)
    page.submit("email-code")
    page.follow("never-arrived")
    page.expect_path("/login/ways")
    first = page.driver.find_elements("css selector", "main section h2:not(#ways-heading)")[0]
    assert first.text == t(lang, "way.passkey"), "the page of other ways offers the passkey first"
    page.shot({"en": "en-35-ways-passkey"}.get(lang))
    page.press("passkey-ways", then="/account")
    assert page.text("#level") == t(lang, "level.AAL2"), "a password and a passkey reach AAL2"
    assert page.text("#signed-in") == t(lang, "account.signed_in", email=applicant.email)
    log_out(page)

"""Passkeys in Chromium: its virtual authenticator (CTAP2, internal, discoverable keys, a user it
verifies) stands in for a phone's fingerprint reader. Sign up with a passkey and sign in with it,
in English and in Bahasa Indonesia; a passkey added to an account that signed up with a password,
then offered first after the password; and the refusals: a device that cannot verify its user,
and one that holds no passkey for the account. Each test is whole on its own.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from portal_browser import Applicant, Page, add_passkey_device, log_out, totp_code
from portal_http import sign_up as sign_up_over_http


@pytest.fixture
def device(browser: Page) -> Iterator[Page]:
    """The browser with a passkey device attached for this test only."""
    add_passkey_device(browser)
    try:
        yield browser
    finally:
        browser.driver.remove_virtual_authenticator()


def _sign_up_with_a_passkey(page: Page, email: str, shots: tuple[str, str] | None = None) -> None:
    page.go("/signup")
    page.fill("email", email)
    page.submit("send-code")
    page.fill("code", page.email_code(email))
    page.submit("check-code")
    page.expect_path("/signup/password")
    if shots:
        page.step(shots[0])
    page.press("passkey-signup", then="/signup/recovery")  # navigator.credentials.create
    assert page.driver.find_elements("css selector", "#recovery-codes code")
    page.submit("saved-codes")
    page.submit("skip-photo")
    page.expect_path("/account")
    if shots and shots[1]:
        page.step(shots[1])


def _passkey_login(page: Page, email: str) -> None:
    page.go("/login")
    page.fill("email", email)


def test_sign_up_and_sign_in_with_a_passkey(device: Page) -> None:
    page = device
    page.go("/")
    page.set_language("en")
    email = f"pia-{secrets.token_hex(4)}@example.com"
    _sign_up_with_a_passkey(page, email, ("en-30-passkey-signup", "en-31-passkey-account"))
    assert "AAL2" in page.text("#level")
    assert "Passkey" in page.text("#ways-set") and "Password" not in page.text("#ways-set")
    log_out(page)

    _passkey_login(page, email)
    page.step("en-32-passkey-login")
    page.press("passkey-login", then="/account")  # navigator.credentials.get
    assert "AAL2" in page.text("#level")
    assert page.text("#signed-in") == f"Signed in as {email}."
    log_out(page)

    # The device can no longer verify its user (no fingerprint): the browser refuses the request,
    # and the page says so in words, with the other ways in still open.
    page.driver.set_user_verified(False)
    _passkey_login(page, email)
    assert page.script_refusal("passkey-login") == "browser:NotAllowedError"
    assert page.error().startswith("The passkey did not answer")
    assert "your device could not verify you" in page.error()
    page.step("en-33-passkey-refused")
    assert page.path == "/login"


def test_daftar_dan_masuk_dengan_passkey(device: Page) -> None:
    page = device
    page.go("/")
    page.set_language("id")
    email = f"putri-{secrets.token_hex(4)}@example.co.id"
    _sign_up_with_a_passkey(page, email, ("id-30-daftar-passkey", ""))
    assert "AAL2" in page.text("#level")
    log_out(page)
    _passkey_login(page, email)
    page.press("passkey-login", then="/account")
    assert page.text("#signed-in") == f"Masuk sebagai {email}."
    log_out(page)

    # A device that holds no passkey for this account (here: its passkeys were deleted).
    page.driver.remove_all_credentials()
    _passkey_login(page, email)
    assert page.script_refusal("passkey-login") == "browser:NotAllowedError"
    assert page.error().startswith("Passkey tidak menjawab")
    page.step("id-31-passkey-ditolak")


def test_a_passkey_added_later_is_offered_first(device: Page, portal_url: str) -> None:
    page = device
    applicant = sign_up_over_http(
        portal_url, Applicant(f"wira-{secrets.token_hex(4)}@example.com", "copper meadow sixty kites")
    )
    page.go("/")
    page.set_language("en")
    page.go("/login")
    page.fill("email", applicant.email)
    page.fill("password", applicant.password)
    page.submit("login")
    page.fill("app-code", totp_code(applicant.secret, ahead=1))
    page.submit("check-app")
    page.expect_path("/account")
    page.press("passkey-register", then="/account")
    assert page.text("#notice") == "Passkey added. Next time, sign in with it."
    assert page.text("#passkey-count") == "Passkeys: 1"
    page.check_accessible()
    log_out(page)

    page.go("/login")
    page.fill("email", applicant.email)
    page.fill("password", applicant.password)
    page.submit("login")
    page.expect_path("/login/second")
    first = page.driver.find_elements("css selector", "main h2:not(#ways-heading)")[0]
    assert first.text.startswith("Your passkey"), "the ladder offers a passkey first"
    offered = [a.get_attribute("data-way") for a in page.driver.find_elements("css selector", "#ways a")]
    assert offered[0] == "passkey" and offered[-1] == "counter_voucher"
    page.step("en-34-second-step-passkey")
    page.press("passkey-second", then="/account")
    assert "AAL2" in page.text("#level")
    log_out(page)

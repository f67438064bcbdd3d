"""Sign up and log in, in English, in a real browser: each refusal in words with the next way in.

Each test is whole on its own (the suite's workers may split a module): the log-in tests use an
account made over plain HTTP.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import cv2
import numpy as np
import pytest
from portal_browser import Applicant, Page, log_out, photo, sign_up, totp_code, totp_secret
from portal_http import sign_up as sign_up_over_http

from conftest import FACES

ENROL = FACES / "Barack_Obama__obama.jpg"


@pytest.fixture(scope="module")
def applicant(portal_url: str) -> Applicant:
    """An account with a password, an app and recovery codes (its app's current code spent)."""
    return sign_up_over_http(
        portal_url, Applicant(f"ana-{secrets.token_hex(4)}@example.com", "lantern orchard seventy blue")
    )


def test_sign_up_with_every_refusal_on_the_way(browser: Page, tmp_path: Path) -> None:
    page = browser
    applicant = Applicant(f"ana-{secrets.token_hex(4)}@example.com", "lantern orchard seventy blue")
    page.go("/")
    page.set_language("en")
    page.step("en-00-home")

    page.follow("signup-link")
    page.fill("email", applicant.email)
    page.submit("send-code")
    page.expect_path("/signup/email")
    # A wrong code: refused in words, with the tries left.
    page.fill("code", "000000")
    page.submit("check-code")
    assert "That code is wrong." in page.error()
    assert "Tries left: 4." in page.error()
    page.step("en-01-wrong-code")
    page.fill("code", page.email_code(applicant.email))
    page.submit("check-code")
    page.expect_path("/signup/password")

    # Live policy feedback, from the server's policy, while typing.
    page.fill("password", "password123")
    page.wait(lambda _d: page.el("#policy").get_attribute("data-reason") == "breached", "breached feedback")
    assert "too common" in page.text("#policy")
    page.step("en-02-password-feedback")
    page.fill("password", applicant.password)
    page.wait(lambda _d: page.el("#policy").get_attribute("data-reason") == "approved", "approved feedback")
    page.submit("save-password")
    page.expect_path("/signup/app")
    uri = page.el("#totp-uri").get_attribute("value")
    assert uri.startswith("otpauth://totp/")
    applicant.secret = totp_secret(uri)
    page.fill("app-code", "123456" if totp_code(applicant.secret) != "123456" else "654321")
    page.submit("confirm-app")
    assert "That code is wrong." in page.error()
    page.fill("app-code", totp_code(applicant.secret))
    page.submit("confirm-app")
    page.expect_path("/signup/recovery")
    applicant.recovery = [c.text for c in page.driver.find_elements("css selector", "#recovery-codes code")]
    assert len(applicant.recovery) == 10
    page.submit("saved-codes")

    # The ID photo: no face, then two faces, then the real one.
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((400, 400, 3), 200, np.uint8))
    two = tmp_path / "two.jpg"
    a = photo(FACES / "Allyson_Felix__0001.jpg")
    b = photo(FACES / "Amelia_Vega__0002.jpg")
    cv2.imwrite(str(two), np.hstack([a, b]))
    page.el("#photo").send_keys(str(blank))
    page.submit("upload-photo")
    assert page.error() == "No face was found in the photo."
    page.step("en-03-no-face")
    page.el("#photo").send_keys(str(two))
    page.submit("upload-photo")
    assert "two or more faces" in page.error()
    page.step("en-04-two-faces")
    page.el("#photo").send_keys(str(ENROL))
    page.submit("upload-photo")
    page.expect_path("/account")
    assert "AAL2" in page.text("#level")
    page.step("en-05-account")
    log_out(page)


def test_log_in_with_password_and_app(browser: Page, applicant: Applicant) -> None:
    page = browser
    page.go("/")
    page.set_language("en")
    page.go("/login")
    assert page.el("#passkey-login").is_displayed(), "a passkey is offered on the login page"
    page.fill("email", applicant.email)
    page.fill("password", "not my password at all")
    page.submit("login")
    assert "email address or password is wrong" in page.error()
    assert "Tries left" in page.error()
    # The same fixed list for every address, whether or not it has an account (test_enumeration).
    offered = [a.get_attribute("data-way") for a in page.driver.find_elements("css selector", "#ways a")]
    assert offered == ["passkey", "authenticator_app", "recovery_code", "email_code", "counter_voucher"]
    page.step("en-10-wrong-password")
    page.fill("email", applicant.email)
    page.fill("password", applicant.password)
    page.submit("login")
    page.expect_path("/login/second")
    page.step("en-11-second-step")
    # The sign-up used this step's code; a phone shows the next one soon.
    page.fill("app-code", totp_code(applicant.secret, ahead=1))
    page.submit("check-app")
    page.expect_path("/account")
    assert "AAL2" in page.text("#level")
    log_out(page)


def test_log_in_with_password_and_email_code_is_a_lower_level(browser: Page, applicant: Applicant) -> None:
    page = browser
    page.go("/")
    page.set_language("en")
    page.go("/login")
    page.fill("email", applicant.email)
    page.fill("password", applicant.password)
    page.submit("login")
    page.submit("email-code")
    page.expect_path("/login/email")
    page.step("en-12-email-code")
    page.fill("code", page.email_code(applicant.email))
    page.submit("check-code")
    page.expect_path("/account")
    assert "AAL1" in page.text("#level")
    page.step("en-13-account-aal1")
    log_out(page)


def test_sign_up_the_short_way_needs_no_photo(browser: Page) -> None:
    other = Applicant(f"budi-{secrets.token_hex(4)}@example.com", "river kettle nineteen amber")
    browser.go("/")
    browser.set_language("en")
    sign_up(browser, other, None)
    assert "AAL2" in browser.text("#level")
    log_out(browser)

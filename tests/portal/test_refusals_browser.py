"""Refusals a person meets less often, driven in Chromium: an email code that expired (the portal's
store runs on a clock the test moves forward: PORTAL_TEST_CLOCK=1, /dev/clock), a way in locked
until a given time after repeated wrong codes, and an ID photo too large to take. Each test is
whole on its own.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from portal_browser import Applicant, Page, log_out, sign_up, totp_code
from portal_http import sign_up as sign_up_over_http

OTP_TTL = 600  # verifykit.otp.OTPSettings.ttl: a code lives ten minutes


def test_a_code_that_expired_is_refused_in_words(browser: Page) -> None:
    page = browser
    page.go("/")
    page.set_language("en")
    email = f"eka-{secrets.token_hex(4)}@example.com"
    page.go("/signup")
    page.fill("email", email)
    page.submit("send-code")
    page.expect_path("/signup/email")
    code = page.email_code(email)
    page.set_clock(OTP_TTL + 1)
    try:
        page.fill("code", code)
        page.submit("check-code")
        assert page.error() == "That code has expired. Ask for a new one."
        page.step("en-40-code-expired")
    finally:
        page.set_clock(None)


def test_repeated_wrong_app_codes_lock_the_app_until_a_time(browser: Page, portal_url: str) -> None:
    page = browser
    applicant = sign_up_over_http(
        portal_url, Applicant(f"lina-{secrets.token_hex(4)}@example.com", "velvet harbour ninety pines")
    )
    page.go("/")
    page.set_language("en")
    page.go("/login")
    page.fill("email", applicant.email)
    page.fill("password", applicant.password)
    page.submit("login")
    page.expect_path("/login/second")
    wrong = "123456" if totp_code(applicant.secret) != "123456" else "654321"
    for _ in range(12):  # from the 10th failure in a row the app waits (SP 800-63B-4 3.2.2)
        page.fill("app-code", wrong)
        page.submit("check-app")
        if "Locked until" in page.error():
            break
    assert "Locked until" in page.error() and page.error().endswith("UTC.")
    assert "Tries left" not in page.error()
    page.step("en-41-locked-until")
    # The ways page lists the app as closed, and says until when; the rest stay open.
    page.follow("other-ways")
    closed = page.text("#closed-ways")
    assert "Authenticator app:" in closed and "Locked until" in closed
    page.el("#voucher")


def test_an_id_photo_too_large_is_refused_before_it_is_read(browser: Page, tmp_path: Path) -> None:
    page = browser
    page.go("/")
    page.set_language("id")
    applicant = Applicant(f"dewi-{secrets.token_hex(4)}@example.co.id", "sambal terasi pedas sekali")
    sign_up(page, applicant, None, shots=False, until_photo=True)
    big = tmp_path / "besar.jpg"
    big.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(9 * 1024 * 1024))  # over the 8 MB limit
    page.el("#photo").send_keys(str(big))
    page.submit("upload-photo")
    assert page.error() == "Foto terlalu besar. Gunakan foto di bawah 8 MB."
    page.step("id-40-foto-terlalu-besar")
    page.submit("skip-photo")
    page.expect_path("/account")
    log_out(page)

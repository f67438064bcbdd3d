"""Refusals a person meets less often, driven in Chromium: an email code that expired, and the new
one asked for in its place (the portal's store runs on a clock the test moves forward:
PORTAL_TEST_CLOCK=1, /dev/clock), a way in locked
until a given time after repeated wrong codes, and an ID photo too large to take. Each test is
whole on its own and runs in English and in Bahasa Indonesia, reading the page's words from the
portal's message catalogs.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from portal_browser import LANGS, Applicant, Page, log_out, sign_up, t, t_prefix, totp_code
from portal_http import sign_up as sign_up_over_http

OTP_TTL = 600  # verifykit.otp.OTPSettings.ttl: a code lives ten minutes


@pytest.mark.parametrize("lang", LANGS)
def test_a_code_that_expired_is_refused_and_a_new_one_offered(browser: Page, lang: str) -> None:
    page = browser
    page.go("/")
    page.set_language(lang)
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
        assert page.error() == t(lang, "reason.expired")
        page.expect_offered("resend")
        page.shot({"en": "en-40-code-expired"}.get(lang))
        page.submit("resend")  # the expired challenge cannot be sent again: a new one is started
        assert page.text("#notice") == t(lang, "notice.resent")
        fresh = page.email_code(email)
        assert fresh != code
        page.fill("code", fresh)
        page.submit("check-code")
        page.expect_path("/signup/password")
    finally:
        page.set_clock(None)


@pytest.mark.parametrize("lang", LANGS)
def test_repeated_wrong_app_codes_lock_the_app_until_a_time(
    browser: Page, portal_url: str, lang: str
) -> None:
    page = browser
    applicant = sign_up_over_http(
        portal_url, Applicant(f"lina-{secrets.token_hex(4)}@example.com", "velvet harbour ninety pines")
    )
    page.go("/")
    page.set_language(lang)
    page.go("/login")
    page.fill("email", applicant.email)
    page.fill("password", applicant.password)
    page.submit("login")
    page.expect_path("/login/second")
    locked = t_prefix(lang, "refusal.until")  # "Locked until "
    wrong = "123456" if totp_code(applicant.secret) != "123456" else "654321"
    for _ in range(12):  # from the 10th failure in a row the app waits (SP 800-63B-4 3.2.2)
        page.fill("app-code", wrong)
        page.submit("check-app")
        if locked in page.error():
            break
    assert locked in page.error() and page.error().endswith("UTC.")
    assert t_prefix(lang, "refusal.left") not in page.error()
    page.shot({"en": "en-41-locked-until"}.get(lang))
    # The ways page lists the app as closed, and says until when; the rest stay open.
    page.follow("other-ways")
    closed = page.text("#closed-ways")
    assert f"{t(lang, 'way.authenticator_app')}:" in closed and locked in closed
    page.el("#voucher")


@pytest.mark.parametrize("lang", LANGS)
def test_an_id_photo_too_large_is_refused_before_it_is_read(browser: Page, tmp_path: Path, lang: str) -> None:
    page = browser
    page.go("/")
    page.set_language(lang)
    applicant = Applicant(f"dewi-{secrets.token_hex(4)}@example.co.id", "sambal terasi pedas sekali")
    sign_up(page, applicant, None, shots=False, until_photo=True)
    big = tmp_path / "besar.jpg"
    big.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(9 * 1024 * 1024))  # over the 8 MB limit
    page.el("#photo").send_keys(str(big))
    page.submit("upload-photo")
    assert page.error() == t(lang, "error.photo_too_large", mib=8)
    page.expect_offered("photo", "upload-photo", "skip-photo")  # another photo, or none for now
    page.shot({"id": "id-40-foto-terlalu-besar"}.get(lang))
    page.submit("skip-photo")
    page.expect_path("/account")
    log_out(page)

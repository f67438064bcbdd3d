"""The whole journey in Bahasa Indonesia, and the email that never arrives: the ladder's other ways
in (a recovery code, then a voucher from a counter officer).

Each test is whole on its own (the suite's workers may split a module): the email-never-arrives
tests use an account made over plain HTTP.
"""

from __future__ import annotations

import secrets

import pytest
from portal_browser import Applicant, Page, log_out, sign_up
from portal_http import sign_up as sign_up_over_http


@pytest.fixture(scope="module")
def applicant(portal_url: str) -> Applicant:
    """An account with a password, an app and recovery codes."""
    return sign_up_over_http(
        portal_url, Applicant(f"siti-{secrets.token_hex(4)}@example.co.id", "kopi tubruk pagi hari sembilan")
    )


def _password_then_email(page: Page, applicant: Applicant) -> None:
    page.go("/")
    page.set_language("id")
    page.go("/login")
    page.fill("email", applicant.email)
    page.fill("password", applicant.password)
    page.submit("login")
    page.expect_path("/login/second")
    page.submit("email-code")
    page.expect_path("/login/email")


def test_sign_up_in_bahasa_indonesia(browser: Page) -> None:
    applicant = Applicant(f"siti-{secrets.token_hex(4)}@example.co.id", "kopi tubruk pagi hari sembilan")
    browser.go("/")
    browser.set_language("id")
    assert "Buat akun" in browser.body()
    browser.step("id-00-beranda")
    sign_up(browser, applicant, None, prefix="id-")
    assert "AAL2" in browser.text("#level")
    assert browser.text("#signed-in") == f"Masuk sebagai {applicant.email}."
    log_out(browser)
    assert browser.lang() == "id", "signing out keeps the language"


def test_the_email_never_arrives_so_a_recovery_code(browser: Page, applicant: Applicant) -> None:
    page = browser
    _password_then_email(page, applicant)
    assert "Periksa email Anda" in page.body()
    page.follow("never-arrived")
    page.expect_path("/login/ways")
    for way in ("app", "recovery", "voucher"):  # the ladder's ways in, each with its form
        page.el(f"#{way}")
    page.step("id-10-cara-lain")
    page.fill("recovery-code", "AAAA-BBBB-CCCC")
    page.submit("check-recovery")
    assert "Kode itu salah" in page.error()
    page.step("id-11-kode-pemulihan-salah")
    page.fill("recovery-code", applicant.recovery[0])
    page.submit("check-recovery")
    page.expect_path("/account")
    assert "AAL2" in page.text("#level"), "password and a recovery code reach AAL2"
    log_out(page)

    # A recovery code works once: the shortened set no longer holds it.
    _password_then_email(page, applicant)
    page.follow("never-arrived")
    page.fill("recovery-code", applicant.recovery[0])
    page.submit("check-recovery")
    assert "Kode itu salah" in page.error()


def test_the_email_never_arrives_so_a_counter_voucher(browser: Page, applicant: Applicant) -> None:
    page = browser
    page.go("/")
    page.set_language("id")
    # At the counter: the officer checks documents and signs a voucher (the demo officer here).
    page.go("/dev/counter")
    page.fill("applicant-email", applicant.email)
    page.submit("sign-voucher")
    voucher = page.el("#voucher-out").get_attribute("value")
    assert len(voucher) > 40
    page.step("id-20-loket")
    _password_then_email(page, applicant)
    page.follow("never-arrived")
    page.fill("voucher-text", voucher[:-8])
    page.submit("redeem-voucher")
    assert page.error()  # a truncated voucher is refused in words
    page.fill("voucher-text", voucher)
    page.submit("redeem-voucher")
    page.expect_path("/account")
    assert "petugas memeriksa dokumen" in page.text("#level")
    page.step("id-21-masuk-dengan-voucher")
    log_out(page)
    # A voucher works once.
    _password_then_email(page, applicant)
    page.follow("never-arrived")
    page.fill("voucher-text", voucher)
    page.submit("redeem-voucher")
    assert page.path != "/account"
    assert page.error()

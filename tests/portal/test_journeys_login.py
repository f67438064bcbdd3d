"""Log in in a real browser, in English and in Bahasa Indonesia: a password with the authenticator
app, a password with an email code (a lower level), and the email that never arrives: the ladder's
other ways in (the app, a recovery code, a voucher from a counter officer).

Each test is whole on its own (the suite's workers may split a module) and runs once per language,
on an account of its own made over plain HTTP; screenshots (PORTAL_SCREENSHOTS=1) are kept in the
one language docs/portal/ shows each page in.
"""

from __future__ import annotations

import secrets

import pytest
from portal_browser import LANGS, Applicant, Page, log_out, t, t_prefix, totp_code
from portal_http import sign_up as sign_up_over_http

PASSWORDS = {"en": "lantern orchard seventy blue", "id": "kopi tubruk pagi hari sembilan"}
DOMAINS = {"en": "example.com", "id": "example.co.id"}


@pytest.fixture
def applicant(portal_url: str, lang: str) -> Applicant:
    """An account of this test's own, with a password, an app and recovery codes (its app's
    current code spent)."""
    return sign_up_over_http(
        portal_url, Applicant(f"ana-{secrets.token_hex(4)}@{DOMAINS[lang]}", PASSWORDS[lang])
    )


def _password(page: Page, applicant: Applicant, lang: str) -> None:
    page.go("/")
    page.set_language(lang)
    page.go("/login")
    page.fill("email", applicant.email)
    page.fill("password", applicant.password)
    page.submit("login")
    page.expect_path("/login/second")


def _password_then_email(page: Page, applicant: Applicant, lang: str) -> None:
    _password(page, applicant, lang)
    page.submit("email-code")
    page.expect_path("/login/email")


@pytest.mark.parametrize("lang", LANGS)
def test_log_in_with_password_and_app(browser: Page, applicant: Applicant, lang: str) -> None:
    page = browser
    shots = {"en": ("en-10-wrong-password", "en-11-second-step")}.get(lang, (None, None))
    page.go("/")
    page.set_language(lang)
    page.go("/login")
    assert page.el("#passkey-login").is_displayed(), "a passkey is offered on the login page"
    page.fill("email", applicant.email)
    page.fill("password", "not my password at all")
    page.submit("login")
    assert t(lang, "reason.wrong_password") in page.error()
    assert t_prefix(lang, "refusal.left") in page.error()
    # The same fixed list for every address, whether or not it has an account (test_enumeration).
    offered = [a.get_attribute("data-way") for a in page.driver.find_elements("css selector", "#ways a")]
    assert offered == ["passkey", "authenticator_app", "recovery_code", "email_code", "counter_voucher"]
    page.shot(shots[0])
    page.fill("email", applicant.email)
    page.fill("password", applicant.password)
    page.submit("login")
    page.expect_path("/login/second")
    assert t(lang, "login.second_title") in page.body()
    page.shot(shots[1])
    # The sign-up used this step's code; a phone shows the next one soon.
    page.fill("app-code", totp_code(applicant.secret, ahead=1))
    page.submit("check-app")
    page.expect_path("/account")
    assert page.text("#level") == t(lang, "level.AAL2")
    log_out(page)


@pytest.mark.parametrize("lang", LANGS)
def test_log_in_with_password_and_email_code_is_a_lower_level(
    browser: Page, applicant: Applicant, lang: str
) -> None:
    page = browser
    shots = {"en": ("en-12-email-code", "en-13-account-aal1")}.get(lang, (None, None))
    _password_then_email(page, applicant, lang)
    assert t(lang, "login.email_title") in page.body()
    page.shot(shots[0])
    page.fill("code", page.email_code(applicant.email))
    page.submit("check-code")
    page.expect_path("/account")
    assert page.text("#level") == t(lang, "level.AAL1")
    page.shot(shots[1])
    log_out(page)


@pytest.mark.parametrize("lang", LANGS)
def test_the_email_never_arrives_so_the_app(browser: Page, applicant: Applicant, lang: str) -> None:
    page = browser
    _password_then_email(page, applicant, lang)
    page.follow("never-arrived")
    page.expect_path("/login/ways")
    assert t(lang, "ways.intro") in page.body()
    page.fill("app-code", totp_code(applicant.secret, ahead=1))
    page.submit("check-app")
    page.expect_path("/account")
    assert page.text("#level") == t(lang, "level.AAL2"), "password and the app reach AAL2"
    log_out(page)


@pytest.mark.parametrize("lang", LANGS)
def test_the_email_never_arrives_so_a_recovery_code(browser: Page, applicant: Applicant, lang: str) -> None:
    page = browser
    shots = {"id": ("id-10-cara-lain", "id-11-kode-pemulihan-salah")}.get(lang, (None, None))
    _password_then_email(page, applicant, lang)
    assert t(lang, "login.email_title") in page.body()
    page.follow("never-arrived")
    page.expect_path("/login/ways")
    for way in ("app", "recovery", "voucher"):  # the ladder's ways in, each with its form
        page.el(f"#{way}")
    page.shot(shots[0])
    page.fill("recovery-code", "AAAA-BBBB-CCCC")
    page.submit("check-recovery")
    assert t(lang, "reason.wrong_code") in page.error()
    page.shot(shots[1])
    page.fill("recovery-code", applicant.recovery[0])
    page.submit("check-recovery")
    page.expect_path("/account")
    assert page.text("#level") == t(lang, "level.AAL2"), "password and a recovery code reach AAL2"
    log_out(page)

    # A recovery code works once: the shortened set no longer holds it.
    _password_then_email(page, applicant, lang)
    page.follow("never-arrived")
    page.fill("recovery-code", applicant.recovery[0])
    page.submit("check-recovery")
    assert t(lang, "reason.wrong_code") in page.error()


@pytest.mark.parametrize("lang", LANGS)
def test_the_email_never_arrives_so_a_counter_voucher(browser: Page, applicant: Applicant, lang: str) -> None:
    page = browser
    shots = {"id": ("id-20-loket", "id-21-masuk-dengan-voucher")}.get(lang, (None, None))
    page.go("/")
    page.set_language(lang)
    # At the counter: the officer checks documents and signs a voucher (the demo officer here).
    page.go("/dev/counter")
    page.fill("applicant-email", applicant.email)
    page.submit("sign-voucher")
    voucher = page.el("#voucher-out").get_attribute("value")
    assert len(voucher) > 40
    page.shot(shots[0])
    _password_then_email(page, applicant, lang)
    page.follow("never-arrived")
    page.fill("voucher-text", voucher[:-8])
    page.submit("redeem-voucher")
    assert page.error()  # a truncated voucher is refused in words
    page.fill("voucher-text", voucher)
    page.submit("redeem-voucher")
    page.expect_path("/account")
    assert page.text("#level") == t(lang, "level.counter")
    page.shot(shots[1])
    log_out(page)
    # A voucher works once.
    _password_then_email(page, applicant, lang)
    page.follow("never-arrived")
    page.fill("voucher-text", voucher)
    page.submit("redeem-voucher")
    assert page.path != "/account"
    assert page.error()

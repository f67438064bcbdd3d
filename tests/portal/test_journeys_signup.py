"""Sign up in a real browser, in English and in Bahasa Indonesia: each refusal on the way in words
(from the portal's message catalogs) with the next step, and the short way without an ID photo.

Each test is whole on its own (the suite's workers may split a module) and runs once per language;
screenshots (PORTAL_SCREENSHOTS=1) are kept in the one language docs/portal/ shows each page in,
and the walkthrough in docs/portal.md shows each one (checked here without a browser).
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import cv2
import numpy as np
import pytest
from portal_browser import (
    LANGS,
    SHOTS,
    Applicant,
    Page,
    face_photo,
    log_out,
    photo,
    sign_up,
    t,
    totp_code,
    totp_secret,
)

PASSWORDS = {"en": "lantern orchard seventy blue", "id": "kopi tubruk pagi hari sembilan"}
DOMAINS = {"en": "example.com", "id": "example.co.id"}


WALKTHROUGH = SHOTS.parent / "portal.md"


def test_the_walkthrough_shows_every_screenshot_kept() -> None:
    shown = set(re.findall(r"!\[[^\]]*\]\(portal/([^)\s]+)\)", WALKTHROUGH.read_text(encoding="utf-8")))
    kept = {png.name for png in SHOTS.glob("*.png")}
    assert not shown - kept, f"docs/portal.md shows screenshots that are not in docs/portal/: {shown - kept}"
    assert not kept - shown, f"docs/portal/ keeps screenshots docs/portal.md never shows: {kept - shown}"


def _applicant(lang: str, name: str) -> Applicant:
    return Applicant(f"{name}-{secrets.token_hex(4)}@{DOMAINS[lang]}", PASSWORDS[lang])


@pytest.mark.parametrize("lang", LANGS)
def test_sign_up_with_every_refusal_on_the_way(browser: Page, tmp_path: Path, lang: str) -> None:
    page = browser
    shots = {"en": "en-"}.get(lang)  # docs/portal/ shows this journey in English
    # The ID photos to come: none, two faces (from the shared face set), then the applicant's.
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((400, 400, 3), 200, np.uint8))
    two = tmp_path / "two.jpg"
    cv2.imwrite(str(two), np.hstack([photo("Allyson_Felix__0001.jpg"), photo("Amelia_Vega__0002.jpg")]))
    enrol = face_photo("Barack_Obama__obama.jpg")

    def shot(name: str) -> None:
        page.shot(shots and f"{shots}{name}")

    applicant = _applicant(lang, "ana")
    page.go("/")
    page.set_language(lang)
    shot("00-home")

    page.follow("signup-link")
    page.fill("email", applicant.email)
    page.submit("send-code")
    page.expect_path("/signup/email")
    # A wrong code: refused in words, with the tries left.
    page.fill("code", "000000")
    page.submit("check-code")
    assert t(lang, "reason.wrong_code") in page.error()
    assert t(lang, "refusal.left", left=4) in page.error()
    page.expect_offered("code", "resend")  # the right code, or a new one
    shot("01-wrong-code")
    page.fill("code", page.email_code(applicant.email))
    page.submit("check-code")
    page.expect_path("/signup/password")

    # Live policy feedback, from the server's policy, while typing.
    page.fill("password", "password123")
    page.wait(lambda _d: page.el("#policy").get_attribute("data-reason") == "breached", "breached feedback")
    assert page.text("#policy") == t(lang, "reason.breached")
    shot("02-password-feedback")
    page.fill("password", applicant.password)
    page.wait(lambda _d: page.el("#policy").get_attribute("data-reason") == "approved", "approved feedback")
    assert page.text("#policy") == t(lang, "policy.ok")
    page.submit("save-password")
    page.expect_path("/signup/app")
    uri = page.el("#totp-uri").get_attribute("value")
    assert uri.startswith("otpauth://totp/")
    applicant.secret = totp_secret(uri)
    page.fill("app-code", "123456" if totp_code(applicant.secret) != "123456" else "654321")
    page.submit("confirm-app")
    assert t(lang, "reason.wrong_code") in page.error()
    page.fill("app-code", totp_code(applicant.secret))
    page.submit("confirm-app")
    page.expect_path("/signup/recovery")
    applicant.recovery = [c.text for c in page.driver.find_elements("css selector", "#recovery-codes code")]
    assert len(applicant.recovery) == 10
    page.submit("saved-codes")

    # The ID photo: no face, then two faces, then the real one.
    page.el("#photo").send_keys(str(blank))
    page.submit("upload-photo")
    assert page.error() == t(lang, "reason.no_face")
    page.expect_offered("photo", "upload-photo", "skip-photo")  # another photo, or none for now
    shot("03-no-face")
    page.el("#photo").send_keys(str(two))
    page.submit("upload-photo")
    assert t(lang, "reason.multiple_faces") in page.error()
    page.expect_offered("photo", "upload-photo", "skip-photo")
    shot("04-two-faces")
    page.el("#photo").send_keys(str(enrol))
    page.submit("upload-photo")
    page.expect_path("/account")
    assert page.text("#level") == t(lang, "level.AAL2")
    shot("05-account")
    log_out(page)
    assert page.lang() == lang, "signing out keeps the language"


@pytest.mark.parametrize("lang", LANGS)
def test_sign_up_the_short_way_needs_no_photo(browser: Page, lang: str) -> None:
    prefix = {"id": "id-"}.get(lang, "")  # docs/portal/ shows this journey in Bahasa Indonesia
    applicant = _applicant(lang, "budi")
    browser.go("/")
    browser.set_language(lang)
    assert t(lang, "home.signup") in browser.body()
    browser.shot({"id": "id-00-beranda"}.get(lang))
    sign_up(browser, applicant, None, prefix=prefix)
    assert browser.text("#level") == t(lang, "level.AAL2")
    assert browser.text("#signed-in") == t(lang, "account.signed_in", email=applicant.email)
    log_out(browser)
    assert browser.lang() == lang, "signing out keeps the language"

"""A person at the portal, as Selenium sees it: pages, forms, the mailbox, an accessibility check
of every page through Chromium's accessibility tree, screenshots for docs/portal/, a passkey
(Chromium's virtual authenticator), and a y4m writer for Chromium's fake camera.

Every wait is an explicit WebDriverWait on a condition with a generous deadline; nothing sleeps.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

#: The labelled photos beside the project (never copied into it).
FACES = Path(__file__).resolve().parents[3] / "shared" / "data" / "faces"

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
DEADLINE = 60.0
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "portal"
MESSAGES = Path(__file__).resolve().parents[2] / "examples" / "portal" / "messages"
LANGS = ("en", "id")  # every journey runs in each (pytest.mark.parametrize("lang", LANGS))
# Roles a person acts on: each must have a name a screen reader can say.
_CONTROL_ROLES = frozenset(
    {"textbox", "button", "checkbox", "combobox", "searchbox", "spinbutton", "radio", "slider", "link"}
)


@dataclass
class Page:
    driver: Any
    base: str
    steps: list[str] = field(default_factory=list)

    # -- navigation ---------------------------------------------------------------------------

    def wait(self, condition: Any, what: str) -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, DEADLINE, poll_frequency=0.05).until(condition, what)

    def ready(self) -> None:
        self.wait(lambda d: d.execute_script("return document.readyState") == "complete", "page load")

    def go(self, path: str) -> None:
        self.driver.get(self.base + path)
        self.ready()

    @property
    def path(self) -> str:
        return str(urlparse(str(self.driver.current_url)).path)

    def el(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.wait(lambda d: d.find_element(By.CSS_SELECTOR, css), f"element {css}")

    def fill(self, element_id: str, text: str) -> None:
        field_ = self.el(f"#{element_id}")
        field_.clear()
        field_.send_keys(text)

    def submit(self, button_id: str) -> None:
        """Press a button that posts a form, and wait for the next page to load."""
        self.driver.execute_script("window.portalOldPage = true")
        self.el(f"#{button_id}").click()
        self.wait(self._next_page, f"the page after pressing {button_id}")

    def _next_page(self, _driver: Any) -> bool:
        """A new document, loaded: the old one's mark is gone. (An element's staleness would
        do, but mid-navigation Chromium may answer its probe with another error.)"""
        from selenium.common.exceptions import WebDriverException

        try:
            return bool(
                self.driver.execute_script(
                    "return window.portalOldPage !== true && document.readyState === 'complete'"
                )
            )
        except WebDriverException:  # the page is changing under the probe: ask again
            return False

    def follow(self, link_id: str) -> None:
        self.submit(link_id)

    def text(self, css: str) -> str:
        return str(self.el(css).text)

    def error(self) -> str:
        return self.text("#error")

    def press(self, button_id: str, *, then: str) -> None:
        """Press a button whose script ends on another page (a passkey ceremony), and wait there."""
        self.driver.execute_script("window.portalOldPage = true")
        self.el(f"#{button_id}").click()
        self.wait(self._next_page, f"the page after pressing {button_id}")
        self.expect_path(then)

    def script_refusal(self, button_id: str) -> str:
        """Press a button whose script answers in the page's live region; what happened (its
        ``data-reason``: a verdict's reason, or ``browser:<error>`` when the browser refused)."""
        self.driver.execute_script("document.getElementById('messages').dataset.reason = ''")
        self.el(f"#{button_id}").click()
        return str(
            self.wait(
                lambda d: d.execute_script("return document.getElementById('messages').dataset.reason"),
                f"the answer to {button_id}",
            )
        )

    def set_clock(self, seconds: float | None) -> None:
        """Development only: move the store's clock forward ``seconds``, or back to now (``None``)."""
        back = self.driver.current_url
        self.go("/dev/clock")
        if seconds is None:
            self.submit("clock-reset")
        else:
            self.fill("clock-seconds", str(int(seconds)))
            self.submit("clock-advance")
        self.driver.get(back)
        self.ready()

    def expect_path(self, path: str) -> None:
        assert self.path == path, f"expected {path}, at {self.driver.current_url}: {self.body()[:400]}"

    def body(self) -> str:
        return self.text("body")

    def lang(self) -> str:
        return str(self.driver.execute_script("return document.documentElement.lang"))

    # -- what every page must pass ---------------------------------------------------------------

    def step(self, name: str) -> None:
        """Check this page (accessible names, lang set) and keep a screenshot when asked."""
        self.check_accessible()
        self.steps.append(name)
        if os.environ.get("PORTAL_SCREENSHOTS") == "1":
            SHOTS.mkdir(parents=True, exist_ok=True)
            height = self.driver.execute_script("return document.documentElement.scrollHeight")
            self.driver.set_window_size(412, max(600, min(int(height) + 140, 2400)))
            shot = SHOTS / f"{name}.png"
            self.driver.save_screenshot(str(shot))
            self.driver.set_window_size(412, 915)
            _smaller(shot)

    def shot(self, name: str | None) -> None:
        """:meth:`step` under ``name``, or only the checks where this language keeps no screenshot
        (docs/portal/ holds each page once, in one language)."""
        if name:
            self.step(name)
        else:
            self.check_accessible()

    def check_accessible(self) -> None:
        assert self.lang() in {"en", "id"}, "the html element must say its language"
        tree = self.driver.execute_cdp_cmd("Accessibility.getFullAXTree", {})
        unnamed = []
        for node in tree["nodes"]:
            if node.get("ignored"):
                continue
            role = node.get("role", {}).get("value")
            name = str(node.get("name", {}).get("value", "")).strip()
            if role in _CONTROL_ROLES and not name:
                unnamed.append(role)
        assert not unnamed, f"controls without an accessible name on {self.path}: {unnamed}"
        live = self.driver.execute_script("return document.querySelectorAll('[aria-live]').length")
        assert live >= 1, f"{self.path} has no aria-live region for its messages"

    # -- the person's other tools: the mailbox, an authenticator app ----------------------------

    def email_code(self, email: str) -> str:
        """The newest code sent to ``email``, read in the development mailbox."""
        back = self.driver.current_url

        def newest() -> str | None:
            self.go("/dev/mailbox")
            for item in self.driver.find_elements("css selector", "#mail li"):
                if item.find_element("css selector", ".to").text == email:
                    return str(item.find_element("css selector", ".mail-code").text)
            return None

        code = self.wait(lambda _d: newest(), f"a code for {email} in the mailbox")
        self.driver.get(back)
        self.ready()
        return str(code)

    def set_language(self, lang: str) -> None:
        if self.lang() != lang:
            self.follow(f"lang-{lang}")
        assert self.lang() == lang


@cache
def _catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((MESSAGES / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def t(lang: str, key: str, **fields: Any) -> str:
    """The portal's words for ``key`` in ``lang``, from its message catalog, filled in with ``fields``."""
    return _catalog(lang)[key].format(**fields)


def t_prefix(lang: str, key: str) -> str:
    """The words of ``key`` before its first placeholder ("Tries left: " of "Tries left: {left}.")."""
    return _catalog(lang)[key].partition("{")[0]


def _smaller(png: Path) -> None:
    """Keep docs/portal/ small: 256 colours are plenty for a page of text (a photo on it stays
    recognisable), and cut a screenshot to about a third. Left as it is without Pillow."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(png) as image:
        fewer = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    fewer.save(png, optimize=True)


def add_passkey_device(page: Page, *, verified: bool = True) -> None:
    """Chromium's virtual authenticator: a platform authenticator (CTAP2, internal) that keeps
    discoverable passkeys and verifies its user (a fingerprint, say) unless told otherwise."""
    from selenium.webdriver.common.virtual_authenticator import VirtualAuthenticatorOptions

    options = VirtualAuthenticatorOptions(
        protocol=VirtualAuthenticatorOptions.Protocol.CTAP2,
        transport=VirtualAuthenticatorOptions.Transport.INTERNAL,
        has_resident_key=True,
        has_user_verification=True,
        is_user_verified=verified,
    )
    page.driver.add_virtual_authenticator(options)


def totp_secret(uri: str) -> str:
    match = re.search(r"[?&]secret=([A-Z2-7]+)", uri)
    assert match, uri
    return match.group(1)


def totp_code(secret: str, *, ahead: int = 0) -> str:
    import pyotp

    return str(pyotp.TOTP(secret).at(time.time() + 30 * ahead))


@dataclass
class Applicant:
    email: str
    password: str
    secret: str = ""
    recovery: list[str] = field(default_factory=list)


def sign_up(
    page: Page,
    applicant: Applicant,
    photo: Path | None,
    *,
    prefix: str = "",
    shots: bool = True,
    until_photo: bool = False,
) -> None:
    """The whole sign-up journey, the happy path; ``prefix`` names the screenshots (none when empty).
    ``until_photo`` stops at the ID photo step."""

    def step(name: str) -> None:
        if shots and prefix:
            page.step(f"{prefix}{name}")
        else:
            page.check_accessible()

    page.go("/signup")
    step("signup-1-email")
    page.fill("email", applicant.email)
    page.submit("send-code")
    page.expect_path("/signup/email")
    step("signup-2-code")
    page.fill("code", page.email_code(applicant.email))
    page.submit("check-code")
    page.expect_path("/signup/password")
    page.fill("password", applicant.password)
    page.wait(lambda _d: page.el("#policy").get_attribute("data-reason") == "approved", "policy feedback")
    step("signup-3-password")
    page.submit("save-password")
    page.expect_path("/signup/app")
    step("signup-4-app")
    applicant.secret = totp_secret(page.el("#totp-uri").get_attribute("value"))
    page.fill("app-code", totp_code(applicant.secret))
    page.submit("confirm-app")
    page.expect_path("/signup/recovery")
    applicant.recovery = [li.text for li in page.driver.find_elements("css selector", "#recovery-codes code")]
    assert len(applicant.recovery) >= 5
    step("signup-5-recovery")
    page.submit("saved-codes")
    page.expect_path("/signup/face")
    if until_photo:
        return
    step("signup-6-photo")
    if photo is None:
        page.submit("skip-photo")
    else:
        page.el("#photo").send_keys(str(photo))
        page.submit("upload-photo")
    page.expect_path("/account")
    step("signup-7-account")


def log_out(page: Page) -> None:
    page.submit("logout")
    page.expect_path("/")


def photo(path: Path) -> np.ndarray[Any, Any]:
    """A photo of the shared data set, decoded (BGR), to build test images and videos from."""
    import cv2

    image = cv2.imread(str(path))
    assert image is not None, path
    return np.asarray(image)


def write_y4m(path: Path, images: Sequence[np.ndarray[Any, Any]], size: tuple[int, int] = (640, 480)) -> None:
    """A YUV4MPEG2 video (4:2:0, 'C420') of ``images`` (BGR), each fitted into ``size`` on grey:
    what Chromium's fake camera plays in a loop (--use-file-for-fake-video-capture)."""
    import cv2

    width, height = size
    frames = []
    for image in images:
        scale = min(width / image.shape[1], height / image.shape[0])
        fitted = cv2.resize(
            image, (int(image.shape[1] * scale) // 2 * 2, int(image.shape[0] * scale) // 2 * 2)
        )
        canvas = np.full((height, width, 3), 128, np.uint8)
        top = (height - fitted.shape[0]) // 2
        left = (width - fitted.shape[1]) // 2
        canvas[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
        frames.append(cv2.cvtColor(canvas, cv2.COLOR_BGR2YUV_I420).tobytes())  # Y, then U, then V planes
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420\n".encode())
        for frame in frames:
            out.write(b"FRAME\n")
            out.write(frame)
    partial.replace(path)

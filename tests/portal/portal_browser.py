"""A person at the portal, as Selenium sees it: pages, forms, the mailbox, an accessibility check
of every page it lands on (names from Chromium's accessibility tree; lang, a live region and the
text contrast computed in the page), screenshots for docs/portal/, a passkey (Chromium's virtual
authenticator), and a y4m writer for Chromium's fake camera.

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
import pytest

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

#: What every page must say of itself, read in the page in one script: its language, its live
#: regions, and each visible text's contrast (WCAG 2 AA: 4.5:1, or 3:1 for large text: 24 px, or
#: 18.66 px bold) against the background it is drawn on: the colours the browser computed, a
#: half-transparent colour blended over what lies under it, each stop of a gradient taken as a
#: background of its own, and text over a picture refused, since its contrast cannot be known.
_PAGE_FACTS = r"""
const rgba = (css) => {
  const m = /^rgba?\(([^)]*)\)$/.exec(css.trim());
  if (!m) return null;
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
};
const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
const luminance = (c) => {
  const [r, g, b] = c.slice(0, 3).map((v) => {
    v /= 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const ratio = (a, b) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};
// The backgrounds text in `el` may be drawn on: its own and its ancestors', down to the first
// opaque one (the canvas is white); null when a picture lies under the text.
const backgrounds = (el) => {
  const layers = [];
  for (let n = el; n; n = n.parentElement) {
    const style = getComputedStyle(n);
    const image = style.backgroundImage;
    if (image && image !== "none") {
      if (/url\(|image-set\(|element\(/.test(image)) return null;
      const stops = (image.match(/rgba?\([^)]*\)/g) || []).map(rgba).filter(Boolean);
      if (stops.length) layers.push(stops);
    }
    const colour = rgba(style.backgroundColor);
    if (colour && colour[3] > 0) {
      layers.push([colour]);
      if (colour[3] >= 1) break;
    }
  }
  let under = [[255, 255, 255, 1]];
  for (const layer of layers.reverse()) {
    under = layer.flatMap((top) => under.map((u) => over(top, u)));
  }
  return under;
};
const shown = (el, style) =>
  el.getClientRects().length > 0 && style.visibility === "visible" && Number(style.opacity) > 0;
const typed = new Set(["text", "email", "password", "search", "tel", "url", "number", ""]);
const low = [];
for (const el of [document.body, ...document.body.querySelectorAll("*")]) {
  const style = getComputedStyle(el);
  const control = (el.tagName === "INPUT" && typed.has(el.getAttribute("type") || ""))
    || el.tagName === "TEXTAREA" || el.tagName === "SELECT";
  const text = control ? (el.value || el.placeholder || "") : Array.from(el.childNodes)
    .filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join(" ");
  if (!text.trim() || !shown(el, style)) continue;
  const classes = typeof el.className === "string" ? el.className.trim().split(/\s+/).filter(Boolean) : [];
  const what = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + classes.map((c) => "." + c).join("")
    + ' "' + text.trim().slice(0, 30) + '"';
  let fg = rgba(style.color);
  const under = backgrounds(el);
  if (!fg || under === null) {
    low.push(what + ": text over a picture or in an unreadable colour (" + style.color + ")");
    continue;
  }
  for (let n = el; n; n = n.parentElement) {
    fg = fg.slice(0, 3).concat([fg[3] * Number(getComputedStyle(n).opacity)]);
  }
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  const needed = large ? 3 : 4.5;
  for (const bg of under) {
    const seen = ratio(over(fg, bg), bg);
    if (seen < needed - 0.005) {
      low.push(what + ": " + style.color + " on rgb(" + bg.slice(0, 3).map(Math.round).join(", ") + ") is "
        + seen.toFixed(2) + ":1, below " + needed + ":1");
      break;
    }
  }
}
return {
  lang: document.documentElement.lang,
  live: document.querySelectorAll("[aria-live]").length,
  low: low,
};
"""


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
        self.land(self.base + path)

    def land(self, url: str) -> None:
        """Open ``url`` and check the page it shows (:meth:`check_accessible`)."""
        self.driver.get(url)
        self.ready()
        self.check_accessible()

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
        """Press a button that posts a form, wait for the next page to load, and check it."""
        self.driver.execute_script("window.portalOldPage = true")
        self.el(f"#{button_id}").click()
        self.wait(self._next_page, f"the page after pressing {button_id}")
        self.check_accessible()

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
        self.check_accessible()

    def script_refusal(self, button_id: str) -> str:
        """Press a button whose script answers in the page's live region; what happened (its
        ``data-reason``: a verdict's reason, or ``browser:<error>`` when the browser refused)."""
        self.driver.execute_script("document.getElementById('messages').dataset.reason = ''")
        self.el(f"#{button_id}").click()
        reason = str(
            self.wait(
                lambda d: d.execute_script("return document.getElementById('messages').dataset.reason"),
                f"the answer to {button_id}",
            )
        )
        self.check_accessible()  # the words the script wrote, and the ways it listed
        return reason

    def set_clock(self, seconds: float | None) -> None:
        """Development only: move the store's clock forward ``seconds``, or back to now (``None``)."""
        back = self.driver.current_url
        self.go("/dev/clock")
        if seconds is None:
            self.submit("clock-reset")
        else:
            self.fill("clock-seconds", str(int(seconds)))
            self.submit("clock-advance")
        self.land(back)

    def expect_path(self, path: str) -> None:
        assert self.path == path, f"expected {path}, at {self.driver.current_url}: {self.body()[:400]}"

    def expect_offered(self, *element_ids: str) -> None:
        """Each of these buttons or links (the next ways on after a refusal) is on the page, shown."""
        missing = [
            element_id
            for element_id in element_ids
            if not any(e.is_displayed() for e in self.driver.find_elements("id", element_id))
        ]
        assert not missing, f"{self.path} does not offer {missing}: {self.body()[:400]}"

    def body(self) -> str:
        return self.text("body")

    def lang(self) -> str:
        return str(self.driver.execute_script("return document.documentElement.lang"))

    # -- what every page must pass ---------------------------------------------------------------

    def step(self, name: str) -> None:
        """Check this page as it is now (what a script changed in it too), and keep a screenshot
        when asked."""
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
        """What every page the person lands on must pass: each control and link has a name a
        screen reader can say (Chromium's own accessibility tree), the page says its language,
        has a live region for its messages, and every visible text is readable (WCAG 2 AA)."""
        facts = self.driver.execute_script(_PAGE_FACTS)
        assert facts["lang"] in {"en", "id"}, f"{self.path}: the html element must say its language"
        assert facts["live"] >= 1, f"{self.path} has no aria-live region for its messages"
        assert not facts["low"], f"text below WCAG AA contrast on {self.path}: {facts['low']}"
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
        self.land(back)
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


def face_photo(name: str) -> Path:
    """The path of a photo of the shared data set; the test is skipped, saying why, where the set
    is not beside the project."""
    path = FACES / name
    if not path.is_file():
        pytest.skip(f"{path} is missing: this test needs the shared face photos in {FACES}")
    return path


def photo(name: str) -> np.ndarray[Any, Any]:
    """A photo of the shared data set, decoded (BGR), to build test images and videos from."""
    import cv2

    path = face_photo(name)
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

"""The face check with the camera, in English and in Bahasa Indonesia: Chromium's fake camera plays a
y4m video made here from a real photo; the same person is approved, another person refused, each in
the words of the portal's message catalog. The portal runs the face pipeline on its defaults
(sandboxed worker processes). Each test is whole on its own: it signs up, and sets the video."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from portal_browser import LANGS, Applicant, Page, face_photo, log_out, photo, sign_up, t, write_y4m

# The shared face set's photos (a test without them is skipped, saying so).
ENROL = "Barack_Obama__obama.jpg"
SAME = "Barack_Obama__obama2.jpg"
OTHER = "Amelia_Vega__0002.jpg"


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    video = tmp_path_factory.mktemp("camera") / "camera.y4m"
    write_y4m(video, [photo(SAME)] * 2)
    yield video


@pytest.fixture(scope="module")
def chrome_args(camera: Path) -> list[str]:
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}",
    ]


def _check_face(page: Page) -> str:
    page.go("/account/face")
    page.el("#start-camera").click()
    page.wait(lambda _d: page.el("#take-photo").is_enabled(), "the camera to start")
    page.wait(
        lambda d: d.execute_script("return document.getElementById('camera').videoWidth") > 0, "a video frame"
    )
    page.el("#take-photo").click()
    page.wait(lambda _d: page.el("#face-result").get_attribute("data-reason"), "the face verdict")
    return str(page.el("#face-result").get_attribute("data-reason"))


@pytest.mark.parametrize("lang", LANGS)
def test_the_same_person_is_approved_and_another_refused(browser: Page, camera: Path, lang: str) -> None:
    shots = {"en": ("en-20-face-approved", "en-21-face-refused")}.get(lang, (None, None))
    # The same person in front of the camera (an earlier test may have left another one there).
    write_y4m(camera, [photo(SAME)] * 2)
    applicant = Applicant(f"rina-{secrets.token_hex(4)}@example.co.id", "mango harbour quiet ninety")
    browser.go("/")
    browser.set_language(lang)
    sign_up(browser, applicant, face_photo(ENROL), shots=False)
    assert _check_face(browser) == "approved"
    assert browser.text("#face-result") == t(lang, "face.approved")
    browser.shot(shots[0])

    # Another person in front of the camera: the device reopens the file on the next start.
    write_y4m(camera, [photo(OTHER)] * 2)
    assert _check_face(browser) == "mismatch"
    assert t(lang, "reason.mismatch") in browser.text("#face-result")
    assert browser.driver.find_elements("css selector", "#face-ways li"), "the next way in is offered"
    browser.shot(shots[1])
    browser.go("/account")
    log_out(browser)

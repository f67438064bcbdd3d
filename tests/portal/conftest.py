"""The applicant portal (examples/portal) end to end: a uvicorn subprocess on a free loopback port and
headless Chromium driven by Selenium through Debian's own driver (no browser download).

Tests that use the ``browser`` fixture are skipped, with the reason, only when /usr/bin/chromedriver is
missing; ``make test`` installs it (scripts/services.sh). One server per test session, one browser per
module; a module that needs a fake camera overrides ``chrome_args``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from portal_browser import CHROMEDRIVER, CHROMIUM, Page

from polling import wait_for

ROOT = Path(__file__).resolve().parents[2]
NO_DRIVER = f"{CHROMEDRIVER} is missing: apt-get install chromium chromium-driver (make test does)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if Path(CHROMEDRIVER).exists():
        return
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason=NO_DRIVER)
    for item in items:
        if here in item.path.parents and "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="session")
def portal_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The portal in development mode on embedded defaults, in a process of its own."""
    mailbox = tmp_path_factory.mktemp("portal-mail")
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "examples"), os.environ.get("PYTHONPATH")])),
        "PORTAL_DEV": "1",
        "PORTAL_MAILBOX": str(mailbox),
        "PORTAL_DB": ":memory:",
        "PORTAL_TEST_CLOCK": "1",  # /dev/clock moves the store's clock: codes expire without waiting
    }
    log = (tmp_path_factory.getbasetemp() / "portal.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "portal", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    # localhost, not 127.0.0.1: the portal's passkeys are bound to http://localhost:PORT (WebAuthn
    # allows plain http only there), which `python -m portal --port` sets in development mode.
    url = f"http://localhost:{port}"
    try:
        wait_for(lambda: process.poll() is not None or _answers(url + "/"), "the portal to answer")
        if process.poll() is not None:
            raise AssertionError(f"the portal exited with {process.returncode}; see {log.name}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def chrome_args() -> list[str]:
    """Extra Chromium switches for this module's browser (the camera module adds a fake camera)."""
    return []


@pytest.fixture(scope="module")
def browser(portal_url: str, chrome_args: list[str]) -> Iterator[Page]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=412,915",  # a phone-sized screen: the layout must work there
        "--lang=en-US",
        *chrome_args,
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield Page(driver, portal_url)
    finally:
        driver.quit()

"""A person at the portal without a browser: plain HTTP with the session cookie and the CSRF token,
no script, no redirects followed unless asked. For what must hold byte for byte (two answers the
same) and for accounts a test needs ready-made (a sign-up in a dozen requests, no Chromium).

:func:`served` runs a portal of a test's own in this process (its own settings, a database file
the test can open, services the test can look into), on a free loopback port.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import re
import secrets
import socket
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from portal_browser import Applicant, totp_code

from polling import wait_for

COOKIE = "portal_session"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Reply:
    status: int
    headers: Message
    body: str

    @property
    def location(self) -> str:
        return str(urllib.parse.urlsplit(self.headers.get("location", "")).path)

    def session_keys(self) -> frozenset[str] | None:
        """The keys of the session this reply sets (Starlette's cookie is signed, not encrypted:
        anyone can read it), or ``None`` when it sets none."""
        for header in self.headers.get_all("set-cookie") or []:
            name, _, rest = header.partition("=")
            if name == COOKIE:
                payload = rest.split(";", 1)[0].split(".", 1)[0]
                return frozenset(json.loads(base64.b64decode(payload)))
        return None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Client:
    base: str
    cookie: str = ""
    csrf: str = ""
    replies: list[Reply] = field(default_factory=list)

    def __post_init__(self) -> None:
        # 127.0.0.1, where the portal listens: plain HTTP needs no passkey origin.
        self.base = self.base.replace("://localhost:", "://127.0.0.1:")
        self._opener = urllib.request.build_opener(_NoRedirect())

    def request(
        self, method: str, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        sent = dict(headers or {})
        if self.cookie:
            sent["Cookie"] = f"{COOKIE}={self.cookie}"
        request = urllib.request.Request(self.base + path, data=data, headers=sent, method=method)
        try:
            with self._opener.open(request, timeout=60) as response:
                reply = Reply(response.status, response.headers, response.read().decode())
        except urllib.error.HTTPError as exc:
            reply = Reply(exc.code, exc.headers, exc.read().decode())
        for header in reply.headers.get_all("set-cookie") or []:
            name, _, rest = header.partition("=")
            if name == COOKIE:
                self.cookie = rest.split(";", 1)[0]
        token = _CSRF.search(reply.body)
        if token:
            self.csrf = token.group(1)
        self.replies.append(reply)
        return reply

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str] | None = None) -> Reply:
        body = urllib.parse.urlencode({"csrf": self.csrf, **(form or {})}).encode()
        return self.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})

    def post_file(
        self,
        path: str,
        name: str,
        filename: str,
        data: bytes,
        content_type: str,
        form: dict[str, str] | None = None,
    ) -> Reply:
        """A multipart form, as a browser posts a file input: ``data`` under ``name``."""
        boundary = "----portal" + secrets.token_hex(12)
        parts = []
        for key, value in {"csrf": self.csrf, **(form or {})}.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
            )
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("POST", path, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def post_json(self, path: str, doc: object) -> Reply:
        headers = {"Content-Type": "application/json", "X-CSRF-Token": self.csrf}
        return self.request("POST", path, json.dumps(doc).encode(), headers)

    def follow(self, reply: Reply) -> Reply:
        assert reply.status == 303, (reply.status, reply.body[:300])
        return self.get(reply.location)

    def email_code(self, email: str) -> str:
        """The newest code sent to ``email``, read in the development mailbox."""
        page = self.get("/dev/mailbox").body
        for to, code in re.findall(
            r'<span class="to">([^<]*)</span>.*?<code class="mail-code">(\d+)</code>', page
        ):
            if html.unescape(to) == email:
                return str(code)
        raise AssertionError(f"no code for {email} in the mailbox")


def start_sign_up(base: str, applicant: Applicant, *, lang: str = "en") -> Client:
    """Sign-up over plain HTTP in ``lang`` up to the recovery codes (email code, password, app
    confirmed); fills in ``applicant.secret``. The app's current code is spent here."""
    client = Client(base)
    if lang != "en":
        client.get(f"/lang/{lang}")
    client.get("/signup")
    assert client.post("/signup", {"email": applicant.email}).location == "/signup/email"
    code = client.email_code(applicant.email)
    assert client.post("/signup/email", {"code": code}).location == "/signup/password"
    assert client.post("/signup/password", {"password": applicant.password}).location == "/signup/app"
    secret = re.search(r'id="totp-secret" readonly value="([A-Z2-7]+)"', client.get("/signup/app").body)
    assert secret, "the app's key is shown"
    applicant.secret = secret.group(1)
    assert client.post("/signup/app", {"code": totp_code(applicant.secret)}).location == "/signup/recovery"
    return client


def recovery_codes(page: str) -> list[str]:
    """The recovery codes a sign-up page shows (none once they were shown)."""
    return re.findall(r"<li><code>([^<]+)</code></li>", page)


def sign_up_to_photo(base: str, applicant: Applicant, *, lang: str = "en") -> Client:
    """Sign-up over plain HTTP up to the ID photo; fills in ``applicant.secret`` and
    ``applicant.recovery``."""
    client = start_sign_up(base, applicant, lang=lang)
    applicant.recovery = recovery_codes(client.get("/signup/recovery").body)
    assert len(applicant.recovery) == 10
    assert client.post("/signup/recovery").location == "/signup/face"
    return client


def sign_up(base: str, applicant: Applicant) -> Applicant:
    """The sign-up journey over plain HTTP (password, app, recovery codes, no photo); fills in
    ``applicant.secret`` and ``applicant.recovery``. The app's current code is spent here."""
    client = sign_up_to_photo(base, applicant)
    assert client.post("/signup/face", {"action": "skip"}).location == "/account"
    return applicant


def portal_module(name: str) -> Any:
    """A module of the portal package (``examples/portal``), imported in this process."""
    import importlib

    sys.path.insert(0, str(EXAMPLES))
    try:
        return importlib.import_module(f"portal.{name}")
    finally:
        sys.path.remove(str(EXAMPLES))


@contextlib.contextmanager
def served(config: Any, prepare: Callable[[Any], None] | None = None) -> Iterator[str]:
    """The portal built from ``config`` (a ``portal.config.Config``) on uvicorn in a thread of
    this process, at the base URL this yields; ``prepare`` is handed its services first."""
    import uvicorn

    app = portal_module("app").create_app(config)
    if prepare is not None:
        prepare(app.state.services)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), "the portal to start")
        assert thread.is_alive(), "the portal did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()

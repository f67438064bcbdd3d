"""Real SMTP servers on loopback (aiosmtpd) and a self-signed certificate made for the run.

- ``smtp_server(...)``: starts an aiosmtpd server on a free port with a :class:`Recorder`
  handler (scriptable replies, an optional delay) and stops it after the test. Extra
  keyword arguments go to aiosmtpd's ``Controller`` (``tls_context``, ``ssl_context``,
  ``require_starttls``, ``authenticator``, ``auth_required`` ...).
- ``tls``: a server context with a self-signed certificate for 127.0.0.1, and a client
  context that trusts exactly that certificate.
- ``unused_port``: a loopback port nothing listens on.
- ``authenticator(login, password)``: an aiosmtpd authenticator for AUTH tests.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    over_tls: bool
    authenticated: bool

    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.content)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Recorder:
    """An aiosmtpd handler that records what it accepts.

    ``rcpt_replies`` are answered to successive RCPT commands before falling back to
    "250 OK"; ``data_delay`` makes the server wait that long before answering DATA.
    """

    rcpt_replies: list[str] = field(default_factory=list)
    data_delay: float = 0.0
    rcpt_commands: int = 0
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.rcpt_commands += 1
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        self.received.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                content=bytes(envelope.original_content or envelope.content),
                over_tls=session.ssl is not None,
                authenticated=bool(session.authenticated),
            )
        )
        return "250 Message accepted"


@dataclass
class Server:
    host: str
    port: int
    handler: Recorder


StartServer = Callable[..., Server]


@pytest.fixture
def smtp_server() -> Iterator[StartServer]:
    controllers: list[Controller] = []

    def start(handler: Recorder | None = None, **controller_kwargs: Any) -> Server:
        handler = handler if handler is not None else Recorder()
        port = free_port()
        controller = Controller(handler, hostname=HOST, port=port, **controller_kwargs)
        controller.start()
        controllers.append(controller)
        return Server(HOST, port, handler)

    yield start
    for controller in controllers:
        controller.stop()


@dataclass(frozen=True)
class TLS:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLS:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "verifykit test mail server")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=cert_pem.decode("ascii"))
    return TLS(server=server, client=client)


@pytest.fixture
def authenticator() -> Callable[[str, str], Callable[..., AuthResult]]:
    """``authenticator(login, password)``: an aiosmtpd authenticator accepting exactly that pair."""

    def make(login: str, password: str) -> Callable[..., AuthResult]:
        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and data == (login.encode(), password.encode())
            return AuthResult(success=ok, handled=False)

        return authenticate

    return make


@pytest.fixture
def unused_port() -> int:
    """A loopback port with nothing listening: connecting to it is refused."""
    return free_port()

"""Real sidecars on free ports, and real clients (fixtures re-exported by conftest.py).

- ``serve(**config)``: an in-process sidecar on 127.0.0.1:0 with a capturing outbox; returns a
  :class:`Running` with the port, a connected client and the outbox. Stopped after the test.
- ``serve_process(*args, env=)``: ``verifykit serve`` as a child process (:class:`SidecarProcess`,
  its JSON log in a file); killed after the test if still running.
- ``pki``: a CA, a server certificate for 127.0.0.1/localhost and a client certificate, made
  with ``cryptography`` for this test run.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from verifykit import Keyring
from verifykit.aio import AsyncChallengeStore
from verifykit.client import Client
from verifykit.delivery import Outbox
from verifykit.fallbacks import TOTPSettings
from verifykit.otp import OTPSettings
from verifykit.server import Components, ServerConfig, Sidecar, create_server
from verifykit.server._process import SidecarProcess

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Running:
    sidecar: Sidecar
    port: int
    client: Client
    outbox: Outbox
    keyring: Keyring

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def connect(self, **options: Any) -> Client:
        return Client(self.target, **options)


Serve = Callable[..., Running]


@pytest.fixture
def serve() -> Iterator[Serve]:
    started: list[Running] = []

    def start(
        *,
        store: AsyncChallengeStore | None = None,
        otp_settings: OTPSettings | None = None,
        totp_settings: TOTPSettings | None = None,
        keyring: Keyring | None = None,
        mailer: Any = None,
        client_options: dict[str, Any] | None = None,
        **config: Any,
    ) -> Running:
        config.setdefault("listen", "127.0.0.1:0")
        config.setdefault("access_log", False)
        config.setdefault("audit_log", False)
        config.setdefault("grace", 1.0)
        outbox = Outbox()
        keyring = keyring if keyring is not None else Keyring.generate()
        sidecar, port = create_server(
            ServerConfig(**config),
            Components(
                store=store,
                keyring=keyring,
                mailer=outbox if mailer is None else mailer,
                otp_settings=otp_settings,
                totp_settings=totp_settings,
            ),
        )
        sidecar.start()
        client = Client(f"127.0.0.1:{port}", timeout=30.0, **(client_options or {}))
        running = Running(sidecar, port, client, outbox, keyring)
        started.append(running)
        return running

    yield start
    for running in started:
        running.client.close()
        running.sidecar.stop(0)


@pytest.fixture
def sidecar(serve: Serve) -> Running:
    """A sidecar on the memory store with default settings."""
    return serve()


ServeProcess = Callable[..., SidecarProcess]


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[ServeProcess]:
    started: list[SidecarProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> SidecarProcess:
        process = SidecarProcess(args, tmp_path / f"sidecar-{len(started)}.log", env=env)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait(timeout=10)


@dataclass(frozen=True)
class PKI:
    ca: bytes
    server_cert: Path
    server_key: Path
    ca_path: Path
    client_cert: bytes
    client_key: bytes
    other_client_cert: bytes
    other_client_key: bytes


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer if issuer is not None else (subject, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    """A CA that signs the server and one client; a second CA signs a client the server must refuse."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key, other_ca_key = _key(), _key()
    ca = _certificate("verifykit test CA", ca_key, None, ca=True)
    other_ca = _certificate("some other CA", other_ca_key, None, ca=True)
    server_key, client_key, other_key = _key(), _key(), _key()
    server = _certificate("127.0.0.1", server_key, (ca.subject, ca_key), server=True)
    client = _certificate("service-a", client_key, (ca.subject, ca_key))
    other = _certificate("intruder", other_key, (other_ca.subject, other_ca_key))
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(server.public_bytes(pem))
    (folder / "server.key").write_bytes(_pem_key(server_key))
    return PKI(
        ca=ca.public_bytes(pem),
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        ca_path=folder / "ca.pem",
        client_cert=client.public_bytes(pem),
        client_key=_pem_key(client_key),
        other_client_cert=other.public_bytes(pem),
        other_client_key=_pem_key(other_key),
    )

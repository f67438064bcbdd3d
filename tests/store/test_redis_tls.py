"""``rediss://`` authenticates the server: a trusted certificate for another hostname is refused.

Each test starts its own ``redis-server`` with TLS on a free loopback port, using certificates
made here: one CA, a server certificate for ``localhost``/127.0.0.1 and one, from the same CA,
for ``other.example``. Only the name differs, so a refusal can only come from the hostname check.
Every test runs over both store flavours.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import shutil
import socket
import subprocess
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from store_support import open_flavour

from verifykit import ConfigurationError, StoreUnavailable
from verifykit.store import ChallengeStore, WindowPolicy
from verifykit.store._redis import RedisBase

STARTUP_TIMEOUT = 30.0
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@dataclass(frozen=True)
class Certificates:
    ca: Path
    localhost: tuple[Path, Path]
    other_host: tuple[Path, Path]


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _sign(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    names: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    """A CA certificate when ``names`` is None, else a server certificate for those names."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer if issuer is not None else (name, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=names is None, path_length=None), critical=True)
    )
    if names is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(
    folder: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    folder = tmp_path_factory.mktemp("redis-tls")
    ca_key = _key()
    ca = _sign("verifykit test CA", ca_key, None)
    local_key, other_key = _key(), _key()
    local = _sign(
        "localhost",
        local_key,
        (ca.subject, ca_key),
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    other = _sign("other.example", other_key, (ca.subject, ca_key), [x509.DNSName("other.example")])
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return Certificates(
        ca=folder / "ca.pem",
        localhost=_write(folder, "localhost", local, local_key),
        other_host=_write(folder, "other", other, other_key),
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int, ca: Path) -> bool:
    """A TLS PING that trusts the CA but not the name: readiness, whichever certificate is served."""
    import redis

    client = redis.Redis(
        host="127.0.0.1",
        port=port,
        ssl=True,
        ssl_ca_certs=str(ca),
        ssl_check_hostname=False,
        socket_timeout=2.0,
    )
    try:
        return bool(client.ping())
    finally:
        client.close()


StartServer = Callable[..., int]


@pytest.fixture(scope="module")
def tls_redis(certificates: Certificates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartServer]:
    """``start(cert_and_key, *extra_args) -> port``: a redis-server answering only on TLS (each
    lives until the module's tests end)."""
    tmp_path = tmp_path_factory.mktemp("tls-nodes")
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("these tests need redis-server with TLS (Debian's has it): apt-get install redis-server")
    started: list[subprocess.Popen[bytes]] = []

    def start(cert_and_key: tuple[Path, Path], *extra: str) -> int:
        port = _free_port()
        folder = tmp_path / f"node-{port}"
        folder.mkdir()
        cert, key = cert_and_key
        args = [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"]
        args += ["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
        args += ["--tls-ca-cert-file", str(certificates.ca), "--tls-auth-clients", "no"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(folder), *extra]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        started.append(proc)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                pytest.fail(f"redis-server with TLS exited ({proc.returncode}): {output[-2000:]}")
            try:
                if _answers(port, certificates.ca):
                    return port
            except Exception as exc:
                last = exc
            time.sleep(0.05)
        pytest.fail(f"redis-server with TLS did not answer within {STARTUP_TIMEOUT:.0f} s ({last!r})")

    yield start
    for proc in started:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def stores(store_flavour: str) -> Iterator[Callable[..., ChallengeStore]]:
    opened: list[ChallengeStore] = []

    def make(url: str) -> ChallengeStore:
        store = open_flavour(url, "tls", store_flavour)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def _counts(store: ChallengeStore) -> bool:
    return store.hit("k", WindowPolicy(5, 60)).allowed


# Options with which redis-py talks to a server whose certificate names another host.
WEAKENING = ["ssl_cert_reqs=none", "ssl_check_hostname=false"]


def test_a_rediss_store_works_when_the_certificate_names_the_host(
    tls_redis: StartServer, certificates: Certificates, stores: Callable[..., ChallengeStore]
) -> None:
    port = tls_redis(certificates.localhost)
    assert _counts(stores(f"rediss://localhost:{port}/0?ssl_ca_certs={certificates.ca}"))


def test_a_rediss_store_refuses_a_trusted_certificate_for_another_host(
    tls_redis: StartServer, certificates: Certificates, stores: Callable[..., ChallengeStore]
) -> None:
    port = tls_redis(certificates.other_host)
    store = stores(f"rediss://localhost:{port}/0?ssl_ca_certs={certificates.ca}")
    with pytest.raises(StoreUnavailable) as refused:
        _counts(store)
    assert "hostname" in str(refused.value.__cause__).lower()  # refused for the name, not the CA


def test_a_rediss_store_asks_redis_py_to_check_the_hostname_explicitly(
    tls_redis: StartServer, certificates: Certificates, stores: Callable[..., ChallengeStore]
) -> None:
    port = tls_redis(certificates.localhost)
    store = stores(f"rediss://localhost:{port}/0?ssl_ca_certs={certificates.ca}")
    assert isinstance(getattr(store, "inner", store), RedisBase)
    assert store.options["ssl_check_hostname"] is True
    assert _counts(store)
    client: Any = store._ready()
    assert client.connection_pool.connection_kwargs["ssl_check_hostname"] is True


def test_a_rediss_store_states_full_verification_in_its_options(
    tls_redis: StartServer, certificates: Certificates, stores: Callable[..., ChallengeStore]
) -> None:
    port = tls_redis(certificates.localhost)
    url = f"rediss://localhost:{port}/0?ssl_ca_certs={certificates.ca}&ssl_cert_reqs=required"
    store: Any = stores(url)
    assert (store.options["ssl_cert_reqs"], store.options["ssl_check_hostname"]) == ("required", True)
    assert _counts(store)
    kwargs = store._ready().connection_pool.connection_kwargs
    assert (kwargs["ssl_cert_reqs"], kwargs["ssl_check_hostname"]) == ("required", True)


@pytest.mark.parametrize("weakening", WEAKENING)
def test_a_rediss_store_refuses_to_open_with_an_option_that_weakens_verification(
    weakening: str,
    tls_redis: StartServer,
    certificates: Certificates,
    stores: Callable[..., ChallengeStore],
) -> None:
    import redis

    port = tls_redis(certificates.other_host)
    # redis-py itself would talk to this server, whose certificate names another host.
    raw = redis.Redis.from_url(f"rediss://localhost:{port}/0?{weakening}", ssl_ca_certs=str(certificates.ca))
    try:
        assert raw.ping()
    finally:
        raw.close()
    with pytest.raises(ConfigurationError, match="only accepts a verified server"):
        stores(f"rediss://localhost:{port}/0?ssl_ca_certs={certificates.ca}&{weakening}")


OneNodeCluster = Callable[[tuple[Path, Path]], int]


@pytest.fixture(scope="module")
def one_node_cluster(tls_redis: StartServer, certificates: Certificates) -> OneNodeCluster:
    """``cluster(cert_and_key) -> port``: a TLS Redis Cluster of one master owning every slot,
    announcing itself as localhost; one for each certificate, shared by the module's tests (a
    cluster takes a while to settle)."""
    ports: dict[tuple[Path, Path], int] = {}

    def cluster(cert_and_key: tuple[Path, Path]) -> int:
        if cert_and_key not in ports:
            ports[cert_and_key] = _new_one_node_cluster(tls_redis, cert_and_key, certificates.ca)
        return ports[cert_and_key]

    return cluster


def _new_one_node_cluster(start: StartServer, cert_and_key: tuple[Path, Path], ca: Path) -> int:
    import redis

    port = start(
        cert_and_key,
        *("--cluster-enabled", "yes", "--tls-cluster", "yes", "--cluster-port", str(_free_port())),
        *("--cluster-announce-hostname", "localhost", "--cluster-preferred-endpoint-type", "hostname"),
    )
    admin = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(ca), ssl_check_hostname=False)
    try:
        admin.execute_command("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while "cluster_state:ok" not in admin.execute_command("CLUSTER", "INFO").decode():
            if time.monotonic() > deadline:
                pytest.fail("the one-node TLS cluster did not become ready")
            time.sleep(0.05)
    finally:
        admin.close()
    return port


def test_a_rediss_cluster_store_checks_the_hostname_of_every_node(
    one_node_cluster: OneNodeCluster, certificates: Certificates, stores: Callable[..., ChallengeStore]
) -> None:
    port = one_node_cluster(certificates.localhost)
    store = stores(f"rediss+cluster://localhost:{port}?ssl_ca_certs={certificates.ca}")
    assert _counts(store)
    client: Any = store._ready()
    assert client.get_connection_kwargs()["ssl_check_hostname"] is True


def test_a_rediss_cluster_store_refuses_a_trusted_certificate_for_another_host(
    one_node_cluster: OneNodeCluster, certificates: Certificates, stores: Callable[..., ChallengeStore]
) -> None:
    port = one_node_cluster(certificates.other_host)
    store = stores(f"rediss+cluster://localhost:{port}?ssl_ca_certs={certificates.ca}")
    with pytest.raises(StoreUnavailable):
        _counts(store)


@pytest.mark.parametrize("weakening", WEAKENING)
def test_a_rediss_cluster_store_refuses_to_open_with_an_option_that_weakens_verification(
    weakening: str,
    one_node_cluster: OneNodeCluster,
    certificates: Certificates,
    stores: Callable[..., ChallengeStore],
) -> None:
    port = one_node_cluster(certificates.other_host)
    with pytest.raises(ConfigurationError, match="only accepts a verified server"):
        stores(f"rediss+cluster://localhost:{port}?ssl_ca_certs={certificates.ca}&{weakening}")


def test_the_redis_extra_needs_a_redis_py_that_checks_hostnames_by_default() -> None:
    # redis-py 6.0 turned ssl_check_hostname on by default; 6.1 let RedisCluster pass it on and
    # 6.2 undid a 6.1 regression in the TLS context. Nothing older may be installed with us.
    extras = tomllib.loads(PYPROJECT.read_text("utf-8"))["project"]["optional-dependencies"]
    (requirement,) = extras["redis"]
    floor = re.fullmatch(r"redis(\[[a-z,]+\])?>=([0-9]+)\.([0-9]+)(\.[0-9]+)?", requirement)
    assert floor is not None, requirement
    assert (int(floor.group(2)), int(floor.group(3))) >= (6, 2)

"""A store URL is checked whole, before anything connects, by the sync and the asyncio
``open_store`` alike: what it names is exactly what is used, and a refusal says what is wrong
without repeating a password."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from verifykit import ConfigurationError
from verifykit.store import ChallengeStore, WindowPolicy, open_async_store, open_store
from verifykit.store._factory import StoreURL, failure_cause, parse_store_url

PASSWORD = "pw-Zq8vX1-never-shown"
OPENERS: dict[str, Callable[..., Any]] = {"sync": open_store, "async": open_async_store}


@pytest.fixture(params=sorted(OPENERS))
def opener(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``open_store`` of each flavour in turn: ``sync`` (verifykit.store) and ``async`` (verifykit.aio)."""
    return OPENERS[request.param]


# -- what a URL names ------------------------------------------------------------------------------


def _redis(host: str, port: int = 6379, db: int = 0, scheme: str = "redis") -> StoreURL:
    return StoreURL("redis", scheme, nodes=((host, port),), db=db)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("memory://", StoreURL("memory", "memory")),
        ("redis://cache.internal", _redis("cache.internal")),
        ("redis://cache.internal:6380/3", _redis("cache.internal", 6380, 3)),
        ("redis://cache.internal:6380?db=3", _redis("cache.internal", 6380, 3)),
        (f"redis://user:{PASSWORD}@10.0.0.5:6379/1", _redis("10.0.0.5", db=1)),
        ("rediss://[::1]:6380/0", _redis("::1", 6380, scheme="rediss")),
        ("REDIS://cache.internal/0", _redis("cache.internal")),
        ("unix:///run/redis.sock?db=2", StoreURL("redis", "unix", socket="/run/redis.sock", db=2)),
        (
            "redis+cluster://10.0.0.1:7000,10.0.0.2:7001",
            StoreURL("cluster", "redis+cluster", nodes=(("10.0.0.1", 7000), ("10.0.0.2", 7001))),
        ),
        (
            "rediss+cluster://node.internal:7000/0",
            StoreURL("cluster", "rediss+cluster", nodes=(("node.internal", 7000),)),
        ),
    ],
)
def test_a_url_names_its_backend_servers_and_database(url: str, named: StoreURL) -> None:
    assert parse_store_url(url) == named


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("memory://", "memory"),
        ("redis://cache.internal/0", "cache.internal:6379"),
        ("rediss://[::1]:6380/0", "[::1]:6380"),
        ("unix:///run/redis.sock", "/run/redis.sock"),
        ("redis+cluster://10.0.0.1:7000,10.0.0.2:7001", "10.0.0.1:7000,10.0.0.2:7001"),
    ],
)
def test_the_location_names_where_the_store_is_for_logs(url: str, location: str) -> None:
    assert parse_store_url(url).location == location


@pytest.mark.parametrize("database", ["/3", "?db=3"])
def test_the_database_the_url_names_is_the_one_written(
    database: str, redis_url: str, store_flavour: str, make_store: Callable[..., ChallengeStore]
) -> None:
    server = redis_url.rsplit("/", 1)[0]  # redis://127.0.0.1:6379
    namespace = f"vkt-db-{uuid.uuid4().hex[:8]}"
    store = make_store(f"{server}{database}", flavour=store_flavour, namespace=namespace)
    store.hit("k", WindowPolicy(5, 60))
    in_db = {db: redis.Redis.from_url(f"{server}/{db}") for db in (0, 3)}
    try:
        found = {db: list(client.scan_iter(match=f"{namespace}:*")) for db, client in in_db.items()}
    finally:
        for client in in_db.values():
            client.close()
    assert (bool(found[3]), bool(found[0])) == (True, False)


# -- what is refused, and how it is said -----------------------------------------------------------

REFUSED = [
    ("redis://127.0.0.1:6379/abc", "database number .* 'abc'"),
    ("redis://127.0.0.1:6379/-1", "database number .* '-1'"),
    ("redis://127.0.0.1:6379/0/1", "database number"),
    ("redis://127.0.0.1:6379?db=two", r"database number \(\?db=\)"),
    ("redis://127.0.0.1:6379/1?db=2", "database is given more than once"),
    ("unix:///run/redis.sock?db=x", r"database number .* unix:///path/to/redis.sock\?db=DB"),
    ("redis://127.0.0.1:notaport/0", "port must be a number from 1 to 65535"),
    ("redis://127.0.0.1:0/0", "port must be a number from 1 to 65535"),
    ("redis://127.0.0.1:65536/0", "port must be a number from 1 to 65535"),
    ("redis:///0", "names no host"),
    ("rediss://:6380/0", "names no host"),
    ("redis://[::1/0", "malformed"),
    ("redis://127.0.0.1:6379/0?colour=blue", "unknown store option.* colour"),
    ("redis://127.0.0.1:6379/0?socket_timeout", "query is malformed"),
    ("redis://127.0.0.1:6379/0?socket_timeout=abc", "socket_timeout has a malformed value"),
    ("redis://127.0.0.1:6379/0?ssl_ca_certs=/etc/ssl/ca.pem", "ssl_ca_certs apply only to TLS"),
    ("redis://127.0.0.1:6379/0#primary", "no #fragment"),
    ("redis+cluster://127.0.0.1:7000/1", "only database 0"),
    ("redis+cluster://127.0.0.1:7000?db=2", "only database 0"),
    ("redis+cluster://127.0.0.1:7000?password=x", "before its nodes"),
    ("redis+cluster://", "names no node"),
    ("redis+cluster://127.0.0.1:notaport", "the port must be a number"),
    ("unix://redis-host/run/redis.sock", "socket path, not a host"),
    ("unix://", "needs the socket's path"),
    ("memory://localhost", "memory:// takes no host"),
    ("memory://?socket_timeout=1", "memory:// takes no host, path or options"),
    ("mongodb://127.0.0.1/", r"memory://, redis://, rediss:// or redis\+cluster://"),
]


@pytest.mark.parametrize(("url", "complaint"), REFUSED)
def test_a_url_that_cannot_work_is_refused_naming_what_is_wrong(
    url: str, complaint: str, opener: Callable[..., Any]
) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        opener(url)


@pytest.mark.parametrize(
    ("url", "options", "complaint"),
    [
        ("memory://", {"socket_timeout": 1.0}, "memory:// takes no host, path or options"),
        ("redis://127.0.0.1:6379/0", {"db": 1}, "unknown store option.* db"),
        ("redis://127.0.0.1:6379/0", {"ssl_certfile": "/etc/ssl/me.pem"}, "ssl_certfile apply only to TLS"),
        ("redis://127.0.0.1:6379/0", {"wait_timeout": 5.0}, "wait_timeout must be shorter"),
    ],
)
def test_a_keyword_option_that_does_not_apply_is_refused(
    url: str, options: dict[str, Any], complaint: str, opener: Callable[..., Any]
) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        opener(url, **options)


@pytest.mark.parametrize(("url", "complaint"), REFUSED)
def test_the_sync_and_async_stores_refuse_a_url_in_the_same_words(url: str, complaint: str) -> None:
    with pytest.raises(ConfigurationError) as sync_refusal:
        open_store(url)
    with pytest.raises(ConfigurationError) as async_refusal:
        open_async_store(url)
    assert str(async_refusal.value) == str(sync_refusal.value)


@pytest.mark.parametrize(
    "url",
    [
        f"redis://user:{PASSWORD}@127.0.0.1:6379/abc",
        f"redis://user:{PASSWORD}@127.0.0.1:port/0",
        f"redis://:{PASSWORD}@/0",
        f"redis://127.0.0.1:6379/abc?password={PASSWORD}",
        f"redis://127.0.0.1:6379/0?password={PASSWORD}&colour=blue",
        f"redis+cluster://user:{PASSWORD}@127.0.0.1:7000/3",
        f"redis+cluster://127.0.0.1:7000?password={PASSWORD}",
        f"unix://user:{PASSWORD}@host/run/redis.sock",
        # A password with '/' or '?' not percent-encoded ends the host early: its tail lands in
        # the path or the query, which a refusal could otherwise quote.
        f"redis://user:{PASSWORD[:6]}/{PASSWORD[6:]}@127.0.0.1:6379/0",
        f"redis://user:{PASSWORD[:6]}?{PASSWORD[6:]}@127.0.0.1:6379/0",
        f"redis://user:{PASSWORD[:6]}#{PASSWORD[6:]}@127.0.0.1:6379/0",
    ],
)
def test_a_refusal_never_repeats_the_password(url: str, opener: Callable[..., Any]) -> None:
    with pytest.raises(ConfigurationError) as refusal:
        opener(url)
    assert PASSWORD[6:] not in str(refusal.value)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that accepts connections and counts on nobody to come."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.setblocking(False)
        yield server


def _connected(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except BlockingIOError:
        return False
    connection.close()
    return True


@pytest.mark.parametrize("path", ["/abc", "/0?colour=blue", "/0?socket_timeout=0"])
def test_a_url_is_refused_before_anything_connects(
    path: str, listener: socket.socket, opener: Callable[..., Any]
) -> None:
    with pytest.raises(ConfigurationError):
        opener(f"redis://127.0.0.1:{listener.getsockname()[1]}{path}")
    assert not _connected(listener)


def test_a_failure_cause_names_the_error_and_masks_the_password() -> None:
    url = f"redis://user:{PASSWORD}@cache.internal:6379/0"
    cause = failure_cause(url, ConnectionError(f"AUTH {PASSWORD} refused by cache.internal:6379"))
    assert cause == "ConnectionError: AUTH *** refused by cache.internal:6379"

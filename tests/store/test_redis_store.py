"""What only the Redis backends promise: key layout, TTLs, one round trip, scripts, fail closed.

What the sync and async flavours could do differently (sending, script loading, error mapping)
runs over both."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from store_support import RIGHT, WRONG, challenge, lock_key, new_id, new_tag, open_flavour

from verifykit import ConfigurationError, InvalidInput, StoreUnavailable
from verifykit.crypto import Keyring
from verifykit.otp import EmailOTP, OTPSettings
from verifykit.store import ChallengeStore, LockoutPolicy, WindowPolicy, open_store
from verifykit.store._redis import SCRIPTS, RedisBase, RedisStore, hash_tag, script_sha, script_source
from verifykit.testing import Outbox, last_code

MakeStore = Callable[..., ChallengeStore]
LOCKOUT = LockoutPolicy(threshold=3, lockout=30, lockout_max=100, hard_cap=100, memory=3600)


@pytest.fixture(params=["redis", "cluster"])
def redis_backend_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("redis_url" if request.param == "redis" else "redis_cluster_url"))


def _raw(url: str) -> Any:
    """A plain redis-py client on the same server or cluster."""
    if "+cluster://" in url:
        first = url.split("://", 1)[1].split(",", maxsplit=1)[0]
        return redis.RedisCluster.from_url(f"redis://{first}", decode_responses=True)
    return redis.Redis.from_url(url, decode_responses=True)


@pytest.fixture
def raw(redis_backend_url: str) -> Iterator[Any]:
    client = _raw(redis_backend_url)
    yield client
    client.close()


def _redis_store(make_store: MakeStore, url: str, **options: Any) -> Any:
    store = make_store(url, **options)
    assert isinstance(getattr(store, "inner", store), RedisBase)  # an async one is driven (flavours.py)
    return store


# -- keys and hash tags ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "tag"),
    [
        ("vk:ch:{abc}.xyz", "abc"),
        ("vk:lock:{abc}:fail:otp", "abc"),
        ("vk:{}x{y}", "vk:{}x{y}"),
        ("a{b", "a{b"),
    ],
)
def test_hash_tag_follows_redis_cluster_rules(key: str, tag: str) -> None:
    assert hash_tag(key) == tag


def test_a_challenge_and_its_subjects_lockout_share_one_slot(
    redis_cluster_url: str, make_store: MakeStore
) -> None:
    store = _redis_store(make_store, redis_cluster_url)
    cid = new_id()
    raw = _raw(redis_cluster_url)
    try:
        slot = raw.keyslot(store.challenge_key(cid))
        assert raw.keyslot(store.lockout_key(lock_key(cid))) == slot
    finally:
        raw.close()


def test_challenge_keys_carry_the_subject_tag_and_the_namespace(
    redis_url: str, make_store: MakeStore
) -> None:
    store = _redis_store(make_store, redis_url, namespace="vkt-layout" + uuid.uuid4().hex[:6])
    tag = new_tag()
    cid = new_id(tag)
    assert store.challenge_key(cid) == f"{store.namespace}:ch:{{{tag}}}.{cid.split('.')[1]}"
    assert store.challenge_key("odd id") == f"{store.namespace}:ch:{{odd id}}"
    assert store.window_key("dest:a@example.com") == f"{store.namespace}:win:{{dest:a@example.com}}"
    assert store.lockout_key(f"{{{tag}}}:fail:otp") == f"{store.namespace}:lock:{{{tag}}}:fail:otp"


def test_a_lockout_key_of_another_subject_is_rejected_and_nothing_changes(
    redis_backend_url: str, make_store: MakeStore
) -> None:
    store = _redis_store(make_store, redis_backend_url)
    new = challenge()
    store.create(new, retention=60)
    with pytest.raises(InvalidInput):
        store.attempt(new.id, [WRONG], lockout_key=lock_key(new_id()), lockout=LOCKOUT)
    record = store.get(new.id)
    assert record is not None and record.attempts_left == new.max_attempts


# -- TTLs -------------------------------------------------------------------------------------------


def test_a_challenge_key_lives_until_expiry_plus_retention(
    redis_backend_url: str, make_store: MakeStore, raw: Any
) -> None:
    store = _redis_store(make_store, redis_backend_url)
    new = challenge(ttl=600)
    store.create(new, retention=120)
    assert 710_000 < raw.pttl(store.challenge_key(new.id)) <= 720_000


def test_a_resend_recomputes_the_challenge_key_ttl(
    redis_backend_url: str, make_store: MakeStore, raw: Any
) -> None:
    store = _redis_store(make_store, redis_backend_url)
    new = challenge(ttl=60, resend_after=0)
    store.create(new, retention=30)
    store.resend(new.id, "k1:2", ttl=600, max_sends=3, cooldown=1, cooldown_factor=2, cooldown_max=10)
    assert 620_000 < raw.pttl(store.challenge_key(new.id)) <= 630_000


def test_a_lockout_key_lives_for_the_failure_memory_and_persists_when_hard_locked(
    redis_backend_url: str, make_store: MakeStore, raw: Any
) -> None:
    store = _redis_store(make_store, redis_backend_url)
    policy = LockoutPolicy(threshold=2, hard_cap=2, memory=900)
    store.charge("sub", policy)
    assert 890_000 < raw.pttl(store.lockout_key("sub")) <= 900_000
    store.charge("sub", policy)
    assert raw.pttl(store.lockout_key("sub")) == -1  # hard-locked: kept until reset


def _keys(raw: Any, store: RedisStore) -> list[str]:
    if isinstance(raw, redis.RedisCluster):
        found = raw.scan_iter(match=f"{store.namespace}:*", target_nodes=redis.RedisCluster.PRIMARIES)
    else:
        found = raw.scan_iter(match=f"{store.namespace}:*")
    return sorted(found)


def test_checks_of_unknown_challenges_leave_no_key(
    redis_backend_url: str, make_store: MakeStore, raw: Any
) -> None:
    store = _redis_store(make_store, redis_backend_url)
    for _ in range(20):
        cid = new_id()
        store.attempt(cid, [WRONG], lockout_key=lock_key(cid), lockout=LOCKOUT)
        store.resend(cid, "k1:x", ttl=60, max_sends=3, cooldown=1, cooldown_factor=2, cooldown_max=9)
        store.set_delivery(cid, "sent")
        store.cancel(cid)
        store.hit(f"client:{cid}", WindowPolicy(1, 60), cost=0)
        store.refund(f"client:{cid}", WindowPolicy(1, 60))
        store.failure_state(lock_key(cid))
    assert _keys(raw, store) == []


def test_every_key_expires_except_a_hard_lock(
    redis_backend_url: str, make_store: MakeStore, raw: Any
) -> None:
    store = _redis_store(make_store, redis_backend_url)
    new = challenge()
    store.create(new, retention=60)
    store.attempt(new.id, [WRONG], lockout_key=lock_key(new.id), lockout=LOCKOUT)
    store.resend(new.id, "k1:x", ttl=60, max_sends=3, cooldown=0, cooldown_factor=2, cooldown_max=9)
    store.set_delivery(new.id, "sent")
    store.hit("client:a", WindowPolicy(3, 60), cost=2)
    store.refund("client:a", WindowPolicy(3, 60))
    store.charge("subject:soft", LOCKOUT)
    hard = LockoutPolicy(threshold=1, hard_cap=1)
    store.charge("subject:hard", hard)
    keys = _keys(raw, store)
    assert len(keys) == 5
    for key in keys:
        if key == store.lockout_key("subject:hard"):
            assert raw.pttl(key) == -1  # kept until reset: see docs/store.md
        else:
            assert raw.pttl(key) > 0, key


def test_a_window_key_lives_for_one_window(redis_backend_url: str, make_store: MakeStore, raw: Any) -> None:
    store = _redis_store(make_store, redis_backend_url)
    store.hit("dest:a", WindowPolicy(limit=5, window=600))
    assert 590_000 < raw.pttl(store.window_key("dest:a")) <= 600_000


# -- time --------------------------------------------------------------------------------------------


def test_now_is_the_redis_server_clock(redis_url: str, make_store: MakeStore) -> None:
    store = make_store(redis_url)
    raw = redis.Redis.from_url(redis_url)
    try:
        before = raw.time()
        now = store.now()
        after = raw.time()
    finally:
        raw.close()
    assert before[0] + before[1] / 1e6 <= now <= after[0] + after[1] / 1e6


# -- one round trip, scripts loaded once ----------------------------------------------------------


def _commands_from(store_name: str, redis_url: str, action: Callable[[], object]) -> list[str]:
    """The commands the store's own connection sent while ``action`` ran, as the server saw them."""
    raw = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        [client] = [c for c in raw.client_list() if c["name"] == store_name]
        address = client["addr"]
        marker = f"end-{uuid.uuid4().hex}"
        seen: list[str] = []
        with raw.monitor() as monitor:
            action()
            other = redis.Redis.from_url(redis_url)
            other.echo(marker)
            other.close()
            for event in monitor.listen():
                if marker in event["command"]:
                    break
                if f"{event['client_address']}:{event['client_port']}" == address:
                    seen.append(event["command"])
        return seen
    finally:
        raw.close()


def test_a_check_with_its_lockout_is_exactly_one_round_trip(
    redis_url: str, store_flavour: str, make_store: MakeStore
) -> None:
    name = f"vkt-{uuid.uuid4().hex[:8]}"
    store = make_store(redis_url, flavour=store_flavour, client_name=name, max_connections=1)
    first, second = challenge(), challenge()
    store.create(first, retention=60)
    store.create(second, retention=60)
    store.attempt(first.id, [WRONG], lockout_key=lock_key(first.id), lockout=LOCKOUT)  # scripts loaded

    def check() -> None:
        store.attempt(second.id, [RIGHT], lockout_key=lock_key(second.id), lockout=LOCKOUT)

    commands = _commands_from(name, redis_url, check)
    assert len(commands) == 1
    assert commands[0].startswith("EVALSHA")


def test_an_email_otp_check_is_exactly_one_round_trip(redis_url: str, make_store: MakeStore) -> None:
    name = f"vkt-{uuid.uuid4().hex[:8]}"
    store = make_store(redis_url, client_name=name, max_connections=1)
    outbox = Outbox()
    otp = EmailOTP(store=store, keyring=Keyring.generate(), mailer=outbox, audit=None)
    warm = otp.start("warm-up", "warm@example.com")
    otp.check(warm.id, last_code(outbox))  # connects and loads the script
    started = otp.start("subject-1", "ana@example.com")
    code = last_code(outbox)
    verdicts = []
    commands = _commands_from(name, redis_url, lambda: verdicts.append(otp.check(started.id, code)))
    assert verdicts[0].approved
    assert [c.split()[0] for c in commands] == ["EVALSHA"]


def test_an_old_code_after_a_resend_is_still_one_round_trip(redis_url: str, make_store: MakeStore) -> None:
    """Several live sends are checked in the same one script: late mail costs no extra round trip."""
    name = f"vkt-{uuid.uuid4().hex[:8]}"
    store = make_store(redis_url, client_name=name, max_connections=1)
    outbox = Outbox()
    settings = OTPSettings(resend_cooldown=0, resend_cooldown_max=0, live_sends=3)
    otp = EmailOTP(store=store, keyring=Keyring.generate(), mailer=outbox, settings=settings, audit=None)
    warm = otp.start("warm-up", "warm@example.com")
    otp.check(warm.id, last_code(outbox))  # connects and loads the script
    started = otp.start("subject-1", "ana@example.com")
    first = last_code(outbox)
    otp.resend(started.id)
    otp.resend(started.id)
    verdicts = []
    commands = _commands_from(name, redis_url, lambda: verdicts.append(otp.check(started.id, first)))
    assert verdicts[0].approved and verdicts[0].details["send"] == "1"
    assert [c.split()[0] for c in commands] == ["EVALSHA"]


def test_scripts_are_reloaded_after_the_server_forgets_them(
    redis_url: str, store_flavour: str, make_store: MakeStore
) -> None:
    store = make_store(redis_url, flavour=store_flavour)
    new = challenge()
    store.create(new, retention=60)
    raw = redis.Redis.from_url(redis_url)
    try:
        raw.script_flush()
        outcome, _, _ = store.attempt(new.id, [RIGHT])
        assert raw.script_exists(script_sha("attempt")) == [True]
    finally:
        raw.close()
    assert outcome.value == "approved"


def test_scripts_are_reloaded_on_every_cluster_node(
    redis_cluster_url: str, store_flavour: str, make_store: MakeStore
) -> None:
    store = _redis_store(make_store, redis_cluster_url, flavour=store_flavour)
    raw = _raw(redis_cluster_url)
    try:
        primaries = raw.get_primaries()
        by_node: dict[str, str] = {}
        while len(by_node) < len(primaries):  # one challenge on each master
            cid = new_id()
            by_node.setdefault(raw.get_node_from_key(store.challenge_key(cid)).name, cid)
        for cid in by_node.values():
            store.create(challenge(cid), retention=60)
        for node in primaries:
            node.redis_connection.script_flush()
        outcomes = [store.attempt(cid, [RIGHT])[0].value for cid in by_node.values()]
        loaded = [node.redis_connection.script_exists(script_sha("attempt")) for node in primaries]
    finally:
        raw.close()
    assert outcomes == ["approved"] * len(primaries)
    assert loaded == [[True]] * len(primaries)


def test_every_script_compiles_with_the_shared_rules(redis_url: str) -> None:
    raw = redis.Redis.from_url(redis_url)
    try:
        for name in SCRIPTS:
            assert raw.script_load(script_source(name)) == script_sha(name)
    finally:
        raw.close()


# -- fail closed ---------------------------------------------------------------------------------------


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _every_operation(store: ChallengeStore) -> list[Callable[[], object]]:
    cid = new_id()
    return [
        store.now,
        lambda: store.create(challenge(cid), retention=60),
        lambda: store.get(cid),
        lambda: store.attempt(cid, [RIGHT]),
        lambda: store.attempt(cid, [RIGHT], lockout_key=lock_key(cid), lockout=LOCKOUT),
        lambda: store.resend(cid, "x", ttl=60, max_sends=3, cooldown=1, cooldown_factor=2, cooldown_max=9),
        lambda: store.set_delivery(cid, "sent"),
        lambda: store.cancel(cid),
        lambda: store.hit("k", WindowPolicy(1, 60)),
        lambda: store.refund("k", WindowPolicy(1, 60)),
        lambda: store.charge("k", LOCKOUT),
        lambda: store.failure_state("k"),
        lambda: store.reset_failures("k"),
    ]


@pytest.mark.parametrize("scheme", ["redis", "redis+cluster"])
def test_an_unreachable_store_raises_store_unavailable_from_every_operation(
    scheme: str, store_flavour: str
) -> None:
    url = f"{scheme}://user:hunter2-secret@127.0.0.1:{_dead_port()}"
    store = open_flavour(url, "vk", store_flavour, socket_timeout=0.2)
    try:
        for operation in _every_operation(store):
            with pytest.raises(StoreUnavailable) as info:
                operation()
            assert "hunter2" not in str(info.value)
            assert info.value.__cause__ is not None
    finally:
        store.close()


def test_a_server_that_never_answers_times_out_as_store_unavailable(store_flavour: str) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections, never replies
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        store = open_flavour(url, "vk", store_flavour, socket_timeout=0.2)
        try:
            with pytest.raises(StoreUnavailable, match="TimeoutError"):
                store.attempt(new_id(), [RIGHT])
        finally:
            store.close()


def test_repr_never_shows_the_password() -> None:
    store = open_store("redis://user:hunter2-secret@127.0.0.1:6379/0")
    assert "hunter2" not in repr(store)
    store.close()


# -- configuration ------------------------------------------------------------------------------------


def test_url_query_options_are_converted_and_keywords_win(redis_url: str, make_store: MakeStore) -> None:
    store = _redis_store(
        make_store,
        f"{redis_url}?socket_timeout=0.5&max_connections=8&health_check_interval=15",
        max_connections=4,
    )
    assert store.options == {
        "socket_timeout": 0.5,
        "socket_connect_timeout": 0.5,
        "max_connections": 4,
        "health_check_interval": 15.0,
    }


def test_options_have_safe_defaults(redis_url: str, make_store: MakeStore) -> None:
    store = _redis_store(make_store, redis_url)
    assert store.options == {
        "socket_timeout": 1.0,
        "socket_connect_timeout": 1.0,
        "max_connections": 64,
        "health_check_interval": 0.0,
    }


def test_url_options_reach_the_connection(redis_backend_url: str, make_store: MakeStore) -> None:
    name = f"vkt-{uuid.uuid4().hex[:8]}"
    separator = "&" if "?" in redis_backend_url else "?"
    store = make_store(f"{redis_backend_url}{separator}client_name={name}")
    store.hit("k", WindowPolicy(5, 60))
    raw = _raw(redis_backend_url)
    try:
        clients = raw.client_list() if "+cluster" not in redis_backend_url else _cluster_clients(raw)
    finally:
        raw.close()
    assert any(c["name"] == name for c in clients)


def _cluster_clients(raw: Any) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for node in raw.get_primaries():
        out += raw.client_list(target_nodes=node)
    return out


@pytest.mark.parametrize(
    "query",
    ["socket_timeout=abc", "socket_timeout=0", "socket_timeout=nan", "max_connections=0", "colour=blue"],
)
def test_a_bad_option_is_a_configuration_error(query: str) -> None:
    with pytest.raises(ConfigurationError):
        open_store(f"redis://127.0.0.1:6379/0?{query}")


def test_tls_options_need_a_tls_url() -> None:
    with pytest.raises(ConfigurationError, match="rediss"):
        open_store("redis://127.0.0.1:6379/0", ssl_ca_certs="/etc/ssl/ca.pem")


def _open_either(flavour: str) -> Callable[..., Any]:
    from verifykit.aio import open_store as open_async_store

    return open_store if flavour == "sync" else open_async_store


TLS_URLS = ["rediss://redis.internal:6380/0", "rediss+cluster://redis.internal:7000"]


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("url", TLS_URLS)
@pytest.mark.parametrize(
    "query",
    [
        "ssl_cert_reqs=none",
        "ssl_cert_reqs=NONE",
        "ssl_cert_reqs=optional",
        "ssl_cert_reqs=",
        "ssl_check_hostname=false",
        "ssl_check_hostname=0",
        "ssl_cert_reqs=required&ssl_cert_reqs=none",  # the last one given is the one that counts
    ],
)
def test_a_url_option_that_weakens_tls_verification_is_refused(query: str, url: str, flavour: str) -> None:
    with pytest.raises(ConfigurationError, match="only accepts a verified server"):
        _open_either(flavour)(f"{url}?{query}")


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("url", TLS_URLS)
@pytest.mark.parametrize(
    "option",
    [
        {"ssl_cert_reqs": None},
        {"ssl_cert_reqs": ssl.CERT_NONE},
        {"ssl_cert_reqs": ssl.CERT_OPTIONAL},
        {"ssl_cert_reqs": "none"},
        {"ssl_check_hostname": False},
        {"ssl_check_hostname": "false"},
        {"ssl_check_hostname": 0},
    ],
)
def test_a_keyword_that_weakens_tls_verification_is_refused(
    option: dict[str, Any], url: str, flavour: str
) -> None:
    with pytest.raises(ConfigurationError, match="only accepts a verified server"):
        _open_either(flavour)(url, **option)


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("url", TLS_URLS)
@pytest.mark.parametrize(
    "option",
    [
        {},
        {"ssl_cert_reqs": "required"},
        {"ssl_cert_reqs": "REQUIRED"},
        {"ssl_cert_reqs": ssl.CERT_REQUIRED},
        {"ssl_check_hostname": True},
        {"ssl_check_hostname": "true"},
    ],
)
def test_a_rediss_store_always_states_full_verification(
    option: dict[str, Any], url: str, flavour: str
) -> None:
    store = _open_either(flavour)(url, **option)
    assert (store.options["ssl_cert_reqs"], store.options["ssl_check_hostname"]) == ("required", True)


def test_a_malformed_hostname_flag_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="ssl_check_hostname has a malformed value"):
        open_store("rediss://redis.internal:6380/0?ssl_check_hostname=maybe")


@pytest.mark.parametrize(
    "url",
    ["redis+cluster://127.0.0.1:notaport", "redis+cluster://:7000", "redis+cluster://127.0.0.1:70000"],
)
def test_a_bad_cluster_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_store(url)


def test_an_unknown_scheme_names_the_schemes_that_work() -> None:
    with pytest.raises(ConfigurationError, match=r"memory://, redis://, rediss:// or redis\+cluster://"):
        open_store("mongodb://127.0.0.1/")


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "redis+cluster://127.0.0.1:7000"])
def test_a_missing_redis_package_names_the_extra_to_install(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "redis" or m.startswith("redis.")]:
        monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"pip install 'verifykit\[redis\]'"):
        open_store(url)


@pytest.mark.parametrize("namespace", ["", "a{b", "a}b"])
def test_a_namespace_with_hash_tag_braces_is_refused(namespace: str) -> None:
    with pytest.raises(ConfigurationError):
        RedisStore("redis://127.0.0.1:6379/0", namespace=namespace)


def test_a_redis_store_cannot_take_a_caller_clock() -> None:
    from verifykit.testing import FakeClock

    with pytest.raises(ConfigurationError, match="TIME"):
        open_store("redis://127.0.0.1:6379/0", clock=FakeClock())


@pytest.fixture(scope="module")
def unix_socket_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server listening on a Unix socket only, for this module."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail(
            "redis-server is needed to test unix:// URLs (apt-get install redis-server)", pytrace=False
        )
    path: Path = tmp_path_factory.mktemp("redis-unix") / "redis.sock"
    proc = subprocess.Popen(
        [server, "--port", "0", "--unixsocket", str(path), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not path.exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("the Unix-socket Redis server did not start", pytrace=False)
            time.sleep(0.02)
        yield f"unix://{path}?db=1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_unix_socket_url_opens_a_working_store(unix_socket_url: str, make_store: MakeStore) -> None:
    store = _redis_store(make_store, unix_socket_url)
    new = challenge()
    store.create(new, retention=60)
    assert store.attempt(new.id, [RIGHT])[0].value == "approved"
    client = redis.Redis.from_url(unix_socket_url)
    try:
        assert client.exists(store.challenge_key(new.id)) == 1
    finally:
        client.close()

"""Fixtures every test package shares: real Redis servers and a store per backend.

A test that needs a server that does not answer FAILS with a message saying how to start
one; it never skips. ``make test`` starts Redis on 127.0.0.1:6379 first; the Redis Cluster
is created by the test run itself on free loopback ports and torn down afterwards.

- ``redis_url``: one Redis server (``VERIFYKIT_TEST_REDIS_URL`` overrides the default).
- ``redis_cluster_url``: a 3-master cluster made for this run (``VERIFYKIT_TEST_REDIS_CLUSTER_URL``
  points at an existing one instead).
- ``store_url``: parametrized over ``memory``, ``redis`` and ``cluster``.
- ``store``: a store on ``store_url`` with a namespace of its own, closed (and its keys
  removed) after the test.
- ``make_store(url, **options)``: the same for any URL and options (``clock=`` for memory://);
  ``flavour="async"`` opens the asyncio store instead, driven through the sync methods
  (``tests/flavours.py``), so a suite written once runs over both.
- ``store_flavour``: ``sync`` and ``async``, for suites that take it; ``flavour``: a
  :class:`~flavours.Flavour` of each, building verifiers on stores of that flavour. The async
  run of a test is kept only where the asyncio flavour has code of its own to prove
  (``flavours.runs_async_too``); ``--all-flavours`` keeps every one.
- ``make_async_store(url, **options)``: an asyncio store (closed by the test, in its loop;
  its keys are removed after the test).

The suite runs on every core (pytest-xdist, ``-n auto --dist loadfile`` in pyproject.toml; ``-n 0``
runs it in one process). Each worker is a process of its own, with its own Redis Cluster, its own
face worker pool and its own ``tmp_path`` root, and every store a test opens has a namespace no other
test shares. Each test file runs whole in one worker; files that share something more run in
the same worker (:data:`XDIST_GROUPS`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flavours import FLAVOURS, AsyncDriven, Flavour, is_async_duplicate
from redis_servers import STARTUP_TIMEOUT, _cluster_ok, _free_port, _ping, _pinged, _wait_until
from verifykit import AuditEvent, Keyring
from verifykit.store import AsyncChallengeStore, ChallengeStore, open_async_store, open_store
from verifykit.testing import FakeClock

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_URL_ENV = "VERIFYKIT_TEST_REDIS_URL"
CLUSTER_URL_ENV = "VERIFYKIT_TEST_REDIS_CLUSTER_URL"
CLUSTER_MASTERS = 3
STORE_BACKENDS = ["memory", "redis", "cluster"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-long", action="store_true", help="run the tests marked long (make faults-long)")
    parser.addoption(
        "--all-flavours",
        action="store_true",
        help="run every behaviour test over the asyncio flavour too, not only those that prove its own code",
    )


# -- running on every core ---------------------------------------------------------------------------
#
# pytest-xdist hands out whole test files (``--dist loadfile``): a file's tests run in one worker, in
# their order, as they would in a single process, so a module fixture is built once and a test may
# rely on what an earlier one in its file left. Some files must share a worker with others as well:

# Groups of files (or ``path::name`` tests) that run in one worker, one test at a time.
XDIST_GROUPS: dict[str, tuple[str, ...]] = {
    # What the one Redis server holds for every client: its script cache, which test_redis_store.py
    # flushes (to see scripts reloaded) where it also counts the commands a check sends, and which the
    # benches' raw EVALSHA baselines expect to keep what they loaded; and the vkbench* keys both
    # benches write while they run, which a test of the OTP bench counts before and after its run.
    "shared-redis-server": (
        "tests/store/test_redis_store.py",
        "tests/otp/test_otp_bench.py",
        "tests/store/test_store_bench.py",
    ),
    # The session fixtures that encode every photo of pairs.csv (with verifykit, and with plain
    # face_recognition) take half a minute: built once, in one worker.
    "face-encodings": ("tests/face/test_face_accuracy.py", "tests/face/test_face_index.py"),
}
# Each worker builds a Redis Cluster of its own (redis_cluster_url); on the one server, every store a
# test opens has a namespace of its own.


def xdist_unit(nodeid: str) -> str:
    """The unit of work a test is handed out in: its group of XDIST_GROUPS, or its file."""
    path, _, rest = nodeid.partition("::")
    name = rest.split("[", 1)[0]
    for group, tests in XDIST_GROUPS.items():
        if path in tests or f"{path}::{name}" in tests:
            return group
    return path


class _WholeFiles:
    """``--dist loadfile`` with XDIST_GROUPS: each unit of :func:`xdist_unit` goes to one worker."""

    @pytest.hookimpl
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        if config.getvalue("dist") != "loadfile":
            return None
        from xdist.scheduler import LoadScopeScheduling

        class UnitScheduling(LoadScopeScheduling):
            def _split_scope(self, nodeid: str) -> str:
                return xdist_unit(nodeid)

        return UnitScheduling(config, log)


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_WholeFiles(), "verifykit-xdist-units")


def _slow_units_first(items: list[pytest.Item]) -> None:
    """Units holding a slow or bench test first (xdist hands units out in collection order), so that
    no long one is left to run alone at the end; tests keep their order within a unit."""
    slow = {xdist_unit(item.nodeid) for item in items if _is_slow(item)}
    items.sort(key=lambda item: xdist_unit(item.nodeid) not in slow)


def _is_slow(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) is not None for name in ("slow", "bench"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name.endswith("_bench.py"):
            item.add_marker(pytest.mark.bench)
    if not config.getoption("--all-flavours"):
        duplicates = [item for item in items if is_async_duplicate(item)]
        if duplicates:
            config.hook.pytest_deselected(items=duplicates)
            dropped = set(map(id, duplicates))
            items[:] = [item for item in items if id(item) not in dropped]
    if os.environ.get("PYTEST_XDIST_WORKER"):
        _slow_units_first(items)
    if config.getoption("--run-long"):
        return
    skip = pytest.mark.skip(reason="a long run: give --run-long (make faults-long)")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis server that answers; the test fails (never skips) when none does."""
    url = os.environ.get(REDIS_URL_ENV, DEFAULT_REDIS_URL)
    try:
        _ping(url)
    except Exception as exc:
        pytest.fail(
            f"no Redis server answers at {url} ({type(exc).__name__}); start one with `make services` "
            f"(or `redis-server --port 6379`), or set {REDIS_URL_ENV} to a server that does",
            pytrace=False,
        )
    return url


# A free port can be taken by another process (another xdist worker's nodes, say) between the check
# and redis-server's bind: a node that exits before it answers is started again on other ports.
_CLUSTER_TRIES = 3


def _start_cluster_node(server: str, workdir: Path, port: int) -> subprocess.Popen[bytes]:
    with (workdir / f"redis-{port}.log").open("wb") as log:
        return subprocess.Popen(
            [
                server,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{port}.conf",
                "--cluster-node-timeout", "5000",
                "--dir", str(workdir),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def _answers_or_exited(process: subprocess.Popen[bytes], port: int) -> bool:
    return process.poll() is not None or _pinged(port)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for proc in processes:
        proc.terminate()
    for proc in processes:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _start_cluster_nodes(server: str, workdir: Path) -> tuple[list[int], list[subprocess.Popen[bytes]]]:
    """CLUSTER_MASTERS redis-servers in cluster mode, each answering on a port of its own."""
    for attempt in range(1, _CLUSTER_TRIES + 1):
        ports: list[int] = []
        while len(ports) < CLUSTER_MASTERS:
            port = _free_port()
            if port not in ports:
                ports.append(port)
        processes = [_start_cluster_node(server, workdir, port) for port in ports]
        try:
            for port, proc in zip(ports, processes, strict=True):
                _wait_until(
                    f"Redis Cluster node on port {port} did not start",
                    lambda p=port, proc=proc: _answers_or_exited(proc, p),
                )
        except BaseException:
            _stop(processes)
            raise
        if all(proc.poll() is None for proc in processes):
            return ports, processes
        _stop(processes)
        if attempt == _CLUSTER_TRIES:
            logs = "; ".join(f"{workdir}/redis-{port}.log" for port in ports)
            pytest.fail(f"Redis Cluster nodes exited on start {attempt} times (see {logs})", pytrace=False)
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis Cluster of 3 masters on loopback ports, created for this run (in each xdist worker)."""
    existing = os.environ.get(CLUSTER_URL_ENV)
    if existing:
        yield existing
        return
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        pytest.fail(
            "redis-server and redis-cli are needed to create a Redis Cluster for the tests; "
            "install them (Debian: apt-get install redis-server) or `make services`",
            pytrace=False,
        )
    workdir: Path = tmp_path_factory.mktemp("redis-cluster")
    ports, processes = _start_cluster_nodes(server, workdir)
    try:
        nodes = [f"127.0.0.1:{p}" for p in ports]
        created = subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            timeout=STARTUP_TIMEOUT,
            check=False,
        )
        if created.returncode != 0:
            pytest.fail(
                f"redis-cli --cluster create failed: {created.stdout.decode()[-2000:]}"
                f"{created.stderr.decode()[-2000:]}",
                pytrace=False,
            )
        for port in ports:
            _wait_until(
                f"Redis Cluster node {port} did not reach cluster_state:ok", lambda p=port: _cluster_ok(p)
            )
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)
    finally:
        _stop(processes)


@pytest.fixture(params=STORE_BACKENDS)
def store_url(request: pytest.FixtureRequest) -> str:
    """The URL of each store backend in turn: memory://, one Redis server, a Redis Cluster."""
    if request.param == "memory":
        return "memory://"
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return str(request.getfixturevalue("redis_cluster_url"))


def unique_namespace() -> str:
    return f"vkt{uuid.uuid4().hex[:12]}"


# The shared test server may hold many keys: scan in large steps to keep teardown quick.
_SCAN_COUNT = 10_000


def _purge(url: str, pattern: str) -> None:
    """Remove every key matching ``pattern`` (lockouts would otherwise live for a day)."""
    import redis

    if "+cluster://" in url:
        scheme, rest = url.split("+cluster://", 1)
        first = rest.split("/", 1)[0].split("?", 1)[0].split(",")[0]
        cluster = redis.RedisCluster.from_url(f"{scheme}://{first}")
        try:
            found = cluster.scan_iter(
                match=pattern, count=_SCAN_COUNT, target_nodes=redis.RedisCluster.PRIMARIES
            )
            for key in list(found):
                cluster.delete(key)
        finally:
            cluster.close()
        return
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=pattern, count=_SCAN_COUNT))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


MakeStore = Callable[..., ChallengeStore]


@pytest.fixture(params=FLAVOURS)
def store_flavour(request: pytest.FixtureRequest) -> str:
    """Each store flavour in turn: ``sync`` (verifykit.store) and ``async`` (verifykit.aio)."""
    return str(request.param)


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest, make_store: Any, make_async_store: Any) -> Iterator[Flavour]:
    """Verifiers of each flavour in turn (``sync``, then ``async``: verifykit.aio), on stores of it."""
    built = Flavour(str(request.param), make_store, make_async_store)
    yield built
    built.close()


class _Opened:
    """Stores a fixture opened, to close them and to remove their keys after the test."""

    def __init__(self) -> None:
        self.prefix = unique_namespace()
        self.stores: list[tuple[str, str, ChallengeStore | AsyncDriven | None]] = []

    def namespace(self, url: str, options: dict[str, Any]) -> str:
        namespace = options.pop("namespace", None) or f"{self.prefix}-{len(self.stores)}"
        self.stores.append((url, namespace, None))
        return namespace

    def cleanup(self) -> None:
        purges: set[tuple[str, str]] = set()
        for url, namespace, each in self.stores:
            if each is not None:
                each.close()
            if not url.startswith("memory:"):
                mine = namespace.startswith(self.prefix)
                purges.add((url, f"{self.prefix}-*" if mine else f"{namespace}:*"))
        for url, pattern in purges:
            _purge(url, pattern)


@pytest.fixture
def make_store() -> Iterator[MakeStore]:
    """``make_store(url, *, flavour="sync", **options)``: a store with a namespace no other test shares.

    ``flavour="async"`` opens the asyncio store behind the sync methods. Every store it opened is
    closed after the test and its keys are removed.
    """
    opened = _Opened()

    def make(url: str, *, flavour: str = "sync", **options: Any) -> ChallengeStore:
        namespace = opened.namespace(url, options)
        new: Any
        if flavour == "async":
            new = AsyncDriven(open_async_store(url, namespace=namespace, **options))
        else:
            new = open_store(url, namespace=namespace, **options)
        opened.stores[-1] = (url, namespace, new)
        return new  # an AsyncDriven has the same methods

    yield make
    opened.cleanup()


@pytest.fixture
def make_async_store() -> Iterator[Callable[..., AsyncChallengeStore]]:
    """``make_async_store(url, **options)``: an asyncio store with a namespace of its own.

    The test closes it in its own event loop (``async with``); its keys are removed afterwards.
    """
    opened = _Opened()

    def make(url: str, **options: Any) -> AsyncChallengeStore:
        return open_async_store(url, namespace=opened.namespace(url, options), **options)

    yield make
    opened.cleanup()


# What the shared ``store`` fixture waits for Redis: the library's 1 s default is a production
# choice (fail closed, soon); here dozens of threads or tasks may connect at once on a loaded
# machine, and a timeout would fail the test while proving nothing. Tests of timeouts set their own.
PATIENT = {"socket_timeout": 30.0}


@pytest.fixture
def store(store_url: str, make_store: MakeStore) -> ChallengeStore:
    """A store on each backend, with a namespace no other test shares; closed afterwards."""
    return make_store(store_url, **({} if store_url.startswith("memory:") else PATIENT))


@pytest.fixture
def keyring() -> Keyring:
    """A fresh in-memory keyring for one test."""
    return Keyring.generate()


@pytest.fixture
def events() -> list[AuditEvent]:
    """Audit events a verifier under test emitted (pass ``audit=events.append``)."""
    return []


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when the test advances it (for ``MemoryStore(clock=...)``)."""
    return FakeClock()

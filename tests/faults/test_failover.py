"""Redis Cluster failover: 3 masters and 3 replicas on loopback, built by the test; a master is
killed (-9) while checks run, its replica is promoted, and the same store follows the new
topology without a restart (both flavours). Replication is asynchronous, so the failover can
undo the last writes: the test counts spent attempts and approvals callers were told of that the
new master does not hold. With ``wait_replicas=1`` none may be lost."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from judge import CLOSED, TIMED_OUT, assert_guarantees, lost_writes
from workload import PATIENCE, Traffic, open_challenges

from redis_servers import STARTUP_TIMEOUT, RedisProcess, _cluster_ok, _wait_until
from verifykit.store import open_async_store

SOCKET_TIMEOUT = 0.25
NODE_TIMEOUT_MS = 1000  # cluster-node-timeout: how soon a dead master is failed over
WAIT = "wait_replicas=1&wait_timeout=0.2"
# A dead master is given up on by the socket timeout or the closed connection; until a replica is
# promoted, the cluster answers CLUSTERDOWN, and a write no replica confirmed fails with no driver
# error at all (None).
STOPPED_BY = (*CLOSED, *TIMED_OUT, redis.exceptions.ClusterError, redis.exceptions.ResponseError, type(None))


class Cluster:
    def __init__(self, workdir: Path) -> None:
        args = (
            "--cluster-enabled",
            "yes",
            "--cluster-node-timeout",
            str(NODE_TIMEOUT_MS),
            "--appendonly",
            "no",
        )
        self.nodes = [
            RedisProcess(workdir, None, *args, "--cluster-config-file", f"n{i}.conf") for i in range(6)
        ]
        for node in self.nodes:
            node.start()
        created = subprocess.run(
            [
                self.nodes[0].cli,
                "--cluster",
                "create",
                *self.addresses,
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            capture_output=True,
            timeout=STARTUP_TIMEOUT,
            check=False,
        )
        assert created.returncode == 0, created.stdout.decode()[-2000:]
        for node in self.nodes:
            _wait_until(
                f"node {node.port} did not reach cluster_state:ok", lambda p=node.port: _cluster_ok(p)
            )
        self.wait_until_replicated()

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{n.port}" for n in self.nodes]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def _client(self, port: int):
        import redis

        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2.0, decode_responses=True)

    def _roles(self) -> dict[int, str]:
        client = self._client(self.alive()[0].port)
        try:
            text = client.execute_command("CLUSTER", "NODES")
        finally:
            client.close()
        roles = {}
        for line in str(text).splitlines():
            fields = line.split()
            port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
            roles[port] = "master" if "master" in fields[2] and "fail" not in fields[2] else "other"
        return roles

    def _replicated(self) -> bool:
        """Every replica's link is up and holds all its master wrote."""
        for node in self.alive():
            client = self._client(node.port)
            try:
                info = client.info("replication")
            finally:
                client.close()
            if info["role"] == "slave":
                if info.get("master_link_status") != "up":
                    return False
                continue
            replicas = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
            if not replicas or any(int(r["offset"]) < int(info["master_repl_offset"]) for r in replicas):
                return False
        return True

    def wait_until_replicated(self) -> None:
        """Until every replica has acknowledged all its master wrote: the setup's writes must
        survive the failover, or the test would judge losses it caused itself."""
        _wait_until("the replicas did not catch up with their masters", self._replicated)

    def alive(self) -> list[RedisProcess]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def kill_a_master(self) -> RedisProcess:
        # Not the first node: the URL's first node is the one teardown reaches the cluster through.
        masters = [n for n in self.alive()[1:] if self._roles().get(n.port) == "master"]
        victim = masters[0]
        victim.kill()
        return victim

    def wait_for_promotion(self) -> float:
        t0 = time.monotonic()
        _wait_until(
            "no replica was promoted",
            lambda: (
                sum(1 for n in self.alive() if self._roles().get(n.port) == "master") == 3
                and all(_cluster_ok(n.port) for n in self.alive())
            ),
        )
        return time.monotonic() - t0

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    built = Cluster(tmp_path)
    try:
        yield built
    finally:
        built.stop()


def _failover(cluster: Cluster, flavour: str, make_store, *, query: str, workers: int) -> tuple[int, int]:
    truth_url = cluster.url
    truth = make_store(truth_url)
    ids = open_challenges(truth, 60)
    cluster.wait_until_replicated()
    url = f"{cluster.url}?socket_timeout={SOCKET_TIMEOUT}&socket_connect_timeout={SOCKET_TIMEOUT}"
    url += f"&{query}" if query else ""
    if flavour == "sync":
        traffic = Traffic(ids, store=make_store(url, namespace=truth.namespace), workers=workers)
    else:
        traffic = Traffic(
            ids, astore=lambda: open_async_store(url, namespace=truth.namespace), workers=workers
        )
    traffic.start()
    try:
        traffic.wait_for_answers(workers * 4)
        cluster.kill_a_master()
        promoted = cluster.wait_for_promotion()
        # An idle client in this process reaches every challenge again, its own topology refreshed.
        _wait_until(
            "the cluster did not hold every challenge again",
            lambda: all(truth.get(c) for c in ids),
            timeout=PATIENCE,
        )
        print(f"promotion seen after {promoted:.2f} s")
        # Every slot has a master again: checks on every challenge answer again, in this process.
        traffic.wait_for_answers(workers * 8)
    finally:
        tally = traffic.stop()
    assert tally.foreign == [], f"errors other than StoreUnavailable escaped: {tally.foreign[:3]!r}"
    assert tally.wrong_approvals == []
    assert tally.unavailable > 0, "the failover never reached the store's callers"
    lost = lost_writes(tally, ids, truth)
    print(f"failover {flavour} {query or 'no WAIT'}: lost spent attempts, approvals = {lost}")
    if query:
        assert lost == (0, 0)
        assert_guarantees(tally, ids, truth, stopped_by=STOPPED_BY)
    return lost


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_failover_is_followed_and_wait_replicas_loses_no_spent_attempt(
    cluster: Cluster, flavour: str, make_store
) -> None:
    _failover(cluster, flavour, make_store, query=WAIT, workers=6)


@pytest.mark.long
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_failover_without_wait_is_followed_and_its_losses_are_counted(
    cluster: Cluster, flavour: str, make_store
) -> None:
    _failover(cluster, flavour, make_store, query="", workers=16)

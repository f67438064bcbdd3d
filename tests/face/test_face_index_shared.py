"""The shared 1:N index: the store holds the sealed templates, every copy follows its change feed.

Each test runs on one Redis server and on a Redis Cluster, with a namespace of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt
import pytest
import redis

from polling import wait_for
from verifykit import AuditEvent, Keyring, StoreUnavailable, TemplateError
from verifykit.face import FaceIndex
from verifykit.face._shared_index import entry_tag
from verifykit.store import MemoryStore, SharedEntries

Copies = Callable[..., FaceIndex]


def unique_namespace() -> str:
    return f"vkt{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["redis", "cluster"])
def shared_url(request: pytest.FixtureRequest) -> str:
    fixture = "redis_url" if request.param == "redis" else "redis_cluster_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def entries(shared_url: str) -> Iterator[SharedEntries]:
    opened = SharedEntries(shared_url, namespace=unique_namespace())
    yield opened
    opened.erase_all()
    opened.close()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def copies(entries: SharedEntries, keyring: Keyring, shared_url: str) -> Iterator[Copies]:
    """``copies(audit=None)``: another sidecar's index on the same store (its own connections)."""
    made: list[tuple[FaceIndex, SharedEntries]] = []

    def make(audit: Callable[[AuditEvent], None] | None = None) -> FaceIndex:
        own = SharedEntries(shared_url, namespace=entries.namespace)
        index = FaceIndex(keyring, store=MemoryStore(), audit=audit, shared=own, poll_interval=0.02)
        made.append((index, own))
        return index

    yield make
    for index, own in made:
        index.close()
        own.close()


def face(seed: int) -> npt.NDArray[np.float32]:
    return (np.random.default_rng(seed).standard_normal(128) * 0.09).astype(np.float32)


def keys_found(index: FaceIndex, vector: npt.NDArray[np.float32]) -> list[str]:
    return [m.key for m in index.search(vector, k=5)]


def test_a_face_added_through_one_copy_is_found_by_another(copies: Copies) -> None:
    one, other = copies(), copies()
    one.add("applicant-1", face(1))
    assert wait_for(lambda: keys_found(other, face(1)), "the other copy to find the face") == ["applicant-1"]


def test_a_face_removed_through_one_copy_is_gone_from_another(copies: Copies) -> None:
    one, other = copies(), copies()
    one.add("applicant-1", face(1))
    wait_for(lambda: "applicant-1" in other, "the other copy to hold the face")
    assert other.remove("applicant-1") is True
    wait_for(lambda: "applicant-1" not in one, "the first copy to drop the face")
    assert keys_found(one, face(1)) == []


def test_a_copy_finds_its_own_change_at_once(copies: Copies) -> None:
    index = copies()
    index.add("applicant-1", face(1))
    assert keys_found(index, face(1)) == ["applicant-1"]
    index.remove("applicant-1")
    assert keys_found(index, face(1)) == []


def test_a_replaced_face_is_found_by_its_new_encoding_everywhere(copies: Copies) -> None:
    one, other = copies(), copies()
    one.add("applicant-1", face(1))
    other.add("applicant-1", face(2))
    wait_for(lambda: keys_found(one, face(2)) == ["applicant-1"], "the replacement to reach the first copy")
    assert keys_found(one, face(1)) == [] and len(one) == 1


def test_a_new_copy_is_rebuilt_from_the_store(copies: Copies) -> None:
    first = copies()
    first.add_matrix([f"s{i}" for i in range(300)], np.stack([face(i) for i in range(300)]))
    first.remove("s7")
    restarted = copies()
    assert len(restarted) == 299
    assert keys_found(restarted, face(42)) == ["s42"]
    assert "s7" not in restarted


def test_a_removed_template_leaves_the_store_and_the_change_stream(
    copies: Copies, entries: SharedEntries, keyring: Keyring
) -> None:
    index = copies()
    index.add("applicant-1", face(1))
    tag = entry_tag(keyring, "applicant-1")
    assert entries.get(tag) is not None
    index.remove("applicant-1")
    assert entries.get(tag) is None
    # The feed names tags only: what a follower reads for this tag now is "gone".
    changes = entries.poll(("0-0",) * 16).changes
    assert [c.value for c in changes if c.tag == tag] == [None]


def test_the_store_holds_neither_the_key_nor_the_encoding_in_the_clear(
    copies: Copies, entries: SharedEntries, keyring: Keyring
) -> None:
    copies().add("applicant-1", face(1))
    stored = entries.get(entry_tag(keyring, "applicant-1"))
    assert stored is not None
    assert b"applicant-1" not in stored
    assert face(1).tobytes()[:16] not in stored


def test_a_removal_is_audited_as_erased_from_the_store(copies: Copies) -> None:
    events: list[AuditEvent] = []
    index = copies(audit=events.append)
    index.add("applicant-1", face(1))
    index.remove("applicant-1")
    (removal,) = [e for e in events if e.action == "index_remove"]
    assert (removal.subject, removal.outcome, removal.details.get("erased")) == (
        "applicant-1",
        "removed",
        "store",
    )


def test_an_entry_moved_to_another_tag_fails_the_rebuild(
    copies: Copies, entries: SharedEntries, keyring: Keyring
) -> None:
    copies().add("applicant-1", face(1))
    stored = entries.get(entry_tag(keyring, "applicant-1"))
    assert stored is not None
    entries.put(entry_tag(keyring, "applicant-2"), stored)
    with pytest.raises(TemplateError):
        copies()


def test_a_copy_built_while_the_store_is_down_refuses_to_search(keyring: Keyring) -> None:
    down = SharedEntries("redis://127.0.0.1:1/0", socket_timeout=0.2)
    index = FaceIndex(keyring, store=MemoryStore(), audit=None, shared=down, poll_interval=60)
    with index, pytest.raises(StoreUnavailable):
        index.search(face(1))


def test_a_reader_behind_the_trimmed_part_of_the_feed_is_told_to_rebuild(shared_url: str) -> None:
    writer = SharedEntries(shared_url, namespace=unique_namespace(), retention=0.001)
    try:
        start = writer.head()
        writer.put(b"t" * 16, b"sealed")
        assert wait_for(lambda: writer.poll(start).gap, "trimming to pass the reader's position")
    finally:
        writer.erase_all()
        writer.close()


def test_a_reader_at_the_head_of_the_feed_has_missed_nothing(entries: SharedEntries) -> None:
    entries.put(b"t" * 16, b"sealed")
    assert entries.poll(entries.head()).gap is False


def test_changes_still_land_after_the_server_forgot_its_scripts(copies: Copies, shared_url: str) -> None:
    index = copies()
    if "+cluster://" in shared_url:
        first = shared_url.split("://", 1)[1].split(",", 1)[0]
        with redis.RedisCluster.from_url(f"redis://{first}") as cluster:
            for node in cluster.get_primaries():
                cluster.get_redis_connection(node).script_flush()
    else:
        with redis.Redis.from_url(shared_url) as server:
            server.script_flush()
    index.add("applicant-1", face(1))
    assert keys_found(index, face(1)) == ["applicant-1"]

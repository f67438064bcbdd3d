"""Two sidecars on one Redis Cluster share one face index: what one adds or removes over gRPC, the
other finds or forgets at its next look at the store's feed (how soon: ``verifykit bench index``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from polling import wait_for
from verifykit import Keyring
from verifykit.client import Client
from verifykit.delivery import Outbox
from verifykit.server import Components, ServerConfig, Sidecar, create_server
from verifykit.store import SharedEntries

PHOTOS = Path(__file__).resolve().parents[2] / "src" / "verifykit" / "_data" / "photos"

Start = Callable[[], Client]


@pytest.fixture
def on_cluster(redis_cluster_url: str) -> Iterator[Start]:
    """``start()``: another sidecar on the cluster, same keys and namespace; its client."""
    keyring, namespace = Keyring.generate(), f"vkt{uuid.uuid4().hex[:12]}"
    started: list[tuple[Sidecar, Client]] = []

    def start() -> Client:
        config = ServerConfig(
            listen="127.0.0.1:0", store=redis_cluster_url, namespace=namespace, access_log=False, grace=1.0
        )
        sidecar, port = create_server(config, Components(keyring=keyring, mailer=Outbox()))
        sidecar.start()
        client = Client(f"127.0.0.1:{port}", timeout=30.0)
        started.append((sidecar, client))
        return client

    yield start
    for sidecar, client in started:
        client.close()
        sidecar.stop(0)
    entries = SharedEntries(redis_cluster_url, namespace=namespace)
    entries.erase_all()
    entries.close()


def photo(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


def test_a_face_indexed_through_one_sidecar_is_found_through_the_other(on_cluster: Start) -> None:
    first, second = on_cluster(), on_cluster()
    template = first.face.enroll("applicant-1", photo("eileen_collins.jpg")).stored
    assert template is not None
    first.face.index_add("applicant-1", template)
    found = wait_for(lambda: second.face.search(photo("eileen_collins.jpg")), "the second sidecar to find it")
    assert [m.key for m in found] == ["applicant-1"]


def test_a_face_removed_through_one_sidecar_is_gone_from_the_other(on_cluster: Start) -> None:
    first, second = on_cluster(), on_cluster()
    template = first.face.enroll("applicant-1", photo("eileen_collins.jpg")).stored
    assert template is not None
    first.face.index_add("applicant-1", template)
    wait_for(lambda: second.face.search(photo("eileen_collins.jpg")), "the second sidecar to find the face")
    assert second.face.index_remove("applicant-1") is True
    wait_for(lambda: first.face.search(photo("eileen_collins.jpg")) == [], "the first sidecar to forget it")


def test_a_restarted_sidecar_finds_what_was_indexed_before(on_cluster: Start) -> None:
    first = on_cluster()
    template = first.face.enroll("applicant-1", photo("eileen_collins.jpg")).stored
    assert template is not None
    first.face.index_add("applicant-1", template)
    assert [m.key for m in on_cluster().face.search(photo("eileen_collins.jpg"))] == ["applicant-1"]

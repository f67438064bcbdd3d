"""Face verification over the sidecar, with the two public-domain sample photos: verdicts without
scores unless the sidecar is told to give them, and an index capped, limited and audited per
calling service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from sidecars import PKI, REPO, Running, Serve

from verifykit import (
    AuditEvent,
    ImageError,
    InvalidInput,
    Keyring,
    RateLimited,
    Reason,
    TemplateError,
)
from verifykit.aio import AsyncChallengeStore
from verifykit.client import Client
from verifykit.delivery import Outbox
from verifykit.face import FaceSettings
from verifykit.face._template import seal_template
from verifykit.server import Components, ServerConfig, Sidecar, create_server

PHOTOS = REPO / "src" / "verifykit" / "_data" / "photos"


def photo(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


def selfie() -> bytes:
    """The enrolment photo mirrored, re-lit and enlarged: the same face, other pixels."""
    image = cv2.imread(str(PHOTOS / "eileen_collins.jpg"))
    assert image is not None
    changed = cv2.resize(cv2.convertScaleAbs(cv2.flip(image, 1), alpha=1.1, beta=10), None, fx=1.5, fy=1.5)
    return np.asarray(cv2.imencode(".jpg", changed, [cv2.IMWRITE_JPEG_QUALITY, 80])[1]).tobytes()


def blank() -> bytes:
    return np.asarray(cv2.imencode(".png", np.full((200, 200, 3), 128, np.uint8))[1]).tobytes()


@pytest.fixture
def enrolled(sidecar: Running) -> bytes:
    enrollment = sidecar.client.face.enroll("applicant-1", photo("eileen_collins.jpg"))
    assert enrollment.approved and enrollment.reason is Reason.APPROVED
    assert enrollment.stored
    return enrollment.stored


def test_the_same_face_in_another_photo_is_approved(sidecar: Running, enrolled: bytes) -> None:
    verdict = sidecar.client.face.verify("applicant-1", enrolled, selfie())
    assert (verdict.approved, verdict.reason) == (True, Reason.APPROVED)


def test_another_persons_face_is_a_mismatch_verdict_without_distance_or_score(
    sidecar: Running, enrolled: bytes
) -> None:
    verdict = sidecar.client.face.verify("applicant-1", enrolled, photo("grace_hopper.jpg"))
    assert (verdict.approved, verdict.reason) == (False, Reason.MISMATCH)
    assert verdict.budget_left == 4
    assert (verdict.distance, verdict.score) == (None, None)
    assert not {"distance", "score", "threshold"} & set(verdict.details)


def test_with_face_scores_on_verdicts_carry_distance_and_score(serve: Serve) -> None:
    face = serve(face_scores=True).client.face
    template = face.enroll("applicant-1", photo("eileen_collins.jpg")).stored
    assert template is not None
    same = face.verify("applicant-1", template, selfie())
    assert same.distance is not None and same.distance < 0.6
    assert same.score is not None and 0.5 < same.score <= 1.0
    other = face.verify("applicant-1", template, photo("grace_hopper.jpg"))
    assert other.distance is not None and other.distance > 0.6


def test_a_photo_without_a_face_is_refused_with_a_reason_not_an_error(sidecar: Running) -> None:
    enrollment = sidecar.client.face.enroll("applicant-1", blank())
    assert (enrollment.approved, enrollment.reason, enrollment.stored) == (False, Reason.NO_FACE, None)
    assert enrollment.details["faces"] == "0"


def test_bytes_that_are_not_an_image_are_invalid_argument(sidecar: Running) -> None:
    with pytest.raises(ImageError):
        sidecar.client.face.enroll("applicant-1", b"GIF89a but not really")


def test_a_template_enrolled_for_someone_else_does_not_open(sidecar: Running, enrolled: bytes) -> None:
    with pytest.raises(TemplateError):
        sidecar.client.face.verify("applicant-2", enrolled, selfie())


def test_the_index_finds_an_enrolled_face_and_forgets_it_when_removed(
    sidecar: Running, enrolled: bytes
) -> None:
    face = sidecar.client.face
    other = face.enroll("applicant-2", photo("grace_hopper.jpg")).stored
    assert other is not None
    assert face.index_add("applicant-1", enrolled) == 1
    assert face.index_add("applicant-2", other) == 2
    matches = face.search(selfie())
    assert [m.key for m in matches] == ["applicant-1"]
    assert face.index_remove("applicant-1") is True
    assert face.index_remove("applicant-1") is False
    assert face.search(selfie()) == []


def test_index_calls_from_many_callers_at_once_all_land(sidecar: Running, enrolled: bytes) -> None:
    face = sidecar.client.face
    strangers = np.random.default_rng(5).normal(0.0, 0.09, size=(24, 128))  # far from any real face
    subjects = [f"stranger-{i}" for i in range(len(strangers))]
    templates = [seal_template(sidecar.keyring, s, e) for s, e in zip(subjects, strangers, strict=True)]
    with ThreadPoolExecutor(8) as pool:
        sizes = list(pool.map(face.index_add, subjects, templates))
        assert max(sizes) == len(subjects)  # none lost
        removed = list(pool.map(face.index_remove, subjects[::2]))
    assert removed == [True] * len(subjects[::2])
    assert face.index_add("applicant-1", enrolled) == len(subjects[1::2]) + 1
    assert [m.key for m in face.search(selfie())] == ["applicant-1"]


def test_the_index_saved_at_stop_is_searched_by_the_next_sidecar(
    serve: Serve, tmp_path: Path, enrolled: bytes, sidecar: Running
) -> None:
    path = tmp_path / "faces.vkfi"
    first = serve(keyring=sidecar.keyring, face_index=path)
    assert first.client.face.index_add("applicant-1", enrolled) == 1
    first.sidecar.stop()
    again = serve(keyring=sidecar.keyring, face_index=path)
    assert [m.key for m in again.client.face.search(selfie())] == ["applicant-1"]
    assert again.client.face.index_remove("applicant-1") is True


# -- the index: caps, limits per calling service, audit ------------------------------------------


AuditedSidecar = Callable[..., tuple[str, list[AuditEvent]]]


@pytest.fixture
def audited() -> Iterator[AuditedSidecar]:
    """``audited(**config)``: a sidecar whose audit events land in a list; returns its target."""
    started: list[Sidecar] = []

    def start(**config: Any) -> tuple[str, list[AuditEvent]]:
        events: list[AuditEvent] = []
        sidecar, port = create_server(
            ServerConfig(listen="127.0.0.1:0", access_log=False, grace=1.0, **config),
            Components(keyring=Keyring.generate(), mailer=Outbox(), audit=events.append),
        )
        started.append(sidecar)
        sidecar.start()
        return f"127.0.0.1:{port}", events

    yield start
    for sidecar in started:
        sidecar.stop(0)


def test_a_search_wider_than_the_threshold_is_invalid_argument(sidecar: Running, enrolled: bytes) -> None:
    sidecar.client.face.index_add("applicant-1", enrolled)
    with pytest.raises(InvalidInput) as refused:
        sidecar.client.face.search(selfie(), threshold=0.9)
    assert refused.value.field == "threshold"


def test_a_search_for_more_matches_than_the_cap_is_invalid_argument(sidecar: Running) -> None:
    with pytest.raises(InvalidInput) as refused:
        sidecar.client.face.search(selfie(), k=FaceSettings().max_search_results + 1)
    assert refused.value.field == "k"


def test_index_changes_past_the_callers_limit_are_rate_limited_on_every_backend(
    serve: Serve, store_url: str, make_async_store: Callable[..., AsyncChallengeStore]
) -> None:
    face = serve(store=make_async_store(store_url)).client.face
    policy = FaceSettings().index_change_limit
    assert policy is not None
    for i in range(policy.limit):
        face.index_remove(f"applicant-{i}")
    with pytest.raises(RateLimited) as refused:
        face.index_remove("applicant-0")
    assert refused.value.reason == "index_change_limit"
    assert 0 < refused.value.retry_after <= policy.window


def test_index_calls_are_audited_with_the_calling_service_as_client(audited: AuditedSidecar) -> None:
    target, events = audited()
    with Client(target) as client:
        template = client.face.enroll("applicant-1", photo("eileen_collins.jpg")).stored
        assert template is not None
        client.face.index_add("applicant-1", template)
        assert [m.key for m in client.face.search(selfie())] == ["applicant-1"]
        client.face.index_remove("applicant-1")
    index_events = [e for e in events if e.action in {"index_add", "search", "index_remove"}]
    assert [(e.action, e.subject, e.outcome) for e in index_events] == [
        ("index_add", "applicant-1", "added"),
        ("search", "", "searched"),
        ("index_remove", "applicant-1", "removed"),
    ]
    assert {e.client for e in index_events} == {"ipv4:127.0.0.1"}
    assert index_events[1].details["matches"] == "1"
    assert all(template.hex()[:32] not in e.to_json() for e in events)


def test_under_mutual_tls_the_caller_is_its_certificate_name(audited: AuditedSidecar, pki: PKI) -> None:
    target, events = audited(tls_cert=pki.server_cert, tls_key=pki.server_key, tls_client_ca=pki.ca_path)
    credentials = {
        "root_certificates": pki.ca,
        "certificate_chain": pki.client_cert,
        "private_key": pki.client_key,
    }
    with Client(target, **credentials) as client:
        client.face.index_remove("applicant-1")
    (removal,) = [e for e in events if e.action == "index_remove"]
    assert removal.client == "cn:service-a"


def test_the_audit_log_keeps_the_distance_that_the_verdict_leaves_out(audited: AuditedSidecar) -> None:
    target, events = audited()
    with Client(target) as client:
        template = client.face.enroll("applicant-1", photo("eileen_collins.jpg")).stored
        assert template is not None
        verdict = client.face.verify("applicant-1", template, photo("grace_hopper.jpg"))
    assert verdict.distance is None
    (denied,) = [e for e in events if e.action == "verify"]
    assert float(denied.details["distance"]) > 0.6

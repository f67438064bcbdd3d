"""Face verification over the sidecar, with the two public-domain sample photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from sidecars import REPO, Running

from verifykit import ImageError, Reason, TemplateError

PHOTOS = REPO / "examples" / "photos"


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
    assert enrollment.ok and enrollment.reason is Reason.APPROVED
    assert enrollment.template
    return enrollment.template


def test_the_same_face_in_another_photo_is_approved_with_distance_and_score(
    sidecar: Running, enrolled: bytes
) -> None:
    verdict = sidecar.client.face.verify("applicant-1", enrolled, selfie())
    assert (verdict.approved, verdict.reason) == (True, Reason.APPROVED)
    assert verdict.distance is not None and verdict.distance < 0.6
    assert verdict.score is not None and 0.5 < verdict.score <= 1.0


def test_another_persons_face_is_a_mismatch_verdict(sidecar: Running, enrolled: bytes) -> None:
    verdict = sidecar.client.face.verify("applicant-1", enrolled, photo("grace_hopper.jpg"))
    assert (verdict.approved, verdict.reason) == (False, Reason.MISMATCH)
    assert verdict.distance is not None and verdict.distance > 0.6
    assert verdict.attempts_left == 4


def test_a_photo_without_a_face_is_refused_with_a_reason_not_an_error(sidecar: Running) -> None:
    enrollment = sidecar.client.face.enroll("applicant-1", blank())
    assert (enrollment.ok, enrollment.reason, enrollment.template) == (False, Reason.NO_FACE, None)
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
    other = face.enroll("applicant-2", photo("grace_hopper.jpg")).template
    assert other is not None
    assert face.index_add("applicant-1", enrolled) == 1
    assert face.index_add("applicant-2", other) == 2
    matches = face.search(selfie())
    assert [m.key for m in matches] == ["applicant-1"]
    assert face.index_remove("applicant-1") is True
    assert face.index_remove("applicant-1") is False
    assert face.search(selfie()) == []

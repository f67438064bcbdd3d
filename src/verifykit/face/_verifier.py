"""Enrol a reference photo, then verify new photos of the same subject against it.

The rules live in :mod:`verifykit.face._core`; this class runs them with blocking I/O.
"""

from __future__ import annotations

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._flow import FlowIO, run_sync
from .._verdict import Verdict, WaysIn
from ..crypto import Keyring
from ..store import ChallengeStore
from ._core import Enrollment, FaceShell, distance, similarity
from ._image import ImageInput
from ._pipeline import Encoding
from ._settings import FaceSettings, MultiFace
from ._work import FaceReading

__all__ = ["Enrollment", "FaceVerifier", "distance", "similarity"]


class FaceVerifier(FaceShell):
    """1:1 face verification against sealed templates.

    ``enroll(subject, photo).stored`` is a sealed template; ``verify(subject, template, photo)``
    says whether the photo shows the same person. An unusable photo is a verdict with a reason,
    never an exception; undecodable or oversized input raises :class:`~verifykit.ImageError`, and a
    template that is not this subject's raises :class:`~verifykit.TemplateError`.

    Attempts are limited per subject on the shared store. Only comparisons count: a verify first
    checks (read-only) that the subject is not locked out, then reads the face, and charges one
    failure just before comparing, resetting the count on approval. A photo with no usable face is
    turned away uncharged: it reveals nothing about the enrolled face, and a person struggling with
    light or framing should not be locked out for it. The charge comes before the comparison, so
    concurrent attempts can never exceed the cap.

    A verdict carries the distance and score only when ``settings.expose_scores`` is on (trusted
    callers); the audit event always records the distance. Photos are read in the sandboxed face
    workers (see :class:`~verifykit.face.FaceSettings`); one that breaks a worker's limit raises
    :class:`~verifykit.ImageTooCostly`, and a worker lost to a crash raises
    :class:`~verifykit.WorkerLost` (retry).
    """

    def __init__(
        self,
        *,
        store: ChallengeStore,
        keyring: Keyring,
        settings: FaceSettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        ways_in: WaysIn | None = None,
    ) -> None:
        super().__init__(store=store, keyring=keyring, settings=settings, audit=audit, ways_in=ways_in)
        self._io = FlowIO(store=store, audit=audit, processes=self._pool)

    def __enter__(self) -> FaceVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def encode(
        self, image: ImageInput, *, policy: MultiFace | None = None
    ) -> tuple[FaceReading, Encoding | None]:
        """Find and encode the face in a photo (the encoding is None when no face is usable).

        For 1:N search and tooling; the encoding is biometric data, so do not log or keep it.
        """
        return run_sync(self._flows.encode(image, policy=policy), self._io)

    def enroll(self, subject: str, image: ImageInput) -> Enrollment:
        """Make a sealed template from a reference photo (passport, ID card, first selfie)."""
        return run_sync(self._flows.enroll(subject, image), self._io)

    def verify(
        self, subject: str, template: bytes, image: ImageInput, *, client: str | None = None
    ) -> Verdict:
        """Does ``image`` show the person ``template`` was enrolled from?"""
        return run_sync(self._flows.verify(subject, template, image, client=client), self._io)

    def compare(self, image_a: ImageInput, image_b: ImageInput) -> Verdict:
        """Compare two photos directly (no subject, template or attempt limit): a tool for
        operators and the ``verifykit face compare`` command, not a way to authenticate. With no
        limit on tries, its distance is the best hill-climbing oracle there is, so it too gives the
        distance and score only under ``expose_scores``."""
        return run_sync(self._flows.compare(image_a, image_b), self._io)

"""Face verification, written once: the flows behind both :class:`verifykit.face.FaceVerifier` and
:class:`verifykit.aio.FaceVerifier`.

Each flow (see :mod:`verifykit._flow`) validates, decides, and yields what it needs: store
operations, the face work (:func:`~verifykit.face._work.read_face`, which reads an untrusted photo
and holds the GIL, so it runs in the sandboxed face workers unless the settings ask for threads)
and audit events. Nothing here does
I/O, so the two flavours cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt

from .._audit import AuditSink
from .._charged import (
    SubjectCharge,
    charge_client_flow,
    charge_subject_flow,
    decision_step,
    locked_verdict,
    reset_subject_flow,
    validate_client,
)
from .._errors import ConfigurationError
from .._flow import Emit, Flow, Work, store_op
from .._shell import require
from .._subject import budget_key, lockout_key, subject_tag, validate_subject
from .._verdict import Reason, Verdict, Way, WaysIn, counter_voucher_only
from ..crypto import Keyring
from ..store import FailureState
from ._image import ImageInput
from ._pipeline import Encoding, FaceBox
from ._quality import FaceQuality
from ._settings import FaceSettings, MultiFace
from ._template import open_template, seal_template
from ._work import FaceReading, face_work
from ._workers import shared_workers

__all__ = ["Enrollment", "FaceFlows", "FaceShell", "distance", "similarity"]

_VERIFIER = Way.FACE


class _Scores(TypedDict, total=False):
    distance: float
    score: float
    details: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Enrollment:
    """The outcome of enrolling a photo.

    ``approved`` with the sealed template in ``stored``, to keep with the subject's record, or not
    with the ``reason`` to show the person (no face, several faces, a quality gate). The photo
    itself is never kept.
    """

    approved: bool
    reason: Reason
    stored: bytes | None = None
    face: FaceBox | None = None
    faces: int = 0
    quality: FaceQuality | None = None
    details: Mapping[str, str] = field(default_factory=dict)


def distance(a: npt.NDArray[np.floating], b: npt.NDArray[np.floating]) -> float:
    """Euclidean distance between two encodings, in float64."""
    return float(np.linalg.norm(a.astype(np.float64) - b.astype(np.float64)))


def similarity(dist: float, threshold: float) -> float:
    """A score in [0, 1]: 1 for identical encodings, 0.5 exactly at the threshold, 0 at twice it."""
    return max(0.0, 1.0 - dist / (2.0 * threshold))


def _unusable_details(reading: FaceReading, settings: FaceSettings) -> dict[str, str]:
    """What a caller needs to tell the person what to fix; never pixels or encodings."""
    details: dict[str, str] = {"faces": str(len(reading.faces))}
    quality = reading.quality
    if quality is not None:
        if reading.reason is Reason.FACE_TOO_SMALL:
            details.update(face_px=f"{quality.face_px:.0f}", min_face_px=str(settings.min_face_px))
        elif reading.reason in (Reason.TOO_DARK, Reason.TOO_BRIGHT):
            details.update(
                brightness=f"{quality.brightness:.0f}",
                min_brightness=f"{settings.min_brightness:g}",
                max_brightness=f"{settings.max_brightness:g}",
            )
        elif reading.reason is Reason.BLURRY:
            details.update(sharpness=f"{quality.sharpness:.1f}", min_sharpness=f"{settings.min_sharpness:g}")
    return details


class FaceFlows:
    """The configuration of a face verifier and its flows: ``encode``, ``enroll``, ``verify``, ``compare``."""

    def __init__(self, *, keyring: Keyring, settings: FaceSettings | None, ways_in: WaysIn | None) -> None:
        if not isinstance(keyring, Keyring):
            raise ConfigurationError(
                "FaceVerifier needs a keyring (Keyring.from_string(...); Keyring.generate() only in tests)"
            )
        if settings is not None and not isinstance(settings, FaceSettings):
            raise ConfigurationError("settings must be FaceSettings")
        self.keyring = keyring
        self.settings = settings if settings is not None else FaceSettings()
        self.ways_in: WaysIn = ways_in if ways_in is not None else counter_voucher_only

    # -- helpers ---------------------------------------------------------------------------------

    def _read(self, image: object, policy: MultiFace) -> Work:
        return face_work(image, self.settings, policy)

    def _event(
        self, action: str, subject: str, outcome: str, reason: Reason, client: str | None, **details: str
    ) -> Emit:
        return decision_step(_VERIFIER, action, subject, outcome, reason=reason, client=client, **details)

    def _budget_left(self, state: FailureState) -> int:
        return max(self.settings.lockout.threshold - state.failures, 0)

    def _offered(self, subject: str, state: FailureState) -> tuple[Way, ...]:
        if not state.allowed or state.failures >= self.settings.fallback_after:
            return tuple(self.ways_in(subject))
        return ()

    def _locked(self, subject: str, state: FailureState, client: str | None) -> Flow[Verdict]:
        verdict = locked_verdict(state, self.ways_in(subject))
        yield self._event("verify", subject, "refused", verdict.reason, client)
        return verdict

    def _scores(self, dist: float) -> _Scores:
        """Distance, score and threshold for a verdict, only where the settings trust the caller
        with them: an exact distance on every try lets an attacker climb towards the threshold."""
        if not self.settings.expose_scores:
            return {}
        threshold = self.settings.threshold
        return {
            "distance": dist,
            "score": similarity(dist, threshold),
            "details": {"threshold": f"{threshold:g}"},
        }

    # -- flows -----------------------------------------------------------------------------------

    def encode(
        self, image: ImageInput, *, policy: MultiFace | None
    ) -> Flow[tuple[FaceReading, Encoding | None]]:
        reading: FaceReading = yield self._read(
            image, policy if policy is not None else self.settings.enroll_multiple_faces
        )
        return reading, reading.encoding

    def enroll(self, subject: str, image: ImageInput) -> Flow[Enrollment]:
        subject = validate_subject(subject)
        reading: FaceReading = yield self._read(image, self.settings.enroll_multiple_faces)
        faces = len(reading.faces)
        if reading.encoding is None or reading.reason is not None:
            reason = reading.reason or Reason.NO_FACE
            details = _unusable_details(reading, self.settings)
            yield self._event("enroll", subject, "rejected", reason, None, **details)
            return Enrollment(
                False, reason, face=reading.face, faces=faces, quality=reading.quality, details=details
            )
        template = seal_template(self.keyring, subject, reading.encoding)
        yield self._event("enroll", subject, "enrolled", Reason.APPROVED, None)
        return Enrollment(
            True, Reason.APPROVED, stored=template, face=reading.face, faces=faces, quality=reading.quality
        )

    def verify(
        self, subject: str, template: bytes, image: ImageInput, *, client: str | None
    ) -> Flow[Verdict]:
        subject = validate_subject(subject)
        reference = open_template(self.keyring, subject, template)
        if client is not None:
            validate_client(client)
        settings = self.settings
        # Every verify call is charged to the client before any image work and never given back:
        # the limit bounds the decoding and encoding one address can demand, however many race.
        charge = yield from charge_client_flow(_VERIFIER, client, settings.client_limit)
        if charge.refused:
            yield self._event("verify", subject, "refused", Reason.RATE_LIMITED, client)
            return charge.verdict()
        tag = subject_tag(self.keyring, subject)
        # Read before any image work: a locked subject (here, or through any other way in) costs
        # no decoding. The charge below is what holds the caps exactly.
        own: FailureState = yield store_op.failure_state(lockout_key(_VERIFIER, tag))
        state = own
        if own.allowed:
            budget: FailureState = yield store_op.failure_state(budget_key(tag))
            state = SubjectCharge(own, budget, settings.lockout).state
        if not state.allowed:
            return (yield from self._locked(subject, state, client))

        reading: FaceReading = yield self._read(image, settings.multiple_faces)
        if reading.reason is not None or reading.encoding is None:
            reason = reading.reason or Reason.NO_FACE
            details = _unusable_details(reading, settings)
            yield self._event("verify", subject, "rejected", reason, client, **details)
            return Verdict(
                approved=False,
                reason=reason,
                budget_left=self._budget_left(state),
                ways_in=self._offered(subject, state),
                details=details,
            )

        # A photo with no usable face was turned away uncharged above; a comparison is charged
        # before it is made, so concurrent attempts can never exceed the cap.
        charge_both = yield from charge_subject_flow(_VERIFIER, tag, settings.lockout)
        charged = charge_both.state
        if not charge_both.allowed:
            return (yield from self._locked(subject, charged, client))
        dist = distance(reading.encoding, reference)
        if dist <= settings.threshold:
            yield from reset_subject_flow(_VERIFIER, tag)
            yield self._event("verify", subject, "approved", Reason.APPROVED, client, distance=f"{dist:.4f}")
            return Verdict(approved=True, reason=Reason.APPROVED, **self._scores(dist))
        delay = settings.lockout.delay(charged.failures)
        yield self._event("verify", subject, "denied", Reason.MISMATCH, client, distance=f"{dist:.4f}")
        return Verdict(
            approved=False,
            reason=Reason.MISMATCH,
            budget_left=self._budget_left(charged),
            retry_after=delay if delay > 0 else None,
            ways_in=self._offered(subject, charged),
            **self._scores(dist),
        )

    def compare(self, image_a: ImageInput, image_b: ImageInput) -> Flow[Verdict]:
        encodings: list[Encoding] = []
        for label, image in (("a", image_a), ("b", image_b)):
            reading: FaceReading = yield self._read(image, self.settings.multiple_faces)
            if reading.reason is not None or reading.encoding is None:
                details = {"image": label, **_unusable_details(reading, self.settings)}
                return Verdict(approved=False, reason=reading.reason or Reason.NO_FACE, details=details)
            encodings.append(reading.encoding)
        dist = distance(encodings[0], encodings[1])
        match = dist <= self.settings.threshold
        return Verdict(
            approved=match, reason=Reason.APPROVED if match else Reason.MISMATCH, **self._scores(dist)
        )


class FaceShell:
    """What both flavours of ``FaceVerifier`` hold: the flows, the store, the audit sink and, unless
    the settings ask for threads, the shared face workers. ``store`` and ``keyring`` are required:
    verifykit never picks a secret or a place to keep state behind its caller's back."""

    def __init__(
        self,
        *,
        store: Any,
        keyring: Keyring,
        settings: FaceSettings | None,
        audit: AuditSink | None,
        ways_in: WaysIn | None,
    ) -> None:
        require("FaceVerifier", store=store, keyring=keyring)
        self._flows = FaceFlows(keyring=keyring, settings=settings, ways_in=ways_in)
        self.store = store
        self.audit = audit
        self._pool = shared_workers(self._flows.settings)

    @property
    def keyring(self) -> Keyring:
        return self._flows.keyring

    @property
    def settings(self) -> FaceSettings:
        return self._flows.settings

    def close(self) -> None:
        """Nothing to end: the face workers are shared by every verifier of the process with the
        same worker settings, and end at exit or with :func:`verifykit.face.shutdown_workers`."""

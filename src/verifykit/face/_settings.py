"""Face verification settings: thresholds and their named presets, limits, policies, quality gates."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .._errors import ConfigurationError
from ..store import LockoutPolicy, WindowPolicy
from ._image import JPEG_MAX_SCANS

__all__ = ["THRESHOLD_PRESETS", "FaceSettings", "MultiFace", "Workers"]

# Euclidean distance between dlib encodings at or below which two faces are called the same person.
# 0.6 is the model's published operating point (99.38% on LFW); lower trades more false rejections
# of the right person for fewer false accepts of someone else. `verifykit bench face` prints the
# false accept and false reject rates at each preset on real photos.
THRESHOLD_PRESETS: dict[str, float] = {
    "standard": 0.6,
    "strict": 0.5,
    "very_strict": 0.4,
}


class MultiFace(StrEnum):
    """What to do with a photo that shows several faces."""

    REJECT = "reject"
    """Refuse it with reason ``multiple_faces``: nobody can say which face was meant."""
    LARGEST = "largest"
    """Use the main face: the largest, or among faces of nearly equal size the most central one
    (for photos known to show one person, such as cropped ID photos)."""


class Workers(StrEnum):
    """Where the heavy face work (decode, detect, encode) runs."""

    PROCESS = "process"
    """The default: in sandboxed worker processes under operating-system limits (memory, CPU
    seconds per photo), each loading the models once. Face work scales across cores, an asyncio
    service's loop never waits on the GIL, and a decoder bomb or crash costs one worker, which is
    replaced, never the server."""
    THREAD = "thread"
    """In the calling thread (sync) or the event loop's thread pool (asyncio): unsandboxed (the
    native decoders run in the caller's process, bounded only by the header checks), and one
    encoding at a time, since dlib's encoder holds the GIL."""


@dataclass(frozen=True, slots=True)
class FaceSettings:
    """How faces are found, judged and compared. Validated once, here.

    Defaults, and why:

    - ``threshold=0.6``: see :data:`THRESHOLD_PRESETS`; ``FaceSettings.preset("strict")`` picks one.
    - ``max_bytes=15 MiB`` and ``max_pixels=40 MP``: checked before decoding (decompression bombs).
    - ``max_decoded_bytes=192 MiB``: what decoding may hold, from the header before decoding:
      output pixels x channels x bytes per sample, plus the decoder's full-size working buffers
      (a progressive JPEG's coefficients; lossless WebP is refused). It admits 40 MP at 8 bits
      with or without alpha, and keeps one face call under 512 MiB above the process's idle
      size, whatever the format, depth or colour type (OpenCV's Python binding copies the decoded
      image once, so a decode peaks at up to twice this).
    - ``max_jpeg_scans=100``: each scan of a progressive JPEG walks the whole coefficient buffer,
      so thousands of tiny scans cost much CPU; ordinary files have about 10 (libjpeg-turbo's
      TurboJPEG API refuses over 500). Counted from the header, before decoding.
    - ``detect_max_side=480`` with ``detect_upsample=1``: faces are found on a copy whose longer side
      is at most 480 px, upsampled once inside the detector as face_recognition does, so the
      smallest face found spans about 1/12 of the photo's longer side; when none is found, a
      second look at twice the size goes down to 1/24. Landmarks and the encoding then use the
      photo itself.
    - ``work_min_side=960``: a large JPEG is decoded reduced (by 2, 4 or 8) while its longer side
      stays at least this long; ``encode_min_face=150`` px re-decodes at full size when the face
      in the reduced copy is smaller than that (the encoder's face crop is 150 px).
    - ``multiple_faces=REJECT`` for verification and ``enroll_multiple_faces=REJECT`` for enrolment;
      a face narrower than ``background_face_ratio`` (0.5) of the largest one is a bystander in the
      background and does not count.
    - Quality gates, each with its own reason so a person can be told what to fix:
      ``min_face_px=60`` (face box width in the original photo; smaller faces carry too little
      detail), ``min_sharpness=20`` (variance of the Laplacian of the face resized to 96x96 grey),
      ``min_brightness=40`` and ``max_brightness=220`` (mean grey level of the face). They are
      deliberately loose: they catch unusable photos, not merely poor ones.
    - ``lockout``: NIST SP 800-63B section 5.2.3 for biometrics without presentation-attack
      detection: after 5 consecutive failed comparisons wait 30 s, doubling with each further
      failure up to an hour; 100 lock the subject until a success through another way in.
    - ``fallback_after=3``: after 3 consecutive mismatches the verdict offers the other ways in (``ways_in``).
    - ``client_limit``: optional sliding-window limit per client address on verify calls.
    - ``expose_scores=False``: verdicts say approved or not and why, never the distance or score.
      Each exact distance is feedback an attacker can climb towards the threshold with (adjust a
      photo, keep what lowers the distance); the audit event still records it. Turn it on only
      for trusted callers (operators' tools, accuracy benchmarks).
    - 1:N search, against identification of strangers' photos and bulk probing:
      ``max_search_distance`` (None: the threshold) is the largest ``threshold`` a search may ask
      for, so a search names only faces that would pass verification, never the nearest strangers;
      ``max_search_results=10`` caps ``k``. With a ``client`` named, ``search_limit`` (60 a
      minute) and ``index_change_limit`` (300 additions and removals a minute) hold per client on
      the shared store; None turns one off.
    - ``workers="process"``: every photo is probed, decoded, and read in a sandboxed worker
      process (:mod:`verifykit.face._workers`), ``processes`` of them (None: one per CPU core),
      shared by every verifier and index of the process with the same worker settings. Each
      loads the models once and reads one photo at a time under limits the operating system
      enforces: ``worker_memory`` bytes above its size once the models are loaded (None:
      twice ``max_decoded_bytes`` plus 128 MiB, since OpenCV's binding copies a decoded image
      once, and dlib works on top), ``worker_cpu_seconds=5`` of CPU time per photo, and
      ``worker_timeout`` seconds of wall-clock time per photo (None: four times the CPU bound
      plus 10 s, for a loaded machine). A photo that breaks one is refused with
      :class:`~verifykit.ImageTooCostly` and the worker replaced; a worker that dies is
      replaced too, and no other call fails. ``worker_start_timeout=60`` s bounds a worker's
      start (imports and models). ``"thread"`` reads photos in the calling thread or the
      event loop's thread pool: no sandbox, no limit but the header checks, and one encoding
      at a time, as dlib's encoder holds the GIL; for callers who ask for it knowingly.
    """

    threshold: float = THRESHOLD_PRESETS["standard"]
    max_bytes: int = 15 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_decoded_bytes: int = 192 * 1024 * 1024
    max_jpeg_scans: int = JPEG_MAX_SCANS  # about 10 in ordinary files; see the docstring
    detect_max_side: int = 480
    detect_upsample: int = 1
    work_min_side: int = 960
    encode_min_face: int = 150
    multiple_faces: MultiFace = MultiFace.REJECT
    enroll_multiple_faces: MultiFace = MultiFace.REJECT
    background_face_ratio: float = 0.5
    min_face_px: int = 60
    min_sharpness: float = 20.0
    min_brightness: float = 40.0
    max_brightness: float = 220.0
    num_jitters: int = 1
    lockout: LockoutPolicy = field(
        default_factory=lambda: LockoutPolicy(threshold=5, lockout=30, lockout_max=3600, hard_cap=100)
    )
    fallback_after: int = 3
    client_limit: WindowPolicy | None = None
    expose_scores: bool = False
    max_search_distance: float | None = None
    max_search_results: int = 10
    search_limit: WindowPolicy | None = field(default_factory=lambda: WindowPolicy(limit=60, window=60))
    index_change_limit: WindowPolicy | None = field(
        default_factory=lambda: WindowPolicy(limit=300, window=60)
    )
    workers: Workers = Workers.PROCESS
    processes: int | None = None
    worker_memory: int | None = None
    worker_cpu_seconds: int = 5
    worker_timeout: float | None = None
    worker_start_timeout: float = 60.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.threshold) and 0.0 < self.threshold < 2.0):
            raise ConfigurationError("threshold must be between 0 and 2 (distances between encodings)")
        if self.max_bytes < 1 or self.max_pixels < 1 or self.max_decoded_bytes < 1:
            raise ConfigurationError("max_bytes, max_pixels and max_decoded_bytes must be positive")
        scans = self.max_jpeg_scans
        if isinstance(scans, bool) or not isinstance(scans, int) or scans < 1:
            raise ConfigurationError("max_jpeg_scans must be a positive integer")
        if self.detect_max_side < 80 or not 0 <= self.detect_upsample <= 2:
            raise ConfigurationError("detect_max_side must be >= 80 and detect_upsample 0, 1 or 2")
        if self.work_min_side < 0 or self.encode_min_face < 1:
            raise ConfigurationError("work_min_side must be >= 0 and encode_min_face >= 1")
        if not 0.0 <= self.background_face_ratio < 1.0:
            raise ConfigurationError("background_face_ratio must be in [0, 1)")
        if self.min_face_px < 1 or self.min_sharpness < 0:
            raise ConfigurationError("min_face_px must be >= 1 and min_sharpness >= 0")
        if not 0.0 <= self.min_brightness < self.max_brightness <= 255.0:
            raise ConfigurationError("brightness bounds must satisfy 0 <= min < max <= 255")
        if not 1 <= self.num_jitters <= 100:
            raise ConfigurationError("num_jitters must be between 1 and 100")
        if self.fallback_after < 1:
            raise ConfigurationError("fallback_after must be at least 1")
        self._check_search()
        self._check_workers()
        for name in ("multiple_faces", "enroll_multiple_faces"):
            try:
                # Accept the plain strings "reject" / "largest" from configuration files.
                object.__setattr__(self, name, MultiFace(getattr(self, name)))
            except ValueError:
                raise ConfigurationError(f"{name} must be one of {[m.value for m in MultiFace]}") from None

    def _check_workers(self) -> None:
        processes = self.processes
        if processes is not None and (
            isinstance(processes, bool) or not isinstance(processes, int) or processes < 1
        ):
            raise ConfigurationError("processes must be a positive number of worker processes, or None")
        for name in ("worker_memory", "worker_cpu_seconds"):
            value = getattr(self, name)
            if value is None and name == "worker_memory":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name} must be a positive integer")
        for name in ("worker_timeout", "worker_start_timeout"):
            value = getattr(self, name)
            if value is None and name == "worker_timeout":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
                raise ConfigurationError(f"{name} must be a positive number of seconds")
        try:
            object.__setattr__(self, "workers", Workers(self.workers))
        except ValueError:
            raise ConfigurationError(f"workers must be one of {[w.value for w in Workers]}") from None

    def _check_search(self) -> None:
        cap = self.max_search_distance
        if cap is not None and not (math.isfinite(cap) and 0.0 < cap < 2.0):
            raise ConfigurationError("max_search_distance must be between 0 and 2, or None for the threshold")
        if self.max_search_results < 1:
            raise ConfigurationError("max_search_results must be at least 1")

    @property
    def worker_memory_bound(self) -> int:
        """Bytes a face worker may hold above its size once its models are loaded."""
        if self.worker_memory is not None:
            return self.worker_memory
        return 2 * self.max_decoded_bytes + 128 * 1024 * 1024

    @property
    def worker_timeout_bound(self) -> float:
        """Wall-clock seconds a face worker may take over one photo."""
        if self.worker_timeout is not None:
            return float(self.worker_timeout)
        return 4.0 * self.worker_cpu_seconds + 10.0

    @property
    def search_distance_cap(self) -> float:
        """The largest distance a 1:N search may ask for."""
        return self.threshold if self.max_search_distance is None else self.max_search_distance

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> FaceSettings:
        """Settings with a named threshold from :data:`THRESHOLD_PRESETS`, plus any overrides."""
        try:
            threshold = THRESHOLD_PRESETS[name]
        except KeyError:
            raise ConfigurationError(
                f"unknown preset {name!r}; choose from {sorted(THRESHOLD_PRESETS)}"
            ) from None
        return cls(threshold=threshold, **overrides)

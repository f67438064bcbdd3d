"""The dlib models: located on disk, checked against pinned digests, loaded once and lazily.

The weights come from the ``face_recognition_models`` distribution, but that module is never
imported: it imports ``pkg_resources``, which current setuptools no longer ships. Its files are
found with :func:`importlib.util.find_spec`, which reads the package location without running it.
Only two files are used: the CC0 5-point landmark model and the ResNet encoder. The 68-point
model's training data forbids commercial use, so nothing here may need it. Nothing is downloaded.

dlib's HOG detector and ResNet encoder keep per-call scratch state, so one instance must not serve
two threads at once. Each lives in a small pool that grows to the number of threads using it; the
5-point predictor is read-only during a call and is shared.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar

from .._errors import ConfigurationError

__all__ = [
    "ENCODER_FILE",
    "LANDMARKS_FILE",
    "MODEL_ID",
    "detector",
    "encoder",
    "landmark_predictor",
    "loads",
    "model_path",
    "require_installed",
    "warm_up",
]

LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
ENCODER_FILE = "dlib_face_recognition_resnet_model_v1.dat"
# Stored in every template: an encoding is only comparable with one from the same models.
MODEL_ID = "dlib-resnet-v1+5pt"

# SHA-256 of the files in face_recognition_models 0.3.0: a swapped or corrupted weight file
# fails loudly at load instead of silently changing every decision.
_DIGESTS = {
    LANDMARKS_FILE: "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    ENCODER_FILE: "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
}
_EXTRA_HINT = "install the face extra: pip install 'verifykit[face]'"

T = TypeVar("T")


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:
        raise ConfigurationError(f"dlib is not installed; {_EXTRA_HINT}") from exc
    return dlib


def require_installed() -> None:
    """Name the missing face extra now, without importing it (importing dlib and OpenCV is the
    face workers' job): a missing package must be said here, not as a worker that cannot start."""
    for module, name in (
        ("cv2", "OpenCV"),
        ("dlib", "dlib"),
        ("face_recognition_models", "face_recognition_models"),
    ):
        if importlib.util.find_spec(module) is None:
            raise ConfigurationError(f"{name} is not installed; {_EXTRA_HINT}")


def _models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None:
        raise ConfigurationError(f"face_recognition_models is not installed; {_EXTRA_HINT}")
    roots = list(spec.submodule_search_locations or [])
    if not roots and spec.origin:
        roots = [str(Path(spec.origin).parent)]
    for root in roots:
        candidate = Path(root) / "models"
        if candidate.is_dir():
            return candidate
    raise ConfigurationError("face_recognition_models has no models/ folder; reinstall it")


def model_path(name: str) -> Path:
    """The verified path of one weight file."""
    path = _models_dir() / name
    if not path.is_file():
        raise ConfigurationError(f"model file {name} is missing; reinstall face_recognition_models")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != _DIGESTS[name]:
        raise ConfigurationError(f"model file {name} does not match its pinned SHA-256 digest")
    return path


class _Lazy(Generic[T]):
    """One shared instance, built on first use under a lock."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._factory()
                value = self._value
        return value


class _Pool(Generic[T]):
    """Instances handed to one thread at a time; a new one is built only when all are busy."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._free: list[T] = []
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[T]:
        with self._lock:
            item = self._free.pop() if self._free else None
        if item is None:
            item = self._factory()
        try:
            yield item
        finally:
            with self._lock:
                self._free.append(item)


# How many times this process built each model: loading is the slow part of a worker's start,
# so a process pool must do it once per worker, not once per call.
_loads: Counter[str] = Counter()


def _counted(name: str, factory: Callable[[], T]) -> Callable[[], T]:
    def build() -> T:
        value = factory()
        _loads[name] += 1
        return value

    return build


_landmarks: _Lazy[Any] = _Lazy(
    _counted("landmarks", lambda: _import_dlib().shape_predictor(str(model_path(LANDMARKS_FILE))))
)
_encoders: _Pool[Any] = _Pool(
    _counted("encoder", lambda: _import_dlib().face_recognition_model_v1(str(model_path(ENCODER_FILE))))
)
_detectors: _Pool[Any] = _Pool(_counted("detector", lambda: _import_dlib().get_frontal_face_detector()))


def loads() -> dict[str, int]:
    """How many times this process has built each model (for monitoring and tests)."""
    return dict(_loads)


def warm_up() -> None:
    """Build one of each model now (a worker process's start), not on its first photo."""
    landmark_predictor()
    with detector(), encoder():
        pass


def landmark_predictor() -> Any:
    """The shared 5-point landmark predictor."""
    return _landmarks.get()


def detector() -> AbstractContextManager[Any]:
    """Borrow a HOG face detector for the duration of a ``with`` block."""
    return _detectors.borrow()


def encoder() -> AbstractContextManager[Any]:
    """Borrow a ResNet face encoder for the duration of a ``with`` block."""
    return _encoders.borrow()

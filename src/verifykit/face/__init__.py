"""Face verification: enrol a reference photo, verify new photos against it, search for duplicates.

dlib's HOG detector, CC0 5-point landmarks and ResNet encoder (the models face_recognition uses),
with OpenCV decoding. Templates are sealed with the keyring and bound to their subject; photos are
never stored. Needs the ``face`` extra.
"""

from ._aio import FaceIndex as AsyncFaceIndex
from ._aio import FaceVerifier as AsyncFaceVerifier
from ._image import ImageInfo, probe
from ._index import FaceIndex, FaceMatch
from ._models import MODEL_ID, require_installed
from ._pipeline import FaceBox, Found
from ._quality import FaceQuality
from ._settings import THRESHOLD_PRESETS, FaceSettings, MultiFace, Workers
from ._verifier import Enrollment, FaceVerifier
from ._work import FaceReading
from ._workers import FaceWorkers, WorkerLimits, WorkerStatus, shutdown_workers

__all__ = [
    "MODEL_ID",
    "THRESHOLD_PRESETS",
    "AsyncFaceIndex",
    "AsyncFaceVerifier",
    "Enrollment",
    "FaceBox",
    "FaceIndex",
    "FaceMatch",
    "FaceQuality",
    "FaceReading",
    "FaceSettings",
    "FaceVerifier",
    "FaceWorkers",
    "Found",
    "ImageInfo",
    "MultiFace",
    "WorkerLimits",
    "WorkerStatus",
    "Workers",
    "probe",
    "require_installed",
    "shutdown_workers",
]

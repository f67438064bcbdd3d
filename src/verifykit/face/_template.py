"""Sealed face templates: an encoding that only this keyring can open, and only for its subject.

A template is AES-256-GCM under the keyring's ``face-template`` purpose key, with the subject as
associated data, so a template copied onto another account fails to open instead of letting the
wrong person in. Inside: a format byte, the model id (an encoding is only comparable with one
from the same models), and the 128 float32 values.
"""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt

from .._errors import InvalidInput, KeyringError, TemplateError
from ..crypto import Keyring
from ._models import MODEL_ID

__all__ = ["DIMENSIONS", "check_encoding", "open_template", "seal_template"]

DIMENSIONS = 128
_PURPOSE = "face-template"
_MAGIC = b"VKFT"
_FORMAT = 1

Vector = npt.NDArray[np.float32]


def check_encoding(encoding: object) -> Vector:
    """A finite 128-d encoding as float32, or :class:`InvalidInput`."""
    if not isinstance(encoding, np.ndarray) or encoding.shape != (DIMENSIONS,):
        raise InvalidInput(f"a face encoding is a numpy array of shape ({DIMENSIONS},)", field="encoding")
    if not np.issubdtype(encoding.dtype, np.floating) or not np.all(np.isfinite(encoding)):
        raise InvalidInput("a face encoding must hold finite floating-point values", field="encoding")
    return encoding.astype(np.float32)


def seal_template(keyring: Keyring, subject: str, encoding: npt.NDArray[np.floating]) -> bytes:
    """Seal ``encoding`` for ``subject``."""
    model = MODEL_ID.encode()
    payload = (
        _MAGIC
        + bytes([_FORMAT, len(model)])
        + model
        + struct.pack("<H", DIMENSIONS)
        + check_encoding(encoding).astype("<f4").tobytes()
    )
    return keyring.seal(_PURPOSE, payload, aad=subject.encode())


def open_template(keyring: Keyring, subject: str, template: object) -> Vector:
    """Open ``subject``'s template; :class:`TemplateError` if it is not one, was changed, belongs
    to someone else, or was made by other models."""
    if not isinstance(template, bytes | bytearray | memoryview):
        raise InvalidInput("a template is the bytes that enrol returned", field="template")
    try:
        payload = keyring.open(_PURPOSE, bytes(template), aad=subject.encode())
    except KeyringError as exc:
        raise TemplateError(f"the face template cannot be opened for this subject: {exc.message}") from None
    if len(payload) < 6 or payload[:4] != _MAGIC or payload[4] != _FORMAT:
        raise TemplateError("unknown face template format")
    model_end = 6 + payload[5]
    model = payload[6:model_end].decode("utf-8", "replace")
    if model != MODEL_ID:
        raise TemplateError(f"the template was made by model {model!r}, not {MODEL_ID!r}; enrol again")
    size, body = payload[model_end : model_end + 2], payload[model_end + 2 :]
    if len(size) != 2 or struct.unpack("<H", size)[0] != DIMENSIONS or len(body) != 4 * DIMENSIONS:
        raise TemplateError("the face template has the wrong size")
    return np.frombuffer(body, dtype="<f4").astype(np.float32)

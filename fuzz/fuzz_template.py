"""Face templates: raw blobs from callers, and payloads inside a valid seal (what an older or
newer release, or a damaged store, could hand back)."""

from __future__ import annotations

import numpy as np

from verifykit import Keyring
from verifykit.face._template import DIMENSIONS, open_template

from ._support import Input, typed

MAX_LEN = 4096
_SUBJECT = "fuzz-subject"
_KEYRING = Keyring.generate()


def TestOneInput(data: bytes) -> None:
    given = Input(data)
    sealed_inside = given.flag()
    blob = given.rest()
    if sealed_inside:
        blob = _KEYRING.seal("face-template", blob, aad=_SUBJECT.encode())
    vector = typed(lambda: open_template(_KEYRING, _SUBJECT, blob))
    if vector is not None:
        assert vector.dtype == np.float32 and vector.shape == (DIMENSIONS,)

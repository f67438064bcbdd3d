"""Image probes and decoding with the default face limits: untrusted photo bytes."""

from __future__ import annotations

import numpy as np

from verifykit.face import FaceSettings
from verifykit.face._image import load_image, probe

from ._support import typed

#: Memory one call may hold above the idle process: the 512 MiB goal in docs/face.md.
RSS_MB = 512
MAX_LEN = 64 * 1024
_SETTINGS = FaceSettings()


def TestOneInput(data: bytes) -> None:
    info = typed(lambda: probe(data))
    image = typed(
        lambda: load_image(
            data,
            max_bytes=_SETTINGS.max_bytes,
            max_pixels=_SETTINGS.max_pixels,
            max_decoded_bytes=_SETTINGS.max_decoded_bytes,
            work_min_side=_SETTINGS.work_min_side,
        )
    )
    if image is None:
        return
    # Decoding never goes past what the probe let through.
    assert info is not None and info.decoded_bytes <= _SETTINGS.max_decoded_bytes
    assert image.rgb.dtype == np.uint8 and image.rgb.ndim == 3 and image.rgb.shape[2] == 3
    assert image.original_size == info.upright_size
    full = typed(image.full)
    if full is not None:
        assert (full.rgb.shape[1], full.rgb.shape[0]) == info.upright_size

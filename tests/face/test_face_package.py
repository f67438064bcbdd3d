"""The face package's public surface: explicit, complete, and free of work at import time."""

from __future__ import annotations

import subprocess
import sys
import types

import verifykit.face


def test_every_public_name_is_in_all_and_exists() -> None:
    public = {
        name
        for name, value in vars(verifykit.face).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert public == set(verifykit.face.__all__)


def test_importing_the_package_loads_no_model_and_no_image_library() -> None:
    code = (
        "import sys, verifykit.face; "
        "print(sorted(m for m in ('dlib', 'cv2', 'face_recognition_models') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

"""The package's public surface: small, complete, typed, and runnable."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
from pathlib import Path

import pytest

import verifykit


def test_every_public_name_is_exported_and_exists() -> None:
    # Subpackages appear as attributes once imported; they are reached by their own path.
    public = {
        name
        for name in dir(verifykit)
        if not name.startswith("_") and not isinstance(getattr(verifykit, name), types.ModuleType)
    }
    assert public <= set(verifykit.__all__)
    for name in verifykit.__all__:
        assert hasattr(verifykit, name)


@pytest.mark.parametrize(
    "module", ["verifykit.crypto", "verifykit.store", "verifykit.otp", "verifykit.delivery"]
)
def test_subpackages_declare_what_they_export(module: str) -> None:
    mod = importlib.import_module(module)
    assert mod.__all__
    for name in mod.__all__:
        assert hasattr(mod, name)


def test_every_error_descends_from_one_root_and_has_a_stable_code() -> None:
    errors = [
        getattr(verifykit, n) for n in verifykit.__all__ if n.endswith(("Error", "Input", "Unavailable"))
    ]
    errors += [verifykit.ChallengeNotFound, verifykit.ChallengeClosed, verifykit.RateLimited]
    codes = set()
    for err in errors:
        assert issubclass(err, verifykit.VerifyKitError)
        codes.add(err.code)
    assert len(codes) == len(set(errors))


def test_the_package_is_marked_typed() -> None:
    assert (Path(verifykit.__file__).parent / "py.typed").exists()


def test_python_dash_m_verifykit_runs_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "verifykit", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in out.stdout and "bench" in out.stdout

"""A command that needs an extra which is not installed says in one line what to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from verifykit.bench._face import REFERENCE_HINT, REFERENCE_PACKAGES
from verifykit.cli import install_hint

REPO = Path(__file__).resolve().parents[1]
PHOTO = str(REPO / "src" / "verifykit" / "_data" / "photos" / "grace_hopper.jpg")


def run_without(module: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m verifykit ARGV`` in a fresh interpreter where ``module`` cannot be imported."""
    program = (
        "import runpy, sys\n"
        f"sys.modules[{module!r}] = None  # import raises ModuleNotFoundError, as if not installed\n"
        f"sys.argv = ['verifykit', *{list(argv)!r}]\n"
        "runpy.run_module('verifykit', run_name='__main__')\n"
    )
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("missing", "argv", "extra"),
    [
        ("grpc", ["demo"], "grpc"),
        ("grpc", ["serve"], "grpc"),
        ("grpc", ["bench", "grpc"], "grpc"),
        ("cv2", ["face", "compare", PHOTO, PHOTO], "face"),
    ],
    ids=["demo", "serve", "bench-grpc", "face-compare"],
)
def test_a_missing_extra_is_named_in_one_line_without_a_traceback(
    missing: str, argv: list[str], extra: str
) -> None:
    result = run_without(missing, *argv)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"pip install 'verifykit[{extra}]'" in result.stderr


def test_a_module_that_no_extra_provides_is_not_given_a_hint() -> None:
    assert install_hint("no_such_module") is None
    assert install_hint(None) is None
    assert install_hint("grpc_status.rpc_status") == (
        "this needs the grpc extra (grpc_status.rpc_status is not installed): pip install 'verifykit[grpc]'"
    )


def test_the_face_bench_names_every_reference_package_a_pip_user_needs() -> None:
    # A pip user has no scripts/ folder: the hint itself lists what the checkout installs from there.
    lines = (REPO / "scripts" / "requirements-ref.txt").read_text(encoding="utf-8").splitlines()
    wanted = {line.split("#")[0].strip() for line in lines} - {""}
    assert set(REFERENCE_PACKAGES) == wanted
    assert "requirements-ref.txt" not in REFERENCE_HINT
    for package in REFERENCE_PACKAGES:
        assert f"'{package}'" in REFERENCE_HINT


def test_the_readme_gives_the_face_bench_baseline_the_same_install_line_as_the_hint() -> None:
    # What the face bench says when face_recognition is missing, and what the README tells a reader
    # before they run it, are one command.
    command = REFERENCE_HINT.partition(": ")[2]
    assert command.startswith("pip install 'verifykit[face]' && pip install --no-deps ")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"\n{command}\n" in readme

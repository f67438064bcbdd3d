"""The package's public surface: small, complete, typed, and runnable."""

from __future__ import annotations

import ast
import importlib
import shutil
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest

import verifykit

PACKAGE = Path(verifykit.__file__).resolve().parent
REPO = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved to absolute names."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1]  # a module's package, or for __init__ the package itself
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def within(modules: set[str], package: str) -> set[str]:
    return {m for m in modules if m == package or m.startswith(package + ".")}


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
    "module",
    [
        "verifykit.crypto",
        "verifykit.store",
        "verifykit.otp",
        "verifykit.delivery",
        "verifykit.fallbacks",
        "verifykit.aio",
    ],
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


def test_shipped_code_never_imports_the_testing_helpers() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): within(imported_modules(path), "verifykit.testing")
        for path in PACKAGE.rglob("*.py")
        if path.name != "testing.py" or path.parent != PACKAGE
    }
    assert {path: found for path, found in offenders.items() if found} == {}


def test_the_client_imports_nothing_from_the_server() -> None:
    assert within(imported_modules(PACKAGE / "client.py"), "verifykit.server") == set()


def test_the_import_scan_sees_relative_and_absolute_imports(tmp_path: Path) -> None:
    # The two scans above are only as good as this resolver.
    modules = imported_modules(PACKAGE / "testing.py")
    assert {"verifykit.crypto", "verifykit.delivery._templates", "threading"} <= modules
    assert within(imported_modules(PACKAGE / "server" / "_app.py"), "verifykit.server")


def test_the_wheel_ships_the_sample_photos_protos_and_data(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    junk = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(REPO / "src", source / "src", ignore=junk)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", "dist", "."],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (wheel,) = (source / "dist").glob("verifykit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "verifykit/_data/photos/eileen_collins.jpg",
        "verifykit/_data/photos/grace_hopper.jpg",
        "verifykit/_data/photos/README.md",
        "verifykit/_wire/proto/verifykit/v1/common.proto",
        "verifykit/_wire/_pb/common_pb2.py",
        "verifykit/py.typed",
    }
    assert expected <= names
    assert not any(name.startswith(("verifykit/testing/", "tests/", "benchmarks/")) for name in names)


def test_the_demo_finds_its_sample_photos_as_package_data() -> None:
    from verifykit.cli._demo import sample_photos

    photos = sample_photos()
    assert (photos / "eileen_collins.jpg").read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    assert (photos / "grace_hopper.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert "public domain" in (photos / "README.md").read_text(encoding="utf-8")

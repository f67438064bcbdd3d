"""The package's public surface: small, complete, typed, and runnable."""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import types
import zipfile
from dataclasses import dataclass
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
    assert {"verifykit.crypto", "verifykit.delivery", "threading"} <= modules
    assert within(imported_modules(PACKAGE / "server" / "_app.py"), "verifykit.server")


# -- what pip installs ------------------------------------------------------------------------------

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
EXTRAS: dict[str, list[str]] = PYPROJECT["project"]["optional-dependencies"]
# Imported by code that a pip user never runs, or that no extra can install.
NOT_FOR_ALL = {
    "grpc_tools": "`make proto`, a developer's command (the dev extra)",
    "face_recognition": "the face bench's baseline: it declares the dlib sources; the README gives its line",
}
# Modules whose distribution the installed metadata does not name (a bare extension module).
DISTRIBUTION_OF = {"dlib": "dlib-bin"}


def distribution(requirement: str) -> str:
    """The normalized distribution name of a requirement such as ``redis[hiredis]>=6.2``."""
    name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def extras_in(extra: str) -> set[str]:
    """The extras ``extra`` installs, itself included, following ``verifykit[...]`` references."""
    found = {extra}
    for requirement in EXTRAS[extra]:
        nested = re.fullmatch(r"verifykit\[([a-z0-9_,-]+)\]", requirement)
        if nested:
            for name in nested.group(1).split(","):
                found |= extras_in(name)
    return found


def test_all_installs_every_extra_but_the_developers() -> None:
    assert extras_in("all") == set(EXTRAS) - {"dev"}


def test_every_optional_module_the_package_imports_comes_with_all() -> None:
    core = {distribution(r) for r in PYPROJECT["project"]["dependencies"]}
    with_all = core | {distribution(r) for extra in extras_in("all") for r in EXTRAS[extra]}
    known = importlib.metadata.packages_distributions()
    imported = {
        module.partition(".")[0]
        for path in PACKAGE.rglob("*.py")
        for module in imported_modules(path)
        if not module.startswith("verifykit")
    }
    third_party = imported - set(sys.stdlib_module_names) - {"__future__"} - set(NOT_FOR_ALL)
    assert {"redis", "cv2", "dlib", "grpc", "aiosmtpd", "matplotlib"} <= third_party  # the scan sees them
    missing = {}
    for module in sorted(third_party):
        names = {distribution(d) for d in known.get(module, [])} | {DISTRIBUTION_OF.get(module, "")}
        if not names & with_all:
            missing[module] = sorted(names - {""})
    assert missing == {}


# -- what the build makes -------------------------------------------------------------------------

BUILD = (
    "import sys\nfrom setuptools import build_meta\nprint(getattr(build_meta, sys.argv[1])(sys.argv[2]))\n"
)


def build(kind: str, source: Path, out: Path) -> Path:
    """``build_sdist`` or ``build_wheel`` of setuptools' PEP 517 backend, offline, in ``source``."""
    done = subprocess.run(
        [sys.executable, "-c", BUILD, kind, str(out)], cwd=source, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out / done.stdout.strip().splitlines()[-1]


@dataclass(frozen=True)
class Built:
    sdist: list[str]
    sdist_metadata: str
    wheel: list[str]
    wheel_metadata: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """An sdist of a copy of this checkout (tests and all), and a wheel built from that sdist alone."""
    work = tmp_path_factory.mktemp("build")
    junk = shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "__pycache__", "*.egg-info", "*.pyc", ".*_cache", ".hypothesis",
        "build", "dist", "bench-results", ".fuzz",
    )  # fmt: skip
    shutil.copytree(REPO, work / "checkout", ignore=junk)
    sdist = build("build_sdist", work / "checkout", work / "sdist")
    with tarfile.open(sdist) as archive:
        sdist_names = [name.partition("/")[2] for name in archive.getnames()]
        archive.extractall(work / "unpacked", filter="data")
    (root,) = (work / "unpacked").iterdir()
    wheel = build("build_wheel", root, work / "wheel")
    with zipfile.ZipFile(wheel) as archive:
        wheel_names = archive.namelist()
        (metadata,) = (n for n in wheel_names if n.endswith(".dist-info/METADATA"))
        wheel_metadata = archive.read(metadata).decode()
    return Built(sdist_names, (root / "PKG-INFO").read_text(encoding="utf-8"), wheel_names, wheel_metadata)


def test_the_wheel_ships_the_sample_photos_protos_and_data(built: Built) -> None:
    expected = {
        "verifykit/_data/photos/eileen_collins.jpg",
        "verifykit/_data/photos/grace_hopper.jpg",
        "verifykit/_data/photos/README.md",
        "verifykit/_wire/proto/verifykit/v1/common.proto",
        "verifykit/_wire/_pb/common_pb2.py",
        "verifykit/py.typed",
    }
    assert expected <= set(built.wheel)
    assert not any(name.startswith(("verifykit/testing/", "tests/", "benchmarks/")) for name in built.wheel)


def test_the_licence_file_matches_the_declared_licence_and_ships_in_both() -> None:
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_bytes()
    # The Apache Software Foundation's LICENSE-2.0.txt, unchanged.
    assert (
        hashlib.sha256(text).hexdigest() == "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
    )


def test_the_licence_is_declared_and_carried_by_the_sdist_and_the_wheel(built: Built) -> None:
    for metadata in (built.sdist_metadata, built.wheel_metadata):
        assert "License-Expression: Apache-2.0" in metadata
        assert "License-File: LICENSE" in metadata
    assert "LICENSE" in built.sdist
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in built.wheel)


def test_the_sdist_carries_the_package_and_no_test_suite(built: Built) -> None:
    # Its tests need the whole checkout (Redis servers, fuzz harnesses, shared data): none rather
    # than a part that cannot run.
    assert {"pyproject.toml", "README.md", "LICENSE", "src/verifykit/__init__.py"} <= set(built.sdist)
    assert "src/verifykit/_data/photos/eileen_collins.jpg" in built.sdist
    assert [n for n in built.sdist if n.startswith(("tests/", "fuzz/", "benchmarks/", "examples/"))] == []
    assert [n for n in built.sdist if "__pycache__" in n] == []


def test_the_project_links_to_its_source_docs_and_issues(built: Built) -> None:
    urls = PYPROJECT["project"]["urls"]
    assert {"Homepage", "Documentation", "Source", "Issues", "Changelog"} <= set(urls)
    for label, url in urls.items():
        assert url.startswith("https://"), label
        assert f"Project-URL: {label}, {url}" in built.wheel_metadata


def test_the_demo_finds_its_sample_photos_as_package_data() -> None:
    from verifykit.cli._demo import sample_photos

    photos = sample_photos()
    assert (photos / "eileen_collins.jpg").read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    assert (photos / "grace_hopper.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert "public domain" in (photos / "README.md").read_text(encoding="utf-8")

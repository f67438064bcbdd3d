"""The layers of docs/design: data flows one way, and packages meet only at their public faces.

The source is read with :mod:`ast`, not imported, so every import counts: top-level ones, those
inside functions, and those under ``if TYPE_CHECKING:``.

Two rules:

1. **No upward import.** The library packages (the services ``store``, ``crypto``, ``delivery``,
   ``auditlog`` and the verifiers ``otp``, ``password``, ``face``, ``fallbacks``, ``vouchers``,
   ``ladder``) never import the shells and edges built on them: ``verifykit.aio``,
   ``verifykit.server``, ``verifykit.cli``, ``verifykit.bench``, ``verifykit.client`` or
   ``verifykit.testing``. Nor do the root package's private modules (``verifykit._flow``,
   ``verifykit._errors``, …), which all of them share.

2. **No reaching into another package's privates.** A *package* is a directory directly under
   ``src/verifykit`` (``verifykit.store``, ``verifykit._wire``, …); the modules directly under
   ``src/verifykit`` form the root package. A module may import any name that a package's
   ``__init__`` or one of its public (non-underscore) modules offers, but a private name
   (a module or name starting with ``_``) below a package only from inside that same package.
   The root package's own private modules (``verifykit._errors``, ``verifykit._flow``, …) and
   the ``verifykit._wire`` package itself are the shared core: anyone may import them, though
   ``verifykit._wire._status`` and the like stay ``_wire``'s own.

Tests may import anything; only the shipped source is held to these rules.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import verifykit

PACKAGE = Path(verifykit.__file__).resolve().parent

LIBRARY = {
    "store", "crypto", "delivery", "auditlog",
    "otp", "password", "face", "fallbacks", "passkey", "vouchers", "ladder",
}  # fmt: skip
EDGES = {"aio", "server", "cli", "bench", "client", "testing", "__main__"}

# Private imports that wait for the package that owns the name to export it; each entry must
# still be needed (the test below fails on a stale one), so this list only ever shrinks.
AWAITING: dict[tuple[str, str], str] = {}


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # the importing module, e.g. "verifykit.otp._core"
    target: str  # what it imports, resolved: "verifykit.store._rules.resend_refusal"
    line: int

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[Import]:
    """Every import in ``path``: for ``from M import a, b``, both ``M.a`` and ``M.b`` (one of them
    may be a module, and ``from verifykit.store import _rules`` must count as ``store._rules``)."""
    name = module_name(path)
    rel = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = rel[:-1]  # a module's package; for an __init__, the package itself
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(name, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            target = ".".join(p for p in (base, node.module or "") if p)
            found += [Import(name, f"{target}.{alias.name}", node.lineno) for alias in node.names]
    return [i for i in found if i.target == "verifykit" or i.target.startswith("verifykit.")]


def owner(module: str) -> str:
    """The package a module belongs to: ``store`` for ``verifykit.store._redis``, ``""`` for the
    root package (``verifykit``, ``verifykit._flow``, ``verifykit.client``)."""
    parts = module.split(".")
    if len(parts) >= 2 and (PACKAGE / parts[1]).is_dir():
        return parts[1]
    return ""


def all_imports() -> list[Import]:
    return [i for path in sorted(PACKAGE.rglob("*.py")) for i in imports_of(path)]


def upward(i: Import) -> bool:
    source = i.module.split(".")
    core = len(source) == 2 and source[1].startswith("_") and not source[1].startswith("__")
    lower = owner(i.module) in LIBRARY or (core and not owner(i.module))
    target = i.target.split(".")
    return lower and len(target) >= 2 and target[1] in EDGES


def reaches_in(i: Import) -> bool:
    """True when ``i`` names a private module or name below another package."""
    theirs = owner(i.target)
    if not theirs or theirs == owner(i.module):
        return False
    below = i.target.split(".")[2:]  # under verifykit.<package>
    return any(part.startswith("_") and not part.startswith("__") for part in below)


def test_no_library_package_imports_a_shell_or_an_edge() -> None:
    assert [str(i) for i in all_imports() if upward(i)] == []


def test_no_package_imports_another_packages_private_modules() -> None:
    offending = [i for i in all_imports() if reaches_in(i)]
    awaiting = {(i.module, i.target) for i in offending} & set(AWAITING)
    assert [str(i) for i in offending if (i.module, i.target) not in awaiting] == []
    assert sorted(set(AWAITING) - awaiting) == [], "no longer needed: drop from AWAITING"


def test_the_scan_sees_what_it_must() -> None:
    # The rules are only as good as the resolver: relative, absolute, nested and TYPE_CHECKING imports.
    bad = Import("verifykit.otp._core", "verifykit.store._rules.resend_refusal", 1)
    assert reaches_in(bad)
    assert not reaches_in(Import("verifykit.otp._core", "verifykit.store.resend_refusal", 1))
    assert not reaches_in(Import("verifykit.otp._core", "verifykit.otp._codes.x", 1))
    assert not reaches_in(Import("verifykit.otp._core", "verifykit._errors.InvalidInput", 1))
    assert reaches_in(Import("verifykit.bench._soak", "verifykit._wire._status.status_for", 1))
    assert reaches_in(Import("verifykit.testing", "verifykit.delivery._templates.code_in", 1))
    assert reaches_in(Import("verifykit.bench._store", "verifykit.store._redis", 1))
    assert upward(Import("verifykit.otp._aio", "verifykit.aio.AsyncChallengeStore", 1))
    assert upward(Import("verifykit._flow", "verifykit.server.Sidecar", 1))
    assert not upward(Import("verifykit.server._app", "verifykit.aio.EmailOTP", 1))
    seen = {(i.module, i.target) for i in imports_of(PACKAGE / "server" / "_config.py")}
    assert ("verifykit.server._config", "verifykit._errors.ConfigurationError") in seen  # relative
    typed = {i.target for i in imports_of(PACKAGE / "otp" / "_aio.py")}
    assert "verifykit.store.AsyncChallengeStore" in typed  # under if TYPE_CHECKING:


@pytest.mark.parametrize("package", sorted(LIBRARY))
def test_each_library_package_is_a_directory(package: str) -> None:
    assert (PACKAGE / package / "__init__.py").is_file()

"""verifykit.password's public surface: small and complete."""

from __future__ import annotations

import types

import verifykit.password as password


def test_every_public_name_is_exported_and_exists() -> None:
    public = {
        name
        for name, value in vars(password).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(password.__all__)
    for name in password.__all__:
        assert hasattr(password, name)


def test_the_names_other_packages_rely_on_are_there() -> None:
    for name in (
        "PasswordVerifier",
        "PasswordPolicy",
        "PolicyResult",
        "PolicyViolation",
        "PRESETS",
        "calibrate",
    ):
        assert name in password.__all__

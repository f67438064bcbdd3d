"""Named argon2id presets and parameter validation."""

from __future__ import annotations

import pytest

from verifykit import ConfigurationError
from verifykit.password import (
    CHEAP_TESTS_ONLY,
    DEFAULT_PRESET,
    OWASP_MINIMUM,
    PRESETS,
    RFC_9106_LOW_MEMORY,
    HashParameters,
    PasswordSettings,
    resolve_parameters,
)


def test_the_default_preset_is_rfc_9106_low_memory() -> None:
    assert DEFAULT_PRESET == "rfc9106_low_memory"
    assert PRESETS[DEFAULT_PRESET] is RFC_9106_LOW_MEMORY
    assert (
        RFC_9106_LOW_MEMORY.time_cost,
        RFC_9106_LOW_MEMORY.memory_cost,
        RFC_9106_LOW_MEMORY.parallelism,
    ) == (
        3,
        64 * 1024,
        4,
    )
    assert RFC_9106_LOW_MEMORY.memory_bytes == 64 << 20


def test_the_owasp_minimum_is_t2_19mib_p1() -> None:
    assert (OWASP_MINIMUM.time_cost, OWASP_MINIMUM.memory_cost, OWASP_MINIMUM.parallelism) == (
        2,
        19 * 1024,
        1,
    )


def test_the_cheap_preset_says_it_is_for_tests_only() -> None:
    assert PRESETS["cheap_tests_only"] is CHEAP_TESTS_ONLY
    assert CHEAP_TESTS_ONLY.weaker_than(OWASP_MINIMUM)


def test_the_settings_use_the_default_preset_unless_told_otherwise() -> None:
    assert PasswordSettings().parameters == RFC_9106_LOW_MEMORY
    assert PasswordSettings(preset="owasp_minimum").parameters == OWASP_MINIMUM
    custom = HashParameters(time_cost=4, memory_cost=8192, parallelism=2)
    assert PasswordSettings(preset=custom).parameters is custom


def test_an_unknown_preset_name_is_a_configuration_error_naming_the_choices() -> None:
    with pytest.raises(ConfigurationError, match="rfc9106_low_memory"):
        resolve_parameters("fast")
    with pytest.raises(ConfigurationError, match="rfc9106_low_memory"):
        PasswordSettings(preset="fast")


@pytest.mark.parametrize(
    "bad",
    [{"memory_budget": 0}, {"memory_budget": True}, {"busy_timeout": -1}, {"busy_timeout": float("nan")}],
)
def test_settings_a_verifier_could_not_run_with_are_refused_at_construction(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        PasswordSettings(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"time_cost": 0, "memory_cost": 1024, "parallelism": 1},
        {"time_cost": 1, "memory_cost": 16, "parallelism": 4},
        {"time_cost": 1, "memory_cost": 1024, "parallelism": 0},
        {"time_cost": 1, "memory_cost": 1024, "parallelism": 1, "hash_len": 8},
        {"time_cost": 1, "memory_cost": 1024, "parallelism": 1, "salt_len": 4},
        {"time_cost": True, "memory_cost": 1024, "parallelism": 1},
    ],
)
def test_parameters_libargon2_would_refuse_are_refused_up_front(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        HashParameters(**kwargs)


def test_lower_time_memory_or_output_is_weaker_but_parallelism_alone_is_not() -> None:
    base = HashParameters(time_cost=3, memory_cost=65536, parallelism=4)
    assert HashParameters(2, 65536, 4).weaker_than(base)
    assert HashParameters(3, 32768, 4).weaker_than(base)
    assert HashParameters(3, 65536, 4, hash_len=16).weaker_than(base)
    assert not HashParameters(3, 65536, 1).weaker_than(base)
    assert not HashParameters(4, 131072, 4).weaker_than(base)

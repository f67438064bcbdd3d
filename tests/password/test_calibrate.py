"""Calibration proposes the most memory within the cap, then the most passes within the time."""

from __future__ import annotations

import os

import pytest

from verifykit import ConfigurationError
from verifykit.password import HashParameters, calibrate

MIB = 1 << 20


def one_ms_per_mib_per_pass(p: HashParameters) -> float:
    """A model machine: one millisecond per MiB per pass."""
    return p.time_cost * p.memory_cost / 1024


def test_it_uses_the_whole_memory_cap_and_adds_passes_up_to_the_target() -> None:
    params = calibrate(1000, 64 * MIB, parallelism=4, timer=one_ms_per_mib_per_pass)
    assert (params.time_cost, params.memory_cost, params.parallelism) == (15, 64 * 1024, 4)


def test_it_shrinks_the_memory_when_one_pass_at_the_cap_is_too_slow() -> None:
    params = calibrate(250, 256 * MIB, parallelism=4, timer=one_ms_per_mib_per_pass)
    # 256 MiB takes 256 ms: scaled to the target with a 5 % margin, in whole MiB.
    assert (params.time_cost, params.memory_cost) == (1, 237 * 1024)


def test_when_even_the_least_memory_is_too_slow_it_returns_the_least() -> None:
    params = calibrate(0.001, 64 * MIB, parallelism=1, timer=one_ms_per_mib_per_pass)
    assert (params.time_cost, params.memory_cost) == (1, 8)


def test_a_target_met_exactly_is_accepted() -> None:
    params = calibrate(128, 64 * MIB, parallelism=1, timer=one_ms_per_mib_per_pass)
    assert (params.time_cost, params.memory_cost) == (2, 64 * 1024)


def test_parallelism_defaults_to_the_cores_up_to_four() -> None:
    params = calibrate(100, 8 * MIB, timer=one_ms_per_mib_per_pass)
    assert params.parallelism == min(4, os.cpu_count() or 1)


def test_on_this_machine_it_never_exceeds_the_memory_cap() -> None:
    params = calibrate(5, MIB, parallelism=1)
    assert params.memory_bytes <= MIB and params.time_cost >= 1


@pytest.mark.parametrize(("target", "memory"), [(0, 64 * MIB), (-5, 64 * MIB), (100, 1024)])
def test_impossible_requests_are_configuration_errors(target: float, memory: int) -> None:
    with pytest.raises(ConfigurationError):
        calibrate(target, memory, parallelism=4, timer=one_ms_per_mib_per_pass)

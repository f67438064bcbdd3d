"""Calibration: measure this machine and propose argon2id parameters for a time target.

The same approach as the reference ``argon2`` tool's benchmark and libsodium's guidance:
spend as much memory as the cap allows (memory is what makes guessing on GPUs expensive), then
add passes until the target time is reached. If even one pass at the cap is too slow, shrink the
memory in proportion until one pass fits.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

from argon2 import Type
from argon2.low_level import hash_secret_raw

from .._errors import ConfigurationError
from ._profiles import KIB, HashParameters

__all__ = ["calibrate", "measure_ms"]

_MAX_TIME_COST = 100

Timer = Callable[[HashParameters], float]


def measure_ms(parameters: HashParameters, *, repeat: int = 3) -> float:
    """Median wall time of one argon2id hash with ``parameters`` on this machine, in ms."""
    samples = []
    for _ in range(max(repeat, 1)):
        salt = os.urandom(parameters.salt_len)
        t0 = time.perf_counter()
        hash_secret_raw(
            b"calibration password",
            salt,
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_cost,
            parallelism=parameters.parallelism,
            hash_len=parameters.hash_len,
            type=Type.ID,
        )
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def calibrate(
    target_ms: float,
    max_memory: int,
    *,
    parallelism: int | None = None,
    hash_len: int = 32,
    salt_len: int = 16,
    timer: Timer | None = None,
) -> HashParameters:
    """The argon2id parameters that use the most memory up to ``max_memory`` bytes, then the
    most passes, while one hash still takes at most ``target_ms`` on this machine.

    ``parallelism`` defaults to the number of cores, up to 4 (RFC 9106's choice). ``timer``
    measures one parameter set in ms (default: :func:`measure_ms`); pass your own to model
    another machine.
    """
    if not target_ms > 0:
        raise ConfigurationError("target_ms must be a positive number of milliseconds")
    lanes = parallelism if parallelism is not None else min(4, os.cpu_count() or 1)
    measure = timer if timer is not None else measure_ms
    memory = max_memory // KIB if isinstance(max_memory, int) and not isinstance(max_memory, bool) else 0
    if memory < 8 * lanes:
        raise ConfigurationError(f"max_memory must be at least {8 * lanes} KiB for {lanes} lanes")

    def params(t: int, m: int) -> HashParameters:
        return HashParameters(t, m, lanes, hash_len=hash_len, salt_len=salt_len)

    # One pass at the memory cap; while even that is too slow, shrink the memory in proportion
    # (time is close to linear in memory), with a 5 % margin, to whole MiB where possible.
    one_pass = measure(params(1, memory))
    while one_pass > target_ms and memory > 8 * lanes:
        scaled = min(int(memory * target_ms / one_pass * 0.95), memory - 1)
        memory = max(8 * lanes, scaled // KIB * KIB if scaled >= KIB else scaled)
        one_pass = measure(params(1, memory))
    if one_pass > target_ms:
        return params(1, memory)
    # Time grows about linearly with passes: start at the estimate, then settle on the largest
    # pass count that still meets the target.
    passes = max(1, min(_MAX_TIME_COST, int(target_ms // max(one_pass, 1e-3))))
    while passes > 1 and measure(params(passes, memory)) > target_ms:
        passes -= 1
    while passes < _MAX_TIME_COST and measure(params(passes + 1, memory)) <= target_ms:
        passes += 1
    return params(passes, memory)

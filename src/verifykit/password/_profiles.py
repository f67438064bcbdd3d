"""argon2id parameters and the named presets new hashes use.

Presets live here, not as numbers scattered around: the default follows RFC 9106's
low-memory recommendation, the floor is OWASP's minimum, and the cheap one exists only so
that test suites run fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from .._errors import ConfigurationError

__all__ = [
    "CHEAP_TESTS_ONLY",
    "DEFAULT_PRESET",
    "OWASP_MINIMUM",
    "PRESETS",
    "RFC_9106_LOW_MEMORY",
    "HashParameters",
    "resolve_parameters",
]

KIB = 1024
MIB = 1024 * KIB

# libargon2's own limits; anything outside them cannot be hashed at all.
_MIN_SALT_LEN = 8
_MIN_HASH_LEN = 16
_MAX_PARALLELISM = 255


@dataclass(frozen=True, slots=True)
class HashParameters:
    """argon2id cost parameters. ``memory_cost`` is in KiB, as in PHC strings.

    Validated once, here, so every hash this library makes is one the reference
    implementation accepts.
    """

    time_cost: int
    memory_cost: int
    parallelism: int
    hash_len: int = 32
    salt_len: int = 16

    def __post_init__(self) -> None:
        for name in ("time_cost", "memory_cost", "parallelism", "hash_len", "salt_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigurationError(f"argon2 {name} must be an integer")
        if self.time_cost < 1:
            raise ConfigurationError("argon2 time_cost must be at least 1")
        if not 1 <= self.parallelism <= _MAX_PARALLELISM:
            raise ConfigurationError(f"argon2 parallelism must be between 1 and {_MAX_PARALLELISM}")
        if self.memory_cost < 8 * self.parallelism:
            raise ConfigurationError("argon2 memory_cost must be at least 8 KiB per lane (8 * parallelism)")
        if self.hash_len < _MIN_HASH_LEN:
            raise ConfigurationError(f"argon2 hash_len must be at least {_MIN_HASH_LEN} bytes")
        if self.salt_len < _MIN_SALT_LEN:
            raise ConfigurationError(f"argon2 salt_len must be at least {_MIN_SALT_LEN} bytes")

    @property
    def memory_bytes(self) -> int:
        """What one hash or verify with these parameters allocates."""
        return self.memory_cost * KIB

    def weaker_than(self, other: HashParameters) -> bool:
        """True when a hash made with ``self`` should be replaced by one made with ``other``.

        Only a lower cost or shorter output counts: a hash made with *stronger* parameters
        than the current preset is kept (an operator who lowers the cost does not silently
        weaken every stored hash). Parallelism changes the shape of the work, not its
        strength, so it never forces a rehash on its own.
        """
        return (
            self.time_cost < other.time_cost
            or self.memory_cost < other.memory_cost
            or self.hash_len < other.hash_len
            or self.salt_len < other.salt_len
        )

    def describe(self) -> str:
        return (
            f"argon2id t={self.time_cost} m={self.memory_cost} KiB ({self.memory_cost / KIB:g} MiB) "
            f"p={self.parallelism}"
        )


#: RFC 9106 section 4, second recommended option: t=3, 64 MiB, p=4. The default.
RFC_9106_LOW_MEMORY = HashParameters(time_cost=3, memory_cost=64 * KIB, parallelism=4)
#: OWASP Password Storage Cheat Sheet minimum for argon2id: t=2, 19 MiB, p=1.
OWASP_MINIMUM = HashParameters(time_cost=2, memory_cost=19 * KIB, parallelism=1)
#: TESTS ONLY: as cheap as argon2id gets. Never use it for real passwords.
CHEAP_TESTS_ONLY = HashParameters(time_cost=1, memory_cost=64, parallelism=1, hash_len=16, salt_len=8)

DEFAULT_PRESET = "rfc9106_low_memory"

PRESETS = MappingProxyType(
    {
        "rfc9106_low_memory": RFC_9106_LOW_MEMORY,
        "owasp_minimum": OWASP_MINIMUM,
        "cheap_tests_only": CHEAP_TESTS_ONLY,
    }
)


def resolve_parameters(preset: str | HashParameters) -> HashParameters:
    """A preset by name, or parameters passed as they are."""
    if isinstance(preset, HashParameters):
        return preset
    if isinstance(preset, str):
        try:
            return PRESETS[preset]
        except KeyError:
            raise ConfigurationError(
                f"unknown password preset {preset!r}; choose one of {sorted(PRESETS)}"
            ) from None
    raise ConfigurationError("preset must be a preset name or HashParameters")

"""argon2id hashing and verification, with an optional pepper and legacy formats.

No policy, throttling or memory admission here: :class:`PasswordHasher` is the building block
that :class:`~verifykit.password.PasswordVerifier` and the command line share, so they can
never disagree about what a hash means.

A peppered hash is a standard argon2id PHC string with the pepper key's id written in front of
it: ``$vkpepper$k=KID$argon2id$v=19$...``. The password is first turned into an HMAC-SHA256
under that keyring key, so a stolen table of hashes is useless without the server's keys, and
old hashes keep verifying after a new key is rotated in (the verdict then carries a rehash).

Every verify spends the same work, so its time says nothing about what is stored or whether
anything is: the same number of checks for every stored form (one per form of the password,
see :meth:`PasswordHasher.candidates`), each form prepared the same way whatever is stored (one
pepper HMAC per form whenever the hasher holds a keyring, used or not: see
:meth:`PasswordHasher.prepare`), and after each check of a form cheaper than the current preset,
a top-up run that brings it to one preset run (:mod:`verifykit.password._padding`).
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from argon2 import Type
from argon2.exceptions import VerificationError, VerifyMismatchError
from argon2.low_level import hash_secret, hash_secret_raw, verify_secret

from .._errors import ConfigurationError, InvalidInput, KeyringError
from ..crypto import Keyring
from ._legacy import (
    BCRYPT,
    PBKDF2,
    bcrypt_rounds,
    pbkdf2_iterations,
    require_bcrypt,
    verify_bcrypt,
    verify_pbkdf2_sha256,
)
from ._padding import CostModel, Shape, WorkMeter, argon2_shape, bcrypt_shape, pbkdf2_shape
from ._policy import normalize_password
from ._profiles import KIB, RFC_9106_LOW_MEMORY, HashParameters

__all__ = ["MAX_STORED_MEMORY", "PasswordHasher", "Scheme", "StoredHash", "parse_hash"]

ARGON2_VERSION = 0x13
#: A stored argon2 hash asking for more memory than this (4 GiB) is refused rather than run.
MAX_STORED_MEMORY = 4 << 30
#: ... or for more passes than this.
MAX_STORED_TIME_COST = 100
_MAX_STORED_HASH = 1024
_PEPPER_PURPOSE = "password-pepper"
_PEPPER_PREFIX = "$vkpepper$k="
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_ARGON2 = re.compile(
    r"^\$(argon2id|argon2i|argon2d)\$(?:v=(16|19)\$)?m=([0-9]{1,10}),t=([0-9]{1,10}),p=([0-9]{1,3})"
    r"\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{6,})$"
)
_ARGON2_TYPES = {"argon2id": Type.ID, "argon2i": Type.I, "argon2d": Type.D}
# bcrypt uses 4 KiB of state, PBKDF2 next to nothing: admission counts them at one page.
_SMALL_COST = 4 * KIB
# A top-up smaller than argon2's minimum memory (8 KiB a lane) is skipped.
_MIN_KIB_PER_LANE = 8
_PAD_SECRET_LEN = 16


class Scheme(StrEnum):
    """Hash formats :meth:`PasswordHasher.verify` understands; only argon2id is ever produced."""

    ARGON2ID = "argon2id"
    ARGON2I = "argon2i"
    ARGON2D = "argon2d"
    BCRYPT = "bcrypt"
    PBKDF2_SHA256 = "pbkdf2_sha256"


@dataclass(frozen=True, slots=True)
class StoredHash:
    """A parsed stored hash. ``encoded`` is the hash without any pepper prefix."""

    scheme: Scheme
    encoded: str
    pepper_kid: str | None = None
    parameters: HashParameters | None = None
    version: int | None = None

    @property
    def memory_bytes(self) -> int:
        """What checking this hash allocates (a top-up may need more: see ``work_memory``)."""
        return self.parameters.memory_bytes if self.parameters is not None else _SMALL_COST

    @property
    def shape(self) -> Shape:
        """What checking this hash costs, for comparison with the current preset."""
        if self.parameters is not None:
            p = self.parameters
            return argon2_shape(
                self.scheme.value, self.version or 0x10, p.time_cost, p.memory_cost, p.parallelism
            )
        if self.scheme is Scheme.BCRYPT:
            return bcrypt_shape(bcrypt_rounds(self.encoded))
        return pbkdf2_shape(pbkdf2_iterations(self.encoded))


def _b64_len(text: str) -> int:
    return len(text) * 3 // 4


def _parse_argon2(encoded: str, pepper_kid: str | None) -> StoredHash:
    m = _ARGON2.match(encoded)
    if m is None:
        raise InvalidInput("stored argon2 hash is malformed", field="stored_hash")
    kind, version, memory, time_cost, lanes, salt, digest = m.groups()
    try:
        parameters = HashParameters(
            time_cost=int(time_cost),
            memory_cost=int(memory),
            parallelism=int(lanes),
            hash_len=_b64_len(digest),
            salt_len=_b64_len(salt),
        )
    except ConfigurationError as exc:
        raise InvalidInput(f"stored argon2 hash is unusable: {exc.message}", field="stored_hash") from None
    if parameters.memory_bytes > MAX_STORED_MEMORY or parameters.time_cost > MAX_STORED_TIME_COST:
        raise InvalidInput(
            f"stored argon2 hash asks for more than {MAX_STORED_MEMORY >> 30} GiB "
            f"or {MAX_STORED_TIME_COST} passes",
            field="stored_hash",
        )
    return StoredHash(Scheme(kind), encoded, pepper_kid, parameters, int(version) if version else 0x10)


def parse_hash(stored: object) -> StoredHash:
    """Recognise a stored hash, or raise :class:`~verifykit.InvalidInput` (the hash is never echoed)."""
    if not isinstance(stored, str):
        raise InvalidInput("stored hash must be a string", field="stored_hash")
    if len(stored) > _MAX_STORED_HASH:
        raise InvalidInput("stored hash is too long to be a password hash", field="stored_hash")
    try:
        # A lone surrogate (from a surrogate-escaped byte string) has no UTF-8 form, which the
        # legacy verifiers hash with; no system writes one.
        stored.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("stored hash is not valid Unicode text", field="stored_hash") from None
    pepper_kid: str | None = None
    encoded = stored
    if stored.startswith(_PEPPER_PREFIX):
        kid, sep, rest = stored[len(_PEPPER_PREFIX) :].partition("$")
        if not sep or not _KID.match(kid) or not rest.startswith("argon2id$"):
            raise InvalidInput("stored peppered hash is malformed", field="stored_hash")
        pepper_kid, encoded = kid, "$" + rest
    if encoded.startswith("$argon2"):
        parsed = _parse_argon2(encoded, pepper_kid)
        return parsed
    if BCRYPT.match(encoded):
        return StoredHash(Scheme.BCRYPT, encoded)
    if PBKDF2.match(encoded):
        pbkdf2_iterations(encoded)
        return StoredHash(Scheme.PBKDF2_SHA256, encoded)
    raise InvalidInput(
        "stored hash is not argon2, bcrypt or Django PBKDF2-SHA256 in a recognised format",
        field="stored_hash",
    )


class PasswordHasher:
    """Make argon2id hashes with ``parameters``; verify those and legacy formats.

    Passwords are NFKC-normalized before hashing. When verifying, the password as typed is
    tried too if it differs (a hash may come from a system that did not normalize), and a match
    that way asks for a rehash of the normalized form.

    Verifying spends the same work whatever is stored: see the module docstring. ``costs``
    says how a stored form's check compares with a preset run (default: a :class:`WorkMeter`
    that measures the checks this hasher makes).
    """

    def __init__(
        self,
        parameters: HashParameters = RFC_9106_LOW_MEMORY,
        *,
        keyring: Keyring | None = None,
        pepper: bool = False,
        costs: CostModel | None = None,
    ) -> None:
        if not isinstance(parameters, HashParameters):
            raise ConfigurationError("parameters must be HashParameters")
        if pepper and keyring is None:
            raise ConfigurationError("a pepper needs a keyring")
        self.parameters = parameters
        self.keyring = keyring
        self.pepper = pepper
        self.costs: CostModel = costs if costs is not None else WorkMeter()
        self._preset_shape = argon2_shape(
            Scheme.ARGON2ID.value,
            ARGON2_VERSION,
            parameters.time_cost,
            parameters.memory_cost,
            parameters.parallelism,
        )
        self._dummy: StoredHash | None = None
        self._lock = threading.Lock()

    @property
    def pepper_kid(self) -> str | None:
        """The key id new hashes are peppered with (None without a pepper)."""
        return self.keyring.current_id if self.pepper and self.keyring is not None else None

    def _pepper_key(self, kid: str) -> Keyring:
        if self.keyring is None or kid not in self.keyring.key_ids:
            raise KeyringError(f"the stored hash is peppered with key {kid!r}, which is not in the keyring")
        return self.keyring

    def _secret(self, normalized: str, kid: str | None) -> bytes:
        data = normalized.encode("utf-8")
        if kid is None:
            return data
        return self._pepper_key(kid).digest(_PEPPER_PURPOSE, data, kid).partition(":")[2].encode("ascii")

    def hash(self, password: str) -> str:
        """An argon2id PHC string for ``password`` (normalized; no policy check here)."""
        return self.hash_normalized(normalize_password(password))

    def hash_normalized(self, normalized: str) -> str:
        p = self.parameters
        kid = self.pepper_kid
        start = time.perf_counter()
        encoded = hash_secret(
            self._secret(normalized, kid),
            os.urandom(p.salt_len),
            time_cost=p.time_cost,
            memory_cost=p.memory_cost,
            parallelism=p.parallelism,
            hash_len=p.hash_len,
            type=Type.ID,
            version=ARGON2_VERSION,
        ).decode("ascii")
        self.costs.record(self._preset_shape, time.perf_counter() - start, self._preset_shape)
        return f"{_PEPPER_PREFIX}{kid}{encoded}" if kid is not None else encoded

    def check_usable(self, stored: StoredHash) -> None:
        """Raise before any work (and before any failure is charged) if this hash cannot be
        verified here: :class:`~verifykit.KeyringError` when its pepper key is missing,
        :class:`~verifykit.ConfigurationError` when bcrypt is not installed."""
        if stored.pepper_kid is not None:
            # The key is looked up, not used: an HMAC here would be work only a peppered hash does.
            self._pepper_key(stored.pepper_kid)
        if stored.scheme is Scheme.BCRYPT:
            require_bcrypt()

    def candidates(self, password: str) -> list[str]:
        """The forms of ``password`` to try: normalized, then as typed when that differs.

        The count depends on the password alone, never on the stored hash: a peppered hash
        (always made from the normalized form) and the dummy are tried as typed too, so that
        they cost what a hash from a system that did not normalize costs.
        """
        normalized = normalize_password(password)
        return [normalized, password] if normalized != password else [normalized]

    def prepare(self, stored: StoredHash, candidates: list[str]) -> list[bytes]:
        """What an argon2 check of ``stored`` hashes for each candidate: the UTF-8 text, or its
        pepper HMAC under the key ``stored`` names.

        The preparation is the same work whatever is stored: with a keyring, each candidate gets
        exactly one pepper HMAC, under the stored hash's key if it is peppered and else under
        the current key (computed and not used: a hash from before the pepper, a legacy form and
        the dummy of a hasher without a pepper cost what a peppered hash costs). It runs before
        the timed checks, so the cost meter compares hash functions alone.
        """
        out: list[bytes] = []
        work_kid = stored.pepper_kid or (self.keyring.current_id if self.keyring is not None else None)
        for candidate in candidates:
            peppered = self._secret(candidate, work_kid) if work_kid is not None else b""
            out.append(peppered if stored.pepper_kid is not None else candidate.encode("utf-8"))
        return out

    def verify(self, stored: StoredHash | str, password: str) -> int | None:
        """The index in :meth:`candidates` of the form that matched, or None on a mismatch."""
        parsed = stored if isinstance(stored, StoredHash) else parse_hash(stored)
        shape = parsed.shape
        candidates = self.candidates(password)
        prepared = self.prepare(parsed, candidates)
        # Every candidate is always tried, so a match's position does not show in the timing.
        found: int | None = None
        for i, (candidate, secret) in enumerate(zip(candidates, prepared, strict=True)):
            start = time.perf_counter()
            matched = self._verify_one(parsed, candidate, secret)
            self.costs.record(shape, time.perf_counter() - start, self._preset_shape)
            self._top_up(shape)
            if matched and found is None:
                found = i
        return found

    def top_up_kib(self, shape: Shape) -> int:
        """The memory (KiB) of the argon2id run, with the preset's passes and lanes, that brings
        one check of ``shape`` to the cost of one preset run; 0 when it costs as much or more."""
        p = self.parameters
        missing = 1.0 - self.costs.relative_cost(shape, self._preset_shape)
        if missing <= 0:
            return 0
        kib = round(min(self.costs.memory_share(shape, missing), 1.0) * p.memory_cost)
        return kib if kib >= _MIN_KIB_PER_LANE * p.parallelism else 0

    def _top_up(self, shape: Shape) -> None:
        kib = self.top_up_kib(shape)
        if kib == 0:
            return
        p = self.parameters
        start = time.perf_counter()
        hash_secret_raw(
            os.urandom(_PAD_SECRET_LEN),
            os.urandom(p.salt_len),
            time_cost=p.time_cost,
            memory_cost=kib,
            parallelism=p.parallelism,
            hash_len=p.hash_len,
            type=Type.ID,
            version=ARGON2_VERSION,
        )
        elapsed = time.perf_counter() - start
        self.costs.record_top_up(shape, kib / p.memory_cost, elapsed, self._preset_shape)

    def work_memory(self, stored: StoredHash) -> int:
        """The most memory verifying ``stored`` holds at once, top-up included: at least the
        preset's, so that admission under load does not tell the forms apart either."""
        return max(stored.memory_bytes, self.parameters.memory_bytes)

    def _verify_one(self, stored: StoredHash, candidate: str, secret: bytes) -> bool:
        if stored.scheme is Scheme.BCRYPT:
            return verify_bcrypt(stored.encoded, candidate)
        if stored.scheme is Scheme.PBKDF2_SHA256:
            return verify_pbkdf2_sha256(stored.encoded, candidate)
        try:
            return verify_secret(stored.encoded.encode("ascii"), secret, _ARGON2_TYPES[stored.scheme.value])
        except VerifyMismatchError:
            return False
        except VerificationError:
            raise InvalidInput("stored argon2 hash could not be decoded", field="stored_hash") from None

    def needs_rehash(self, stored: StoredHash) -> bool:
        """True when a hash should be replaced after a successful verify: another scheme, an
        older argon2 version, weaker parameters, or a pepper key that is not the current one."""
        if stored.scheme is not Scheme.ARGON2ID or stored.version != ARGON2_VERSION:
            return True
        if stored.parameters is None or stored.parameters.weaker_than(self.parameters):
            return True
        return stored.pepper_kid != self.pepper_kid

    def dummy(self) -> StoredHash:
        """A hash of a random password with the current parameters (and pepper), made once.

        Verifying an unknown subject against it spends the same work as a real verify."""
        if self._dummy is None:
            with self._lock:
                if self._dummy is None:
                    self._dummy = parse_hash(self.hash_normalized(secrets.token_urlsafe(24)))
        return self._dummy

"""Officers and voucher services of one flavour, for the tests of this package."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from flavours import Flavour
from verifykit import AuditEvent, Keyring, Way, aio
from verifykit._subject import lockout_key, subject_tag
from verifykit.store import FailureState, LockoutPolicy
from verifykit.vouchers import (
    OfficerRegistry,
    OfficerSource,
    Vouchers,
    VoucherSettings,
    generate_officer_key,
    issue_voucher,
)

__all__ = ["HARD_AFTER_TWO", "Counter", "Officers"]

_EVENTS: Any = object()  # "audit to the test's events"

#: Two failures lock a key until it is reset: a hard lock, quickly.
HARD_AFTER_TWO = LockoutPolicy(threshold=2, lockout=60, lockout_max=60, hard_cap=2)


class Officers:
    """Keys of three active officers whose names look alike, one revoked and one never registered."""

    def __init__(self) -> None:
        self.alice = generate_officer_key()
        self.alice_space = generate_officer_key()
        self.alice_cyrillic = generate_officer_key()
        self.revoked = generate_officer_key()
        self.stranger = generate_officer_key()
        registry = (
            OfficerRegistry.empty()
            .add(self.alice.public_key(), "alice")
            .add(self.alice_space.public_key(), "alice ")
            .add(self.alice_cyrillic.public_key(), "\u0430lice")
            .add(self.revoked.public_key(), "bob")
        )
        self.registry = registry.revoke(next(o.key_id for o in registry if o.name == "bob"))


class Counter:
    """Voucher services of the test's flavour on one store, auditing to ``events`` unless told
    otherwise; other keywords are fields of the settings. Issues vouchers at the store's time."""

    def __init__(
        self, flavour: Flavour, store: Any, keyring: Keyring, events: list[AuditEvent], officers: Officers
    ) -> None:
        self.flavour = flavour
        self.store = store
        self.keyring = keyring
        self.events = events
        self.officers = officers

    def vouchers(
        self,
        *,
        audit: Any = _EVENTS,
        registry: OfficerSource | None = None,
        settings: VoucherSettings | None = None,
        **fields: Any,
    ) -> Vouchers:
        return self.flavour.build(
            Vouchers,
            aio.Vouchers,
            store=self.store,
            keyring=self.keyring,
            registry=registry if registry is not None else self.officers.registry,
            settings=settings or VoucherSettings(**fields),
            audit=self.events.append if audit is _EVENTS else audit,
        )

    def call(self, method: str, *args: Any) -> Any:
        """A store operation, awaited on the flavour's loop when the store is async."""
        answer = getattr(self.store, method)(*args)
        return self.flavour.loop.run(answer) if self.flavour.is_async else answer

    def now(self) -> float:
        return float(self.call("now"))

    def issue(
        self,
        key: Ed25519PrivateKey | None = None,
        *,
        subject: str = "user-1",
        reason: str = "lost_phone",
        unlocks: tuple[str, ...] = ("password", "authenticator_app"),
        ttl: float = 600,
        ago: float = 0,
    ) -> str:
        """A voucher signed by ``key`` (alice's by default), issued ``ago`` seconds before the store's now."""
        return issue_voucher(
            key or self.officers.alice,
            subject=subject,
            reason=reason,
            unlocks=unlocks,
            ttl=ttl,
            now=self.now() - ago,
        )

    def hard_lock(self, way: Way, subject: str = "user-1") -> str:
        """Lock ``subject`` out of ``way`` until a reset; the lockout key."""
        key = lockout_key(way, subject_tag(self.keyring, subject))
        for _ in range(HARD_AFTER_TWO.hard_cap):
            self.call("charge", key, HARD_AFTER_TWO)
        assert self.failures(key).hard_locked
        return key

    def failures(self, key: str) -> FailureState:
        state: FailureState = self.call("failure_state", key)
        return state

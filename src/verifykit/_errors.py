"""One exception hierarchy for every fault and misuse.

A wrong answer (a bad code, another person's face) is never an exception: it is a
:class:`~verifykit.Verdict`. Exceptions are for misuse and faults, and each carries a
stable ``code`` that the gRPC sidecar maps to a status code.
"""

from __future__ import annotations

__all__ = [
    "AuditUnavailable",
    "BusyError",
    "ChallengeClosed",
    "ChallengeNotFound",
    "ConfigurationError",
    "DeadlineExceeded",
    "DeliveryError",
    "ImageError",
    "ImageTooCostly",
    "InvalidInput",
    "KeyringError",
    "RateLimited",
    "SidecarError",
    "StoreUnavailable",
    "TemplateError",
    "VerifyKitError",
    "WorkerLost",
]


class VerifyKitError(Exception):
    """Root of every verifykit error. Never raised directly."""

    code: str = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(VerifyKitError, ValueError):
    """The caller passed something malformed; nothing was stored or changed."""

    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ImageError(InvalidInput):
    """An image could not be used: too large, truncated, corrupt or not an image."""

    code = "invalid_image"


class ImageTooCostly(ImageError):
    """Reading a photo broke a face worker's limit: ``rule`` is ``memory`` (its memory bound),
    ``cpu`` (its CPU seconds per photo) or ``time`` (its wall-clock bound). The worker was
    replaced; the same photo would break the limit again."""

    code = "image_too_costly"

    def __init__(self, message: str, *, rule: str, field: str | None = "image") -> None:
        super().__init__(message, field=field)
        self.rule = rule


class ConfigurationError(VerifyKitError, ValueError):
    """verifykit was set up wrongly (an unknown store URL, a missing extra, a bad key)."""

    code = "configuration"


class ChallengeNotFound(VerifyKitError, LookupError):
    """No challenge has this id: it never existed, or it expired and was purged."""

    code = "not_found"


class ChallengeClosed(VerifyKitError):
    """The challenge is no longer pending (approved, denied, expired or canceled); start a new one."""

    code = "challenge_closed"

    def __init__(self, message: str, *, status: str) -> None:
        super().__init__(message)
        self.status = status


class StoreUnavailable(VerifyKitError):
    """The challenge store did not answer. Nothing was approved (fail closed)."""

    code = "store_unavailable"


class AuditUnavailable(VerifyKitError):
    """A record that must be written before a decision takes effect could not be written.

    The decision did not take effect (fail closed): nothing was unlocked or redeemed. Retry once
    the audit log is writable again.
    """

    code = "audit_unavailable"


class DeliveryError(VerifyKitError):
    """A message could not be handed to the mail server."""

    code = "delivery_failed"

    def __init__(self, message: str, *, temporary: bool = False) -> None:
        super().__init__(message)
        self.temporary = temporary


class RateLimited(VerifyKitError):
    """An operation (not a check) was refused by a rate limit; retry after ``retry_after`` seconds."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, reason: str = "rate_limited") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.reason = reason


class BusyError(VerifyKitError):
    """Too much CPU- or memory-heavy work is in flight; retry shortly."""

    code = "busy"

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WorkerLost(VerifyKitError):
    """The face worker process reading a photo ended before it answered (a crash, a kill from
    outside), or none can be started; the pool replaces it, so a retry can succeed."""

    code = "worker_lost"

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class KeyringError(VerifyKitError):
    """A key is missing, malformed, or sealed data failed authentication."""

    code = "keyring"


class TemplateError(KeyringError):
    """A sealed template could not be opened: tampered, another subject's, or an unknown key."""

    code = "invalid_template"


class SidecarError(VerifyKitError):
    """The sidecar could not answer: unreachable, refused the credentials, or failed inside.

    Raised by :mod:`verifykit.client`; ``status`` is the gRPC status code name
    (``"UNAVAILABLE"``, ``"UNAUTHENTICATED"``, …).
    """

    code = "sidecar"

    def __init__(self, message: str, *, status: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class DeadlineExceeded(SidecarError, TimeoutError):
    """The deadline passed before the answer: the client's call, or heavy work inside the sidecar."""

    code = "deadline_exceeded"

    def __init__(self, message: str = "the deadline passed before the work finished") -> None:
        super().__init__(message, status="DEADLINE_EXCEEDED")

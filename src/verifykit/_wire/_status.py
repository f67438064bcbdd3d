"""Library errors <-> gRPC statuses, both directions, in one table.

The server turns a :class:`~verifykit.VerifyKitError` into a status code, a message (the
library's own, which never holds secrets), standard ``google.rpc`` details (``ErrorInfo``
with the error's stable code, ``RetryInfo`` when a retry can succeed) and a plain
``retry-after`` trailer for clients without the details protos. The client reads the same
details back into the same exception type.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from .._errors import (
    AuditUnavailable,
    BusyError,
    ChallengeClosed,
    ChallengeNotFound,
    ConfigurationError,
    DeadlineExceeded,
    DeliveryError,
    InvalidInput,
    KeyringError,
    RateLimited,
    SidecarError,
    StoreUnavailable,
    TemplateError,
    VerifyKitError,
    WorkerLost,
)
from .._verdict import Reason

__all__ = ["ERROR_DOMAIN", "RETRY_AFTER", "Status", "error_from_details", "status_for"]

ERROR_DOMAIN = "verifykit"
RETRY_AFTER = "retry-after"
INTERNAL_MESSAGE = "internal error"

# First match wins, so subclasses come before their bases.
_CODES: tuple[tuple[type[VerifyKitError], grpc.StatusCode], ...] = (
    (RateLimited, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (BusyError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (TemplateError, grpc.StatusCode.INVALID_ARGUMENT),
    (ChallengeNotFound, grpc.StatusCode.NOT_FOUND),
    (ChallengeClosed, grpc.StatusCode.FAILED_PRECONDITION),
    (StoreUnavailable, grpc.StatusCode.UNAVAILABLE),
    (AuditUnavailable, grpc.StatusCode.UNAVAILABLE),
    (DeliveryError, grpc.StatusCode.UNAVAILABLE),
    (WorkerLost, grpc.StatusCode.UNAVAILABLE),
    (ConfigurationError, grpc.StatusCode.FAILED_PRECONDITION),
    (DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
    # Only a sidecar that calls another one could raise it: the service it relies on is unavailable.
    (SidecarError, grpc.StatusCode.UNAVAILABLE),
)


@dataclass(frozen=True, slots=True)
class Status(grpc.Status):  # type: ignore[misc]
    """A complete gRPC status for ``context.abort_with_status``."""

    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


def _metadata_of(exc: VerifyKitError) -> dict[str, str]:
    """The facts a client needs to rebuild the exception; never secrets."""
    meta: dict[str, str] = {}
    field = getattr(exc, "field", None)
    if isinstance(field, str):
        meta["field"] = field
    for name in ("reason", "status", "rule"):
        value = getattr(exc, name, None)
        if isinstance(value, str):
            meta[name] = value
    if isinstance(exc, DeliveryError):
        meta["temporary"] = "true" if exc.temporary else "false"
    return meta


def _retry_after(exc: VerifyKitError) -> float | None:
    if isinstance(exc, RateLimited | BusyError | WorkerLost):
        return max(float(exc.retry_after), 0.0)
    if isinstance(exc, SidecarError) and exc.retry_after is not None:
        return max(float(exc.retry_after), 0.0)
    return None


def status_for(exc: BaseException) -> Status:
    """The status a call ends with when ``exc`` escapes the servicer."""
    code = grpc.StatusCode.INTERNAL
    # A keyring fault is the server's (a missing key), except a template that does not open.
    server_fault = isinstance(exc, KeyringError) and not isinstance(exc, TemplateError)
    if isinstance(exc, VerifyKitError) and not server_fault:
        code = next((c for cls, c in _CODES if isinstance(exc, cls)), grpc.StatusCode.INTERNAL)
    if code is grpc.StatusCode.INTERNAL or not isinstance(exc, VerifyKitError):
        # A fault of ours: say nothing about it to the caller.
        detail = status_pb2.Status(code=code_pb2.INTERNAL, message=INTERNAL_MESSAGE)
        return Status(
            code, INTERNAL_MESSAGE, ((rpc_status.GRPC_DETAILS_METADATA_KEY, detail.SerializeToString()),)
        )
    proto = status_pb2.Status(code=code.value[0], message=exc.message)
    info = error_details_pb2.ErrorInfo(reason=exc.code, domain=ERROR_DOMAIN, metadata=_metadata_of(exc))
    proto.details.add().Pack(info)
    trailers: list[tuple[str, str | bytes]] = []
    wait = _retry_after(exc)
    if wait is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(wait * 1e9))
        proto.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        # HTTP's Retry-After is whole seconds; rounding up never invites an early retry.
        trailers.append((RETRY_AFTER, str(math.ceil(wait))))
    trailers.append((rpc_status.GRPC_DETAILS_METADATA_KEY, proto.SerializeToString()))
    return Status(code, exc.message, tuple(trailers))


def _error_classes() -> dict[str, type[VerifyKitError]]:
    """Every error class by its stable code, including those other packages define."""
    found: dict[str, type[VerifyKitError]] = {}
    pending: list[type[VerifyKitError]] = [VerifyKitError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


def error_from_details(
    message: str, details: Sequence[error_details_pb2.ErrorInfo | error_details_pb2.RetryInfo]
) -> VerifyKitError | None:
    """Rebuild the library exception a status describes, or None when it is not one of ours."""
    info = next((d for d in details if isinstance(d, error_details_pb2.ErrorInfo)), None)
    if info is None or info.domain != ERROR_DOMAIN:
        return None
    retry = next((d for d in details if isinstance(d, error_details_pb2.RetryInfo)), None)
    wait = retry.retry_delay.ToNanoseconds() / 1e9 if retry is not None else 0.0
    meta = dict(info.metadata)
    cls = _error_classes().get(info.reason)
    if cls is None:
        return None
    # Keyword arguments each error class takes, from the facts the server sent.
    kwargs: dict[str, object] = {}
    if issubclass(cls, RateLimited):
        kwargs = {"retry_after": wait, "reason": meta.get("reason", "rate_limited")}
    elif issubclass(cls, BusyError | WorkerLost):
        kwargs = {"retry_after": wait}
    elif issubclass(cls, ChallengeClosed):
        kwargs = {"status": meta.get("status", "")}
    elif issubclass(cls, DeadlineExceeded):
        kwargs = {}
    elif issubclass(cls, SidecarError):
        kwargs = {"status": meta.get("status", "UNKNOWN"), "retry_after": wait if retry is not None else None}
    elif issubclass(cls, DeliveryError):
        kwargs = {"temporary": meta.get("temporary") == "true"}
    elif issubclass(cls, InvalidInput):
        kwargs = {k: meta[k] for k in ("field", "rule") if k in meta}
        if "reason" in meta and meta["reason"] in Reason._value2member_map_:  # a PolicyViolation's
            kwargs["reason"] = Reason(meta["reason"])
    try:
        return cls(message, **kwargs)
    except TypeError:
        # A subclass with another signature: fall back to the nearest class we can build.
        return InvalidInput(message, field=meta.get("field")) if issubclass(cls, InvalidInput) else None

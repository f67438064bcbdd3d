"""The two interceptors: a bearer-token check, and the one place where a call's outcome is
decided for the wire (errors to status codes); and the :class:`Recorder` both of them hand every
answered call to (access log, metrics), so a call refused at the door is seen like any other.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import grpc.aio
from google.protobuf.message import DecodeError

from .._errors import DeadlineExceeded, InvalidInput
from .._subject import MAX_SUBJECT_LENGTH, subject_tag
from .._wire import common_pb2, status_for
from ..crypto import Keyring
from ._metrics import Metrics

__all__ = ["API_PREFIX", "AuthInterceptor", "CallInterceptor", "Recorder"]

API_PREFIX = "/verifykit.v1."
HEALTH_PREFIX = "/grpc.health.v1.Health/"
_access = logging.getLogger("verifykit.access")
_errors = logging.getLogger("verifykit.server")
_REASONS = {number: name.removeprefix("REASON_").lower() for name, number in common_pb2.Reason.items()}
_REFUSED = {"rate_limited", "locked_out"}

Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]


def _handler_like(handler: grpc.RpcMethodHandler, behavior: Handler) -> grpc.RpcMethodHandler:
    """A handler of the same streaming kind as ``handler`` whose every call runs ``behavior``
    on the request's raw bytes: no deserializer, so nothing the caller sent is parsed."""
    kinds = (
        (handler.unary_unary, grpc.unary_unary_rpc_method_handler),
        (handler.unary_stream, grpc.unary_stream_rpc_method_handler),
        (handler.stream_unary, grpc.stream_unary_rpc_method_handler),
        (handler.stream_stream, grpc.stream_stream_rpc_method_handler),
    )
    make = next(factory for existing, factory in kinds if existing is not None)
    return make(behavior, request_deserializer=None, response_serializer=handler.response_serializer)


def _method_label(method: str) -> str:
    """``Service/Method`` for this API's calls, the full path (less its slash) for others."""
    return method[len(API_PREFIX) :] if method.startswith(API_PREFIX) else method.removeprefix("/")


def _access_line(
    method: str, *, status: str, seconds: float, subject: str | None, reason: str | None, peer: str
) -> str:
    """One JSON object, written by hand: this runs on every call, and every field but the peer is
    a name from the API or a base32 tag, which need no escaping."""
    tag = f'"{subject}"' if subject is not None else "null"
    why = f'"{reason}"' if reason is not None else "null"
    return (
        f'{{"method":"{method}","status":"{status}","duration_ms":{seconds * 1000:.3f},'
        f'"subject":{tag},"reason":{why},"peer":{json.dumps(peer)}}}'
    )


class Recorder:
    """Writes down every answered call: one access-log line and the metrics.

    Both interceptors answer calls, so both record here: a call the token check refuses is
    counted and logged like one a verifier answered, and token guessing shows. What is recorded
    is the method, status, duration, verdict reason, the subject's keyed tag and the peer
    address; never metadata (the token), nor anything from the request body.
    """

    def __init__(self, *, metrics: Metrics | None, access_log: bool) -> None:
        self._metrics = metrics
        self._log = access_log

    def record(
        self,
        method: str,
        code: grpc.StatusCode,
        seconds: float,
        *,
        peer: Callable[[], str],
        subject: Callable[[], str | None] | None = None,
        reason: str | None = None,
        refusal: str | None = None,
    ) -> None:
        """``peer`` and ``subject`` are asked for only when a line is written."""
        if self._metrics is not None:
            self._metrics.observe(method, code.name, seconds, reason, refusal)
        if self._log and _access.isEnabledFor(logging.INFO):
            line = _access_line(
                method,
                status=code.name,
                seconds=seconds,
                subject=subject() if subject is not None else None,
                reason=reason,
                peer=peer(),
            )
            _access.info(line)


def _refusal(method: str, recorder: Recorder) -> Handler:
    name = _method_label(method)

    async def refuse(_request: Any, context: grpc.aio.ServicerContext) -> Any:
        # ``_request`` is the raw bytes (or their iterator), never parsed, never recorded. No work
        # is done for the call, so it takes no time. Recorded before the status leaves, as below.
        recorder.record(name, grpc.StatusCode.UNAUTHENTICATED, 0.0, peer=context.peer)
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

    return refuse


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Every call but health checks must carry ``authorization: Bearer <token>``.

    For deployments without mutual TLS; load balancers probe health without the token. The
    token is compared in constant time, and a refused call's message is never deserialized:
    an unauthenticated caller reaches no parser. Each refusal goes to ``recorder`` as an
    ``UNAUTHENTICATED`` call, without the token it carried.
    """

    def __init__(self, token: str, *, recorder: Recorder) -> None:
        self._expected = f"Bearer {token}".encode()
        self._recorder = recorder
        # One per registered method (an unknown one never gets here), so the cache stays small.
        self._refusals: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        if details.method.startswith(HEALTH_PREFIX):
            return await continuation(details)
        given = next((v for k, v in details.invocation_metadata or () if k == "authorization"), "")
        raw = given.encode() if isinstance(given, str) else bytes(given)
        handler = await continuation(details)
        if handler is None or hmac.compare_digest(raw, self._expected):
            return handler
        method: str = details.method
        refusal = self._refusals.get(method)
        if refusal is None:
            refusal = _handler_like(handler, _refusal(method, self._recorder))
            self._refusals[method] = refusal
        return refusal


class _Malformed:
    """Stands in for a request that did not parse, so the call can answer INVALID_ARGUMENT."""


_MALFORMED = _Malformed()


def _lenient(deserialize: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except (DecodeError, ValueError, TypeError):
            return _MALFORMED

    return parse


class CallInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """For every ``verifykit.v1`` call: answer library errors with their status (see
    :mod:`verifykit._wire`), a malformed request with INVALID_ARGUMENT and a passed deadline with
    DEADLINE_EXCEEDED; then hand the outcome to ``recorder``.

    The log line holds the subject's keyed tag (the same tag the store uses), never the
    subject itself, codes, passwords or images.
    """

    def __init__(self, *, keyring: Keyring, recorder: Recorder) -> None:
        self._keyring = keyring
        self._recorder = recorder
        self._cache: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method: str = details.method
        cached = self._cache.get(method)
        if cached is not None:
            return cached
        handler = await continuation(details)
        if handler is None or not method.startswith(API_PREFIX) or handler.unary_unary is None:
            return handler
        wrapped = grpc.unary_unary_rpc_method_handler(
            self._wrap(method, handler.unary_unary, handler.request_deserializer),
            request_deserializer=_lenient(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )
        self._cache[method] = wrapped
        return wrapped

    def _subject_tag(self, request: Any, has_subject: bool, has_challenge: bool) -> str | None:
        if (
            has_subject
            and isinstance(request.subject, str)
            and 0 < len(request.subject) <= MAX_SUBJECT_LENGTH
        ):
            return subject_tag(self._keyring, request.subject)
        if has_challenge:
            # A challenge id starts with its subject's tag; anything else is not logged.
            head, dot, _ = request.challenge_id.partition(".")
            return head if dot and len(head) == 26 and head.isalnum() else None
        return None

    def _wrap(self, method: str, behavior: Handler, deserialize: Callable[[bytes], Any]) -> Handler:
        request_type = getattr(deserialize, "__self__", None)
        fields = set(request_type.DESCRIPTOR.fields_by_name) if request_type is not None else set()
        has_subject, has_challenge = "subject" in fields, "challenge_id" in fields
        name = _method_label(method)
        recorder = self._recorder

        def record(
            request: Any,
            context: grpc.aio.ServicerContext,
            code: grpc.StatusCode,
            *,
            started: float,
            reason: str | None = None,
            refusal: str | None = None,
        ) -> None:
            def tag() -> str | None:
                if request is _MALFORMED:
                    return None
                return self._subject_tag(request, has_subject, has_challenge)

            recorder.record(
                name,
                code,
                time.perf_counter() - started,
                peer=context.peer,
                subject=tag,
                reason=reason,
                refusal=refusal,
            )

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            reason: str | None = None
            refusal: str | None = None
            try:
                if request is _MALFORMED:
                    raise InvalidInput("the request is not a valid protobuf message for this method")
                remaining = context.time_remaining()
                if remaining is not None and remaining <= 0:
                    raise DeadlineExceeded("the deadline passed before the work started")
                response = await behavior(request, context)
            except asyncio.CancelledError:
                record(request, context, grpc.StatusCode.CANCELLED, started=started)
                raise
            except Exception as exc:
                status = status_for(exc)
                if status.code is grpc.StatusCode.RESOURCE_EXHAUSTED:
                    refusal = str(getattr(exc, "reason", None) or getattr(exc, "code", "busy"))
                if status.code is grpc.StatusCode.INTERNAL:
                    # The traceback, not the message: a message from a third-party library might quote input.
                    _errors.error(
                        "internal error in %s: %s\n%s",
                        name,
                        type(exc).__name__,
                        "".join(traceback.format_tb(exc.__traceback__)),
                    )
                # Recorded before the answer leaves: aborting sends the status at once.
                record(request, context, status.code, started=started, refusal=refusal)
                await context.abort(status.code, status.details, status.trailing_metadata)
                raise  # abort raises; this line is never reached
            verdict = getattr(response, "verdict", None)
            if verdict is not None:
                reason = _REASONS.get(verdict.reason)
                refusal = reason if reason in _REFUSED else None
            record(request, context, grpc.StatusCode.OK, started=started, reason=reason, refusal=refusal)
            return response

        return call

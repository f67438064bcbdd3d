"""The two interceptors: a bearer-token check, and the one place where a call's outcome is
decided for the wire (errors to status codes); and the :class:`Recorder` both of them hand every
answered call to (access log, metrics), so a call refused at the door is seen like any other.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
import grpc.aio
from google.protobuf.message import DecodeError

from .._errors import DeadlineExceeded, InvalidInput, VerifyKitError
from .._subject import MAX_SUBJECT_LENGTH, subject_tag
from .._wire import common_pb2, ladder_pb2, status_for
from ..crypto import Keyring
from ._metrics import Metrics

__all__ = ["API_PREFIX", "UNKNOWN_METHOD", "AuthInterceptor", "CallInterceptor", "Recorder"]

API_PREFIX = "/verifykit.v1."
HEALTH_PREFIX = "/grpc.health.v1.Health/"
# The label (access log, metrics) of a call to a method this server does not have: its name is
# the caller's choice, so it is never written down.
UNKNOWN_METHOD = "unknown"
_access = logging.getLogger("verifykit.access")
_errors = logging.getLogger("verifykit.server")
_REASONS = {number: name.removeprefix("REASON_").lower() for name, number in common_pb2.Reason.items()}
_REFUSED = {"rate_limited", "locked_out", "hard_locked"}
_WAYS = {number: name.removeprefix("WAY_").lower() for name, number in common_pb2.Way.items()}

Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]


def _unread(behavior: Handler) -> grpc.RpcMethodHandler:
    """A handler that takes the request as a stream of raw bytes, whatever the method's kind.

    grpc.aio receives a message of a request-streaming call only when the handler reads it, so
    a ``behavior`` that answers without reading keeps the body out of this process: no more of it
    arrives than HTTP/2 flow control lets the caller send before the call ends (one stream window),
    and nothing of it is parsed. A unary handler, by contrast, is given the whole message, which
    gRPC buffers first, up to ``grpc.max_receive_message_length``. On the wire the two look alike:
    the caller, whatever stub it used, sees only the status.
    """
    return grpc.stream_unary_rpc_method_handler(behavior)


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
    address (and, for the metrics, the error's code and the ways in offered); never metadata
    (the token), nor anything from the request body.
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
        error: str | None = None,
        offered: tuple[str, Sequence[str]] | None = None,
    ) -> None:
        """``peer`` and ``subject`` are asked for only when a line is written. ``error`` and
        ``offered`` (who offered which ways in) are for the metrics only."""
        if self._metrics is not None:
            self._metrics.observe(method, code.name, seconds, reason, refusal, error=error, offered=offered)
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


def _refusal(name: str, recorder: Recorder) -> Handler:
    async def refuse(_requests: Any, context: grpc.aio.ServicerContext) -> Any:
        # ``_requests`` is never read (see _unread), so nothing of the body is received, parsed or
        # recorded. No work is done for the call, so it takes no time. Recorded before the status
        # leaves, as below.
        recorder.record(name, grpc.StatusCode.UNAUTHENTICATED, 0.0, peer=context.peer)
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

    return refuse


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Every call but health checks must carry ``authorization: Bearer <token>``.

    For deployments without mutual TLS; load balancers probe health without the token. The
    token is compared in constant time. A call without it is answered ``UNAUTHENTICATED`` on its
    metadata alone, before its body is received (see :func:`_unread`): an unauthenticated caller
    reaches no parser and cannot make the sidecar buffer what it sends. A method this server
    does not have is answered the same way, so the answer never tells which methods exist; only
    a caller with the token sees ``UNIMPLEMENTED``. Each refusal goes to ``recorder`` as an
    ``UNAUTHENTICATED`` call, without the token it carried (an unknown method as ``unknown``,
    since its name is the caller's).

    Health checks without the token are the one way in whose body is read: at most
    ``health_reads`` such requests at once (others wait), each of at most ``max_request_bytes``
    (larger ones are refused ``RESOURCE_EXHAUSTED`` before they are parsed), read within
    ``read_seconds``. Each read buffers up to ``grpc.max_receive_message_length``, so the slots
    bound what a caller without the token can make the sidecar hold.
    """

    def __init__(
        self,
        token: str,
        *,
        recorder: Recorder,
        health_reads: int = 1,
        max_request_bytes: int = 64 * 1024,
        read_seconds: float = 5.0,
    ) -> None:
        self._expected = f"Bearer {token}".encode()
        self._recorder = recorder
        self._health_slots = asyncio.Semaphore(health_reads)
        self._max_request_bytes = max_request_bytes
        self._read_seconds = read_seconds
        # One per registered method, so these stay small; every unknown method shares one.
        self._refusals: dict[str, grpc.RpcMethodHandler] = {}
        self._public: dict[str, grpc.RpcMethodHandler] = {}
        self._unknown = _unread(_refusal(UNKNOWN_METHOD, recorder))

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        given = next((v for k, v in details.invocation_metadata or () if k == "authorization"), "")
        raw = given.encode() if isinstance(given, str) else bytes(given)
        handler = await continuation(details)
        if hmac.compare_digest(raw, self._expected):
            return handler
        if handler is None:
            return self._unknown
        method: str = details.method
        if method.startswith(HEALTH_PREFIX):
            public = self._public.get(method)
            if public is None:
                public = self._public[method] = self._health(method, handler)
            return public
        refusal = self._refusals.get(method)
        if refusal is None:
            refusal = self._refusals[method] = _unread(_refusal(_method_label(method), self._recorder))
        return refusal

    def _health(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """``handler`` taking its one request as a stream, read under :meth:`_read`'s bounds."""
        name = _method_label(method)
        parse: Callable[[bytes], Any] = handler.request_deserializer or (lambda data: data)
        serialize = handler.response_serializer
        if handler.unary_unary is not None:
            check: Handler = handler.unary_unary

            async def unary(_requests: Any, context: grpc.aio.ServicerContext) -> Any:
                return await check(parse(await self._read(name, context)), context)

            return grpc.stream_unary_rpc_method_handler(unary, response_serializer=serialize)
        if handler.unary_stream is not None:
            watch: Callable[[Any, grpc.aio.ServicerContext], Any] = handler.unary_stream

            async def stream(_requests: Any, context: grpc.aio.ServicerContext) -> None:
                answers = watch(parse(await self._read(name, context)), context)
                if inspect.isasyncgen(answers):
                    async for answer in answers:
                        await context.write(answer)
                else:  # the servicer writes its answers itself
                    await answers

            return grpc.stream_stream_rpc_method_handler(stream, response_serializer=serialize)
        return handler  # the health service has no client-streaming method

    async def _read(self, name: str, context: grpc.aio.ServicerContext) -> bytes:
        """The one request of a health check without the token, as raw bytes; or the call ends."""
        code, details = grpc.StatusCode.INVALID_ARGUMENT, "a health check carries one request"
        async with self._health_slots:
            try:
                data = await asyncio.wait_for(context.read(), self._read_seconds)
            except TimeoutError:
                data = None
                code, details = grpc.StatusCode.DEADLINE_EXCEEDED, "the request did not arrive in time"
        if isinstance(data, bytes) and len(data) <= self._max_request_bytes:
            return data
        if isinstance(data, bytes):
            code, details = grpc.StatusCode.RESOURCE_EXHAUSTED, _too_large(self._max_request_bytes)
        # Let go of the body before the call ends: the exception that ends it keeps this frame.
        del data
        self._recorder.record(name, code, 0.0, peer=context.peer)
        await context.abort(code, details)
        raise AssertionError("abort raises")  # pragma: no cover


def _too_large(limit: int) -> str:
    return f"the request is larger than this method accepts ({limit} bytes)"


def _error_code(exc: Exception) -> str:
    """The library error's stable code (``store_unavailable``, ``busy``, ...); ``internal`` else."""
    return exc.code if isinstance(exc, VerifyKitError) else "internal"


def _offered(response: Any) -> tuple[str, list[str]] | None:
    """Who offered which ways in: the ladder's open rungs, or the ways a refused verdict names."""
    if isinstance(response, ladder_pb2.GetWaysInResponse):
        return "ladder", [_WAYS.get(rung.way, "other") for rung in response.open]
    verdict = getattr(response, "verdict", None)
    if verdict is not None and verdict.ways_in:
        return "verdict", [_WAYS.get(way, "other") for way in verdict.ways_in]
    return None


class _Malformed:
    """Stands in for a request that was not parsed: one that did not parse (INVALID_ARGUMENT),
    or one larger than its method accepts (RESOURCE_EXHAUSTED)."""


_MALFORMED = _Malformed()
_TOO_LARGE = _Malformed()


def _lenient(deserialize: Callable[[bytes], Any], limit: int | None) -> Callable[[bytes], Any]:
    def parse(data: bytes) -> Any:
        if limit is not None and len(data) > limit:
            return _TOO_LARGE
        try:
            return deserialize(data)
        except (DecodeError, ValueError, TypeError):
            return _MALFORMED

    return parse


class CallInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """For every ``verifykit.v1`` call: answer library errors with their status (see
    :mod:`verifykit._wire`), a malformed request with INVALID_ARGUMENT and a passed deadline with
    DEADLINE_EXCEEDED; then hand the outcome to ``recorder``.

    A request over ``max_request_bytes`` is answered RESOURCE_EXHAUSTED before it is parsed,
    unless its service is one of ``large_services`` (the face photos), which gRPC's server-wide
    ``grpc.max_receive_message_length`` bounds alone. gRPC has no per-method receive limit on a
    server, so this check sees the body only once gRPC has received it: it spares the parser
    and the verifier, not the buffering; the server-wide limit and the concurrency bounds bound
    that (and a caller without the token never gets that far: :class:`AuthInterceptor`).

    The log line holds the subject's keyed tag (the same tag the store uses), never the
    subject itself, codes, passwords or images.
    """

    def __init__(
        self,
        *,
        keyring: Keyring,
        recorder: Recorder,
        max_request_bytes: int | None = None,
        large_services: frozenset[str] = frozenset(),
    ) -> None:
        self._keyring = keyring
        self._recorder = recorder
        self._max_request_bytes = max_request_bytes
        self._large_services = large_services
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
        service = method[1:].partition("/")[0]
        limit = None if service in self._large_services else self._max_request_bytes
        wrapped = grpc.unary_unary_rpc_method_handler(
            self._wrap(method, handler.unary_unary, handler.request_deserializer),
            request_deserializer=_lenient(handler.request_deserializer, limit),
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
        too_large = _too_large(self._max_request_bytes or 0)

        def record(
            request: Any,
            context: grpc.aio.ServicerContext,
            code: grpc.StatusCode,
            *,
            started: float,
            reason: str | None = None,
            refusal: str | None = None,
            error: str | None = None,
            offered: tuple[str, Sequence[str]] | None = None,
        ) -> None:
            def tag() -> str | None:
                if isinstance(request, _Malformed):
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
                error=error,
                offered=offered,
            )

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            reason: str | None = None
            refusal: str | None = None
            if request is _TOO_LARGE:
                record(request, context, grpc.StatusCode.RESOURCE_EXHAUSTED, started=started)
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, too_large)
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
                record(
                    request,
                    context,
                    status.code,
                    started=started,
                    refusal=refusal,
                    error=_error_code(exc),
                )
                await context.abort(status.code, status.details, status.trailing_metadata)
                raise  # abort raises; this line is never reached
            verdict = getattr(response, "verdict", None)
            if verdict is not None:
                reason = _REASONS.get(verdict.reason)
                refusal = reason if reason in _REFUSED else None
            record(
                request,
                context,
                grpc.StatusCode.OK,
                started=started,
                reason=reason,
                refusal=refusal,
                offered=_offered(response),
            )
            return response

        return call

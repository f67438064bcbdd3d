"""A small typed client for the verifykit sidecar (``pip install 'verifykit[grpc]'``).

It mirrors the library: ``client.email_otp.start(...)`` returns the same
:class:`~verifykit.otp.Challenge`, ``check`` the same :class:`~verifykit.Verdict`, and a
refusal raises the same exception the library would (:class:`~verifykit.RateLimited` with
``retry_after``, :class:`~verifykit.ChallengeNotFound`, …), so code moves between the two
without change. Failures of the sidecar itself raise :class:`SidecarError`.

>>> with Client("127.0.0.1:50051") as client:
...     challenge = client.email_otp.start("applicant-42", "ana@example.co.id")
...     verdict = client.email_otp.check(challenge.id, "123456")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from ._errors import ConfigurationError, InvalidInput, VerifyKitError
from ._verdict import Reason, Verdict
from .otp import Challenge
from .server._convert import challenge_from_proto, enum_from_proto, verdict_from_proto
from .server._net import is_loopback_target
from .server._pb import (
    email_otp_pb2,
    email_otp_pb2_grpc,
    face_pb2,
    face_pb2_grpc,
    password_pb2,
    password_pb2_grpc,
)
from .server._status import RETRY_AFTER, error_from_details

if TYPE_CHECKING:
    from .face import Enrollment, FaceMatch
    from .password import PolicyResult

__all__ = ["Client", "DeadlineExceeded", "EmailOTPClient", "FaceClient", "PasswordClient", "SidecarError"]

DEFAULT_TARGET = "127.0.0.1:50051"
MiB = 1024 * 1024
R = TypeVar("R")


class SidecarError(VerifyKitError):
    """The sidecar could not answer: unreachable, refused the credentials, or failed inside.

    ``status`` is the gRPC status code name (``"UNAVAILABLE"``, ``"UNAUTHENTICATED"``, …).
    """

    code = "sidecar"

    def __init__(self, message: str, *, status: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class DeadlineExceeded(SidecarError, TimeoutError):
    """The call's deadline passed before the sidecar answered."""

    code = "deadline_exceeded"


def _translate(error: grpc.RpcError) -> VerifyKitError:
    """The library exception a failed call stands for."""
    code: grpc.StatusCode = error.code()
    message: str = error.details() or code.name.lower()
    details: list[error_details_pb2.ErrorInfo | error_details_pb2.RetryInfo] = []
    try:
        status = rpc_status.from_call(error)
    except ValueError:  # the status details contradict the status; trust neither
        status = None
    if status is not None:
        for any_detail in status.details:
            for kind in (error_details_pb2.ErrorInfo, error_details_pb2.RetryInfo):
                if any_detail.Is(kind.DESCRIPTOR):
                    detail = kind()
                    any_detail.Unpack(detail)
                    details.append(detail)
    rebuilt = error_from_details(message, details)
    if rebuilt is not None:
        return rebuilt
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceeded(message, status=code.name)
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidInput(message)
    retry = next((v for k, v in error.trailing_metadata() or () if k == RETRY_AFTER), None)
    return SidecarError(message, status=code.name, retry_after=float(retry) if retry is not None else None)


class _Service:
    """Shared call plumbing: deadline, credentials metadata, error translation."""

    def __init__(self, owner: Client) -> None:
        self._owner = owner

    def _call(self, method: Callable[..., R], request: Any) -> R:
        try:
            return method(request, timeout=self._owner.timeout, metadata=self._owner._metadata)
        except grpc.RpcError as error:
            raise _translate(error) from None


class EmailOTPClient(_Service):
    """Email one-time codes; the same methods as :class:`verifykit.otp.EmailOTP`."""

    def __init__(self, owner: Client, channel: grpc.Channel) -> None:
        super().__init__(owner)
        self._stub = email_otp_pb2_grpc.EmailOtpServiceStub(channel)  # type: ignore[no-untyped-call]

    def start(
        self, subject: str, email: str, *, locale: str | None = None, client: str | None = None
    ) -> Challenge:
        request = email_otp_pb2.StartEmailOtpRequest(
            subject=subject, email=email, locale=locale or "", client_address=client or ""
        )
        return challenge_from_proto(self._call(self._stub.StartEmailOtp, request).challenge)

    def check(self, challenge_id: str, code: str, *, client: str | None = None) -> Verdict:
        request = email_otp_pb2.CheckEmailOtpRequest(
            challenge_id=challenge_id, code=code, client_address=client or ""
        )
        return verdict_from_proto(self._call(self._stub.CheckEmailOtp, request).verdict)

    def resend(self, challenge_id: str, *, client: str | None = None) -> Challenge:
        request = email_otp_pb2.ResendEmailOtpRequest(challenge_id=challenge_id, client_address=client or "")
        return challenge_from_proto(self._call(self._stub.ResendEmailOtp, request).challenge)

    def cancel(self, challenge_id: str) -> Challenge:
        request = email_otp_pb2.CancelEmailOtpRequest(challenge_id=challenge_id)
        return challenge_from_proto(self._call(self._stub.CancelEmailOtp, request).challenge)

    def status(self, challenge_id: str) -> Challenge:
        request = email_otp_pb2.GetEmailOtpStatusRequest(challenge_id=challenge_id)
        return challenge_from_proto(self._call(self._stub.GetEmailOtpStatus, request).challenge)


class PasswordClient(_Service):
    """Passwords; the same methods as :class:`verifykit.password.PasswordVerifier`."""

    def __init__(self, owner: Client, channel: grpc.Channel) -> None:
        super().__init__(owner)
        self._stub = password_pb2_grpc.PasswordServiceStub(channel)  # type: ignore[no-untyped-call]

    def hash(self, password: str, *, subject: str | None = None, context: Sequence[str] = ()) -> str:
        """Check the policy, then hash; raises the policy violation (an ``InvalidInput``) with its rule."""
        request = password_pb2.HashPasswordRequest(
            password=password, subject=subject or "", context=list(context)
        )
        return str(self._call(self._stub.HashPassword, request).hash)

    def verify(
        self, subject: str, stored_hash: str | None, password: str, *, client: str | None = None
    ) -> Verdict:
        """A verdict; ``verdict.upgraded_hash`` is the hash to store when the old one is outdated."""
        request = password_pb2.VerifyPasswordRequest(
            subject=subject, password=password, client_address=client or ""
        )
        if stored_hash is not None:
            request.stored_hash = stored_hash
        return verdict_from_proto(self._call(self._stub.VerifyPassword, request).verdict)

    def check_policy(
        self, password: str, *, subject: str | None = None, context: Sequence[str] = ()
    ) -> PolicyResult:
        from .password import PolicyResult

        request = password_pb2.CheckPasswordPolicyRequest(
            password=password, subject=subject or "", context=list(context)
        )
        response = self._call(self._stub.CheckPasswordPolicy, request)
        return PolicyResult(ok=response.ok, rule=response.rule or None, message=response.message)


class FaceClient(_Service):
    """Face verification; the same methods as :class:`verifykit.face.FaceVerifier` and the index."""

    def __init__(self, owner: Client, channel: grpc.Channel) -> None:
        super().__init__(owner)
        self._stub = face_pb2_grpc.FaceServiceStub(channel)  # type: ignore[no-untyped-call]

    def enroll(self, subject: str, image: bytes) -> Enrollment:
        from .face import Enrollment

        response = self._call(self._stub.EnrollFace, face_pb2.EnrollFaceRequest(subject=subject, image=image))
        reason = enum_from_proto(Reason, response.reason) or (
            Reason.APPROVED if response.ok else Reason.DENIED
        )
        return Enrollment(
            ok=response.ok,
            reason=reason,
            template=response.template or None,
            faces=int(response.details.get("faces", "1" if response.ok else "0")),
            details=dict(response.details),
        )

    def verify(self, subject: str, template: bytes, image: bytes, *, client: str | None = None) -> Verdict:
        """The verdict carries a distance and score only if the sidecar runs with ``face_scores``."""
        request = face_pb2.VerifyFaceRequest(
            subject=subject, template=template, image=image, client_address=client or ""
        )
        return verdict_from_proto(self._call(self._stub.VerifyFace, request).verdict)

    def index_add(self, subject: str, template: bytes) -> int:
        """Add ``subject``'s template to the sidecar's index; returns the index size."""
        request = face_pb2.AddToFaceIndexRequest(subject=subject, template=template)
        return int(self._call(self._stub.AddToFaceIndex, request).size)

    def index_remove(self, subject: str) -> bool:
        """Remove ``subject`` from the index; False if it was not there."""
        request = face_pb2.RemoveFromFaceIndexRequest(subject=subject)
        return bool(self._call(self._stub.RemoveFromFaceIndex, request).removed)

    def search(self, image: bytes, *, k: int = 5, threshold: float | None = None) -> list[FaceMatch]:
        """Enrolled subjects whose face is within ``threshold`` of the face in ``image``, nearest first.

        Raises :class:`~verifykit.InvalidInput` when the photo has no usable face (the reason is
        in the message and ``field`` is ``"image"``), or when ``k`` or ``threshold`` is beyond the
        sidecar's caps (``threshold`` at most the verification threshold); and
        :class:`~verifykit.RateLimited` when this service has searched too often.
        """
        from .face import FaceMatch

        request = face_pb2.SearchFaceIndexRequest(image=image, top_k=k)
        if threshold is not None:
            request.max_distance = threshold
        response = self._call(self._stub.SearchFaceIndex, request)
        if not response.ok:
            reason = enum_from_proto(Reason, response.reason)
            raise InvalidInput(
                f"no usable face in the photo ({reason.value if reason else 'unknown reason'})", field="image"
            )
        return [FaceMatch(m.subject, m.distance) for m in response.matches]


class Client:
    """A connection to one sidecar.

    ``target`` is ``host:port``. Pass ``root_certificates`` (PEM) for TLS, plus
    ``certificate_chain`` and ``private_key`` for mutual TLS, or ``tls=True`` for TLS checked
    against the system's trusted CAs; ``token`` when the sidecar requires a bearer token.
    ``timeout`` is every call's deadline in seconds (None: none).

    A token is refused (:class:`~verifykit.ConfigurationError`) on a plaintext channel to
    anything but loopback (127.0.0.0/8, ``::1``, ``localhost``, a Unix socket): whoever sees
    it in transit could make calls as this service.
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        token: str | None = None,
        tls: bool | None = None,
        root_certificates: bytes | None = None,
        certificate_chain: bytes | None = None,
        private_key: bytes | None = None,
        server_name: str | None = None,
        timeout: float | None = 30.0,
        max_message_bytes: int = 16 * MiB,
    ) -> None:
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        if server_name is not None:
            options.append(("grpc.ssl_target_name_override", server_name))
        certificates = root_certificates is not None or certificate_chain is not None
        if tls is None:
            tls = certificates
        elif not tls and certificates:
            raise ConfigurationError("certificates were given but tls=False")
        if token and not tls and not is_loopback_target(target):
            raise ConfigurationError(
                "a bearer token would cross the network in clear text: use TLS "
                "(root_certificates or tls=True) or a loopback target"
            )
        if tls:
            credentials = grpc.ssl_channel_credentials(root_certificates, private_key, certificate_chain)
            self.channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self.channel = grpc.insecure_channel(target, options=options)
        self.target = target
        self.timeout = timeout
        self._metadata: Sequence[tuple[str, str]] = (("authorization", f"Bearer {token}"),) if token else ()
        self.email_otp = EmailOTPClient(self, self.channel)
        self.password = PasswordClient(self, self.channel)
        self.face = FaceClient(self, self.channel)
        self._health = health_pb2_grpc.HealthStub(self.channel)

    def health(self, service: str = "") -> str:
        """The sidecar's health for ``service`` ("" for the whole server): "SERVING", "NOT_SERVING", …"""
        request = health_pb2.HealthCheckRequest(service=service)
        try:
            response = self._health.Check(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise _translate(error) from None
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until the channel connects; raise :class:`SidecarError` after ``timeout`` seconds."""
        try:
            grpc.channel_ready_future(self.channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise SidecarError(f"no sidecar answered within {timeout:.0f} s", status="UNAVAILABLE") from None

    def close(self) -> None:
        self.channel.close()

    def __repr__(self) -> str:
        return f"Client({self.target!r})"  # never the token

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

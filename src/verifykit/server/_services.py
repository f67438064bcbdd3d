"""The servicers: parse a request, call the library, translate the answer. No rules live here.

Errors propagate as library exceptions; :class:`._interceptors.CallInterceptor` turns them into
statuses. CPU-heavy calls go through the :class:`._pool.HeavyPool`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc

from .._subject import validate_subject
from .._verdict import Reason
from ..otp import EmailOTP
from ._convert import challenge_to_proto, enum_to_proto, verdict_to_proto
from ._pb import (
    common_pb2,
    email_otp_pb2,
    email_otp_pb2_grpc,
    face_pb2,
    face_pb2_grpc,
    password_pb2,
    password_pb2_grpc,
)
from ._pool import HeavyPool

if TYPE_CHECKING:
    from ..face import FaceIndex, FaceVerifier
    from ..password import PasswordVerifier

__all__ = ["EmailOtpServicer", "FaceServicer", "PasswordServicer"]


def _client(request: Any) -> str | None:
    """The end user's address the calling service passed on, or None."""
    address: str = request.client_address
    return address or None


def _caller(context: grpc.ServicerContext) -> str:
    """Who is calling: the common name of its client certificate under mutual TLS, else its
    address without the port (a new connection must not make a new caller)."""
    names = context.auth_context().get("x509_common_name") or ()
    if names:
        return "cn:" + bytes(names[0]).decode("utf-8", "replace")
    peer = str(context.peer())
    if peer.startswith(("ipv4:", "ipv6:")):
        return peer.rpartition(":")[0]
    return peer


class EmailOtpServicer(email_otp_pb2_grpc.EmailOtpServiceServicer):
    def __init__(self, otp: EmailOTP) -> None:
        self._otp = otp

    def StartEmailOtp(
        self, request: email_otp_pb2.StartEmailOtpRequest, context: grpc.ServicerContext
    ) -> email_otp_pb2.StartEmailOtpResponse:
        challenge = self._otp.start(
            request.subject, request.email, locale=request.locale or None, client=_client(request)
        )
        return email_otp_pb2.StartEmailOtpResponse(challenge=challenge_to_proto(challenge))

    def CheckEmailOtp(
        self, request: email_otp_pb2.CheckEmailOtpRequest, context: grpc.ServicerContext
    ) -> email_otp_pb2.CheckEmailOtpResponse:
        verdict = self._otp.check(request.challenge_id, request.code, client=_client(request))
        return email_otp_pb2.CheckEmailOtpResponse(verdict=verdict_to_proto(verdict))

    def ResendEmailOtp(
        self, request: email_otp_pb2.ResendEmailOtpRequest, context: grpc.ServicerContext
    ) -> email_otp_pb2.ResendEmailOtpResponse:
        challenge = self._otp.resend(request.challenge_id, client=_client(request))
        return email_otp_pb2.ResendEmailOtpResponse(challenge=challenge_to_proto(challenge))

    def CancelEmailOtp(
        self, request: email_otp_pb2.CancelEmailOtpRequest, context: grpc.ServicerContext
    ) -> email_otp_pb2.CancelEmailOtpResponse:
        return email_otp_pb2.CancelEmailOtpResponse(
            challenge=challenge_to_proto(self._otp.cancel(request.challenge_id))
        )

    def GetEmailOtpStatus(
        self, request: email_otp_pb2.GetEmailOtpStatusRequest, context: grpc.ServicerContext
    ) -> email_otp_pb2.GetEmailOtpStatusResponse:
        return email_otp_pb2.GetEmailOtpStatusResponse(
            challenge=challenge_to_proto(self._otp.status(request.challenge_id))
        )


class FaceServicer(face_pb2_grpc.FaceServiceServicer):
    """Face work (decode, detect, encode) runs on the heavy pool; index edits are cheap and stay here.

    Index calls carry no end-user address: the index is policed per calling service (limits
    and audit under :func:`_caller`), since the risk is a token holder combing or editing it.
    """

    def __init__(self, verifier: FaceVerifier, index: FaceIndex, pool: HeavyPool) -> None:
        self._verifier = verifier
        self._index = index
        self._pool = pool

    def EnrollFace(
        self, request: face_pb2.EnrollFaceRequest, context: grpc.ServicerContext
    ) -> face_pb2.EnrollFaceResponse:
        enrollment = self._pool.run(
            context.time_remaining(), self._verifier.enroll, request.subject, request.image
        )
        return face_pb2.EnrollFaceResponse(
            ok=enrollment.ok,
            reason=enum_to_proto(enrollment.reason),  # type: ignore[arg-type]
            template=enrollment.template or b"",
            details=dict(enrollment.details),
        )

    def VerifyFace(
        self, request: face_pb2.VerifyFaceRequest, context: grpc.ServicerContext
    ) -> face_pb2.VerifyFaceResponse:
        verdict = self._pool.run(
            context.time_remaining(),
            self._verifier.verify,
            request.subject,
            request.template,
            request.image,
            client=_client(request),
        )
        return face_pb2.VerifyFaceResponse(verdict=verdict_to_proto(verdict))

    def AddToFaceIndex(
        self, request: face_pb2.AddToFaceIndexRequest, context: grpc.ServicerContext
    ) -> face_pb2.AddToFaceIndexResponse:
        self._index.add(validate_subject(request.subject), request.template, client=_caller(context))
        return face_pb2.AddToFaceIndexResponse(size=len(self._index))

    def RemoveFromFaceIndex(
        self, request: face_pb2.RemoveFromFaceIndexRequest, context: grpc.ServicerContext
    ) -> face_pb2.RemoveFromFaceIndexResponse:
        removed = self._index.remove(validate_subject(request.subject), client=_caller(context))
        return face_pb2.RemoveFromFaceIndexResponse(removed=removed, size=len(self._index))

    def SearchFaceIndex(
        self, request: face_pb2.SearchFaceIndexRequest, context: grpc.ServicerContext
    ) -> face_pb2.SearchFaceIndexResponse:
        found, encoding = self._pool.run(context.time_remaining(), self._verifier.encode, request.image)
        if encoding is None:
            reason = found.reason if found.reason is not None else Reason.NO_FACE
            return face_pb2.SearchFaceIndexResponse(ok=False, reason=enum_to_proto(reason))  # type: ignore[arg-type]
        matches = self._index.search(
            encoding,
            k=request.top_k if request.top_k else 5,
            threshold=request.max_distance if request.HasField("max_distance") else None,
            client=_caller(context),
        )
        return face_pb2.SearchFaceIndexResponse(
            ok=True,
            reason=common_pb2.REASON_APPROVED,
            matches=[face_pb2.FaceMatch(subject=m.key, distance=m.distance) for m in matches],
        )


class PasswordServicer(password_pb2_grpc.PasswordServiceServicer):
    """argon2 runs on the heavy pool; the policy check is cheap and stays on the handler thread."""

    def __init__(self, verifier: PasswordVerifier, pool: HeavyPool) -> None:
        self._verifier = verifier
        self._pool = pool

    def HashPassword(
        self, request: password_pb2.HashPasswordRequest, context: grpc.ServicerContext
    ) -> password_pb2.HashPasswordResponse:
        hashed = self._pool.run(
            context.time_remaining(),
            self._verifier.hash,
            request.password,
            subject=request.subject or None,
            context=tuple(request.context),
        )
        return password_pb2.HashPasswordResponse(hash=hashed)

    def VerifyPassword(
        self, request: password_pb2.VerifyPasswordRequest, context: grpc.ServicerContext
    ) -> password_pb2.VerifyPasswordResponse:
        verdict = self._pool.run(
            context.time_remaining(),
            self._verifier.verify,
            request.subject,
            request.stored_hash if request.HasField("stored_hash") else None,
            request.password,
            client=_client(request),
        )
        return password_pb2.VerifyPasswordResponse(verdict=verdict_to_proto(verdict))

    def CheckPasswordPolicy(
        self, request: password_pb2.CheckPasswordPolicyRequest, context: grpc.ServicerContext
    ) -> password_pb2.CheckPasswordPolicyResponse:
        result = self._verifier.check_policy(
            request.password, subject=request.subject or None, context=tuple(request.context)
        )
        return password_pb2.CheckPasswordPolicyResponse(
            ok=result.ok, rule=result.rule or "", message=result.message
        )

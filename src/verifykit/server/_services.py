"""The servicers: parse a request, await the :mod:`verifykit.aio` verifier, translate the
answer with :mod:`verifykit._wire`. No rules live here.

Errors propagate as library exceptions; :class:`._interceptors.CallInterceptor` turns them into
statuses. CPU-heavy calls pass the :class:`._pool.HeavyGate`; the face index is the asyncio one,
whose searches and edits wait for its lock and run its matrix product beside the loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from grpc.aio import ServicerContext as Context

from .._errors import InvalidInput
from .._subject import validate_subject
from .._verdict import Reason, Way
from .._wire import (
    challenge_to_proto,
    common_pb2,
    delivery_from_proto,
    email_otp_pb2,
    email_otp_pb2_grpc,
    enum_from_proto,
    enum_to_proto,
    face_pb2,
    face_pb2_grpc,
    ladder_pb2,
    ladder_pb2_grpc,
    offer_to_proto,
    passkey_credential_to_proto,
    passkey_enrollment_to_proto,
    passkey_options_to_proto,
    passkey_pb2,
    passkey_pb2_grpc,
    passkey_verdict_to_proto,
    password_pb2,
    password_pb2_grpc,
    recovery_pb2,
    recovery_pb2_grpc,
    redemption_to_proto,
    totp_pb2,
    totp_pb2_grpc,
    verdict_to_proto,
    voucher_inspection_to_proto,
    voucher_pb2,
    voucher_pb2_grpc,
    voucher_redemption_to_proto,
)
from ._pool import HeavyGate

if TYPE_CHECKING:
    from ..aio import (
        EmailOTP,
        FaceIndex,
        FaceVerifier,
        Ladder,
        PasskeyVerifier,
        PasswordVerifier,
        RecoveryCodes,
        TOTPVerifier,
        Vouchers,
    )

__all__ = [
    "EmailOtpServicer",
    "FaceServicer",
    "LadderServicer",
    "PasskeyServicer",
    "PasswordServicer",
    "RecoveryCodeServicer",
    "TotpServicer",
    "VoucherServicer",
    "enrolled_ways",
]


def _client(request: Any) -> str | None:
    """The end user's address the calling service passed on, or None."""
    address: str = request.client_address
    return address or None


# The ways in the person has set up, as the current email-code call says (``enrolled``): the
# verifier asks ``ways_in(subject)`` while it runs the call, in the call's own task.
_ENROLLED: ContextVar[tuple[Way, ...]] = ContextVar("verifykit_enrolled", default=())
# More entries than there are ways is a caller's mistake, not a list to walk.
_MAX_ENROLLED = 32


def enrolled_ways(_subject: str) -> tuple[Way, ...]:
    """``ways_in`` for the sidecar's email codes: what the call said the person has, then the
    counter (always open). The email code itself is offered by the challenge as a new code."""
    ways = [w for w in _ENROLLED.get() if w is not Way.EMAIL_CODE]
    return tuple(dict.fromkeys([*ways, Way.COUNTER_VOUCHER]))


def _parse_enrolled(numbers: Sequence[int]) -> tuple[Way, ...]:
    if len(numbers) > _MAX_ENROLLED:
        raise InvalidInput(f"enrolled lists at most {_MAX_ENROLLED} ways in", field="enrolled")
    ways = [enum_from_proto(Way, number) for number in numbers]
    if any(way is None for way in ways):
        raise InvalidInput("enrolled holds a way in this server does not know", field="enrolled")
    return tuple(way for way in ways if way is not None)


@contextmanager
def _offering(request: Any) -> Iterator[None]:
    """Run one email-code call with the ways in its request names."""
    token = _ENROLLED.set(_parse_enrolled(request.enrolled))
    try:
        yield
    finally:
        _ENROLLED.reset(token)


def _caller(context: Context) -> str:
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

    async def StartEmailOtp(
        self, request: email_otp_pb2.StartEmailOtpRequest, context: Context
    ) -> email_otp_pb2.StartEmailOtpResponse:
        with _offering(request):
            challenge = await self._otp.start(
                request.subject, request.email, locale=request.locale or None, client=_client(request)
            )
        return email_otp_pb2.StartEmailOtpResponse(challenge=challenge_to_proto(challenge))

    async def CheckEmailOtp(
        self, request: email_otp_pb2.CheckEmailOtpRequest, context: Context
    ) -> email_otp_pb2.CheckEmailOtpResponse:
        with _offering(request):
            verdict = await self._otp.check(request.challenge_id, request.code, client=_client(request))
        send = int(verdict.details.get("send", "0")) if verdict.approved else 0
        return email_otp_pb2.CheckEmailOtpResponse(verdict=verdict_to_proto(verdict), send=send)

    async def ResendEmailOtp(
        self, request: email_otp_pb2.ResendEmailOtpRequest, context: Context
    ) -> email_otp_pb2.ResendEmailOtpResponse:
        with _offering(request):
            challenge = await self._otp.resend(request.challenge_id, client=_client(request))
        return email_otp_pb2.ResendEmailOtpResponse(challenge=challenge_to_proto(challenge))

    async def CancelEmailOtp(
        self, request: email_otp_pb2.CancelEmailOtpRequest, context: Context
    ) -> email_otp_pb2.CancelEmailOtpResponse:
        challenge = await self._otp.cancel(request.challenge_id)
        return email_otp_pb2.CancelEmailOtpResponse(challenge=challenge_to_proto(challenge))

    async def GetEmailOtpStatus(
        self, request: email_otp_pb2.GetEmailOtpStatusRequest, context: Context
    ) -> email_otp_pb2.GetEmailOtpStatusResponse:
        with _offering(request):
            challenge = await self._otp.status(request.challenge_id)
        return email_otp_pb2.GetEmailOtpStatusResponse(challenge=challenge_to_proto(challenge))


class FaceServicer(face_pb2_grpc.FaceServiceServicer):
    """Face work (decode, detect, encode) passes the heavy gate; index edits stay cheap.

    Index calls carry no end-user address: the index is policed per calling service (limits
    and audit under :func:`_caller`), since the risk is a token holder combing or editing it.
    """

    def __init__(self, verifier: FaceVerifier, index: FaceIndex, gate: HeavyGate) -> None:
        self._verifier = verifier
        self._index = index
        self._gate = gate

    async def EnrollFace(
        self, request: face_pb2.EnrollFaceRequest, context: Context
    ) -> face_pb2.EnrollFaceResponse:
        enrollment = await self._gate.run(
            context.time_remaining(), lambda: self._verifier.enroll(request.subject, request.image)
        )
        return face_pb2.EnrollFaceResponse(
            approved=enrollment.approved,
            reason=enum_to_proto(enrollment.reason),  # type: ignore[arg-type]
            template=enrollment.stored or b"",
            details=dict(enrollment.details),
        )

    async def VerifyFace(
        self, request: face_pb2.VerifyFaceRequest, context: Context
    ) -> face_pb2.VerifyFaceResponse:
        verdict = await self._gate.run(
            context.time_remaining(),
            lambda: self._verifier.verify(
                request.subject, request.template, request.image, client=_client(request)
            ),
        )
        return face_pb2.VerifyFaceResponse(verdict=verdict_to_proto(verdict))

    async def AddToFaceIndex(
        self, request: face_pb2.AddToFaceIndexRequest, context: Context
    ) -> face_pb2.AddToFaceIndexResponse:
        subject = validate_subject(request.subject)
        await self._index.add(subject, request.template, client=_caller(context))
        return face_pb2.AddToFaceIndexResponse(size=len(self._index))

    async def RemoveFromFaceIndex(
        self, request: face_pb2.RemoveFromFaceIndexRequest, context: Context
    ) -> face_pb2.RemoveFromFaceIndexResponse:
        subject = validate_subject(request.subject)
        removed = await self._index.remove(subject, client=_caller(context))
        return face_pb2.RemoveFromFaceIndexResponse(removed=removed, size=len(self._index))

    async def SearchFaceIndex(
        self, request: face_pb2.SearchFaceIndexRequest, context: Context
    ) -> face_pb2.SearchFaceIndexResponse:
        found, encoding = await self._gate.run(
            context.time_remaining(), lambda: self._verifier.encode(request.image)
        )
        if encoding is None:
            reason = found.reason if found.reason is not None else Reason.NO_FACE
            return face_pb2.SearchFaceIndexResponse(approved=False, reason=enum_to_proto(reason))  # type: ignore[arg-type]
        matches = await self._index.search(
            encoding,
            k=request.top_k if request.top_k else 5,
            threshold=request.max_distance if request.HasField("max_distance") else None,
            client=_caller(context),
        )
        return face_pb2.SearchFaceIndexResponse(
            approved=True,
            reason=common_pb2.REASON_APPROVED,
            matches=[face_pb2.FaceMatch(subject=m.key, distance=m.distance) for m in matches],
        )


class PasswordServicer(password_pb2_grpc.PasswordServiceServicer):
    """argon2 passes the heavy gate; the policy check is cheap and stays on the loop."""

    def __init__(self, verifier: PasswordVerifier, gate: HeavyGate) -> None:
        self._verifier = verifier
        self._gate = gate

    async def HashPassword(
        self, request: password_pb2.HashPasswordRequest, context: Context
    ) -> password_pb2.HashPasswordResponse:
        hashed = await self._gate.run(
            context.time_remaining(),
            lambda: self._verifier.hash(
                request.password, subject=request.subject or None, context=tuple(request.context)
            ),
        )
        return password_pb2.HashPasswordResponse(hash=hashed)

    async def VerifyPassword(
        self, request: password_pb2.VerifyPasswordRequest, context: Context
    ) -> password_pb2.VerifyPasswordResponse:
        stored = request.stored_hash if request.HasField("stored_hash") else None
        verdict = await self._gate.run(
            context.time_remaining(),
            lambda: self._verifier.verify(request.subject, stored, request.password, client=_client(request)),
        )
        return password_pb2.VerifyPasswordResponse(verdict=verdict_to_proto(verdict))

    async def CheckPasswordPolicy(
        self, request: password_pb2.CheckPasswordPolicyRequest, context: Context
    ) -> password_pb2.CheckPasswordPolicyResponse:
        result = self._verifier.check_policy(
            request.password, subject=request.subject or None, context=tuple(request.context)
        )
        return password_pb2.CheckPasswordPolicyResponse(
            approved=result.approved,
            reason=enum_to_proto(result.reason),  # type: ignore[arg-type]
            message=result.message,
        )


class TotpServicer(totp_pb2_grpc.TotpServiceServicer):
    """Authenticator-app codes. Confirming an enrolment is a verify of the first code: the same
    lockout, replay mark and limits, so a confirmation cannot be used to probe more cheaply."""

    def __init__(self, verifier: TOTPVerifier) -> None:
        self._totp = verifier

    async def EnrollTotp(
        self, request: totp_pb2.EnrollTotpRequest, context: Context
    ) -> totp_pb2.EnrollTotpResponse:
        enrollment = await self._totp.enroll(request.subject, request.account_name)
        return totp_pb2.EnrollTotpResponse(
            stored=enrollment.stored,
            provisioning_uri=enrollment.provisioning_uri,
            secret_base32=enrollment.secret_base32,
        )

    async def ConfirmTotpEnrollment(
        self, request: totp_pb2.ConfirmTotpEnrollmentRequest, context: Context
    ) -> totp_pb2.ConfirmTotpEnrollmentResponse:
        verdict = await self._totp.verify(
            request.subject, request.stored, request.code, client=_client(request)
        )
        return totp_pb2.ConfirmTotpEnrollmentResponse(verdict=verdict_to_proto(verdict))

    async def VerifyTotp(
        self, request: totp_pb2.VerifyTotpRequest, context: Context
    ) -> totp_pb2.VerifyTotpResponse:
        verdict = await self._totp.verify(
            request.subject, request.stored, request.code, client=_client(request)
        )
        return totp_pb2.VerifyTotpResponse(verdict=verdict_to_proto(verdict))

    async def RemoveTotp(
        self, request: totp_pb2.RemoveTotpRequest, context: Context
    ) -> totp_pb2.RemoveTotpResponse:
        await self._totp.remove(request.subject, request.stored)
        return totp_pb2.RemoveTotpResponse(removed=True)


class PasskeyServicer(passkey_pb2_grpc.PasskeyServiceServicer):
    """Passkeys (WebAuthn). Checking a response is one signature verification, cheap like a TOTP
    code, so it stays on the loop; ``DescribePasskey`` reads a stored credential without the store."""

    def __init__(self, verifier: PasskeyVerifier) -> None:
        self._passkeys = verifier

    async def BeginPasskeyRegistration(
        self, request: passkey_pb2.BeginPasskeyRegistrationRequest, context: Context
    ) -> passkey_pb2.BeginPasskeyRegistrationResponse:
        options = await self._passkeys.registration_options(
            request.subject,
            user_name=request.user_name,
            display_name=request.display_name,
            exclude=list(request.exclude),
            client=_client(request),
        )
        return passkey_pb2.BeginPasskeyRegistrationResponse(options=passkey_options_to_proto(options))

    async def CompletePasskeyRegistration(
        self, request: passkey_pb2.CompletePasskeyRegistrationRequest, context: Context
    ) -> passkey_pb2.CompletePasskeyRegistrationResponse:
        enrollment = await self._passkeys.register(
            request.subject, request.challenge_id, request.response_json, client=_client(request)
        )
        return passkey_enrollment_to_proto(enrollment)

    async def BeginPasskeySignIn(
        self, request: passkey_pb2.BeginPasskeySignInRequest, context: Context
    ) -> passkey_pb2.BeginPasskeySignInResponse:
        options = await self._passkeys.authentication_options(
            request.subject, credentials=list(request.credentials), client=_client(request)
        )
        return passkey_pb2.BeginPasskeySignInResponse(options=passkey_options_to_proto(options))

    async def VerifyPasskey(
        self, request: passkey_pb2.VerifyPasskeyRequest, context: Context
    ) -> passkey_pb2.VerifyPasskeyResponse:
        verdict = await self._passkeys.verify(
            request.subject,
            request.challenge_id,
            request.response_json,
            credentials=list(request.credentials),
            client=_client(request),
        )
        return passkey_verdict_to_proto(verdict)

    async def DescribePasskey(
        self, request: passkey_pb2.DescribePasskeyRequest, context: Context
    ) -> passkey_pb2.DescribePasskeyResponse:
        credential = self._passkeys.credential(request.subject, request.stored)
        return passkey_pb2.DescribePasskeyResponse(credential=passkey_credential_to_proto(credential))


class RecoveryCodeServicer(recovery_pb2_grpc.RecoveryCodeServiceServicer):
    def __init__(self, codes: RecoveryCodes) -> None:
        self._codes = codes

    async def GenerateRecoveryCodes(
        self, request: recovery_pb2.GenerateRecoveryCodesRequest, context: Context
    ) -> recovery_pb2.GenerateRecoveryCodesResponse:
        fresh = await self._codes.generate(request.subject)
        return recovery_pb2.GenerateRecoveryCodesResponse(codes=fresh.codes, stored=fresh.stored)

    async def RedeemRecoveryCode(
        self, request: recovery_pb2.RedeemRecoveryCodeRequest, context: Context
    ) -> recovery_pb2.RedeemRecoveryCodeResponse:
        verdict = await self._codes.redeem(
            request.subject, request.stored, request.code, client=_client(request)
        )
        return redemption_to_proto(verdict)

    async def CountRecoveryCodes(
        self, request: recovery_pb2.CountRecoveryCodesRequest, context: Context
    ) -> recovery_pb2.CountRecoveryCodesResponse:
        return recovery_pb2.CountRecoveryCodesResponse(remaining=self._codes.count(request.stored))


class LadderServicer(ladder_pb2_grpc.LadderServiceServicer):
    def __init__(self, ladder: Ladder) -> None:
        self._ladder = ladder

    async def GetWaysIn(
        self, request: ladder_pb2.GetWaysInRequest, context: Context
    ) -> ladder_pb2.GetWaysInResponse:
        enrolled = _parse_enrolled(request.enrolled)
        if request.level not in (0, 1, 2, 3):
            raise InvalidInput("level is not an assurance level this server knows", field="level")
        if request.passkey_level not in (0, 2, 3):
            raise InvalidInput("passkey_level is AAL2 or AAL3", field="passkey_level")
        offer = await self._ladder.ways_in(
            request.subject,
            enrolled,
            delivery=delivery_from_proto(request.delivery) if request.delivery in (0, 1, 2, 3) else "unknown",
            level=request.level or None,
            passkey_level=request.passkey_level or None,
        )
        return offer_to_proto(offer)


class VoucherServicer(voucher_pb2_grpc.VoucherServiceServicer):
    """Counter vouchers. A refused voucher is an answer (the refusal says why), never a status:
    only faults of the sidecar itself (store, audit log, registry file) are errors."""

    def __init__(self, vouchers: Vouchers) -> None:
        self._vouchers = vouchers

    async def RedeemVoucher(
        self, request: voucher_pb2.RedeemVoucherRequest, context: Context
    ) -> voucher_pb2.RedeemVoucherResponse:
        redemption = await self._vouchers.redeem(request.subject, request.voucher, client=_client(request))
        return voucher_redemption_to_proto(redemption)

    async def InspectVoucher(
        self, request: voucher_pb2.InspectVoucherRequest, context: Context
    ) -> voucher_pb2.InspectVoucherResponse:
        subject = request.subject if request.HasField("subject") else None
        inspection = await self._vouchers.inspect(request.voucher, subject=subject)
        return voucher_inspection_to_proto(inspection)

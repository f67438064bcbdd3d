"""A small typed client for the verifykit sidecar (``pip install 'verifykit[grpc]'``): :class:`Client`
for blocking code, :class:`AsyncClient` for asyncio, with the same methods.

It mirrors the library: ``client.email_otp.start(...)`` returns the same
:class:`~verifykit.otp.Challenge`, ``check`` the same :class:`~verifykit.Verdict`, and a
refusal raises the same exception the library would (:class:`~verifykit.RateLimited` with
``retry_after``, :class:`~verifykit.ChallengeNotFound`, …), so code moves between the two
without change. Failures of the sidecar itself raise :class:`SidecarError`.

>>> with Client("127.0.0.1:50051") as client:
...     challenge = client.email_otp.start("applicant-42", "ana@example.co.id")
...     verdict = client.email_otp.check(challenge.id, "123456")

>>> async with AsyncClient("127.0.0.1:50051") as client:  # doctest: +SKIP
...     challenge = await client.email_otp.start("applicant-42", "ana@example.co.id")

Each request is built, and each answer read, by one function shared by both clients; only the
call itself differs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import grpc.aio
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from ._errors import ConfigurationError, DeadlineExceeded, InvalidInput, SidecarError, VerifyKitError
from ._verdict import Reason, Verdict, Way
from ._wire import (
    RETRY_AFTER,
    challenge_from_proto,
    delivery_to_proto,
    email_otp_pb2,
    email_otp_pb2_grpc,
    enum_from_proto,
    error_from_details,
    face_pb2,
    face_pb2_grpc,
    is_loopback_target,
    ladder_pb2,
    ladder_pb2_grpc,
    offer_from_proto,
    passkey_credential_from_proto,
    passkey_enrollment_from_proto,
    passkey_options_from_proto,
    passkey_pb2,
    passkey_pb2_grpc,
    passkey_verdict_from_proto,
    password_pb2,
    password_pb2_grpc,
    recovery_pb2,
    recovery_pb2_grpc,
    redemption_from_proto,
    totp_pb2,
    totp_pb2_grpc,
    verdict_from_proto,
    voucher_inspection_from_proto,
    voucher_pb2,
    voucher_pb2_grpc,
    voucher_redemption_from_proto,
)
from .otp import Challenge

if TYPE_CHECKING:
    from .face import Enrollment, FaceMatch
    from .fallbacks import RecoveryCodeSet, TOTPEnrollment
    from .ladder import Offer
    from .passkey import PasskeyCredential, PasskeyEnrollment, PasskeyOptions
    from .password import PolicyResult
    from .vouchers import Inspection, Redemption

__all__ = [
    "AsyncClient",
    "AsyncEmailOTPClient",
    "AsyncFaceClient",
    "AsyncLadderClient",
    "AsyncPasskeyClient",
    "AsyncPasswordClient",
    "AsyncRecoveryCodesClient",
    "AsyncTOTPClient",
    "AsyncVouchersClient",
    "Client",
    "DeadlineExceeded",
    "EmailOTPClient",
    "FaceClient",
    "LadderClient",
    "PasskeyClient",
    "PasswordClient",
    "RecoveryCodesClient",
    "SidecarError",
    "TOTPClient",
    "VouchersClient",
]

DEFAULT_TARGET = "127.0.0.1:50051"
MiB = 1024 * 1024
R = TypeVar("R")


def _translate(error: grpc.RpcError) -> VerifyKitError:
    """The library exception a failed call stands for."""
    code: grpc.StatusCode = error.code()
    message: str = error.details() or code.name.lower()
    trailers = tuple(error.trailing_metadata() or ())
    details: list[error_details_pb2.ErrorInfo | error_details_pb2.RetryInfo] = []
    try:
        status = rpc_status.from_call(_Ended(code, message, trailers))
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
        return DeadlineExceeded(message)
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidInput(message)
    retry = next((v for k, v in trailers if k == RETRY_AFTER), None)
    return SidecarError(message, status=code.name, retry_after=float(retry) if retry is not None else None)


@dataclass(frozen=True, slots=True)
class _Ended:
    """A finished call as ``rpc_status.from_call`` reads it, from either flavour's error."""

    _code: grpc.StatusCode
    _details: str
    _trailers: tuple[tuple[str, str | bytes], ...]

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return self._trailers


# -- requests and answers, shared by both clients ----------------------------------------------------


def _enrolled(enrolled: Iterable[Way | str]) -> list[int]:
    """The ways a person has, as proto numbers; a name this side does not know is the caller's mistake."""
    from ._wire import enum_to_proto

    if isinstance(enrolled, str):
        raise InvalidInput("enrolled is a list of ways in, not one string", field="enrolled")
    try:
        return [enum_to_proto(Way(w)) for w in enrolled]
    except ValueError:
        names = ", ".join(w.value for w in Way)
        raise InvalidInput(f"enrolled names ways in: {names}", field="enrolled") from None


def _start(
    subject: str, email: str, locale: str | None, client: str | None, enrolled: Iterable[Way | str]
) -> Any:
    return email_otp_pb2.StartEmailOtpRequest(
        subject=subject,
        email=email,
        locale=locale or "",
        client_address=client or "",
        enrolled=_enrolled(enrolled),  # type: ignore[arg-type]
    )


def _check(challenge_id: str, code: str, client: str | None, enrolled: Iterable[Way | str]) -> Any:
    return email_otp_pb2.CheckEmailOtpRequest(
        challenge_id=challenge_id,
        code=code,
        client_address=client or "",
        enrolled=_enrolled(enrolled),  # type: ignore[arg-type]
    )


def _resend(challenge_id: str, client: str | None, enrolled: Iterable[Way | str]) -> Any:
    return email_otp_pb2.ResendEmailOtpRequest(
        challenge_id=challenge_id,
        client_address=client or "",
        enrolled=_enrolled(enrolled),  # type: ignore[arg-type]
    )


def _status(challenge_id: str, enrolled: Iterable[Way | str]) -> Any:
    return email_otp_pb2.GetEmailOtpStatusRequest(challenge_id=challenge_id, enrolled=_enrolled(enrolled))  # type: ignore[arg-type]


def _hash(password: str, subject: str | None, context: Sequence[str]) -> Any:
    return password_pb2.HashPasswordRequest(password=password, subject=subject or "", context=list(context))


def _verify_password(subject: str, stored_hash: str | None, password: str, client: str | None) -> Any:
    request = password_pb2.VerifyPasswordRequest(
        subject=subject, password=password, client_address=client or ""
    )
    if stored_hash is not None:
        request.stored_hash = stored_hash
    return request


def _policy_request(password: str, subject: str | None, context: Sequence[str]) -> Any:
    return password_pb2.CheckPasswordPolicyRequest(
        password=password, subject=subject or "", context=list(context)
    )


def _policy(response: Any) -> PolicyResult:
    from .password import PolicyResult

    reason = enum_from_proto(Reason, response.reason) or (
        Reason.APPROVED if response.approved else Reason.DENIED
    )
    return PolicyResult(approved=response.approved, reason=reason, message=response.message)


def _verify_face(subject: str, template: bytes, image: bytes, client: str | None) -> Any:
    return face_pb2.VerifyFaceRequest(
        subject=subject, template=template, image=image, client_address=client or ""
    )


def _enrollment(response: Any) -> Enrollment:
    from .face import Enrollment

    reason = enum_from_proto(Reason, response.reason) or (
        Reason.APPROVED if response.approved else Reason.DENIED
    )
    return Enrollment(
        approved=response.approved,
        reason=reason,
        stored=response.template or None,
        faces=int(response.details.get("faces", "1" if response.approved else "0")),
        details=dict(response.details),
    )


def _search(image: bytes, k: int, threshold: float | None) -> Any:
    request = face_pb2.SearchFaceIndexRequest(image=image, top_k=k)
    if threshold is not None:
        request.max_distance = threshold
    return request


def _matches(response: Any) -> list[FaceMatch]:
    from .face import FaceMatch

    if not response.approved:
        reason = enum_from_proto(Reason, response.reason)
        raise InvalidInput(
            f"no usable face in the photo ({reason.value if reason else 'unknown reason'})", field="image"
        )
    return [FaceMatch(m.subject, m.distance) for m in response.matches]


def _totp_enroll(subject: str, account_name: str) -> Any:
    return totp_pb2.EnrollTotpRequest(subject=subject, account_name=account_name)


def _totp_enrollment(response: Any) -> TOTPEnrollment:
    from .fallbacks import TOTPEnrollment

    return TOTPEnrollment(
        stored=response.stored,
        provisioning_uri=response.provisioning_uri,
        secret_base32=response.secret_base32,
    )


def _totp_confirm(subject: str, stored: bytes, code: str, client: str | None) -> Any:
    return totp_pb2.ConfirmTotpEnrollmentRequest(
        subject=subject, stored=stored, code=code, client_address=client or ""
    )


def _totp_verify(subject: str, stored: bytes, code: str, client: str | None) -> Any:
    return totp_pb2.VerifyTotpRequest(subject=subject, stored=stored, code=code, client_address=client or "")


def _totp_remove(subject: str, stored: bytes) -> Any:
    return totp_pb2.RemoveTotpRequest(subject=subject, stored=stored)


def _code_set(response: Any) -> RecoveryCodeSet:
    from .fallbacks import RecoveryCodeSet

    return RecoveryCodeSet(codes=list(response.codes), stored=response.stored)


def _redeem(subject: str, stored: str, code: str, client: str | None) -> Any:
    return recovery_pb2.RedeemRecoveryCodeRequest(
        subject=subject, stored=stored, code=code, client_address=client or ""
    )


def _level(level: int | str | None, name: str) -> int:
    from .ladder import AAL

    try:
        return 0 if level is None else int(AAL[level.upper()] if isinstance(level, str) else AAL(level))
    except (ValueError, KeyError):
        raise InvalidInput(f"{name} is an AAL (1-3 or 'aal1'-'aal3')", field=name) from None


def _ways_in(
    subject: str,
    enrolled: Iterable[Way | str],
    delivery: str | None,
    level: int | str | None,
    passkey_level: int | str | None,
) -> Any:
    return ladder_pb2.GetWaysInRequest(
        subject=subject,
        enrolled=_enrolled(enrolled),  # type: ignore[arg-type]
        delivery=delivery_to_proto(delivery),  # type: ignore[arg-type]
        level=_level(level, "level"),  # type: ignore[arg-type]
        passkey_level=_level(passkey_level, "passkey_level"),  # type: ignore[arg-type]
    )


def _redeem_voucher(subject: str, voucher: str, client: str | None) -> Any:
    return voucher_pb2.RedeemVoucherRequest(subject=subject, voucher=voucher, client_address=client or "")


def _inspect_voucher(voucher: str, subject: str | None) -> Any:
    request = voucher_pb2.InspectVoucherRequest(voucher=voucher)
    if subject is not None:
        request.subject = subject
    return request


def _passkeys(stored: Sequence[str], name: str) -> list[str]:
    """Stored passkeys as a list; one string is the caller's mistake (it is not a list of them)."""
    if isinstance(stored, str | bytes):
        raise InvalidInput(f"{name} is a sequence of stored passkeys", field=name)
    return list(stored)


def _passkey_registration(
    subject: str, user_name: str, display_name: str, exclude: Sequence[str], client: str | None
) -> Any:
    return passkey_pb2.BeginPasskeyRegistrationRequest(
        subject=subject,
        user_name=user_name,
        display_name=display_name,
        exclude=_passkeys(exclude, "exclude"),
        client_address=client or "",
    )


def _passkey_register(subject: str, challenge_id: str, response_json: str, client: str | None) -> Any:
    return passkey_pb2.CompletePasskeyRegistrationRequest(
        subject=subject, challenge_id=challenge_id, response_json=response_json, client_address=client or ""
    )


def _passkey_sign_in(subject: str, credentials: Sequence[str], client: str | None) -> Any:
    return passkey_pb2.BeginPasskeySignInRequest(
        subject=subject, credentials=_passkeys(credentials, "credentials"), client_address=client or ""
    )


def _passkey_verify(
    subject: str, challenge_id: str, response_json: str, credentials: Sequence[str], client: str | None
) -> Any:
    return passkey_pb2.VerifyPasskeyRequest(
        subject=subject,
        challenge_id=challenge_id,
        response_json=response_json,
        credentials=_passkeys(credentials, "credentials"),
        client_address=client or "",
    )


def _serving(response: Any) -> str:
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


# -- the blocking client -----------------------------------------------------------------------------


class _Stubbed:
    """A service's stub on the owner's channel; each service names its stub in ``_stub_class``."""

    _stub_class: Callable[[Any], Any]

    def __init__(self, owner: _Settings, channel: grpc.Channel | grpc.aio.Channel) -> None:
        self._owner = owner
        self._stub = self._stub_class(channel)


class _Service(_Stubbed):
    """Shared call plumbing: deadline, credentials metadata, error translation."""

    def _call(self, method: Callable[..., R], request: Any) -> R:
        try:
            return method(request, timeout=self._owner.timeout, metadata=self._owner._call_metadata)
        except grpc.RpcError as error:
            raise _translate(error) from None


class _HealthClient(_Service):
    _stub_class = health_pb2_grpc.HealthStub


class EmailOTPClient(_Service):
    """Email one-time codes; the same methods as :class:`verifykit.otp.EmailOTP`."""

    _stub_class = email_otp_pb2_grpc.EmailOtpServiceStub

    def start(
        self,
        subject: str,
        email: str,
        *,
        locale: str | None = None,
        client: str | None = None,
        enrolled: Iterable[Way | str] = (),
    ) -> Challenge:
        """Send a code. ``enrolled``: the other ways in the person has, offered (with the counter)
        when the challenge is in trouble, for example when the mail could not be delivered."""
        response = self._call(self._stub.StartEmailOtp, _start(subject, email, locale, client, enrolled))
        return challenge_from_proto(response.challenge)

    def check(
        self, challenge_id: str, code: str, *, client: str | None = None, enrolled: Iterable[Way | str] = ()
    ) -> Verdict:
        return verdict_from_proto(
            self._call(self._stub.CheckEmailOtp, _check(challenge_id, code, client, enrolled)).verdict
        )

    def resend(
        self, challenge_id: str, *, client: str | None = None, enrolled: Iterable[Way | str] = ()
    ) -> Challenge:
        return challenge_from_proto(
            self._call(self._stub.ResendEmailOtp, _resend(challenge_id, client, enrolled)).challenge
        )

    def cancel(self, challenge_id: str) -> Challenge:
        request = email_otp_pb2.CancelEmailOtpRequest(challenge_id=challenge_id)
        return challenge_from_proto(self._call(self._stub.CancelEmailOtp, request).challenge)

    def status(self, challenge_id: str, *, enrolled: Iterable[Way | str] = ()) -> Challenge:
        request = _status(challenge_id, enrolled)
        return challenge_from_proto(self._call(self._stub.GetEmailOtpStatus, request).challenge)


class PasswordClient(_Service):
    """Passwords; the same methods as :class:`verifykit.password.PasswordVerifier`."""

    _stub_class = password_pb2_grpc.PasswordServiceStub

    def hash(self, password: str, *, subject: str | None = None, context: Sequence[str] = ()) -> str:
        """Check the policy, then hash; raises the policy violation (an ``InvalidInput``) with its rule."""
        return str(self._call(self._stub.HashPassword, _hash(password, subject, context)).hash)

    def verify(
        self, subject: str, stored_hash: str | None, password: str, *, client: str | None = None
    ) -> Verdict:
        """A verdict; ``verdict.stored`` is the hash to store when the old one is outdated."""
        request = _verify_password(subject, stored_hash, password, client)
        return verdict_from_proto(self._call(self._stub.VerifyPassword, request).verdict)

    def check_policy(
        self, password: str, *, subject: str | None = None, context: Sequence[str] = ()
    ) -> PolicyResult:
        return _policy(
            self._call(self._stub.CheckPasswordPolicy, _policy_request(password, subject, context))
        )


class FaceClient(_Service):
    """Face verification; the same methods as :class:`verifykit.face.FaceVerifier` and the index."""

    _stub_class = face_pb2_grpc.FaceServiceStub

    def enroll(self, subject: str, image: bytes) -> Enrollment:
        """The enrolment; ``stored`` is the sealed template to keep with the subject."""
        request = face_pb2.EnrollFaceRequest(subject=subject, image=image)
        return _enrollment(self._call(self._stub.EnrollFace, request))

    def verify(self, subject: str, template: bytes, image: bytes, *, client: str | None = None) -> Verdict:
        """The verdict carries a distance and score only if the sidecar runs with ``face_scores``."""
        request = _verify_face(subject, template, image, client)
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
        return _matches(self._call(self._stub.SearchFaceIndex, _search(image, k, threshold)))


class TOTPClient(_Service):
    """Authenticator-app codes; the methods of :class:`verifykit.fallbacks.TOTPVerifier`, plus
    :meth:`confirm` for the first code after enrolment."""

    _stub_class = totp_pb2_grpc.TotpServiceStub

    def enroll(self, subject: str, account_name: str) -> TOTPEnrollment:
        """A new secret; store ``.stored``, show ``.provisioning_uri`` once as a QR code."""
        return _totp_enrollment(self._call(self._stub.EnrollTotp, _totp_enroll(subject, account_name)))

    def confirm(self, subject: str, stored: bytes, code: str, *, client: str | None = None) -> Verdict:
        """Check the first code the app shows; keep the enrolment only if the verdict approves."""
        request = _totp_confirm(subject, stored, code, client)
        return verdict_from_proto(self._call(self._stub.ConfirmTotpEnrollment, request).verdict)

    def verify(self, subject: str, stored: bytes, code: str, *, client: str | None = None) -> Verdict:
        """Check a code against the stored secret, at the sidecar's store clock."""
        request = _totp_verify(subject, stored, code, client)
        return verdict_from_proto(self._call(self._stub.VerifyTotp, request).verdict)

    def remove(self, subject: str, stored: bytes) -> None:
        """Record the removal (it must reach the audit log), then delete ``stored`` yourself."""
        self._call(self._stub.RemoveTotp, _totp_remove(subject, stored))


class RecoveryCodesClient(_Service):
    """Recovery codes; the methods of :class:`verifykit.fallbacks.RecoveryCodes`."""

    _stub_class = recovery_pb2_grpc.RecoveryCodeServiceStub

    def generate(self, subject: str) -> RecoveryCodeSet:
        """New codes to show once, and ``stored`` to keep."""
        request = recovery_pb2.GenerateRecoveryCodesRequest(subject=subject)
        return _code_set(self._call(self._stub.GenerateRecoveryCodes, request))

    def redeem(self, subject: str, stored: str, code: str, *, client: str | None = None) -> Verdict:
        """A verdict whose ``stored`` replaces the caller's set (``None``: keep it)."""
        request = _redeem(subject, stored, code, client)
        return redemption_from_proto(self._call(self._stub.RedeemRecoveryCode, request))

    def count(self, stored: str) -> int:
        """Codes the stored set still holds."""
        request = recovery_pb2.CountRecoveryCodesRequest(stored=stored)
        return int(self._call(self._stub.CountRecoveryCodes, request).remaining)


class LadderClient(_Service):
    """The fallback ladder; the method of :class:`verifykit.ladder.Ladder`."""

    _stub_class = ladder_pb2_grpc.LadderServiceStub

    def ways_in(
        self,
        subject: str,
        enrolled: Iterable[Way | str],
        *,
        delivery: str | None = None,
        level: int | str | None = None,
        passkey_level: int | str | None = None,
    ) -> Offer:
        """The ways in open now for ``subject``, in order, and why the others are not."""
        request = _ways_in(subject, enrolled, delivery, level, passkey_level)
        return offer_from_proto(self._call(self._stub.GetWaysIn, request))


class VouchersClient(_Service):
    """Counter vouchers; the methods of :class:`verifykit.vouchers.Vouchers`. The sidecar serves
    them only with an officer registry (``officers_file``); else calls raise ``SidecarError``
    with status ``UNIMPLEMENTED``."""

    _stub_class = voucher_pb2_grpc.VoucherServiceStub

    def redeem(self, subject: str, voucher: str, *, client: str | None = None) -> Redemption:
        """Redeem ``voucher`` for ``subject``; a bad voucher is a refused redemption, never an error."""
        request = _redeem_voucher(subject, voucher, client)
        return voucher_redemption_from_proto(self._call(self._stub.RedeemVoucher, request))

    def inspect(self, voucher: str, *, subject: str | None = None) -> Inspection:
        """What ``voucher`` says and whether it would be accepted now; never redeems it."""
        response = self._call(self._stub.InspectVoucher, _inspect_voucher(voucher, subject))
        return voucher_inspection_from_proto(voucher, response)


class PasskeyClient(_Service):
    """Passkeys (WebAuthn); the methods of :class:`verifykit.passkey.PasskeyVerifier`, with its
    arguments and results. The sidecar serves them only with a relying party (``passkey_rp_id``);
    else calls raise ``SidecarError`` with status ``UNIMPLEMENTED``."""

    _stub_class = passkey_pb2_grpc.PasskeyServiceStub

    def registration_options(
        self,
        subject: str,
        *,
        user_name: str,
        display_name: str,
        exclude: Sequence[str] = (),
        client: str | None = None,
    ) -> PasskeyOptions:
        """Begin making a passkey: options for ``navigator.credentials.create``; ``exclude`` are the
        subject's stored passkeys. Raises :class:`~verifykit.RateLimited` past the client's limit."""
        request = _passkey_registration(subject, user_name, display_name, exclude, client)
        return passkey_options_from_proto(self._call(self._stub.BeginPasskeyRegistration, request).options)

    def register(
        self, subject: str, challenge_id: str, response_json: str, *, client: str | None = None
    ) -> PasskeyEnrollment:
        """Check what ``navigator.credentials.create`` returned; on approval keep ``.stored``.
        Raises :class:`~verifykit.InvalidInput` for a response that is not one (nothing spent)."""
        request = _passkey_register(subject, challenge_id, response_json, client)
        return passkey_enrollment_from_proto(self._call(self._stub.CompletePasskeyRegistration, request))

    def authentication_options(
        self, subject: str, *, credentials: Sequence[str] = (), client: str | None = None
    ) -> PasskeyOptions:
        """Begin signing in: options for ``navigator.credentials.get`` allowing ``credentials``."""
        request = _passkey_sign_in(subject, credentials, client)
        return passkey_options_from_proto(self._call(self._stub.BeginPasskeySignIn, request).options)

    def verify(
        self,
        subject: str,
        challenge_id: str,
        response_json: str,
        *,
        credentials: Sequence[str],
        client: str | None = None,
    ) -> Verdict:
        """Check what ``navigator.credentials.get`` returned; ``verdict.stored``, when set, replaces
        the stored passkey that ``verdict.details["credential_id"]`` names."""
        request = _passkey_verify(subject, challenge_id, response_json, credentials, client)
        return passkey_verdict_from_proto(self._call(self._stub.VerifyPasskey, request))

    def credential(self, subject: str, stored: str) -> PasskeyCredential:
        """Read a stored passkey back, checking it is ``subject``'s and unchanged (no store call)."""
        request = passkey_pb2.DescribePasskeyRequest(subject=subject, stored=stored)
        return passkey_credential_from_proto(self._call(self._stub.DescribePasskey, request).credential)


class _Settings:
    """What both clients check and hold: target, deadline, credentials, the token rule; each
    client opens its own flavour of channel in :meth:`_connect`."""

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
        self.options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        if server_name is not None:
            self.options.append(("grpc.ssl_target_name_override", server_name))
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
        self.credentials = (
            grpc.ssl_channel_credentials(root_certificates, private_key, certificate_chain) if tls else None
        )
        self.target = target
        self.timeout = timeout
        self._call_metadata: Sequence[tuple[str, str]] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )
        self._connect()

    def _connect(self) -> None:
        """Open ``self.channel`` in the subclass's flavour and attach the service clients to it."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target!r})"  # never the token


class Client(_Settings):
    """A connection to one sidecar.

    ``target`` is ``host:port``. Pass ``root_certificates`` (PEM) for TLS, plus
    ``certificate_chain`` and ``private_key`` for mutual TLS, or ``tls=True`` for TLS checked
    against the system's trusted CAs; ``token`` when the sidecar requires a bearer token.
    ``timeout`` is every call's deadline in seconds (None: none).

    A token is refused (:class:`~verifykit.ConfigurationError`) on a plaintext channel to
    anything but loopback (127.0.0.0/8, ``::1``, ``localhost``, a Unix socket): whoever sees
    it in transit could make calls as this service.
    """

    channel: grpc.Channel

    def _connect(self) -> None:
        if self.credentials is not None:
            self.channel = grpc.secure_channel(self.target, self.credentials, options=self.options)
        else:
            self.channel = grpc.insecure_channel(self.target, options=self.options)
        self.email_otp = EmailOTPClient(self, self.channel)
        self.password = PasswordClient(self, self.channel)
        self.face = FaceClient(self, self.channel)
        self.totp = TOTPClient(self, self.channel)
        self.recovery_codes = RecoveryCodesClient(self, self.channel)
        self.ladder = LadderClient(self, self.channel)
        self.vouchers = VouchersClient(self, self.channel)
        self.passkey = PasskeyClient(self, self.channel)
        self._health = _HealthClient(self, self.channel)

    def health(self, service: str = "") -> str:
        """The sidecar's health for ``service`` ("" for the whole server): "SERVING", "NOT_SERVING", …"""
        request = health_pb2.HealthCheckRequest(service=service)
        return _serving(self._health._call(self._health._stub.Check, request))

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until the channel connects; raise :class:`SidecarError` after ``timeout`` seconds."""
        try:
            grpc.channel_ready_future(self.channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise SidecarError(f"no sidecar answered within {timeout:.0f} s", status="UNAVAILABLE") from None

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# -- the asyncio client ------------------------------------------------------------------------------


class _AsyncService(_Stubbed):
    """Shared call plumbing for :class:`AsyncClient`: deadline, credentials metadata, error translation."""

    async def _call(self, method: Callable[..., Awaitable[R]], request: Any) -> R:
        try:
            return await method(request, timeout=self._owner.timeout, metadata=self._owner._call_metadata)
        except grpc.RpcError as error:
            raise _translate(error) from None


class _AsyncHealthClient(_AsyncService):
    _stub_class = health_pb2_grpc.HealthStub


class AsyncEmailOTPClient(_AsyncService):
    """Email one-time codes; the same methods as :class:`verifykit.aio.EmailOTP`."""

    _stub_class = email_otp_pb2_grpc.EmailOtpServiceStub

    async def start(
        self,
        subject: str,
        email: str,
        *,
        locale: str | None = None,
        client: str | None = None,
        enrolled: Iterable[Way | str] = (),
    ) -> Challenge:
        """See :meth:`EmailOTPClient.start`."""
        request = _start(subject, email, locale, client, enrolled)
        response = await self._call(self._stub.StartEmailOtp, request)
        return challenge_from_proto(response.challenge)

    async def check(
        self, challenge_id: str, code: str, *, client: str | None = None, enrolled: Iterable[Way | str] = ()
    ) -> Verdict:
        response = await self._call(self._stub.CheckEmailOtp, _check(challenge_id, code, client, enrolled))
        return verdict_from_proto(response.verdict)

    async def resend(
        self, challenge_id: str, *, client: str | None = None, enrolled: Iterable[Way | str] = ()
    ) -> Challenge:
        response = await self._call(self._stub.ResendEmailOtp, _resend(challenge_id, client, enrolled))
        return challenge_from_proto(response.challenge)

    async def cancel(self, challenge_id: str) -> Challenge:
        request = email_otp_pb2.CancelEmailOtpRequest(challenge_id=challenge_id)
        return challenge_from_proto((await self._call(self._stub.CancelEmailOtp, request)).challenge)

    async def status(self, challenge_id: str, *, enrolled: Iterable[Way | str] = ()) -> Challenge:
        request = _status(challenge_id, enrolled)
        return challenge_from_proto((await self._call(self._stub.GetEmailOtpStatus, request)).challenge)


class AsyncPasswordClient(_AsyncService):
    """Passwords; the same methods as :class:`verifykit.aio.PasswordVerifier`."""

    _stub_class = password_pb2_grpc.PasswordServiceStub

    async def hash(self, password: str, *, subject: str | None = None, context: Sequence[str] = ()) -> str:
        """See :meth:`PasswordClient.hash`."""
        return str((await self._call(self._stub.HashPassword, _hash(password, subject, context))).hash)

    async def verify(
        self, subject: str, stored_hash: str | None, password: str, *, client: str | None = None
    ) -> Verdict:
        """See :meth:`PasswordClient.verify`."""
        request = _verify_password(subject, stored_hash, password, client)
        return verdict_from_proto((await self._call(self._stub.VerifyPassword, request)).verdict)

    async def check_policy(
        self, password: str, *, subject: str | None = None, context: Sequence[str] = ()
    ) -> PolicyResult:
        request = _policy_request(password, subject, context)
        return _policy(await self._call(self._stub.CheckPasswordPolicy, request))


class AsyncFaceClient(_AsyncService):
    """Face verification; the same methods as :class:`FaceClient`, as coroutines."""

    _stub_class = face_pb2_grpc.FaceServiceStub

    async def enroll(self, subject: str, image: bytes) -> Enrollment:
        """See :meth:`FaceClient.enroll`."""
        request = face_pb2.EnrollFaceRequest(subject=subject, image=image)
        return _enrollment(await self._call(self._stub.EnrollFace, request))

    async def verify(
        self, subject: str, template: bytes, image: bytes, *, client: str | None = None
    ) -> Verdict:
        """See :meth:`FaceClient.verify`."""
        request = _verify_face(subject, template, image, client)
        return verdict_from_proto((await self._call(self._stub.VerifyFace, request)).verdict)

    async def index_add(self, subject: str, template: bytes) -> int:
        """See :meth:`FaceClient.index_add`."""
        request = face_pb2.AddToFaceIndexRequest(subject=subject, template=template)
        return int((await self._call(self._stub.AddToFaceIndex, request)).size)

    async def index_remove(self, subject: str) -> bool:
        """See :meth:`FaceClient.index_remove`."""
        request = face_pb2.RemoveFromFaceIndexRequest(subject=subject)
        return bool((await self._call(self._stub.RemoveFromFaceIndex, request)).removed)

    async def search(self, image: bytes, *, k: int = 5, threshold: float | None = None) -> list[FaceMatch]:
        """See :meth:`FaceClient.search`."""
        return _matches(await self._call(self._stub.SearchFaceIndex, _search(image, k, threshold)))


class AsyncTOTPClient(_AsyncService):
    """Authenticator-app codes; the methods of :class:`TOTPClient`, as coroutines."""

    _stub_class = totp_pb2_grpc.TotpServiceStub

    async def enroll(self, subject: str, account_name: str) -> TOTPEnrollment:
        """See :meth:`TOTPClient.enroll`."""
        request = _totp_enroll(subject, account_name)
        return _totp_enrollment(await self._call(self._stub.EnrollTotp, request))

    async def confirm(self, subject: str, stored: bytes, code: str, *, client: str | None = None) -> Verdict:
        """See :meth:`TOTPClient.confirm`."""
        request = _totp_confirm(subject, stored, code, client)
        return verdict_from_proto((await self._call(self._stub.ConfirmTotpEnrollment, request)).verdict)

    async def verify(self, subject: str, stored: bytes, code: str, *, client: str | None = None) -> Verdict:
        """See :meth:`TOTPClient.verify`."""
        request = _totp_verify(subject, stored, code, client)
        return verdict_from_proto((await self._call(self._stub.VerifyTotp, request)).verdict)

    async def remove(self, subject: str, stored: bytes) -> None:
        """See :meth:`TOTPClient.remove`."""
        await self._call(self._stub.RemoveTotp, _totp_remove(subject, stored))


class AsyncRecoveryCodesClient(_AsyncService):
    """Recovery codes; the methods of :class:`RecoveryCodesClient`, as coroutines."""

    _stub_class = recovery_pb2_grpc.RecoveryCodeServiceStub

    async def generate(self, subject: str) -> RecoveryCodeSet:
        """See :meth:`RecoveryCodesClient.generate`."""
        request = recovery_pb2.GenerateRecoveryCodesRequest(subject=subject)
        return _code_set(await self._call(self._stub.GenerateRecoveryCodes, request))

    async def redeem(self, subject: str, stored: str, code: str, *, client: str | None = None) -> Verdict:
        """See :meth:`RecoveryCodesClient.redeem`."""
        request = _redeem(subject, stored, code, client)
        return redemption_from_proto(await self._call(self._stub.RedeemRecoveryCode, request))

    async def count(self, stored: str) -> int:
        """See :meth:`RecoveryCodesClient.count`."""
        request = recovery_pb2.CountRecoveryCodesRequest(stored=stored)
        return int((await self._call(self._stub.CountRecoveryCodes, request)).remaining)


class AsyncLadderClient(_AsyncService):
    """The fallback ladder; the method of :class:`LadderClient`, as a coroutine."""

    _stub_class = ladder_pb2_grpc.LadderServiceStub

    async def ways_in(
        self,
        subject: str,
        enrolled: Iterable[Way | str],
        *,
        delivery: str | None = None,
        level: int | str | None = None,
        passkey_level: int | str | None = None,
    ) -> Offer:
        """See :meth:`LadderClient.ways_in`."""
        request = _ways_in(subject, enrolled, delivery, level, passkey_level)
        return offer_from_proto(await self._call(self._stub.GetWaysIn, request))


class AsyncVouchersClient(_AsyncService):
    """Counter vouchers; the methods of :class:`VouchersClient`, as coroutines."""

    _stub_class = voucher_pb2_grpc.VoucherServiceStub

    async def redeem(self, subject: str, voucher: str, *, client: str | None = None) -> Redemption:
        """See :meth:`VouchersClient.redeem`."""
        request = _redeem_voucher(subject, voucher, client)
        return voucher_redemption_from_proto(await self._call(self._stub.RedeemVoucher, request))

    async def inspect(self, voucher: str, *, subject: str | None = None) -> Inspection:
        """See :meth:`VouchersClient.inspect`."""
        response = await self._call(self._stub.InspectVoucher, _inspect_voucher(voucher, subject))
        return voucher_inspection_from_proto(voucher, response)


class AsyncPasskeyClient(_AsyncService):
    """Passkeys (WebAuthn); the methods of :class:`PasskeyClient`, as coroutines (``credential``
    too: it asks the sidecar)."""

    _stub_class = passkey_pb2_grpc.PasskeyServiceStub

    async def registration_options(
        self,
        subject: str,
        *,
        user_name: str,
        display_name: str,
        exclude: Sequence[str] = (),
        client: str | None = None,
    ) -> PasskeyOptions:
        """See :meth:`PasskeyClient.registration_options`."""
        request = _passkey_registration(subject, user_name, display_name, exclude, client)
        response = await self._call(self._stub.BeginPasskeyRegistration, request)
        return passkey_options_from_proto(response.options)

    async def register(
        self, subject: str, challenge_id: str, response_json: str, *, client: str | None = None
    ) -> PasskeyEnrollment:
        """See :meth:`PasskeyClient.register`."""
        request = _passkey_register(subject, challenge_id, response_json, client)
        return passkey_enrollment_from_proto(
            await self._call(self._stub.CompletePasskeyRegistration, request)
        )

    async def authentication_options(
        self, subject: str, *, credentials: Sequence[str] = (), client: str | None = None
    ) -> PasskeyOptions:
        """See :meth:`PasskeyClient.authentication_options`."""
        request = _passkey_sign_in(subject, credentials, client)
        return passkey_options_from_proto((await self._call(self._stub.BeginPasskeySignIn, request)).options)

    async def verify(
        self,
        subject: str,
        challenge_id: str,
        response_json: str,
        *,
        credentials: Sequence[str],
        client: str | None = None,
    ) -> Verdict:
        """See :meth:`PasskeyClient.verify`."""
        request = _passkey_verify(subject, challenge_id, response_json, credentials, client)
        return passkey_verdict_from_proto(await self._call(self._stub.VerifyPasskey, request))

    async def credential(self, subject: str, stored: str) -> PasskeyCredential:
        """See :meth:`PasskeyClient.credential`."""
        request = passkey_pb2.DescribePasskeyRequest(subject=subject, stored=stored)
        response = await self._call(self._stub.DescribePasskey, request)
        return passkey_credential_from_proto(response.credential)


class AsyncClient(_Settings):
    """A connection to one sidecar for asyncio code: the arguments, services and methods of
    :class:`Client`, as coroutines (``await client.email_otp.check(...)``), on a ``grpc.aio``
    channel. Create it inside the event loop that uses it; ``async with`` closes it.
    """

    channel: grpc.aio.Channel

    def _connect(self) -> None:
        if self.credentials is not None:
            self.channel = grpc.aio.secure_channel(self.target, self.credentials, options=self.options)
        else:
            self.channel = grpc.aio.insecure_channel(self.target, options=self.options)
        self.email_otp = AsyncEmailOTPClient(self, self.channel)
        self.password = AsyncPasswordClient(self, self.channel)
        self.face = AsyncFaceClient(self, self.channel)
        self.totp = AsyncTOTPClient(self, self.channel)
        self.recovery_codes = AsyncRecoveryCodesClient(self, self.channel)
        self.ladder = AsyncLadderClient(self, self.channel)
        self.vouchers = AsyncVouchersClient(self, self.channel)
        self.passkey = AsyncPasskeyClient(self, self.channel)
        self._health = _AsyncHealthClient(self, self.channel)

    async def health(self, service: str = "") -> str:
        """See :meth:`Client.health`."""
        request = health_pb2.HealthCheckRequest(service=service)
        return _serving(await self._health._call(self._health._stub.Check, request))

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until the channel connects; raise :class:`SidecarError` after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self.channel.channel_ready(), timeout)
        except TimeoutError:
            raise SidecarError(f"no sidecar answered within {timeout:.0f} s", status="UNAVAILABLE") from None

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

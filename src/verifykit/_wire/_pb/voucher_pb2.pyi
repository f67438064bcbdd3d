import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SignatureStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNATURE_STATUS_UNSPECIFIED: _ClassVar[SignatureStatus]
    SIGNATURE_STATUS_VALID: _ClassVar[SignatureStatus]
    SIGNATURE_STATUS_BAD_SIGNATURE: _ClassVar[SignatureStatus]
    SIGNATURE_STATUS_UNKNOWN_OFFICER: _ClassVar[SignatureStatus]
    SIGNATURE_STATUS_REVOKED_OFFICER: _ClassVar[SignatureStatus]
SIGNATURE_STATUS_UNSPECIFIED: SignatureStatus
SIGNATURE_STATUS_VALID: SignatureStatus
SIGNATURE_STATUS_BAD_SIGNATURE: SignatureStatus
SIGNATURE_STATUS_UNKNOWN_OFFICER: SignatureStatus
SIGNATURE_STATUS_REVOKED_OFFICER: SignatureStatus

class RedeemVoucherRequest(_message.Message):
    __slots__ = ("subject", "voucher", "client_address")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    VOUCHER_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    subject: str
    voucher: str
    client_address: str
    def __init__(self, subject: _Optional[str] = ..., voucher: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class RedeemVoucherResponse(_message.Message):
    __slots__ = ("verdict", "unlocked", "officer_key_ids", "details")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    UNLOCKED_FIELD_NUMBER: _ClassVar[int]
    OFFICER_KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    verdict: _common_pb2.Verdict
    unlocked: _containers.RepeatedScalarFieldContainer[_common_pb2.Way]
    officer_key_ids: _containers.RepeatedScalarFieldContainer[str]
    details: _containers.ScalarMap[str, str]
    def __init__(self, verdict: _Optional[_Union[_common_pb2.Verdict, _Mapping]] = ..., unlocked: _Optional[_Iterable[_Union[_common_pb2.Way, str]]] = ..., officer_key_ids: _Optional[_Iterable[str]] = ..., details: _Optional[_Mapping[str, str]] = ...) -> None: ...

class InspectVoucherRequest(_message.Message):
    __slots__ = ("voucher", "subject")
    VOUCHER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    voucher: str
    subject: str
    def __init__(self, voucher: _Optional[str] = ..., subject: _Optional[str] = ...) -> None: ...

class CheckedSignature(_message.Message):
    __slots__ = ("key_id", "status", "name")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    status: SignatureStatus
    name: str
    def __init__(self, key_id: _Optional[str] = ..., status: _Optional[_Union[SignatureStatus, str]] = ..., name: _Optional[str] = ...) -> None: ...

class DecodedVoucher(_message.Message):
    __slots__ = ("version", "issue_time", "expire_time", "nonce", "reason", "unlocks")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ISSUE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    UNLOCKS_FIELD_NUMBER: _ClassVar[int]
    version: int
    issue_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    nonce: str
    reason: str
    unlocks: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, version: _Optional[int] = ..., issue_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., nonce: _Optional[str] = ..., reason: _Optional[str] = ..., unlocks: _Optional[_Iterable[str]] = ...) -> None: ...

class InspectVoucherResponse(_message.Message):
    __slots__ = ("acceptable", "reason", "voucher", "signatures", "subject_matches")
    ACCEPTABLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    VOUCHER_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_MATCHES_FIELD_NUMBER: _ClassVar[int]
    acceptable: bool
    reason: _common_pb2.Reason
    voucher: DecodedVoucher
    signatures: _containers.RepeatedCompositeFieldContainer[CheckedSignature]
    subject_matches: bool
    def __init__(self, acceptable: _Optional[bool] = ..., reason: _Optional[_Union[_common_pb2.Reason, str]] = ..., voucher: _Optional[_Union[DecodedVoucher, _Mapping]] = ..., signatures: _Optional[_Iterable[_Union[CheckedSignature, _Mapping]]] = ..., subject_matches: _Optional[bool] = ...) -> None: ...

import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PasskeyOptions(_message.Message):
    __slots__ = ("challenge_id", "options_json", "expire_time")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_JSON_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    options_json: str
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, challenge_id: _Optional[str] = ..., options_json: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PasskeyCredential(_message.Message):
    __slots__ = ("credential_id", "algorithm", "sign_count", "backup_eligible", "backed_up", "aaguid", "attestation_format", "trusted_attestation", "user_verified", "transports", "create_time", "assurance_level", "public_key")
    CREDENTIAL_ID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    SIGN_COUNT_FIELD_NUMBER: _ClassVar[int]
    BACKUP_ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    BACKED_UP_FIELD_NUMBER: _ClassVar[int]
    AAGUID_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_FORMAT_FIELD_NUMBER: _ClassVar[int]
    TRUSTED_ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    USER_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    TRANSPORTS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ASSURANCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    credential_id: str
    algorithm: int
    sign_count: int
    backup_eligible: bool
    backed_up: bool
    aaguid: str
    attestation_format: str
    trusted_attestation: bool
    user_verified: bool
    transports: _containers.RepeatedScalarFieldContainer[str]
    create_time: _timestamp_pb2.Timestamp
    assurance_level: int
    public_key: bytes
    def __init__(self, credential_id: _Optional[str] = ..., algorithm: _Optional[int] = ..., sign_count: _Optional[int] = ..., backup_eligible: _Optional[bool] = ..., backed_up: _Optional[bool] = ..., aaguid: _Optional[str] = ..., attestation_format: _Optional[str] = ..., trusted_attestation: _Optional[bool] = ..., user_verified: _Optional[bool] = ..., transports: _Optional[_Iterable[str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., assurance_level: _Optional[int] = ..., public_key: _Optional[bytes] = ...) -> None: ...

class BeginPasskeyRegistrationRequest(_message.Message):
    __slots__ = ("subject", "user_name", "display_name", "exclude", "client_address")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    subject: str
    user_name: str
    display_name: str
    exclude: _containers.RepeatedScalarFieldContainer[str]
    client_address: str
    def __init__(self, subject: _Optional[str] = ..., user_name: _Optional[str] = ..., display_name: _Optional[str] = ..., exclude: _Optional[_Iterable[str]] = ..., client_address: _Optional[str] = ...) -> None: ...

class BeginPasskeyRegistrationResponse(_message.Message):
    __slots__ = ("options",)
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    options: PasskeyOptions
    def __init__(self, options: _Optional[_Union[PasskeyOptions, _Mapping]] = ...) -> None: ...

class CompletePasskeyRegistrationRequest(_message.Message):
    __slots__ = ("subject", "challenge_id", "response_json", "client_address")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_JSON_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    subject: str
    challenge_id: str
    response_json: str
    client_address: str
    def __init__(self, subject: _Optional[str] = ..., challenge_id: _Optional[str] = ..., response_json: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class CompletePasskeyRegistrationResponse(_message.Message):
    __slots__ = ("approved", "reason", "details", "stored", "credential")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    approved: bool
    reason: _common_pb2.Reason
    details: _containers.ScalarMap[str, str]
    stored: str
    credential: PasskeyCredential
    def __init__(self, approved: _Optional[bool] = ..., reason: _Optional[_Union[_common_pb2.Reason, str]] = ..., details: _Optional[_Mapping[str, str]] = ..., stored: _Optional[str] = ..., credential: _Optional[_Union[PasskeyCredential, _Mapping]] = ...) -> None: ...

class BeginPasskeySignInRequest(_message.Message):
    __slots__ = ("subject", "credentials", "client_address")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    subject: str
    credentials: _containers.RepeatedScalarFieldContainer[str]
    client_address: str
    def __init__(self, subject: _Optional[str] = ..., credentials: _Optional[_Iterable[str]] = ..., client_address: _Optional[str] = ...) -> None: ...

class BeginPasskeySignInResponse(_message.Message):
    __slots__ = ("options",)
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    options: PasskeyOptions
    def __init__(self, options: _Optional[_Union[PasskeyOptions, _Mapping]] = ...) -> None: ...

class VerifyPasskeyRequest(_message.Message):
    __slots__ = ("subject", "challenge_id", "response_json", "credentials", "client_address")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_JSON_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    subject: str
    challenge_id: str
    response_json: str
    credentials: _containers.RepeatedScalarFieldContainer[str]
    client_address: str
    def __init__(self, subject: _Optional[str] = ..., challenge_id: _Optional[str] = ..., response_json: _Optional[str] = ..., credentials: _Optional[_Iterable[str]] = ..., client_address: _Optional[str] = ...) -> None: ...

class VerifyPasskeyResponse(_message.Message):
    __slots__ = ("verdict", "stored")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    verdict: _common_pb2.Verdict
    stored: str
    def __init__(self, verdict: _Optional[_Union[_common_pb2.Verdict, _Mapping]] = ..., stored: _Optional[str] = ...) -> None: ...

class DescribePasskeyRequest(_message.Message):
    __slots__ = ("subject", "stored")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    subject: str
    stored: str
    def __init__(self, subject: _Optional[str] = ..., stored: _Optional[str] = ...) -> None: ...

class DescribePasskeyResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: PasskeyCredential
    def __init__(self, credential: _Optional[_Union[PasskeyCredential, _Mapping]] = ...) -> None: ...

from . import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnrollTotpRequest(_message.Message):
    __slots__ = ("subject", "account_name")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_NAME_FIELD_NUMBER: _ClassVar[int]
    subject: str
    account_name: str
    def __init__(self, subject: _Optional[str] = ..., account_name: _Optional[str] = ...) -> None: ...

class EnrollTotpResponse(_message.Message):
    __slots__ = ("stored", "provisioning_uri", "secret_base32")
    STORED_FIELD_NUMBER: _ClassVar[int]
    PROVISIONING_URI_FIELD_NUMBER: _ClassVar[int]
    SECRET_BASE32_FIELD_NUMBER: _ClassVar[int]
    stored: bytes
    provisioning_uri: str
    secret_base32: str
    def __init__(self, stored: _Optional[bytes] = ..., provisioning_uri: _Optional[str] = ..., secret_base32: _Optional[str] = ...) -> None: ...

class ConfirmTotpEnrollmentRequest(_message.Message):
    __slots__ = ("subject", "stored", "code", "client_address")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    subject: str
    stored: bytes
    code: str
    client_address: str
    def __init__(self, subject: _Optional[str] = ..., stored: _Optional[bytes] = ..., code: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class ConfirmTotpEnrollmentResponse(_message.Message):
    __slots__ = ("verdict",)
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    verdict: _common_pb2.Verdict
    def __init__(self, verdict: _Optional[_Union[_common_pb2.Verdict, _Mapping]] = ...) -> None: ...

class VerifyTotpRequest(_message.Message):
    __slots__ = ("subject", "stored", "code", "client_address")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    subject: str
    stored: bytes
    code: str
    client_address: str
    def __init__(self, subject: _Optional[str] = ..., stored: _Optional[bytes] = ..., code: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class VerifyTotpResponse(_message.Message):
    __slots__ = ("verdict",)
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    verdict: _common_pb2.Verdict
    def __init__(self, verdict: _Optional[_Union[_common_pb2.Verdict, _Mapping]] = ...) -> None: ...

class RemoveTotpRequest(_message.Message):
    __slots__ = ("subject", "stored")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    subject: str
    stored: bytes
    def __init__(self, subject: _Optional[str] = ..., stored: _Optional[bytes] = ...) -> None: ...

class RemoveTotpResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: bool
    def __init__(self, removed: _Optional[bool] = ...) -> None: ...

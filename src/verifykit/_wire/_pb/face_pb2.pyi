from . import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnrollFaceRequest(_message.Message):
    __slots__ = ("subject", "image")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    subject: str
    image: bytes
    def __init__(self, subject: _Optional[str] = ..., image: _Optional[bytes] = ...) -> None: ...

class EnrollFaceResponse(_message.Message):
    __slots__ = ("approved", "reason", "template", "details")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    approved: bool
    reason: _common_pb2.Reason
    template: bytes
    details: _containers.ScalarMap[str, str]
    def __init__(self, approved: _Optional[bool] = ..., reason: _Optional[_Union[_common_pb2.Reason, str]] = ..., template: _Optional[bytes] = ..., details: _Optional[_Mapping[str, str]] = ...) -> None: ...

class VerifyFaceRequest(_message.Message):
    __slots__ = ("subject", "template", "image", "client_address")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    subject: str
    template: bytes
    image: bytes
    client_address: str
    def __init__(self, subject: _Optional[str] = ..., template: _Optional[bytes] = ..., image: _Optional[bytes] = ..., client_address: _Optional[str] = ...) -> None: ...

class VerifyFaceResponse(_message.Message):
    __slots__ = ("verdict",)
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    verdict: _common_pb2.Verdict
    def __init__(self, verdict: _Optional[_Union[_common_pb2.Verdict, _Mapping]] = ...) -> None: ...

class AddToFaceIndexRequest(_message.Message):
    __slots__ = ("subject", "template")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    subject: str
    template: bytes
    def __init__(self, subject: _Optional[str] = ..., template: _Optional[bytes] = ...) -> None: ...

class AddToFaceIndexResponse(_message.Message):
    __slots__ = ("size",)
    SIZE_FIELD_NUMBER: _ClassVar[int]
    size: int
    def __init__(self, size: _Optional[int] = ...) -> None: ...

class RemoveFromFaceIndexRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: str
    def __init__(self, subject: _Optional[str] = ...) -> None: ...

class RemoveFromFaceIndexResponse(_message.Message):
    __slots__ = ("removed", "size")
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    removed: bool
    size: int
    def __init__(self, removed: _Optional[bool] = ..., size: _Optional[int] = ...) -> None: ...

class SearchFaceIndexRequest(_message.Message):
    __slots__ = ("image", "top_k", "max_distance")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    MAX_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    top_k: int
    max_distance: float
    def __init__(self, image: _Optional[bytes] = ..., top_k: _Optional[int] = ..., max_distance: _Optional[float] = ...) -> None: ...

class FaceMatch(_message.Message):
    __slots__ = ("subject", "distance")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    subject: str
    distance: float
    def __init__(self, subject: _Optional[str] = ..., distance: _Optional[float] = ...) -> None: ...

class SearchFaceIndexResponse(_message.Message):
    __slots__ = ("approved", "reason", "matches")
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    approved: bool
    reason: _common_pb2.Reason
    matches: _containers.RepeatedCompositeFieldContainer[FaceMatch]
    def __init__(self, approved: _Optional[bool] = ..., reason: _Optional[_Union[_common_pb2.Reason, str]] = ..., matches: _Optional[_Iterable[_Union[FaceMatch, _Mapping]]] = ...) -> None: ...

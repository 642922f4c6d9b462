from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DescribeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DescribeResponse(_message.Message):
    __slots__ = ("avatar_id", "fps", "width", "height", "submission_version", "round", "measures_json", "versions", "max_audio_seconds", "max_text_characters", "max_request_bytes")
    class VersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_VERSION_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    MEASURES_JSON_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_TEXT_CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    MAX_REQUEST_BYTES_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    fps: float
    width: int
    height: int
    submission_version: int
    round: int
    measures_json: str
    versions: _containers.ScalarMap[str, str]
    max_audio_seconds: float
    max_text_characters: int
    max_request_bytes: int
    def __init__(self, avatar_id: _Optional[str] = ..., fps: _Optional[float] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., submission_version: _Optional[int] = ..., round: _Optional[int] = ..., measures_json: _Optional[str] = ..., versions: _Optional[_Mapping[str, str]] = ..., max_audio_seconds: _Optional[float] = ..., max_text_characters: _Optional[int] = ..., max_request_bytes: _Optional[int] = ...) -> None: ...

class RenderRequest(_message.Message):
    __slots__ = ("audio", "text", "background")
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_FIELD_NUMBER: _ClassVar[int]
    audio: bytes
    text: str
    background: str
    def __init__(self, audio: _Optional[bytes] = ..., text: _Optional[str] = ..., background: _Optional[str] = ...) -> None: ...

class RenderResponse(_message.Message):
    __slots__ = ("progress", "chunk", "summary")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    progress: Progress
    chunk: bytes
    summary: RenderSummary
    def __init__(self, progress: _Optional[_Union[Progress, _Mapping]] = ..., chunk: _Optional[bytes] = ..., summary: _Optional[_Union[RenderSummary, _Mapping]] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("fraction", "message", "eta_seconds")
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    fraction: float
    message: str
    eta_seconds: float
    def __init__(self, fraction: _Optional[float] = ..., message: _Optional[str] = ..., eta_seconds: _Optional[float] = ...) -> None: ...

class RenderSummary(_message.Message):
    __slots__ = ("frames", "seconds", "render_seconds", "size_bytes", "fps", "width", "height")
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    RENDER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    frames: int
    seconds: float
    render_seconds: float
    size_bytes: int
    fps: float
    width: int
    height: int
    def __init__(self, frames: _Optional[int] = ..., seconds: _Optional[float] = ..., render_seconds: _Optional[float] = ..., size_bytes: _Optional[int] = ..., fps: _Optional[float] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class StreamFramesRequest(_message.Message):
    __slots__ = ("audio", "text", "background", "jpeg_quality")
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_FIELD_NUMBER: _ClassVar[int]
    JPEG_QUALITY_FIELD_NUMBER: _ClassVar[int]
    audio: bytes
    text: str
    background: str
    jpeg_quality: int
    def __init__(self, audio: _Optional[bytes] = ..., text: _Optional[str] = ..., background: _Optional[str] = ..., jpeg_quality: _Optional[int] = ...) -> None: ...

class StreamFramesResponse(_message.Message):
    __slots__ = ("frames", "pcm16", "sample_rate", "audio_start_seconds", "total_frames", "fps", "elapsed_seconds")
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    PCM16_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FRAMES_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    frames: _containers.RepeatedCompositeFieldContainer[Frame]
    pcm16: bytes
    sample_rate: int
    audio_start_seconds: float
    total_frames: int
    fps: float
    elapsed_seconds: float
    def __init__(self, frames: _Optional[_Iterable[_Union[Frame, _Mapping]]] = ..., pcm16: _Optional[bytes] = ..., sample_rate: _Optional[int] = ..., audio_start_seconds: _Optional[float] = ..., total_frames: _Optional[int] = ..., fps: _Optional[float] = ..., elapsed_seconds: _Optional[float] = ...) -> None: ...

class Frame(_message.Message):
    __slots__ = ("index", "pts_seconds", "jpeg", "width", "height")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    PTS_SECONDS_FIELD_NUMBER: _ClassVar[int]
    JPEG_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    index: int
    pts_seconds: float
    jpeg: bytes
    width: int
    height: int
    def __init__(self, index: _Optional[int] = ..., pts_seconds: _Optional[float] = ..., jpeg: _Optional[bytes] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

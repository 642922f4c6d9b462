from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LogLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOG_LEVEL_UNSPECIFIED: _ClassVar[LogLevel]
    LOG_LEVEL_DEBUG: _ClassVar[LogLevel]
    LOG_LEVEL_INFO: _ClassVar[LogLevel]
    LOG_LEVEL_WARNING: _ClassVar[LogLevel]
    LOG_LEVEL_ERROR: _ClassVar[LogLevel]

class ResultStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESULT_STATUS_UNSPECIFIED: _ClassVar[ResultStatus]
    RESULT_STATUS_SUCCEEDED: _ClassVar[ResultStatus]
    RESULT_STATUS_FAILED: _ClassVar[ResultStatus]
    RESULT_STATUS_CANCELLED: _ClassVar[ResultStatus]
    RESULT_STATUS_WAITING_FOR_USER: _ClassVar[ResultStatus]
LOG_LEVEL_UNSPECIFIED: LogLevel
LOG_LEVEL_DEBUG: LogLevel
LOG_LEVEL_INFO: LogLevel
LOG_LEVEL_WARNING: LogLevel
LOG_LEVEL_ERROR: LogLevel
RESULT_STATUS_UNSPECIFIED: ResultStatus
RESULT_STATUS_SUCCEEDED: ResultStatus
RESULT_STATUS_FAILED: ResultStatus
RESULT_STATUS_CANCELLED: ResultStatus
RESULT_STATUS_WAITING_FOR_USER: ResultStatus

class Resources(_message.Message):
    __slots__ = ("cpu_cores", "gpus", "memory_bytes")
    CPU_CORES_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    cpu_cores: float
    gpus: int
    memory_bytes: int
    def __init__(self, cpu_cores: _Optional[float] = ..., gpus: _Optional[int] = ..., memory_bytes: _Optional[int] = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DescribeResponse(_message.Message):
    __slots__ = ("name", "version", "stages", "resources", "parameters_schema_json", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_SCHEMA_JSON_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    stages: _containers.RepeatedScalarFieldContainer[str]
    resources: Resources
    parameters_schema_json: str
    description: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., stages: _Optional[_Iterable[str]] = ..., resources: _Optional[_Union[Resources, _Mapping]] = ..., parameters_schema_json: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ArtifactRef(_message.Message):
    __slots__ = ("key", "kind", "sha256", "size", "name", "metadata_json")
    KEY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    key: str
    kind: str
    sha256: str
    size: int
    name: str
    metadata_json: str
    def __init__(self, key: _Optional[str] = ..., kind: _Optional[str] = ..., sha256: _Optional[str] = ..., size: _Optional[int] = ..., name: _Optional[str] = ..., metadata_json: _Optional[str] = ...) -> None: ...

class RunRequest(_message.Message):
    __slots__ = ("avatar_id", "stage", "run_id", "inputs", "parameters_json", "resume_checkpoint", "attempt")
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    RESUME_CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    stage: str
    run_id: str
    inputs: _containers.RepeatedCompositeFieldContainer[ArtifactRef]
    parameters_json: str
    resume_checkpoint: ArtifactRef
    attempt: int
    def __init__(self, avatar_id: _Optional[str] = ..., stage: _Optional[str] = ..., run_id: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[ArtifactRef, _Mapping]]] = ..., parameters_json: _Optional[str] = ..., resume_checkpoint: _Optional[_Union[ArtifactRef, _Mapping]] = ..., attempt: _Optional[int] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("fraction", "message", "eta_seconds")
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    fraction: float
    message: str
    eta_seconds: float
    def __init__(self, fraction: _Optional[float] = ..., message: _Optional[str] = ..., eta_seconds: _Optional[float] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ("level", "message")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    level: LogLevel
    message: str
    def __init__(self, level: _Optional[_Union[LogLevel, str]] = ..., message: _Optional[str] = ...) -> None: ...

class ArtifactProduced(_message.Message):
    __slots__ = ("artifact",)
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    artifact: ArtifactRef
    def __init__(self, artifact: _Optional[_Union[ArtifactRef, _Mapping]] = ...) -> None: ...

class Metric(_message.Message):
    __slots__ = ("name", "value", "step")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: float
    step: int
    def __init__(self, name: _Optional[str] = ..., value: _Optional[float] = ..., step: _Optional[int] = ...) -> None: ...

class StageError(_message.Message):
    __slots__ = ("code", "message", "advice")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ADVICE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    advice: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., advice: _Optional[str] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("status", "outputs", "error", "summary_json")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_JSON_FIELD_NUMBER: _ClassVar[int]
    status: ResultStatus
    outputs: _containers.RepeatedCompositeFieldContainer[ArtifactRef]
    error: StageError
    summary_json: str
    def __init__(self, status: _Optional[_Union[ResultStatus, str]] = ..., outputs: _Optional[_Iterable[_Union[ArtifactRef, _Mapping]]] = ..., error: _Optional[_Union[StageError, _Mapping]] = ..., summary_json: _Optional[str] = ...) -> None: ...

class RunResponse(_message.Message):
    __slots__ = ("progress", "log", "artifact", "metric", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: Progress
    log: LogLine
    artifact: ArtifactProduced
    metric: Metric
    result: Result
    def __init__(self, progress: _Optional[_Union[Progress, _Mapping]] = ..., log: _Optional[_Union[LogLine, _Mapping]] = ..., artifact: _Optional[_Union[ArtifactProduced, _Mapping]] = ..., metric: _Optional[_Union[Metric, _Mapping]] = ..., result: _Optional[_Union[Result, _Mapping]] = ...) -> None: ...

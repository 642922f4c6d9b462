from google.protobuf import timestamp_pb2 as _timestamp_pb2
from twinforge.plugin.v1 import plugin_service_pb2 as _plugin_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PluginHealth(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLUGIN_HEALTH_UNSPECIFIED: _ClassVar[PluginHealth]
    PLUGIN_HEALTH_HEALTHY: _ClassVar[PluginHealth]
    PLUGIN_HEALTH_DOWN: _ClassVar[PluginHealth]

class StageState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAGE_STATE_UNSPECIFIED: _ClassVar[StageState]
    STAGE_STATE_PENDING: _ClassVar[StageState]
    STAGE_STATE_QUEUED: _ClassVar[StageState]
    STAGE_STATE_RUNNING: _ClassVar[StageState]
    STAGE_STATE_WAITING_FOR_USER: _ClassVar[StageState]
    STAGE_STATE_SUCCEEDED: _ClassVar[StageState]
    STAGE_STATE_FAILED: _ClassVar[StageState]
    STAGE_STATE_CANCELLED: _ClassVar[StageState]
PLUGIN_HEALTH_UNSPECIFIED: PluginHealth
PLUGIN_HEALTH_HEALTHY: PluginHealth
PLUGIN_HEALTH_DOWN: PluginHealth
STAGE_STATE_UNSPECIFIED: StageState
STAGE_STATE_PENDING: StageState
STAGE_STATE_QUEUED: StageState
STAGE_STATE_RUNNING: StageState
STAGE_STATE_WAITING_FOR_USER: StageState
STAGE_STATE_SUCCEEDED: StageState
STAGE_STATE_FAILED: StageState
STAGE_STATE_CANCELLED: StageState

class PluginInfo(_message.Message):
    __slots__ = ("plugin_id", "address", "description", "health", "last_seen", "registered_at", "last_error")
    PLUGIN_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    plugin_id: str
    address: str
    description: _plugin_service_pb2.DescribeResponse
    health: PluginHealth
    last_seen: _timestamp_pb2.Timestamp
    registered_at: _timestamp_pb2.Timestamp
    last_error: str
    def __init__(self, plugin_id: _Optional[str] = ..., address: _Optional[str] = ..., description: _Optional[_Union[_plugin_service_pb2.DescribeResponse, _Mapping]] = ..., health: _Optional[_Union[PluginHealth, str]] = ..., last_seen: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., registered_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ...) -> None: ...

class RegisterPluginRequest(_message.Message):
    __slots__ = ("address",)
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    address: str
    def __init__(self, address: _Optional[str] = ...) -> None: ...

class RegisterPluginResponse(_message.Message):
    __slots__ = ("plugin", "heartbeat_interval_seconds")
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    plugin: PluginInfo
    heartbeat_interval_seconds: float
    def __init__(self, plugin: _Optional[_Union[PluginInfo, _Mapping]] = ..., heartbeat_interval_seconds: _Optional[float] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("plugin_id",)
    PLUGIN_ID_FIELD_NUMBER: _ClassVar[int]
    plugin_id: str
    def __init__(self, plugin_id: _Optional[str] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("health",)
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    health: PluginHealth
    def __init__(self, health: _Optional[_Union[PluginHealth, str]] = ...) -> None: ...

class DeregisterPluginRequest(_message.Message):
    __slots__ = ("plugin_id",)
    PLUGIN_ID_FIELD_NUMBER: _ClassVar[int]
    plugin_id: str
    def __init__(self, plugin_id: _Optional[str] = ...) -> None: ...

class DeregisterPluginResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPluginsRequest(_message.Message):
    __slots__ = ("stage",)
    STAGE_FIELD_NUMBER: _ClassVar[int]
    stage: str
    def __init__(self, stage: _Optional[str] = ...) -> None: ...

class ListPluginsResponse(_message.Message):
    __slots__ = ("plugins",)
    PLUGINS_FIELD_NUMBER: _ClassVar[int]
    plugins: _containers.RepeatedCompositeFieldContainer[PluginInfo]
    def __init__(self, plugins: _Optional[_Iterable[_Union[PluginInfo, _Mapping]]] = ...) -> None: ...

class StageRun(_message.Message):
    __slots__ = ("run_id", "avatar_id", "stage", "state", "attempt", "progress", "progress_message", "inputs", "outputs", "parameters_json", "error", "summary_json", "created_at", "updated_at", "submission_version")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_VERSION_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    avatar_id: str
    stage: str
    state: StageState
    attempt: int
    progress: float
    progress_message: str
    inputs: _containers.RepeatedCompositeFieldContainer[_plugin_service_pb2.ArtifactRef]
    outputs: _containers.RepeatedCompositeFieldContainer[_plugin_service_pb2.ArtifactRef]
    parameters_json: str
    error: _plugin_service_pb2.StageError
    summary_json: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    submission_version: int
    def __init__(self, run_id: _Optional[str] = ..., avatar_id: _Optional[str] = ..., stage: _Optional[str] = ..., state: _Optional[_Union[StageState, str]] = ..., attempt: _Optional[int] = ..., progress: _Optional[float] = ..., progress_message: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[_plugin_service_pb2.ArtifactRef, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[_plugin_service_pb2.ArtifactRef, _Mapping]]] = ..., parameters_json: _Optional[str] = ..., error: _Optional[_Union[_plugin_service_pb2.StageError, _Mapping]] = ..., summary_json: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., submission_version: _Optional[int] = ...) -> None: ...

class Submission(_message.Message):
    __slots__ = ("version", "video", "created_at")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    version: int
    video: _plugin_service_pb2.ArtifactRef
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, version: _Optional[int] = ..., video: _Optional[_Union[_plugin_service_pb2.ArtifactRef, _Mapping]] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Avatar(_message.Message):
    __slots__ = ("avatar_id", "name", "owner", "created_at", "submissions", "stages")
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SUBMISSIONS_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    name: str
    owner: str
    created_at: _timestamp_pb2.Timestamp
    submissions: _containers.RepeatedCompositeFieldContainer[Submission]
    stages: _containers.RepeatedCompositeFieldContainer[StageRun]
    def __init__(self, avatar_id: _Optional[str] = ..., name: _Optional[str] = ..., owner: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., submissions: _Optional[_Iterable[_Union[Submission, _Mapping]]] = ..., stages: _Optional[_Iterable[_Union[StageRun, _Mapping]]] = ...) -> None: ...

class CreateAvatarRequest(_message.Message):
    __slots__ = ("name", "owner")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    name: str
    owner: str
    def __init__(self, name: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class CreateAvatarResponse(_message.Message):
    __slots__ = ("avatar",)
    AVATAR_FIELD_NUMBER: _ClassVar[int]
    avatar: Avatar
    def __init__(self, avatar: _Optional[_Union[Avatar, _Mapping]] = ...) -> None: ...

class GetAvatarRequest(_message.Message):
    __slots__ = ("avatar_id",)
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    def __init__(self, avatar_id: _Optional[str] = ...) -> None: ...

class GetAvatarResponse(_message.Message):
    __slots__ = ("avatar",)
    AVATAR_FIELD_NUMBER: _ClassVar[int]
    avatar: Avatar
    def __init__(self, avatar: _Optional[_Union[Avatar, _Mapping]] = ...) -> None: ...

class ListAvatarsRequest(_message.Message):
    __slots__ = ("owner",)
    OWNER_FIELD_NUMBER: _ClassVar[int]
    owner: str
    def __init__(self, owner: _Optional[str] = ...) -> None: ...

class ListAvatarsResponse(_message.Message):
    __slots__ = ("avatars",)
    AVATARS_FIELD_NUMBER: _ClassVar[int]
    avatars: _containers.RepeatedCompositeFieldContainer[Avatar]
    def __init__(self, avatars: _Optional[_Iterable[_Union[Avatar, _Mapping]]] = ...) -> None: ...

class CreateSubmissionRequest(_message.Message):
    __slots__ = ("avatar_id", "video", "preset")
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    video: _plugin_service_pb2.ArtifactRef
    preset: str
    def __init__(self, avatar_id: _Optional[str] = ..., video: _Optional[_Union[_plugin_service_pb2.ArtifactRef, _Mapping]] = ..., preset: _Optional[str] = ...) -> None: ...

class CreateSubmissionResponse(_message.Message):
    __slots__ = ("submission", "started")
    SUBMISSION_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    submission: Submission
    started: _containers.RepeatedCompositeFieldContainer[StageRun]
    def __init__(self, submission: _Optional[_Union[Submission, _Mapping]] = ..., started: _Optional[_Iterable[_Union[StageRun, _Mapping]]] = ...) -> None: ...

class SubmitStageRequest(_message.Message):
    __slots__ = ("avatar_id", "stage", "inputs", "parameters_json")
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    stage: str
    inputs: _containers.RepeatedCompositeFieldContainer[_plugin_service_pb2.ArtifactRef]
    parameters_json: str
    def __init__(self, avatar_id: _Optional[str] = ..., stage: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[_plugin_service_pb2.ArtifactRef, _Mapping]]] = ..., parameters_json: _Optional[str] = ...) -> None: ...

class SubmitStageResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: StageRun
    def __init__(self, run: _Optional[_Union[StageRun, _Mapping]] = ...) -> None: ...

class ListStageRunsRequest(_message.Message):
    __slots__ = ("avatar_id", "stage")
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    stage: str
    def __init__(self, avatar_id: _Optional[str] = ..., stage: _Optional[str] = ...) -> None: ...

class ListStageRunsResponse(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[StageRun]
    def __init__(self, runs: _Optional[_Iterable[_Union[StageRun, _Mapping]]] = ...) -> None: ...

class CancelStageRunRequest(_message.Message):
    __slots__ = ("run_id", "reason")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    reason: str
    def __init__(self, run_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelStageRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: StageRun
    def __init__(self, run: _Optional[_Union[StageRun, _Mapping]] = ...) -> None: ...

class WatchNotificationsRequest(_message.Message):
    __slots__ = ("avatar_id", "after_seq")
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    after_seq: int
    def __init__(self, avatar_id: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class Notification(_message.Message):
    __slots__ = ("global_seq", "avatar_id", "seq", "kind", "run_id", "stage", "payload_json", "created_at")
    GLOBAL_SEQ_FIELD_NUMBER: _ClassVar[int]
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    global_seq: int
    avatar_id: str
    seq: int
    kind: str
    run_id: str
    stage: str
    payload_json: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, global_seq: _Optional[int] = ..., avatar_id: _Optional[str] = ..., seq: _Optional[int] = ..., kind: _Optional[str] = ..., run_id: _Optional[str] = ..., stage: _Optional[str] = ..., payload_json: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchNotificationsResponse(_message.Message):
    __slots__ = ("notification",)
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    notification: Notification
    def __init__(self, notification: _Optional[_Union[Notification, _Mapping]] = ...) -> None: ...

class UploadHeader(_message.Message):
    __slots__ = ("avatar_id", "kind", "filename", "sha256")
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    kind: str
    filename: str
    sha256: str
    def __init__(self, avatar_id: _Optional[str] = ..., kind: _Optional[str] = ..., filename: _Optional[str] = ..., sha256: _Optional[str] = ...) -> None: ...

class UploadArtifactRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: UploadHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[UploadHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class UploadArtifactResponse(_message.Message):
    __slots__ = ("artifact",)
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    artifact: _plugin_service_pb2.ArtifactRef
    def __init__(self, artifact: _Optional[_Union[_plugin_service_pb2.ArtifactRef, _Mapping]] = ...) -> None: ...

class DownloadArtifactRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class DownloadArtifactResponse(_message.Message):
    __slots__ = ("chunk",)
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    chunk: bytes
    def __init__(self, chunk: _Optional[bytes] = ...) -> None: ...

class MaterialEdit(_message.Message):
    __slots__ = ("version", "by", "operation", "parameters_json", "based_on", "words")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    BASED_ON_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    version: int
    by: str
    operation: str
    parameters_json: str
    based_on: int
    words: str
    def __init__(self, version: _Optional[int] = ..., by: _Optional[str] = ..., operation: _Optional[str] = ..., parameters_json: _Optional[str] = ..., based_on: _Optional[int] = ..., words: _Optional[str] = ...) -> None: ...

class MaterialVersion(_message.Message):
    __slots__ = ("version", "run_id", "stage", "files", "edit", "current", "created_at")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    EDIT_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    version: int
    run_id: str
    stage: str
    files: _containers.RepeatedCompositeFieldContainer[_plugin_service_pb2.ArtifactRef]
    edit: MaterialEdit
    current: bool
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, version: _Optional[int] = ..., run_id: _Optional[str] = ..., stage: _Optional[str] = ..., files: _Optional[_Iterable[_Union[_plugin_service_pb2.ArtifactRef, _Mapping]]] = ..., edit: _Optional[_Union[MaterialEdit, _Mapping]] = ..., current: bool = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListMaterialVersionsRequest(_message.Message):
    __slots__ = ("avatar_id",)
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    def __init__(self, avatar_id: _Optional[str] = ...) -> None: ...

class ListMaterialVersionsResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[MaterialVersion]
    def __init__(self, versions: _Optional[_Iterable[_Union[MaterialVersion, _Mapping]]] = ...) -> None: ...

class EditMaterialsRequest(_message.Message):
    __slots__ = ("avatar_id", "operation", "parameters_json", "by", "background_image")
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_JSON_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_IMAGE_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    operation: str
    parameters_json: str
    by: str
    background_image: _plugin_service_pb2.ArtifactRef
    def __init__(self, avatar_id: _Optional[str] = ..., operation: _Optional[str] = ..., parameters_json: _Optional[str] = ..., by: _Optional[str] = ..., background_image: _Optional[_Union[_plugin_service_pb2.ArtifactRef, _Mapping]] = ...) -> None: ...

class EditMaterialsResponse(_message.Message):
    __slots__ = ("run", "version")
    RUN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    run: StageRun
    version: int
    def __init__(self, run: _Optional[_Union[StageRun, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class RevertMaterialsRequest(_message.Message):
    __slots__ = ("avatar_id", "version", "by")
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    version: int
    by: str
    def __init__(self, avatar_id: _Optional[str] = ..., version: _Optional[int] = ..., by: _Optional[str] = ...) -> None: ...

class RevertMaterialsResponse(_message.Message):
    __slots__ = ("run", "version")
    RUN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    run: StageRun
    version: int
    def __init__(self, run: _Optional[_Union[StageRun, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class Round(_message.Message):
    __slots__ = ("round", "evaluation_run", "submission_version", "generation", "passed", "preset", "words", "measures_json", "preview", "verdict", "by", "reason", "text", "adjustment", "retrain_generation", "voice_preview", "voice", "results_json")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_RUN_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_VERSION_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    MEASURES_JSON_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENT_FIELD_NUMBER: _ClassVar[int]
    RETRAIN_GENERATION_FIELD_NUMBER: _ClassVar[int]
    VOICE_PREVIEW_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    RESULTS_JSON_FIELD_NUMBER: _ClassVar[int]
    round: int
    evaluation_run: str
    submission_version: int
    generation: int
    passed: bool
    preset: str
    words: _containers.RepeatedScalarFieldContainer[str]
    measures_json: str
    preview: str
    verdict: str
    by: str
    reason: str
    text: str
    adjustment: str
    retrain_generation: int
    voice_preview: str
    voice: str
    results_json: str
    def __init__(self, round: _Optional[int] = ..., evaluation_run: _Optional[str] = ..., submission_version: _Optional[int] = ..., generation: _Optional[int] = ..., passed: bool = ..., preset: _Optional[str] = ..., words: _Optional[_Iterable[str]] = ..., measures_json: _Optional[str] = ..., preview: _Optional[str] = ..., verdict: _Optional[str] = ..., by: _Optional[str] = ..., reason: _Optional[str] = ..., text: _Optional[str] = ..., adjustment: _Optional[str] = ..., retrain_generation: _Optional[int] = ..., voice_preview: _Optional[str] = ..., voice: _Optional[str] = ..., results_json: _Optional[str] = ...) -> None: ...

class ApproveAvatarRequest(_message.Message):
    __slots__ = ("avatar_id", "by")
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    by: str
    def __init__(self, avatar_id: _Optional[str] = ..., by: _Optional[str] = ...) -> None: ...

class ApproveAvatarResponse(_message.Message):
    __slots__ = ("round", "can_deploy", "deploy_reason")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    CAN_DEPLOY_FIELD_NUMBER: _ClassVar[int]
    DEPLOY_REASON_FIELD_NUMBER: _ClassVar[int]
    round: Round
    can_deploy: bool
    deploy_reason: str
    def __init__(self, round: _Optional[_Union[Round, _Mapping]] = ..., can_deploy: bool = ..., deploy_reason: _Optional[str] = ...) -> None: ...

class RejectAvatarRequest(_message.Message):
    __slots__ = ("avatar_id", "by", "reason", "text")
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    by: str
    reason: str
    text: str
    def __init__(self, avatar_id: _Optional[str] = ..., by: _Optional[str] = ..., reason: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class RejectAvatarResponse(_message.Message):
    __slots__ = ("round", "started", "message")
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    round: Round
    started: _containers.RepeatedCompositeFieldContainer[StageRun]
    message: str
    def __init__(self, round: _Optional[_Union[Round, _Mapping]] = ..., started: _Optional[_Iterable[_Union[StageRun, _Mapping]]] = ..., message: _Optional[str] = ...) -> None: ...

class ListRoundsRequest(_message.Message):
    __slots__ = ("avatar_id",)
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    def __init__(self, avatar_id: _Optional[str] = ...) -> None: ...

class OperatorTask(_message.Message):
    __slots__ = ("task_id", "avatar_id", "avatar_name", "owner", "round", "evaluation_run", "text", "asked_by", "created_at", "outcome", "answer", "answered_by", "answered_at", "retrain_reason", "retrain_generation")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    AVATAR_NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_RUN_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ASKED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_BY_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    RETRAIN_REASON_FIELD_NUMBER: _ClassVar[int]
    RETRAIN_GENERATION_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    avatar_id: str
    avatar_name: str
    owner: str
    round: int
    evaluation_run: str
    text: str
    asked_by: str
    created_at: _timestamp_pb2.Timestamp
    outcome: str
    answer: str
    answered_by: str
    answered_at: _timestamp_pb2.Timestamp
    retrain_reason: str
    retrain_generation: int
    def __init__(self, task_id: _Optional[str] = ..., avatar_id: _Optional[str] = ..., avatar_name: _Optional[str] = ..., owner: _Optional[str] = ..., round: _Optional[int] = ..., evaluation_run: _Optional[str] = ..., text: _Optional[str] = ..., asked_by: _Optional[str] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., outcome: _Optional[str] = ..., answer: _Optional[str] = ..., answered_by: _Optional[str] = ..., answered_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., retrain_reason: _Optional[str] = ..., retrain_generation: _Optional[int] = ...) -> None: ...

class ListOperatorTasksRequest(_message.Message):
    __slots__ = ("include_answered",)
    INCLUDE_ANSWERED_FIELD_NUMBER: _ClassVar[int]
    include_answered: bool
    def __init__(self, include_answered: bool = ...) -> None: ...

class ListOperatorTasksResponse(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[OperatorTask]
    def __init__(self, tasks: _Optional[_Iterable[_Union[OperatorTask, _Mapping]]] = ...) -> None: ...

class AnswerOperatorTaskRequest(_message.Message):
    __slots__ = ("task_id", "answer", "retrain_reason", "by")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    RETRAIN_REASON_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    answer: str
    retrain_reason: str
    by: str
    def __init__(self, task_id: _Optional[str] = ..., answer: _Optional[str] = ..., retrain_reason: _Optional[str] = ..., by: _Optional[str] = ...) -> None: ...

class AnswerOperatorTaskResponse(_message.Message):
    __slots__ = ("task", "started")
    TASK_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    task: OperatorTask
    started: _containers.RepeatedCompositeFieldContainer[StageRun]
    def __init__(self, task: _Optional[_Union[OperatorTask, _Mapping]] = ..., started: _Optional[_Iterable[_Union[StageRun, _Mapping]]] = ...) -> None: ...

class DeleteAvatarRequest(_message.Message):
    __slots__ = ("avatar_id", "cancel_running", "by")
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    CANCEL_RUNNING_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    cancel_running: bool
    by: str
    def __init__(self, avatar_id: _Optional[str] = ..., cancel_running: bool = ..., by: _Optional[str] = ...) -> None: ...

class DeleteAvatarResponse(_message.Message):
    __slots__ = ("deleted", "blobs_deleted", "rows_deleted", "cancelled_runs", "message", "registry_images")
    DELETED_FIELD_NUMBER: _ClassVar[int]
    BLOBS_DELETED_FIELD_NUMBER: _ClassVar[int]
    ROWS_DELETED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_RUNS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_IMAGES_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    blobs_deleted: int
    rows_deleted: int
    cancelled_runs: _containers.RepeatedScalarFieldContainer[str]
    message: str
    registry_images: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, deleted: bool = ..., blobs_deleted: _Optional[int] = ..., rows_deleted: _Optional[int] = ..., cancelled_runs: _Optional[_Iterable[str]] = ..., message: _Optional[str] = ..., registry_images: _Optional[_Iterable[str]] = ...) -> None: ...

class ListRoundsResponse(_message.Message):
    __slots__ = ("rounds", "can_deploy", "deploy_reason")
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    CAN_DEPLOY_FIELD_NUMBER: _ClassVar[int]
    DEPLOY_REASON_FIELD_NUMBER: _ClassVar[int]
    rounds: _containers.RepeatedCompositeFieldContainer[Round]
    can_deploy: bool
    deploy_reason: str
    def __init__(self, rounds: _Optional[_Iterable[_Union[Round, _Mapping]]] = ..., can_deploy: bool = ..., deploy_reason: _Optional[str] = ...) -> None: ...

class DeployRequest(_message.Message):
    __slots__ = ("avatar_id", "target", "by")
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    target: str
    by: str
    def __init__(self, avatar_id: _Optional[str] = ..., target: _Optional[str] = ..., by: _Optional[str] = ...) -> None: ...

class DeployResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: StageRun
    def __init__(self, run: _Optional[_Union[StageRun, _Mapping]] = ...) -> None: ...

class UndeployRequest(_message.Message):
    __slots__ = ("avatar_id", "by")
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    by: str
    def __init__(self, avatar_id: _Optional[str] = ..., by: _Optional[str] = ...) -> None: ...

class UndeployResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: StageRun
    def __init__(self, run: _Optional[_Union[StageRun, _Mapping]] = ...) -> None: ...

class GetEndpointRequest(_message.Message):
    __slots__ = ("avatar_id",)
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    def __init__(self, avatar_id: _Optional[str] = ...) -> None: ...

class Endpoint(_message.Message):
    __slots__ = ("avatar_id", "target", "grpc_address", "http_address", "image_reference", "image_digest", "run_id", "deployed_at")
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    GRPC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    HTTP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_AT_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    target: str
    grpc_address: str
    http_address: str
    image_reference: str
    image_digest: str
    run_id: str
    deployed_at: _timestamp_pb2.Timestamp
    def __init__(self, avatar_id: _Optional[str] = ..., target: _Optional[str] = ..., grpc_address: _Optional[str] = ..., http_address: _Optional[str] = ..., image_reference: _Optional[str] = ..., image_digest: _Optional[str] = ..., run_id: _Optional[str] = ..., deployed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetEndpointResponse(_message.Message):
    __slots__ = ("endpoint", "reason")
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    endpoint: Endpoint
    reason: str
    def __init__(self, endpoint: _Optional[_Union[Endpoint, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

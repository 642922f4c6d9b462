"""Rows to protobuf messages for the host's API."""

from __future__ import annotations

import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp

from host.artifacts import error_from_json, refs_from_json
from host.use_cases import submission_video
from host.registry import description_of
from host.storage import models
from twinforge.host.v1 import host_service_pb2 as host_pb


def timestamp(value: dt.datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value.replace(tzinfo=dt.timezone.utc))
    return ts


def plugin_info(row: models.Plugin) -> host_pb.PluginInfo:
    return host_pb.PluginInfo(
        plugin_id=row.id,
        address=row.address,
        description=description_of(row),
        health=host_pb.PLUGIN_HEALTH_HEALTHY if row.healthy else host_pb.PLUGIN_HEALTH_DOWN,
        last_seen=timestamp(row.last_seen),
        registered_at=timestamp(row.registered_at),
        last_error=row.last_error,
    )


def stage_run(row: models.StageRun) -> host_pb.StageRun:
    return host_pb.StageRun(
        run_id=row.id,
        avatar_id=row.avatar_id,
        stage=row.stage,
        state=host_pb.StageState.Value(f"STAGE_STATE_{row.state.upper()}"),
        attempt=row.attempt,
        progress=row.progress,
        progress_message=row.progress_message,
        inputs=refs_from_json(row.inputs_json),
        outputs=refs_from_json(row.outputs_json),
        parameters_json=row.parameters_json,
        error=error_from_json(row.error_json),
        summary_json=row.summary_json,
        created_at=timestamp(row.created_at),
        updated_at=timestamp(row.updated_at),
        submission_version=row.submission_version,
    )


def submission(row: models.Submission) -> host_pb.Submission:
    return host_pb.Submission(
        version=row.version,
        video=submission_video(row.avatar_id, row.version),
        created_at=timestamp(row.created_at),
    )


def avatar(row: models.Avatar) -> host_pb.Avatar:
    latest: dict[str, models.StageRun] = {}
    for run in row.runs.order_by(models.StageRun.created_at):
        latest[run.stage] = run
    return host_pb.Avatar(
        avatar_id=row.id,
        name=row.name,
        owner=row.owner.external_id,
        created_at=timestamp(row.created_at),
        submissions=[submission(s) for s in row.submissions.order_by(models.Submission.version)],
        stages=[stage_run(r) for r in latest.values()],
    )


def notification(row: models.Notification) -> host_pb.Notification:
    return host_pb.Notification(
        global_seq=row.global_seq,
        avatar_id=row.avatar_id,
        seq=row.seq,
        kind=row.kind,
        run_id=row.run_id,
        stage=row.stage,
        payload_json=row.payload_json,
        created_at=timestamp(row.created_at),
    )

"""Deleting an avatar and all its data (host/deletion.py) through the host's API and `twinforge
avatar delete`: the blob store and the database are listed before and after; the avatar's
videos, checkpoints and every row of its history go, another person's avatar keeps every byte.
Refused in words while a stage of it runs; with --cancel the running stage is stopped first."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from click.testing import CliRunner

from host.cli import main as cli
from host.settings import get_settings
from host.storage import models
from tests.fixtures.media import write_test_video
from tests.integration.test_scheduler import Resumable, notes, platform, run_state, until, workers  # noqa: F401 (workers is a fixture)
from tests.integration.test_training_loop import upload
from twinforge.host.v1 import host_service_pb2 as host_pb

TABLES = (models.Submission, models.StageRun, models.Artifact, models.Notification, models.Round, models.RetrainPlan, models.OperatorTask)


def stored_files() -> set[str]:
    """Every blob in the local store, by key."""
    root = Path(get_settings().resolved_data_dir) / "blobs"
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file() and not path.relative_to(root).parts[0].startswith(".")}


def rows_of(avatar_id: str) -> dict[str, int]:
    found = {table.__name__: table.select().where(table.avatar == avatar_id).count() for table in TABLES}
    stages = models.RetrainStage.select().join(models.RetrainPlan).where(models.RetrainPlan.avatar == avatar_id).count()
    return {**found, "RetrainStage": stages, "Avatar": models.Avatar.select().where(models.Avatar.id == avatar_id).count()}


def planned_retrain(avatar_id: str, run_id: str) -> None:
    """A retrain's plan of the avatar (host/retraining.py), with a stage it reruns and one it keeps."""
    plan = models.RetrainPlan.create(avatar=avatar_id, submission_version=1, generation=1, from_stage="resumable", from_run=run_id)
    models.RetrainStage.create(plan=plan, position=0, stage="later", parameters_json='{"generation": 1}')
    models.RetrainStage.create(plan=plan, position=1, stage="resumable", base_run=run_id)


async def test_deleting_an_avatar_removes_its_files_and_history_and_nothing_of_anyone_else(host, runtime, workers, tmp_path) -> None:
    async with platform(host, Resumable()) as stub:
        await workers.start("--cpu-slot", "0")
        video = write_test_video(tmp_path / "take.mp4")
        mine = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Mine", owner="cli:alice"))).avatar.avatar_id
        theirs = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Theirs", owner="cli:bob"))).avatar.avatar_id
        for avatar_id in (mine, theirs):
            await upload(stub, avatar_id, video, "video")
        run = (await stub.SubmitStage(host_pb.SubmitStageRequest(avatar_id=mine, stage="resumable"))).run.run_id
        await until(lambda: notes(run, "stage_artifact"), 30, "the running stage stored its checkpoint")
        assert run_state(run) == "running"
        planned_retrain(mine, run)

        before = stored_files()
        mine_before, theirs_before = rows_of(mine), rows_of(theirs)
        assert any(key.startswith(f"avatars/{mine}/resumable/") for key in before), "a checkpoint is stored"
        assert {key.split("/")[1] for key in before if key.startswith("avatars/")} == {mine, theirs}
        assert mine_before["StageRun"] == 1 and mine_before["Artifact"] >= 2 and mine_before["Notification"] > 3
        assert (mine_before["RetrainPlan"], mine_before["RetrainStage"]) == (1, 2)

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.DeleteAvatar(host_pb.DeleteAvatarRequest(avatar_id=mine, by="cli:alice"))
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "1 stage (resumable) of avatar" in refused.value.details() and f"twinforge avatar delete {mine} --cancel" in refused.value.details()
        assert stored_files() == before and rows_of(mine) == mine_before, "a refused deletion deletes nothing"

        deleted = await asyncio.to_thread(CliRunner().invoke, cli, ["avatar", "delete", mine, "--cancel", "--yes"])
        assert deleted.exit_code == 0, deleted.output
        assert f"avatar {mine} and all its data are deleted" in deleted.output

        after = stored_files()
        assert after == {key for key in before if not key.startswith(f"avatars/{mine}/")}
        assert any(key.startswith(f"avatars/{theirs}/") for key in after)
        assert rows_of(mine) == {name: 0 for name in mine_before}
        assert rows_of(theirs) == theirs_before
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await stub.GetAvatar(host_pb.GetAvatarRequest(avatar_id=mine))
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND

        asked = await asyncio.to_thread(CliRunner().invoke, cli, ["avatar", "delete", theirs], input="n\n")
        assert asked.exit_code == 1 and "cannot be undone" in asked.output and rows_of(theirs) == theirs_before
        again = await asyncio.to_thread(CliRunner().invoke, cli, ["avatar", "delete", mine, "--yes"])
        assert again.exit_code == 1 and f"there is no avatar '{mine}'" in again.output

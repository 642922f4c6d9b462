"""The materials' versions and edits through the host's gRPC API and `twinforge materials`, on four
seconds of the real congress sample: the cut-out is version 1, an edit started by EditMaterials
(run by the queue's job function and the real plugin) is version 2 with its edit log entry, going
back to 1 with RevertMaterials makes version 3 equal to it, an uploaded picture becomes the
background of version 4, and mistakes are refused with the
status code and advice a client can act on."""

from __future__ import annotations

import asyncio
import contextlib
import json

import cv2
import grpc
import numpy as np
import pytest
from click.testing import CliRunner

from host import use_cases
from host.cli import main as cli
from host.storage import models
from host.channels import host_channel_aio
from host.settings import get_settings
from plugins.cutout.artifact import read_cutout
from plugins.sdk.context import LocalInput
from scheduler import jobs
from tests.fixtures.cutout_inputs import Prepared, prepare
from tests.fixtures.services import require_samples
from tests.integration.test_interactive_edit import edit_plugins_and_avatar, upload
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

pytestmark = pytest.mark.samples

KNOWN = {"cutout", "interactive_edit"}
WHITE = [221, 214, 204]  # the backdrop's colour on congress


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Prepared:
    return prepare(tmp_path_factory.mktemp("versions-api"), require_samples() / "congress_60s_256.mp4", 4.0)


def run_job(run_id: str) -> None:
    assert jobs.run_stage(run_id) == "succeeded", models.StageRun.get_by_id(run_id).error_json


@contextlib.asynccontextmanager
async def cut_out_avatar(host: str, runtime, prepared: Prepared):
    """A stub on the host with the real plugins registered, and an avatar whose cut-out (version 1)
    is done."""
    async with edit_plugins_and_avatar(host, prepared) as (stub, avatar, inputs):
        with runtime.uow() as uow:
            cut = use_cases.submit_stage(uow, avatar, "cutout", inputs, {}, KNOWN)
        await asyncio.to_thread(run_job, cut.id)
        yield stub, avatar


async def refused(call, request) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(request)
    return caught.value


async def download(stub, ref, path):
    with path.open("wb") as out:
        async for reply in stub.DownloadArtifact(host_pb.DownloadArtifactRequest(key=ref.key)):
            out.write(reply.chunk)
    return path


async def files_of(stub, version: host_pb.MaterialVersion, folder) -> tuple:
    """The version's cut-out and materials, downloaded through the host."""
    refs = {ref.kind: ref for ref in version.files}
    cutout = read_cutout(await download(stub, refs["cutout"], folder / f"{version.version}.npz"))
    materials = json.loads((await download(stub, refs["materials"], folder / f"{version.version}.json")).read_text())
    return cutout, materials


async def test_versions_edits_and_going_back_through_the_api(host, runtime, prepared, tmp_path):
    async with host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        bare = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="New", owner="telegram:7"))).avatar.avatar_id
        assert not (await stub.ListMaterialVersions(host_pb.ListMaterialVersionsRequest(avatar_id=bare))).versions
        early = await refused(stub.EditMaterials, host_pb.EditMaterialsRequest(avatar_id=bare, operation="despill", parameters_json='{"strength": 0.5}', by="telegram:7"))
        assert early.code() == grpc.StatusCode.FAILED_PRECONDITION and "no cut-out" in early.details()
        ghost = await refused(stub.ListMaterialVersions, host_pb.ListMaterialVersionsRequest(avatar_id="nobody"))
        assert ghost.code() == grpc.StatusCode.NOT_FOUND

    async with cut_out_avatar(host, runtime, prepared) as (stub, avatar):
        listed = (await stub.ListMaterialVersions(host_pb.ListMaterialVersionsRequest(avatar_id=avatar))).versions
        assert [(v.version, v.stage, v.current, v.edit.operation, v.edit.by) for v in listed] == [(1, "cutout", True, "cutout", "twinforge")]
        assert {f.kind for f in listed[0].files} == {"cutout", "materials", "cutout_frames", "cutout_preview"}

        arguments = {"colours": [WHITE], "tolerance": 30.0}
        started = await stub.EditMaterials(host_pb.EditMaterialsRequest(
            avatar_id=avatar, operation="key_colour", parameters_json=json.dumps(arguments), by="telegram:42"))
        assert started.version == 2 and started.run.stage == "interactive_edit" and started.run.state == host_pb.STAGE_STATE_QUEUED
        busy = await refused(stub.EditMaterials, host_pb.EditMaterialsRequest(avatar_id=avatar, operation="despill", parameters_json='{"strength": 0.5}', by="telegram:42"))
        assert busy.code() == grpc.StatusCode.ALREADY_EXISTS, "a second edit waits for the first, or both would be version 2"
        await asyncio.to_thread(run_job, started.run.run_id)

        listed = (await stub.ListMaterialVersions(host_pb.ListMaterialVersionsRequest(avatar_id=avatar))).versions
        assert [(v.version, v.current) for v in listed] == [(1, False), (2, True)]
        edit = listed[1].edit
        assert (edit.version, edit.by, edit.operation, edit.based_on, listed[1].run_id) == (2, "telegram:42", "key_colour", 1, started.run.run_id)
        assert json.loads(edit.parameters_json) == arguments and edit.words == "keyed out 1 colour(s) within 30"

        back = await stub.RevertMaterials(host_pb.RevertMaterialsRequest(avatar_id=avatar, version=1, by="cli:ops"))
        assert back.version == 3
        await asyncio.to_thread(run_job, back.run.run_id)
        listed = (await stub.ListMaterialVersions(host_pb.ListMaterialVersionsRequest(avatar_id=avatar))).versions
        assert [(v.version, v.current, v.edit.operation, v.edit.by) for v in listed] == [
            (1, False, "cutout", "twinforge"), (2, False, "key_colour", "telegram:42"), (3, True, "revert", "cli:ops"),
        ]
        assert json.loads(listed[2].edit.parameters_json) == {"to_version": 1}
        first, keyed, restored = [await files_of(stub, v, tmp_path) for v in listed]
        assert not np.array_equal(keyed[0].alpha, first[0].alpha), "the edit changed the cut-out"
        assert np.array_equal(restored[0].alpha, first[0].alpha) and restored[0].recipe == first[0].recipe
        assert restored[1] == first[1] and restored[0].version == 3

        unknown_op = await refused(stub.EditMaterials, host_pb.EditMaterialsRequest(avatar_id=avatar, operation="sharpen", by="telegram:42"))
        assert unknown_op.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "'sharpen'" in unknown_op.details() and "key_colour" in unknown_op.details(), "the message lists the operations"
        bad_argument = await refused(stub.EditMaterials, host_pb.EditMaterialsRequest(avatar_id=avatar, operation="despill", parameters_json='{"strength": 3}', by="telegram:42"))
        assert bad_argument.code() == grpc.StatusCode.INVALID_ARGUMENT and "strength" in bad_argument.details()
        undo_as_edit = await refused(stub.EditMaterials, host_pb.EditMaterialsRequest(avatar_id=avatar, operation="revert", parameters_json='{"to_version": 1}', by="telegram:42"))
        assert undo_as_edit.code() == grpc.StatusCode.INVALID_ARGUMENT and "RevertMaterials" in undo_as_edit.details()
        nobody = await refused(stub.EditMaterials, host_pb.EditMaterialsRequest(avatar_id=avatar, operation="despill", parameters_json='{"strength": 0.5}'))
        assert nobody.code() == grpc.StatusCode.INVALID_ARGUMENT and "by" in nobody.details()
        missing = await refused(stub.RevertMaterials, host_pb.RevertMaterialsRequest(avatar_id=avatar, version=9, by="cli:ops"))
        assert missing.code() == grpc.StatusCode.NOT_FOUND and "versions: 1, 2, 3" in missing.details()
        no_picture = await refused(stub.EditMaterials, host_pb.EditMaterialsRequest(avatar_id=avatar, operation="background", parameters_json='{"image": true}', by="telegram:42"))
        assert no_picture.code() == grpc.StatusCode.INVALID_ARGUMENT and "background_image" in no_picture.details()
        assert len((await stub.ListMaterialVersions(host_pb.ListMaterialVersionsRequest(avatar_id=avatar))).versions) == 3, "nothing refused was queued"

        orange = np.zeros((32, 48, 3), np.uint8) + np.array([0, 128, 255], np.uint8)  # BGR, as OpenCV writes it
        picture = LocalInput(plugin_pb.ArtifactRef(kind="background_image"), tmp_path / "orange.png")
        cv2.imwrite(str(picture.path), orange)
        pictured = await stub.EditMaterials(host_pb.EditMaterialsRequest(
            avatar_id=avatar, operation="background", parameters_json='{"image": true}', by="telegram:42",
            background_image=await upload(stub, avatar, picture)))
        assert pictured.version == 4
        await asyncio.to_thread(run_job, pictured.run.run_id)
        newest = (await stub.ListMaterialVersions(host_pb.ListMaterialVersionsRequest(avatar_id=avatar))).versions[-1]
        background = (await files_of(stub, newest, tmp_path))[0].background
        assert newest.version == 4 and background.shape[:2] == (prepared.info.height, prepared.info.width)
        assert np.abs(background.astype(int) - [255, 128, 0]).max() <= 2, "the uploaded picture is the background"


async def test_the_materials_commands(host, runtime, prepared):
    async with cut_out_avatar(host, runtime, prepared) as (stub, avatar):

        def twinforge(*args: str):
            return CliRunner().invoke(cli, ["materials", *args])

        edited = await asyncio.to_thread(twinforge, "edit", avatar, "despill", "--param", "strength=0.4", "--by", "cli:alice")
        assert edited.exit_code == 0, edited.output
        assert "makes version 2" in edited.output
        run_id = (await stub.ListStageRuns(host_pb.ListStageRunsRequest(avatar_id=avatar, stage="interactive_edit"))).runs[-1].run_id
        await asyncio.to_thread(run_job, run_id)

        listed = await asyncio.to_thread(twinforge, "versions", avatar, "--json")
        assert listed.exit_code == 0, listed.output
        rows = json.loads(listed.output)
        assert [(r["version"], r["current"], r["operation"], r["by"]) for r in rows] == [(1, False, "cutout", "twinforge"), (2, True, "despill", "cli:alice")]
        assert rows[1]["parameters"] == {"strength": 0.4}
        table = await asyncio.to_thread(twinforge, "versions", avatar)
        assert "2 *" in table.output and "cli:alice" in table.output

        wrong = await asyncio.to_thread(twinforge, "back", avatar, "7")
        assert wrong.exit_code == 1 and "no materials version 7 (versions: 1, 2)" in wrong.output
        typo = await asyncio.to_thread(twinforge, "edit", avatar, "despil", "--param", "strength=0.4")
        assert typo.exit_code == 1 and "despill" in typo.output

"""Editing the materials on four seconds of the real congress sample: a keyed colour disappears, an
exclude point removes its region, a kept region stays through later edits, a trim and a new
background reuse the matted frames; and through the host, the queue's job function and the real
plugins, every edit is a new version with its entry in the message center, and going back to a
version publishes it again as the newest."""

from __future__ import annotations

import asyncio
import contextlib
import json

import av
import numpy as np
import pytest

from host import material_versions, use_cases
from host.storage import models
from host.storage.blobs import file_chunks
from host.channels import host_channel_aio
from host.settings import get_settings
from plugins.cutout.artifact import Cutout, read_cutout
from plugins.cutout.server import CutoutStage
from plugins.interactive_edit.server import InteractiveEdit
from scheduler import jobs
from tests.fixtures.cutout_inputs import COVER, DRIVING, Prepared, fetched, prepare, run_plugin
from tests.fixtures.services import require_samples, start_plugin
from tests.integration.test_cutout import face_regions
from tests.integration.test_host_flow import wait_registered
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

pytestmark = pytest.mark.samples

SECONDS = 4.0
SUIT = (60, 240)  # a point on the jacket, left of the shirt, in frame pixels
TOLERANCE = 30.0


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Prepared:
    return prepare(tmp_path_factory.mktemp("edit"), require_samples() / "congress_60s_256.mp4", SECONDS)


@pytest.fixture(scope="module")
def first(prepared: Prepared) -> dict:
    """Version 1: the cutout stage's outputs and the hand-written materials, with its summary."""
    ctx = run_plugin(CutoutStage(), prepared, prepared.inputs, {}, "cut-1")
    return {**fetched(prepared, ctx), "materials": prepared.of("materials"), "summary": ctx.summary}


def edit(prepared: Prepared, version: dict, run_id: str, **parameters) -> dict:
    sources = [prepared.of(kind) for kind in ("video", "matte", "training_set")]
    ctx = run_plugin(InteractiveEdit(), prepared, [*sources, version["cutout"], version["materials"]], {"by": "telegram:42", **parameters}, run_id)
    return {**fetched(prepared, ctx), "summary": ctx.summary}


def alpha_of(version: dict) -> np.ndarray:
    return read_cutout(version["cutout"].path).alpha


def patch(alpha: np.ndarray, point: tuple[float, float], radius: int = 2) -> np.ndarray:
    x, y = int(point[0]), int(point[1])
    return alpha[..., y - radius : y + radius + 1, x - radius : x + radius + 1].astype(float) / 255


def test_a_keyed_colour_disappears(prepared, first):
    before = alpha_of(first)
    with av.open(str(prepared.of("video").path)) as container:
        pictures = [f.to_ndarray(format="rgb24") for i, f in zip(range(DRIVING[1]), container.decode(video=0)) if i >= DRIVING[0]]
    shirt = np.median(pictures[0][236:252, 118:138].reshape(-1, 3), axis=0)  # below the chin, in the middle
    keyed = edit(prepared, first, "key", operation="key_colour", colours=[shirt.tolist()], tolerance=TOLERANCE)
    after = alpha_of(keyed)
    within = np.stack([np.linalg.norm(p.astype(float) - shirt, axis=2) <= TOLERANCE for p in pictures])
    assert within.sum() > 500, "the shirt's colour is in the clip"
    assert before[within].mean() / 255 > 0.9, "the shirt was part of the cut-out"
    assert after[within].max() == 0, "the keyed colour is gone from every frame"
    assert keyed["summary"]["edit"] == {
        "version": 2, "by": "telegram:42", "operation": "key_colour", "parameters": {"colours": [shirt.tolist()], "tolerance": TOLERANCE},
        "based_on": 1, "words": "keyed out 1 colour(s) within 30",
    }


def test_an_exclude_point_removes_its_region_and_nothing_else(prepared, first):
    before = alpha_of(first)
    excluded = edit(prepared, first, "exclude", operation="trimap_points", exclude=[list(SUIT)])
    after = alpha_of(excluded)
    assert patch(before, SUIT).mean() > 0.95 and patch(after, SUIT).max() == 0
    inside, _ = face_regions(prepared, DRIVING[0], (prepared.info.width, prepared.info.height))
    assert after[0][inside].mean() / 255 > 0.99, "the face is untouched"
    assert np.abs(after.astype(int) - before.astype(int)).mean() < 8, "the edit is local"


def test_a_kept_region_stays_through_later_edits(prepared, first):
    offered = first["summary"]["regions"]
    assert offered, "the cut-out offers regions touching the person"
    region = offered[0]
    assert patch(alpha_of(first), region["point"]).mean() < 0.05, "an offered region is cut away at first"
    kept = edit(prepared, first, "keep", operation="region", action="keep", region=region["id"])
    assert patch(alpha_of(kept), region["point"]).min() > 0.95
    despilled = edit(prepared, kept, "keep-despill", operation="despill", strength=0.3)
    assert despilled["summary"]["matted_frames"] == 0, "a new spill strength reuses the matted frames"
    assert np.array_equal(alpha_of(despilled), alpha_of(kept))
    assert read_cutout(despilled["cutout"].path).recipe["regions"] == [{"action": "keep", "point": region["point"]}]


def test_a_trim_and_a_background_reuse_the_frames(prepared, first):
    trimmed = edit(prepared, first, "trim", operation="trim", start=20, stop=50)
    assert trimmed["summary"]["matted_frames"] == 0
    materials = json.loads(trimmed["materials"].path.read_text())
    assert (materials["driving_clips"][0]["start"], materials["driving_clips"][0]["stop"]) == (20, 50)
    assert np.array_equal(alpha_of(trimmed), alpha_of(first)[20 - DRIVING[0] : 50 - DRIVING[0]])
    green = edit(prepared, trimmed, "green", operation="background", colour=[0, 255, 0])
    cutout = read_cutout(green["cutout"].path)
    assert cutout.background.tolist() == [0, 255, 0] and (cutout.clip.start, cutout.clip.stop, cutout.cover) == (20, 50, COVER)
    with av.open(str(green["cutout_preview"].path)) as preview:
        shown = next(preview.decode(video=0)).to_ndarray(format="rgb24")
    _, far = face_regions(prepared, 20, (prepared.info.width, prepared.info.height))
    assert np.abs(shown[far & (cutout.alpha[0] == 0)].astype(int) - [0, 255, 0]).mean() < 10


async def upload(stub, avatar_id: str, local) -> object:
    async def parts():
        yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=avatar_id, kind=local.ref.kind, filename=local.path.name))
        for chunk in file_chunks(local.path):  # in chunks, as every client sends: a draft training set is over gRPC's 4 MiB message limit
            yield host_pb.UploadArtifactRequest(chunk=chunk)

    return (await stub.UploadArtifact(parts())).artifact


def run_through_host(runtime, submit) -> str:
    """Submits a run as the bot's handler would (in a unit of work), then runs its job."""
    with runtime.uow() as uow:
        run = submit(uow)
    assert jobs.run_stage(run.id) == "succeeded", models.StageRun.get_by_id(run.id).error_json
    return run.id


def read_version(runtime, version: material_versions.MaterialVersion, folder) -> tuple[Cutout, dict]:
    """A version's cut-out and materials, read back from the blob store."""
    local = {}
    for kind in ("cutout", "materials"):
        ref = version.files[kind]
        local[kind] = folder / f"{version.number}-{ref.name}"
        runtime.blobs.get_file(ref.key, local[kind], ref.sha256)
    return read_cutout(local["cutout"]), json.loads(local["materials"].read_text())


@contextlib.asynccontextmanager
async def edit_plugins_and_avatar(host: str, prepared):
    """A stub on the host with the real cutout and interactive_edit plugins registered, and a new
    avatar with the prepared inputs uploaded: (stub, avatar id, input refs)."""
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        await start_plugin(CutoutStage(), stack)
        await start_plugin(InteractiveEdit(), stack)
        await wait_registered(stub, "cutout")
        await wait_registered(stub, "interactive_edit")
        avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Ted", owner="telegram:42"))).avatar.avatar_id
        yield stub, avatar, [await upload(stub, avatar, item) for item in prepared.inputs]


async def test_every_edit_is_a_version_in_the_message_center_and_going_back_restores_one(host, runtime, prepared, tmp_path):
    known = {"cutout", "interactive_edit"}
    async with edit_plugins_and_avatar(host, prepared) as (_, avatar, inputs):

        def step(submit) -> str:
            return run_through_host(runtime, submit)

        await asyncio.to_thread(step, lambda uow: use_cases.submit_stage(uow, avatar, "cutout", inputs, {}, known))
        white = {"operation": "key_colour", "colours": [[221, 214, 204]], "tolerance": TOLERANCE, "by": "telegram:42"}
        await asyncio.to_thread(step, lambda uow: material_versions.submit_edit(uow, avatar, white, known))
        await asyncio.to_thread(step, lambda uow: material_versions.submit_edit(uow, avatar, {"operation": "despill", "strength": 0.5, "by": "cli:ops"}, known))
        back = await asyncio.to_thread(step, lambda uow: material_versions.go_back(uow, avatar, 1, "telegram:42", known))

    versions = material_versions.versions(avatar)
    assert [v.number for v in versions] == [1, 2, 3, 4]
    assert [v.stage for v in versions] == ["cutout", "interactive_edit", "interactive_edit", "interactive_edit"]
    assert material_versions.current(avatar).run_id == back
    first, keyed, despilled, restored = (read_version(runtime, version, tmp_path) for version in versions)
    assert not np.array_equal(keyed[0].alpha, first[0].alpha) and despilled[0].recipe["despill"] == 0.5
    assert np.array_equal(restored[0].alpha, first[0].alpha), "going back to version 1 restores its cut-out"
    assert restored[0].recipe == first[0].recipe and restored[0].version == 4
    assert restored[1] == first[1], "and its materials"

    log = material_versions.edit_log(avatar)
    assert [(e["version"], e["by"], e["operation"]) for e in log] == [
        (1, "twinforge", "cutout"), (2, "telegram:42", "key_colour"), (3, "cli:ops", "despill"), (4, "telegram:42", "revert"),
    ]
    assert log[1]["parameters"] == {"colours": [[221, 214, 204]], "tolerance": TOLERANCE}
    assert log[3]["parameters"] == {"to_version": 1}
    lines = [json.loads(n.payload_json)["message"] for n in models.Notification.select().where(
        (models.Notification.avatar == avatar) & (models.Notification.kind == "stage_log") & (models.Notification.stage == "interactive_edit"))]
    assert "materials version 4: telegram:42 went back to version 1" in lines

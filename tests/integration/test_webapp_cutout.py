"""The cut-out editor's API (bot/webapp/cutout.py) through a real aiohttp server against the real
host: a cut-out published by the cutout stage's own writer and renderer is shown over its
checkerboard beside the original frame; taps and strokes normalised to the picture become the
host's edits in the frame's pixels, as the interactive_edit plugin takes them; an edit under way
shows as busy and holds the next one back; and what is wrong is refused with the catalogue's
words, before anything is queued. The edits' runs are not run here (the browser test runs them)."""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiohttp
import av
import cv2
import numpy as np
import pytest

from bot import state
from host import use_cases
from host.channels import host_channel_aio
from host.settings import get_settings
from host.storage import models
from plugins.cutout.artifact import Cutout, write_cutout
from plugins.cutout.inputs import Clip
from plugins.cutout.recipe import default_recipe
from plugins.cutout.render import render
from plugins.interactive_edit.server import InteractiveEdit
from tests.fixtures.media import write_test_video
from tests.fixtures.services import start_plugin
from tests.fixtures.webapp import ANNA, BEN, signed, webapp
from tests.integration.test_bot import newest_edit, stored
from tests.integration.test_deploy_api import finished
from tests.integration.test_host_flow import wait_registered
from tests.integration.test_webapp import anna_with_an_avatar, plain
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

SIZE, COVER, RADIUS = 64, 10, 20


@pytest.fixture
async def client(host, tmp_path):
    """A client of the web app, with the interactive_edit plugin registered (the host takes an edit
    only for a stage someone serves, and checks it against the plugin's schema); no worker runs it."""
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        await start_plugin(InteractiveEdit(), stack)
        await wait_registered(host_grpc.HostServiceStub(channel), "interactive_edit")
        running = await stack.enter_async_context(webapp(host, tmp_path / "web"))
        yield await stack.enter_async_context(aiohttp.ClientSession(running.url))


def cut_out(runtime, avatar_id: str, tmp_path) -> np.ndarray:
    """Version 1 as the cutout stage publishes it (its own writer and renderer), of a disc in the
    middle of a 64 px test video: returns the cover frame as recorded (RGB)."""
    video_path = write_test_video(tmp_path / "video.mp4", seconds=2.0, size=SIZE)
    materials = tmp_path / "materials.json"
    materials.write_text(json.dumps({"format": "twinforge.materials", "driving_clips": [{"id": "d1", "start": 0, "stop": 25}],
                                     "covers": [{"id": "c1", "frame": COVER}], "chosen": {"driving": "d1", "cover": "c1"}}))
    with runtime.uow() as uow:
        source = use_cases.submit_stage(uow, avatar_id, "sources", [], {}, {"sources"}, 0)
    sources = [stored(runtime, avatar_id, source.id, "sources", "video", "video.mp4", video_path),
               stored(runtime, avatar_id, source.id, "sources", "materials", "materials.json", materials)]
    finished(runtime, source, {}, sources)
    disc = np.zeros((SIZE, SIZE), np.uint8)
    cv2.circle(disc, (SIZE // 2, SIZE // 2), RADIUS, 255, -1)
    alpha = np.repeat(disc[None], 25, axis=0)
    paths = {name: tmp_path / name for name in ("cutout.npz", "cutout_frames.zip", "cutout_preview.mp4")}
    write_cutout(paths["cutout.npz"], Cutout(alpha, disc, Clip("d1", 0, 25), COVER, 25.0, 1, default_recipe(), [], None, []))
    render(video_path, 25.0, 0, alpha, COVER, disc, 1.0, None, paths["cutout_frames.zip"], paths["cutout_preview.mp4"], lambda row: None)
    with runtime.uow() as uow:
        run = use_cases.submit_stage(uow, avatar_id, "cutout", sources, {}, {"cutout"}, 0)
    metadata = json.dumps({"version": 1, "start": 0, "stop": 25, "cover": COVER, "fps": 25.0, "width": SIZE, "height": SIZE})
    files = []
    for kind, name in (("cutout", "cutout.npz"), ("cutout_frames", "cutout_frames.zip"), ("cutout_preview", "cutout_preview.mp4")):
        ref = stored(runtime, avatar_id, run.id, "cutout", kind, name, paths[name])
        ref.metadata_json = metadata
        files.append(ref)
    finished(runtime, run, {"version": 1, "edit": {"version": 1, "by": "twinforge", "operation": "cutout", "parameters": {}}}, files)
    with av.open(str(video_path)) as container:
        return next(f for i, f in enumerate(container.decode(video=0)) if i == COVER).to_ndarray(format="rgb24")


async def picture(client: aiohttp.ClientSession, path: str) -> np.ndarray:
    response = await client.get(path, headers=signed(ANNA))
    assert response.status == 200 and response.headers["Content-Type"] == "image/jpeg", path
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(await response.read(), np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(int)


async def answer(response: aiohttp.ClientResponse) -> tuple[int, dict]:
    return response.status, await response.json()


async def test_the_cut_out_is_shown_over_its_checkerboard_beside_the_original(client, runtime, tmp_path):
    avatar = await asyncio.to_thread(anna_with_an_avatar, runtime)
    base = f"/api/avatars/{avatar}/cutout"
    status, body = await answer(await client.get(base, headers=signed(ANNA)))
    assert status == 200 and not body["ready"] and "shows up here once it is made" in body["intro"]
    status, refused = await answer(await client.post(f"{base}/edit", json={"tool": "keep", "point": [0.5, 0.5]}, headers=signed(ANNA)))
    assert status == 409 and refused["error"] == "none" and "wait until your cut-out shows up" in refused["advice"]

    frame = await asyncio.to_thread(cut_out, runtime, avatar, tmp_path)
    status, body = await answer(await client.get(base, headers=signed(ANNA)))
    assert status == 200 and body["ready"] and body["version"] == 1 and body["despill"] == 1.0 and body["colour"] == ""
    assert (body["undo"], body["redo"], body["busy"], body["failed"]) == (None, None, "", "")
    assert body["versions"] == [{"version": 1, "words": "Version 1: the first cut-out", "current": True, "same": True}]
    assert plain({k: v for k, v in body.items() if k not in ("after", "before")})
    after, before = await picture(client, body["after"]), await picture(client, body["before"])
    assert after.shape == before.shape == (SIZE, SIZE, 3)
    assert np.abs(before - frame).mean() < 4, "the original: the cover frame as recorded"
    inside, corner = (slice(24, 40), slice(24, 40)), (slice(0, 12), slice(0, 12))
    assert np.abs(after[inside] - frame[inside]).mean() < 6, "the person (a disc) as it was"
    assert np.abs(after[corner] - 102).mean() < 6 and np.abs(after[(slice(0, 12), slice(20, 28))] - 153).mean() < 6, "the checkerboard around it"
    assert (await client.get(body["after"], headers=signed(BEN))).status == 403
    assert (await client.get(f"{base}/7/after.jpg", headers=signed(ANNA))).status == 404


async def test_taps_and_strokes_become_the_edits_in_the_frames_pixels_one_at_a_time(client, runtime, host, tmp_path):
    avatar = await asyncio.to_thread(anna_with_an_avatar, runtime)
    frame = await asyncio.to_thread(cut_out, runtime, avatar, tmp_path)
    base = f"/api/avatars/{avatar}/cutout"
    corner = np.median(frame[:5, :5].reshape(-1, 3), axis=0)
    edits = [
        ({"tool": "remove", "stroke": [[0.25, 0.5], [0.75, 0.5]], "brush": 0.05},
         {"operation": "region", "action": "remove", "stroke": [[16.0, 32.0], [48.0, 32.0]], "brush": 3.2}),
        ({"tool": "keep", "point": [0.5, 0.25]}, {"operation": "trimap_points", "include": [[32.0, 16.0]]}),
        ({"tool": "remove", "point": [0.0, 1.0]}, {"operation": "trimap_points", "exclude": [[0.0, 64.0]]}),
        ({"tool": "key", "point": [0.02, 0.02]}, None),  # the colour is the frame's there (checked below)
        ({"tool": "despill", "strength": 0.4}, {"operation": "despill", "strength": 0.4}),
        ({"tool": "colour", "colour": "#00B140"}, {"operation": "background", "colour": [0, 177, 64]}),
        ({"tool": "recorded"}, {"operation": "background", "recorded": True}),
    ]
    for sent, expected in edits:
        status, done = await answer(await client.post(f"{base}/edit", json=sent, headers=signed(ANNA)))
        assert status == 200 and done == {"words": "Making version 2…", "version": 2}, sent
        run = newest_edit(avatar)
        parameters = json.loads(run.parameters_json)
        assert parameters.pop("by") == f"telegram:{ANNA}" and parameters.pop("version") == 2
        if expected is None:
            assert parameters["operation"] == "key_colour" and np.abs(np.array(parameters["colours"][0]) - corner).max() <= 12, (parameters, corner)
        else:
            assert parameters == expected
        status, body = await answer(await client.get(base, headers=signed(ANNA)))
        assert body["busy"] == "Making version 2… 0%" and not body["failed"]
        status, refused = await answer(await client.post(f"{base}/edit", json={"tool": "despill", "strength": 0.1}, headers=signed(ANNA)))
        assert status == 409 and refused["error"] == "busy" and refused["message"] == "your last change is still being made"
        with runtime.uow() as uow:
            use_cases.cancel_run(uow, run.id, "the test goes on with the next edit")
    status, body = await answer(await client.get(base, headers=signed(ANNA)))
    assert body["busy"] == "" and body["failed"].startswith("The last change did not work out")

    png = cv2.imencode(".png", np.full((20, 30, 3), (40, 90, 200), np.uint8))[1].tobytes()
    status, done = await answer(await client.post(f"{base}/background", data=png, headers={**signed(ANNA), "Content-Type": "image/png"}))
    assert status == 200 and done["version"] == 2
    run = newest_edit(avatar)
    assert json.loads(run.parameters_json)["image"] is True
    assert [ref["kind"] for ref in json.loads(run.inputs_json)][-1] == "background_image"
    with runtime.uow() as uow:
        use_cases.cancel_run(uow, run.id, "the test goes on")
    status, done = await answer(await client.post(f"{base}/revert", json={"version": 1}, headers=signed(ANNA)))
    assert status == 200 and done["version"] == 2
    assert json.loads(newest_edit(avatar).parameters_json)["to_version"] == 1


async def test_what_is_wrong_is_refused_in_the_persons_words_before_anything_is_queued(client, runtime, tmp_path):
    avatar = await asyncio.to_thread(anna_with_an_avatar, runtime)
    await asyncio.to_thread(cut_out, runtime, avatar, tmp_path)
    base = f"/api/avatars/{avatar}/cutout"
    wrong = [
        ("edit", {"tool": "paint"}, 400, "unknown_tool", "“paint” is not one of the tools"),
        ("edit", ["keep"], 400, "unknown_tool", "“” is not one of the tools"),
        ("edit", {"tool": "keep", "point": [1.5, 0.2]}, 400, "bad_point", "that spot is not on the picture"),
        ("edit", {"tool": "key", "point": "middle"}, 400, "bad_point", "that spot is not on the picture"),
        ("edit", {"tool": "remove", "stroke": [[0.1, 0.1]], "brush": 0}, 400, "bad_stroke", "that brush stroke is not on the picture"),
        ("edit", {"tool": "remove", "stroke": [[0.1, 0.1], [0.2, 7]], "brush": 0.05}, 400, "bad_stroke", "that brush stroke is not on the picture"),
        ("edit", {"tool": "remove", "stroke": [], "brush": 0.05}, 400, "bad_stroke", "that brush stroke is not on the picture"),
        ("edit", {"tool": "despill", "strength": 2}, 400, "bad_strength", "the spill removal goes from 0 to 100%"),
        ("edit", {"tool": "despill"}, 400, "bad_strength", "the spill removal goes from 0 to 100%"),
        ("edit", {"tool": "colour", "colour": "green"}, 400, "bad_colour", "“green” is not a colour"),
        ("revert", {"version": 7}, 400, "unknown_version", "there is no version 7"),
        ("revert", {}, 400, "no_version", "it does not say which version to go back to"),
    ]
    for path, body, status, code, words in wrong:
        got, refused = await answer(await client.post(f"{base}/{path}", json=body, headers=signed(ANNA)))
        assert (got, refused["error"], refused["message"]) == (status, code, words), body
        assert refused["advice"]
    got, refused = await answer(await client.post(f"{base}/background", data=b"just some text", headers=signed(ANNA)))
    assert (got, refused["error"]) == (400, "not_a_picture")
    got, refused = await answer(await client.post(f"{base}/background", data=b"\x89PNG" + b"0" * (10 * 1024 * 1024), headers=signed(ANNA)))
    assert (got, refused["error"], refused["message"]) == (413, "picture_too_big", "a background picture can be at most 10.0 MB")
    got, refused = await answer(await client.post(f"{base}/edit", json={"tool": "keep", "point": [0.5, 0.5]}, headers=signed(BEN)))
    assert (got, refused["error"]) == (403, "not_yours")

    await asyncio.to_thread(state.set_language, ANNA, "zh")
    got, refused = await answer(await client.post(f"{base}/edit", json={"tool": "colour", "colour": "绿色"}, headers=signed(ANNA)))
    assert (got, refused["message"], refused["advice"]) == (400, "“绿色”不是一种颜色", "请选一种颜色")
    status, body = await answer(await client.get(base, headers=signed(ANNA)))
    assert body["versions"][0]["words"] == "第 1 版：第一次抠像" and body["intro"].startswith("在图片上点一下或者涂抹")
    assert not models.StageRun.select().where((models.StageRun.avatar == avatar) & (models.StageRun.stage == "interactive_edit")).exists()

"""The cut-out editor of the materials page in a real headless browser (chromium through selenium,
as tests/e2e/test_webapp_browser.py drives it), against the real host with the real cutout and
interactive_edit plugins, on four seconds of the congress sample prepared by the real preprocessing
plugins: the person brushes over their shirt with Remove, sees the edit being made, then the
picture change there (its pixels, read back from the page) and a version added; Undo brings back
the first picture pixel for pixel, Redo the edited one, and a tap with Key out colour keys out the
backdrop's colour where it was tapped (then, in Chinese, undone). Screenshots, at a phone's size, in English and in Chinese, go
to docs/webapp/ with TWINFORGE_TEST_SCREENSHOTS=1."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time

import av
import numpy as np
import pytest

from bot import state
from host import use_cases
from host.channels import host_channel_aio
from host.settings import get_settings
from host.storage import models
from plugins.cutout.server import CutoutStage
from plugins.interactive_edit.server import InteractiveEdit
from scheduler import jobs
from tests.fixtures.browser import chromium
from tests.fixtures.cutout_inputs import COVER, Prepared, prepare
from tests.fixtures.services import require_samples, start_plugin
from tests.fixtures.webapp import ANNA, webapp
from tests.integration.test_deploy_api import finished
from tests.integration.test_host_flow import wait_registered
from tests.integration.test_interactive_edit import upload
from tests.integration.test_webapp import anna_with_an_avatar
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

pytestmark = pytest.mark.samples

pytest.importorskip("selenium.webdriver", reason="selenium is not installed: run scripts/setup (it is a dev dependency)")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from tests.e2e.test_webapp_browser import as_telegram_opens_it, click, loaded, screenshot, until, visible_text  # noqa: E402

KNOWN = {"material_extraction", "cutout", "interactive_edit"}
STROKE = ((0.3, 0.9), (0.7, 0.9))  # across the shirt and jacket, below the face
WALL = (0.04, 0.3)  # the backdrop, left of the head


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Prepared:
    return prepare(tmp_path_factory.mktemp("cutout-browser"), require_samples() / "congress_60s_256.mp4", 4.0)


@pytest.fixture
def browser():
    with chromium() as driver:
        yield driver


def pixels(driver, element_id: str) -> np.ndarray:
    """The picture the page shows in the <img>, as decoded by the browser: uint8[H, W, 4]."""
    width, height, data = driver.execute_script("""
        const img = document.getElementById(arguments[0]);
        const canvas = document.createElement("canvas");
        canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
        const context = canvas.getContext("2d");
        context.drawImage(img, 0, 0);
        const bytes = context.getImageData(0, 0, canvas.width, canvas.height).data;
        let text = "";
        for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
        return [canvas.width, canvas.height, btoa(text)];""", element_id)
    return np.frombuffer(base64.b64decode(data), np.uint8).reshape(height, width, 4)


def edits(avatar_id: str) -> list[models.StageRun]:
    return list(models.StageRun.select().where((models.StageRun.avatar == avatar_id) & (models.StageRun.stage == "interactive_edit"))
                .order_by(models.StageRun.created_at))


async def the_edit_is_made(driver, avatar_id: str, before: int, making: str = "Making version") -> dict:
    """Waits for the edit the page asked for (the avatar had `before`), sees the page say it is being
    made (in words that start with `making`), runs it as a worker would, and waits for the page to
    show the new version: the edit's parameters."""
    deadline = time.monotonic() + 20
    while len(found := await asyncio.to_thread(edits, avatar_id)) == before:
        assert time.monotonic() < deadline, "the page asked for no edit"
        await asyncio.sleep(0.1)
    run = found[-1]
    await until(driver, lambda d: visible_text("cutout-busy-words")(d).startswith(making), "the edit being made")
    assert driver.find_element(By.ID, "cutout-undo").get_attribute("disabled"), "nothing else starts meanwhile"
    assert await asyncio.to_thread(jobs.run_stage, run.id) == "succeeded", models.StageRun.get_by_id(run.id).error_json
    version = json.loads(run.parameters_json)["version"]
    await until(driver, lambda d: d.find_element(By.ID, "cutout-after").get_attribute("data-path").endswith(f"/{version}/after.jpg")
                and not d.find_element(By.ID, "cutout-busy").is_displayed(), f"version {version}")
    await until(driver, loaded("cutout-after"), f"version {version}'s picture")
    return json.loads(run.parameters_json)


def versions_listed(driver) -> list[str]:
    return [row.find_element(By.TAG_NAME, "span").text for row in driver.find_elements(By.CSS_SELECTOR, "#cutout-versions li")]


def brush(driver, points: tuple[tuple[float, float], ...]) -> None:
    """A finger (a mouse here) drawn over the picture through `points`, each a share of its width and height."""
    canvas = driver.find_element(By.ID, "cutout-strokes")
    width, height = canvas.size["width"], canvas.size["height"]
    at = [(round((x - 0.5) * width), round((y - 0.5) * height)) for x, y in points]  # offsets from the element's centre
    chain = ActionChains(driver, duration=20).move_to_element_with_offset(canvas, *at[0]).click_and_hold()
    for (x0, y0), (x1, y1) in zip(at, at[1:]):
        for step in range(1, 11):
            chain = chain.move_by_offset(round(x0 + (x1 - x0) * step / 10) - round(x0 + (x1 - x0) * (step - 1) / 10),
                                         round(y0 + (y1 - y0) * step / 10) - round(y0 + (y1 - y0) * (step - 1) / 10))
    chain.release().perform()


def tap(driver, point: tuple[float, float]) -> None:
    canvas = driver.find_element(By.ID, "cutout-strokes")
    offset = (round((point[0] - 0.5) * canvas.size["width"]), round((point[1] - 0.5) * canvas.size["height"]))
    ActionChains(driver).move_to_element_with_offset(canvas, *offset).click().perform()


def show_editor(driver) -> None:
    driver.execute_script("document.getElementById('cutout').scrollIntoView({block: 'start'})")


async def test_a_person_brushes_away_part_of_the_cut_out_undoes_and_redoes_it_and_keys_out_a_colour(host, runtime, browser, prepared, tmp_path):
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        for plugin in (CutoutStage(), InteractiveEdit()):
            await start_plugin(plugin, stack)
            await wait_registered(stub, plugin.stages[0])
        running = await stack.enter_async_context(webapp(host, tmp_path / "web"))
        avatar = await asyncio.to_thread(anna_with_an_avatar, runtime)
        await asyncio.to_thread(state.agree, ANNA)
        inputs = [await upload(stub, avatar, item) for item in prepared.inputs]
        video, materials = inputs[0], next(ref for ref in inputs if ref.kind == "materials")
        with runtime.uow() as uow:  # the proposal the gallery shows: the materials the cut-out is made from
            proposal = use_cases.submit_stage(uow, avatar, "material_extraction", [video], {}, KNOWN)
        await asyncio.to_thread(finished, runtime, proposal, {"driving_clips": 1, "covers": 1}, [materials])
        with runtime.uow() as uow:
            cut = use_cases.submit_stage(uow, avatar, "cutout", inputs, {}, KNOWN)
        assert await asyncio.to_thread(jobs.run_stage, cut.id) == "succeeded"

        as_telegram_opens_it(browser, ANNA)
        await asyncio.to_thread(browser.get, running.url + "/?view=materials")
        await until(browser, visible_text("cutout-intro"), "the cut-out editor")
        for element in ("cutout-after", "cutout-before", "preview-cover-c1"):
            await until(browser, loaded(element), f"{element} shown")
        assert versions_listed(browser) == ["Version 1: the first cut-out"]
        assert browser.find_element(By.ID, "cutout-undo").get_attribute("disabled") and browser.find_element(By.ID, "cutout-despill").get_attribute("value") == "100"
        first = await asyncio.to_thread(pixels, browser, "cutout-after")
        original = await asyncio.to_thread(pixels, browser, "cutout-before")
        assert first.shape == original.shape == (256, 256, 4)

        await asyncio.to_thread(show_editor, browser)
        await click(browser, "tool-remove")
        assert browser.find_element(By.ID, "cutout-hint").text == "Tap or brush over what should go."
        await asyncio.to_thread(brush, browser, STROKE)
        parameters = await the_edit_is_made(browser, avatar, 0)
        assert parameters["operation"] == "region" and parameters["action"] == "remove" and len(parameters["stroke"]) > 5
        xs, ys = zip(*parameters["stroke"])
        assert abs(min(xs) - 0.3 * 256) < 8 and abs(max(xs) - 0.7 * 256) < 8 and all(abs(y - 0.9 * 256) < 6 for y in ys)
        assert parameters["brush"] == pytest.approx(0.05 * 256, abs=0.1)
        brushed = await asyncio.to_thread(pixels, browser, "cutout-after")
        band = (slice(round(0.9 * 256) - 3, round(0.9 * 256) + 4), slice(round(0.35 * 256), round(0.65 * 256)))
        change = np.abs(brushed[..., :3].astype(int) - first[..., :3].astype(int))
        assert change[band].mean() > 25, "the shirt under the brush is gone: the checkerboard shows there"
        assert change[:128].mean() < 2, "the face and the wall are as they were"
        assert versions_listed(browser) == ["Version 2: removed a brushed area", "Version 1: the first cut-out"]
        assert browser.find_element(By.ID, "cutout-redo").get_attribute("disabled")
        await asyncio.to_thread(browser.execute_script,
                                "const s = document.getElementById('cutout-compare'); s.value = 50; s.dispatchEvent(new Event('input'));")
        assert "50%" in browser.find_element(By.ID, "cutout-after").get_attribute("style")
        await asyncio.to_thread(show_editor, browser)
        screenshot(browser, "cutout.png")

        await click(browser, "cutout-undo")
        assert (await the_edit_is_made(browser, avatar, 1))["to_version"] == 1
        assert np.array_equal(await asyncio.to_thread(pixels, browser, "cutout-after"), first), "undo: the first cut-out again"
        assert versions_listed(browser)[0] == "Version 3: as version 1 was"
        assert browser.find_element(By.ID, "cutout-undo").get_attribute("disabled") and not browser.find_element(By.ID, "cutout-redo").get_attribute("disabled")
        await click(browser, "cutout-redo")
        assert (await the_edit_is_made(browser, avatar, 2))["to_version"] == 2
        assert np.array_equal(await asyncio.to_thread(pixels, browser, "cutout-after"), brushed), "redo: the brushed one again"

        await click(browser, "tool-key")
        await asyncio.to_thread(tap, browser, WALL)
        parameters = await the_edit_is_made(browser, avatar, 3)
        with av.open(str(prepared.of("video").path)) as container:
            cover = next(frame for index, frame in enumerate(container.decode(video=0)) if index == COVER).to_ndarray(format="rgb24")
        wall = np.median(cover[round(WALL[1] * 256) - 2 : round(WALL[1] * 256) + 3, round(WALL[0] * 256) - 2 : round(WALL[0] * 256) + 3].reshape(-1, 3), axis=0)
        assert parameters["operation"] == "key_colour" and np.abs(np.array(parameters["colours"][0]) - wall).max() <= 12, (parameters, wall)
        assert versions_listed(browser)[0].startswith("Version 5: keyed out #")
        page = browser.find_element(By.TAG_NAME, "body").text
        assert avatar not in page and "interactive_edit" not in page and "127.0.0.1" not in page and "telegram:" not in page

        await asyncio.to_thread(state.set_language, ANNA, "zh")
        await asyncio.to_thread(browser.get, running.url + "/?view=materials")
        await until(browser, lambda d: d.execute_script("return document.documentElement.lang") == "zh" and visible_text("cutout-intro")(d),
                    "the page again in Chinese, as the person now reads it")
        assert browser.find_element(By.CSS_SELECTOR, "#cutout h2").text == "你的抠像"
        await until(browser, loaded("cutout-after"), "the picture")
        listed = versions_listed(browser)
        assert listed[0].startswith("第 5 版：抠掉了 #") and listed[1] == "第 4 版：回到第 2 版的样子"
        assert browser.find_element(By.ID, "tool-key").text == "抠掉颜色"
        await asyncio.to_thread(show_editor, browser)
        await click(browser, "cutout-undo")  # the wall's colour is close to the skin's: keyed out, it took some of the face too
        assert (await the_edit_is_made(browser, avatar, 4, "正在做第 6 版"))["to_version"] == 2, "back to the brushed one"
        assert np.array_equal(await asyncio.to_thread(pixels, browser, "cutout-after"), brushed)
        assert versions_listed(browser)[0] == "第 6 版：回到第 2 版的样子"
        await asyncio.to_thread(show_editor, browser)
        screenshot(browser, "cutout-zh.png")

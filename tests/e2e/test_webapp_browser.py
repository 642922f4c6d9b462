"""The web app in a real headless browser (Debian's chromium through chromedriver, driven by
selenium) against the real host: opened as Telegram opens a Mini App (initData in
window.Telegram.WebApp), the person agrees, sends a short video in pieces, sees the intake check's
result (run by the real video_analysis plugin through the job function, failures first), then the
progress timeline; and with a trained avatar reviews it, approves it, sees the clips and covers and
the talk page. Screenshots of each page, at a phone's size (390x844), go to docs/webapp/ with TWINFORGE_TEST_SCREENSHOTS=1."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import time
from pathlib import Path

import pytest

from bot import state
from host import deployments, use_cases
from host.channels import host_channel_aio
from host.settings import get_settings
from host.storage import models
from plugins.deployment.server import Deployment
from plugins.image_packaging.server import ImagePackaging
from plugins.interactive_edit.server import InteractiveEdit
from plugins.video_analysis.server import VideoAnalysis
from scheduler import jobs
from scheduler.leases import Lease
from tests.fixtures.browser import chromium
from tests.fixtures.media import write_test_video
from tests.fixtures.services import start_plugin
from tests.fixtures.webapp import ANNA, init_data, webapp
from tests.integration.test_bot import closed_port, proposed_materials, verdicts
from tests.integration.test_deploy_api import finished
from tests.integration.test_host_flow import wait_registered
from tests.integration.test_webapp import anna_with_an_avatar, round_with_the_recording, source_video
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

# Written to docs/webapp/ when asked (TWINFORGE_TEST_SCREENSHOTS=1 .venv/bin/pytest tests/e2e/test_webapp_browser.py),
# else to the temporary directory, so that a test run leaves the checkout as it found it.
SCREENSHOTS = (Path(__file__).resolve().parents[2] / "docs" / "webapp" if os.environ.get("TWINFORGE_TEST_SCREENSHOTS") == "1"
               else Path(tempfile.gettempdir()) / "twinforge-webapp-screenshots")

pytest.importorskip("selenium.webdriver", reason="selenium is not installed: run scripts/setup (it is a dev dependency)")
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


@pytest.fixture
def browser():
    with chromium() as driver:
        yield driver


def as_telegram_opens_it(driver, user_id: int, language_code: str = "en") -> None:
    """What telegram-web-app.js would leave for the page: the signed initData, before any script runs."""
    script = f"window.Telegram = {{WebApp: {{initData: {init_data(user_id, language_code=language_code)!r}, ready() {{}}}}}};"
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})


async def until(driver, condition, what: str, timeout_s: float = 20.0):
    """Polls the page without blocking the event loop the host and the web app run on."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = await asyncio.to_thread(condition, driver)
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"the page never showed {what}; it shows: {driver.find_element(By.TAG_NAME, 'body').text[:2000]}")


def visible_text(element_id: str):
    """The element's text once it shows; "" while it is not there yet, or while the page reloads itself
    (as it does in the person's own language) and the element found a moment ago is gone."""
    def found(driver):
        try:
            element = driver.find_element(By.ID, element_id)
            return element.text if element.is_displayed() and element.text.strip() else ""
        except (NoSuchElementException, StaleElementReferenceException):
            return ""
    return found


def screenshot(driver, name: str) -> Path:
    time.sleep(0.3)  # a video that has its first frame is drawn on the next paint, not at once
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    driver.save_screenshot(str(path))
    return path


async def test_a_person_sends_a_video_sees_the_check_and_follows_the_progress_in_a_browser(host, runtime, browser, tmp_path):
    video = write_test_video(tmp_path / "my take.mp4", seconds=2.0)
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        await start_plugin(VideoAnalysis(), stack)
        await wait_registered(host_grpc.HostServiceStub(channel), "video_analysis")
        running = await stack.enter_async_context(webapp(host, tmp_path / "web", chunk_bytes=8192))
        as_telegram_opens_it(browser, ANNA)
        await asyncio.to_thread(browser.get, running.url + "/")
        privacy = await until(browser, visible_text("privacy"), "the privacy statement")
        assert "biometric" in privacy
        await asyncio.to_thread(lambda: browser.find_element(By.ID, "agree").click())
        await until(browser, lambda d: not d.find_element(By.ID, "consent").is_displayed(), "the statement agreed to")
        await asyncio.to_thread(lambda: browser.find_element(By.ID, "file").send_keys(str(video)))
        await until(browser, lambda d: d.find_element(By.ID, "send").is_enabled(), "the Send button enabled")
        assert "my take.mp4" in browser.find_element(By.ID, "file-label").text
        shot = screenshot(browser, "upload.png")

        await asyncio.to_thread(lambda: browser.find_element(By.ID, "send").click())
        await until(browser, lambda d: "Stored as version 1" in d.find_element(By.ID, "upload-status").text, "the video stored")
        assert "100%" in browser.find_element(By.ID, "transfer-words").text
        submission = models.Submission.get()
        assert submission.filename == "my take.mp4" and submission.video_sha256 == hashlib.sha256(video.read_bytes()).hexdigest()
        (run,) = models.StageRun.select().where(models.StageRun.avatar == submission.avatar)
        assert await asyncio.to_thread(jobs.run_stage, run.id) == "failed"  # a 2-s 64-px clip: the real check says what to fix

        title = await until(browser, visible_text("result-title"), "the check's result")
        assert "did not pass" in title
        items = browser.find_elements(By.CSS_SELECTOR, "#result-items li")
        statuses = [item.get_attribute("class") for item in items]
        assert statuses[0] == "fail" and statuses == sorted(statuses, key=["fail", "warning", "pass"].index), "failures first"
        assert all(item.find_elements(By.CLASS_NAME, "advice") for item in items if item.get_attribute("class") == "fail"), "each failure says what to do"
        screenshot(browser, "upload-result.png")

        await asyncio.to_thread(browser.get, running.url + "/?view=progress")
        summary = await until(browser, visible_text("step-summary"), "the timeline")
        assert summary.startswith("Step 1 of 7, Checking your video, did not work out")
        steps = [name.text for name in browser.find_elements(By.CSS_SELECTOR, "#steps li .name")]
        assert steps[:3] == ["Checking your video", "Preparing your video", "Choosing clips and covers"] and len(steps) == 7
        assert "we will message you" in browser.find_element(By.ID, "close-line").text
        page = browser.find_element(By.TAG_NAME, "body").text
        assert "video_analysis" not in page and "127.0.0.1" not in page and submission.avatar_id not in page
        screenshot(browser, "progress.png")
    assert shot.stat().st_size > 5000


def loaded(element_id: str):
    """A video (or picture) of the page that has its first frame to show."""
    def found(driver):
        return driver.execute_script(
            "const e = document.getElementById(arguments[0]); return !!e && (e.tagName === 'IMG' ? e.complete && e.naturalWidth > 0 : e.readyState >= 2);",
            element_id)
    return found


async def click(driver, element_id: str) -> None:
    await asyncio.to_thread(lambda: driver.find_element(By.ID, element_id).click())


async def test_a_person_reviews_approves_picks_a_clip_and_meets_the_talk_page_in_a_browser(host, runtime, browser, tmp_path):
    """Anna's trained avatar: the review page plays the render beside her real recording, the details
    open, Approve reaches the host and offers Go live; the clips and covers play in a gallery; once
    live, the talk page says which voice reads text, and a service that does not answer is said plainly;
    a training under way shows its time left on the timeline."""
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        for plugin in (ImagePackaging(), Deployment(), InteractiveEdit()):
            await start_plugin(plugin, stack)
            await wait_registered(host_grpc.HostServiceStub(channel), plugin.stages[0])
        running = await stack.enter_async_context(webapp(host, tmp_path / "web"))
        avatar = await asyncio.to_thread(anna_with_an_avatar, runtime)
        await asyncio.to_thread(state.agree, ANNA)
        video = await asyncio.to_thread(source_video, runtime, avatar, tmp_path)
        await asyncio.to_thread(proposed_materials, runtime, avatar, video, tmp_path)
        await asyncio.to_thread(round_with_the_recording, runtime, avatar, video, tmp_path)
        as_telegram_opens_it(browser, ANNA)

        await asyncio.to_thread(browser.get, running.url + "/?view=review")
        headline = await until(browser, visible_text("review-headline"), "the review")
        assert "does it look right" in headline
        for element in ("review-render", "review-recording", "review-voice"):
            await until(browser, loaded(element), f"{element} playing")
        assert "real recording" in browser.find_element(By.ID, "review-recording-label").text
        assert not browser.find_element(By.ID, "review-words").is_displayed(), "the measures wait behind Details"
        await asyncio.sleep(1.0)  # the players' loading circles fade out
        screenshot(browser, "review.png")
        await asyncio.to_thread(lambda: browser.find_element(By.CSS_SELECTOR, "#review-details summary").click())
        await until(browser, visible_text("review-words"), "the measures")
        assert "lips follow the voice" in browser.find_element(By.ID, "review-words").text.lower()
        await asyncio.to_thread(browser.execute_script, "document.getElementById('review-details').scrollIntoView()")
        screenshot(browser, "review-details.png")
        await click(browser, "reject")
        await until(browser, visible_text("reasons"), "the reasons")
        assert "Wrong clip" in browser.find_element(By.ID, "reasons").text
        await asyncio.to_thread(browser.execute_script, "document.getElementById('reject-box').scrollIntoView()")
        screenshot(browser, "review-reject.png")

        await click(browser, "approve")
        words = await until(browser, visible_text("review-result"), "the approval")
        assert words.startswith("Approved") and browser.find_element(By.ID, "deploy").is_displayed()
        assert "can go live now" in browser.find_element(By.ID, "deploy-words").text
        assert await verdicts(host, avatar) == ["approved"], "the host recorded the approval"
        screenshot(browser, "review-approved.png")

        await asyncio.to_thread(browser.get, running.url + "/?view=materials")
        await until(browser, visible_text("materials-intro"), "the clips and covers")
        for element in ("preview-driving-d1", "preview-driving-d2", "preview-cover-c1", "preview-cover-c2"):
            await until(browser, loaded(element), f"{element} shown")
        titles = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#gallery .title")]
        assert titles == ["Clip d1: 1.0 s ★", "Clip d2: 1.0 s", "Cover c1 ★", "Cover c2"]
        screenshot(browser, "materials.png")

        with runtime.uow() as uow:
            run = use_cases.submit_stage(uow, avatar, deployments.DEPLOYMENT, [], {"target": "local"}, {deployments.DEPLOYMENT}, 0)
        await asyncio.to_thread(finished, runtime, run, {"endpoint": {"target": "local", "grpc_address": f"127.0.0.1:{closed_port()}", "http_address": ""}})
        await asyncio.to_thread(browser.get, running.url + "/?view=talk")
        voice = await until(browser, visible_text("talk-voice"), "the talk page")
        assert "computer's English voice, not yours" in voice
        await asyncio.to_thread(lambda: browser.find_element(By.ID, "talk-text").send_keys("Hello, I am glad to meet you."))
        screenshot(browser, "talk.png")
        await click(browser, "talk-send")
        refused = await until(browser, visible_text("problem"), "the refusal")
        assert "not answering" in refused and "127.0.0.1" not in refused
        page = browser.find_element(By.TAG_NAME, "body").text
        assert avatar not in page and "quality_eval" not in page

        for stage in ("video_analysis", "vad", "audio_features", "face_track", "segmentation", "crop", "material_extraction", "cutout",
                      "syncnet", "audio2lip", "sync_detection"):  # what came before, done
            with runtime.uow() as uow:
                done = use_cases.submit_stage(uow, avatar, stage, [], {}, {stage}, 1)
            await asyncio.to_thread(finished, runtime, done, {})
        with runtime.uow() as uow:  # a retrain under way, as a rejection starts one
            training = use_cases.start_run(uow, use_cases.submit_stage(uow, avatar, "generator", [], {}, {"generator"}, 1).id)
            use_cases.record_progress(uow, training, plugin_pb.Progress(fraction=0.4, message="iteration 400", eta_seconds=720.0))
        # its worker's lease, as a real worker holds it: without one the host's recovery pass takes the
        # run for interrupted once the lease's time has passed
        with Lease(runtime.redis, training.id, "test-worker", runtime.settings.lease_ttl_s):
            await asyncio.to_thread(browser.get, running.url + "/?view=progress")
            news = await until(browser, lambda d: "minutes left" in visible_text("step-news")(d) and visible_text("step-news")(d), "the time left")
            assert "About 12 minutes left for this step." in news
            assert browser.find_element(By.ID, "step-summary").text == "Step 5 of 7: Training your avatar", "a cut-out nobody edited is done"
            screenshot(browser, "progress-time-left.png")


async def test_a_person_whose_telegram_speaks_chinese_sees_the_upload_page_and_the_check_in_chinese(host, runtime, browser, tmp_path):
    """Opened at "/" in an English browser: the page asks who it is, learns the person reads Chinese and
    shows itself again in Chinese; the check's result and its advice come in Chinese too, and so does the
    evaluation's verdict behind the review's Details."""
    video = write_test_video(tmp_path / "我的视频.mp4", seconds=2.0)
    async with contextlib.AsyncExitStack() as stack, host_channel_aio(host, get_settings()) as channel:
        await start_plugin(VideoAnalysis(), stack)
        await wait_registered(host_grpc.HostServiceStub(channel), "video_analysis")
        running = await stack.enter_async_context(webapp(host, tmp_path / "web", chunk_bytes=8192))
        as_telegram_opens_it(browser, ANNA, "zh-hans")
        await asyncio.to_thread(browser.get, running.url + "/")
        statement = visible_text("privacy")
        # First in the browser's English, then, once the page knows the person, again in Chinese.
        await until(browser, lambda d: "生物特征信息" in statement(d), "the privacy statement in Chinese")
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh"
        assert browser.find_element(By.CSS_SELECTOR, "#view-upload h1").text == "发送你的视频"
        assert [tab.text for tab in browser.find_elements(By.CLASS_NAME, "tab")] == ["上传", "进度", "片段", "检查", "说话"]
        await asyncio.to_thread(lambda: browser.find_element(By.ID, "agree").click())
        await until(browser, lambda d: not d.find_element(By.ID, "consent").is_displayed(), "the statement agreed to")
        await asyncio.to_thread(lambda: browser.find_element(By.ID, "file").send_keys(str(video)))
        await until(browser, lambda d: d.find_element(By.ID, "send").is_enabled(), "the Send button enabled")
        assert browser.find_element(By.ID, "limit").text.startswith("最大 ") and browser.find_element(By.ID, "send").text == "发送"
        screenshot(browser, "upload-zh.png")

        await asyncio.to_thread(lambda: browser.find_element(By.ID, "send").click())
        await until(browser, lambda d: "已保存为第 1 版" in d.find_element(By.ID, "upload-status").text, "the video stored")
        (run,) = models.StageRun.select().where(models.StageRun.avatar == models.Submission.get().avatar)
        assert await asyncio.to_thread(jobs.run_stage, run.id) == "failed"
        title = await until(browser, visible_text("result-title"), "the check's result")
        assert title.startswith("你的视频没有通过检查")
        items = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#result-items li")]
        assert any("时长：2.0 秒\n视频只有 2 秒" in item for item in items), items
        screenshot(browser, "upload-result-zh.png")

        # the evaluation's verdict, behind the review's Details, in Chinese too
        avatar = models.Submission.get().avatar_id
        recording = await asyncio.to_thread(source_video, runtime, avatar, tmp_path)
        await asyncio.to_thread(round_with_the_recording, runtime, avatar, recording, tmp_path)
        await asyncio.to_thread(browser.get, running.url + "/?view=review")
        await until(browser, visible_text("review-headline"), "the review in Chinese")
        await asyncio.to_thread(lambda: browser.find_element(By.CSS_SELECTOR, "#review-details summary").click())
        details = await until(browser, visible_text("review-words"), "the verdict's details")
        assert browser.find_element(By.ID, "review-verdict").text == "视频通过了全部 11 项检查，口型同步排在第一。"
        assert "口型跟得上声音。" in details and "嘴和你录像里的一样清楚" in details, details
        await asyncio.to_thread(browser.execute_script, "document.getElementById('review-details').scrollIntoView()")
        screenshot(browser, "review-details-zh.png")

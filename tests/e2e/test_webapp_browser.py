"""The web app in a real headless browser (Debian's chromium through chromedriver, driven by
selenium) against the real host: opened as Telegram opens a Mini App (initData in
window.Telegram.WebApp), the person agrees, sends a short video in pieces, sees the intake check's
result (run by the real video_analysis plugin through the job function, failures first), then the
progress timeline. Screenshots of each page, at a phone's size (390x844), go to docs/webapp/."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from pathlib import Path

import pytest

from host.channels import host_channel_aio
from host.settings import get_settings
from host.storage import models
from plugins.video_analysis.server import VideoAnalysis
from scheduler import jobs
from tests.fixtures.media import write_test_video
from tests.fixtures.services import start_plugin
from tests.fixtures.webapp import ANNA, init_data, webapp
from tests.integration.test_host_flow import wait_registered
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "webapp"
WIDTH, HEIGHT = 390, 844

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed: run scripts/setup (it is a dev dependency)")
from selenium.webdriver.common.by import By  # noqa: E402


@pytest.fixture
def browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"chromium is not installed ({CHROMIUM}, {CHROMEDRIVER}): apt-get install chromium chromium-driver, or run scripts/setup")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={WIDTH},{HEIGHT}",
                     "--lang=en-US", "--hide-scrollbars"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": True})
    try:
        yield driver
    finally:
        driver.quit()


def as_telegram_opens_it(driver, user_id: int) -> None:
    """What telegram-web-app.js would leave for the page: the signed initData, before any script runs."""
    script = f"window.Telegram = {{WebApp: {{initData: {init_data(user_id)!r}, ready() {{}}}}}};"
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
    def found(driver):
        element = driver.find_element(By.ID, element_id)
        return element.text if element.is_displayed() and element.text.strip() else ""
    return found


def screenshot(driver, name: str) -> Path:
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

"""Talking live with a deployed avatar in a real headless browser (Debian's chromium through
chromedriver): the web app's live page, signed in as Telegram opens a Mini App, gets Anna's avatar's
endpoint from the real host, sends the browser's WebRTC offer through the web app to the inference
service (a process on a bundle of a tiny trained model), plays the picture and the sound, and holds
a conversation of three typed turns, the third cutting the second short, and a fourth spoken into
the (fake) microphone. The browser's own WebRTC stats
say what arrived (frames decoded and dropped, jitter, sound). Both peers gather candidates through
the STUN servers of their settings (stand-ins on loopback): the page gets the web app's, the
service reads its own. A screenshot of a live answer goes to
docs/webapp/live.png with TWINFORGE_TEST_SCREENSHOTS=1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request

import pytest

from host import deployments, use_cases
from tests.e2e.test_webapp_browser import as_telegram_opens_it, click, screenshot, until
from tests.fixtures.browser import chromium
from tests.fixtures.live import StunStandIn, inference_service
from tests.fixtures.webapp import ANNA, webapp
from tests.integration.test_deploy_api import finished
from tests.integration.test_webapp import anna_with_an_avatar

pytestmark = pytest.mark.samples

pytest.importorskip("selenium.webdriver", reason="selenium is not installed: run scripts/setup (it is a dev dependency)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

TURNS = ("Hello, I am glad to meet you.", "Let me tell you a long story about my day, from the very beginning.", "Sorry, one more thing.")
STATS = """
const done = arguments[arguments.length - 1];
window.livePc.getStats().then((report) => {
  const found = {};
  report.forEach((s) => {
    if (s.type === "inbound-rtp") found[s.kind] = {framesDecoded: s.framesDecoded, framesDropped: s.framesDropped, jitter: s.jitter,
      frameWidth: s.frameWidth, frameHeight: s.frameHeight, framesPerSecond: s.framesPerSecond,
      totalSamplesReceived: s.totalSamplesReceived, totalAudioEnergy: s.totalAudioEnergy, packetsLost: s.packetsLost};
  });
  done(found);
});
"""


@pytest.fixture
def browser():
    with chromium("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required",
                  "--disable-features=WebRtcHideLocalIpsWithMdns") as driver:  # plain host candidates: the service resolves no .local names
        driver.set_script_timeout(10)
        yield driver


def events(driver) -> list[dict]:
    return driver.execute_script("return window.liveEvents || [];")


def event(kind: str, answer: int):
    def found(driver):
        return next((e for e in events(driver) if e["type"] == kind and e.get("answer") == answer), None)
    return found


async def ask(driver, text: str) -> None:
    def typed() -> None:
        field = driver.find_element(By.ID, "live-text")
        field.send_keys(text)
        field.send_keys(Keys.ENTER)
    await asyncio.to_thread(typed)


async def test_a_person_talks_live_with_their_avatar_in_a_browser(host, runtime, browser, live_bundle, tmp_path):
    with StunStandIn() as service_stun, StunStandIn() as page_stun, \
            inference_service(live_bundle, tmp_path / "service", live_sessions="1", live_ice_servers=service_stun.url) as ready:
        async with contextlib.AsyncExitStack() as stack:
            running = await stack.enter_async_context(webapp(host, tmp_path / "web", ice_servers=({"urls": [page_stun.url]},)))
            avatar = await asyncio.to_thread(anna_with_an_avatar, runtime)
            with runtime.uow() as uow:
                run = use_cases.submit_stage(uow, avatar, deployments.DEPLOYMENT, [], {"target": "local"}, {deployments.DEPLOYMENT}, 0)
            endpoint = {"target": "local", "grpc_address": ready["grpc"], "http_address": ready["http"]}
            await asyncio.to_thread(finished, runtime, run, {"endpoint": endpoint})
            as_telegram_opens_it(browser, ANNA)

            await asyncio.to_thread(browser.get, running.url + "/live")
            await until(browser, lambda d: d.find_element(By.ID, "live-start").is_displayed(), "the Start button")
            assert browser.find_element(By.ID, "live-name").text == "Talk live with Anna"
            await click(browser, "live-start")
            await until(browser, lambda d: "Connected" in d.find_element(By.ID, "live-status").text, "the connection", 30)
            first = await until(browser, lambda d: (d.execute_async_script(STATS).get("video") or {}).get("framesDecoded", 0) > 10 and d.execute_async_script(STATS),
                                "decoded frames of the idle avatar", 20)
            assert (first["video"]["frameWidth"], first["video"]["frameHeight"]) == (256, 256)
            configured = browser.execute_script("return window.livePc.getConfiguration().iceServers;")
            assert [server["urls"] for server in configured] == [[page_stun.url]]
            assert page_stun.asked and service_stun.asked, "each peer asked its STUN server for its outside address"

            await ask(browser, TURNS[0])
            await until(browser, event("speaking", 1), "the first answer", 30)
            assert browser.find_element(By.ID, "live-caption").text == TURNS[0], "the avatar says what was typed"
            await asyncio.sleep(0.8)
            screenshot(browser, "live.png")
            await until(browser, event("done", 1), "the first answer's end", 30)

            await ask(browser, TURNS[1])
            await until(browser, event("speaking", 2), "the second answer", 30)
            await asyncio.sleep(0.5)
            await ask(browser, TURNS[2])
            await until(browser, event("interrupted", 2), "the second answer cut short", 10)
            await until(browser, event("done", 3), "the third answer's end", 40)
            stats = await asyncio.to_thread(browser.execute_async_script, STATS)
            video, audio = stats["video"], stats["audio"]
            print(f"browser stats after three turns: {json.dumps(stats)}; events: {[e['type'] for e in events(browser)]}")
            assert video["framesDecoded"] > first["video"]["framesDecoded"] + 100
            assert video["framesDropped"] <= 0.05 * video["framesDecoded"] and video["jitter"] < 0.1 and audio["jitter"] < 0.1
            assert audio["totalSamplesReceived"] > 48000 * 4 and audio["totalAudioEnergy"] > 0, "the answers were heard"
            assert not browser.find_element(By.ID, "problem").is_displayed()

            await click(browser, "live-talk")  # chromium's fake microphone: a beep a second
            await until(browser, lambda d: "Listening to you" in d.find_element(By.ID, "live-status").text, "the recording")
            await asyncio.sleep(2.0)
            await click(browser, "live-talk")
            await until(browser, event("speaking", 4), "the spoken question's answer", 30)
            assert event("reply", 4)(browser) is None, "a recording is said back as it is"
            await until(browser, event("done", 4), "the spoken answer's end", 30)
            assert not browser.find_element(By.ID, "problem").is_displayed()

            await click(browser, "live-stop")
            await until(browser, lambda d: d.find_element(By.ID, "live-start").is_displayed(), "the Start button again")
            for _ in range(50):
                with urllib.request.urlopen(f"http://{ready['http']}/live", timeout=10) as reply:
                    if json.loads(reply.read())["sessions"] == 0:
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("hanging up left the conversation open on the service")
            page = browser.find_element(By.TAG_NAME, "body").text
            assert "127.0.0.1" not in page and avatar not in page

"""The web app's side of talking live, against the real host: the page is served, and the offer route
finds the avatar's endpoint for its owner only, refusing in words (never with the service's address)
an avatar that is not live, a service that does not answer, another person's avatar and a body that
is no offer; the page is given the STUN and TURN servers of the settings. The conversation itself is
in tests/e2e/test_live_browser.py."""

from __future__ import annotations

import asyncio

import aiohttp

from host import deployments, use_cases
from host.settings import Settings
from tests.fixtures.webapp import ANNA, BEN, signed, webapp
from tests.integration.test_bot import closed_port
from tests.integration.test_deploy_api import finished
from tests.integration.test_webapp import anna_with_an_avatar

ICE = Settings(live_ice_servers="stun:stun.example.org:3478, turns:turn.example.org:5349", live_turn_username="anna-relay",
               live_turn_credential="relay-secret")
OFFER = {"sdp": "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", "type": "offer"}


async def answer(response: aiohttp.ClientResponse) -> tuple[int, dict]:
    return response.status, await response.json()


async def test_the_live_route_reaches_only_the_owners_live_avatar_and_refuses_in_words(host, runtime, tmp_path):
    async with webapp(host, tmp_path / "web", ice_servers=tuple(ICE.ice_servers())) as running, aiohttp.ClientSession(running.url) as client:
        page = await client.get("/live")
        assert page.status == 200 and "live.js" in await page.text()
        avatar = await asyncio.to_thread(anna_with_an_avatar, runtime)
        base = f"/api/avatars/{avatar}/live"
        status, body = await answer(await client.get(base, headers=signed(ANNA)))
        assert status == 200 and body == {"name": "Anna", "live": False, "words": body["words"], "ice_servers": [
            {"urls": ["stun:stun.example.org:3478"]},
            {"urls": ["turns:turn.example.org:5349"], "username": "anna-relay", "credential": "relay-secret"},
        ]} and "not live yet" in body["words"]
        status, refused = await answer(await client.post(base, json=OFFER, headers=signed(ANNA)))
        assert status == 409 and refused["error"] == "not_live" and "Go live" in refused["advice"]
        status, refused = await answer(await client.post(base, json=OFFER, headers=signed(BEN)))
        assert status == 403 and refused["error"] == "not_yours"
        assert (await client.post(base, json=OFFER)).status == 401

        port = closed_port()
        with runtime.uow() as uow:
            run = use_cases.submit_stage(uow, avatar, deployments.DEPLOYMENT, [], {"target": "local"}, {deployments.DEPLOYMENT}, 0)
        await asyncio.to_thread(finished, runtime, run, {"endpoint": {"target": "local", "grpc_address": f"127.0.0.1:{closed_port()}",
                                                                      "http_address": f"127.0.0.1:{port}"}})
        status, body = await answer(await client.get(base, headers=signed(ANNA)))
        assert body["live"] and body["words"] == ""
        status, refused = await answer(await client.post(base, json={"sdp": "x"}, headers=signed(ANNA)))
        assert status == 400 and refused["error"] == "bad_offer"
        status, refused = await answer(await client.post(base, json=OFFER, headers=signed(ANNA)))
        assert status == 503 and refused["error"] == "service_down" and "127.0.0.1" not in refused["message"] + refused["advice"]
        status, refused = await answer(await client.delete(f"{base}/no", headers=signed(ANNA)))
        assert status == 404 and refused["error"] == "unknown_session"
        session = "A" * 22
        status, refused = await answer(await client.post(f"{base}/{session}/voice", data=b"", headers=signed(ANNA)))
        assert status == 400 and refused["error"] == "no_voice"
        voice = {**signed(ANNA), "Content-Type": "audio/webm"}
        status, refused = await answer(await client.post(f"{base}/{session}/voice", data=b"\x1a\x45\xdf\xa3", headers=voice))
        assert status == 503 and refused["error"] == "service_down"
        assert (await client.post(f"{base}/{session}/voice", data=b"x", headers={**signed(BEN), "Content-Type": "audio/webm"})).status == 403

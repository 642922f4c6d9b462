"""The STUN and TURN servers of live conversations (TWINFORGE_LIVE_ICE_SERVERS and the TURN login):
read from the environment, split as a browser's RTCPeerConnection and aiortc take them, none by
default, and refused in words when they cannot work."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from host.settings import Settings


def test_none_by_default_and_stun_and_turn_apart_with_the_turn_login(monkeypatch) -> None:
    monkeypatch.delenv("TWINFORGE_LIVE_ICE_SERVERS", raising=False)
    assert Settings().ice_servers() == []
    monkeypatch.setenv("TWINFORGE_LIVE_ICE_SERVERS", " stun:stun.example.org:3478 , turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349,")
    monkeypatch.setenv("TWINFORGE_LIVE_TURN_USERNAME", "relay")
    monkeypatch.setenv("TWINFORGE_LIVE_TURN_CREDENTIAL", "pass-7731")
    assert Settings().ice_servers() == [
        {"urls": ["stun:stun.example.org:3478"]},
        {"urls": ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"], "username": "relay", "credential": "pass-7731"},
    ]
    assert "pass-7731" not in repr(Settings())


@pytest.mark.parametrize(("fields", "words"), [
    ({"live_ice_servers": "https://stun.example.org"}, "is not a stun:, turn: or turns: URL"),
    ({"live_ice_servers": "stun:"}, "is not a stun:, turn: or turns: URL"),
    ({"live_ice_servers": "turn:turn.example.org:3478", "live_turn_username": "relay"}, "set TWINFORGE_LIVE_TURN_USERNAME and TWINFORGE_LIVE_TURN_CREDENTIAL"),
])
def test_servers_that_cannot_work_are_refused_in_words(fields: dict, words: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(**fields)
    assert words in str(refused.value) and "TWINFORGE_LIVE_ICE_SERVERS" in str(refused.value)

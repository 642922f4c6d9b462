"""What several handlers share: the person's avatars as the host knows them, checked against the
owner, so no handler ever acts on an avatar that is not the person's own."""

from __future__ import annotations

from bot import state
from bot.catalogue import say, stage_name
from bot.host_client import HostClient
from bot.models import BotUser
from twinforge.host.v1 import host_service_pb2 as host_pb

STATE_KEYS = {
    host_pb.STAGE_STATE_PENDING: "pending", host_pb.STAGE_STATE_QUEUED: "queued", host_pb.STAGE_STATE_RUNNING: "running",
    host_pb.STAGE_STATE_WAITING_FOR_USER: "waiting_for_user", host_pb.STAGE_STATE_SUCCEEDED: "succeeded",
    host_pb.STAGE_STATE_FAILED: "failed", host_pb.STAGE_STATE_CANCELLED: "cancelled",
}
ACTIVE = (host_pb.STAGE_STATE_PENDING, host_pb.STAGE_STATE_QUEUED, host_pb.STAGE_STATE_RUNNING)
NAME_LIMIT = 64  # characters of an avatar's name


async def own_avatar(host: HostClient, person: BotUser, avatar_id: str) -> host_pb.Avatar | None:
    """The avatar, when it is this person's; None for anyone else's (or one that does not exist)."""
    if not avatar_id:
        return None
    avatar = await host.avatar(avatar_id)
    return avatar if avatar.owner == state.owner_of(person.user_id) else None


async def round_waits(host: HostClient, avatar_id: str, round_run: str, answered_too: bool = False) -> bool:
    """Whether the round measured by the evaluation run `round_run` is the avatar's newest and still
    waits for the person's verdict (`answered_too`: whether answered or not)."""
    rounds = (await host.rounds(avatar_id)).rounds
    newest = rounds[-1] if rounds else None
    return newest is not None and newest.evaluation_run == round_run and (answered_too or not newest.verdict)


async def unused_name(host: HostClient, person: BotUser, name: str) -> str:
    """`name` (at most NAME_LIMIT characters), or `name 2`, `name 3`... where the person has an
    avatar of that name already: no id reaches the chat, so names are how a person tells avatars apart."""
    taken = {avatar.name for avatar in await host.avatars(state.owner_of(person.user_id))}
    found, number = name[:NAME_LIMIT], 1
    while found in taken:
        number += 1
        found = f"{name[: NAME_LIMIT - len(str(number)) - 1]} {number}"
    return found


async def current_avatar(host: HostClient, person: BotUser) -> host_pb.Avatar | None:
    return await own_avatar(host, person, person.current_avatar)


def run_state(run: host_pb.StageRun, language: str) -> str:
    return say(f"run_state_{STATE_KEYS.get(run.state, 'pending')}", language)


def where(avatar: host_pb.Avatar, language: str) -> str:
    """Where the avatar stands in words: its most recently changed stage and that stage's state."""
    if not avatar.stages:
        return say("state_new", language)
    latest = max(avatar.stages, key=lambda run: run.updated_at.ToNanoseconds())
    return say("state_stage", language, stage=stage_name(latest.stage, language), state=run_state(latest, language))

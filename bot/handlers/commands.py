"""/start, /help, /new, /avatars, /status, /cancel, /delete."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message

from bot import keyboards, state
from bot.catalogue import say, stage_name
from bot.handlers.common import ACTIVE, current_avatar, run_state, unused_name, where
from bot.host_client import HostClient
from bot.models import BotUser
from twinforge.host.v1 import host_service_pb2 as host_pb
from bot.notifications import Follower


async def start(message: Message, person: BotUser) -> None:
    await message.answer(say("start", person.language))


async def help_(message: Message, person: BotUser) -> None:
    await message.answer(say("help", person.language))


async def new_avatar(host: HostClient, follower: Follower, person: BotUser, name: str):
    """Creates an avatar owned by the person, makes it current and follows its notifications."""
    avatar = await host.create_avatar(await unused_name(host, person, name), state.owner_of(person.user_id))
    state.set_current(person.user_id, avatar.avatar_id)
    follower.follow(avatar.avatar_id, person.user_id, person.chat_id)
    return avatar


async def new(message: Message, command: CommandObject, person: BotUser, host: HostClient, follower: Follower) -> None:
    avatar = await new_avatar(host, follower, person, (command.args or "").strip() or say("default_name", person.language))
    await message.answer(say("created", person.language, name=avatar.name))


async def avatars(message: Message, person: BotUser, host: HostClient) -> None:
    mine = await host.avatars(state.owner_of(person.user_id))
    if not mine:
        await message.answer(say("no_avatars", person.language))
        return
    lines = [say("avatars_title", person.language)]
    for avatar in mine:
        mark = "▶" if avatar.avatar_id == person.current_avatar else "•"
        lines.append(say("avatar_line", person.language, mark=mark, name=avatar.name,
                         state=where(avatar, person.language)))
    others = [(a.avatar_id, a.name) for a in mine if a.avatar_id != person.current_avatar]
    await message.answer("\n".join(lines), reply_markup=keyboards.choose(person.user_id, others, person.language) if others else None)


async def status(message: Message, person: BotUser, host: HostClient) -> None:
    avatar = await current_avatar(host, person)
    if avatar is None:
        await message.answer(say("no_avatars", person.language))
        return
    if not avatar.stages:
        await message.answer(say("status_nothing", person.language, name=avatar.name))
        return
    lines = [say("status_title", person.language, name=avatar.name, avatar_id=avatar.avatar_id)]
    for run in sorted(avatar.stages, key=lambda r: r.created_at.ToNanoseconds()):
        progress = f" {round(run.progress * 100)}%" if run.state == host_pb.STAGE_STATE_RUNNING else ""
        lines.append(say("status_line", person.language, stage=stage_name(run.stage, person.language),
                         state=run_state(run, person.language), progress=progress))
    await message.answer("\n".join(lines))


async def cancel(message: Message, person: BotUser, host: HostClient) -> None:
    """Forgets a question the bot asked; with none pending, asks before it stops the current avatar's active runs."""
    if person.awaiting:
        state.set_awaiting(person.user_id, "")
        await message.answer(say("cancelled_input", person.language))
        return
    avatar = await current_avatar(host, person)
    if avatar is None:
        await message.answer(say("no_avatars", person.language))
        return
    active = [run for run in avatar.stages if run.state in ACTIVE]
    if not active:
        await message.answer(say("nothing_to_cancel", person.language, name=avatar.name))
        return
    # what is stopped cannot be resumed (a new video starts it again): ask first (bot.handlers.buttons stops)
    await message.answer(say("cancel_ask", person.language, name=avatar.name, stages=stages_of(active, person.language)),
                         reply_markup=keyboards.confirm_cancel(person.user_id, avatar.avatar_id, person.language))


def stages_of(runs: list[host_pb.StageRun], language: str) -> str:
    return ", ".join(stage_name(run.stage, language) for run in runs)


async def delete(message: Message, person: BotUser, host: HostClient) -> None:
    """Asks before the current avatar and all its data are deleted (bot.handlers.buttons deletes)."""
    avatar = await current_avatar(host, person)
    if avatar is None:
        await message.answer(say("no_avatars", person.language))
        return
    await message.answer(say("delete_ask", person.language, name=avatar.name),
                         reply_markup=keyboards.confirm_delete(person.user_id, avatar.avatar_id, person.language))


def router() -> Router:
    """A fresh router per dispatcher (a router belongs to one dispatcher)."""
    router = Router(name="commands")
    router.message.register(start, CommandStart())
    router.message.register(help_, Command("help"))
    router.message.register(new, Command("new"))
    router.message.register(avatars, Command("avatars"))
    router.message.register(status, Command("status"))
    router.message.register(cancel, Command("cancel"))
    router.message.register(delete, Command("delete"))
    return router

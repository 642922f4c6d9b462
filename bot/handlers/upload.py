"""A video sent as a video, a video note or a document (mp4, mov, mkv, webm) is fetched from
Telegram with getFile and streamed to the host as it downloads, then submitted: the intake check
starts, and its report comes back through the notifications (bot.notifications). Before a person
agreed to the privacy statement (bot.handlers.privacy), their video waits, unfetched, until they do."""

from __future__ import annotations

import re
from pathlib import PurePath

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message

from bot import keyboards, state
from bot.catalogue import say
from bot.handlers import privacy
from bot.handlers.commands import new_avatar
from bot.handlers.common import current_avatar
from bot.host_client import HostClient, HostError
from bot.models import BotUser, CallbackToken
from bot.notifications import Follower
from bot.settings import BotSettings
from twinforge.host.v1 import host_service_pb2 as host_pb

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm")
VIDEO = "video"  # its kind among the files that wait for an answer (bot.models.WaitingFile)
DOWNLOAD_TIMEOUT_S = 600


def megabytes(size: int) -> str:
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def display_name(name: str | None, fallback: str) -> str:
    """The sender's file name as a label only: its last component, plain characters, short. The host
    never makes a path of it either (UploadHeader.filename)."""
    base = PurePath((name or "").replace("\\", "/")).name
    cleaned = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")[:100]
    return cleaned or fallback


async def document(message: Message, bot: Bot, person: BotUser, host: HostClient, follower: Follower, bot_settings: BotSettings) -> None:
    name = message.document.file_name or ""
    if not name.lower().endswith(VIDEO_SUFFIXES):
        await message.answer(say("not_a_video", person.language, name=display_name(name, "?")))
        return
    await receive(message, bot, person, host, follower, bot_settings, message.document.file_id, message.document.file_size, name)


async def video(message: Message, bot: Bot, person: BotUser, host: HostClient, follower: Follower, bot_settings: BotSettings) -> None:
    item = message.video or message.video_note
    name = getattr(item, "file_name", None) or "video.mp4"
    await receive(message, bot, person, host, follower, bot_settings, item.file_id, item.file_size, name)


def in_production(avatar: host_pb.Avatar) -> bool:
    """Whether a video of the avatar passed the check and its production started: a new video then
    makes the avatar again, which a person must choose (a video after a failed check is the fix asked for)."""
    return any(run.stage != "video_analysis" for run in avatar.stages)


async def receive(message: Message, bot: Bot, person: BotUser, host: HostClient, follower: Follower, bot_settings: BotSettings,
                  file_id: str, size: int | None, name: str, confirmed: bool = False) -> None:
    """`confirmed`: the person chose to make their current avatar again from this video."""
    limit = bot_settings.download_limit_bytes
    if size and size > limit:
        await message.answer(say("too_big", person.language, size=megabytes(size), limit=megabytes(limit)))
        return
    if state.agreed_at(person.user_id) is None:
        if state.hold_file(person.user_id, VIDEO, file_id, size or 0, name):
            await message.answer(say("privacy_latest_waits", person.language))  # the statement is above already
        else:
            await privacy.ask(message, person, "privacy_ask_video")
        return
    avatar = await current_avatar(host, person)
    if avatar is not None and not confirmed and in_production(avatar):
        state.hold_file(person.user_id, VIDEO, file_id, size or 0, name)
        live = (await host.endpoint(avatar.avatar_id)).HasField("endpoint")
        await message.answer(say("again_ask_live" if live else "again_ask", person.language, name=avatar.name),
                             reply_markup=keyboards.again(person.user_id, avatar.avatar_id, avatar.name, person.language))
        return
    await message.answer(say("received", person.language, size=megabytes(size or 0)))
    if avatar is None:
        avatar = await new_avatar(host, follower, person, say("default_name", person.language))
        await message.answer(say("created_for_upload", person.language, name=avatar.name))
    follower.follow(avatar.avatar_id, person.user_id, person.chat_id)
    try:
        telegram_file = await bot.get_file(file_id)
    except TelegramBadRequest as exc:  # the announced size was missing or wrong
        if "too big" not in exc.message:
            raise
        await message.answer(say("too_big", person.language, size=megabytes(size or limit + 1), limit=megabytes(limit)))
        return
    url = bot.session.api.file_url(bot.token, telegram_file.file_path)
    chunks = bot.session.stream_content(url, timeout=DOWNLOAD_TIMEOUT_S, chunk_size=1024 * 1024)
    try:
        video = await host.upload(avatar.avatar_id, "video", display_name(name, "video.mp4"), chunks)
    except HostError as exc:
        await message.answer(say("upload_failed", person.language, reason=exc.words))
        return
    submission = await host.submit(avatar.avatar_id, video)
    await message.answer(say("submitted", person.language, version=submission.submission.version, name=avatar.name))


async def agreed(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, bot_settings: BotSettings) -> None:
    """The person agreed to the privacy statement: the video that waited for it is stored now."""
    state.agree(person.user_id)
    await query.message.answer(say("privacy_thanks", person.language))
    waiting = state.take_file(person.user_id, VIDEO)
    if waiting is not None:
        await receive(query.message, query.bot, person, host, follower, bot_settings, waiting.file_id, waiting.size or None, waiting.name)


async def again(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, bot_settings: BotSettings, found: CallbackToken) -> None:
    """The person's answer for the video sent to an avatar in production: make that avatar again from
    it, start a new avatar with it, or keep everything as it is (the video is not stored)."""
    waiting = state.take_file(person.user_id, VIDEO)
    if waiting is None:
        await query.message.answer(say("again_nothing_waits", person.language))
        return
    if found.argument == "keep":
        await query.message.answer(say("again_kept", person.language))
        return
    if found.argument == "new":
        avatar = await new_avatar(host, follower, person, say("default_name", person.language))
        await query.message.answer(say("created_for_upload", person.language, name=avatar.name))
    else:
        state.set_current(person.user_id, found.avatar_id)
    person = state.user(person.user_id)
    await receive(query.message, query.bot, person, host, follower, bot_settings, waiting.file_id, waiting.size or None, waiting.name, confirmed=True)


def router() -> Router:
    """A fresh router per dispatcher (a router belongs to one dispatcher)."""
    router = Router(name="upload")
    router.message.register(document, F.document)
    router.message.register(video, F.video | F.video_note)
    return router

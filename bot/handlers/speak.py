"""Plain text and voice messages: the answer to a question the bot asked (the words of a rejection),
or, once the current avatar is live, what it should say: the video comes back as an MP4."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import BufferedInputFile, Message

from bot import state
from bot.catalogue import say
from bot.handlers.common import current_avatar, own_avatar, round_waits
from bot.host_client import HostClient, HostError
from bot.models import BotUser
from plugins.tts.languages import language_of

REJECT_OTHER = "reject_other:"  # awaiting "reject_other:<avatar id>:<the round's evaluation run>"


async def text(message: Message, person: BotUser, host: HostClient) -> None:
    if person.awaiting.startswith(REJECT_OTHER):
        await other_words(message, person, host)
        return
    await speak(message, person, host, text=message.text)


async def other_words(message: Message, person: BotUser, host: HostClient) -> None:
    """The words of a rejection for "something else", for the round whose reasons were shown (a
    round answered meanwhile, or replaced by a newer one, is not rejected with them)."""
    avatar_id, _, round_run = person.awaiting.removeprefix(REJECT_OTHER).partition(":")
    state.set_awaiting(person.user_id, "")
    avatar = await own_avatar(host, person, avatar_id)
    if avatar is None:
        return
    if round_run and not await round_waits(host, avatar.avatar_id, round_run):
        await message.answer(say("button_stale_review", person.language))
        return
    await host.reject(avatar.avatar_id, state.owner_of(person.user_id), "other", message.text)
    await message.answer(say("rejected_other", person.language))


async def voice(message: Message, bot: Bot, person: BotUser, host: HostClient) -> None:
    """Telegram's voice messages are OGG/Opus, which the avatar's service decodes itself."""
    telegram_file = await bot.get_file(message.voice.file_id)
    audio = await bot.download_file(telegram_file.file_path)
    await speak(message, person, host, audio=audio.read())


async def speak(message: Message, person: BotUser, host: HostClient, text: str = "", audio: bytes = b"") -> None:
    avatar = await current_avatar(host, person)
    if avatar is None:
        await message.answer(say("no_voice_text", person.language))
        return
    found = await host.endpoint(avatar.avatar_id)
    if not found.HasField("endpoint") or not found.endpoint.grpc_address:
        await message.answer(say("not_live", person.language, reason=found.reason or say("not_live_no_address", person.language)))
        return
    await message.answer(say("rendering", person.language))
    try:
        video, summary = await host.render(found.endpoint.grpc_address, text=text, audio=audio)
    except HostError as exc:
        await message.answer(say("render_failed", person.language, reason=exc.words))
        return
    # typed text is spoken by a synthetic voice, not the person's own: say so, which one, and how to get theirs
    caption = say("rendered_text" if text else "rendered", person.language, seconds=summary.seconds, voice=voice_name(text, person.language))
    await message.answer_video(BufferedInputFile(video, "avatar.mp4"), caption=caption)


def voice_name(text: str, language: str) -> str:
    """The computer voice that speaks `text` (plugins.tts picks it by the text's own language), named in `language`."""
    return say(f"voice_name_{language_of(text)}", language)


async def anything_else(message: Message, person: BotUser) -> None:
    await message.answer(say("no_voice_text", person.language))


def router() -> Router:
    """A fresh router per dispatcher (a router belongs to one dispatcher)."""
    router = Router(name="speak")
    router.message.register(text, F.text & ~F.text.startswith("/"))
    router.message.register(voice, F.voice)
    router.message.register(anything_else)
    return router

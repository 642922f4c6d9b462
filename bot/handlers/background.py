"""A picture sent while the cut-out is under review becomes the new background (once training started,
only if the person says so): a photo, or a
document that is a JPEG, PNG or WebP picture, is fetched with getFile, stored with the host as a
`background_image` upload and passed to a `background` edit with `image: true`; the new version's
preview then comes through the notifications (bot.notifications)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message

from bot import keyboards, state
from bot.catalogue import say
from bot.handlers.common import current_avatar
from bot.handlers.upload import display_name, megabytes
from bot.host_client import HostClient, HostError
from bot.models import BotUser, CallbackToken
from bot.notifications import Follower
from host import content_types
from plugins.trainer.spec import load_spec
from twinforge.host.v1 import host_service_pb2 as host_pb

IMAGE_KIND = "background_image"
PICTURE = "picture"  # its kind among the files that wait for an answer (bot.models.WaitingFile)
TRAINERS = tuple(load_spec().submodels)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
# Telegram's own limit for a photo; a backdrop gains nothing from a larger file, and the whole
# picture is held in memory for the check below.
MAX_IMAGE_BYTES = 10 * 1024 * 1024


def is_picture(data: bytes) -> bool:
    """Whether the bytes start as a picture the edit can read. The header is enough to refuse a file
    renamed to .png; decoding is the edit's job, so the bot never unpacks a huge picture itself."""
    return content_types.sniff(data[: content_types.HEAD_BYTES])[0] == "image"


def image_document(message: Message) -> bool:
    document = message.document
    return (document.mime_type or "").startswith("image/") or (document.file_name or "").lower().endswith(IMAGE_SUFFIXES)


async def photo(message: Message, bot: Bot, person: BotUser, host: HostClient) -> None:
    largest = message.photo[-1]
    await take(message, bot, person, host, largest.file_id, largest.file_size, "photo.jpg")


async def document(message: Message, bot: Bot, person: BotUser, host: HostClient) -> None:
    await take(message, bot, person, host, message.document.file_id, message.document.file_size, message.document.file_name or "")


def trained(avatar: host_pb.Avatar) -> bool:
    """Whether the avatar's model training started: a picture sent then changes a cut-out the person
    already accepted, which they must choose (while they review the cut-out it is what they were asked for)."""
    return any(run.stage in TRAINERS for run in avatar.stages)


async def take(message: Message, bot: Bot, person: BotUser, host: HostClient, file_id: str, size: int | None, name: str,
               confirmed: bool = False) -> None:
    """`confirmed`: the person chose to put the picture behind a trained avatar."""
    language = person.language
    if size and size > MAX_IMAGE_BYTES:
        await message.answer(say("image_too_big", language, size=megabytes(size), limit=megabytes(MAX_IMAGE_BYTES)))
        return
    avatar = await current_avatar(host, person)
    if avatar is None or not await host.material_versions(avatar.avatar_id):
        await message.answer(say("background_not_now", language))
        return
    if trained(avatar) and not confirmed:
        state.hold_file(person.user_id, PICTURE, file_id, size or 0, name)
        await message.answer(say("background_ask", language, name=avatar.name),
                             reply_markup=keyboards.confirm_background(person.user_id, avatar.avatar_id, language))
        return
    try:
        telegram_file = await bot.get_file(file_id)
    except TelegramBadRequest as exc:  # the announced size was missing or wrong
        if "too big" not in exc.message:
            raise
        await message.answer(say("image_too_big", language, size=megabytes(MAX_IMAGE_BYTES + 1), limit=megabytes(MAX_IMAGE_BYTES)))
        return
    if (telegram_file.file_size or 0) > MAX_IMAGE_BYTES:
        await message.answer(say("image_too_big", language, size=megabytes(telegram_file.file_size), limit=megabytes(MAX_IMAGE_BYTES)))
        return
    data = (await bot.download_file(telegram_file.file_path)).read()
    label = display_name(name, "background")
    if not is_picture(data):
        await message.answer(say("not_an_image", language, name=label))
        return
    try:
        image = await host.upload(avatar.avatar_id, IMAGE_KIND, label, once(data))
    except HostError as exc:
        await message.answer(say("background_upload_failed", language, reason=exc.words))
        return
    reply = await host.edit_materials(avatar.avatar_id, state.owner_of(person.user_id), "background", {"image": True}, image)
    await message.answer(say("background_editing", language, version=reply.version))


async def chosen(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    """The person's answer for a picture sent to a trained avatar."""
    waiting = state.take_file(person.user_id, PICTURE)
    if waiting is None:
        await query.message.answer(say("background_nothing_waits", person.language))
    elif found.argument != "yes":
        await query.message.answer(say("background_kept", person.language))
    else:
        state.set_current(person.user_id, found.avatar_id)
        await take(query.message, query.bot, state.user(person.user_id), host, waiting.file_id, waiting.size or None, waiting.name, confirmed=True)


async def once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def router() -> Router:
    """A fresh router per dispatcher (a router belongs to one dispatcher); it comes before the video
    upload's, which refuses every document that is not a video."""
    router = Router(name="background")
    router.message.register(photo, F.photo)
    router.message.register(document, F.document, image_document)
    return router

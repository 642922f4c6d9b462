"""A finished upload goes to the platform the way a video sent to the bot does (bot.handlers.upload):
streamed to the host as a `video` artifact, then submitted as the next version of the person's
current avatar, or of a new one made for it, which the bot then follows so that the person hears
from it in the chat. Runs in the background: the page polls the upload for the outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from bot import acting, state
from bot.catalogue import say
from bot.handlers.common import current_avatar, unused_name
from bot.handlers.upload import in_production
from bot.host_client import HostClient, HostError
from bot.models import BotUser
from bot.webapp.uploads import FAILED, STORING, SUBMITTED, Upload, UploadStore
from twinforge.host.v1 import host_service_pb2 as host_pb

log = logging.getLogger(__name__)
READ_BYTES = 1024 * 1024


async def read_file(path: Path) -> AsyncIterator[bytes]:
    """The file in pieces, read off the event loop: a 2 GB video is never held whole."""
    with path.open("rb") as source:
        while data := await asyncio.to_thread(source.read, READ_BYTES):
            yield data


def person_of(user_id: int) -> BotUser:
    """The person's row in the bot's tables; one who opened the app before writing to the bot gets
    one now (a private chat's id is the user's id)."""
    return state.user(user_id) or state.remember(user_id, user_id, None)


async def new_avatar(host: HostClient, person: BotUser) -> host_pb.Avatar:
    """As /new does: created for the person, made current, followed by the bot (it picks the row up)."""
    name = await unused_name(host, person, say("default_name", person.language))
    avatar = await host.create_avatar(name, state.owner_of(person.user_id))
    state.set_current(person.user_id, avatar.avatar_id)
    state.follow(avatar.avatar_id, person.user_id, person.chat_id)
    return avatar


async def avatar_for(host: HostClient, person: BotUser, target: str) -> host_pb.Avatar:
    avatar = None if target == "new" else await current_avatar(host, person)
    if avatar is None:
        return await new_avatar(host, person)
    state.follow(avatar.avatar_id, person.user_id, person.chat_id)
    return avatar


async def needs_choice(host: HostClient, user_id: int) -> host_pb.Avatar | None:
    """The current avatar when a new video would make it again (its production started), which the
    person must choose, as the bot asks in the chat; None when the video simply goes to it."""
    avatar = await current_avatar(host, person_of(user_id))
    return avatar if avatar is not None and in_production(avatar) else None


class Finisher:
    """Stores finished uploads on the platform, one task per upload, started again by whoever asks
    about an upload left STORING (after a restart, or while the host was not answering)."""

    def __init__(self, store: UploadStore, host: HostClient) -> None:
        self.store, self.host = store, host
        self.tasks: dict[str, asyncio.Task] = {}

    def ensure(self, upload: Upload) -> None:
        if upload.status != STORING:
            return
        task = self.tasks.get(upload.upload_id)
        if task is None or task.done():
            with acting.acting_for(upload.user_id):  # the task copies the context: it acts for the upload's owner
                self.tasks[upload.upload_id] = asyncio.create_task(self._finish(upload), name=f"store upload {upload.upload_id}")

    async def _finish(self, upload: Upload) -> None:
        try:
            person = person_of(upload.user_id)
            avatar = await avatar_for(self.host, person, upload.target)
            video = await self.host.upload(avatar.avatar_id, "video", upload.name, read_file(self.store.part(upload)))
            submission = await self.host.submit(avatar.avatar_id, video)
        except HostError as exc:
            upload.words = exc.words
            if not exc.unavailable:  # refused for good (a quota, a deleted avatar): the person must act
                upload.status = FAILED
                self.store.release(upload)
            self.store.save(upload)
            log.warning("upload %s not stored: %s", upload.upload_id, exc.words)
            return
        upload.status, upload.avatar_id, upload.version, upload.words = SUBMITTED, avatar.avatar_id, submission.submission.version, ""
        self.store.save(upload)
        self.store.release(upload)

    async def stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        self.tasks.clear()

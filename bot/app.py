"""Puts the bot together: the aiogram Bot on the configured Bot API server with flood control, the
dispatcher with the access check and the routers, the host client and the notification follower;
`running_bot` runs it until the block ends (the entry point and the tests both use it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import ExceptionTypeFilter
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent, Message

from bot.access import Access, AccessMiddleware
from bot.acting import ActingFor
from bot.catalogue import say
from bot.handlers import routers
from bot.host_client import HostClient, HostError
from bot.menu import show_menu
from bot.notifications import CHART_EVERY_S, Follower
from bot.progress import Pacer
from bot.reminders import Reminders
from bot.retry import RetryAfter
from bot.settings import BotSettings
from bot.state import user
from bot.webapp.settings import WebAppSettings
from host.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass
class RunningBot:
    bot: Bot
    dispatcher: Dispatcher
    host: HostClient
    follower: Follower
    pacer: Pacer


def make_bot(settings: BotSettings) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.api_base_url)) if settings.api_base_url else AiohttpSession()
    session.middleware(RetryAfter())
    return Bot(settings.token.get_secret_value(), session=session)


async def host_refused(event: ErrorEvent) -> None:
    """A host refusal ends a handler with the host's words to the person, not silence."""
    error: HostError = event.exception
    origin = event.update.message or event.update.callback_query
    if origin is None:
        return
    person = user(origin.from_user.id)
    language = person.language if person else "en"
    target = origin if isinstance(origin, Message) else origin.message
    if target is not None:
        await target.answer(say("host_down" if error.unavailable else "host_error", language, reason=error.words))


def make_dispatcher(settings: BotSettings, host: HostClient, follower: Follower) -> Dispatcher:
    dispatcher = Dispatcher(host=host, follower=follower, bot_settings=settings)
    access = AccessMiddleware(Access.from_settings(settings), settings.language)
    dispatcher.message.outer_middleware(access)
    dispatcher.callback_query.outer_middleware(access)
    dispatcher.message.middleware(ActingFor())
    dispatcher.callback_query.middleware(ActingFor())
    dispatcher.errors.register(host_refused, ExceptionTypeFilter(HostError))
    dispatcher.include_routers(*routers())
    return dispatcher


FOLLOW_SCAN_S = 5.0  # how soon the bot follows an avatar the web app started


async def follow_new(follower: Follower, every_s: float) -> None:
    """The web app (another process) starts avatars as rows of bot_followed_avatar: following them
    from here is what lets the chat tell the person about an avatar made from the web app."""
    while True:
        await asyncio.sleep(every_s)
        follower.resume()


@contextlib.asynccontextmanager
async def running_bot(settings: BotSettings, host_address: str, max_message_bytes: int, chunk_bytes: int,
                      chart_every_s: float = CHART_EVERY_S, host_settings: Settings | None = None) -> AsyncIterator[RunningBot]:
    """Polls Telegram and follows the host's notifications until the block ends. The database must
    be open (host.storage.db.init_database) with the bot's tables created (bot.models).
    `host_settings` carries the channel's TLS and API key (a service key); None takes the process's."""
    bot = make_bot(settings)
    host = HostClient(host_address, max_message_bytes, chunk_bytes, host_settings)
    pacer = Pacer(bot, settings.edit_interval_s)
    follower = Follower(bot, host, pacer, chart_every_s, settings.remind_after_s)
    dispatcher = make_dispatcher(settings, host, follower)
    webapp = WebAppSettings.from_settings(host_settings or get_settings()).public_url
    reminders = Reminders(bot, host, settings.remind_after_s, settings.review_reminders, webapp if webapp.startswith("https://") else "")
    started = asyncio.Event()

    async def polling_started() -> None:
        started.set()
        try:
            await show_menu(bot, settings.language)
        except TelegramAPIError as exc:  # the menu is a convenience: the bot works without it
            log.warning("the command menu was not set: %s", exc)

    dispatcher.startup.register(polling_started)
    follower.resume()
    scanning = asyncio.create_task(follow_new(follower, FOLLOW_SCAN_S), name="follow avatars the web app started")
    reminding = asyncio.create_task(reminders.run(), name="remind people of previews that wait")
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, polling_timeout=settings.polling_timeout_s, handle_signals=False, close_bot_session=False)
    )
    await asyncio.wait([polling, asyncio.create_task(started.wait())], return_when=asyncio.FIRST_COMPLETED)
    try:
        if polling.done():
            polling.result()  # polling could not start: its error says why
        yield RunningBot(bot, dispatcher, host, follower, pacer)
    finally:
        if not polling.done():
            await dispatcher.stop_polling()
            await polling
        for task in (scanning, reminding):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await follower.stop()
        await pacer.drain()
        await host.close()
        await bot.session.close()

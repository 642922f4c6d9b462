"""/language: English or 中文, as two buttons each named in its own language (a person who cannot
read the current one still finds theirs). The choice is kept per person and answered at once in
the new language; their chat's command menu follows it."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import BotCommandScopeChat, CallbackQuery, Message

from bot import keyboards, state
from bot.catalogue import LANGUAGES, say
from bot.menu import commands
from bot.models import BotUser, CallbackToken

log = logging.getLogger(__name__)


async def ask(message: Message, person: BotUser) -> None:
    await message.answer(say("language_ask", person.language), reply_markup=keyboards.languages(person.user_id))


async def chosen(query: CallbackQuery, bot: Bot, person: BotUser, found: CallbackToken) -> None:
    """Called by bot.handlers.buttons for a "language" button, once it is known to be the person's."""
    language = found.argument if found.argument in LANGUAGES else person.language
    state.set_language(person.user_id, language)
    await query.message.answer(say("language_set", language))
    try:  # the menu Telegram shows follows the app's language; this chat's follows the choice
        await bot.set_my_commands(commands(language), scope=BotCommandScopeChat(chat_id=person.chat_id))
    except TelegramAPIError as exc:
        log.warning("the command menu of chat %s was not set: %s", person.chat_id, exc)


def router() -> Router:
    """A fresh router per dispatcher (a router belongs to one dispatcher)."""
    router = Router(name="language")
    router.message.register(ask, Command("language"))
    return router

"""/web: a one-time login link to the web app (bot/webapp) for a plain browser, good once and for
TWINFORGE_WEBAPP_LOGIN_TTL_S; where the web app is served over HTTPS, also a button that opens it
inside Telegram as a Mini App (Telegram opens only HTTPS ones), signed in by Telegram itself."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message, WebAppInfo

from bot.catalogue import say
from bot.models import BotUser
from bot.webapp.login import issue_login_token
from bot.webapp.settings import WebAppSettings
from host.settings import get_settings


async def web(message: Message, person: BotUser) -> None:
    settings = get_settings()
    address = WebAppSettings.from_settings(settings).public_url
    token = issue_login_token(person.user_id, settings.webapp_login_ttl_s)
    markup = None
    if address.startswith("https://"):
        markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=say("webapp_open", person.language), web_app=WebAppInfo(url=f"{address}/?lang={person.language}"))]])
    await message.answer(say("webapp_login", person.language, minutes=f"{settings.webapp_login_ttl_s / 60:g}", url=f"{address}/login?token={token}"),
                         reply_markup=markup)


def router() -> Router:
    """A fresh router per dispatcher (a router belongs to one dispatcher)."""
    router = Router(name="webapp")
    router.message.register(web, Command("web"))
    return router

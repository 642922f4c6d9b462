"""/privacy: what the platform keeps of a person, why, for how long and how to delete it, and their
agreement. A person's face and voice are biometric data: no video of them is fetched or stored
before they agree (bot.handlers.upload holds a video sent first until then)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot import keyboards, state
from bot.catalogue import say
from bot.models import BotUser
from host.settings import get_settings


def statement(language: str) -> str:
    days = get_settings().retention_days
    kept = say("privacy_retention_days", language, days=f"{days:g}") if days > 0 else say("privacy_retention_none", language)
    return say("privacy", language, retention=kept)


async def ask(message: Message, person: BotUser, first: str) -> None:
    """The statement after `first` (a catalogue key saying why it is shown), with the button to agree."""
    await message.answer(f"{say(first, person.language)}\n\n{statement(person.language)}",
                         reply_markup=keyboards.consent(person.user_id, person.language))


async def privacy(message: Message, person: BotUser) -> None:
    agreed = state.agreed_at(person.user_id)
    if agreed is None:
        await ask(message, person, "privacy_ask_plain")
        return
    await message.answer(f"{statement(person.language)}\n\n{say('privacy_agreed_on', person.language, date=f'{agreed:%Y-%m-%d}')}")


def router() -> Router:
    """A fresh router per dispatcher (a router belongs to one dispatcher)."""
    router = Router(name="privacy")
    router.message.register(privacy, Command("privacy"))
    return router

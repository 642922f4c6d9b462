"""The command menu Telegram lists beside the text box (setMyCommands), so that nobody has to know
the commands: one per catalogue, each with its own descriptions."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand

from bot.catalogue import LANGUAGES, say

MENU = ("new", "avatars", "status", "cancel", "delete", "privacy", "web", "language", "help")


def commands(language: str) -> list[BotCommand]:
    return [BotCommand(command=name, description=say(f"menu_{name}", language)) for name in MENU]


async def show_menu(bot: Bot, default_language: str) -> None:
    """The menu for every app language with a catalogue, and `default_language`'s for the others
    (Telegram picks by the person's app language)."""
    await bot.set_my_commands(commands(default_language))
    for language in LANGUAGES:
        await bot.set_my_commands(commands(language), language_code=language)

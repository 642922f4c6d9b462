"""The aiogram routers, in the order they are tried: commands, buttons, uploads, then plain text and
voice (which answers a question the bot asked, or makes the live avatar speak)."""

from aiogram import Router

from bot.handlers import buttons, commands, speak, upload


def routers() -> list[Router]:
    return [commands.router(), buttons.router(), upload.router(), speak.router()]

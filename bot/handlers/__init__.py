"""The aiogram routers, in the order they are tried: commands, the privacy statement, buttons, a new background picture,
video uploads, then plain text and voice (which answers a question the bot asked, or makes the live
avatar speak)."""

from aiogram import Router

from bot.handlers import background, buttons, commands, privacy, speak, upload


def routers() -> list[Router]:
    return [commands.router(), privacy.router(), buttons.router(), background.router(), upload.router(), speak.router()]

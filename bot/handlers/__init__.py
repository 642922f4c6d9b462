"""The aiogram routers, in the order they are tried: commands, the privacy statement, the web app's login link, /language, buttons, a new background picture,
video uploads, then plain text and voice (which answers a question the bot asked, or makes the live
avatar speak)."""

from aiogram import Router

from bot.handlers import background, buttons, commands, language, privacy, speak, upload, webapp


def routers() -> list[Router]:
    return [commands.router(), privacy.router(), webapp.router(), language.router(), buttons.router(), background.router(), upload.router(), speak.router()]

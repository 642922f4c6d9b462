"""`python -m bot.webapp`: the web app as its own process (`twinforge up` starts it). Like the bot it
opens the host's database for the bot's tables only and calls the host at TWINFORGE_HOST_ADDRESS with
the bot's service key."""

from __future__ import annotations

import asyncio

from bot.access import Access
from bot.process import open_bot_tables, run_until_stopped
from bot.settings import BotSettings
from bot.webapp.server import running_webapp
from bot.webapp.settings import WebAppSettings
from host.logs import configure_logging
from host.settings import get_settings


async def serve() -> None:
    host = open_bot_tables()
    settings = WebAppSettings.from_settings(host)
    access = Access.from_settings(BotSettings.from_settings(host))
    await run_until_stopped(running_webapp(settings, access, host.host_address, host.max_message_bytes, host.upload_chunk_bytes))


def main() -> None:
    configure_logging(get_settings().log_level)
    asyncio.run(serve())


if __name__ == "__main__":
    main()

"""`python -m bot.webapp`: the web app as its own process (`twinforge up` starts it). Like the bot it
opens the host's database for the bot's tables only and calls the host at TWINFORGE_HOST_ADDRESS with
the bot's service key."""

from __future__ import annotations

import asyncio
import signal

from bot.access import Access
from bot.models import create_tables
from bot.settings import BotSettings
from bot.webapp.server import running_webapp
from bot.webapp.settings import WebAppSettings
from host.logs import configure_logging
from host.settings import get_settings
from host.storage.db import init_database


async def serve() -> None:
    host = get_settings()
    create_tables(init_database(host.resolved_database_url, run_migrations=False))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    settings = WebAppSettings.from_settings(host)
    access = Access.from_settings(BotSettings.from_settings(host))
    async with running_webapp(settings, access, host.host_address, host.max_message_bytes, host.upload_chunk_bytes):
        await stop.wait()


def main() -> None:
    configure_logging(get_settings().log_level)
    asyncio.run(serve())


if __name__ == "__main__":
    main()

"""What the bot's processes (`python -m bot.main`, `python -m bot.webapp`) share: the host's database
opened for the bot's own tables (created if missing; the host's migrations are the host's job), and
a run that lasts until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from contextlib import AbstractAsyncContextManager

from bot.models import create_tables
from host.settings import Settings, get_settings
from host.storage.db import init_database


def open_bot_tables() -> Settings:
    """The platform's settings, once the bot's tables exist in its database."""
    host = get_settings()
    create_tables(init_database(host.resolved_database_url, run_migrations=False))
    return host


async def run_until_stopped(running: AbstractAsyncContextManager) -> None:
    """Enters `running` and stays in it until the process is asked to stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running:
        await stop.wait()

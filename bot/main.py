"""`python -m bot.main`: the Telegram bot as its own process. It opens the host's database (tables
of its own created if missing; the host's migrations are the host's job) and talks to the host at
TWINFORGE_HOST_ADDRESS."""

from __future__ import annotations

import asyncio

from bot.app import running_bot
from bot.process import open_bot_tables, run_until_stopped
from bot.settings import BotSettings
from host.logs import configure_logging
from host.settings import get_settings


async def serve(settings: BotSettings) -> None:
    host = open_bot_tables()
    await run_until_stopped(running_bot(settings, host.host_address, host.max_message_bytes, host.upload_chunk_bytes))


def main() -> None:
    configure_logging(get_settings().log_level)
    settings = BotSettings.from_settings(get_settings())
    if not settings.token.get_secret_value():
        raise SystemExit("set TWINFORGE_BOT_TOKEN to the bot's token from @BotFather")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()

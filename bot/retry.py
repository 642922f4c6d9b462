"""Obeys Telegram's flood control: a 429 answer names how long to wait (`retry_after`), and every
Bot API call the bot makes waits that long and tries again instead of failing."""

from __future__ import annotations

import asyncio
import logging

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods.base import TelegramMethod, TelegramType

log = logging.getLogger(__name__)
MAX_TRIES = 5


class RetryAfter(BaseRequestMiddleware):
    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot, method: TelegramMethod[TelegramType]):
        for attempt in range(1, MAX_TRIES + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt == MAX_TRIES:
                    raise
                log.warning("Telegram asked to wait %s s before %s (try %d)", exc.retry_after, type(method).__name__, attempt)
                await asyncio.sleep(exc.retry_after)

"""Stage progress as one message per run, edited in place without flooding the chat: a text bar
with the ETA, and a pacer that sends at most one edit a second per chat, always the newest text
(edits that would be overtaken before their turn are never sent)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from bot.catalogue import say, stage_name

log = logging.getLogger(__name__)
BAR_CELLS = 10


def bar(fraction: float) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * BAR_CELLS)
    return "█" * filled + "░" * (BAR_CELLS - filled)


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_text(stage: str, payload: dict, language: str) -> str:
    fraction = float(payload.get("fraction", 0.0))
    eta = payload.get("eta_seconds")
    return say(
        "stage_progress", language, stage=stage_name(stage, language), bar=bar(fraction), percent=round(fraction * 100),
        eta=say("eta", language, eta=duration(eta)) if eta is not None and eta >= 0 else "", message=payload.get("message", ""),
    ).rstrip()


class Pacer:
    def __init__(self, bot: Bot, interval_s: float) -> None:
        self.bot, self.interval_s = bot, interval_s
        self.pending: dict[int, dict[int, str]] = {}  # chat -> message -> newest text
        self.last_edit: dict[int, float] = {}
        self.shown: dict[tuple[int, int], str] = {}
        self.flushers: dict[int, asyncio.Task] = {}

    def edit(self, chat_id: int, message_id: int, text: str) -> None:
        """Asks for the message to show `text`; it does within the chat's pace."""
        if self.shown.get((chat_id, message_id)) == text:
            return
        self.pending.setdefault(chat_id, {})[message_id] = text
        if chat_id not in self.flushers or self.flushers[chat_id].done():
            self.flushers[chat_id] = asyncio.create_task(self._flush(chat_id))

    async def _flush(self, chat_id: int) -> None:
        queue = self.pending[chat_id]
        while queue:
            wait = self.last_edit.get(chat_id, 0.0) + self.interval_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            message_id = next(iter(queue))
            text = queue.pop(message_id)
            try:
                await self.bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id)
                self.shown[(chat_id, message_id)] = text
            except TelegramBadRequest as exc:  # deleted by the person, or unchanged: nothing to show
                log.info("edit of message %s in chat %s refused: %s", message_id, chat_id, exc.message)
            finally:  # counted from the answer, so that no two edits reach Telegram closer than the interval
                self.last_edit[chat_id] = time.monotonic()

    async def drain(self) -> None:
        """Waits until every asked edit is sent (at shutdown)."""
        for task in list(self.flushers.values()):
            with contextlib.suppress(Exception):
                await task

"""Reminders of a preview that waits for the person's verdict: a production stops at the review
until the person answers, and a person who saw the preview late at night may simply forget it.

The follower writes a row when it delivers a preview (bot.models.ReviewReminder, due
TWINFORGE_REVIEW_REMIND_AFTER_S later) and removes it when the round is approved or rejected,
wherever that was done. This loop sends what is due, at most TWINFORGE_REVIEW_REMINDERS times
per round, TWINFORGE_REVIEW_REMIND_AFTER_S apart, each with the round's buttons (and the web app's
review where it opens as a Mini App). Before each one it asks the host again: a round that was
answered, replaced by a newer one, or whose avatar was deleted gets no reminder. The rows are in
the database, so a restart of the bot neither loses nor repeats one."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from bot import acting, keyboards, state
from bot.catalogue import FALLBACK, say
from bot.host_client import HostClient, HostError
from bot.models import ReviewReminder
from host.storage.models import utcnow

log = logging.getLogger(__name__)
SCAN_S = 30.0  # most time between two looks for due reminders
GONE = "unknown_avatar"  # the host's error code for an avatar that does not exist (any more)


class Reminders:
    def __init__(self, bot: Bot, host: HostClient, after_s: float, most: int, webapp_url: str = "") -> None:
        """`webapp_url`: the web app's https:// address, which Telegram opens as a Mini App; empty: buttons only."""
        self.bot, self.host, self.after_s, self.most, self.webapp_url = bot, host, after_s, most, webapp_url

    async def run(self) -> None:
        """Sends the due reminders until cancelled (nothing, when reminders are off)."""
        if self.after_s <= 0 or self.most <= 0:
            return
        every = min(SCAN_S, self.after_s / 2)
        while True:
            try:
                await self.send_due()
            except Exception:
                log.exception("sending review reminders failed; trying again in %s s", every)
            await asyncio.sleep(every)

    async def send_due(self) -> None:
        for row in state.due_reminders(utcnow()):
            try:
                await self.remind(row)
            except TelegramNetworkError as exc:  # Telegram unreachable: the rows wait for the next look
                log.warning("review reminders not sent now: %s", exc.message)
                return
            except HostError as exc:
                if exc.unavailable:  # the host unreachable: likewise
                    log.warning("review reminders not sent now: %s", exc.words)
                    return
                log.warning("no review reminder for %s: %s", row.avatar_id, exc.words)
                state.reviewed(row.avatar_id, row.round_run)
            except TelegramAPIError as exc:  # refused for good (e.g. the person blocked the bot)
                log.warning("review reminder for %s not delivered: %s", row.avatar_id, exc.message)
                state.reviewed(row.avatar_id, row.round_run)

    async def remind(self, row: ReviewReminder) -> None:
        with acting.acting_for(row.user_id):
            try:
                avatar = await self.host.avatar(row.avatar_id)
                found = await self.host.rounds(row.avatar_id)
            except HostError as exc:
                if exc.code != GONE:
                    raise
                state.reviewed(row.avatar_id)
                return
        newest = found.rounds[-1] if found.rounds else None
        if newest is None or newest.evaluation_run != row.round_run or newest.verdict:
            state.reviewed(row.avatar_id, row.round_run)  # answered (perhaps in the web app) or replaced
            return
        person = state.user(row.user_id)
        language = person.language if person else FALLBACK
        markup = keyboards.review(row.user_id, row.avatar_id, row.round_run, language, can_approve=newest.passed)
        if self.webapp_url:
            markup = InlineKeyboardMarkup(inline_keyboard=[*markup.inline_keyboard, [InlineKeyboardButton(
                text=say("reminder_open_review", language), web_app=WebAppInfo(url=f"{self.webapp_url}/?lang={language}&view=review"))]])
        await self.bot.send_message(row.chat_id, say("review_reminder" if newest.passed else "review_reminder_below", language, name=avatar.name),
                                    reply_markup=markup)
        state.reminded(row, None if row.sent + 1 >= self.most else utcnow() + dt.timedelta(seconds=self.after_s))

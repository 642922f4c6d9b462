"""Who may use the bot (BotSettings.access): anyone ("open"), the listed Telegram user ids
("allowlist"), or whoever once sent `/start CODE` with a valid invite code ("invite", remembered in
the database). An outer middleware, so no handler runs for a person who is not let in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot import state
from bot.catalogue import FALLBACK, say
from bot.settings import BotSettings


class Access:
    def __init__(self, mode: str, allowed_ids: frozenset[int], codes: frozenset[str]) -> None:
        self.mode, self.allowed_ids, self.codes = mode, allowed_ids, codes

    @classmethod
    def from_settings(cls, settings: BotSettings) -> "Access":
        return cls(settings.access, settings.allowed_ids, settings.codes)

    def allows(self, user_id: int) -> bool:
        if self.mode == "open":
            return True
        if self.mode == "allowlist":
            return user_id in self.allowed_ids
        row = state.user(user_id)
        return row is not None and row.invited_with in self.codes

    def redeem(self, user_id: int, code: str) -> bool:
        """Admits the person when `code` is a valid invite code."""
        if self.mode != "invite" or code not in self.codes:
            return False
        state.admit(user_id, code)
        return True


class AccessMiddleware(BaseMiddleware):
    """Records the person (chat, and on first contact their language, `default_language` where
    Telegram's has no catalogue) and lets in only those `Access` allows; in invite mode a
    `/start CODE` is the one message a stranger may send."""

    def __init__(self, access: Access, default_language: str = FALLBACK) -> None:
        self.access, self.default_language = access, default_language

    async def __call__(
        self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]], event: TelegramObject, data: dict[str, Any]
    ) -> Any:
        person = event.from_user
        if person is None:
            return None
        chat_id = event.chat.id if isinstance(event, Message) else (event.message.chat.id if event.message else person.id)
        row = state.remember(person.id, chat_id, person.language_code, self.default_language)
        data["person"] = row
        if self.access.allows(person.id):
            return await handler(event, data)
        words = say("not_allowed", row.language, user_id=person.id)
        if self.access.mode == "invite" and isinstance(event, Message):
            text = event.text or ""
            code = text.removeprefix("/start").strip() if text.startswith("/start") else ""
            if code and self.access.redeem(person.id, code):
                data["person"] = state.user(person.id)
                await event.answer(say("invite_ok", row.language))
                return await handler(event, data)
            words = say("invite_wrong" if code else "invite_needed", row.language)
        if isinstance(event, CallbackQuery):
            await event.answer(words, show_alert=True)
        else:
            await event.answer(words)
        return None

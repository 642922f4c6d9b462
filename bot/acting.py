"""Whom the bot acts for. The host answers the bot's service key as the person named on each call,
so every call carries the Telegram user whose update (or followed avatar) it serves: set once per
update by `ActingFor`, once per followed avatar by the follower, and read by the host client. A
context variable, so concurrent updates of different people never mix, and tasks a handler starts
keep the person who started them."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject

from bot import state
from host.channels import ON_BEHALF_HEADER

_person: ContextVar[str] = ContextVar("twinforge_bot_person", default="")


def act_for(user_id: int) -> None:
    _person.set(state.owner_of(user_id))


@contextlib.contextmanager
def acting_for(user_id: int) -> Iterator[None]:
    """Acts for the person inside the block only: a server that serves many people on one task (the
    web app's keep-alive connections) never carries one person's identity into the next request."""
    token = _person.set(state.owner_of(user_id))
    try:
        yield
    finally:
        _person.reset(token)


def metadata() -> tuple[tuple[str, str], ...]:
    """The call's metadata; empty outside any person's update, which the host refuses for a service key."""
    person = _person.get()
    return ((ON_BEHALF_HEADER, person),) if person else ()


class ActingFor(BaseMiddleware):
    """Runs after the access check (which found `person`), so only a person let in is acted for."""

    async def __call__(
        self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]], event: TelegramObject, data: dict[str, Any]
    ) -> Any:
        act_for(data["person"].user_id)
        return await handler(event, data)

"""Who is asking: every /api/ request carries Telegram's initData (`Authorization: tma <initData>`,
as the Mini App gets it from Telegram) or the session cookie a login link set; anything else is
refused before a handler runs, with words that say what is wrong and how to get in. The person must
also be let in by the bot's access rule (bot.access), and every host call of the request is made
on their behalf (bot.acting)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from bot import acting, state
from bot.access import Access
from bot.catalogue import say
from bot.webapp.initdata import InitDataError, verify
from bot.webapp.login import COOKIE, SessionError, session_user
from bot.webapp.settings import WebAppSettings

SCHEME = "tma "
PERSON = web.RequestKey("person", "Person")
SIGN_IN = "open the app from the bot's button, or send /web to the bot for a login link"


@dataclass(frozen=True)
class Person:
    user_id: int
    language: str


def refusal(status: int, code: str, words: str, advice: str, **extra: object) -> web.Response:
    return web.json_response({"error": code, "message": words, "advice": advice, **extra}, status=status)


class Refused(Exception):
    def __init__(self, status: int, code: str, words: str, advice: str) -> None:
        super().__init__(words)
        self.status, self.code, self.words, self.advice = status, code, words, advice


def identify(request: web.Request, settings: WebAppSettings, now: float) -> Person:
    """The person the request proves it comes from; Refused (401 or 403) otherwise."""
    header = request.headers.get("Authorization", "")
    if header.startswith(SCHEME):
        try:
            user = verify(header.removeprefix(SCHEME), settings.bot_token.get_secret_value(), settings.init_data_max_age_s, now)
        except InitDataError as exc:
            raise Refused(403, exc.code, exc.words, exc.advice) from None
        row = state.user(user.user_id) or state.remember(user.user_id, user.user_id, user.language or None, settings.language)
        return Person(user.user_id, row.language)
    cookie = request.cookies.get(COOKIE, "")
    if not cookie:
        raise Refused(401, "not_signed_in", "you are not signed in", SIGN_IN)
    try:
        user_id = session_user(cookie, settings.session_key, now)
    except SessionError as exc:
        words = "your sign-in has expired" if exc.code == "session_expired" else "your sign-in cookie is not valid here"
        raise Refused(403, exc.code, words, SIGN_IN) from None
    row = state.user(user_id)
    return Person(user_id, row.language if row else "en")


def authentication(settings: WebAppSettings, access: Access) -> Callable:
    @web.middleware
    async def authenticate(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        try:
            person = identify(request, settings, time.time())
        except Refused as exc:
            return refusal(exc.status, exc.code, exc.words, exc.advice)
        if not access.allows(person.user_id):
            return refusal(403, "not_allowed", say("not_allowed", person.language, user_id=person.user_id), "ask the operator to let you in")
        request[PERSON] = person
        with acting.acting_for(person.user_id):
            return await handler(request)

    return authenticate

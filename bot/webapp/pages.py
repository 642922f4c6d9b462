"""The pages: one HTML page (its views: upload, progress, clips, review, talk) with its words filled
in from the catalogue in the person's language, its script and styles served from the package as
they are (no build step, nothing fetched from elsewhere), and the one-time login link, which turns
into a session cookie."""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path

from aiohttp import web

from bot import state
from bot.catalogue import FALLBACK, language_of, messages, say
from bot.webapp.login import COOKIE, SessionError, consume_login_token, session_cookie, session_user
from bot.webapp.settings import WebAppSettings

STATIC = Path(__file__).parent / "static"
SETTINGS = web.AppKey("page_settings", WebAppSettings)
# Only this server's own script, styles and pictures; Telegram's web client shows the app in a frame, so framing stays allowed.
POLICY = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'; base-uri 'none'"


PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
PAGE_WORDS = "page_"  # the catalogue keys of the page's own words, which the script reads too


def page_language(request: web.Request, settings: WebAppSettings) -> str:
    """The signed-in person's language where the session cookie names them; else the one the link
    asked for (`?lang=`, the bot's Open the app button gives the person's), else the browser's."""
    cookie = request.cookies.get(COOKIE, "")
    if cookie:
        try:
            row = state.user(session_user(cookie, settings.session_key, time.time()))
        except SessionError:
            row = None
        if row is not None:
            return language_of(row.language, settings.language)
    asked = request.query.get("lang") or request.headers.get("Accept-Language", "").split(",")[0].split(";")[0].strip()
    return language_of(asked, settings.language)


def page(language: str) -> str:
    """index.html with its words from the catalogue in `language`, and all the page's words as JSON
    for the script: the catalogue is the one source of what the page says."""
    own = messages(language)  # templates, unfilled: the script fills in {name} and the like
    words = {key: own.get(key) or text for key, text in messages(FALLBACK).items() if key.startswith(PAGE_WORDS)}
    filled = {"language": language, "words": json.dumps(words, ensure_ascii=False).replace("<", "\\u003c")}
    template = (STATIC / "index.html").read_text(encoding="utf-8")
    return PLACEHOLDER.sub(lambda found: filled.get(found[1]) or html.escape(say(found[1], language)), template)


async def index(request: web.Request) -> web.Response:
    language = page_language(request, request.app[SETTINGS])
    return web.Response(text=page(language), content_type="text/html", headers={"Cache-Control": "no-cache", "Content-Language": language})


def message_page(status: int, title: str, words: str) -> web.Response:
    body = (f'<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="stylesheet" href="/static/app.css"><main class="card"><h1>{html.escape(title)}</h1><p>{html.escape(words)}</p></main>')
    return web.Response(status=status, text=body, content_type="text/html")


async def login(request: web.Request) -> web.Response:
    """Signs the browser in once per link and sends it on to the app; the token leaves the address bar with the redirect."""
    settings = request.app[SETTINGS]
    user_id = consume_login_token(request.query.get("token", ""))
    if user_id is None:
        return message_page(403, "This login link does not work any more",
                            "A login link works once, for a few minutes. Send /web to the bot for a new one and open it right away.")
    response = web.Response(status=303, headers={"Location": "/"})
    response.set_cookie(COOKIE, session_cookie(user_id, settings.session_key, settings.session_ttl_s, time.time()),
                        max_age=int(settings.session_ttl_s), httponly=True, samesite="Lax", path="/",
                        secure=settings.public_url.startswith("https://"))
    return response


@web.middleware
async def safe_headers(request: web.Request, handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def routes(app: web.Application, settings: WebAppSettings) -> None:
    app[SETTINGS] = settings
    app.router.add_get("/", index)
    app.router.add_get("/login", login)
    app.router.add_static("/static/", STATIC)

"""Telegram Mini App `initData`, checked exactly as Telegram documents it
(core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app): the data-check-string is
every received field but `hash`, sorted by key, as `key=value` lines; its HMAC-SHA256 under the key
HMAC-SHA256("WebAppData", bot token) must equal `hash`. Only Telegram (and whoever holds the bot's
token) can make one, so a valid one names the person who opened the app; `auth_date` bounds how long
a copied one stays usable."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl

WEB_APP_DATA = b"WebAppData"
CLOCK_SKEW_S = 60.0  # an auth_date this far ahead of our clock is still Telegram's own


class InitDataError(Exception):
    """Why initData was refused: `code` for programs, `words` and `advice` for the person."""

    def __init__(self, code: str, words: str, advice: str) -> None:
        super().__init__(words)
        self.code, self.words, self.advice = code, words, advice


@dataclass(frozen=True)
class TelegramUser:
    user_id: int
    first_name: str
    language: str
    auth_date: int


def data_check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def signature(fields: dict[str, str], bot_token: str) -> str:
    secret_key = hmac.new(WEB_APP_DATA, bot_token.encode(), hashlib.sha256).digest()
    return hmac.new(secret_key, data_check_string(fields).encode(), hashlib.sha256).hexdigest()


def sign(fields: dict[str, str], bot_token: str) -> dict[str, str]:
    """The fields with the `hash` Telegram would add: what the bot's token proves (tests and tools)."""
    return {**fields, "hash": signature(fields, bot_token)}


REOPEN = "close the app and open it again from the bot's button"


def verify(init_data: str, bot_token: str, max_age_s: float, now: float) -> TelegramUser:
    """The person `init_data` names; InitDataError when it is not Telegram's, too old, or names nobody."""
    if not bot_token:
        raise InitDataError("no_bot_token", "this server has no bot token, so it cannot check Telegram's signature",
                            "use a login link from the bot instead, or ask the operator to set TWINFORGE_BOT_TOKEN")
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        pairs = []
    fields = dict(pairs)
    if not fields or len(fields) != len(pairs):
        raise InitDataError("bad_init_data", "the sign-in data from Telegram is not readable", REOPEN)
    received = fields.get("hash", "")
    if not hmac.compare_digest(received.encode(), signature(fields, bot_token).encode()):
        raise InitDataError("bad_signature", "the sign-in data is not signed by this bot's Telegram account", REOPEN)
    try:
        auth_date = int(fields.get("auth_date", ""))
    except ValueError:
        raise InitDataError("bad_init_data", "the sign-in data carries no time it was made", REOPEN) from None
    if now - auth_date > max_age_s or auth_date - now > CLOCK_SKEW_S:
        hours = max_age_s / 3600
        raise InitDataError("expired", f"the sign-in data is older than {hours:g} hours", REOPEN)
    try:
        user = json.loads(fields.get("user", ""))
        user_id = int(user["id"])
    except (ValueError, TypeError, KeyError):
        raise InitDataError("no_user", "the sign-in data names no Telegram user", "open the app from your private chat with the bot") from None
    return TelegramUser(user_id, str(user.get("first_name", "")), str(user.get("language_code", "") or ""), auth_date)

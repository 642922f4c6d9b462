"""Signing in from a plain browser: the bot hands a person a one-time login link (a random token,
stored only as its sha256, good once for a few minutes), and opening it gives the browser a session
cookie signed by the web app: the user id and an expiry, under HMAC-SHA256, so no session table is
needed and a changed cookie is refused."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from bot.models import LoginToken
from host.storage.models import utcnow

COOKIE = "twinforge_session"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_login_token(user_id: int, ttl_s: float, now: dt.datetime | None = None) -> str:
    """A new login token for the person; the caller puts it in a link (`/login?token=...`)."""
    token = secrets.token_urlsafe(32)
    LoginToken.create(token_hash=_hash(token), user_id=user_id, expires_at=(now or utcnow()) + dt.timedelta(seconds=ttl_s))
    return token


def consume_login_token(token: str, now: dt.datetime | None = None) -> int | None:
    """The person the token was issued to, once: the row is deleted by the first use, so of two
    concurrent uses only the one whose delete removed it signs in. None: unknown, used or expired."""
    row = LoginToken.get_or_none(LoginToken.token_hash == _hash(token))
    if row is None:
        return None
    if LoginToken.delete().where(LoginToken.token_hash == row.token_hash).execute() != 1:
        return None
    return row.user_id if row.expires_at > (now or utcnow()) else None


def forget_expired_tokens(now: dt.datetime | None = None) -> int:
    return LoginToken.delete().where(LoginToken.expires_at <= (now or utcnow())).execute()


class SessionError(Exception):
    """A session cookie that does not sign anybody in: `code` expired or bad_session."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def session_cookie(user_id: int, key: bytes, ttl_s: float, now: float) -> str:
    body = f"{user_id}.{int(now + ttl_s)}"
    return f"{body}.{_mac(key, body)}"


def session_user(cookie: str, key: bytes, now: float) -> int:
    """The user id a session cookie signs in; SessionError when it was changed or has expired."""
    body, _, mac = cookie.rpartition(".")
    if not body or not hmac.compare_digest(mac.encode(), _mac(key, body).encode()):
        raise SessionError("bad_session")
    user, _, expires = body.partition(".")
    try:
        user_id, expires_at = int(user), int(expires)
    except ValueError:
        raise SessionError("bad_session") from None
    if expires_at <= now:
        raise SessionError("session_expired")
    return user_id

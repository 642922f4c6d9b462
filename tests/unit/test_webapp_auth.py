"""The web app's sign-in pieces on their own: Telegram's initData check (as Telegram documents it),
the one-time login token from the bot, and the signed session cookie."""

from __future__ import annotations

import datetime as dt
import json
import time
from urllib.parse import urlencode

import pytest

from bot.webapp.initdata import InitDataError, sign, verify
from bot.webapp.login import SessionError, consume_login_token, forget_expired_tokens, issue_login_token, session_cookie, session_user
from host.storage.models import utcnow
from tests.fixtures.bot_tables import bot_tables  # noqa: F401 (a fixture)

TOKEN = "123456:TEST-token-of-the-bot"
DAY = 86400.0


def init_data(user_id: int = 42, auth_date: int | None = None, token: str = TOKEN, **extra: str) -> str:
    fields = {"query_id": "AAE", "user": json.dumps({"id": user_id, "first_name": "Anna", "language_code": "en"}),
              "auth_date": str(int(time.time()) if auth_date is None else auth_date), **extra}
    return urlencode(sign(fields, token))


def test_valid_init_data_names_the_telegram_user():
    user = verify(init_data(42, signature="a-field-telegram-adds"), TOKEN, DAY, time.time())
    assert (user.user_id, user.first_name, user.language) == (42, "Anna", "en")


def test_a_hash_computed_independently_as_telegram_documents_it_is_accepted():
    import hashlib
    import hmac

    fields = {"auth_date": str(int(time.time())), "user": '{"id":7,"first_name":"B"}', "chat_type": "private"}
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    assert verify(urlencode(fields), TOKEN, DAY, time.time()).user_id == 7


def test_tampered_init_data_is_refused():
    genuine = init_data(42)
    tampered = genuine.replace("%22id%22%3A+42", "%22id%22%3A+43")
    assert tampered != genuine
    with pytest.raises(InitDataError) as refused:
        verify(tampered, TOKEN, DAY, time.time())
    assert refused.value.code == "bad_signature" and "open it again from the bot" in refused.value.advice


def test_init_data_signed_with_another_bots_token_is_refused():
    with pytest.raises(InitDataError) as refused:
        verify(init_data(42, token="999:another-bot"), TOKEN, DAY, time.time())
    assert refused.value.code == "bad_signature"


def test_init_data_older_than_the_limit_is_refused():
    now = time.time()
    assert verify(init_data(42, auth_date=int(now - DAY + 60)), TOKEN, DAY, now).user_id == 42
    with pytest.raises(InitDataError) as refused:
        verify(init_data(42, auth_date=int(now - DAY - 1)), TOKEN, DAY, now)
    assert refused.value.code == "expired" and "24 hours" in refused.value.words


@pytest.mark.parametrize("data", ["", "garbage", "hash=abc", "user=1&user=2&hash=abc"])
def test_missing_or_unreadable_init_data_is_refused(data):
    with pytest.raises(InitDataError) as refused:
        verify(data, TOKEN, DAY, time.time())
    assert refused.value.code in ("bad_init_data", "bad_signature")


def test_init_data_without_a_hash_or_a_user_is_refused():
    fields = {"auth_date": str(int(time.time()))}
    with pytest.raises(InitDataError) as refused:
        verify(urlencode(fields), TOKEN, DAY, time.time())
    assert refused.value.code == "bad_signature"
    with pytest.raises(InitDataError) as refused:
        verify(urlencode(sign(fields, TOKEN)), TOKEN, DAY, time.time())
    assert refused.value.code == "no_user"


def test_without_a_bot_token_nothing_is_accepted():
    with pytest.raises(InitDataError) as refused:
        verify(init_data(42), "", DAY, time.time())
    assert refused.value.code == "no_bot_token" and "login link" in refused.value.advice


def test_a_login_token_signs_in_once(bot_tables):
    token = issue_login_token(42, ttl_s=600)
    assert consume_login_token(token) == 42
    assert consume_login_token(token) is None, "a login link works once"
    assert consume_login_token("made-up") is None


def test_a_login_token_expires(bot_tables):
    issued_at = utcnow()
    token = issue_login_token(42, ttl_s=600, now=issued_at)
    assert consume_login_token(token, now=issued_at + dt.timedelta(seconds=601)) is None
    later = issue_login_token(43, ttl_s=600, now=issued_at)
    assert forget_expired_tokens(now=issued_at + dt.timedelta(seconds=601)) == 1
    assert consume_login_token(later) is None


def test_the_session_cookie_is_signed_and_expires():
    key, now = b"k" * 32, time.time()
    cookie = session_cookie(42, key, 3600, now)
    assert session_user(cookie, key, now) == 42
    with pytest.raises(SessionError) as refused:
        session_user(cookie, key, now + 3601)
    assert refused.value.code == "session_expired"
    user, expires, mac = cookie.split(".")
    for forged in (f"43.{expires}.{mac}", f"{user}.{int(expires) + 9999}.{mac}", cookie.replace(mac, "0" * 64), "nonsense"):
        with pytest.raises(SessionError) as refused:
            session_user(forged, key, now)
        assert refused.value.code == "bad_session"
    with pytest.raises(SessionError):
        session_user(cookie, b"another key" * 3, now)

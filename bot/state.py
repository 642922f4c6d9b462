"""Conversation state in the database: who talks from which chat, their current avatar, what the
bot asked them, which avatars it follows and how far, and the buttons it handed out."""

from __future__ import annotations

import datetime as dt
import secrets

from bot.catalogue import FALLBACK, language_of
from bot.models import BotUser, CallbackToken, Consent, FollowedAvatar, ReviewReminder, StageMessage, WaitingFile
from host.storage.models import utcnow

OWNER_PREFIX = "telegram:"


def owner_of(user_id: int) -> str:
    """The host's identity of a Telegram user (the avatars' owner field)."""
    return f"{OWNER_PREFIX}{user_id}"


def remember(user_id: int, chat_id: int, language_code: str | None, default_language: str = FALLBACK) -> BotUser:
    """The person's row, created on first contact in the language of their Telegram app (or
    `default_language` where there is no catalogue for it); the chat follows their latest message,
    the language stays what they have, so a choice made with /language holds."""
    user, _ = BotUser.get_or_create(user_id=user_id, defaults={"chat_id": chat_id, "language": language_of(language_code, default_language)})
    if user.chat_id != chat_id:
        user.chat_id = chat_id
        user.save()
    return user


def set_language(user_id: int, language: str) -> None:
    BotUser.update(language=language).where(BotUser.user_id == user_id).execute()


def user(user_id: int) -> BotUser | None:
    return BotUser.get_or_none(BotUser.user_id == user_id)


def set_current(user_id: int, avatar_id: str) -> None:
    BotUser.update(current_avatar=avatar_id).where(BotUser.user_id == user_id).execute()


def set_awaiting(user_id: int, awaiting: str) -> None:
    BotUser.update(awaiting=awaiting).where(BotUser.user_id == user_id).execute()


def admit(user_id: int, code: str) -> None:
    BotUser.update(invited_with=code).where(BotUser.user_id == user_id).execute()


def agreed_at(user_id: int) -> dt.datetime | None:
    """When the person agreed to the privacy statement; None until they do."""
    row = Consent.get_or_none(Consent.user_id == user_id)
    return row.agreed_at if row else None


def agree(user_id: int) -> None:
    """Records the agreement once: agreeing again keeps the first date."""
    Consent.insert(user_id=user_id).on_conflict_ignore().execute()


def hold_file(user_id: int, kind: str, file_id: str, size: int, name: str) -> bool:
    """Keeps a file the person sent until they answer; a later one of the same kind replaces it.
    Returns whether one was already waiting (the question is then asked already)."""
    waiting = WaitingFile.select().where((WaitingFile.user_id == user_id) & (WaitingFile.kind == kind)).exists()
    WaitingFile.insert(user_id=user_id, kind=kind, file_id=file_id, size=size, name=name).on_conflict(
        conflict_target=[WaitingFile.user_id, WaitingFile.kind],
        update={WaitingFile.file_id: file_id, WaitingFile.size: size, WaitingFile.name: name},
    ).execute()
    return waiting


def take_file(user_id: int, kind: str) -> WaitingFile | None:
    """The file of `kind` that waited for the person's answer, once: it no longer waits afterwards."""
    row = WaitingFile.get_or_none((WaitingFile.user_id == user_id) & (WaitingFile.kind == kind))
    if row is not None:
        WaitingFile.delete().where((WaitingFile.user_id == user_id) & (WaitingFile.kind == kind)).execute()
    return row


def follow(avatar_id: str, user_id: int, chat_id: int) -> FollowedAvatar:
    """Starts following an avatar from its first notification; following it again keeps the place."""
    row, _ = FollowedAvatar.get_or_create(avatar_id=avatar_id, defaults={"user_id": user_id, "chat_id": chat_id})
    return row


def followed() -> list[FollowedAvatar]:
    return list(FollowedAvatar.select())


def followed_avatar(avatar_id: str) -> FollowedAvatar | None:
    return FollowedAvatar.get_or_none(FollowedAvatar.avatar_id == avatar_id)


def delivered(avatar_id: str, seq: int) -> None:
    """Records that notification `seq` reached the chat; only ever moves forward."""
    FollowedAvatar.update(last_seq=seq).where((FollowedAvatar.avatar_id == avatar_id) & (FollowedAvatar.last_seq < seq)).execute()


def stage_message(run_id: str) -> StageMessage | None:
    return StageMessage.get_or_none(StageMessage.run_id == run_id)


def keep_stage_message(run_id: str, chat_id: int, message_id: int) -> None:
    # ON CONFLICT ... UPDATE, not REPLACE: PostgreSQL knows no REPLACE (peewee refuses it there)
    StageMessage.insert(run_id=run_id, chat_id=chat_id, message_id=message_id).on_conflict(
        conflict_target=[StageMessage.run_id], update={StageMessage.chat_id: chat_id, StageMessage.message_id: message_id},
    ).execute()


def new_keyboard() -> str:
    """The id the buttons of one message share (bot.keyboards.markup)."""
    return secrets.token_urlsafe(12)


def issue_token(user_id: int, action: str, avatar_id: str, argument: str = "", keyboard: str = "", scope: str = "") -> str:
    """A button's callback data: 16 random characters that mean nothing without this row."""
    token = secrets.token_urlsafe(12)
    CallbackToken.create(token=token, user_id=user_id, action=action, avatar_id=avatar_id, argument=argument, keyboard=keyboard, scope=scope)
    return token


def keyboard_of(found: CallbackToken) -> list[CallbackToken]:
    """The buttons of the message `found` was on (itself alone for a token of no keyboard)."""
    if not found.keyboard:
        return [found]
    return list(CallbackToken.select().where(CallbackToken.keyboard == found.keyboard))


def spend(found: CallbackToken) -> bool:
    """Marks the pressed button's keyboard used; False when it already was. One UPDATE, so of two
    presses at once (a double tap, two buttons of one message) exactly one gets True."""
    same = CallbackToken.keyboard == found.keyboard if found.keyboard else CallbackToken.token == found.token
    return CallbackToken.update(used_at=utcnow()).where(same & CallbackToken.used_at.is_null()).execute() > 0


def forget_avatar(avatar_id: str) -> None:
    """After the avatar is deleted: nobody follows it, its buttons are gone, nobody has it current."""
    FollowedAvatar.delete().where(FollowedAvatar.avatar_id == avatar_id).execute()
    CallbackToken.delete().where(CallbackToken.avatar_id == avatar_id).execute()
    ReviewReminder.delete().where(ReviewReminder.avatar_id == avatar_id).execute()
    BotUser.update(current_avatar="").where(BotUser.current_avatar == avatar_id).execute()


def token(value: str) -> CallbackToken | None:
    return CallbackToken.get_or_none(CallbackToken.token == value)


def review_waits(avatar_id: str, user_id: int, chat_id: int, round_run: str, passed: bool, due_at: dt.datetime) -> None:
    """A preview of round `round_run` waits for the person's verdict: remind them at `due_at`. A
    newer round replaces an older one's reminder, and starts counting again."""
    ReviewReminder.insert(avatar_id=avatar_id, user_id=user_id, chat_id=chat_id, round_run=round_run, passed=passed, due_at=due_at).on_conflict(
        conflict_target=[ReviewReminder.avatar_id],
        update={ReviewReminder.user_id: user_id, ReviewReminder.chat_id: chat_id, ReviewReminder.round_run: round_run,
                ReviewReminder.passed: passed, ReviewReminder.sent: 0, ReviewReminder.due_at: due_at},
    ).execute()


def reviewed(avatar_id: str, round_run: str = "") -> None:
    """No reminder for the avatar's round `round_run` (any round when empty): it was answered."""
    query = ReviewReminder.delete().where(ReviewReminder.avatar_id == avatar_id)
    if round_run:
        query = query.where(ReviewReminder.round_run == round_run)
    query.execute()


def due_reminders(now: dt.datetime) -> list[ReviewReminder]:
    return list(ReviewReminder.select().where(ReviewReminder.due_at <= now).order_by(ReviewReminder.due_at))


def reminded(row: ReviewReminder, next_due: dt.datetime | None) -> None:
    """Counts a reminder sent for the row's round; None: it was the last one, the row goes."""
    same = (ReviewReminder.avatar_id == row.avatar_id) & (ReviewReminder.round_run == row.round_run)
    if next_due is None:
        ReviewReminder.delete().where(same).execute()
    else:
        ReviewReminder.update(sent=ReviewReminder.sent + 1, due_at=next_due).where(same).execute()

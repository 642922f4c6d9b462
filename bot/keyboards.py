"""Inline buttons whose callback data is an opaque token (bot.state.issue_token): the action, the
avatar and the person it was given to stay in the database, out of reach of a crafted callback.
Every keyboard is one message's: its buttons share a keyboard id, so the first press spends them
all (bot.handlers.buttons removes them from the message), and a `scope` where the buttons act on
one step of the production (a review round, a proposal of clips, a cut-out version), so a button
of a step that moved on is answered as stale."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot import state
from bot.catalogue import LANGUAGES, say

PREFIX = "t:"
REASONS = ("lips_off", "blurry_mouth", "jitter", "wrong_clip", "other")


@dataclass(frozen=True)
class Press:
    """One button: its label, and what pressing it does (an action of bot.handlers.buttons)."""

    label: str
    action: str
    argument: str = ""


def markup(user_id: int, avatar_id: str, rows: list[list[Press]], scope: str = "") -> InlineKeyboardMarkup:
    """One message's keyboard (empty rows left out): its buttons are spent together."""
    keyboard = state.new_keyboard()
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=press.label,
                              callback_data=PREFIX + state.issue_token(user_id, press.action, avatar_id, press.argument, keyboard, scope))
         for press in row]
        for row in rows if row
    ])


def review(user_id: int, avatar_id: str, round_run: str, language: str, can_approve: bool = True) -> InlineKeyboardMarkup:
    """Approve / Reject of the round measured by the evaluation run `round_run`."""
    row = [Press(say("reject", language), "reject")]
    if can_approve:
        row.insert(0, Press(say("approve", language), "approve"))
    return markup(user_id, avatar_id, [row], scope=round_run)


def reasons(user_id: int, avatar_id: str, round_run: str, language: str, can_approve: bool = True) -> InlineKeyboardMarkup:
    """The reasons for a rejection, and a way back to the verdict for a person who pressed Reject by mistake."""
    rows = [[Press(say(f"reason_{reason}", language), "reason", reason)] for reason in REASONS]
    rows.append([Press(say("reject_back", language), "back", "approve" if can_approve else "")])
    return markup(user_id, avatar_id, rows, scope=round_run)


def deploy(user_id: int, avatar_id: str, round_run: str, language: str) -> InlineKeyboardMarkup:
    return markup(user_id, avatar_id, [[Press(say("deploy", language), "deploy")]], scope=round_run)


def confirm_delete(user_id: int, avatar_id: str, language: str) -> InlineKeyboardMarkup:
    return markup(user_id, avatar_id, [[Press(say("delete_yes", language), "delete", "yes"), Press(say("delete_no", language), "delete", "no")]])


def consent(user_id: int, language: str) -> InlineKeyboardMarkup:
    """The privacy statement's one button; it concerns the person, not an avatar."""
    return markup(user_id, "", [[Press(say("privacy_agree", language), "consent")]])


def again(user_id: int, avatar_id: str, name: str, language: str) -> InlineKeyboardMarkup:
    """For a video sent to an avatar in production: make it again, a new avatar, or nothing."""
    return markup(user_id, avatar_id, [
        [Press(say("again_yes", language, name=name), "video", "again")],
        [Press(say("again_new", language), "video", "new")],
        [Press(say("again_keep", language, name=name), "video", "keep")],
    ])


def confirm_cancel(user_id: int, avatar_id: str, language: str) -> InlineKeyboardMarkup:
    return markup(user_id, avatar_id, [[Press(say("cancel_yes", language), "cancel", "yes"), Press(say("cancel_no", language), "cancel", "no")]])


def confirm_background(user_id: int, avatar_id: str, language: str) -> InlineKeyboardMarkup:
    return markup(user_id, avatar_id, [[Press(say("background_yes", language), "background", "yes"),
                                        Press(say("background_no", language), "background", "no")]])


def choose(user_id: int, avatars: list[tuple[str, str]], language: str) -> InlineKeyboardMarkup:
    """One button per (avatar id, name) to make it the current avatar: each token names its own
    avatar, all share the one keyboard."""
    keyboard = state.new_keyboard()
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=say("use_button", language, name=name),
                              callback_data=PREFIX + state.issue_token(user_id, "use", avatar_id, "", keyboard))]
        for avatar_id, name in avatars
    ])


def languages(user_id: int) -> InlineKeyboardMarkup:
    """One button per catalogue, each named in its own language; it concerns the person, not an avatar."""
    return markup(user_id, "", [[Press(say(f"language_name_{language}", language), "language", language) for language in LANGUAGES]])

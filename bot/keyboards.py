"""Inline buttons whose callback data is an opaque token (bot.state.issue_token): the action, the
avatar and the person it was given to stay in the database, out of reach of a crafted callback."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot import state
from bot.catalogue import LANGUAGES, say

PREFIX = "t:"
REASONS = ("lips_off", "blurry_mouth", "jitter", "wrong_clip", "other")


def button(user_id: int, label: str, action: str, avatar_id: str, argument: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=label, callback_data=PREFIX + state.issue_token(user_id, action, avatar_id, argument))


def review(user_id: int, avatar_id: str, language: str, can_approve: bool = True) -> InlineKeyboardMarkup:
    row = [button(user_id, say("reject", language), "reject", avatar_id)]
    if can_approve:
        row.insert(0, button(user_id, say("approve", language), "approve", avatar_id))
    return InlineKeyboardMarkup(inline_keyboard=[row])


def reasons(user_id: int, avatar_id: str, language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[button(user_id, say(f"reason_{reason}", language), "reason", avatar_id, reason)] for reason in REASONS]
    )


def deploy(user_id: int, avatar_id: str, language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[button(user_id, say("deploy", language), "deploy", avatar_id)]])


def confirm_delete(user_id: int, avatar_id: str, language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        button(user_id, say("delete_yes", language), "delete", avatar_id, "yes"),
        button(user_id, say("delete_no", language), "delete", avatar_id, "no"),
    ]])


def consent(user_id: int, language: str) -> InlineKeyboardMarkup:
    """The privacy statement's one button; it concerns the person, not an avatar."""
    return InlineKeyboardMarkup(inline_keyboard=[[button(user_id, say("privacy_agree", language), "consent", "")]])


def again(user_id: int, avatar_id: str, name: str, language: str) -> InlineKeyboardMarkup:
    """For a video sent to an avatar in production: make it again, a new avatar, or nothing."""
    return InlineKeyboardMarkup(inline_keyboard=[
        [button(user_id, say("again_yes", language, name=name), "video", avatar_id, "again")],
        [button(user_id, say("again_new", language), "video", avatar_id, "new")],
        [button(user_id, say("again_keep", language, name=name), "video", avatar_id, "keep")],
    ])


def confirm_cancel(user_id: int, avatar_id: str, language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        button(user_id, say("cancel_yes", language), "cancel", avatar_id, "yes"),
        button(user_id, say("cancel_no", language), "cancel", avatar_id, "no"),
    ]])


def confirm_background(user_id: int, avatar_id: str, language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        button(user_id, say("background_yes", language), "background", avatar_id, "yes"),
        button(user_id, say("background_no", language), "background", avatar_id, "no"),
    ]])


def choose(user_id: int, avatars: list[tuple[str, str]], language: str) -> InlineKeyboardMarkup:
    """One button per (avatar id, name) to make it the current avatar."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[button(user_id, say("use_button", language, name=name), "use", avatar_id)] for avatar_id, name in avatars]
    )


def languages(user_id: int) -> InlineKeyboardMarkup:
    """One button per catalogue, each named in its own language; it concerns the person, not an avatar."""
    return InlineKeyboardMarkup(inline_keyboard=[[
        button(user_id, say(f"language_name_{language}", language), "language", "", language) for language in LANGUAGES
    ]])

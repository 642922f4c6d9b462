"""Button presses. The callback data is only a token (bot.keyboards); the action and the avatar come
from the database, and a press by anyone but the person the button was given to is refused, as is
a token that does not exist (forged, or of a deleted avatar). A button acts once: the first press
spends its message's keyboard and takes it off the message, so a second tap (or a tap on another
button of the same message) is answered with an alert, never done twice. A button of a step that
has moved on (a review of a round that is answered or no longer the newest, a clip of a replaced
proposal, an edit of a cut-out version that is no longer current) is answered as stale, in the
person's language, and changes nothing."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message

from bot import keyboards, picking, state
from bot.catalogue import say
from bot.handlers import background, upload
from bot.handlers.language import chosen as language_chosen
from bot.handlers.commands import stages_of
from bot.handlers.common import ACTIVE, own_avatar, round_waits
from bot.handlers.speak import REJECT_OTHER
from bot.host_client import HostClient, HostError
from bot.models import BotUser, CallbackToken
from bot.notifications import Follower
from bot.settings import BotSettings

log = logging.getLogger(__name__)
DELETE_WAIT_S = 60  # how long a deletion waits for the avatar's service to stop, then for its running stages
GONE = "unknown_avatar"  # the host's error code for an avatar that does not exist (any more)


async def pressed(query: CallbackQuery, bot: Bot, person: BotUser, host: HostClient, follower: Follower, bot_settings: BotSettings) -> None:
    """Checks the press (the token exists, is this person's, is not used, its step is current),
    spends its keyboard and takes it off the message, then does what the button says."""
    language = person.language
    found = state.token(query.data.removeprefix(keyboards.PREFIX))
    if found is None:
        await query.answer(say("button_expired", language), show_alert=True)
        return
    try:
        mine = found.user_id == person.user_id and (not found.avatar_id or await own_avatar(host, person, found.avatar_id) is not None)
    except HostError as exc:
        if exc.code != GONE:
            raise
        await query.answer(say("button_expired", language), show_alert=True)  # deleted elsewhere (the web app)
        await unbutton(query)
        return
    if not mine:
        await query.answer(say("button_not_yours", language), show_alert=True)
        return
    moved_on = "" if found.used_at else await stale(host, found)
    if moved_on:
        state.spend(found)
        await query.answer(say(moved_on, language), show_alert=True)
        await unbutton(query)
        return
    if not state.spend(found):  # used already: a second tap, or another button of the same message
        await query.answer(say("button_used", language), show_alert=True)
        await unbutton(query)
        return
    await query.answer()
    await unbutton(query)
    if found.action == "consent":  # about the person, not an avatar
        await upload.agreed(query, person, host, follower, bot_settings)
        return
    if found.action == "language":
        await language_chosen(query, bot, person, found)
        return
    if found.action == "video":  # a video that waits to be stored
        await upload.again(query, person, host, follower, bot_settings, found)
        return
    await ACTIONS[found.action](query, person, host, follower, found)


async def unbutton(query: CallbackQuery) -> None:
    """Takes the keyboard off the message the press came from, so that it cannot be pressed again;
    a message Telegram no longer lets the bot edit keeps it (the token is spent all the same)."""
    message = query.message
    if not isinstance(message, Message) or message.reply_markup is None:
        return
    try:
        await message.edit_reply_markup(reply_markup=None)
    except TelegramBadRequest as exc:
        log.info("the buttons of message %s stay: %s", message.message_id, exc.message)


ROUND_ACTIONS = ("approve", "reject", "reason", "back", "deploy")
CUTOUT_ACTIONS = ("region", "key_colour", "despill", "undo")


async def stale(host: HostClient, found: CallbackToken) -> str:
    """Why the button's step has moved on, as a catalogue key; "" while it is current (and for a
    button of no step). A review button is current while its round is the newest and unanswered
    (Deploy: the newest), a clip's while its proposal is the newest, a cut-out edit's while its
    version is the current one."""
    if not found.scope:
        return ""
    if found.action in ROUND_ACTIONS:
        return "" if await round_waits(host, found.avatar_id, found.scope, answered_too=found.action == "deploy") else "button_stale_review"
    if found.action == "choose":
        newest = picking.newest_proposal(await host.runs(found.avatar_id))
        return "" if newest is not None and newest.run_id == found.scope else "button_stale_clips"
    if found.action in CUTOUT_ACTIONS:
        current = next((v for v in await host.material_versions(found.avatar_id) if v.current), None)
        return "" if current is not None and current.run_id == found.scope else "button_stale_cutout"
    return ""


async def use(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    avatar = await host.avatar(found.avatar_id)
    state.set_current(person.user_id, avatar.avatar_id)
    follower.follow(avatar.avatar_id, person.user_id, person.chat_id)
    await query.message.answer(say("now_current", person.language, name=avatar.name))


async def approve(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    reply = await host.approve(found.avatar_id, state.owner_of(person.user_id))
    markup = keyboards.deploy(person.user_id, found.avatar_id, found.scope, person.language) if reply.can_deploy else None
    await query.message.answer(say("approved", person.language), reply_markup=markup)


async def reject(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    can_approve = any(other.action == "approve" for other in state.keyboard_of(found))
    await query.message.answer(say("reject_ask", person.language),
                               reply_markup=keyboards.reasons(person.user_id, found.avatar_id, found.scope, person.language, can_approve))


async def back(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    """Rejecting was pressed by mistake: the verdict's buttons again, where the reasons were."""
    await query.message.edit_text(say("reject_back_ask", person.language), reply_markup=keyboards.review(
        person.user_id, found.avatar_id, found.scope, person.language, can_approve=found.argument == "approve"))


async def reason(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    """Rejects with the chosen reason; "other" first asks for the words (bot.handlers.speak takes them)."""
    if found.argument == "other":
        state.set_awaiting(person.user_id, f"{REJECT_OTHER}{found.avatar_id}:{found.scope}")
        await query.message.answer(say("other_ask", person.language))
        return
    await host.reject(found.avatar_id, state.owner_of(person.user_id), found.argument)
    # the wrong clip is fixed by picking another: the clips again, with their buttons, not the host's CLI words
    if found.argument == "wrong_clip" and await follower.offer_materials(found.avatar_id, "pick_again"):
        return
    await query.message.answer(say(f"rejected_{found.argument}", person.language))


async def deploy(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    follower.follow(found.avatar_id, person.user_id, person.chat_id)
    await host.deploy(found.avatar_id, state.owner_of(person.user_id))
    await query.message.answer(say("deploy_started", person.language))


async def region(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    action, region_id = found.argument.split(":", 1)
    reply = await host.edit_materials(found.avatar_id, state.owner_of(person.user_id), "region", {"action": action, "region": region_id})
    await query.message.answer(say("editing", person.language, version=reply.version))


async def key_colour(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    """Keys out one of the background colours the cut-out found, at the default tolerance."""
    colour = [int(value) for value in found.argument.split(",")]
    reply = await host.edit_materials(found.avatar_id, state.owner_of(person.user_id), "key_colour", {"colours": [colour]})
    await query.message.answer(say("editing", person.language, version=reply.version))


async def despill(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    reply = await host.edit_materials(found.avatar_id, state.owner_of(person.user_id), "despill", {"strength": float(found.argument)})
    await query.message.answer(say("editing", person.language, version=reply.version))


async def undo(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    reply = await host.revert_materials(found.avatar_id, state.owner_of(person.user_id), int(found.argument))
    await query.message.answer(say("editing", person.language, version=reply.version))


async def choose(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    """Uses a proposed driving clip or cover: the cut-out is made anew with it as the next version."""
    kind, candidate = found.argument.split(":", 1)
    reply = await host.edit_materials(found.avatar_id, state.owner_of(person.user_id), "choose", {kind: candidate})
    await query.message.answer(say("editing", person.language, version=reply.version))


async def delete(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    """Deletes the avatar once the person confirmed: a live one is undeployed first, and its running
    stages are stopped first (they stop at their next report, so the host is asked again for a while)."""
    if found.argument != "yes":
        await query.message.answer(say("delete_kept", person.language))
        return
    name = (await host.avatar(found.avatar_id)).name
    by = state.owner_of(person.user_id)

    async def deleted() -> bool:
        return (await host.delete_avatar(found.avatar_id, by, cancel_running=True)).deleted

    try:
        done = await deleted()
    except HostError as exc:
        if exc.code != "deployed":
            raise
        await query.message.answer(say("delete_undeploying", person.language, name=name))
        await host.undeploy(found.avatar_id, by)
        await within(DELETE_WAIT_S, lambda: not_live(host, found.avatar_id))
        done = await deleted()
    if not (done or await within(DELETE_WAIT_S, deleted)):
        await query.message.answer(say("delete_later", person.language, name=name))
        return
    follower.forget(found.avatar_id)
    await query.message.answer(say("deleted", person.language, name=name))


async def cancel(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    """Stops what is waiting or running for the avatar once the person confirmed."""
    if found.argument != "yes":
        await query.message.answer(say("cancel_kept", person.language))
        return
    active = [run for run in (await host.avatar(found.avatar_id)).stages if run.state in ACTIVE]
    for run in active:
        await host.cancel(run.run_id, f"cancelled by {state.owner_of(person.user_id)} in Telegram")
    if active:
        await query.message.answer(say("cancelled_runs", person.language, stages=stages_of(active, person.language)))
    else:
        await query.message.answer(say("nothing_to_cancel", person.language, name=(await host.avatar(found.avatar_id)).name))


async def not_live(host: HostClient, avatar_id: str) -> bool:
    return not (await host.endpoint(avatar_id)).HasField("endpoint")


async def within(seconds: int, check) -> bool:
    """Whether the async `check` comes true, asked once a second for `seconds`."""
    for _ in range(seconds):
        await asyncio.sleep(1.0)
        if await check():
            return True
    return False


ACTIONS = {"use": use, "delete": delete, "cancel": cancel, "background": background.chosen, "approve": approve, "reject": reject, "back": back,
           "reason": reason, "deploy": deploy,
           "region": region, "key_colour": key_colour, "despill": despill, "undo": undo, "choose": choose}


def router() -> Router:
    """A fresh router per dispatcher (a router belongs to one dispatcher)."""
    router = Router(name="buttons")
    router.callback_query.register(pressed, F.data.startswith(keyboards.PREFIX))
    return router

"""Button presses. The callback data is only a token (bot.keyboards); the action and the avatar come
from the database, and a press by anyone but the person the button was given to is refused, as is
a token that does not exist (forged or from an old conversation)."""

from __future__ import annotations

import asyncio

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery

from bot import keyboards, state
from bot.catalogue import say
from bot.handlers import background, language, upload
from bot.handlers.commands import stages_of
from bot.handlers.common import ACTIVE, own_avatar
from bot.host_client import HostClient, HostError
from bot.models import BotUser, CallbackToken
from bot.notifications import Follower
from bot.settings import BotSettings

DELETE_WAIT_S = 60  # how long a deletion waits for the avatar's service to stop, then for its running stages



async def pressed(query: CallbackQuery, bot: Bot, person: BotUser, host: HostClient, follower: Follower, bot_settings: BotSettings) -> None:
    found = state.token(query.data.removeprefix(keyboards.PREFIX))
    if found is None:
        await query.answer(say("button_expired", person.language), show_alert=True)
        return
    mine = found.user_id == person.user_id and (not found.avatar_id or await own_avatar(host, person, found.avatar_id) is not None)
    if not mine:
        await query.answer(say("button_not_yours", person.language), show_alert=True)
        return
    await query.answer()
    if found.action == "consent":  # about the person, not an avatar
        await upload.agreed(query, person, host, follower, bot_settings)
        return
    if found.action == "language":
        await language.chosen(query, bot, person, found)
        return
    if found.action == "video":  # a video that waits to be stored
        await upload.again(query, person, host, follower, bot_settings, found)
        return
    await ACTIONS[found.action](query, person, host, follower, found)


async def use(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    avatar = await host.avatar(found.avatar_id)
    state.set_current(person.user_id, avatar.avatar_id)
    follower.follow(avatar.avatar_id, person.user_id, person.chat_id)
    await query.message.answer(say("now_current", person.language, name=avatar.name))


async def approve(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    reply = await host.approve(found.avatar_id, state.owner_of(person.user_id))
    markup = keyboards.deploy(person.user_id, found.avatar_id, person.language) if reply.can_deploy else None
    await query.message.answer(say("approved", person.language), reply_markup=markup)


async def reject(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    await query.message.answer(say("reject_ask", person.language), reply_markup=keyboards.reasons(person.user_id, found.avatar_id, person.language))


async def reason(query: CallbackQuery, person: BotUser, host: HostClient, follower: Follower, found: CallbackToken) -> None:
    """Rejects with the chosen reason; "other" first asks for the words (bot.handlers.speak takes them)."""
    if found.argument == "other":
        state.set_awaiting(person.user_id, f"reject_other:{found.avatar_id}")
        await query.message.answer(say("other_ask", person.language))
        return
    reply = await host.reject(found.avatar_id, state.owner_of(person.user_id), found.argument)
    # the wrong clip is fixed by picking another: the clips again, with their buttons, not the host's CLI words
    if found.argument == "wrong_clip" and await follower.offer_materials(found.avatar_id, "pick_again"):
        return
    await query.message.answer(say("rejected", person.language, message=reply.message))


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


ACTIONS = {"use": use, "delete": delete, "cancel": cancel, "background": background.chosen, "approve": approve, "reject": reject, "reason": reason, "deploy": deploy,
           "region": region, "key_colour": key_colour, "despill": despill, "undo": undo, "choose": choose}


def router() -> Router:
    """A fresh router per dispatcher (a router belongs to one dispatcher)."""
    router = Router(name="buttons")
    router.callback_query.register(pressed, F.data.startswith(keyboards.PREFIX))
    return router

"""The message center's read side and its live wake-ups.

Notification rows are the truth. Redis carries only "something new up to N" after each commit, so a
follower reads rows after its cursor whenever woken, and also polls: a lost publish, a Redis restart
or a reconnect never makes a gap or a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import redis
import redis.asyncio as aioredis

from host.storage import models
from host.unit_of_work import Publisher

log = logging.getLogger(__name__)

CHANNEL = "twinforge:notifications"
PAGE = 500


def redis_publisher(client: redis.Redis) -> Publisher:
    def publish(rows: list[models.Notification]) -> None:
        try:
            client.publish(CHANNEL, str(rows[-1].global_seq))
        except redis.RedisError as exc:
            log.warning("notification wake-up not published; followers will poll", extra={"error": str(exc)})

    return publish


def fetch_after(avatar_id: str, after: int, limit: int = PAGE) -> list[models.Notification]:
    """Per avatar, `after` is the avatar's sequence; across avatars it is the global sequence."""
    query = models.Notification.select()
    if avatar_id:
        query = query.where((models.Notification.avatar == avatar_id) & (models.Notification.seq > after))
        query = query.order_by(models.Notification.seq)
    else:
        query = query.where(models.Notification.global_seq > after).order_by(models.Notification.global_seq)
    return list(query.limit(limit))


def cursor_of(row: models.Notification, avatar_id: str) -> int:
    return row.seq if avatar_id else row.global_seq


async def follow(
    avatar_id: str, after: int, redis_url: str, poll_s: float = 1.0
) -> AsyncIterator[models.Notification]:
    """Replays every notification after `after`, then follows new ones, forever."""
    client = aioredis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    try:
        try:
            await pubsub.subscribe(CHANNEL)
        except redis.RedisError as exc:
            log.warning("live notifications unavailable; polling the database", extra={"error": str(exc)})
            pubsub = None
        _honour_lost_cancel()
        cursor = after
        while True:
            rows = await asyncio.to_thread(fetch_after, avatar_id, cursor)
            for row in rows:
                cursor = cursor_of(row, avatar_id)
                yield row
            if len(rows) == PAGE:
                continue
            await _wait_for_wakeup(pubsub, poll_s)
            _honour_lost_cancel()
    finally:
        if pubsub is not None:
            await pubsub.aclose()
        await client.aclose()


def _honour_lost_cancel() -> None:
    """Stops a follower whose cancellation was lost. redis-py sends commands (SUBSCRIBE, also on
    reconnect) through asyncio.wait_for, which on Python 3.11 returns normally when the task is
    cancelled just as the command completes; the request stays counted on the task, and without
    this check the follower (the reactor, or a WatchNotifications stream whose client left) would
    poll forever and block the host's shutdown."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _wait_for_wakeup(pubsub: aioredis.client.PubSub | None, poll_s: float) -> None:
    if pubsub is None:
        await asyncio.sleep(poll_s)
        return
    try:
        await pubsub.get_message(ignore_subscribe_messages=True, timeout=poll_s)
    except redis.RedisError:
        await asyncio.sleep(poll_s)

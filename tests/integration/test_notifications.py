"""The message center's follow: replay, then live wake-ups through real Redis, with a polling
fallback. A follower that reconnects from its cursor gets every notification exactly once."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import redis

from host import use_cases
from host.bootstrap import Runtime
from host.notifications import cursor_of, follow, redis_publisher
from host.unit_of_work import unit_of_work

TIMEOUT_S = 15.0


def closed_port_url() -> str:
    """A Redis URL on a loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def create_avatars(runtime: Runtime, count: int) -> list[str]:
    with runtime.uow() as uow:
        return [use_cases.create_avatar(uow, f"cli:n{i}", f"N{i}").id for i in range(count)]


class Writer(threading.Thread):
    """Writes `count` notifications, round robin over the avatars, one commit every `every_s`."""

    def __init__(self, publish, avatars: list[str], count: int, every_s: float = 0.003) -> None:
        super().__init__(daemon=True)
        self.publish, self.avatars, self.count, self.every_s = publish, avatars, count, every_s
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for i in range(self.count):
                with unit_of_work(self.publish) as uow:
                    uow.notify(self.avatars[i % len(self.avatars)], "tick", {"i": i})
                time.sleep(self.every_s)
        except BaseException as exc:
            self.error = exc


async def take(avatar_id: str, after: int, redis_url: str, count: int, poll_s: float) -> list[int]:
    """Follows until `count` notifications arrived, then disconnects; returns their cursors."""
    cursors: list[int] = []
    stream = follow(avatar_id, after, redis_url, poll_s=poll_s)
    try:
        async with asyncio.timeout(TIMEOUT_S):
            async for row in stream:
                cursors.append(cursor_of(row, avatar_id))
                if len(cursors) == count:
                    break
    finally:
        await stream.aclose()
    return cursors


async def test_reconnecting_follower_gets_the_rest_without_gap_or_duplicate(runtime):
    """Per avatar: disconnect after N while the writer goes on, reconnect with after_seq=N. The long
    poll interval means the follower keeps up through Redis wake-ups, not polling."""
    url = runtime.settings.resolved_redis_url
    (avatar_id,) = create_avatars(runtime, 1)
    writer = Writer(redis_publisher(runtime.redis), [avatar_id], count=150)
    total = 1 + writer.count  # avatar_created, then the writer's
    writer.start()
    first = await take(avatar_id, 0, url, 40, poll_s=30)
    assert writer.is_alive(), "the writer should still be writing when the follower disconnects"
    await asyncio.sleep(0.05)  # notifications keep arriving while nobody follows
    rest = await take(avatar_id, first[-1], url, total - len(first), poll_s=30)
    writer.join(TIMEOUT_S)
    assert writer.error is None
    assert first == list(range(1, 41))
    assert first + rest == list(range(1, total + 1))


async def test_global_follower_reconnects_without_gap_or_duplicate(runtime):
    url = runtime.settings.resolved_redis_url
    avatars = create_avatars(runtime, 3)
    start = len(avatars)  # the three avatar_created notifications hold global 1..3
    writer = Writer(redis_publisher(runtime.redis), avatars, count=150)
    writer.start()
    first = await take("", start, url, 50, poll_s=30)
    assert writer.is_alive()
    await asyncio.sleep(0.05)
    rest = await take("", first[-1], url, writer.count - len(first), poll_s=30)
    writer.join(TIMEOUT_S)
    assert writer.error is None
    assert first + rest == list(range(start + 1, start + writer.count + 1))


async def test_follow_polls_when_redis_is_unreachable(runtime):
    """No wake-up can arrive (neither the writer's publisher nor the follower reach Redis); the
    follower still delivers everything, in order, by polling the database."""
    down = closed_port_url()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(down).ping()
    (avatar_id,) = create_avatars(runtime, 1)
    writer = Writer(redis_publisher(redis.Redis.from_url(down)), [avatar_id], count=40)
    writer.start()
    first = await take(avatar_id, 0, down, 10, poll_s=0.05)
    rest = await take(avatar_id, first[-1], down, 1 + writer.count - 10, poll_s=0.05)
    writer.join(TIMEOUT_S)
    assert writer.error is None
    assert first + rest == list(range(1, writer.count + 2))


async def test_a_follower_cancelled_at_any_moment_stops(runtime):
    """Cancelling a follower must end it, whenever it lands: even in the first milliseconds, while
    it subscribes (Python 3.11's asyncio.wait_for inside redis-py can swallow that cancellation;
    the host's reactor and every WatchNotifications stream rely on cancellation to stop)."""
    url = runtime.settings.resolved_redis_url

    async def consume() -> None:
        async for _ in follow("", 0, url, poll_s=0.5):
            pass

    for i in range(120):
        task = asyncio.create_task(consume())
        await asyncio.sleep((i % 12) * 0.00025)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        assert done, f"the follower went on after being cancelled {(i % 12) * 0.25:.2f} ms after it started"
        assert task.cancelled()


async def test_follow_survives_losing_its_redis_connection(runtime):
    """Redis drops the follower's subscription mid-stream (a Redis restart, a network blip): the
    follower carries on from its cursor, with no gap and no duplicate."""
    url = runtime.settings.resolved_redis_url
    db = runtime.redis.connection_pool.connection_kwargs.get("db", 0)
    (avatar_id,) = create_avatars(runtime, 1)
    writer = Writer(redis_publisher(runtime.redis), [avatar_id], count=120, every_s=0.005)
    total = 1 + writer.count
    seqs: list[int] = []
    killed = 0
    writer.start()
    async with asyncio.timeout(TIMEOUT_S):
        async for row in follow(avatar_id, 0, url, poll_s=0.2):
            seqs.append(row.seq)
            if len(seqs) == 30:
                for client in runtime.redis.client_list():
                    if int(client["db"]) == db and int(client.get("sub", 0)) > 0:
                        killed += runtime.redis.client_kill_filter(_id=client["id"])
            if len(seqs) == total:
                break
    writer.join(TIMEOUT_S)
    assert killed == 1, "the follower's subscription was not found to drop"
    assert seqs == list(range(1, total + 1))

"""Paused queues: their jobs stay where they are, and workers take nothing from them until resumed.

The set lives in Redis beside the queues, so every worker on every machine sees a pause at its next
take (within a second) without being restarted.
"""

from __future__ import annotations

import redis

PAUSED_KEY = "twinforge:paused"


def pause(connection: redis.Redis, queue: str) -> bool:
    """Pauses a queue; False when it was already paused."""
    return bool(connection.sadd(PAUSED_KEY, queue))


def resume(connection: redis.Redis, queue: str) -> bool:
    """Resumes a queue; False when it was not paused."""
    return bool(connection.srem(PAUSED_KEY, queue))


def paused(connection: redis.Redis) -> set[str]:
    return {name.decode() for name in connection.smembers(PAUSED_KEY)}

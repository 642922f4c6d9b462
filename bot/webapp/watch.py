"""What the timeline needs that a stage run does not carry: a queued run's place in the queue (the
host's `stage_position` notifications, scheduler/positions.py) and a running run's time left (the
`eta_seconds` of its `stage_progress` notifications). While someone looks at an avatar's progress
the web app follows its notifications, as the bot does, and keeps the newest of each per run; it
stops following once nobody asked for IDLE_S."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from bot import acting
from bot.host_client import HostClient, HostError, payload

log = logging.getLogger(__name__)
IDLE_S = 120.0
RECONNECT_S = 2.0


@dataclass
class RunNews:
    position: int = 0  # 0: no place known (not queued, or the positions pass has not seen it)
    of: int = 0
    eta_seconds: float = -1.0
    eta_at: float = 0.0  # when the ETA was reported (the notification's time: a replayed one counts from then)

    def left_s(self, now: float) -> float | None:
        """Seconds left by the newest report, counted down since; None when the run reported none."""
        return max(0.0, self.eta_seconds - (now - self.eta_at)) if self.eta_seconds >= 0 else None


@dataclass
class Followed:
    runs: dict[str, RunNews] = field(default_factory=dict)
    asked_at: float = 0.0
    task: asyncio.Task | None = None


class Watcher:
    def __init__(self, host: HostClient) -> None:
        self.host = host
        self.avatars: dict[str, Followed] = {}

    def news(self, avatar_id: str, user_id: int) -> dict[str, RunNews]:
        """What is known of the avatar's runs so far; the first ask starts following it (the answer
        to the next ask then holds what the host had sent)."""
        now = time.monotonic()
        for other, followed in list(self.avatars.items()):
            if now - followed.asked_at > IDLE_S and followed.task is not None:
                followed.task.cancel()
                del self.avatars[other]
        followed = self.avatars.setdefault(avatar_id, Followed())
        followed.asked_at = now
        if followed.task is None or followed.task.done():
            with acting.acting_for(user_id):  # the task copies the context: it acts for the person who asked
                followed.task = asyncio.create_task(self._follow(avatar_id, followed), name=f"watch {avatar_id}")
        return followed.runs

    async def _follow(self, avatar_id: str, followed: Followed) -> None:
        seq = 0
        while True:
            try:
                async for n in self.host.watch(avatar_id, seq):
                    seq = n.seq
                    news = followed.runs.setdefault(n.run_id, RunNews())
                    data = payload(n)
                    if n.kind == "stage_position":
                        news.position, news.of = int(data.get("position", 0)), int(data.get("of", 0))
                    elif n.kind == "stage_progress":
                        news.position = news.of = 0
                        news.eta_seconds, news.eta_at = float(data.get("eta_seconds", -1.0)), n.created_at.ToNanoseconds() / 1e9
                    elif n.kind in ("stage_running", "stage_succeeded", "stage_failed", "stage_cancelled"):
                        news.position = news.of = 0
            except HostError as exc:
                log.info("following %s for the progress page: %s", avatar_id, exc.words)
            await asyncio.sleep(RECONNECT_S)

    async def stop(self) -> None:
        for followed in self.avatars.values():
            if followed.task is not None:
                followed.task.cancel()
        for followed in self.avatars.values():
            if followed.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await followed.task
        self.avatars.clear()

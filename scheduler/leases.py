"""Leases prove that a running job's worker is alive. The work horse renews its run's lease; when
a worker is killed, the lease expires and the reaper puts the run back in the queue, so the next
attempt resumes from the last checkpoint."""

from __future__ import annotations

import threading

import redis


def lease_key(run_id: str) -> str:
    return f"twinforge:lease:{run_id}"


class Lease:
    """Holds `twinforge:lease:<run_id>` while the job runs, renewing it from a daemon thread."""

    def __init__(self, connection: redis.Redis, run_id: str, holder: str, ttl_s: float) -> None:
        self.connection = connection
        self.key = lease_key(run_id)
        self.holder = holder
        self.ttl_ms = int(ttl_s * 1000)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{run_id}", daemon=True)

    def __enter__(self) -> "Lease":
        self.connection.set(self.key, self.holder, px=self.ttl_ms)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.connection.delete(self.key)

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                self.connection.set(self.key, self.holder, px=self.ttl_ms)
            except redis.RedisError:
                continue


def held(connection: redis.Redis, run_id: str) -> bool:
    return bool(connection.exists(lease_key(run_id)))

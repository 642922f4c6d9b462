"""Leases prove that a running job's worker is alive. The work horse renews its run's lease; when
a worker is killed, the lease expires and the reaper puts the run back in the queue, so the next
attempt resumes from the last checkpoint.

Only its holder renews or releases a lease: a duplicate job of the same run (the reaper can enqueue
one while a worker is taking the original) must neither take over the live lease nor delete it on
its way out, or the reaper would see a healthy run as abandoned and run it twice."""

from __future__ import annotations

import threading

import redis

# Compare-and-act on the holder, atomically: GET then PEXPIRE/DEL from Python could act on a lease
# another worker took in between.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class LeaseTaken(Exception):
    """Another worker holds this run's lease: this job is a duplicate and must not run."""


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
        if not self.connection.set(self.key, self.holder, px=self.ttl_ms, nx=True):
            current = self.connection.get(self.key)
            if current is not None and current.decode() != self.holder:
                raise LeaseTaken(f"run lease held by {current.decode()}")
            self.connection.set(self.key, self.holder, px=self.ttl_ms)  # expired in between, or ours already
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.connection.eval(_RELEASE, 1, self.key, self.holder)

    def _renew(self) -> None:
        """Extends the lease while it is ours; one that expired during a Redis outage is taken back
        unless another worker has it."""
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                if not self.connection.eval(_RENEW, 1, self.key, self.holder, self.ttl_ms):
                    self.connection.set(self.key, self.holder, px=self.ttl_ms, nx=True)
            except redis.RedisError:
                continue


def held(connection: redis.Redis, run_id: str) -> bool:
    return bool(connection.exists(lease_key(run_id)))

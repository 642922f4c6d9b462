"""The platform of a fault test as real processes, each started, killed and restarted by name: the
host (`python -m host.server`), a queue worker (`twinforge worker`), a plugin
(tests/faults/held_plugin.py), the bot (`python -m bot.main`) and, for the Redis restart, a
private redis-server (the one `twinforge up` starts)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from host.settings import Settings
from host.supervisor import Child, start_private_redis

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Processes:
    """Child processes by name, each started again with the argv and environment it first had."""

    logs: Path
    env: dict[str, str]
    argv: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, dict[str, str]] = field(default_factory=dict)
    running: dict[str, subprocess.Popen] = field(default_factory=dict)
    redis: Child | None = None

    def define(self, name: str, argv: list[str], **env: str) -> None:
        """How `name` starts: python's arguments and the environment added to the common one."""
        self.argv[name], self.extra[name] = argv, env

    def start(self, name: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")
        self.running[name] = subprocess.Popen(
            [sys.executable, *self.argv[name]], env={**self.env, **self.extra[name]}, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        return self.running[name]

    def kill(self, name: str) -> None:
        """SIGKILL: no handler runs, nothing is flushed or deregistered."""
        proc = self.running[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def start_redis(self, settings: Settings) -> None:
        self.redis = start_private_redis(settings, self.logs)

    def restart_redis(self, settings: Settings) -> None:
        """SIGKILL, then the same server on the same port and append-only file."""
        self.redis.process.send_signal(signal.SIGKILL)
        self.redis.process.wait(timeout=10)
        self.redis.log_file.close()
        self.start_redis(settings)

    def stop_all(self) -> None:
        for proc in self.running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
        if self.redis is not None:
            self.redis.stop()


def child_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """This process's environment (the settings fixture exported the TWINFORGE_* values)."""
    return {**os.environ, "TWINFORGE_DATA_DIR": str(settings.resolved_data_dir), **overrides}

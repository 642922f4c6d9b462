"""`twinforge up`: the whole platform on one machine as child processes, stopped cleanly together.

It starts a private redis-server when no Redis URL is set (persistence on, under the data
directory), migrates the database once, then the host, each built-in plugin, and the queue
workers. A child that dies is restarted with a growing delay.

One machine needs no key set by hand: an operator key waits in <data_dir>/operator.key (mode
0600), which every client on this machine that may read it uses, and the bot gets a service key
of its own (<data_dir>/bot.key), which the web app (bot/webapp) uses too.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import click
import redis

from host import auth
from host.ports import PortInUse, ensure_free
from host.settings import Settings
from host.storage.db import init_database
from plugins.trainer.spec import Spec, load_spec


class BuiltinPlugin(NamedTuple):
    """A built-in plugin process: the stage it serves, which names its process and its log, and
    what `python -m` runs."""

    name: str
    module: str
    args: tuple[str, ...] = ()

    @property
    def argv(self) -> tuple[str, ...]:
        """The interpreter's arguments that start it."""
        return ("-m", self.module, *self.args)


def served(*stages: str) -> tuple[BuiltinPlugin, ...]:
    """Plugins whose module is `plugins.<stage>.server`."""
    return tuple(BuiltinPlugin(stage, f"plugins.{stage}.server") for stage in stages)


def trainers(spec: Spec) -> tuple[BuiltinPlugin, ...]:
    """One trainer process per sub-model, in the spec's order: a sub-model added to the spec is
    started with no change here."""
    return tuple(BuiltinPlugin(name, "plugins.trainer", (name,)) for name in spec.submodels)


def builtin_plugins(spec: Spec) -> tuple[BuiltinPlugin, ...]:
    """Every built-in plugin in port order: plugin i listens on plugin_base_port + i, so each keeps its
    port across restarts. The trainers stand where the four sub-models have always been served; a new
    plugin goes at the end, so the others' ports stay put (a new sub-model moves those of the plugins
    after the trainers, which `up` stops and starts together)."""
    return (
        *served("probe", "video_analysis", "vad", "audio_features", "face_track", "segmentation", "crop", "material_extraction"),
        *trainers(spec),
        *served("cutout", "interactive_edit"),
        BuiltinPlugin("sync_detection", "plugins.evaluation.sync_detection"),
        BuiltinPlugin("quality_eval", "plugins.evaluation.quality_eval"),
        *served("tts", "image_packaging", "deployment"),
    )


BUILTIN_PLUGINS = builtin_plugins(load_spec())
RESTART_DELAYS_S = (5, 10, 20, 40, 60)


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None
    restarts: int = 0
    restart_at: float = 0.0
    log_file: object = field(default=None, repr=False)

    def start(self) -> None:
        self.log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.argv, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log_file:
            self.log_file.close()


def start_private_redis(settings: Settings, logs: Path) -> Child:
    """A redis-server for this machine only, with an append-only file so a restart loses no job."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise click.ClickException("redis-server is not installed: run scripts/setup, or set TWINFORGE_REDIS_URL")
    redis_dir = settings.resolved_data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        binary, "--bind", "127.0.0.1", "--port", str(settings.private_redis_port), "--dir", str(redis_dir),
        "--appendonly", "yes", "--appendfsync", "everysec", "--save", "60 1", "--protected-mode", "yes",
    ]
    child = Child("redis", argv, dict(os.environ), logs / "redis.log")
    child.start()
    client = redis.Redis.from_url(settings.resolved_redis_url)
    for _ in range(100):
        try:
            client.ping()
            return child
        except redis.ConnectionError:
            time.sleep(0.1)
    child.stop()
    raise click.ClickException(f"the private redis-server did not start; see {child.log_path}")


def local_keys(settings: Settings) -> str:
    """Issues the operator's and the bot's keys when their files are missing or stale; returns the bot's."""
    auth.ensure_key_file(settings.operator_key_file, f"cli:{getpass.getuser()}", "operator", "twinforge up: operator on this machine")
    return auth.ensure_key_file(settings.bot_key_file, "service:bot", "service", "twinforge up: the Telegram bot")


def children(settings: Settings, env: dict[str, str], logs: Path, cpu_workers: int, bot_key: str = "") -> list[Child]:
    python = sys.executable
    procs = [Child("host", [python, "-m", "host.server"], env, logs / "host.log")]
    for index, plugin in enumerate(BUILTIN_PLUGINS):
        # A fixed port per plugin: a restarted plugin re-registers at the same address and keeps its id.
        plugin_env = dict(env, TWINFORGE_PLUGIN_PORT=str(settings.plugin_base_port + index))
        procs.append(Child(f"plugin:{plugin.name}", [python, *plugin.argv], plugin_env, logs / f"plugin-{plugin.name}.log"))
    for slot in range(cpu_workers):
        procs.append(Child(f"worker:cpu{slot}", [python, "-m", "host.cli", "worker", "--cpu-slot", str(slot)], env, logs / f"worker-cpu{slot}.log"))
    if settings.bot_token.get_secret_value():  # the Telegram bot, once an operator gave it a token
        procs.append(Child("bot", [python, "-m", "bot.main"], dict(env, TWINFORGE_API_KEY=bot_key), logs / "bot.log"))
    if settings.webapp_enabled:  # the Mini App acts for people as the bot does: with the bot's service key
        procs.append(Child("webapp", [python, "-m", "bot.webapp"], dict(env, TWINFORGE_API_KEY=bot_key), logs / "webapp.log"))
    return procs


def check_ports(settings: Settings) -> None:
    """Refuses to start anything when one of the ports `up` would listen on is taken: a second
    `up` on one machine stops here, naming the port and its holder, before it could share the
    first one's Redis or split its clients."""
    wanted = [("the host", settings.host_address, "TWINFORGE_HOST_ADDRESS")]
    if not settings.redis_url:
        wanted.append(("the private redis-server", f"127.0.0.1:{settings.private_redis_port}", "TWINFORGE_PRIVATE_REDIS_PORT"))
    wanted += [(f"the {plugin.name} plugin", f"{settings.plugin_host}:{settings.plugin_base_port + index}", "TWINFORGE_PLUGIN_BASE_PORT")
               for index, plugin in enumerate(BUILTIN_PLUGINS)]
    if settings.webapp_enabled:
        wanted.append(("the web app", f"{settings.webapp_host}:{settings.webapp_port}", "TWINFORGE_WEBAPP_PORT"))
    for what, address, setting in wanted:
        try:
            ensure_free(what, address, setting)
        except PortInUse as exc:
            raise click.ClickException(f"{exc.cause}. Nothing was started: {exc.advice}.") from exc


def up(settings: Settings, cpu_workers: int, echo=click.echo) -> None:
    check_ports(settings)
    data = settings.resolved_data_dir
    logs = data / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, TWINFORGE_DATA_DIR=str(data))
    started: list[Child] = []
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        if not settings.redis_url:
            started.append(start_private_redis(settings, logs))
            env["TWINFORGE_REDIS_URL"] = settings.resolved_redis_url
            echo(f"redis     private redis-server on {settings.resolved_redis_url}")
        init_database(settings.resolved_database_url)
        bot_key = local_keys(settings)
        echo(f"database  {settings.resolved_database_url.split('@')[-1]}")
        echo(f"storage   {settings.resolved_storage_url.split('@')[-1]}")
        echo(f"keys      operator key in {settings.operator_key_file} (`twinforge keys ls` lists every key)")
        for child in children(settings, env, logs, cpu_workers, bot_key):
            child.start()
            started.append(child)
            echo(f"{child.name:<16} pid {child.process.pid}, log {child.log_path}")
        webapp = f", web app on http://{settings.webapp_host}:{settings.webapp_port}" if settings.webapp_enabled else ""
        echo(f"Twinforge is up: host on {settings.host_address}{webapp}. `twinforge plugins ls` shows the plugins; Ctrl-C stops everything.")
        while not stopping:
            time.sleep(0.5)
            for child in started:
                if child.alive() or stopping:
                    continue
                if child.restart_at == 0.0:
                    delay = RESTART_DELAYS_S[min(child.restarts, len(RESTART_DELAYS_S) - 1)]
                    child.restart_at = time.monotonic() + delay
                    echo(f"{child.name} exited with code {child.process.returncode}; restarting in {delay} s (log: {child.log_path})")
                elif time.monotonic() >= child.restart_at:
                    child.restarts += 1
                    child.restart_at = 0.0
                    child.start()
                    echo(f"{child.name} restarted, pid {child.process.pid}")
    finally:
        echo("stopping...")
        for child in reversed(started):
            child.stop()
        echo("stopped.")

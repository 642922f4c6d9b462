"""Routing of a stage call to a healthy replica of the right kind, round robin, with a retry on
another replica when the chosen one dies before the run started.

Used by queue workers (synchronous code in a forked work horse): it reads the registry from the
database, and takes turns through a shared counter so that replicas share the load across workers.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc

from host.errors import Unavailable
from host.ports import PEER_CHECKS
from host.registry import description_of
from host.storage import models
from host.storage.models import utcnow
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb
from twinforge.plugin.v1 import plugin_service_pb2_grpc as plugin_grpc

RETRY_BEFORE_START = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


@dataclass
class OpenRun:
    """A Run stream that has started: its first event is already read."""

    plugin: models.Plugin
    channel: grpc.Channel
    call: grpc.Future
    first: plugin_pb.RunResponse

    def events(self) -> Iterator[plugin_pb.RunResponse]:
        yield self.first
        yield from self.call

    def cancel(self) -> None:
        self.call.cancel()

    def close(self) -> None:
        self.channel.close()


def healthy_replicas(stage: str, down_after_s: float) -> list[models.Plugin]:
    fresh_after = utcnow() - dt.timedelta(seconds=down_after_s)
    rows = models.Plugin.select().where(
        (models.Plugin.healthy == True) & (models.Plugin.last_seen >= fresh_after)  # noqa: E712
    )
    return sorted((r for r in rows if stage in description_of(r).stages), key=lambda r: r.id)


def in_turn(replicas: list[models.Plugin], turn: int) -> list[models.Plugin]:
    """The replicas starting from this turn's one: the first is tried, the rest are fallbacks."""
    start = turn % len(replicas)
    return replicas[start:] + replicas[:start]


def open_run(
    request: plugin_pb.RunRequest,
    down_after_s: float,
    next_turn: Callable[[], int],
    max_message_bytes: int = 4 * 1024 * 1024,
    start_timeout_s: float = 30.0,
) -> OpenRun:
    replicas = healthy_replicas(request.stage, down_after_s)
    if not replicas:
        raise Unavailable(
            stage=request.stage,
            code="no_healthy_plugin",
            cause=f"no healthy plugin serves stage {request.stage!r} right now",
            advice="start a plugin that serves it (twinforge up starts the built-in ones); the run will be retried",
        )
    failures = []
    options = [("grpc.max_receive_message_length", max_message_bytes), *PEER_CHECKS]
    for plugin in in_turn(replicas, next_turn()):
        channel = grpc.insecure_channel(plugin.address, options=options)
        call = plugin_grpc.PluginServiceStub(channel).Run(request, wait_for_ready=False)
        # A wedged replica that accepts the call but never starts must not hold the worker forever.
        timer = threading.Timer(start_timeout_s, call.cancel)
        timer.start()
        try:
            first = next(call)
        except StopIteration:
            channel.close()
            failures.append(f"{plugin.name}@{plugin.address}: ended the stream without an event")
            continue
        except grpc.RpcError as exc:
            channel.close()
            timed_out = exc.code() == grpc.StatusCode.CANCELLED and not timer.is_alive()
            if exc.code() not in RETRY_BEFORE_START and not timed_out:
                raise
            reason = f"no first event within {start_timeout_s:.0f} s" if timed_out else exc.code().name
            failures.append(f"{plugin.name}@{plugin.address}: {reason}")
            continue
        finally:
            timer.cancel()
        return OpenRun(plugin=plugin, channel=channel, call=call, first=first)
    raise Unavailable(
        stage=request.stage,
        code="plugins_unreachable",
        cause="every replica failed before the run started (" + "; ".join(failures) + ")",
        advice="check the plugins' processes (twinforge plugins ls); the run will be retried",
    )


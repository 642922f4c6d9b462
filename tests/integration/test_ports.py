"""One owner per port: the host, a plugin and `twinforge up`'s private Redis refuse a port that a
process already listens on, name the port and the process, and share nothing (gRPC's SO_REUSEPORT
is off, so two hosts cannot split one port's clients)."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

import click
import pytest

from host.ports import PortInUse, ensure_free, free_stretch, holder
from host.server import running_host
from host.settings import Settings, get_settings
from host.supervisor import BUILTIN_PLUGINS, check_ports
from plugins.probe.server import Probe
from plugins.sdk.server import running_plugin


@contextlib.contextmanager
def listening(port: int = 0) -> Iterator[int]:
    """A port this process listens on, as any other server would."""
    with socket.socket() as held:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        held.bind(("127.0.0.1", port))
        held.listen()
        yield held.getsockname()[1]


def test_a_port_in_use_is_refused_with_its_holder_and_the_setting_that_moves_it() -> None:
    with listening() as port:
        assert holder(port) is not None and holder(port).startswith(f"pid {os.getpid()} (")
        with pytest.raises(PortInUse) as refused:
            ensure_free("the host", f"127.0.0.1:{port}", "TWINFORGE_HOST_ADDRESS")
    assert refused.value.code == "port_in_use"
    message = str(refused.value)
    assert f"127.0.0.1:{port}" in message and f"held by pid {os.getpid()}" in message and "TWINFORGE_HOST_ADDRESS" in message
    ensure_free("the host", f"127.0.0.1:{port}", "TWINFORGE_HOST_ADDRESS")  # closed: free again
    ensure_free("the host", "127.0.0.1:0", "TWINFORGE_HOST_ADDRESS")  # any free port
    assert holder(port) is None


async def test_a_second_host_on_a_taken_port_refuses_instead_of_sharing_it(host: str, runtime) -> None:
    with pytest.raises(PortInUse, match=f"the host cannot listen on {host}: the port is already in use, held by pid {os.getpid()}"):
        async with running_host(runtime, host):
            pass


async def test_a_plugin_on_a_taken_port_refuses_with_its_name(host: str) -> None:
    async with running_plugin(Probe(), get_settings()) as address:
        port = int(address.rsplit(":", 1)[1])
        with pytest.raises(PortInUse, match=f"the probe plugin cannot listen on 127.0.0.1:{port}.*TWINFORGE_PLUGIN_PORT"):
            async with running_plugin(Probe(), get_settings(), port):
                pass


def test_up_checks_every_port_before_it_starts_anything(tmp_path) -> None:
    base = free_stretch(len(BUILTIN_PLUGINS))
    free = Settings(data_dir=tmp_path, host_address="127.0.0.1:0", private_redis_port=0, plugin_base_port=base, webapp_port=0)
    check_ports(free)
    with listening() as taken:
        for held in (free.model_copy(update={"host_address": f"127.0.0.1:{taken}"}), free.model_copy(update={"private_redis_port": taken}),
                     free.model_copy(update={"webapp_port": taken})):
            with pytest.raises(click.ClickException, match=f"127.0.0.1:{taken}: the port is already in use, held by pid {os.getpid()}.*Nothing was started"):
                check_ports(held)
        check_ports(free.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0", "private_redis_port": taken}))  # no private Redis
        check_ports(free.model_copy(update={"webapp_enabled": False, "webapp_port": taken}))  # no web app
    second = BUILTIN_PLUGINS[1].name
    with listening(base + 1), pytest.raises(click.ClickException, match=f"the {second} plugin cannot listen on 127.0.0.1:{base + 1}"):
        check_ports(free)

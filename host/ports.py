"""One owner per port: every server of the platform (the host, each plugin, the inference service,
the private Redis) refuses a port that something already listens on, and says what holds it.

gRPC turns SO_REUSEPORT on by default: a second `twinforge up` on one machine then listens on the
host's port beside the first, and the kernel splits clients between the two at random ("the API
key is unknown", "no registered plugin serves stage ..."). `GRPC_OPTIONS` turns it off, and
`PortInUse` names the port, the process that holds it when this machine can tell (`ss`, for
sockets of processes this user may see) and the setting that moves it.
"""

from __future__ import annotations

import errno
import re
import shutil
import socket
import subprocess
from pathlib import Path

import grpc

from host.errors import Unavailable

# Pings while a call is open, so that a peer which vanished without closing its connection (its
# machine's network link went down) is noticed within PEER_PING_S + PEER_PING_TIMEOUT_S: TCP alone
# waits about 15 minutes, while a plugin trains for a worker that is gone and another worker
# resumes the same run beside it. Pings go on while no data flows (a run between two reports).
PEER_PING_S = 10
PEER_PING_TIMEOUT_S = 10
PEER_CHECKS = (
    ("grpc.keepalive_time_ms", PEER_PING_S * 1000),
    ("grpc.keepalive_timeout_ms", PEER_PING_TIMEOUT_S * 1000),
    ("grpc.http2.max_pings_without_data", 0),
)
# Every server: one owner per port, its peers checked, and the clients' own pings accepted.
GRPC_OPTIONS = (
    ("grpc.so_reuseport", 0),
    *PEER_CHECKS,
    ("grpc.http2.min_ping_interval_without_data_ms", PEER_PING_S * 1000 // 2),
    ("grpc.http2.max_ping_strikes", 0),
)
_PID = re.compile(r"pid=(\d+)")


class PortInUse(Unavailable):
    """A server's port is held by another process."""


def port_in_use(what: str, address: str, setting: str) -> PortInUse:
    """The error for `what` (e.g. "the host") finding `address` (host:port) taken."""
    port = int(address.rsplit(":", 1)[1])
    held = holder(port)
    by = f", held by {held}" if held else ""
    return PortInUse(
        cause=f"{what} cannot listen on {address}: the port is already in use{by}",
        advice=f"stop that process (is Twinforge already running?), or set {setting} to a free port",
        code="port_in_use",
    )


def ensure_free(what: str, address: str, setting: str) -> None:
    """Raises PortInUse when something listens on `address` (host:port); port 0 is always free.
    Binding is the only honest test: a port that nobody listens on may still be bound."""
    host, port = address.rsplit(":", 1)
    if int(port) == 0:
        return
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free to listen on
        try:
            probe.bind((host.strip("[]"), int(port)))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise port_in_use(what, address, setting) from exc
            raise


def holder(port: int) -> str | None:
    """"pid N (command line)" of the process listening on TCP `port`, or None when this machine
    cannot tell (no `ss` from iproute2, or a socket of a process this user may not see). The
    kernel's socket diagnostics (what `ss` reads) see every socket; /proc/net/tcp, in some
    sandboxes, does not."""
    binary = shutil.which("ss")
    if binary is None:
        return None
    try:
        found = subprocess.run([binary, "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    pids = _PID.findall(found)
    if not pids:
        return None
    try:
        command = Path(f"/proc/{pids[0]}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        command = ""
    return f"pid {pids[0]} ({command[:120]})" if command else f"pid {pids[0]}"


def add_port(server: grpc.aio.Server, address: str, what: str, setting: str, credentials: grpc.ServerCredentials | None = None) -> int:
    """Adds `address` to a gRPC server made with GRPC_OPTIONS and returns the bound port;
    PortInUse when another process listens there."""
    try:
        if credentials is None:
            return server.add_insecure_port(address)
        return server.add_secure_port(address, credentials)
    except RuntimeError:
        ensure_free(what, address, setting)
        raise


def free_stretch(count: int, first: int = 20000, last: int = 32000) -> int:
    """The first of `count` consecutive ports nothing holds, below the kernel's range for outgoing
    connections (32768 and up on Linux), whose ports any client may take at any moment: where a
    benchmark or a test starts `twinforge up` with its plugins on consecutive ports."""
    for base in range(first, last - count, count + 1):
        try:
            for port in range(base, base + count):
                ensure_free("a stretch of ports", f"127.0.0.1:{port}", "-")
        except PortInUse:
            continue
        return base
    raise PortInUse(cause=f"no {count} consecutive free ports between {first} and {last}", advice="stop what holds them", code="port_in_use")

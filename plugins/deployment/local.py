"""The local deploy target (the embedded default): the avatar's image run as a process on this
machine, from the image's own code, models and materials.

The image's app and bundle folders are unpacked from the stored OCI layout (its runtime layer is
this machine's own Python environment, so it is not unpacked) and the inference service is started
from them in its own session, so that it outlives the plugin that started it: a restarted plugin
or host does not take the avatar offline. What was started is recorded beside it (`live.json`);
a redeploy starts the new service, waits until it answers, and only then stops the old one, so the
avatar never stops answering.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from plugins.deployment.errors import DeployError

APP = "opt/twinforge/app"
BUNDLE = "opt/twinforge/bundle"
LIVE = "live.json"
SERVICE_MODULE = "plugins.inference.server"
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 15.0
Progress = Callable[[float, str], None]


def _blob(layout: tarfile.TarFile, digest: str) -> bytes:
    algorithm, value = digest.split(":", 1)
    member = layout.extractfile(f"blobs/{algorithm}/{value}")
    if member is None:
        raise DeployError(f"the image lacks its blob {digest}", "package the avatar again (twinforge deploy AVATAR)")
    return member.read()


def unpack(image_tar: Path, folder: Path) -> str:
    """Unpacks the image's app and bundle files (every layer in order, later ones winning) into
    `folder`; returns the image's manifest digest."""
    try:
        with tarfile.open(image_tar) as layout:
            index = json.loads(_blob_or_file(layout, "index.json"))
            descriptor = index["manifests"][0]
            manifest = json.loads(_blob(layout, descriptor["digest"]))
            for layer in manifest["layers"]:
                data = _blob(layout, layer["digest"])
                if layer["mediaType"].endswith("+gzip"):
                    data = gzip.decompress(data)
                _extract(data, folder)
    except (tarfile.TarError, KeyError, IndexError, json.JSONDecodeError, OSError) as exc:
        raise DeployError(f"the stored image cannot be read as an OCI layout: {exc}", "package the avatar again (twinforge deploy AVATAR)") from exc
    if not (folder / BUNDLE / "bundle.json").is_file():
        raise DeployError("the image holds no avatar bundle", "package the avatar again (twinforge deploy AVATAR)")
    return descriptor["digest"]


def _blob_or_file(layout: tarfile.TarFile, name: str) -> bytes:
    member = layout.extractfile(name)
    if member is None:
        raise KeyError(name)
    return member.read()


def _extract(layer: bytes, folder: Path) -> None:
    """Regular files and folders under the app and the bundle only, each path checked to stay
    inside `folder` (a layer is data, not a place to write anywhere)."""
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        for member in tar.getmembers():
            path = PurePosixPath(member.name.lstrip("./"))
            if ".." in path.parts or not (str(path).startswith(APP + "/") or str(path).startswith(BUNDLE + "/")):
                continue
            target = folder / path
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                with open(target, "wb") as out:
                    shutil.copyfileobj(source, out)


def start(image_tar: Path, root: Path, host: str, progress: Progress) -> dict:
    """Starts the image's service under root/<digest>; returns its endpoint once it answers its
    health check, then stops the service it replaces."""
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f"unpacking-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    progress(0.1, "unpacking the image")
    try:
        digest = unpack(image_tar, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    folder = root / digest.split(":", 1)[1][:16]
    previous = live(root)
    if previous is not None and previous["folder"] == str(folder):
        stop(previous)
        previous = None
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    ready = folder / "ready.json"
    # The image's code first: the service runs what was packaged, not this checkout.
    env = dict(os.environ, PYTHONPATH=str(folder / APP), TWINFORGE_BUNDLE=str(folder / BUNDLE))
    progress(0.3, "starting the inference service")
    with open(folder / "service.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", SERVICE_MODULE, "--bundle", str(folder / BUNDLE), "--host", host,
             "--grpc-port", "0", "--http-port", "0", "--ready-file", str(ready)],
            cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    started = time.monotonic()
    while not ready.is_file():
        if process.poll() is not None:
            tail = (folder / "service.log").read_text(errors="replace")[-1500:]
            raise DeployError(f"the inference service exited with code {process.returncode} while starting:\n{tail}",
                              f"read {folder / 'service.log'}; package the avatar again if its bundle is damaged")
        if time.monotonic() - started > START_TIMEOUT_S:
            stop({"pid": process.pid, "folder": str(folder)})
            raise DeployError(f"the inference service did not answer within {START_TIMEOUT_S:.0f} s",
                              f"read {folder / 'service.log'}; the machine may be overloaded, deploy again later")
        progress(min(0.9, 0.3 + 0.6 * (time.monotonic() - started) / 60), "loading the models")
        time.sleep(0.2)
    listening = json.loads(ready.read_text())
    endpoint = {"target": "local", "grpc_address": listening["grpc"], "http_address": listening["http"], "pid": process.pid,
                "folder": str(folder), "image_digest": digest, "live_sessions": listening.get("live_sessions", 0)}
    (root / LIVE).write_text(json.dumps(endpoint, indent=2))
    if previous is not None:
        progress(0.95, "stopping the previous service")
        stop(previous)
    return endpoint


def live(root: Path) -> dict | None:
    try:
        return json.loads((root / LIVE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _ours(pid: int, folder: str) -> bool:
    """Whether `pid` is still the service started from `folder` (a pid can be reused by the system)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return SERVICE_MODULE.encode() in command and any(folder.encode() in part for part in command)


def _port_free(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, int(port))) != 0


def stop(endpoint: dict) -> None:
    """Stops the service (SIGTERM, then SIGKILL after a grace period), waits until its ports are
    free, and removes its folder."""
    pid, folder = int(endpoint["pid"]), str(endpoint["folder"])
    if _ours(pid, folder):
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _ours(pid, folder) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _ours(pid, folder):
            os.killpg(pid, signal.SIGKILL)
            while _ours(pid, folder):
                time.sleep(0.1)
    for address in (endpoint.get("grpc_address"), endpoint.get("http_address")):
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while address and not _port_free(address) and time.monotonic() < deadline:
            time.sleep(0.1)
    shutil.rmtree(folder, ignore_errors=True)
    root = Path(folder).parent
    current = live(root)
    if current is not None and current.get("folder") == folder:
        (root / LIVE).unlink(missing_ok=True)

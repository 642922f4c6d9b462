"""`twinforge render` against a real host on loopback: an artifact comes down through the host's
DownloadArtifact, checked against its sha256, into a cache that a second render reuses; the
command run end to end on an avatar with no training set says which stage to wait for."""

from __future__ import annotations

import asyncio
import hashlib

import click
import pytest
from click.testing import CliRunner

from host.render_command import download, render_command
from host.settings import get_settings
from host.channels import host_channel, host_channel_aio
from tests.fixtures.media import write_test_video
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb


async def upload(stub, avatar_id: str, data: bytes) -> plugin_pb.ArtifactRef:
    async def parts():
        yield host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=avatar_id, kind="video", filename="v.mp4"))
        yield host_pb.UploadArtifactRequest(chunk=data)

    return (await stub.UploadArtifact(parts())).artifact


def fetch(address: str, ref: plugin_pb.ArtifactRef, cache):
    with host_channel(address, get_settings()) as channel:
        return download(host_grpc.HostServiceStub(channel), ref, cache)


async def test_an_artifact_is_downloaded_once_checked_and_cached(host, tmp_path) -> None:
    data = write_test_video(tmp_path / "v.mp4").read_bytes()
    async with host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Anna", owner="cli:anna"))).avatar
        ref = await upload(stub, avatar.avatar_id, data)
    cache = tmp_path / "cache"
    path = await asyncio.to_thread(fetch, host, ref, cache)
    assert path.read_bytes() == data and path.name.startswith(hashlib.sha256(data).hexdigest())
    assert [p.name for p in cache.iterdir()] == [path.name]  # no spool left behind
    gone = plugin_pb.ArtifactRef(key="avatars/none/uploads/x/video", kind="video", sha256=ref.sha256, name="video")
    assert await asyncio.to_thread(fetch, host, gone, cache) == path  # from the cache: the host is not asked
    wrong = plugin_pb.ArtifactRef(key=ref.key, kind="video", sha256="0" * 64, name="video")
    with pytest.raises(click.ClickException, match="arrived damaged"):
        await asyncio.to_thread(fetch, host, wrong, cache)
    assert [p.name for p in cache.iterdir()] == [path.name]  # the damaged copy is not kept


async def test_an_avatar_without_a_training_set_is_told_to_wait_for_crop(host) -> None:
    async with host_channel_aio(host, get_settings()) as channel:
        stub = host_grpc.HostServiceStub(channel)
        avatar = (await stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Anna", owner="cli:anna"))).avatar
    assert get_settings().host_address == host
    result = await asyncio.to_thread(
        CliRunner().invoke, render_command, [avatar.avatar_id, "--audio", __file__, "-o", "out.mp4"]
    )
    assert result.exit_code == 1
    assert "no training set yet" in result.output and "crop stage" in result.output

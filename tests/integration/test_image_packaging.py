"""The image packaging against real tools: the image is pushed to a real registry
(docker-registry), inspected and copied back with skopeo, unpacked with umoci; its base is an OCI
layout umoci made. The bundle's inputs are small files of the right kinds (packaging never reads
them), and the runtime layer packs two tiny pure-Python distributions so a run takes seconds."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.preprocess import run_stage
from host.settings import get_settings
from host.storage.blobs import blob_key
from host.storage.local import LocalBlobStore
from plugins.image_packaging.layers import default_checkout
from plugins.image_packaging.runtime import cache_key, chosen, pins
from plugins.image_packaging.server import ARTIFACT_NAME, ImagePackaging, repository_for
from plugins.sdk.context import LocalInput
from plugins.sdk.errors import StageFailed
from tests.fixtures.registry import PASSWORD, USER, Registry, free_port, registry, registry_with_login  # noqa: F401 (fixtures)
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

REPOSITORY = "twinforge/bench"  # run_stage packages the avatar "bench"
PACKAGES = ["six", "typing_extensions"]
SOURCE = ("host", "plugins", "scheduler", "proto", "pyproject.toml")
GIT = ["git", "-c", "user.name=Twinforge Tests", "-c", "user.email=tests@twinforge.invalid", "-c", "commit.gpgsign=false"]


@dataclass
class Packaging:
    folder: Path
    blobs: LocalBlobStore
    inputs: list[LocalInput]
    plugin: ImagePackaging
    runs: int = 0

    def run(self, **parameters: object) -> dict:
        """One packaging run; the stored image artifact's metadata (and its file) come back."""
        self.runs += 1
        folder = self.folder / f"run{self.runs}"
        folder.mkdir()
        defaults = {"runtime_packages": PACKAGES, "round": 2, "submission_version": 1, "base": "", "registry": ""}
        parameters = {name: value for name, value in {**defaults, **parameters}.items() if value is not None}
        _, outputs = run_stage(self.plugin, self.inputs, self.blobs, folder, parameters)
        (image,) = [item for item in outputs if item.ref.kind == "image"]
        metadata = json.loads(image.ref.metadata_json)
        return {**metadata, "layers": {layer["name"]: layer["digest"] for layer in metadata["layers"]}, "archive": image.path}

    def stored_key(self) -> str:
        return blob_key("bench", "image_packaging", f"image_packaging-run{self.runs}", ARTIFACT_NAME)


def snapshot_checkout(folder: Path) -> Path:
    """The source tree copied into a git checkout of its own: the image's code layer and revision
    come from it, so edits others make to the working tree meanwhile cannot change the digests."""
    source = default_checkout()
    for name in SOURCE:
        if (source / name).is_dir():
            shutil.copytree(source / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(source / name, folder / name)
    (folder / "plugins" / "__pycache__").mkdir()
    (folder / "plugins" / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"bytecode")
    (folder / "plugins" / "probe" / "tests").mkdir()
    (folder / "plugins" / "probe" / "tests" / "test_probe.py").write_text("")
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    subprocess.run([*GIT, "-C", str(folder), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(folder), "commit", "-q", "-m", "snapshot"], check=True)
    return folder


def small_input(blobs: LocalBlobStore, folder: Path, name: str, kind: str, metadata: dict | None = None) -> LocalInput:
    path = folder / name
    path.write_bytes(f"{kind} {name} ".encode() * 500)
    info = blobs.put_file(blob_key("av1", "inputs", "r1", name), path)
    ref = plugin_pb.ArtifactRef(key=info.key, kind=kind, sha256=info.sha256, size=info.size, name=name, metadata_json=json.dumps(metadata or {}))
    return LocalInput(ref, path)


@pytest.fixture
def packaging(tmp_path: Path) -> Packaging:
    for tool in ("skopeo", "umoci", "git"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed; scripts/setup installs it")
    checkout = snapshot_checkout(tmp_path / "checkout")
    inputs_folder = tmp_path / "inputs"
    inputs_folder.mkdir()
    blobs = LocalBlobStore(tmp_path / "blobs")
    inputs = [
        *(small_input(blobs, inputs_folder, f"{name}.pt", "model", {"submodel": name}) for name in ("syncnet", "audio2lip", "generator", "refiner")),
        small_input(blobs, inputs_folder, "video.mp4", "video"),
        small_input(blobs, inputs_folder, "training_set.zip", "training_set"),
        small_input(blobs, inputs_folder, "materials.json", "materials"),
        small_input(blobs, inputs_folder, "cutout.npz", "cutout"),
    ]
    return Packaging(tmp_path, blobs, inputs, ImagePackaging(checkout))


def tool(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{' '.join(args)} failed: {done.stderr}"
    return done.stdout


def unpacked(layout: str, into: Path) -> Path:
    tool("umoci", "unpack", "--rootless", "--image", layout, str(into))
    return into / "rootfs"


def test_pushed_image_carries_the_bundle_code_and_labels_and_rebuilds_to_the_same_digest(packaging: Packaging, registry: Registry, tmp_path: Path) -> None:
    first = packaging.run(registry=registry.address, measures={"sync_confidence": 7.5})
    assert repository_for("Anna_B2 (test)") == "twinforge/anna-b2-test"
    assert first["pushed"] and first["pushed_reference"] == f"{registry.address}/{REPOSITORY}@{first['digest']}"
    assert list(first["layers"]) == ["runtime", "code", "models", "materials"]

    inspected = json.loads(tool("skopeo", "inspect", "--tls-verify=false", f"docker://{first['pushed_reference']}"))
    assert inspected["Digest"] == first["digest"]
    assert inspected["Layers"] == list(first["layers"].values())
    labels = inspected["Labels"]
    checkout = packaging.plugin.checkout
    assert labels["org.opencontainers.image.revision"] == tool("git", "-C", str(checkout), "rev-parse", "HEAD").strip()
    assert labels["io.twinforge.avatar"] == "bench"
    assert labels["io.twinforge.round"] == "2" and labels["io.twinforge.submission_version"] == "1"
    assert json.loads(labels["io.twinforge.measures"]) == {"sync_confidence": 7.5}
    assert json.loads(labels["io.twinforge.versions"])["image_packaging"] == ImagePackaging.version
    assert labels["io.twinforge.accelerator"] in ("cpu", "cuda")

    tool("skopeo", "copy", "--src-tls-verify=false", f"docker://{first['pushed_reference']}", f"oci:{tmp_path / 'copy'}:round-2")
    root = unpacked(f"{tmp_path / 'copy'}:round-2", tmp_path / "unpacked")
    bundle = json.loads((root / "opt/twinforge/bundle/bundle.json").read_text())
    assert sorted(bundle["models"]) == ["audio2lip", "generator", "refiner"] and bundle["round"] == 2
    for item in packaging.inputs:
        name = item.ref.name
        if name != "syncnet.pt":
            folder = "models" if item.ref.kind == "model" else "materials"
            assert (root / "opt/twinforge/bundle" / folder / name).read_bytes() == item.path.read_bytes()
    assert not (root / "opt/twinforge/bundle/models/syncnet.pt").exists()
    app = root / "opt/twinforge/app"
    assert (app / "plugins/inference/bundle.py").read_bytes() == (checkout / "plugins/inference/bundle.py").read_bytes()
    assert (app / "twinforge/plugin/v1/plugin_service_pb2.py").is_file() and (app / "pyproject.toml").is_file()
    assert not (app / "plugins/__pycache__").exists() and not (app / "plugins/probe/tests").exists()
    assert (root / "opt/twinforge/site-packages/six.py").is_file()
    assert (root / "opt/twinforge/site-packages/typing_extensions.py").is_file()
    config = json.loads((tmp_path / "unpacked/config.json").read_text())
    assert config["process"]["args"] == ["python3", "-m", "plugins.inference.server"]
    assert "PYTHONPATH=/opt/twinforge/app:/opt/twinforge/site-packages" in config["process"]["env"]
    assert config["process"]["cwd"] == "/opt/twinforge/app"

    stored = json.loads(tool("skopeo", "inspect", f"oci-archive:{first['archive']}:round-2"))
    assert stored["Digest"] == first["digest"]

    uploads, checks = registry.requests("PUT", "/blobs/uploads/"), registry.requests("HEAD", "/blobs/sha256:")
    assert uploads == 5  # config and four layers
    second = packaging.run(registry=registry.address, measures={"sync_confidence": 7.5})
    assert second["digest"] == first["digest"] and second["layers"] == first["layers"]
    assert registry.requests("PUT", "/blobs/uploads/") == uploads, "the second push uploaded a blob the registry had"
    assert registry.requests("HEAD", "/blobs/sha256:") == checks + 5
    assert packaging.blobs.exists(cache_key(pins(chosen(PACKAGES))))


def base_layout(folder: Path) -> str:
    """A one-layer base made by umoci, not by the code under test."""
    tool("umoci", "init", "--layout", str(folder))
    tool("umoci", "new", "--image", f"{folder}:tiny")
    marker = folder.parent / "base-marker"
    marker.write_text("from the base\n")
    tool("umoci", "insert", "--rootless", "--image", f"{folder}:tiny", str(marker), "/etc/twinforge-base")
    tool("umoci", "config", "--image", f"{folder}:tiny", "--config.env", "LANG=C.UTF-8")
    return f"{folder}:tiny"


@pytest.mark.parametrize("where", ["layout", "registry"])
def test_base_layers_come_first(packaging: Packaging, registry: Registry, tmp_path: Path, where: str) -> None:
    base = base_layout(tmp_path / "base")
    base_layers = json.loads(tool("skopeo", "inspect", f"oci:{base}"))["Layers"]
    reference = f"oci:{base}"
    if where == "registry":
        reference = f"{registry.address}/bases/tiny:1"
        tool("skopeo", "copy", "--dest-tls-verify=false", f"oci:{base}", f"docker://{reference}")
    image = packaging.run(base=reference)
    assert list(image["layers"])[: len(base_layers) + 1] == [f"base-{index + 1}" for index in range(len(base_layers))] + ["runtime"]
    assert list(image["layers"].values())[: len(base_layers)] == base_layers

    with tarfile.open(image["archive"]) as archive:
        archive.extractall(tmp_path / "stored", filter="data")
    root = unpacked(f"{tmp_path / 'stored'}:round-2", tmp_path / "unpacked")
    assert (root / "etc/twinforge-base").read_text() == "from the base\n"
    assert (root / "opt/twinforge/bundle/bundle.json").is_file()
    env = json.loads((tmp_path / "unpacked/config.json").read_text())["process"]["env"]
    assert "LANG=C.UTF-8" in env and "TWINFORGE_BUNDLE=/opt/twinforge/bundle" in env


@pytest.mark.parametrize("password", [PASSWORD, "wrong"])
def test_registry_login_comes_from_the_settings(packaging: Packaging, registry_with_login: Registry, monkeypatch: pytest.MonkeyPatch, password: str) -> None:
    for name, value in {"registry": registry_with_login.address, "registry_username": USER, "registry_password": password}.items():
        monkeypatch.setenv(f"TWINFORGE_{name.upper()}", value)
    get_settings.cache_clear()
    try:
        if password != PASSWORD:
            with pytest.raises(StageFailed) as failed:
                packaging.run(registry=None)
            assert failed.value.code == "registry_denied" and "TWINFORGE_REGISTRY_PASSWORD" in failed.value.advice
            return
        image = packaging.run(registry=None)
    finally:
        get_settings.cache_clear()
    assert image["pushed_reference"] == f"{registry_with_login.address}/{REPOSITORY}@{image['digest']}"
    inspected = json.loads(tool("skopeo", "inspect", "--tls-verify=false", f"--creds={USER}:{PASSWORD}", f"docker://{image['pushed_reference']}"))
    assert inspected["Digest"] == image["digest"]


def test_unreachable_registry_fails_with_advice_and_keeps_the_image(packaging: Packaging) -> None:
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(StageFailed) as failed:
        packaging.run(registry=address)
    assert failed.value.code == "registry_unreachable"
    assert address in failed.value.message and "TWINFORGE_REGISTRY" in failed.value.advice
    assert packaging.blobs.exists(packaging.stored_key())


@pytest.mark.parametrize("base", ["oci:{tmp}/no-such-layout:tiny", "{registry}/bases/absent:1"])
def test_missing_base_fails_with_advice(packaging: Packaging, registry: Registry, tmp_path: Path, base: str) -> None:
    reference = base.format(tmp=tmp_path, registry=registry.address)
    with pytest.raises(StageFailed) as failed:
        packaging.run(base=reference)
    assert failed.value.code == "base_missing"
    assert reference in failed.value.message and "TWINFORGE_IMAGE_BASE_CPU" in failed.value.advice
    assert not packaging.blobs.exists(packaging.stored_key())

"""`image_packaging`: one avatar's inference service as an OCI image, built without a container
daemon, stored in the data storage as an OCI layout, pushed to the registry (docs/deployment.md).

The layers, in order: the base's, the runtime (Python distributions, built once per environment
and reused), the Twinforge code, the models with bundle.json, the materials. Each changes at its
own pace, so a new round re-sends only the models layer, or the materials layer after an edit.
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from host.settings import Settings, get_settings
from plugins.image_packaging import image
from plugins.image_packaging.base import resolve_base
from plugins.image_packaging.layers import code_entries, default_checkout, material_entries, model_entries
from plugins.image_packaging.oci import CONFIG, MANIFEST, Descriptor, Layer, Layout, tar_folder, write_layer
from plugins.image_packaging.registry import PushResult, RegistryClient, push
from plugins.image_packaging.runtime import RuntimeLayer, runtime_layer
from plugins.inference.bundle import MATERIALS, OPTIONAL_MODELS, REQUIRED_MODELS, Bundle, write_bundle
from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main

ARTIFACT_NAME = "image.oci.tar"
ARTIFACT_KIND = "image"
REPOSITORY_PREFIX = "twinforge"
TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"
# Shares of the progress bar: the runtime layer dominates a first packaging, the push a later one.
BASE_END, RUNTIME_END, LAYERS_END, STORED = 0.05, 0.55, 0.7, 0.75


def repository_for(avatar_id: str) -> str:
    """twinforge/<avatar>, in the characters a registry accepts in a repository name."""
    name = re.sub(r"[^a-z0-9]+", "-", avatar_id.lower()).strip("-") or "avatar"
    return f"{REPOSITORY_PREFIX}/{name}"


def accelerator() -> str:
    """cuda when this machine has a CUDA GPU: the image is for the local environment (torch is
    imported here, not at the top, so the plugin starts without paying for it)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def bundle_inputs(ctx: RunContext) -> tuple[dict[str, Path], dict[str, Path]]:
    """The models by sub-model (syncnet only trains the generator, so it stays out) and the
    materials by kind; the first input of each wins, as with ctx.input."""
    models: dict[str, Path] = {}
    materials: dict[str, Path] = {}
    for item in ctx.inputs:
        if item.ref.kind == "model":
            submodel = json.loads(item.ref.metadata_json or "{}").get("submodel")
            if submodel in REQUIRED_MODELS + OPTIONAL_MODELS:
                models.setdefault(submodel, item.path)
        elif item.ref.kind in MATERIALS:
            materials.setdefault(item.ref.kind, item.path)
    return models, materials


class ImagePackaging(Plugin):
    name = "image_packaging"
    version = "1.0.0"
    stages = ("image_packaging",)
    description = (
        "Builds the avatar's inference service as an OCI image (base, runtime, code, models, materials layers; "
        "reproducible, no container daemon), stores it as an OCI layout and pushes it to the registry."
    )
    cpu_cores = 1.0
    memory_bytes = 1024**3
    parameters_schema = {
        "type": "object",
        "properties": {
            "base": {"type": "string", "description": "oci:/path[:tag] or host:port/repository:tag; empty for no base"},
            "tag": {"type": "string", "pattern": TAG_PATTERN},
            "registry": {"type": "string", "description": "host:port to push to; empty keeps the image in the data storage only"},
            "runtime_packages": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "round": {"type": "integer", "minimum": 0},
            "submission_version": {"type": "integer", "minimum": 1},
            "measures": {"type": "object"},
        },
        "additionalProperties": False,
    }

    def __init__(self, checkout: Path | None = None) -> None:
        """`checkout`: the Twinforge source tree the code layer is made of; the running one by default."""
        self.checkout = checkout or default_checkout()

    def run(self, ctx: RunContext) -> None:
        settings = get_settings()
        parameters = ctx.parameters
        round_ = parameters.get("round")
        tag = parameters.get("tag") or (f"round-{round_}" if round_ is not None else "latest")
        device = accelerator()
        base_reference = parameters.get("base", settings.image_base_cuda if device == "cuda" else settings.image_base_cpu)
        registry = parameters.get("registry", settings.registry)
        repository = repository_for(ctx.avatar_id)
        source = image.source_of(self.checkout)
        models, materials = bundle_inputs(ctx)
        details = {
            "submission_version": parameters.get("submission_version"),
            "round": round_,
            "measures": parameters.get("measures", {}),
            "revision": source.revision,
        }
        bundle = write_bundle(ctx.workdir / "bundle", ctx.avatar_id, models, materials, details)

        ctx.progress(0.0, f"resolving the base image {base_reference or '(none)'}")
        layout = Layout.create(ctx.workdir / "layout")
        machine = image.machine_platform()
        base = resolve_base(
            base_reference, layout, ctx.workdir / "base", machine,
            settings.registry_tls, settings.registry_username, settings.registry_password,
        )
        layers = [(f"base-{index + 1}", Layer(descriptor, diff_id)) for index, (descriptor, diff_id) in enumerate(zip(base.layers, base.diff_ids))] if base else []
        runtime, own = self._build_layers(ctx, layout, bundle)
        layers += own
        labels = image.labels(
            ctx.avatar_id, tag, source, round_, parameters.get("submission_version"), parameters.get("measures", {}),
            {"twinforge": image.twinforge_version(), "python": platform.python_version(), self.name: self.version}, device,
        )
        config = image.config(
            base.config if base else None, [layer.diff_id for _, layer in layers], [name for name, _ in own], labels, source.created
        )
        config_descriptor = layout.add_json(config, CONFIG)
        manifest = layout.add_json(image.manifest(config_descriptor, [layer.descriptor for _, layer in layers], labels), MANIFEST)
        layout.write_index(manifest, tag)
        ctx.progress(LAYERS_END, "writing the image layout")
        archive = ctx.workdir / ARTIFACT_NAME
        tar_folder(layout.root, archive)

        summary: dict[str, Any] = {
            "digest": manifest.digest,
            "reference": f"{repository}:{tag}",
            "pushed_reference": None,
            "layers": [{"name": name, "digest": layer.descriptor.digest, "size": layer.descriptor.size} for name, layer in layers],
            "base": base.describe() if base else None,
            "runtime": {"packages": len(runtime.packages), "reused": runtime.reused},
        }
        ctx.summary = {"image": summary}
        failure: StageFailed | None = None
        if registry:
            try:
                pushed = self._push(ctx, layout, manifest, registry, repository, tag, settings)
                summary["pushed_reference"] = f"{registry}/{repository}@{manifest.digest}"
                summary["push"] = {"uploaded": len(pushed.uploaded), "skipped": len(pushed.skipped), "bytes_sent": pushed.bytes_sent}
            except StageFailed as failed:
                failure = failed
        metadata = {
            "digest": manifest.digest,
            "reference": summary["reference"],
            "pushed": summary["pushed_reference"] is not None,
            "pushed_reference": summary["pushed_reference"],
            "layers": summary["layers"],
        }
        ctx.save_artifact(archive, ARTIFACT_NAME, ARTIFACT_KIND, metadata)
        if failure:
            raise failure
        ctx.progress(1.0, f"image {manifest.digest} stored" + (f" and pushed to {registry}" if registry else ""))

    def _build_layers(self, ctx: RunContext, layout: Layout, bundle: Bundle) -> tuple[RuntimeLayer, list[tuple[str, Layer]]]:
        """The runtime layer (reused when this environment's was built before), then code, models
        and materials, each blob in the layout."""
        ctx.progress(BASE_END, "building the runtime layer (the Python packages)")
        runtime = runtime_layer(
            ctx.blobs, layout, ctx.parameters.get("runtime_packages"), _span(ctx, BASE_END, RUNTIME_END, "runtime layer"), ctx.log
        )
        built = [("runtime", runtime.layer)]
        parts = [
            ("code", code_entries(self.checkout)),
            ("models", model_entries(bundle.root)),
            ("materials", material_entries(bundle.root)),
        ]
        for index, (name, entries) in enumerate(parts):
            ctx.progress(RUNTIME_END + (LAYERS_END - RUNTIME_END) * index / len(parts), f"building the {name} layer")
            scratch = ctx.workdir / f"{name}-layer.tar.gz"
            layer = write_layer(entries, scratch, compressed=True)
            layout.adopt(scratch, layer.descriptor)
            scratch.unlink()
            built.append((name, layer))
        return runtime, built

    def _push(self, ctx: RunContext, layout: Layout, manifest: Descriptor, registry: str, repository: str, tag: str, settings: Settings) -> PushResult:
        document = layout.read_json(manifest)
        total = document["config"]["size"] + sum(item["size"] for item in document["layers"])
        done = 0

        def sent(count: int) -> None:
            nonlocal done
            done += count
            ctx.progress(STORED + (1 - STORED) * done / total, f"pushing to {registry}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")

        client = RegistryClient(registry, settings.registry_tls, settings.registry_username, settings.registry_password)
        ctx.progress(STORED, f"pushing {repository}:{tag} to {registry}")
        return push(client, layout, manifest, repository, tag, sent)


def _span(ctx: RunContext, start: float, end: float, what: str) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        ctx.progress(start + (end - start) * done / max(total, 1), f"{what}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")

    return report


if __name__ == "__main__":
    main(ImagePackaging())

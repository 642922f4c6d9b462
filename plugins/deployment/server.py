"""`deployment`: starts an avatar's packaged image on its target, or stops it (docs/deployment.md).

local: the image's service as a process on this machine (plugins/deployment/local.py), its endpoint
reported to the host. kubernetes: a Deployment, a Service and an autoscaler that run the pushed
image by digest (plugins/deployment/kubernetes.py), applied when a kubeconfig is set, written as
YAML artifacts either way.
"""

from __future__ import annotations

from pathlib import Path

from host.settings import get_settings
from plugins.deployment import kubernetes, local
from plugins.deployment.errors import DeployError
from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main

IMAGE_KIND = "image"
MANIFESTS_KIND = "manifests"


def local_root(avatar_id: str) -> Path:
    return get_settings().resolved_data_dir / "deployments" / avatar_id


class Deployment(Plugin):
    name = "deployment"
    version = "1.0.0"
    stages = ("deployment",)
    description = "Starts an avatar's image as a local service or on Kubernetes, and stops it."
    parameters_schema = {
        "type": "object",
        "properties": {
            "action": {"enum": ["deploy", "undeploy"]},
            "target": {"enum": ["local", "kubernetes"]},
            "packaging_run": {"type": "string"},
            "round": {"type": ["integer", "null"]},
            "image": {"type": "object"},
            "endpoint": {"type": "object"},
            "by": {"type": "string"},
        },
        "required": ["action", "target"],
    }

    def run(self, ctx: RunContext) -> None:
        target, action = ctx.parameters["target"], ctx.parameters["action"]
        try:
            if action == "undeploy":
                self.undeploy(ctx, target)
            elif target == "local":
                self.deploy_local(ctx)
            else:
                self.deploy_kubernetes(ctx)
        except DeployError as exc:
            raise StageFailed(f"{action}_failed", exc.message, exc.advice) from exc
        ctx.progress(1.0, "done")

    def deploy_local(self, ctx: RunContext) -> None:
        image = ctx.parameters.get("image", {})
        endpoint = local.start(ctx.input(IMAGE_KIND), local_root(ctx.avatar_id), get_settings().inference_host,
                               lambda fraction, message: ctx.progress(fraction, message))
        endpoint["image_reference"] = image.get("pushed_reference") or image.get("reference", "")
        ctx.summary = {"endpoint": endpoint}

    def deploy_kubernetes(self, ctx: RunContext) -> None:
        settings = get_settings()
        image = ctx.parameters.get("image", {})
        reference = image.get("pushed_reference")
        if not reference:
            raise DeployError("the image was not pushed to a registry, and a cluster can only pull from one",
                              "set TWINFORGE_REGISTRY to a registry the cluster can reach and deploy again")
        ctx.progress(0.2, "writing the Kubernetes manifests")
        objects = kubernetes.manifests(ctx.avatar_id, reference, settings.kube_namespace, gpu=image.get("accelerator") == "cuda",
                                       live_sessions=settings.live_sessions)
        for manifest in objects:
            kubernetes.validate(manifest)
        folder = ctx.workdir / "manifests"
        for path in kubernetes.write(objects, folder):
            ctx.save_artifact(path, path.name, MANIFESTS_KIND)
        if not settings.kubeconfig:
            ctx.log("no kubeconfig is set: the manifests are stored, not applied (set TWINFORGE_KUBECONFIG to apply them)", "warning")
            ctx.summary = {"manifests": {"target": "kubernetes", "state": "manifests_written", "namespace": settings.kube_namespace,
                                         "files": sorted(path.name for path in folder.iterdir()), "image_reference": reference}}
            return
        ctx.progress(0.6, "applying them to the cluster")
        applied = kubernetes.apply(objects, settings.kubeconfig, settings.kube_namespace, folder)
        ready = kubernetes.rollout(ctx.avatar_id, settings.kubeconfig, settings.kube_namespace, settings.kube_rollout_timeout_s,
                                   lambda fraction, message: ctx.progress(fraction, message))
        name = kubernetes.object_name(ctx.avatar_id)
        ctx.summary = {
            "endpoint": {
                "target": "kubernetes", "grpc_address": f"{name}.{settings.kube_namespace}.svc:{kubernetes.GRPC_PORT}",
                "http_address": f"{name}.{settings.kube_namespace}.svc:{kubernetes.HTTP_PORT}",
                "image_reference": reference, "image_digest": image.get("digest", ""), "namespace": settings.kube_namespace,
                "applied": applied, "replicas": ready["replicas"],
            },
        }

    def undeploy(self, ctx: RunContext, target: str) -> None:
        endpoint = ctx.parameters.get("endpoint", {})
        if target == "local":
            ctx.progress(0.2, "stopping the inference service")
            local.stop(endpoint)
            ctx.summary = {"stopped": {"pid": endpoint.get("pid"), "folder": endpoint.get("folder")}}
            return
        settings = get_settings()
        if not settings.kubeconfig:
            raise DeployError("no kubeconfig is set, so the cluster's objects cannot be deleted from here",
                              "set TWINFORGE_KUBECONFIG, or delete them with kubectl")
        ctx.summary = {"deleted": kubernetes.delete(ctx.avatar_id, settings.kubeconfig, settings.kube_namespace)}


if __name__ == "__main__":
    main(Deployment())

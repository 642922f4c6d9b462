"""The kubernetes deploy target: one avatar's inference service as a Deployment, a Service and a
HorizontalPodAutoscaler, checked against the kubernetes client's typed models before anything is
written or sent, then written as YAML and, when a kubeconfig is set, applied (create, or patch when
the object exists) and followed until the rollout is ready: only then is the avatar live. Without a
kubeconfig the manifests are written and stored, and the deployment says so: it is not live.

The image is always pinned by digest: a tag can be moved to other bytes after approval, a digest
cannot, so what runs is what the person approved. Object names are derived from the avatar id:
stable (a redeploy patches the same objects) and distinct for ids that differ only in characters
DNS names cannot hold (a short hash of the exact id ends every name).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.config import new_client_from_config
from kubernetes.config.config_exception import ConfigException

from plugins.deployment.errors import DeployError

GRPC_PORT = 50070
HTTP_PORT = 8080
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
CPU_TARGET_PERCENT = 70
APP_NAME = "twinforge-avatar"
AVATAR_LABEL = "io.twinforge/avatar"
LIVE_SESSIONS_ANNOTATION = "io.twinforge/live-sessions-per-replica"
NAME_PREFIX = "twinforge-"
# Connect, then read, seconds for each API call: an unreachable cluster is reported in seconds
# instead of hanging the person's deploy button.
REQUEST_TIMEOUT = (3.0, 30.0)
ROLLOUT_POLL_S = 1.0

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
DIGEST_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._:/-]*[a-z0-9]@sha256:[0-9a-f]{64}$")


def object_name(avatar_id: str) -> str:
    """The DNS-1123 label naming every object of this avatar: lower case, at most 63 characters,
    starting with a letter (Services need that), ending with 8 hex of the id's sha256."""
    if not avatar_id:
        raise DeployError("the avatar id is empty", "deploy an existing avatar by its id")
    digest = hashlib.sha256(avatar_id.encode()).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9]+", "-", avatar_id.lower()).strip("-")
    slug = slug[: 63 - len(NAME_PREFIX) - len(digest) - 1].strip("-")
    return f"{NAME_PREFIX}{slug}-{digest}" if slug else f"{NAME_PREFIX}{digest}"


def avatar_label(avatar_id: str) -> str:
    """The avatar id as a label value when it is one (the host's ids, 32 hex, always are); otherwise
    its DNS form. The exact id is also kept in an annotation."""
    return avatar_id if len(avatar_id) <= 63 and LABEL_VALUE.match(avatar_id) else object_name(avatar_id)


def check_image(image: str) -> None:
    if not DIGEST_IMAGE.match(image):
        raise DeployError(
            f"the image {image!r} is not pinned by digest",
            "deploy the image the packaging stage pushed, as registry/repository@sha256:<64 hex>; a tag can change after approval",
        )


def manifests(
    avatar_id: str, image: str, namespace: str, replicas: int = 1, max_replicas: int = 4,
    cpu: str = "2", memory: str = "4Gi", gpu: bool = False, live_sessions: int = 1,
) -> list[dict]:
    """The Deployment, Service and HorizontalPodAutoscaler of one avatar's inference service.
    `live_sessions`: the live conversations one replica holds (TWINFORGE_LIVE_SESSIONS, measured by
    bench.live); each pod refuses the next in words, and the autoscaler carries the figure for
    whoever sizes maxReplicas."""
    check_image(image)
    if not DNS_LABEL.match(namespace) or len(namespace) > 63:
        raise DeployError(f"the namespace {namespace!r} is not a valid Kubernetes name", "use lower-case letters, digits and dashes (TWINFORGE_KUBE_NAMESPACE)")
    if not 1 <= replicas <= max_replicas:
        raise DeployError(f"replicas must be between 1 and max_replicas ({max_replicas}), not {replicas}", "choose at least one replica and a maximum no lower")
    name = object_name(avatar_id)
    selector = {"app.kubernetes.io/name": APP_NAME, "app.kubernetes.io/instance": name}
    labels = selector | {AVATAR_LABEL: avatar_label(avatar_id)}

    def metadata() -> dict:
        return {"name": name, "namespace": namespace, "labels": dict(labels), "annotations": {AVATAR_LABEL: avatar_id}}

    resources = {"cpu": cpu, "memory": memory} | ({"nvidia.com/gpu": "1"} if gpu else {})
    container = {
        "name": "inference",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        # The service listens on loopback by default (one machine); in a pod it must take
        # traffic from the Service.
        "env": [{"name": "TWINFORGE_INFERENCE_HOST", "value": "0.0.0.0"}, {"name": "TWINFORGE_LIVE_SESSIONS", "value": str(live_sessions)}],
        "ports": [
            {"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"},
            {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
        ],
        "resources": {"requests": dict(resources), "limits": dict(resources)},
        # Loading the models takes a while: ready only once they answer; restarted only when
        # health stops answering for a minute.
        "readinessProbe": {"httpGet": {"path": HEALTH_PATH, "port": HTTP_PORT}, "initialDelaySeconds": 5, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": HEALTH_PATH, "port": HTTP_PORT}, "initialDelaySeconds": 60, "periodSeconds": 20, "failureThreshold": 3},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": dict(labels),
                    "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": str(HTTP_PORT), "prometheus.io/path": METRICS_PATH},
                },
                "spec": {"containers": [container]},
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [
                {"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc", "protocol": "TCP"},
                {"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP"},
            ],
        },
    }
    autoscaler = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata() | {"annotations": {AVATAR_LABEL: avatar_id, LIVE_SESSIONS_ANNOTATION: str(live_sessions)}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": replicas,
            "maxReplicas": max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": CPU_TARGET_PERCENT}}}],
        },
    }
    return [deployment, service, autoscaler]


@dataclass(frozen=True)
class Kind:
    api_version: str
    model: type
    create: Callable[[k8s.ApiClient], Callable[..., Any]]
    patch: Callable[[k8s.ApiClient], Callable[..., Any]]
    delete: Callable[[k8s.ApiClient], Callable[..., Any]]


KINDS = {
    "Deployment": Kind(
        "apps/v1", k8s.V1Deployment,
        lambda api: k8s.AppsV1Api(api).create_namespaced_deployment,
        lambda api: k8s.AppsV1Api(api).patch_namespaced_deployment,
        lambda api: k8s.AppsV1Api(api).delete_namespaced_deployment,
    ),
    "Service": Kind(
        "v1", k8s.V1Service,
        lambda api: k8s.CoreV1Api(api).create_namespaced_service,
        lambda api: k8s.CoreV1Api(api).patch_namespaced_service,
        lambda api: k8s.CoreV1Api(api).delete_namespaced_service,
    ),
    "HorizontalPodAutoscaler": Kind(
        "autoscaling/v2", k8s.V2HorizontalPodAutoscaler,
        lambda api: k8s.AutoscalingV2Api(api).create_namespaced_horizontal_pod_autoscaler,
        lambda api: k8s.AutoscalingV2Api(api).patch_namespaced_horizontal_pod_autoscaler,
        lambda api: k8s.AutoscalingV2Api(api).delete_namespaced_horizontal_pod_autoscaler,
    ),
}


def validate(manifest: dict) -> None:
    """Parses the manifest into the client's typed model (strict: a missing required field or a
    value of the wrong type fails), then checks that nothing was dropped on the way (a misspelt
    field), that the name is a DNS-1123 label and that every image is pinned by digest."""
    typed = _typed(manifest)
    title = f"{manifest['kind']} {manifest.get('metadata', {}).get('name', '(unnamed)')}"
    unknown = _first_difference(manifest, k8s.ApiClient().sanitize_for_serialization(typed))
    if unknown is not None:
        raise DeployError(f"{title}: the field {unknown} is not part of a {manifest['kind']}", "fix or remove that field")
    name = typed.metadata.name if typed.metadata else None
    if not name or len(name) > 63 or not DNS_LABEL.match(name):
        raise DeployError(f"{title}: the name must be a DNS-1123 label (lower case, digits and dashes, at most 63)", "derive names with object_name(avatar_id)")
    if manifest["kind"] == "Deployment":
        for container in typed.spec.template.spec.containers:
            check_image(container.image or "")


def _typed(manifest: dict) -> Any:
    kind = KINDS.get(manifest.get("kind", "")) if isinstance(manifest, dict) else None
    if kind is None:
        raise DeployError(f"unsupported manifest kind {manifest.get('kind') if isinstance(manifest, dict) else manifest!r}", f"deploy one of {', '.join(KINDS)}")
    if manifest.get("apiVersion") != kind.api_version:
        raise DeployError(f"a {manifest['kind']} must have apiVersion {kind.api_version}, not {manifest.get('apiVersion')!r}", "fix the apiVersion")
    try:
        return kind.model.from_dict(manifest)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        name = (manifest.get("metadata") or {}).get("name", "(unnamed)")
        raise DeployError(f"{manifest['kind']} {name} is invalid: {exc.title}.{where}: {first['msg']}", "fix that field of the manifest") from exc


def _first_difference(given: Any, parsed: Any, path: str = "") -> str | None:
    """Dotted path of the first field of `given` that did not survive parsing unchanged."""
    if isinstance(given, dict) and isinstance(parsed, dict):
        for key, value in given.items():
            where = f"{path}.{key}" if path else key
            if key not in parsed:
                return where
            found = _first_difference(value, parsed[key], where)
            if found is not None:
                return found
        return None
    if isinstance(given, list) and isinstance(parsed, list) and len(given) == len(parsed):
        for index, (a, b) in enumerate(zip(given, parsed)):
            found = _first_difference(a, b, f"{path}[{index}]")
            if found is not None:
                return found
        return None
    return None if given == parsed else path


def write(manifests: list[dict], folder: Path) -> list[Path]:
    """One YAML file per object, `<kind>-<name>.yaml`, each validated first: the files a person can
    `kubectl apply -f` when the platform has no kubeconfig."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for manifest in manifests:
        validate(manifest)
        path = folder / f"{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
        paths.append(path)
    return paths


def _api(kubeconfig: str, folder: Path | None) -> k8s.ApiClient:
    if not kubeconfig:
        where = f"the manifests were written to {folder}" if folder else "the manifests were not applied"
        raise DeployError(
            f"no kubeconfig is set, so nothing was sent to a cluster; {where}",
            "set TWINFORGE_KUBECONFIG to a kubeconfig file and deploy again"
            + (f", or run `kubectl apply -f {folder}`" if folder else ""),
        )
    if not Path(kubeconfig).is_file():
        raise DeployError(f"the kubeconfig {kubeconfig} does not exist", "point TWINFORGE_KUBECONFIG at a readable kubeconfig file")
    configuration = k8s.Configuration()
    configuration.retries = False
    try:
        return new_client_from_config(config_file=kubeconfig, client_configuration=configuration, persist_config=False)
    except (ConfigException, OSError, ValueError, yaml.YAMLError) as exc:
        raise DeployError(f"the kubeconfig {kubeconfig} cannot be used: {exc}", "check its current context, cluster and user") from exc


def _cluster_error(action: str, exc: Exception, api: k8s.ApiClient) -> DeployError:
    server = api.configuration.host
    if isinstance(exc, ApiException):
        return DeployError(f"the cluster at {server} refused to {action}: {exc.status} {exc.reason}", "check the namespace exists and the kubeconfig's user may manage Deployments, Services and HorizontalPodAutoscalers there")
    return DeployError(f"the cluster at {server} cannot be reached to {action}: {exc}", "check that the cluster is running and TWINFORGE_KUBECONFIG points at it")


def apply(manifests: list[dict], kubeconfig: str, namespace: str, folder: Path | None = None) -> list[str]:
    """Creates each object, or patches it when it already exists (a redeploy of the same avatar).
    `folder`, where the manifests were written, is named in the error when there is no kubeconfig.
    Returns `<kind>/<name> created|updated` per object."""
    for manifest in manifests:
        validate(manifest)
    api = _api(kubeconfig, folder)
    done = []
    with api:
        for manifest in manifests:
            kind, name = KINDS[manifest["kind"]], manifest["metadata"]["name"]
            title = f"{manifest['kind'].lower()}/{name}"
            try:
                try:
                    kind.create(api)(namespace, kind.model.from_dict(manifest), _request_timeout=REQUEST_TIMEOUT)
                    done.append(f"{title} created")
                except ApiException as exc:
                    if exc.status != 409:
                        raise
                    kind.patch(api)(name, namespace, manifest, _request_timeout=REQUEST_TIMEOUT)
                    done.append(f"{title} updated")
            except (ApiException, urllib3.exceptions.HTTPError) as exc:
                raise _cluster_error(f"apply {title}", exc, api) from exc
    return done


def rollout(avatar_id: str, kubeconfig: str, namespace: str, timeout_s: float, progress: Callable[[float, str], None]) -> dict:
    """Waits until the avatar's Deployment has rolled out: the cluster saw its newest spec and every
    replica of it is updated and available (what `kubectl rollout status` waits for). Objects that
    were accepted are not yet a service that answers: the image may not pull, the models may not
    load. Returns the replicas; DeployError after `timeout_s` with what the cluster says."""
    api = _api(kubeconfig, None)
    name = object_name(avatar_id)
    deadline = time.monotonic() + timeout_s
    with api:
        apps = k8s.AppsV1Api(api)
        while True:
            try:
                found = apps.read_namespaced_deployment_status(name, namespace, _request_timeout=REQUEST_TIMEOUT)
            except (ApiException, urllib3.exceptions.HTTPError) as exc:
                raise _cluster_error(f"read the rollout of deployment/{name}", exc, api) from exc
            wanted = found.spec.replicas if found.spec.replicas is not None else 1
            status = found.status
            updated, available = status.updated_replicas or 0, status.available_replicas or 0
            seen = (status.observed_generation or 0) >= (found.metadata.generation or 0)
            if seen and updated >= wanted and available >= wanted:
                return {"replicas": wanted, "available": available}
            progress(min(0.95, 0.7 + 0.25 * available / max(wanted, 1)), f"waiting for the rollout: {available} of {wanted} replicas available")
            if time.monotonic() >= deadline:
                said = "; ".join(f"{c.type} {c.status}: {c.message}" for c in (status.conditions or []) if c.message)
                raise DeployError(
                    f"deployment/{name} in {namespace} did not roll out within {timeout_s:.0f} s: {available} of {wanted} replicas "
                    f"available{f' ({said})' if said else ''}",
                    f"see why with `kubectl -n {namespace} describe deployment {name}` and its pods' events (an image the cluster "
                    "cannot pull, too little CPU or memory), then deploy again; TWINFORGE_KUBE_ROLLOUT_TIMEOUT_S allows a slower start",
                )
            time.sleep(ROLLOUT_POLL_S)


def delete(avatar_id: str, kubeconfig: str, namespace: str) -> list[str]:
    """Undeploy: deletes the avatar's objects; one already gone is not an error. Returns
    `<kind>/<name> deleted|absent` per object."""
    api = _api(kubeconfig, None)
    name = object_name(avatar_id)
    done = []
    with api:
        for kind_name in reversed(KINDS):
            title = f"{kind_name.lower()}/{name}"
            try:
                KINDS[kind_name].delete(api)(name, namespace, _request_timeout=REQUEST_TIMEOUT)
                done.append(f"{title} deleted")
            except ApiException as exc:
                if exc.status != 404:
                    raise _cluster_error(f"delete {title}", exc, api) from exc
                done.append(f"{title} absent")
            except urllib3.exceptions.HTTPError as exc:
                raise _cluster_error(f"delete {title}", exc, api) from exc
    return done

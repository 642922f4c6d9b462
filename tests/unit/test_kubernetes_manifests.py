"""The kubernetes deploy target's manifests, checked by the kubernetes client's own typed models:
what one avatar's Deployment, Service and autoscaler say, the refusals (a tag instead of a digest,
a broken manifest), names for odd avatar ids, the YAML files, and the errors a person sees when no
cluster is configured or the configured one cannot be reached."""

from __future__ import annotations

import copy
import socket
import time
from pathlib import Path

import pytest
import yaml

from plugins.deployment.errors import DeployError
from plugins.deployment.kubernetes import DNS_LABEL, LABEL_VALUE, apply, delete, manifests, object_name, validate, write

AVATAR = "0f3c2a9e5b7d4e1f8a6c3b2d1e0f9a8b"
DIGEST = "sha256:" + "4e" * 32
IMAGE = f"127.0.0.1:5000/twinforge/avatar-{AVATAR}@{DIGEST}"


def by_kind(objects: list[dict]) -> dict[str, dict]:
    return {item["kind"]: item for item in objects}


def container(objects: list[dict]) -> dict:
    (only,) = by_kind(objects)["Deployment"]["spec"]["template"]["spec"]["containers"]
    return only


@pytest.mark.parametrize("gpu", [False, True])
def test_the_manifests_validate_and_fit_together(gpu):
    objects = manifests(AVATAR, IMAGE, "avatars", replicas=2, max_replicas=6, cpu="1500m", memory="3Gi", gpu=gpu, live_sessions=3)
    for item in objects:
        validate(item)
    kinds = by_kind(objects)
    assert list(kinds) == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    deployment, service, autoscaler = kinds.values()
    pod = deployment["spec"]["template"]
    assert {item["metadata"]["namespace"] for item in objects} == {"avatars"}
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert pod["metadata"]["labels"]["io.twinforge/avatar"] == AVATAR
    assert pod["metadata"]["annotations"] == {"prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics"}
    inference = container(objects)
    assert {port["name"]: port["containerPort"] for port in inference["ports"]} == {"grpc": 50070, "http": 8080}
    assert {port["name"]: (port["port"], port["targetPort"]) for port in service["spec"]["ports"]} == {"grpc": (50070, "grpc"), "http": (8080, "http")}
    for probe in ("readinessProbe", "livenessProbe"):
        assert inference[probe]["httpGet"] == {"path": "/healthz", "port": 8080}
    expected = {"cpu": "1500m", "memory": "3Gi"} | ({"nvidia.com/gpu": "1"} if gpu else {})
    assert inference["resources"] == {"requests": expected, "limits": expected}
    spec = autoscaler["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]["name"]}
    assert (spec["minReplicas"], spec["maxReplicas"], deployment["spec"]["replicas"]) == (2, 6, 2)
    assert spec["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    # How many live conversations one replica holds: the pod refuses the next, the autoscaler says the figure.
    assert {"name": "TWINFORGE_LIVE_SESSIONS", "value": "3"} in inference["env"]
    assert autoscaler["metadata"]["annotations"]["io.twinforge/live-sessions-per-replica"] == "3"


def test_the_deployment_runs_the_image_by_its_digest():
    assert container(manifests(AVATAR, IMAGE, "default"))["image"] == IMAGE


@pytest.mark.parametrize(
    "image",
    [
        "127.0.0.1:5000/twinforge/avatar:latest",
        "127.0.0.1:5000/twinforge/avatar",
        "127.0.0.1:5000/twinforge/avatar@sha256:1234",
        f"127.0.0.1:5000/twinforge/avatar@{DIGEST.upper()}",
    ],
)
def test_an_image_not_pinned_by_digest_is_refused(image):
    with pytest.raises(DeployError) as refused:
        manifests(AVATAR, image, "default")
    assert "not pinned by digest" in refused.value.message
    assert "@sha256:" in refused.value.advice


def test_a_hand_edited_tag_is_refused_by_validate():
    deployment = by_kind(manifests(AVATAR, IMAGE, "default"))["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "127.0.0.1:5000/twinforge/avatar:v2"
    with pytest.raises(DeployError, match="not pinned by digest"):
        validate(deployment)


def broken(change) -> dict:
    deployment = copy.deepcopy(by_kind(manifests(AVATAR, IMAGE, "default"))["Deployment"])
    change(deployment)
    return deployment


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d["spec"]["template"]["spec"]["containers"][0].pop("name"), "V1Container.name"),
        (lambda d: d["spec"].update(replicas="2"), "V1DeploymentSpec.replicas"),
        (lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(containerPort="grpc"), "containerPort"),
        (lambda d: d["spec"].pop("selector"), "selector"),
        (lambda d: d["spec"].update(replica=2), "the field spec.replica is not part of a Deployment"),
        (lambda d: d["metadata"].update(name="Ted's avatar"), "DNS-1123"),
        (lambda d: d.update(apiVersion="extensions/v1beta1"), "apiVersion apps/v1"),
        (lambda d: d.update(kind="StatefulSet"), "unsupported manifest kind"),
    ],
)
def test_a_broken_manifest_fails_validation_naming_the_field(change, words):
    with pytest.raises(DeployError) as refused:
        validate(broken(change))
    assert words in refused.value.message


@pytest.mark.parametrize("avatar_id", ["Ted's Avatar_01!", "!!!", "-Ted-", "Тед", "x" * 300, "a_b", "a-b", "UPPER.case.ID"])
def test_odd_avatar_ids_give_stable_dns_names_and_valid_labels(avatar_id):
    name = object_name(avatar_id)
    assert DNS_LABEL.match(name) and len(name) <= 63 and name[0].isalpha()
    assert object_name(avatar_id) == name
    objects = manifests(avatar_id, IMAGE, "default")
    for item in objects:
        validate(item)
        labels = item["metadata"]["labels"]
        assert item["metadata"]["name"] == labels["app.kubernetes.io/instance"] == name
        assert all(len(value) <= 63 and LABEL_VALUE.match(value) for value in labels.values())
        assert item["metadata"]["annotations"]["io.twinforge/avatar"] == avatar_id


def test_ids_that_differ_only_in_dropped_characters_get_different_names():
    names = {object_name(avatar_id) for avatar_id in ("a_b", "a-b", "A-B", "a b")}
    assert len(names) == 4


def test_an_empty_avatar_id_is_refused():
    with pytest.raises(DeployError, match="avatar id is empty"):
        manifests("", IMAGE, "default")


def test_written_yaml_reads_back_as_the_manifests(tmp_path):
    objects = manifests(AVATAR, IMAGE, "default", gpu=True)
    paths = write(objects, tmp_path / "k8s")
    name = object_name(AVATAR)
    assert [path.name for path in paths] == [f"deployment-{name}.yaml", f"service-{name}.yaml", f"horizontalpodautoscaler-{name}.yaml"]
    assert [yaml.safe_load(path.read_text()) for path in paths] == objects
    assert all("&id" not in path.read_text() for path in paths)


def test_apply_without_a_kubeconfig_says_where_the_manifests_are(tmp_path):
    folder = tmp_path / "k8s"
    write(manifests(AVATAR, IMAGE, "default"), folder)
    with pytest.raises(DeployError) as refused:
        apply(manifests(AVATAR, IMAGE, "default"), "", "default", folder)
    assert str(folder) in refused.value.message
    assert "TWINFORGE_KUBECONFIG" in refused.value.advice and f"kubectl apply -f {folder}" in refused.value.advice


def test_a_missing_kubeconfig_file_is_named(tmp_path):
    with pytest.raises(DeployError, match="does not exist"):
        apply(manifests(AVATAR, IMAGE, "default"), str(tmp_path / "nowhere.yaml"), "default")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kubeconfig_for(server: str, folder: Path) -> str:
    path = folder / "kubeconfig.yaml"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "gone", "cluster": {"server": server}}],
        "users": [{"name": "ops", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "ops", "namespace": "default"}}],
        "current-context": "gone",
    }))
    return str(path)


def test_an_unreachable_cluster_fails_fast_with_a_readable_error(tmp_path):
    server = f"https://127.0.0.1:{closed_port()}"
    kubeconfig = kubeconfig_for(server, tmp_path)
    started = time.monotonic()
    with pytest.raises(DeployError) as refused:
        apply(manifests(AVATAR, IMAGE, "default"), kubeconfig, "default")
    assert time.monotonic() - started < 5
    assert f"the cluster at {server} cannot be reached" in refused.value.message
    assert "TWINFORGE_KUBECONFIG" in refused.value.advice
    with pytest.raises(DeployError, match="cannot be reached to delete"):
        delete(AVATAR, kubeconfig, "default")


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"namespace": "Avatars"}, "not a valid Kubernetes name"),
        ({"replicas": 0}, "replicas must be between 1"),
        ({"replicas": 5, "max_replicas": 4}, "replicas must be between 1"),
    ],
)
def test_impossible_options_are_refused(options, words):
    with pytest.raises(DeployError, match=words):
        manifests(AVATAR, IMAGE, **({"namespace": "default"} | options))

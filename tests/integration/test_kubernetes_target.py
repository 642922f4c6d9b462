"""The kubernetes deploy target through the deployment stage, with the real `kubernetes` client
against a local HTTP stand-in of the API server (tests/fixtures/kube_api.py: no real API server can
run here). Live means rolled out: objects created (or patched on a redeploy), then the rollout
followed until every replica is available; a rollout that never becomes ready fails with what the
cluster says; without a kubeconfig the manifests are written and the avatar is not live; undeploy
deletes the objects, and a second one finds them absent."""

from __future__ import annotations

import pytest

from host.settings import get_settings
from host.storage.local import LocalBlobStore
from plugins.deployment.kubernetes import object_name
from plugins.deployment.server import Deployment
from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed
from tests.fixtures.kube_api import FakeCluster, KubeApi

AVATAR = "0123456789abcdef0123456789abcdef"
IMAGE = {"pushed_reference": "registry.example:5000/twinforge/avatar@sha256:" + "a" * 64, "digest": "sha256:" + "a" * 64}
NAMESPACE = "avatars"


def run(tmp_path, action: str, **parameters) -> dict:
    """The deployment stage's summary."""
    folder = tmp_path / f"{action}-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    ctx = RunContext(
        avatar_id=AVATAR, stage="deployment", run_id=folder.name, attempt=1, workdir=folder,
        parameters={"action": action, "target": "kubernetes", **parameters}, inputs=[], resume_checkpoint=None,
        blobs=LocalBlobStore(tmp_path / "blobs"), emit=lambda event: None,
    )
    Deployment().run(ctx)
    return ctx.summary


@pytest.fixture
def cluster_settings(tmp_path, monkeypatch):
    def configure(kubeconfig: str = "", timeout_s: float = 30.0) -> None:
        monkeypatch.setenv("TWINFORGE_KUBECONFIG", kubeconfig)
        monkeypatch.setenv("TWINFORGE_KUBE_NAMESPACE", NAMESPACE)
        monkeypatch.setenv("TWINFORGE_KUBE_ROLLOUT_TIMEOUT_S", str(timeout_s))
        get_settings.cache_clear()

    yield configure
    get_settings.cache_clear()


def test_a_deploy_is_live_only_once_rolled_out_and_a_redeploy_patches(tmp_path, cluster_settings):
    with KubeApi(tmp_path, FakeCluster(ready_after=1)) as api:
        cluster_settings(str(api.kubeconfig))
        summary = run(tmp_path, "deploy", image=IMAGE)
        name = object_name(AVATAR)
        assert summary["endpoint"]["grpc_address"] == f"{name}.{NAMESPACE}.svc:50070" and summary["endpoint"]["replicas"] == 1
        assert summary["endpoint"]["applied"] == [f"deployment/{name} created", f"service/{name} created", f"horizontalpodautoscaler/{name} created"]
        status = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}/status"
        assert [method for method, path in api.cluster.requests if path == status] == ["GET", "GET"]  # not ready, then ready
        assert [method for method, _ in api.cluster.requests[:3]] == ["POST", "POST", "POST"]

        again = run(tmp_path, "deploy", image=IMAGE)
        assert again["endpoint"]["applied"] == [f"deployment/{name} updated", f"service/{name} updated", f"horizontalpodautoscaler/{name} updated"]
        assert ("PATCH", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}") in api.cluster.requests

        gone = run(tmp_path, "undeploy", endpoint=summary["endpoint"])
        assert gone["deleted"] == [f"horizontalpodautoscaler/{name} deleted", f"service/{name} deleted", f"deployment/{name} deleted"]
        assert not api.cluster.objects
        absent = run(tmp_path, "undeploy", endpoint=summary["endpoint"])
        assert absent["deleted"] == [f"horizontalpodautoscaler/{name} absent", f"service/{name} absent", f"deployment/{name} absent"]


def test_a_rollout_that_never_becomes_ready_fails_with_what_the_cluster_says(tmp_path, cluster_settings):
    with KubeApi(tmp_path, FakeCluster(ready_after=None)) as api:
        cluster_settings(str(api.kubeconfig), timeout_s=1.5)
        with pytest.raises(StageFailed) as failed:
            run(tmp_path, "deploy", image=IMAGE)
    name = object_name(AVATAR)
    assert failed.value.code == "deploy_failed"
    assert f"deployment/{name} in {NAMESPACE} did not roll out within 2 s: 0 of 1 replicas available" in failed.value.message
    assert "Deployment does not have minimum availability" in failed.value.message
    assert f"kubectl -n {NAMESPACE} describe deployment {name}" in failed.value.advice


def test_without_a_kubeconfig_the_manifests_are_written_and_nothing_is_live(tmp_path, cluster_settings):
    cluster_settings("")
    summary = run(tmp_path, "deploy", image=IMAGE)
    assert "endpoint" not in summary
    name = object_name(AVATAR)
    assert summary["manifests"]["state"] == "manifests_written"
    assert summary["manifests"]["files"] == sorted(f"{kind}-{name}.yaml" for kind in ("deployment", "service", "horizontalpodautoscaler"))

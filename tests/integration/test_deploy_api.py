"""Deployment through the host (host/deployments.py): only an approved avatar is packaged, a built
image is followed by exactly one deployment run, and the endpoint is what the newest deployment
reported until an undeploy. The stage runs go through the host's own handlers on the real
database; the plugins' work is covered by tests/integration/test_deployment.py."""

from __future__ import annotations

import asyncio
import json

import grpc
from click.testing import CliRunner

from host import deployments, run_finished, use_cases
from host.cli import main as cli
from tests.integration.test_host_contract import new_avatar, rejected, stub  # noqa: F401 (stub is a fixture)
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

KNOWN = {deployments.PACKAGING, deployments.DEPLOYMENT}


async def test_an_avatar_nobody_approved_cannot_be_deployed(stub):
    avatar = await new_avatar(stub)
    refused = await rejected(stub.Deploy(host_pb.DeployRequest(avatar_id=avatar, target="local", by="cli:anna")), grpc.StatusCode.FAILED_PRECONDITION)
    assert "cannot be deployed" in refused.details() and "no evaluation yet" in refused.details()
    assert "approve" in dict(refused.trailing_metadata())["twinforge-advice"]
    await rejected(stub.Deploy(host_pb.DeployRequest(avatar_id=avatar, target="mars")), grpc.StatusCode.INVALID_ARGUMENT)
    found = await stub.GetEndpoint(host_pb.GetEndpointRequest(avatar_id=avatar))
    assert not found.HasField("endpoint") and found.reason == "it was never deployed"
    await rejected(stub.Undeploy(host_pb.UndeployRequest(avatar_id=avatar)), grpc.StatusCode.NOT_FOUND)


async def test_the_deploy_command_says_why_it_is_refused_and_what_to_do(stub):
    avatar = await new_avatar(stub)
    result = await _invoke(["deploy", avatar])
    assert result.exit_code == 1 and "cannot be deployed" in result.output and "twinforge avatar approve" in result.output


async def _invoke(args: list[str]):
    return await asyncio.to_thread(CliRunner().invoke, cli, args)


def finished(runtime, run: "use_cases.models.StageRun", summary: dict, outputs: list[plugin_pb.ArtifactRef] = ()) -> None:
    with runtime.uow() as uow:
        use_cases.start_run(uow, run.id)
        for ref in outputs:
            use_cases.record_artifact(uow, use_cases.get_run(run.id), ref)
        run_finished.finish_run(uow, run.id, plugin_pb.Result(status=plugin_pb.RESULT_STATUS_SUCCEEDED, outputs=outputs, summary_json=json.dumps(summary)))


async def test_a_built_image_is_deployed_once_and_its_endpoint_lasts_until_undeploy(stub, runtime):
    avatar = await new_avatar(stub)
    with runtime.uow() as uow:
        packaging = use_cases.submit_stage(uow, avatar, deployments.PACKAGING, [], {"round": 1}, KNOWN, 1)
        uow.notify(avatar, deployments.DEPLOY_REQUESTED, {"by": "cli:anna", "target": "local", "round": 1}, run_id=packaging.id, stage=deployments.PACKAGING)
    image = plugin_pb.ArtifactRef(key=f"avatars/{avatar}/image_packaging/{packaging.id}/image.oci.tar", kind="image", name="image.oci.tar", sha256="0" * 64, size=1)
    finished(runtime, packaging, {"image": {"digest": "sha256:" + "1" * 64, "pushed_reference": ""}}, [image])
    with runtime.uow() as uow:
        (started,) = deployments.after_packaging(uow, packaging.id, KNOWN)
        assert deployments.after_packaging(uow, packaging.id, KNOWN) == []  # a replayed notification starts nothing
    assert json.loads(started.parameters_json)["target"] == "local" and json.loads(started.inputs_json)[0]["kind"] == "image"
    live = {"target": "local", "grpc_address": "127.0.0.1:50999", "http_address": "127.0.0.1:50998", "image_digest": "sha256:" + "1" * 64}
    finished(runtime, started, {"endpoint": live})
    found = await stub.GetEndpoint(host_pb.GetEndpointRequest(avatar_id=avatar))
    assert found.endpoint.grpc_address == "127.0.0.1:50999" and found.endpoint.run_id == started.id
    with runtime.uow() as uow:
        stop = deployments.undeploy(uow, avatar, "cli:anna", KNOWN)
    assert json.loads(stop.parameters_json)["endpoint"]["grpc_address"] == "127.0.0.1:50999"
    finished(runtime, stop, {"stopped": {}})
    gone = await stub.GetEndpoint(host_pb.GetEndpointRequest(avatar_id=avatar))
    assert not gone.HasField("endpoint") and gone.reason.startswith("it was undeployed")
    kinds = [row.kind for row in use_cases.models.Notification.select().where(use_cases.models.Notification.avatar == avatar)]
    assert kinds.index(deployments.DEPLOYED) < kinds.index(deployments.UNDEPLOYED)


async def test_manifests_written_without_a_cluster_are_not_a_live_avatar(stub, runtime):
    avatar = await new_avatar(stub)
    with runtime.uow() as uow:
        run = use_cases.submit_stage(uow, avatar, deployments.DEPLOYMENT, [], {"action": "deploy", "target": "kubernetes"}, KNOWN, 1)
    written = {"target": "kubernetes", "state": "manifests_written", "namespace": "default", "files": ["deployment-x.yaml"]}
    finished(runtime, run, {"manifests": written})
    found = await stub.GetEndpoint(host_pb.GetEndpointRequest(avatar_id=avatar))
    assert not found.HasField("endpoint")
    assert f"its Kubernetes manifests were written (run {run.id}) but not applied: no kubeconfig was set" in found.reason
    kinds = [row.kind for row in use_cases.models.Notification.select().where(use_cases.models.Notification.avatar == avatar)]
    assert deployments.MANIFESTS_WRITTEN in kinds and deployments.DEPLOYED not in kinds
    await rejected(stub.Undeploy(host_pb.UndeployRequest(avatar_id=avatar)), grpc.StatusCode.NOT_FOUND)

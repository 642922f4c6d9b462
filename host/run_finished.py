"""A run's end and the reactions that belong in the same transaction as it: a succeeded evaluation
opens a round (host/approval.py), a succeeded deployment tells the person the avatar is live
(host/deployments.py). Starting the next stages follows the notification instead (host/reactor.py),
so a host that was down when the run ended still starts them."""

from __future__ import annotations

from host import approval, deployments, use_cases
from host.storage import models
from host.unit_of_work import UnitOfWork
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb


def finish_run(uow: UnitOfWork, run_id: str, result: plugin_pb.Result) -> models.StageRun:
    run = use_cases.record_result(uow, run_id, result)
    approval.evaluation_finished(uow, run)
    deployments.deployment_finished(uow, run)
    return run

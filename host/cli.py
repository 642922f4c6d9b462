"""The `twinforge` command: `up` for the whole platform, `plugins ls`, `watch`, `worker`, `check` (the
intake check of a video file, in-process), `model` (accept, reject, retrain sub-models), `render`
(an avatar speaking new audio, in-process), `evaluate` (the quality measures of any video),
`materials` (versions, edits and undo of the cut-out, through the host), `avatar` (approve,
reject, rounds, delete, through the host), `tasks` (the operator's answers to people's words, through the host), `deploy` and `undeploy` (through the host), `produce` (the whole flow, through the host) and the queue
administration mounted from the scheduler, and `keys` (API keys of the host's clients)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import grpc
import peewee
import redis

from host import auth, registry, retraining, use_cases
from host.bootstrap import bootstrap
from host.cli_client import EXIT_UNAVAILABLE, default_by, host_call, host_stub, rpc_failed
from host.deploy_command import deploy_command, undeploy_command
from host.errors import TwinforgeError, Unavailable
from host.evaluate_command import evaluate_command
from host.produce_command import produce_command
from host.logs import configure_logging
from host.render_command import render_command
from host.settings import get_settings
from host.storage.db import init_database
from host.presets import PRESETS_ORDER
from scheduler.cli import queue
from twinforge.host.v1 import host_service_pb2 as host_pb

DELETE_WAIT_S = 60.0  # how long `avatar delete --cancel` waits for running stages to stop


@click.group()
def main() -> None:
    """Twinforge: personal 2D digital humans."""
    configure_logging(get_settings().log_level)


@main.command()
@click.option("--cpu-workers", default=1, show_default=True, help="Queue workers to start on the CPU.")
def up(cpu_workers: int) -> None:
    """Start the host, the built-in plugins and the queue workers on embedded defaults."""
    from host.supervisor import up as run_up

    run_up(get_settings(), cpu_workers)


@main.group()
def plugins() -> None:
    """Registered plugins."""


@plugins.command("ls")
@click.option("--stage", default="", help="Only plugins serving this stage.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_ls(stage: str, as_json: bool) -> None:
    """List registered plugins with their health."""
    channel, stub = host_stub()
    try:
        reply = stub.ListPlugins(host_pb.ListPluginsRequest(stage=stage), timeout=10)
    except grpc.RpcError as exc:
        raise rpc_failed(exc) from None
    finally:
        channel.close()
    rows = [
        {
            "name": p.description.name,
            "version": p.description.version,
            "stages": list(p.description.stages),
            "address": p.address,
            "health": host_pb.PluginHealth.Name(p.health).removeprefix("PLUGIN_HEALTH_").lower(),
            "last_seen": p.last_seen.ToJsonString(),
            "error": p.last_error,
        }
        for p in reply.plugins
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no plugins registered")
        return
    click.echo(f"{'NAME':<20} {'VERSION':<9} {'HEALTH':<8} {'ADDRESS':<22} STAGES")
    for r in rows:
        line = f"{r['name']:<20} {r['version']:<9} {r['health']:<8} {r['address']:<22} {','.join(r['stages'])}"
        click.echo(line + (f"  ({r['error']})" if r["error"] else ""))


@main.command()
@click.argument("avatar_id")
@click.option("--after", default=0, show_default=True, help="Replay notifications after this sequence number.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def watch(avatar_id: str, after: int, as_json: bool) -> None:
    """Print an avatar's notifications live (replaying from --after)."""
    channel, stub = host_stub()
    try:
        for reply in stub.WatchNotifications(host_pb.WatchNotificationsRequest(avatar_id=avatar_id, after_seq=after)):
            n = reply.notification
            if as_json:
                click.echo(json.dumps({"seq": n.seq, "kind": n.kind, "stage": n.stage, "run_id": n.run_id, "time": n.created_at.ToJsonString(), "payload": json.loads(n.payload_json)}))
            else:
                click.echo(f"{n.seq:>6} {n.created_at.ToJsonString()} {n.kind:<22} {n.stage:<16} {n.payload_json}")
            sys.stdout.flush()
    except grpc.RpcError as exc:
        raise rpc_failed(exc) from None
    except KeyboardInterrupt:
        pass
    finally:
        channel.close()


@main.command()
@click.option("--gpu", "gpu", type=int, default=None, help="Serve the GPU queues on this GPU index.")
@click.option("--cpu", "cpu", type=int, default=None, help="Start this many CPU workers.")
@click.option("--cpu-slot", type=int, default=None, hidden=True)
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
def worker(gpu: int | None, cpu: int | None, cpu_slot: int | None, burst: bool) -> None:
    """Run queue workers: --gpu N for one GPU, or --cpu N for N CPU workers."""
    from scheduler.queues import Resource
    from scheduler.worker import run_worker, run_workers

    settings = get_settings()
    if gpu is not None:
        run_worker(settings, Resource.GPU, gpu, burst)
    elif cpu_slot is not None:
        run_worker(settings, Resource.CPU, cpu_slot, burst)
    else:
        run_workers(settings, cpu or 1, burst)


@main.command()
@click.argument("video", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--preset", type=click.Choice(PRESETS_ORDER), default=None, help="Thresholds to apply (default: the intake_preset setting).")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@click.option("--lang", "language", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="The language of the report's words (zh: Simplified Chinese).")
def check(video: Path, preset: str | None, as_json: bool, language: str) -> None:
    """Check a video the way the intake stage does, in this process (no host needed).

    Exit code 0: it passes; 1: it fails a measure; 2: the file cannot be read as a video."""
    from plugins.video_analysis.check import UNREADABLE, check_video
    from plugins.video_analysis.words import heading, measure_name, value_text

    settings = get_settings()
    report = check_video(video, preset or settings.intake_preset, settings.max_video_bytes, language=language)
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    elif language == "en":  # the measures' ids, which operators' scripts read
        click.echo(f"{video}: {report['verdict'].upper()} ({report['preset']} preset)")
        click.echo(f"{'MEASURE':<22} {'VALUE':<20} {'STATUS':<8} ADVICE")
        for row in report["measures"]:
            value = f"{row['value']}{' ' + row['unit'] if row['unit'] else ''}"
            click.echo(f"{row['name']:<22} {value:<20} {row['status']:<8} {row['advice']}".rstrip())
    else:
        click.echo(f"{video}: {heading('preset', language, verdict=heading(report['verdict'], language), preset=report['preset'])}")
        click.echo(f"{heading('measure', language)}\t{heading('value', language)}\t{heading('status', language)}\t{heading('advice', language)}")
        for row in report["measures"]:
            status = heading(f"status_{row['status']}", language)
            click.echo(f"{measure_name(row['name'], language)}\t{value_text(row, language)}\t{status}\t{row['advice']}".rstrip())
    if any(row["name"] == UNREADABLE and row["status"] == "fail" for row in report["measures"]):
        sys.exit(2)
    sys.exit(0 if report["verdict"] == "pass" else 1)


@main.group()
def model() -> None:
    """Review trained sub-models: accept or reject each, retrain what depends on an accepted one.

    Exit codes: 0 done, 1 the request cannot be done (no such run, not accepted), 3 the database
    or Redis is unavailable."""


def _model_change(change):
    """Runs one change in a unit of work on the platform's database (as `twinforge queue` does),
    enqueues the runs it submitted after the commit, and turns errors into advice."""
    try:
        runtime = bootstrap(run_migrations=False)
        with runtime.uow() as uow:
            result = change(runtime, uow)
        runtime.dispatch(result if isinstance(result, list) else [])
        return result
    except Unavailable as exc:
        raise _exit(str(exc), EXIT_UNAVAILABLE) from None
    except TwinforgeError as exc:
        raise _exit(str(exc), 1) from None
    except (peewee.DatabaseError, redis.RedisError) as exc:
        raise _exit(f"[model] the database or Redis is unavailable: {exc} — start the platform (`twinforge up`) or set TWINFORGE_DATA_DIR / TWINFORGE_DATABASE_URL / TWINFORGE_REDIS_URL to its own", EXIT_UNAVAILABLE) from None


def _exit(message: str, code: int) -> click.ClickException:
    error = click.ClickException(message)
    error.exit_code = code
    return error


@model.command("accept")
@click.argument("avatar_id")
@click.argument("submodel")
def model_accept(avatar_id: str, submodel: str) -> None:
    """Accept the newest trained run of SUBMODEL for the avatar's latest video."""
    run = _model_change(lambda runtime, uow: retraining.accept(uow, avatar_id, submodel, runtime.flow))
    click.echo(f"accepted {submodel} (run {run.id})")


@model.command("reject")
@click.argument("avatar_id")
@click.argument("submodel")
@click.option("--reason", required=True, help="What is wrong with it; kept in the avatar's history.")
def model_reject(avatar_id: str, submodel: str, reason: str) -> None:
    """Reject the newest trained run of SUBMODEL, with the reason."""
    run = _model_change(lambda runtime, uow: retraining.reject(uow, avatar_id, submodel, reason, runtime.flow))
    click.echo(f"rejected {submodel} (run {run.id}): {reason}")


@model.command("retrain")
@click.argument("avatar_id")
@click.option("--from", "submodel", required=True, help="The accepted sub-model to retrain from.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def model_retrain(avatar_id: str, submodel: str, as_json: bool) -> None:
    """Rerun every sub-model that depends on the accepted SUBMODEL (and nothing else), as a new
    generation of the avatar's latest video."""
    runs = _model_change(lambda runtime, uow: retraining.retrain(uow, avatar_id, submodel, runtime.flow, registry.known_stages()))
    rows = [{"stage": r.stage, "run_id": r.id, "generation": use_cases.run_generation(r)} for r in runs]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"generation {row['generation']}: started {row['stage']} (run {row['run_id']}); the stages after it follow")


@main.group()
def materials() -> None:
    """The versions of an avatar's cut-out and materials: list them, edit the current one, go back.

    Each edit or going back starts a run that makes the next version; follow it with `twinforge
    watch AVATAR`. Exit codes: 0 done, 1 the host refused the request, 3 the host is unreachable."""


def _argument(pair: str) -> tuple[str, object]:
    """k=v with v read as JSON when it is JSON (numbers, lists, true), else kept as text."""
    key, sep, text = pair.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{pair!r} is not KEY=VALUE, e.g. tolerance=30 or colours=[[0,255,0]]", param_hint="--param")
    try:
        return key, json.loads(text)
    except json.JSONDecodeError:
        return key, text


@materials.command("versions")
@click.argument("avatar_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def materials_versions(avatar_id: str, as_json: bool) -> None:
    """List the avatar's material versions, oldest first, with who made each and how (* = current)."""
    reply = host_call("ListMaterialVersions", host_pb.ListMaterialVersionsRequest(avatar_id=avatar_id))
    rows = [
        {
            "version": v.version, "current": v.current, "by": v.edit.by, "operation": v.edit.operation,
            "parameters": json.loads(v.edit.parameters_json or "{}"), "based_on": v.edit.based_on, "words": v.edit.words,
            "run_id": v.run_id, "stage": v.stage, "created_at": v.created_at.ToJsonString(), "files": {f.kind: f.key for f in v.files},
        }
        for v in reply.versions
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"avatar {avatar_id} has no cut-out yet: its materials have no version to edit")
        return
    click.echo(f"{'VERSION':<8} {'BY':<18} {'OPERATION':<14} {'CREATED':<22} WHAT")
    for r in rows:
        number = f"{r['version']}{' *' if r['current'] else ''}"
        click.echo(f"{number:<8} {r['by']:<18} {r['operation']:<14} {r['created_at'][:19]:<22} {r['words'] or (json.dumps(r['parameters']) if r['parameters'] else '')}".rstrip())


@materials.command("edit")
@click.argument("avatar_id")
@click.argument("operation")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="An argument of the operation; VALUE is JSON or text. Repeat it.")
@click.option("--by", default=None, help="Who edits, kept in the edit log (default: cli:<your user name>).")
def materials_edit(avatar_id: str, operation: str, params: tuple[str, ...], by: str | None) -> None:
    """Edit the current version with OPERATION (key_colour, region, trimap_points, despill, background,
    trim, choose; docs/materials-editing.md), e.g. `edit AV despill --param strength=0.5`."""
    arguments = dict(_argument(pair) for pair in params)
    request = host_pb.EditMaterialsRequest(avatar_id=avatar_id, operation=operation, parameters_json=json.dumps(arguments), by=by or default_by())
    reply = host_call("EditMaterials", request)
    click.echo(f"started {reply.run.stage} run {reply.run.run_id}: it makes version {reply.version} (follow it: twinforge watch {avatar_id})")


@materials.command("back")
@click.argument("avatar_id")
@click.argument("version", type=int)
@click.option("--by", default=None, help="Who goes back, kept in the edit log (default: cli:<your user name>).")
def materials_back(avatar_id: str, version: int, by: str | None) -> None:
    """Go back to VERSION: a run publishes it again as the newest version (the later ones stay listed)."""
    request = host_pb.RevertMaterialsRequest(avatar_id=avatar_id, version=version, by=by or default_by())
    reply = host_call("RevertMaterials", request)
    click.echo(f"started {reply.run.stage} run {reply.run.run_id}: version {reply.version} will equal version {version} (follow it: twinforge watch {avatar_id})")


@main.group()
def avatar() -> None:
    """The person's verdict on a trained avatar: approve it (it may then be deployed), reject it with
    a reason (the model is adjusted and retrained), list every round (docs/approval.md); delete it
    with all its data.

    Exit codes: 0 done, 1 the host refused the request, 3 the host is unreachable."""


@avatar.command("approve")
@click.argument("avatar_id")
@click.option("--by", default=None, help="Who approves, kept in the round's history (default: cli:<your user name>).")
def avatar_approve(avatar_id: str, by: str | None) -> None:
    """Approve the newest evaluation round that passed: the avatar may then be deployed."""
    reply = host_call("ApproveAvatar", host_pb.ApproveAvatarRequest(avatar_id=avatar_id, by=by or default_by()))
    click.echo(f"approved round {reply.round.round} (generation {reply.round.generation}); can deploy: {'yes' if reply.can_deploy else 'no'} ({reply.deploy_reason})")


@avatar.command("reject")
@click.argument("avatar_id")
@click.argument("reason", type=click.Choice(["lips_off", "blurry_mouth", "jitter", "wrong_clip", "other"]))
@click.option("--text", default="", help="Your own words (required for 'other').")
@click.option("--by", default=None, help="Who rejects, kept in the round's history (default: cli:<your user name>).")
def avatar_reject(avatar_id: str, reason: str, text: str, by: str | None) -> None:
    """Reject the newest round for REASON; its adjustment is applied and the model retrained."""
    request = host_pb.RejectAvatarRequest(avatar_id=avatar_id, by=by or default_by(), reason=reason, text=text)
    reply = host_call("RejectAvatar", request)
    click.echo(f"rejected round {reply.round.round}: {reply.message}")
    for run in reply.started:
        click.echo(f"started {run.stage} (run {run.run_id}); follow it: twinforge watch {avatar_id}")


@avatar.command("rounds")
@click.argument("avatar_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def avatar_rounds(avatar_id: str, as_json: bool) -> None:
    """Every evaluation round, oldest first, with its measures and the person's verdict."""
    reply = host_call("ListRounds", host_pb.ListRoundsRequest(avatar_id=avatar_id))
    rows = [
        {
            "round": r.round, "generation": r.generation, "evaluation_run": r.evaluation_run, "passed": r.passed, "preset": r.preset,
            "words": list(r.words), "results": json.loads(r.results_json or "{}"), "measures": json.loads(r.measures_json or "{}"),
            "preview": r.preview, "verdict": r.verdict,
            "by": r.by, "reason": r.reason, "text": r.text, "adjustment": r.adjustment, "retrain_generation": r.retrain_generation,
        }
        for r in reply.rounds
    ]
    if as_json:
        click.echo(json.dumps({"rounds": rows, "can_deploy": reply.can_deploy, "deploy_reason": reply.deploy_reason}, indent=2))
        return
    for r in rows:
        verdict = f"{r['verdict']} by {r['by']}" + (f": {r['reason']} {r['text']}".rstrip() if r["reason"] else "") if r["verdict"] else "not judged"
        click.echo(f"round {r['round']} (generation {r['generation']}, {r['preset']}): {'passed' if r['passed'] else 'did not pass'}; {verdict}")
        for line in r["words"]:
            click.echo(f"  {line}")
    click.echo(f"can deploy: {'yes' if reply.can_deploy else 'no'} ({reply.deploy_reason})")


@avatar.command("delete")
@click.argument("avatar_id")
@click.option("--cancel", "cancel_running", is_flag=True, help="Cancel the avatar's queued and running stages first, and wait for them to stop.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--by", default=None, help="Who deletes, written to the host's log (default: cli:<your user name>).")
def avatar_delete(avatar_id: str, cancel_running: bool, yes: bool, by: str | None) -> None:
    """Delete AVATAR_ID and all its data: videos, training sets, checkpoints, models, previews,
    images and its whole history. It cannot be undone. A deployed avatar is undeployed first
    (twinforge undeploy)."""
    if not yes:
        click.confirm(f"Delete avatar {avatar_id} and all its data? This cannot be undone", abort=True)
    request = host_pb.DeleteAvatarRequest(avatar_id=avatar_id, cancel_running=cancel_running, by=by or default_by())
    deadline = time.monotonic() + DELETE_WAIT_S
    reply = host_call("DeleteAvatar", request)
    while not reply.deleted and time.monotonic() < deadline:
        time.sleep(1.0)
        reply = host_call("DeleteAvatar", request)
    click.echo(reply.message)
    if not reply.deleted:
        sys.exit(1)


@main.group()
def tasks() -> None:
    """Operator tasks: the words people sent with a rejection for "something else", which the host
    cannot turn into an adjustment by itself. Answer each with words for the person and either a
    retrain (--retrain REASON) or the round given back to them to approve or reject again
    (docs/approval.md). Needs the operator key (`twinforge up` leaves one).

    Exit codes: 0 done, 1 the host refused the request, 3 the host is unreachable."""


@tasks.command("ls")
@click.option("--all", "include_answered", is_flag=True, help="Also the tasks answered already.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def tasks_ls(include_answered: bool, as_json: bool) -> None:
    """The tasks that wait for an answer, oldest first."""
    reply = host_call("ListOperatorTasks", host_pb.ListOperatorTasksRequest(include_answered=include_answered))
    rows = [
        {"task": t.task_id, "avatar": t.avatar_id, "name": t.avatar_name, "owner": t.owner, "round": t.round, "text": t.text,
         "asked_by": t.asked_by, "asked_at": t.created_at.ToDatetime().isoformat(), "outcome": t.outcome, "answer": t.answer,
         "answered_by": t.answered_by, "retrain_reason": t.retrain_reason}
        for t in reply.tasks
    ]
    if as_json:
        click.echo(json.dumps({"tasks": rows}, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no task waits" if not include_answered else "no tasks")
    for r in rows:
        click.echo(f"{r['task']}  {r['asked_at'][:16]}  avatar {r['avatar']} ({r['name']}, {r['owner']}), round {r['round']}: {r['text']!r}")
        if r["outcome"]:
            click.echo(f"  answered by {r['answered_by']} ({r['outcome']}{' ' + r['retrain_reason'] if r['retrain_reason'] else ''}): {r['answer']}")
    if rows and not include_answered:
        click.echo("answer one: twinforge tasks answer TASK --text WORDS [--retrain lips_off|blurry_mouth|jitter]")


@tasks.command("answer")
@click.argument("task_id")
@click.option("--text", "words", required=True, help="What the person reads: what you found and what happens next.")
@click.option("--retrain", "retrain_reason", type=click.Choice(["lips_off", "blurry_mouth", "jitter"]), default=None,
              help="Retrain with this reason's adjustment; without it the round is given back to the person to judge again.")
@click.option("--by", default=None, help="Who answers, kept with the task (default: cli:<your user name>).")
def tasks_answer(task_id: str, words: str, retrain_reason: str | None, by: str | None) -> None:
    """Answer TASK_ID: the person is told in the bot and the web app."""
    request = host_pb.AnswerOperatorTaskRequest(task_id=task_id, answer=words, retrain_reason=retrain_reason or "", by=by or default_by())
    reply = host_call("AnswerOperatorTask", request)
    outcomes = {"retrain": f"retraining with the {reply.task.retrain_reason} adjustment", "reopen": "the round is given back to the person",
                "answer": "words only: a newer round came meanwhile"}
    click.echo(f"answered task {reply.task.task_id} of avatar {reply.task.avatar_id}: {outcomes.get(reply.task.outcome, reply.task.outcome)}")
    for run in reply.started:
        click.echo(f"started {run.stage} (run {run.run_id}); follow it: twinforge watch {reply.task.avatar_id}")


@main.group()
def keys() -> None:
    """API keys of the host's clients, straight on the platform's database (an operator's job).

    A user key sees only its user's avatars, a service key (the bot) acts for the person it names,
    an operator key sees everything. Exit codes: 0 done, 1 refused, 3 the database is unavailable."""


def _keys_database() -> None:
    try:
        init_database(get_settings().resolved_database_url)
    except Unavailable as exc:
        raise _exit(str(exc), EXIT_UNAVAILABLE) from None


@keys.command("issue")
@click.option("--user", "user", required=True, help="Whom the key stands for, e.g. cli:anna or telegram:12345 (made if new).")
@click.option("--role", type=click.Choice(["user", "service", "operator"]), default="user", show_default=True, help="What the key may do.")
@click.option("--label", default="", help="A note shown by `keys ls`, e.g. where the key is used.")
def keys_issue(user: str, role: str, label: str) -> None:
    """Issue a key and print it once on standard output: only its hash is kept, so keep the key."""
    _keys_database()
    try:
        row, key = auth.issue(user, role, label)
    except TwinforgeError as exc:
        raise _exit(str(exc), 1) from None
    click.echo(f"issued key {row.id} ({role}) for {user}; it is shown only now: pass it as TWINFORGE_API_KEY", err=True)
    click.echo(key)


@keys.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def keys_ls(as_json: bool) -> None:
    """List the keys (never the keys themselves): id, user, role, label, when issued and revoked."""
    _keys_database()
    rows = [
        {"id": k.id, "user": k.user.external_id, "role": k.role, "label": k.label, "created_at": k.created_at.isoformat(timespec="seconds"),
         "revoked_at": k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else ""}
        for k in auth.keys()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'ID':<17} {'ROLE':<9} {'USER':<24} {'ISSUED':<20} {'REVOKED':<20} LABEL")
    for r in rows:
        click.echo(f"{r['id']:<17} {r['role']:<9} {r['user']:<24} {r['created_at']:<20} {r['revoked_at'] or '-':<20} {r['label']}".rstrip())


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its id (from `keys ls`): the host refuses it from the next call on."""
    _keys_database()
    try:
        row = auth.revoke(key_id)
    except TwinforgeError as exc:
        raise _exit(str(exc), 1) from None
    click.echo(f"revoked key {row.id} ({row.role}) of {row.user.external_id}")


main.add_command(queue)
main.add_command(render_command)
main.add_command(evaluate_command)
main.add_command(deploy_command)
main.add_command(undeploy_command)
main.add_command(produce_command)

if __name__ == "__main__":
    main()

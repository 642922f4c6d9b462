"""Twinforge spread over three hosts, as an operator runs it on several machines (docs/operations.md,
"Several machines"), each host a network namespace of this machine (tests/fixtures/netns.py):

- core: the host (`python -m host.server`), PostgreSQL (a server of its own), Redis and the S3
  service (moto's server, standing in for MinIO);
- w1 and w2: a queue worker and every plugin of the flow each, reaching core over the network only,
  with a data directory of their own (no shared disk).

A talking-face video (tests/fixtures/talking_face.py) goes through the whole flow with the tiny
preset, from the intake check to the round's verdict. The generator's first attempt holds three
steps past its first checkpoint (tests/faults/held_plugin.py); the host whose worker runs it is
then cut off, its link taken down and its processes left running, as when a machine's network dies.

Checked: the run resumes on the other host from that checkpoint and the round ends with its
verdict; every notification has its seq once; every artifact row has its object in the store with
its sha256 and size, and no object is left without a row. Then the cut host's link comes back and
its stale worker records nothing more: RQ's worker quits once Redis stays out of reach, and one that
outlived the cut finds its attempt superseded (tests/integration/test_leases.py shows that case).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import peewee
import pytest
import redis
from minio import Minio

from host.auth import issue
from host.bootstrap import bootstrap
from host.channels import host_channel
from host.settings import get_settings
from host.storage import models
from host.storage.backends import open_blob_store
from scheduler.leases import lease_key
from tests.faults import held_plugin
from tests.fixtures.flow_plugins import FLOW_PLUGINS
from tests.fixtures.netns import Host, Network, network
from tests.fixtures.talking_face import write_talking_face
from twinforge.host.v1 import host_service_pb2 as host_pb
from twinforge.host.v1 import host_service_pb2_grpc as host_grpc

VICTIM = "generator"
PORTS = {"host": 50051, "postgres": 5432, "redis": 6379, "s3": 9000, "plugins": 50100}
LEASE_TTL_S = 6
DOWN_AFTER_S = 5
START_TIMEOUT_S = 240.0  # 24 plugin processes importing torch on two cores
FLOW_TIMEOUT_S = 600.0
POSTGRES_BIN = Path("/usr/lib/postgresql")


def until(check: Callable[[], object], timeout: float, what: str, every: float = 0.5) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting until {what}")


def listening(address: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((address, port)) == 0


class Cluster:
    """The processes of the three hosts by name, killed when the test ends."""

    def __init__(self, net: Network, logs: Path) -> None:
        self.net, self.logs = net, logs
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, host: Host, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(host.argv(*argv), env=env, stdout=log, stderr=subprocess.STDOUT)
        return self.procs[name]

    def host_of(self, pid: int) -> str:
        return next(name.split(":")[0] for name, proc in self.procs.items() if proc.pid == pid)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def start_postgres(cluster: Cluster, core: Host, folder: Path) -> None:
    """A PostgreSQL server of core's own (the machine's listens on its loopback, out of the hosts'
    reach), run as the postgres user. Its keepalives drop a silent client's connection in about 10 s,
    releasing its locks, and so does an idle transaction after 20 s (docs/operations.md)."""
    binaries = sorted(POSTGRES_BIN.glob("*/bin"))
    if not binaries:
        pytest.skip(f"PostgreSQL's server binaries are not under {POSTGRES_BIN}")
    shutil.chown(folder, "postgres", "postgres")
    as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
    subprocess.run([*as_postgres, str(binaries[-1] / "initdb"), "-D", str(folder / "db"), "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True)
    with (folder / "db" / "pg_hba.conf").open("a") as hba:
        hba.write("host all all 0.0.0.0/0 trust\n")  # the hosts' bridge only: the namespaces reach nothing else
    settings = {"listen_addresses": core.address, "port": PORTS["postgres"], "unix_socket_directories": folder, "fsync": "off",
                "tcp_keepalives_idle": 5, "tcp_keepalives_interval": 2, "tcp_keepalives_count": 3,
                "idle_in_transaction_session_timeout": "20s", "max_connections": 200}
    options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
    cluster.start("core:postgres", core, [*as_postgres, str(binaries[-1] / "postgres"), "-D", str(folder / "db"), *options])
    until(lambda: listening(core.address, PORTS["postgres"]), 30, "PostgreSQL listens")
    admin = peewee.PostgresqlDatabase("postgres", host=core.address, port=PORTS["postgres"], user="postgres")
    admin.execute_sql("CREATE DATABASE twinforge")
    admin.close()


def settings_env(core: Host, data_dir: Path, **more: str) -> dict[str, str]:
    """One host's settings: the shared services on core, a data directory of its own. The database
    URL asks libpq to notice a dead link within 10 s (tcp_user_timeout) instead of TCP's 15 minutes."""
    values = {
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": f"postgresql://postgres@{core.address}:{PORTS['postgres']}/twinforge"
                        "?connect_timeout=5&tcp_user_timeout=10000&keepalives_idle=5&keepalives_interval=2&keepalives_count=3",
        "REDIS_URL": f"redis://{core.address}:{PORTS['redis']}/0",
        "STORAGE_URL": f"s3://twinforge:twinforge-secret@{core.address}:{PORTS['s3']}/twinforge?secure=false",
        "STORAGE_TIMEOUT_S": "10",
        "HOST_ADDRESS": f"{core.address}:{PORTS['host']}",
        "HEARTBEAT_INTERVAL_S": "1",
        "PLUGIN_DOWN_AFTER_S": str(DOWN_AFTER_S),
        "LEASE_TTL_S": str(LEASE_TTL_S),
        "INTAKE_PRESET": "tiny",
        "LOG_LEVEL": "INFO",
        **more,
    }
    outside = {k: v for k, v in os.environ.items() if not k.startswith("TWINFORGE_")}
    return {**outside, **{f"TWINFORGE_{key}": value for key, value in values.items()}}


@contextlib.contextmanager
def three_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Cluster, str]]:
    """Starts every process; yields the cluster and the operator's key once each stage of the flow
    has a healthy plugin on both worker hosts."""
    logs = tmp_path / "logs"
    logs.mkdir()
    with network(("core", "w1", "w2")) as net, tempfile.TemporaryDirectory(prefix="twinforge-pg-") as pg:
        core = net.hosts["core"]
        cluster = Cluster(net, logs)
        try:
            start_postgres(cluster, core, Path(pg))
            cluster.start("core:redis", core, ["redis-server", "--bind", core.address, "--port", str(PORTS["redis"]),
                                                "--save", "", "--appendonly", "no", "--protected-mode", "no"])
            cluster.start("core:s3", core, [sys.executable, "-m", "moto.server", "-H", core.address, "-p", str(PORTS["s3"])])
            until(lambda: listening(core.address, PORTS["redis"]) and listening(core.address, PORTS["s3"]), 30, "Redis and S3 listen")
            env = settings_env(core, tmp_path / "core")
            for key, value in env.items():
                if key.startswith("TWINFORGE_"):
                    monkeypatch.setenv(key, value)
            get_settings.cache_clear()
            bootstrap(get_settings())  # migrates; this test's own view of the database
            _, key = issue("cli:operator", "operator")
            cluster.start("core:host", core, [sys.executable, "-m", "host.server"], env)
            until(lambda: listening(core.address, PORTS["host"]), 60, "the host listens")
            for name in ("w1", "w2"):
                host = net.hosts[name]
                host_env = settings_env(core, tmp_path / name, PLUGIN_HOST=host.address, API_KEY=key)
                cluster.start(f"{name}:worker", host, [sys.executable, "-m", "host.cli", "worker", "--cpu-slot", "0"], host_env)
                for index, (stage, plugin_argv) in enumerate(FLOW_PLUGINS.items()):
                    argv = ["-m", "tests.faults.held_plugin", VICTIM] if stage == VICTIM else plugin_argv
                    cluster.start(f"{name}:plugin:{stage}", host, [sys.executable, *argv],
                                  {**host_env, "TWINFORGE_PLUGIN_PORT": str(PORTS["plugins"] + index)})
            monkeypatch.setenv("TWINFORGE_API_KEY", key)
            get_settings.cache_clear()
            try:
                until(lambda: healthy_everywhere(net), START_TIMEOUT_S, "every plugin on both worker hosts is healthy", every=2)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{not_healthy(net, logs)}") from None
            yield cluster, key
        finally:
            cluster.stop()
            get_settings.cache_clear()


def healthy_everywhere(net: Network) -> bool:
    addresses = {h.address for name, h in net.hosts.items() if name != "core"}
    rows = list(models.Plugin.select().where(models.Plugin.healthy == True))  # noqa: E712
    return len({(row.name, row.address.rsplit(":", 1)[0]) for row in rows if row.address.rsplit(":", 1)[0] in addresses}) == 2 * len(FLOW_PLUGINS)


def not_healthy(net: Network, logs: Path) -> str:
    """Which plugins are not healthy on which worker host, the host's last word on each and the end
    of its log, so a start that timed out says what held it."""
    rows = {(row.name, row.address.rsplit(":", 1)[0]): row for row in models.Plugin.select()}
    lines = []
    for name in ("w1", "w2"):
        for stage in FLOW_PLUGINS:
            row = rows.get((stage, net.hosts[name].address))
            if row is not None and row.healthy:
                continue
            said = "never registered" if row is None else row.last_error or "not yet probed"
            log = logs / f"{name}:plugin:{stage}.log"
            tail = log.read_text(errors="replace").splitlines()[-3:] if log.exists() else []
            lines.append(f"{name} {stage}: {said}" + "".join(f"\n    {line[:300]}" for line in tail))
    return "\n".join(lines)


def runs(avatar_id: str) -> list[models.StageRun]:
    return list(models.StageRun.select().where(models.StageRun.avatar == avatar_id))


def run_of(avatar_id: str, stage: str) -> models.StageRun | None:
    return models.StageRun.select().where((models.StageRun.avatar == avatar_id) & (models.StageRun.stage == stage)).first()


def no_failure(avatar_id: str) -> None:
    failed = [(r.stage, r.error_json) for r in runs(avatar_id) if r.state == "failed"]
    assert not failed, failed


def reported(run_id: str, kind: str) -> list[dict]:
    query = models.Notification.select().where((models.Notification.run_id == run_id) & (models.Notification.kind == kind))
    return [json.loads(n.payload_json) for n in query]


def held_at(tmp_path: Path, run_id: str) -> str:
    """The worker host whose plugin holds the run's first attempt, or ''."""
    return next((name for name in ("w1", "w2") if (tmp_path / name / "holds" / f"{run_id}.held").exists()), "")


def store_faults(avatar_id: str, endpoint: str) -> list[str]:
    """Artifact rows without their object (or with other bytes), objects without a row, outputs twice."""
    blobs = open_blob_store(get_settings().resolved_storage_url)
    rows = list(models.Artifact.select().where(models.Artifact.avatar == avatar_id))
    problems = []
    for row in rows:
        if not blobs.exists(row.key):
            problems.append(f"missing {row.key}")
            continue
        info = blobs.stat(row.key)
        if (info.sha256, info.size) != (row.sha256, row.size):
            problems.append(f"{row.key}: stored {info.sha256[:12]} {info.size} B, recorded {row.sha256[:12]} {row.size} B")
    s3 = Minio(endpoint, access_key="twinforge", secret_key="twinforge-secret", secure=False)
    stored = {o.object_name for o in s3.list_objects("twinforge", prefix=f"avatars/{avatar_id}/", recursive=True)}
    problems += [f"orphaned {key}" for key in sorted(stored - {row.key for row in rows})]
    names = [(row.run_id, row.kind, row.name) for row in rows if row.run_id]
    problems += [f"duplicated {name}" for name in sorted(set(names)) if names.count(name) > 1]
    return problems


def seq_faults(avatar_id: str) -> list[str]:
    seqs = [n.seq for n in models.Notification.select().where(models.Notification.avatar == avatar_id).order_by(models.Notification.seq)]
    return [] if seqs == list(range(1, len(seqs) + 1)) else [f"seqs {seqs[:5]}... not 1..{len(seqs)} once each"]


@pytest.mark.timeout(1200)
def test_a_worker_host_cut_off_mid_training_loses_nothing(tmp_path, monkeypatch, reliability) -> None:
    clip = write_talking_face(tmp_path / "talking.mp4", seconds=11)
    with three_hosts(tmp_path, monkeypatch) as (cluster, _key):
        connection = redis.Redis.from_url(get_settings().resolved_redis_url)
        s3 = f"{cluster.net.hosts['core'].address}:{PORTS['s3']}"
        with host_channel(get_settings().host_address, get_settings()) as channel:
            stub = host_grpc.HostServiceStub(channel)
            avatar_id = stub.CreateAvatar(host_pb.CreateAvatarRequest(name="Grace on three hosts", owner="cli:hosts")).avatar.avatar_id
            data = clip.read_bytes()
            parts = [host_pb.UploadArtifactRequest(header=host_pb.UploadHeader(avatar_id=avatar_id, kind="video", filename=clip.name))]
            parts += [host_pb.UploadArtifactRequest(chunk=data[i : i + (1 << 20)]) for i in range(0, len(data), 1 << 20)]
            video = stub.UploadArtifact(iter(parts)).artifact
            stub.CreateSubmission(host_pb.CreateSubmissionRequest(avatar_id=avatar_id, video=video, preset="tiny"))
            started = time.monotonic()

            def generator_held() -> models.StageRun | None:
                no_failure(avatar_id)
                run = run_of(avatar_id, VICTIM)
                if run is None or not held_at(tmp_path, run.id):
                    return None
                steps = [m["step"] for m in reported(run.id, "stage_metric") if m["name"] == "loss"]
                return run if run.checkpoint_json and held_plugin.HOLD_ITERATION in steps else None

            run = until(generator_held, FLOW_TIMEOUT_S, f"the {VICTIM}'s first attempt holds past its first checkpoint", every=1)
            holder = connection.get(lease_key(run.id)).decode()
            cut = cluster.host_of(int(holder.rsplit(":", 1)[1]))
            other = "w2" if cut == "w1" else "w1"
            plugin_on = held_at(tmp_path, run.id)
            reached = time.monotonic() - started
            cluster.net.cut(cut)
            cut_at = time.monotonic()

            def resumed_elsewhere() -> str:
                now = models.StageRun.get_by_id(run.id)
                lease = connection.get(lease_key(run.id))
                if now.attempt >= 2 and lease is not None:
                    return cluster.host_of(int(lease.decode().rsplit(":", 1)[1]))
                return ""

            resumed_on = until(resumed_elsewhere, 120, f"the {VICTIM} resumes on another worker")
            resumed_after = time.monotonic() - cut_at
            verdict = until(lambda: no_failure(avatar_id) or (r := run_of(avatar_id, "quality_eval")) and r.state == "succeeded" and r,
                            FLOW_TIMEOUT_S, "the round's verdict")
            finished_after = time.monotonic() - cut_at
            generator = models.StageRun.get_by_id(run.id)
            summary = json.loads(generator.summary_json)
            assert resumed_on == other
            assert (generator.state, generator.attempt) == ("succeeded", 2)
            assert summary["resumed_from"] == held_plugin.CHECKPOINT_EVERY
            assert all(r.state == "succeeded" for r in runs(avatar_id)), [(r.stage, r.state) for r in runs(avatar_id)]
            assert store_faults(avatar_id, s3) == []
            assert seq_faults(avatar_id) == []
            notes_before = models.Notification.select().where(models.Notification.avatar == avatar_id).count()

            cluster.net.mend(cut)
            worker, log = cluster.procs[f"{cut}:worker"], tmp_path / "logs" / f"{cut}:worker.log"
            # RQ's worker quits once Redis stays out of reach (a supervisor such as `twinforge up`
            # restarts it); one that outlived the cut finds its attempt superseded and cancels it.
            stale = until(lambda: "quit" if worker.poll() is not None else "superseded" in log.read_text(errors="replace") and "superseded",
                          90, f"the stale worker on {cut} quits or finds its attempt superseded")
            time.sleep(3)  # anything it would still record lands now
            assert models.Notification.select().where(models.Notification.avatar == avatar_id).count() == notes_before
            assert (models.StageRun.get_by_id(run.id).state, models.StageRun.get_by_id(run.id).attempt) == ("succeeded", 2)
            assert store_faults(avatar_id, s3) == []
            passed = json.loads(verdict.summary_json)["passed"]
            artifacts = models.Artifact.select().where(models.Artifact.avatar == avatar_id).count()

    reliability.record(
        section="faults",
        what=f"three hosts (network namespaces: core with the host, PostgreSQL, Redis and S3; two worker hosts with a worker and {len(FLOW_PLUGINS)} plugins each); "
             f"a whole training (tiny preset) with the worker host running the {VICTIM} cut off (link down) mid-training, three steps past its first checkpoint",
        expected="the run resumes on the other worker host from its last checkpoint; the round ends with its verdict; every notification once; "
                 "every artifact in the store with its sha256, none orphaned; once the link is back, the stale worker records nothing",
        observed=f"the {VICTIM} held {reached:.0f} s after the upload (its plugin on {plugin_on}, its worker on {cut}); resumed on {other} "
                 f"{resumed_after:.0f} s after the cut (lease {LEASE_TTL_S} s, plugin down after {DOWN_AFTER_S} s) from iteration {summary['resumed_from']}; "
                 f"the round's verdict ({'passed' if passed else 'below the limits'}, the tiny preset's smoke limits) {finished_after:.0f} s after the cut; {notes_before} notifications, seq 1..{notes_before}; "
                 f"{artifacts} artifacts intact; the cut host's worker {'quit, Redis out of reach' if stale == 'quit' else 'found its attempt superseded'} and wrote nothing",
        lost=f"{held_plugin.HOLD_ITERATION - summary['resumed_from']} iterations redone (checkpoint every {held_plugin.CHECKPOINT_EVERY})",
    )

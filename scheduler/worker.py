"""Queue workers: `twinforge worker --gpu 0` (one per GPU) or `twinforge worker --cpu N`.

Workers are RQ SimpleWorkers: the job runs in the worker process itself, so killing the worker
kills its job (the lease then expires and the run resumes elsewhere) and no gRPC channel ever
crosses a fork.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import redis
from rq import Queue, SimpleWorker
from rq.exceptions import DequeueTimeout
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job
from rq.worker.base import WorkerStatus

from host.settings import Settings
from scheduler.pause import paused
from scheduler.queues import Priority, Resource, queue_name

TAKE_POLL_S = 1
"""How long one blocking take waits before the worker looks at the paused queues again."""

BEAT_S = 10
"""How often a worker heartbeats while its job runs; a killed worker leaves `twinforge queue ls`
and its job leaves RQ's started registry about a minute after its last beat."""


class QueueWorker(SimpleWorker):
    """A SimpleWorker that skips paused queues and keeps its heartbeat while the job runs.

    SimpleWorker would mark itself alive for the job's whole timeout (a day) when its job starts,
    so a worker killed mid-job would look busy for a day; this one beats every BEAT_S from a thread,
    the way RQ's forking Worker does from its monitoring loop.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, worker_ttl=BEAT_S, job_monitoring_interval=BEAT_S, **kwargs)
        self._beat_stop = threading.Event()
        self._beat: threading.Thread | None = None

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """Takes the next job from the queues that are not paused, looking again every
        TAKE_POLL_S; `timeout=None` (burst) takes only what is there now."""
        self.set_state(WorkerStatus.IDLE)
        self.procline("Listening on " + ",".join(self.queue_names()))
        idle_since = time.monotonic()
        while True:
            self.heartbeat()
            if self.should_run_maintenance_tasks:
                self.run_maintenance_tasks()
            result = self._take(None if timeout is None else TAKE_POLL_S)
            if result is not None:
                return result
            if timeout is None:
                return None
            if max_idle_time is not None and time.monotonic() - idle_since >= max_idle_time:
                return None

    def _take(self, timeout: int | None) -> tuple[Job, Queue] | None:
        stopped = paused(self.connection)
        self._ordered_queues = [q for q in self.queues if q.name not in stopped]
        if not self._ordered_queues:
            if timeout is not None:
                time.sleep(timeout)
            return None
        try:
            result = self.queue_class.dequeue_any(
                self._ordered_queues,
                timeout,
                connection=self.connection,
                job_class=self.job_class,
                serializer=self.serializer,
                death_penalty_class=self.death_penalty_class,
            )
        except DequeueTimeout:
            return None
        except redis.ConnectionError as exc:
            self.log.error("Worker %s: Redis unreachable (%s); retrying", self.name, exc)
            time.sleep(TAKE_POLL_S)
            return None
        if result is None:
            return None
        job, queue = result
        # A lone queue is taken with LMOVE into RQ's intermediate list, which RQ clears only for
        # workers of one queue; this worker may listen on one queue only while the others are paused.
        IntermediateQueue(queue.key, self.connection).remove(job.id)
        if queue.name in paused(self.connection):
            # Paused while this take was blocking: the job goes back to the head of its queue.
            queue.push_job_id(job.id, at_front=True)
            return None
        return result

    def get_heartbeat_ttl(self, job: Job) -> int:
        return BEAT_S + 60

    def execute_job(self, job: Job, queue: Queue) -> None:
        self._beat_stop.clear()
        self._beat = threading.Thread(target=self._keep_beating, args=(job,), name="rq-heartbeat", daemon=True)
        try:
            self.prepare_execution(job)
            self._beat.start()
            self.perform_job(job, queue)
        finally:
            self._stop_beating()
        self.set_state(WorkerStatus.IDLE)

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        """The job returned: stop beating before RQ removes the job's execution record."""
        self._stop_beating()
        super().handle_execution_ended(job, queue, heartbeat_ttl)

    def _keep_beating(self, job: Job) -> None:
        while not self._beat_stop.wait(BEAT_S):
            try:
                self.maintain_heartbeats(job)
            except redis.RedisError as exc:
                self.log.warning("Worker %s: heartbeat failed: %s", self.name, exc)

    def _stop_beating(self) -> None:
        self._beat_stop.set()
        if self._beat is not None and self._beat.is_alive():
            self._beat.join()


def queue_names(resource: Resource, gpu_stages_on_cpu: bool) -> list[str]:
    """The queues a worker listens on, in the order it takes jobs: by priority first, and on a CPU
    worker of a machine without GPUs, GPU stages interleaved at each priority."""
    if resource == Resource.GPU:
        return [queue_name(Resource.GPU, p) for p in Priority]
    names = []
    for priority in Priority:
        if gpu_stages_on_cpu:
            names.append(queue_name(Resource.GPU, priority))
        names.append(queue_name(Resource.CPU, priority))
    return names


def worker_name(resource: Resource, slot: int) -> str:
    return f"twinforge-{resource.value}{slot}-{socket.gethostname()}-{os.getpid()}"


def run_worker(settings: Settings, resource: Resource, slot: int, burst: bool = False) -> None:
    """Runs one worker until SIGTERM (RQ finishes the current job first) or, with burst, until the
    queues are empty."""
    if resource == Resource.GPU:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(slot)
    connection = redis.Redis.from_url(settings.resolved_redis_url)
    queues = [Queue(name, connection=connection) for name in queue_names(resource, settings.gpu_stages_on_cpu)]
    worker = QueueWorker(queues, connection=connection, name=worker_name(resource, slot))
    worker.work(burst=burst, with_scheduler=False, logging_level=settings.log_level)


def run_workers(settings: Settings, count: int, burst: bool = False) -> None:
    """`--cpu N`: N worker processes, each taking one job at a time. SIGTERM or Ctrl-C is passed on
    to each (RQ's warm shutdown: finish the current job, then stop), so none is left orphaned."""
    import multiprocessing

    processes = [
        multiprocessing.get_context("spawn").Process(target=run_worker, args=(settings, Resource.CPU, slot, burst))
        for slot in range(count)
    ]
    for p in processes:
        p.start()

    def pass_on(signum: int, _frame: object) -> None:
        for p in processes:
            if p.is_alive():
                os.kill(p.pid, signum)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    for p in processes:
        p.join()

"""Queue workers: `twinforge worker --gpu 0` (one per GPU) or `twinforge worker --cpu N`.

Workers are RQ SimpleWorkers: the job runs in the worker process itself, so killing the worker
kills its job (the lease then expires and the run resumes elsewhere) and no gRPC channel ever
crosses a fork.
"""

from __future__ import annotations

import os
import socket

import redis
from rq import Queue, SimpleWorker

from host.settings import Settings
from scheduler.queues import Priority, Resource, queue_name



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
    worker = SimpleWorker(queues, connection=connection, name=worker_name(resource, slot))
    worker.work(burst=burst, with_scheduler=False, logging_level=settings.log_level)


def run_workers(settings: Settings, count: int, burst: bool = False) -> None:
    """`--cpu N`: N worker processes, each taking one job at a time; SIGTERM stops them all."""
    import multiprocessing

    processes = [
        multiprocessing.get_context("spawn").Process(target=run_worker, args=(settings, Resource.CPU, slot, burst))
        for slot in range(count)
    ]
    for p in processes:
        p.start()
    try:
        for p in processes:
            p.join()
    except KeyboardInterrupt:
        for p in processes:
            p.terminate()
        for p in processes:
            p.join()

"""The gRPC front door: InferenceService translated to and from the Avatar (plugins/inference/avatar.py).

The Avatar's work is blocking (torch, PyAV), so it runs in threads. Render runs the whole render in
one thread and relays its progress as it comes; StreamFrames asks a thread of its own for one chunk
at a time, so a slow client slows the render instead of piling frames up in memory, and a client
that leaves stops it at the next chunk.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

from plugins.inference.avatar import Avatar, FrameChunk
from plugins.inference.errors import grpc_status, sentence, unexpected
from plugins.inference.speech import Speech
from plugins.sdk.errors import Cancelled, StageFailed
from twinforge.inference.v1 import inference_service_pb2 as pb
from twinforge.inference.v1 import inference_service_pb2_grpc as inference_grpc

log = logging.getLogger(__name__)

FILE_CHUNK_BYTES = 1 << 20


def speech_of(request: pb.RenderRequest | pb.StreamFramesRequest) -> Speech:
    which = request.WhichOneof("input")
    return Speech(
        audio=request.audio if which == "audio" else None,
        text=request.text if which == "text" else None,
        background=request.background,
    )


def chunk_message(chunk: FrameChunk) -> pb.StreamFramesResponse:
    return pb.StreamFramesResponse(
        frames=[pb.Frame(index=i, pts_seconds=pts, jpeg=jpeg, width=chunk.width, height=chunk.height) for i, pts, jpeg in chunk.frames],
        pcm16=chunk.pcm16,
        sample_rate=chunk.sample_rate,
        audio_start_seconds=chunk.audio_start_seconds,
        total_frames=chunk.total_frames,
        fps=chunk.fps,
        elapsed_seconds=chunk.elapsed_seconds,
    )


async def abort(context: grpc.aio.ServicerContext, error: StageFailed) -> None:
    """The status the error's code maps to, its sentence as the details, and the parts as trailing
    metadata (as the host's interceptor does), so a client can show each."""
    context.set_trailing_metadata((("twinforge-error-code", error.code), ("twinforge-advice", error.advice)))
    await context.abort(grpc_status(error), sentence(error))


class InferenceServicer(inference_grpc.InferenceServiceServicer):
    def __init__(self, avatar: Avatar, max_request_bytes: int, scratch: Path | None = None) -> None:
        self.avatar = avatar
        self.max_request_bytes = max_request_bytes
        self.scratch = scratch

    async def Describe(self, request: pb.DescribeRequest, context: grpc.aio.ServicerContext) -> pb.DescribeResponse:
        facts = self.avatar.describe()
        return pb.DescribeResponse(
            avatar_id=facts["avatar_id"],
            fps=facts["fps"],
            width=facts["width"],
            height=facts["height"],
            submission_version=facts["submission_version"],
            round=facts["round"],
            measures_json=json.dumps(facts["measures"], sort_keys=True),
            versions=facts["versions"],
            max_audio_seconds=facts["max_audio_seconds"],
            max_text_characters=facts["max_text_characters"],
            max_request_bytes=self.max_request_bytes,
        )

    async def Render(self, request: pb.RenderRequest, context: grpc.aio.ServicerContext):
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()
        cancelled = threading.Event()

        def progress(fraction: float, message: str, eta: float | None) -> None:
            if cancelled.is_set():
                raise Cancelled()
            event = pb.Progress(fraction=fraction, message=message, eta_seconds=-1.0 if eta is None else eta)
            loop.call_soon_threadsafe(events.put_nowait, pb.RenderResponse(progress=event))

        def run(folder: Path) -> None:
            try:
                outcome: object = self.avatar.render(speech_of(request), folder, progress)
            except BaseException as exc:  # handed to the RPC, which reports it
                outcome = exc
            loop.call_soon_threadsafe(events.put_nowait, outcome)

        with tempfile.TemporaryDirectory(prefix="render-", dir=self.scratch) as tmp:
            job = loop.run_in_executor(None, run, Path(tmp))
            try:
                while not isinstance(event := await events.get(), (dict, BaseException)):
                    yield event
            finally:
                cancelled.set()
                await job  # the render stops at its next progress report; then its folder can go
            if isinstance(event, StageFailed):
                await abort(context, event)
            if isinstance(event, Exception):
                log.error("render failed", exc_info=event)
                await abort(context, unexpected(event))
            if isinstance(event, BaseException):
                raise event
            size = Path(event["path"]).stat().st_size
            with open(event["path"], "rb") as video:
                while part := video.read(FILE_CHUNK_BYTES):
                    yield pb.RenderResponse(chunk=part)
        yield pb.RenderResponse(
            summary=pb.RenderSummary(
                frames=event["frames"], seconds=event["seconds"], render_seconds=event["render_seconds"],
                size_bytes=size, fps=event["fps"], width=event["width"], height=event["height"],
            )
        )

    async def StreamFrames(self, request: pb.StreamFramesRequest, context: grpc.aio.ServicerContext):
        received = time.perf_counter()
        loop = asyncio.get_running_loop()
        worker = ThreadPoolExecutor(1, thread_name_prefix="stream")
        with tempfile.TemporaryDirectory(prefix="stream-", dir=self.scratch) as tmp:
            chunks = self.avatar.stream(speech_of(request), Path(tmp), request.jpeg_quality, received)
            try:
                while (chunk := await loop.run_in_executor(worker, next, chunks, None)) is not None:
                    yield chunk_message(chunk)
            except StageFailed as exc:
                await abort(context, exc)
            except Exception as exc:
                log.exception("stream failed")
                await abort(context, unexpected(exc))
            finally:
                # After the step in progress, on the same thread: the render's slot is given back.
                await asyncio.wrap_future(worker.submit(chunks.close))
                worker.shutdown(wait=False)

"""The service's Prometheus metrics, in a registry of its own (GET /metrics serves exactly these).

`kind` is the front door: render (gRPC Render), stream (gRPC StreamFrames), http (POST /render) or
live (an answer in a WebRTC conversation);
`outcome` is ok, invalid (the request was wrong), busy (no render slot), failed, cancelled or error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from plugins.inference.errors import outcome

# Seconds: a short answer renders in about one second, five minutes of speech in minutes.
RENDER_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
FIRST_FRAME_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.renders = Counter("twinforge_inference_renders", "Requests by front door and outcome.", ("kind", "outcome"), registry=self.registry)
        self.render_seconds = Histogram(
            "twinforge_inference_render_seconds", "Wall time of a successful request, decoding and encoding included.", ("kind",),
            buckets=RENDER_BUCKETS, registry=self.registry,
        )
        self.frames = Counter("twinforge_inference_frames_rendered", "Frames made.", ("kind",), registry=self.registry)
        self.audio_seconds = Counter("twinforge_inference_audio_seconds", "Seconds of speech rendered.", ("kind",), registry=self.registry)
        self.first_frame = Histogram(
            "twinforge_inference_first_frame_seconds", "From the request to its first frame ready to send (StreamFrames).",
            buckets=FIRST_FRAME_BUCKETS, registry=self.registry,
        )
        self.in_flight = Gauge("twinforge_inference_renders_in_flight", "Requests being served, waiting ones included.", registry=self.registry)
        self.live_sessions = Gauge("twinforge_inference_live_sessions", "Live (WebRTC) conversations open now.", registry=self.registry)
        self.live_refused = Counter("twinforge_inference_live_refused", "Live conversations refused because the service held its most.", registry=self.registry)
        self.live_first_frame = Histogram(
            "twinforge_inference_live_first_frame_seconds", "From a question reaching the service to the first frame of its answer being sent.",
            buckets=FIRST_FRAME_BUCKETS, registry=self.registry,
        )
        self.live_late_frames = Counter(
            "twinforge_inference_live_late_frames", "Frames of a live answer not ready when due (the picture held, the answer delayed by one frame).",
            registry=self.registry,
        )

    @contextmanager
    def tracked(self, kind: str) -> Iterator[None]:
        """Counts the request in flight while inside, then by its outcome (the exception that left)."""
        started = time.perf_counter()
        self.in_flight.inc()
        error: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            error = exc
            raise
        finally:
            self.in_flight.dec()
            self.renders.labels(kind, outcome(error)).inc()
            if error is None:
                self.render_seconds.labels(kind).observe(time.perf_counter() - started)

"""Exactly one picture per frame number, read in order across chunks without seeking again.

Chunks are consecutive, so the decoder stays open from one chunk to the next: reopening at every
chunk would decode from the previous keyframe each time, up to ten seconds of video per chunk. A
number the stream skips (a variable frame rate) repeats the picture before it; reading after a
resume starts one frame early, so that a skipped first number of the chunk repeats the same picture
an uninterrupted run would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from plugins.media.frames import read_frames
from plugins.sdk.video import unreadable


class FrameCursor:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.stream: Iterator[tuple[int, np.ndarray]] | None = None
        self.pending: tuple[int, np.ndarray] | None = None
        self.previous: np.ndarray | None = None
        self.next_number = -1

    def frames(self, first: int, stop: int) -> Iterator[np.ndarray]:
        """The pictures of frames first..stop-1, one per number."""
        if first != self.next_number:
            self._open(first)
        for wanted in range(first, stop):
            while self.pending is not None and self.pending[0] < wanted:
                self.previous = self.pending[1]
                self.pending = self._next()
            if self.pending is not None and self.pending[0] == wanted:
                picture = self.pending[1]
            elif self.previous is not None:
                picture = self.previous
            elif self.pending is not None:
                picture = self.pending[1]
            else:
                raise unreadable(f"frame {wanted} of {self.path.name} cannot be decoded")
            self.previous = picture
            self.next_number = wanted + 1
            yield picture

    def _open(self, first: int) -> None:
        self.stream = read_frames(self.path, max(0, first - 1))
        self.previous = None
        self.pending = self._next()
        if first > 0 and self.pending is not None and self.pending[0] == first - 1:
            self.previous = self.pending[1]
            self.pending = self._next()

    def _next(self) -> tuple[int, np.ndarray] | None:
        try:
            return next(self.stream, None)
        except av.error.FFmpegError as exc:
            raise unreadable(f"{self.path.name} stops decoding: {exc}") from exc

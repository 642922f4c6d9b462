"""One open frame reader shared by every chunk of a run.

Chunks come in order, so reopening the video per chunk would seek to a keyframe and decode again
the frames before the chunk's first; keeping the reader open decodes each frame once. It reopens
(and seeks) only when asked for a chunk that does not follow the last one, as on a resumed run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from plugins.media.frames import read_frames


class FrameCursor:
    """Frames chunk after chunk from a single `read_frames` iterator. A frame number the reader
    skips (variable frame rate) is simply absent from the chunk."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._frames: Iterator[tuple[int, np.ndarray]] | None = None
        self._pending: tuple[int, np.ndarray] | None = None  # read ahead: the first frame of a later chunk
        self._next = -1

    def chunk(self, first: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        """(number, RGB) for the frames first..stop-1 the video has."""
        if self._frames is None or self._next != first:
            self.close()
            self._frames = read_frames(self._path, first)
        while True:
            if self._pending is None:
                self._pending = next(self._frames, None)
                if self._pending is None:
                    break
            number, rgb = self._pending
            if number >= stop:
                break
            self._pending = None
            if number >= first:
                yield number, rgb
        self._next = stop

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()  # closes the container inside the generator
        self._frames, self._pending, self._next = None, None, -1

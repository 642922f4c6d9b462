"""Videos and pictures the pages play, kept in the data directory: the host's previews fetched once,
the clip and cover previews and the real recording's moment cut from the person's video (the host
stores no such previews; the bot cuts them the same way, bot.pictures), the cut-out editor's
pictures of each version (bot.webapp.cutout), and the videos the avatar made on the Talk page. A
browser asks for a video again and again (seeking asks for ranges), so each is made once and then
served from disk, with Range support; nothing is kept longer than KEEP_S."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

KEEP_S = 86400.0
TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg"}


class MediaCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.locks: dict[str, asyncio.Lock] = {}

    async def get(self, name: str, make: Callable[[Path], Awaitable[None]]) -> Path:
        """The file `name` (a relative path), made by `make(path)` the first time; two requests for
        one file while it is being made wait for the one making it."""
        path = self.folder / name
        if path.exists():
            return path
        async with self.locks.setdefault(name, asyncio.Lock()):
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(f"{path.name}.part")
                try:
                    await make(partial)
                    partial.replace(path)  # a crash leaves a .part nobody serves, never half a video
                finally:
                    partial.unlink(missing_ok=True)
        self.locks.pop(name, None)
        return path

    def sweep(self, now: float | None = None) -> None:
        limit = (now or time.time()) - KEEP_S
        for path in self.folder.rglob("*"):
            if path.is_file() and path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)


def served(path: Path) -> web.FileResponse:
    return web.FileResponse(path, headers={"Content-Type": TYPES.get(path.suffix, "application/octet-stream"), "Cache-Control": "private, max-age=3600"})


MEDIA = web.AppKey("media", MediaCache)

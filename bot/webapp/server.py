"""Puts the web app together: the aiohttp application with its middlewares (safe headers, sign-in,
the host's refusals in words), the pages and the API, the host client and the upload store;
`running_webapp` serves it until the block ends (`python -m bot.webapp` and the tests both use it)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from bot.access import Access
from bot.host_client import HostClient
from bot.webapp import api, cutout, live, materials, pages, review, talk
from bot.webapp.auth import authentication
from bot.webapp.media import MEDIA, MediaCache
from bot.webapp.settings import WebAppSettings
from bot.webapp.submit import Finisher
from bot.webapp.watch import Watcher
from bot.webapp.uploads import UploadStore
from host.settings import Settings


@dataclass
class RunningWebApp:
    url: str
    app: web.Application


def make_app(settings: WebAppSettings, host: HostClient, access: Access) -> web.Application:
    app = web.Application(middlewares=[pages.safe_headers, authentication(settings, access), api.host_refusals])
    store = UploadStore(settings.uploads_dir, settings.max_video_bytes, 2 * settings.chunk_bytes)
    app[api.HOST], app[api.STORE], app[api.SETTINGS] = host, store, settings
    app[api.FINISHER] = Finisher(store, host)
    app[MEDIA] = MediaCache(settings.media_dir)
    app[api.WATCHER] = Watcher(host)
    pages.routes(app, settings)
    api.routes(app)
    review.routes(app)
    materials.routes(app)
    cutout.routes(app)
    talk.routes(app)
    live.routes(app)

    async def stop_background(app: web.Application) -> None:
        await app[api.FINISHER].stop()
        await app[api.WATCHER].stop()

    app.on_shutdown.append(stop_background)
    return app


@contextlib.asynccontextmanager
async def running_webapp(settings: WebAppSettings, access: Access, host_address: str, max_message_bytes: int, chunk_bytes: int,
                         host_settings: Settings | None = None) -> AsyncIterator[RunningWebApp]:
    """Serves on settings.host:settings.port (port 0: a free one, named in `url`). The database must be
    open with the bot's tables created (bot.models). `host_settings` carries the channel's TLS and API
    key (the bot's service key); None takes the process's."""
    host = HostClient(host_address, max_message_bytes, chunk_bytes, host_settings)
    runner = web.AppRunner(make_app(settings, host, access), access_log=None)  # a login link's token would be logged
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield RunningWebApp(f"http://{bound_host}:{bound_port}", runner.app)
    finally:
        await runner.cleanup()
        await host.close()

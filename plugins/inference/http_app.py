"""The HTTP front door, for curl and for probes: GET /healthz, GET /metrics (Prometheus text),
POST /render (an audio body, Content-Type audio/* or application/octet-stream, or JSON
{"text": ..., "background": "#RRGGBB"}; ?background=%23RRGGBB with audio) answered with video/mp4; and
the live conversation (plugins/inference/live.py): GET /live (sessions open and the most), POST
/live/offer (a WebRTC offer {"sdp", "type"} answered with {"sdp", "type", "session"}), POST
/live/<session>/say (JSON {"text"} or a recording, answered 202), GET /live/<session> (its
timing so far) and DELETE /live/<session>. The live calls run on the service's event loop, where
the peer connections live.

Errors are JSON {"code", "message", "advice"} with the status plugins/inference/errors.py gives
their code. The stdlib's threading server: one thread per request, the Avatar's render slot
keeps renders one at a time.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from plugins.inference.avatar import Avatar
from plugins.inference.errors import TOO_LARGE, http_status, unexpected
from plugins.inference.live import LiveSessions
from plugins.inference.speech import ACCEPTED, Speech
from plugins.sdk.errors import StageFailed

log = logging.getLogger(__name__)


class InferenceHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a render in progress does not hold the process at shutdown

    def __init__(self, address: tuple[str, int], avatar: Avatar, max_request_bytes: int, scratch: Path | None = None,
                 live: LiveSessions | None = None) -> None:
        super().__init__(address, Handler)
        self.avatar, self.max_request_bytes, self.scratch, self.live = avatar, max_request_bytes, scratch, live
        self.serving = threading.Event()


def speech_of(content_type: str, body: bytes, query: dict[str, list[str]]) -> Speech:
    background = (query.get("background") or [""])[0]
    if content_type == "application/json":
        try:
            fields = json.loads(body or b"{}")
        except ValueError as exc:
            raise StageFailed("no_input", f"the body is not JSON: {exc}", 'send {"text": "..."} or a recording as the body') from None
        if not isinstance(fields, dict) or not isinstance(fields.get("text"), str):
            raise StageFailed("no_input", "the JSON body has no text", 'send {"text": "the words to say"}, or a recording as the body')
        return Speech(text=fields["text"], background=str(fields.get("background") or background))
    if content_type.startswith("audio/") or content_type in ("application/octet-stream", "video/mp4", "video/webm", "video/ogg"):
        return Speech(audio=body, background=background)
    raise StageFailed("no_input", f"Content-Type {content_type or 'missing'} is neither audio/* nor application/json", f"send {ACCEPTED} with Content-Type audio/*, or JSON {{\"text\": ...}}")


class Handler(BaseHTTPRequestHandler):
    server: InferenceHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # the access log would go to stderr unformatted
        return

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/healthz":
            serving = self.server.serving.is_set()
            body = {"status": "serving" if serving else "not_serving", "avatar_id": self.server.avatar.bundle.avatar_id}
            self.reply(HTTPStatus.OK if serving else HTTPStatus.SERVICE_UNAVAILABLE, json.dumps(body).encode(), "application/json")
        elif path == "/metrics":
            self.reply(HTTPStatus.OK, generate_latest(self.server.avatar.metrics.registry), CONTENT_TYPE_LATEST)
        elif path == "/describe":
            self.reply(HTTPStatus.OK, json.dumps(self.server.avatar.describe()).encode(), "application/json")
        elif path == "/live" or path.startswith("/live/"):
            self.live("GET", path, b"")
        else:
            self.failed(StageFailed("not_found", f"there is nothing at {path}", "use GET /healthz, /metrics, /describe, /live or POST /render"), HTTPStatus.NOT_FOUND)

    def do_DELETE(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/live/"):
            self.live("DELETE", path, b"")
        else:
            self.failed(StageFailed("not_found", f"there is nothing to DELETE at {path}", "DELETE /live/<session> ends a live conversation"), HTTPStatus.NOT_FOUND)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/render" and not url.path.startswith("/live/"):
            self.failed(StageFailed("not_found", f"there is nothing to POST at {url.path}", "POST the audio or the text to /render"), HTTPStatus.NOT_FOUND)
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > self.server.max_request_bytes:
            self.close_connection = True  # the body is not read
            self.failed(StageFailed(
                TOO_LARGE, f"the body has {length} bytes; this service takes at most {self.server.max_request_bytes}",
                "send a compressed recording (mp3 or ogg/opus), or a shorter one",
            ))
            return
        body = self.rfile.read(length)
        if url.path.startswith("/live/"):
            self.live("POST", url.path, body)
            return
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            speech = speech_of(content_type, body, parse_qs(url.query))
            with tempfile.TemporaryDirectory(prefix="http-", dir=self.server.scratch) as tmp:
                summary = self.server.avatar.render(speech, Path(tmp), kind="http")
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(Path(summary["path"]).stat().st_size))
                self.send_header("X-Frames", str(summary["frames"]))
                self.send_header("X-Render-Seconds", f"{summary['render_seconds']:.3f}")
                self.end_headers()
                with open(summary["path"], "rb") as video:
                    shutil.copyfileobj(video, self.wfile)
        except StageFailed as exc:
            self.failed(exc)
        except Exception as exc:
            log.exception("render failed")
            self.failed(unexpected(exc))

    def live(self, method: str, path: str, body: bytes) -> None:
        """The live conversation's calls, answered with JSON."""
        sessions = self.server.live
        parts = path.strip("/").split("/")
        try:
            if sessions is None:
                raise StageFailed("live_off", "this service does not hold live conversations", "start it with TWINFORGE_LIVE_SESSIONS above 0")
            if method == "GET" and parts == ["live"]:
                self.reply(HTTPStatus.OK, json.dumps(sessions.describe()).encode(), "application/json")
            elif method == "POST" and parts == ["live", "offer"]:
                offer = json.loads(body or b"{}")
                if not isinstance(offer, dict):
                    raise ValueError("not an object")
                self.reply(HTTPStatus.OK, json.dumps(sessions.call(sessions.open(offer))).encode(), "application/json")
            elif method == "POST" and len(parts) == 3 and parts[2] == "say":
                content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                speech = speech_of(content_type, body, {})
                answer = sessions.call(sessions.say(parts[1], speech.text, speech.audio))
                self.reply(HTTPStatus.ACCEPTED, json.dumps(answer).encode(), "application/json")
            elif method == "GET" and len(parts) == 2:
                self.reply(HTTPStatus.OK, json.dumps(sessions.call(sessions.stats(parts[1]))).encode(), "application/json")
            elif method == "DELETE" and len(parts) == 2:
                sessions.call(sessions.close(parts[1]))
                self.reply(HTTPStatus.OK, json.dumps({"session": parts[1], "closed": True}).encode(), "application/json")
            else:
                self.failed(StageFailed("not_found", f"there is no {method} {path}",
                                        "POST /live/offer, POST /live/<session>/say, GET or DELETE /live/<session>"), HTTPStatus.NOT_FOUND)
        except ValueError as exc:
            self.failed(StageFailed("bad_offer", f"the body is not a JSON object: {exc}", 'send {"sdp": ..., "type": "offer"}'))
        except StageFailed as exc:
            self.failed(exc)
        except Exception as exc:
            log.exception("live call failed")
            self.failed(unexpected(exc))

    def failed(self, error: StageFailed, status: HTTPStatus | None = None) -> None:
        body = json.dumps({"code": error.code, "message": error.message, "advice": error.advice}).encode()
        self.reply(status or http_status(error), body, "application/json")

    def reply(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

"""Resumable uploads of a person's video to the platform's data directory, the way past Telegram's
20 MB limit for bots. Each upload is a file that only ever grows (`<id>.part`; its length is the
offset received, so nothing can disagree with it) and a small JSON record beside it (`<id>.json`:
whose it is, its name and announced size, where it stands). A piece is accepted only at the offset
the file has reached; a refused piece leaves the bytes before it as they were, and a dropped
connection keeps what arrived, so the page asks for the offset and goes on from there."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shutil
import time
from collections.abc import AsyncIterable
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.handlers.upload import VIDEO_SUFFIXES, display_name

UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
RECEIVING, STORING, SUBMITTED, FAILED = "receiving", "storing", "submitted", "failed"
TARGETS = ("current", "again", "new")  # which avatar the video is for (bot.webapp.submit)
FREE_SPACE_MARGIN = 256 * 1024 * 1024  # left free on the disk beside an upload: the database and logs live there too
PIECE_IDLE_S = 30.0  # a piece whose bytes stop coming this long ends where it got to
IDLE_UPLOAD_S = 2 * 86400.0  # an upload nobody added to for this long is removed with its bytes


class UploadError(Exception):
    """A refused request: the HTTP status, a code for the page, the words and what to do; `extra`
    goes into the JSON answer too (the offset the server expects)."""

    def __init__(self, status: int, code: str, words: str, advice: str, **extra: object) -> None:
        super().__init__(words)
        self.status, self.code, self.words, self.advice, self.extra = status, code, words, advice, extra


def megabytes(size: int) -> str:
    if size >= 1024**3:
        return f"{size / 1024**3:.3g} GB"
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{max(1, round(size / 1024))} KB"


@dataclass
class Upload:
    upload_id: str
    user_id: int
    name: str
    size: int
    target: str = "current"
    status: str = RECEIVING
    avatar_id: str = ""
    version: int = 0
    words: str = ""  # why storing it failed, or why it waits to be stored again
    created_at: float = 0.0
    updated_at: float = 0.0


class UploadStore:
    def __init__(self, folder: Path, max_bytes: int, max_piece_bytes: int) -> None:
        self.folder, self.max_bytes, self.max_piece_bytes = folder, max_bytes, max_piece_bytes
        self.locks: dict[str, asyncio.Lock] = {}

    def part(self, upload: Upload) -> Path:
        return self.folder / f"{upload.upload_id}.part"

    def _record(self, upload_id: str) -> Path:
        return self.folder / f"{upload_id}.json"

    def offset(self, upload: Upload) -> int:
        try:
            return self.part(upload).stat().st_size
        except FileNotFoundError:  # stored on the platform and let go here
            return upload.size if upload.status == SUBMITTED else 0

    def save(self, upload: Upload) -> None:
        """Written to a temporary file and renamed over the record, so a crash leaves the old record or the new one."""
        upload.updated_at = time.time()
        temporary = self._record(upload.upload_id).with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(upload)))
        temporary.replace(self._record(upload.upload_id))

    def create(self, user_id: int, name: str, size: int, target: str) -> Upload:
        label = display_name(name, "video.mp4")
        if not label.lower().endswith(VIDEO_SUFFIXES):
            raise UploadError(400, "not_a_video", f"“{label}” is not a video file I can take",
                              "choose a video ending in .mp4, .mov, .mkv or .webm (what a phone or camera records)")
        if size <= 0:
            raise UploadError(400, "empty", "the file is empty", "choose the video again; if it plays on your device, send it from there")
        if size > self.max_bytes:
            raise UploadError(413, "too_big", f"the video is {megabytes(size)}; the largest the check takes is {megabytes(self.max_bytes)}",
                              "record 1 to 5 minutes at 720p or 1080p, or trim it before sending")
        if target not in TARGETS:
            raise UploadError(400, "bad_target", f"“{target}” is not a choice here", f"send one of: {', '.join(TARGETS)}")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.sweep()
        if shutil.disk_usage(self.folder).free < size + FREE_SPACE_MARGIN:
            raise UploadError(507, "no_space", "the platform has no room for this video right now",
                              "try again later, or ask the operator to free disk space")
        now = time.time()
        upload = Upload(secrets.token_hex(16), user_id, label, size, target, created_at=now)
        self.part(upload).touch()
        self.save(upload)
        return upload

    def get(self, upload_id: str, user_id: int) -> Upload:
        """The upload, when it exists and is this person's."""
        record = self._record(upload_id)
        if not UPLOAD_ID.fullmatch(upload_id) or not record.exists():
            raise UploadError(404, "unknown_upload", "this upload is not known here (it may have been removed after two idle days)",
                              "choose the video again to start a new upload")
        upload = Upload(**json.loads(record.read_text()))
        if upload.user_id != user_id:
            raise UploadError(403, "not_yours", "this upload belongs to someone else", "choose your video to start your own upload")
        return upload

    async def append(self, upload: Upload, start: int, end: int, total: int, body: AsyncIterable[bytes]) -> Upload:
        """Writes bytes `start`..`end` (inclusive, as in Content-Range) of the file; returns the upload,
        finished (STORING) once every byte arrived."""
        async with self.locks.setdefault(upload.upload_id, asyncio.Lock()):
            upload = self.get(upload.upload_id, upload.user_id)  # as it is now, after whoever held the lock
            received = self.offset(upload)
            if upload.status != RECEIVING:
                raise UploadError(409, "complete", "every byte of this upload arrived already", "wait for its check result", offset=received)
            if total != upload.size:
                raise UploadError(400, "size_mismatch", f"this piece is of a {total}-byte file; the upload was started for {upload.size} bytes",
                                  "choose the same file again, or start a new upload for this one")
            if start != received:
                raise UploadError(409, "wrong_offset", f"this piece starts at byte {start}, but the upload has {received} bytes",
                                  f"send from byte {received}", offset=received)
            length = end - start + 1
            if end < start or end >= upload.size:
                raise UploadError(400, "bad_range", f"bytes {start}-{end} are not inside the {upload.size}-byte file",
                                  "send Content-Range: bytes START-END/SIZE", offset=received)
            if length > self.max_piece_bytes:
                raise UploadError(413, "piece_too_big", f"a piece may be at most {megabytes(self.max_piece_bytes)}",
                                  "send the file in smaller pieces", offset=received)
            written = await self._write(upload, start, length, body)
            if written == length and start + written == upload.size:
                upload.status = STORING
                self.save(upload)
            return upload

    async def _write(self, upload: Upload, start: int, length: int, body: AsyncIterable[bytes]) -> int:
        """Appends the piece as it arrives, unbuffered, so that the offset anyone reads is what is on disk;
        more bytes than announced are cut back off, so the file is what it was. A connection that goes
        quiet for PIECE_IDLE_S ends the piece (a phone that lost its signal never says goodbye) and lets
        the next try in."""
        written = 0
        pieces = aiter(body)
        with self.part(upload).open("r+b", buffering=0) as out:
            out.seek(start)
            while True:
                try:
                    data = await asyncio.wait_for(anext(pieces), PIECE_IDLE_S)
                except (StopAsyncIteration, TimeoutError):
                    return written
                if written + len(data) > length:
                    out.truncate(start)
                    raise UploadError(400, "piece_too_long", f"the piece holds more than the {length} bytes its Content-Range announces",
                                      "send exactly the bytes Content-Range names", offset=start)
                out.write(data)
                written += len(data)

    def release(self, upload: Upload) -> None:
        """The bytes are stored on the platform: the copy here goes."""
        self.part(upload).unlink(missing_ok=True)

    def sweep(self, now: float | None = None) -> None:
        """Removes uploads nobody added to for IDLE_UPLOAD_S, bytes and all."""
        limit = (now or time.time()) - IDLE_UPLOAD_S
        for record in self.folder.glob("*.json"):
            if record.stat().st_mtime < limit:
                record.with_suffix(".part").unlink(missing_ok=True)
                record.unlink(missing_ok=True)

"""Follows the notifications of every avatar the bot serves and turns them into the conversation:
stage messages edited in place (with the place in the queue), the training loss chart, the intake
report with its frames, the materials to pick, the cut-out to edit, the preview to review, the
deployment.

One task per followed avatar reads WatchNotifications from the last notification delivered to its
chat (stored after each one), so after a bot restart, or a lost connection to the host, it resumes
where it stopped: what arrived meanwhile is delivered, each notification once."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import av
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError
from aiogram.types import BufferedInputFile, InputMediaPhoto

from bot import acting, chart, keyboards, materials, picking, state
from bot.catalogue import say, stage_name
from bot.host_client import HostClient, HostError, payload
from bot.models import FollowedAvatar
from bot.progress import Pacer, progress_text
from bot.report import adjustment, intake_report, thumbnails, verdict_lines
from host.storage.models import utcnow
from twinforge.host.v1 import host_service_pb2 as host_pb

log = logging.getLogger(__name__)
INTAKE_STAGE = "video_analysis"
VIDEO_KIND = "video"
RECONNECT_S = (0.5, 1, 2, 5, 10)
TEXT_LIMIT = 4000  # Telegram's message limit is 4096 characters
CHART_EVERY_S = 180.0  # least time between two refreshes of a run's loss chart
ENDED = ("stage_succeeded", "stage_failed", "stage_cancelled")
GONE = "unknown_avatar"  # the host's error code for an avatar that does not exist (any more)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """A long text as messages within Telegram's limit, cut between lines."""
    parts, current = [], ""
    for line in text.split("\n"):
        if current and len(current) + len(line) + 1 > limit:
            parts.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line[:limit]
    return parts + [current] if current else parts


@dataclass
class LossChart:
    """A training run's chart as shown: the losses so far and the photo message that shows them.
    Held in memory: after a restart a run's chart starts again from the metrics that follow."""

    series: chart.Series = field(default_factory=dict)
    message: tuple[int, int] | None = None  # chat, message
    shown_at: float = 0.0
    shown_points: int = 0

    @property
    def points(self) -> int:
        return sum(len(values) for values in self.series.values())


class Follower:
    def __init__(self, bot: Bot, host: HostClient, pacer: Pacer, chart_every_s: float = CHART_EVERY_S, remind_after_s: float = 0.0) -> None:
        """`remind_after_s`: how long after a preview its first reminder is due (0: none)."""
        self.bot, self.host, self.pacer, self.chart_every_s, self.remind_after_s = bot, host, pacer, chart_every_s, remind_after_s
        self.tasks: dict[str, asyncio.Task] = {}
        self.charts: dict[str, LossChart] = {}

    def resume(self) -> None:
        """Follows again every avatar followed before the restart."""
        for row in state.followed():
            self._start(row.avatar_id)

    def follow(self, avatar_id: str, user_id: int, chat_id: int) -> None:
        state.follow(avatar_id, user_id, chat_id)
        self._start(avatar_id)

    def forget(self, avatar_id: str) -> None:
        """Stops following a deleted avatar and forgets it."""
        task = self.tasks.pop(avatar_id, None)
        if task is not None:
            task.cancel()
        self.charts.pop(avatar_id, None)
        state.forget_avatar(avatar_id)

    def _start(self, avatar_id: str) -> None:
        if avatar_id not in self.tasks or self.tasks[avatar_id].done():
            self.tasks[avatar_id] = asyncio.create_task(self._follow(avatar_id), name=f"follow {avatar_id}")

    async def stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        for task in self.tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks.clear()

    async def _follow(self, avatar_id: str) -> None:
        failures = 0
        while True:
            row = state.followed_avatar(avatar_id)
            if row is None:  # forgotten meanwhile (deleted from the web app)
                return
            acting.act_for(row.user_id)
            try:
                async for notification in self.host.watch(avatar_id, row.last_seq):
                    failures = 0
                    try:
                        await self.deliver(row, notification)
                    except HostError as exc:
                        await self._send(row, say("host_error", self._language(row), reason=exc.words))
                    except TelegramNetworkError:
                        raise  # Telegram unreachable: retried from this notification
                    except TelegramAPIError as exc:  # refused for good (e.g. the person blocked the bot): skipped, not retried forever
                        log.warning("notification %s of %s not delivered: %s", notification.seq, avatar_id, exc.message)
                    state.delivered(avatar_id, notification.seq)
            except HostError as exc:
                if exc.code == GONE:  # deleted elsewhere (the web app, the CLI): nothing more comes, nothing is left to remind of
                    log.info("%s was deleted; no longer following it", avatar_id)
                    state.forget_avatar(avatar_id)
                    return
                log.warning("following %s: %s; reconnecting", avatar_id, exc.words)
            except Exception:
                log.exception("following %s failed; reconnecting", avatar_id)
            await asyncio.sleep(RECONNECT_S[min(failures, len(RECONNECT_S) - 1)])
            failures += 1

    def _language(self, row: FollowedAvatar) -> str:
        person = state.user(row.user_id)
        return person.language if person else "en"

    async def _send(self, row: FollowedAvatar, text: str, **kwargs) -> None:
        for part in split_text(text):
            await self.bot.send_message(row.chat_id, part, **kwargs)

    async def deliver(self, row: FollowedAvatar, n: host_pb.Notification) -> None:
        language = self._language(row)
        data = payload(n)
        kind = n.kind
        if kind in ("avatar_approved", "avatar_rejected"):
            state.reviewed(n.avatar_id, n.run_id)  # answered, here or elsewhere: no reminder of it
        if kind.startswith("stage_") and kind.removeprefix("stage_") in ("queued", "position", "running", "progress", "succeeded", "failed", "cancelled"):
            await self._stage_message(row, n, data, language)
        if kind == "stage_metric" and chart.is_loss(data.get("name", "")):
            await self._loss(row, n, data, language)
        elif kind in ENDED and n.run_id in self.charts:
            await self._show_chart(row, n, self.charts.pop(n.run_id), language)
        if kind in ("stage_succeeded", "stage_failed") and n.stage == INTAKE_STAGE and data.get("summary", {}).get("measures"):
            await self._intake(row, n, data["summary"], language)
        elif kind == "stage_succeeded" and n.stage in (materials.CUTOUT_STAGE, materials.EDIT_STAGE):
            await self._cutout(row, n, language)
        elif kind == "stage_succeeded" and n.stage == picking.STAGE:
            await self._picking(row, n, language)
        elif kind == "stage_failed":
            error = data.get("error", {})
            await self._send(row, say("stage_error", language, stage=stage_name(n.stage, language),
                                      message=error.get("message", ""), advice=error.get("advice", "")))
        elif kind == "artifact_quarantined":
            await self._send(row, say("artifact_quarantined", language, stage=stage_name(n.stage, language),
                                      message=data.get("message", ""), advice=data.get("advice", "")))
        elif kind == "flow_blocked":
            await self._send(row, say("flow_blocked", language, stage=stage_name(data.get("after_stage", ""), language),
                                      message=data.get("message", ""), advice=data.get("advice", "")))
        elif kind in ("preview_ready", "evaluation_below_limits"):
            await self._review(row, n, data, language)
        elif kind == "avatar_approved" and data.get("by") != state.owner_of(row.user_id):
            await self._send(row, say("approved_elsewhere", language, by=data.get("by", "")))
        elif kind == "avatar_rejected" and data.get("by") != state.owner_of(row.user_id):
            await self._send(row, say("rejected_elsewhere", language, by=data.get("by", ""),
                                      adjustment=adjustment(data.get("reason", ""), bool(data.get("retrain_generation")), language,
                                                            data.get("adjustment", ""))))
        elif kind == "operator_answered":
            await self._operator_answered(row, n, data, language)
        elif kind == "avatar_deployed":
            await self._send(row, say("live", language))
        elif kind == "avatar_undeployed":
            await self._send(row, say("undeployed", language))

    async def _operator_answered(self, row: FollowedAvatar, n: host_pb.Notification, data: dict, language: str) -> None:
        """The operator's answer to the person's words (host/operator_tasks.py): a retrain is under
        way, or the round is theirs to judge again, with its buttons and its reminders, or (a newer
        round came meanwhile) only the words."""
        name = (await self.host.avatar(n.avatar_id)).name
        outcome = data.get("outcome", "answer")
        words = {"name": name, "text": data.get("text", ""), "answer": data.get("answer", "")}
        if outcome != "reopen":
            await self._send(row, say("operator_retrained" if outcome == "retrain" else "operator_answered", language, **words))
            return
        passed = bool(data.get("passed"))
        if self.remind_after_s > 0:
            state.review_waits(n.avatar_id, row.user_id, row.chat_id, n.run_id, passed, utcnow() + dt.timedelta(seconds=self.remind_after_s))
        await self._send(row, say("operator_reopened", language, **words),
                         reply_markup=keyboards.review(row.user_id, n.avatar_id, n.run_id, language, can_approve=passed))

    async def _stage_message(self, row: FollowedAvatar, n: host_pb.Notification, data: dict, language: str) -> None:
        """Creates the run's message on its first notification, then edits it through the pacer."""
        step = n.kind.removeprefix("stage_")
        if step == "progress":
            text = progress_text(n.stage, data, language)
        elif step == "position":
            text = say("stage_position", language, stage=stage_name(n.stage, language), position=data.get("position", 0), of=data.get("of", 0))
        else:
            text = say(f"stage_{step}", language, stage=stage_name(n.stage, language))
        existing = state.stage_message(n.run_id)
        if existing is None:
            sent = await self.bot.send_message(row.chat_id, text)
            state.keep_stage_message(n.run_id, row.chat_id, sent.message_id)
        else:
            self.pacer.edit(existing.chat_id, existing.message_id, text)

    async def _cutout(self, row: FollowedAvatar, n: host_pb.Notification, language: str) -> None:
        """The current version's preview and edit buttons; a version that is no longer current
        (a replay after a restart) is not shown again."""
        versions = await self.host.material_versions(n.avatar_id)
        current = next((v for v in versions if v.current), None)
        if current is None or current.run_id != n.run_id:
            return
        preview = next((f for f in current.files if f.kind == materials.PREVIEW_KIND), None)
        markup = materials.keyboard(row.user_id, n.avatar_id, versions, current, materials.cutout_summary(await self.host.runs(n.avatar_id)), language)
        if preview is None:
            await self._send(row, materials.caption(current, language), reply_markup=markup)
            return
        video = await self.host.download(preview.key)
        await self.bot.send_video(row.chat_id, BufferedInputFile(video, "cutout.mp4"), caption=materials.caption(current, language), reply_markup=markup)

    async def _loss(self, row: FollowedAvatar, n: host_pb.Notification, data: dict, language: str) -> None:
        """Adds the point; the chart is sent with the first one and refreshed at most every `chart_every_s`."""
        shown = self.charts.setdefault(n.run_id, LossChart())
        shown.series.setdefault(data["name"], []).append((int(data.get("step", 0)), float(data.get("value", 0.0))))
        if shown.message is None or time.monotonic() - shown.shown_at >= self.chart_every_s:
            await self._show_chart(row, n, shown, language)

    async def _show_chart(self, row: FollowedAvatar, n: host_pb.Notification, shown: LossChart, language: str) -> None:
        if shown.points == shown.shown_points:
            return
        step = max(s for values in shown.series.values() for s, _ in values)
        picture = await asyncio.to_thread(chart.loss_chart, shown.series, f"{n.stage}: loss")  # OpenCV's font draws ASCII only
        caption = say("loss_chart", language, stage=stage_name(n.stage, language), step=step)
        photo = BufferedInputFile(picture, "loss.png")
        if shown.message is None:
            sent = await self.bot.send_photo(row.chat_id, photo, caption=caption)
            shown.message = (row.chat_id, sent.message_id)
        else:
            chat_id, message_id = shown.message
            await self.bot.edit_message_media(InputMediaPhoto(media=photo, caption=caption), chat_id=chat_id, message_id=message_id)
        shown.shown_at, shown.shown_points = time.monotonic(), shown.points

    async def _run(self, n: host_pb.Notification) -> host_pb.StageRun | None:
        return next((r for r in await self.host.runs(n.avatar_id) if r.run_id == n.run_id), None)

    async def _intake(self, row: FollowedAvatar, n: host_pb.Notification, summary: dict, language: str) -> None:
        """A strip of frames from the checked video, then the report; a video that cannot be
        decoded (a reason the check fails) gets the report alone."""
        run = await self._run(n)
        video = next((a for a in run.inputs if a.kind == VIDEO_KIND), None) if run else None
        if video is not None:
            with tempfile.TemporaryDirectory(prefix="twinforge-bot-") as folder:
                path = await self.host.download_to(video.key, Path(folder) / "video")
                try:
                    strip = await asyncio.to_thread(thumbnails, path)
                except (ValueError, av.FFmpegError) as exc:
                    log.info("no thumbnails of run %s: %s", n.run_id, exc)
                else:
                    await self.bot.send_photo(row.chat_id, BufferedInputFile(strip, "frames.jpg"),
                                              caption=say("intake_strip", language, version=run.submission_version))
        await self._send(row, intake_report(summary, language))

    async def _picking(self, row: FollowedAvatar, n: host_pb.Notification, language: str) -> None:
        await self._offer(row, await self._run(n), "pick_intro", language)

    async def offer_materials(self, avatar_id: str, intro: str) -> bool:
        """The newest proposal of the avatar's materials again, after `intro` (a catalogue key): the way
        to another driving clip for a person who said the clip is wrong. False when there is none."""
        row = state.followed_avatar(avatar_id)
        newest = picking.newest_proposal(await self.host.runs(avatar_id))
        if row is None or newest is None:
            return False
        return await self._offer(row, newest, intro, self._language(row))

    async def _offer(self, row: FollowedAvatar, run: host_pb.StageRun | None, intro: str, language: str) -> bool:
        """The proposed driving clips (each a short video) and covers (each a photo), each with its button."""
        proposed = next((a for a in run.outputs if a.kind == picking.MATERIALS_KIND), None) if run else None
        video = next((a for a in run.inputs if a.kind == VIDEO_KIND), None) if run else None
        if proposed is None or video is None:
            return False
        found = json.loads(await self.host.download(proposed.key))
        offered = picking.candidates(found)
        if not offered:
            return False
        await self._send(row, say(intro, language))
        with tempfile.TemporaryDirectory(prefix="twinforge-bot-") as folder:
            path = await self.host.download_to(video.key, Path(folder) / "video")
            for candidate in offered:
                made = await asyncio.to_thread(picking.preview, candidate, path)
                caption = picking.caption(candidate, found, language)
                markup = picking.keyboard(row.user_id, row.avatar_id, run.run_id, candidate, language)
                if candidate.kind == "driving":
                    await self.bot.send_video(row.chat_id, BufferedInputFile(made, f"{candidate.entry['id']}.mp4"), caption=caption, reply_markup=markup)
                else:
                    await self.bot.send_photo(row.chat_id, BufferedInputFile(made, f"{candidate.entry['id']}.jpg"), caption=caption, reply_markup=markup)
        return True

    async def _review(self, row: FollowedAvatar, n: host_pb.Notification, data: dict, language: str) -> None:
        """The round's preview with its verdict buttons (the round's evaluation run is their scope),
        and a reminder due if the person does not answer (bot.reminders)."""
        words = "\n".join(verdict_lines(data.get("results") or {}, data.get("words", []), language))
        passed = n.kind == "preview_ready"
        if self.remind_after_s > 0:
            state.review_waits(n.avatar_id, row.user_id, row.chat_id, n.run_id, passed, utcnow() + dt.timedelta(seconds=self.remind_after_s))
        if not passed:
            await self._send(row, say("below_limits", language, words=words),
                             reply_markup=keyboards.review(row.user_id, n.avatar_id, n.run_id, language, can_approve=False))
            return
        caption = say("preview", language, words=words)
        markup = keyboards.review(row.user_id, n.avatar_id, n.run_id, language)
        if not data.get("preview"):
            await self._send(row, caption, reply_markup=markup)
            return
        video = await self.host.download(data["preview"])
        if data.get("voice_preview"):
            voiced = await self.host.download(data["voice_preview"])
            await self.bot.send_video(row.chat_id, BufferedInputFile(voiced, "another_voice.mp4"),
                                      caption=say("voice_preview", language, voice=data.get("voice", "")))
        if len(caption) > 1024:  # a caption holds 1024 characters; the words then follow as a message
            await self.bot.send_video(row.chat_id, BufferedInputFile(video, "preview.mp4"))
            await self._send(row, caption, reply_markup=markup)
        else:
            await self.bot.send_video(row.chat_id, BufferedInputFile(video, "preview.mp4"), caption=caption, reply_markup=markup)

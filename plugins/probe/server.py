"""`probe`: opens a video with PyAV and reports its container and stream facts as an artifact.

The worked example of the plugin author's guide: a description, a run that reads an input,
reports progress, and saves one artifact.
"""

from __future__ import annotations

import json
from fractions import Fraction

import av

from plugins.sdk.context import RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main


def stream_facts(stream: av.stream.Stream) -> dict:
    facts = {"index": stream.index, "type": stream.type, "codec": stream.codec_context.name}
    if stream.duration is not None and stream.time_base:
        facts["duration_s"] = float(stream.duration * stream.time_base)
    if stream.type == "video":
        rate = stream.average_rate or Fraction(0)
        facts |= {"width": stream.codec_context.width, "height": stream.codec_context.height, "fps": float(rate)}
    elif stream.type == "audio":
        facts |= {"sample_rate": stream.codec_context.sample_rate, "channels": stream.codec_context.channels}
    return facts


class Probe(Plugin):
    name = "probe"
    version = "1.0.0"
    stages = ("probe",)
    description = "Container and stream facts of a video, read with PyAV."

    def run(self, ctx: RunContext) -> None:
        video = ctx.input("video")
        ctx.progress(0.1, "opening the video")
        try:
            with av.open(str(video)) as container:
                facts = {
                    "container": container.format.name,
                    "duration_s": container.duration / av.time_base if container.duration else None,
                    "streams": [stream_facts(s) for s in container.streams],
                }
        except (av.error.FFmpegError, UnicodeDecodeError) as exc:
            raise StageFailed("unreadable_video", f"the file cannot be read as a video: {exc}", "send an MP4, MOV, MKV or WebM file straight from the camera") from exc
        report = ctx.workdir / "probe.json"
        report.write_text(json.dumps(facts, indent=2))
        ctx.save_artifact(report, "probe.json", "probe_report")
        ctx.summary = facts
        ctx.progress(1.0, "done")


if __name__ == "__main__":
    main(Probe())

"""`tts`: a text turned into speech, stored as an `audio` artifact (speech.wav) that the lip-sync
stages take as the sound the avatar speaks."""

from __future__ import annotations

from host.settings import get_settings
from plugins.media.audio import read_wav
from plugins.sdk.context import RunContext
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main
from plugins.tts.speech import ENGINES, resolve_engine, speak

OUTPUT_NAME = "speech.wav"
OUTPUT_KIND = "audio"


class Tts(Plugin):
    name = "tts"
    version = "1.0.0"
    stages = ("tts",)
    description = "Text to speech: piper's natural English voice when installed, espeak-ng otherwise."
    cpu_cores = 1.0
    memory_bytes = 512 * 1024**2  # piper's 63 MB voice in onnxruntime
    parameters_schema = {
        "type": "object",
        "properties": {
            "text": {"type": "string", "description": "What the avatar says."},
            "engine": {"type": "string", "enum": list(ENGINES), "description": "Defaults to TWINFORGE_TTS_ENGINE."},
        },
        "required": ["text"],
        "additionalProperties": False,
    }

    def run(self, ctx: RunContext) -> None:
        engine = resolve_engine(ctx.parameters.get("engine") or get_settings().tts_engine)
        ctx.progress(0.05, f"speaking with {engine}")
        path = speak(ctx.parameters["text"], ctx.workdir, engine)
        samples, rate = read_wav(path)
        ctx.summary = {"engine": engine, "seconds": round(samples.size / rate, 3), "sample_rate": rate}
        ctx.save_artifact(path, OUTPUT_NAME, OUTPUT_KIND, ctx.summary)
        ctx.progress(1.0, "done")


if __name__ == "__main__":
    main(Tts())

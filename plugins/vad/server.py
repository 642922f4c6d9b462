"""`vad`: which frames of the video carry speech.

Silero's voice activity model (the ONNX export bundled in the silero-vad package, run as the intake
check runs it) gives a speech probability per 32 ms of the sound, ten seconds of sound per chunk
so that a crash resumes where it stopped; the probabilities are then averaged over each video
frame and turned into a speech flag per frame (plugins/vad/mask.py). The output, `speech.npz`
(kind `speech_mask`), holds `probability` float32[N] and `speech` bool[N] for the N frames, with
`fps` and `frame_count` (docs/preprocessing.md).
"""

from __future__ import annotations

import numpy as np

from plugins.audio_features.sound import fitted_sound
from plugins.sdk.video import video_info
from plugins.sdk import chunks
from plugins.sdk.context import RunContext
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main
from plugins.vad.mask import frame_probabilities, speech_mask
from plugins.vad.windows import WINDOW_S, window_count, window_probabilities
from plugins.video_analysis.detectors import VoiceActivity

OUTPUT_NAME = "speech.npz"
OUTPUT_KIND = "speech_mask"
CHUNK_WINDOWS = 312  # about 10 s of sound
CHECKPOINT_EVERY_S = chunks.CHECKPOINT_EVERY_S


class Vad(Plugin):
    name = "vad"
    version = "1.0.0"
    stages = ("vad",)
    description = "Speech probability and a speech flag per video frame, from silero's voice activity model."
    cpu_cores = 1.0  # onnxruntime on one thread
    memory_bytes = 512 * 1024**2  # the sound (4 MB a minute), the model and onnxruntime: about 170 MB measured
    parameters_schema = {"type": "object", "properties": {}, "additionalProperties": False}

    def run(self, ctx: RunContext) -> None:
        video = ctx.input("video")
        ctx.progress(0.01, "reading the sound")
        info = video_info(video)
        samples = fitted_sound(video, info)
        vad = VoiceActivity()
        _, rows = chunks.run_in_chunks(
            ctx,
            window_count(samples.size),
            CHUNK_WINDOWS,
            lambda first, stop: {"probability": window_probabilities(vad, samples, first, stop)},
            chunks.fingerprint(ctx, self.version),
            "finding speech (32 ms windows)",
            start_fraction=0.05,
            end_fraction=0.95,
            checkpoint_every_s=CHECKPOINT_EVERY_S,
        )
        probability = frame_probabilities(rows["probability"], WINDOW_S, info.fps, info.frame_count)
        speech = speech_mask(probability, info.fps)
        share = float(speech.mean()) if speech.size else 0.0
        if not speech.any():
            ctx.log("no speech was found in the sound: the avatar has nothing to learn lip sync from", "warning")
        path = ctx.workdir / OUTPUT_NAME
        np.savez(path, probability=probability, speech=speech, fps=np.float64(info.fps), frame_count=np.int64(info.frame_count))
        metadata = {"fps": info.fps, "frame_count": info.frame_count, "speech_share": round(share, 4)}
        ctx.save_artifact(path, OUTPUT_NAME, OUTPUT_KIND, metadata)
        ctx.summary = metadata | {"speech_seconds": round(float(speech.sum()) / info.fps, 2)}
        ctx.progress(1.0, f"speech in {share:.0%} of the frames")


if __name__ == "__main__":
    main(Vad())

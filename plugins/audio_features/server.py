"""`audio_features`: the video's sound for training, as a wav and as Whisper's log-mel spectrogram.

`audio.wav` (kind `audio`) is the sound from the video's time 0 to the end of its last frame,
16 kHz mono 16-bit PCM (plugins/audio_features/sound.py). `log_mel.npz` (kind `audio_features`,
extractor `log_mel`) holds `features` float32[T, 80], Whisper's log-mel spectrogram of exactly the
samples in audio.wav (plugins/audio_features/log_mel.py), at `rate` = 100 rows per second, with
`fps` and `frame_count`. Row r is centred on 10 r ms, so video frame i goes with row
round(i * 100 / fps); the sound is fitted to the frames, so that row always exists.

The spectrogram is computed ten seconds of rows per chunk, saved as the run's checkpoint as it
grows, and resumed after a crash (docs/preprocessing.md).
"""

from __future__ import annotations

import numpy as np

from plugins.audio_features import log_mel
from plugins.audio_features.sound import fitted_sound
from plugins.sdk.video import video_info
from plugins.media.audio import SAMPLE_RATE, read_wav, write_wav
from plugins.sdk import chunks
from plugins.sdk.context import RunContext
from plugins.sdk.plugin import Plugin
from plugins.sdk.server import main

WAV_NAME = "audio.wav"
WAV_KIND = "audio"
FEATURES_NAME = "log_mel.npz"
FEATURES_KIND = "audio_features"
EXTRACTOR = "log_mel"
CHUNK_ROWS = 1000  # 10 s of sound
CHECKPOINT_EVERY_S = chunks.CHECKPOINT_EVERY_S


class AudioFeatures(Plugin):
    name = "audio_features"
    version = "1.0.0"
    stages = ("audio_features",)
    description = "The video's sound as a 16 kHz wav and as Whisper's 80-band log-mel spectrogram, 100 rows a second."
    cpu_cores = 1.0
    memory_bytes = 512 * 1024**2  # the sound (4 MB a minute) and its spectrogram (2 MB a minute)
    parameters_schema = {"type": "object", "properties": {}, "additionalProperties": False}

    def run(self, ctx: RunContext) -> None:
        video = ctx.input("video")
        ctx.progress(0.01, "reading the sound")
        info = video_info(video)
        sound = fitted_sound(video, info)
        wav = ctx.workdir / WAV_NAME
        write_wav(wav, sound)
        # The features come from the samples as stored in the wav, so anyone can recompute them from it.
        samples, _ = read_wav(wav)
        padded = log_mel.padded(samples)
        _, rows = chunks.run_in_chunks(
            ctx,
            log_mel.row_count(samples.size),
            CHUNK_ROWS,
            lambda first, stop: {"log_power": log_mel.log_power_rows(padded, first, stop)},
            chunks.fingerprint(ctx, self.version),
            "computing the log-mel spectrogram (10 ms rows)",
            start_fraction=0.05,
            end_fraction=0.95,
            checkpoint_every_s=CHECKPOINT_EVERY_S,
        )
        features = log_mel.normalized(rows["log_power"])
        path = ctx.workdir / FEATURES_NAME
        np.savez(
            path, features=features, rate=np.int64(log_mel.RATE), fps=np.float64(info.fps), frame_count=np.int64(info.frame_count)
        )
        timing = {"fps": info.fps, "frame_count": info.frame_count}
        wav_facts = {"sample_rate": SAMPLE_RATE, "samples": int(samples.size)}
        ctx.save_artifact(wav, WAV_NAME, WAV_KIND, wav_facts | timing)
        ctx.save_artifact(path, FEATURES_NAME, FEATURES_KIND, {"extractor": EXTRACTOR, "rate": log_mel.RATE} | timing)
        seconds = round(samples.size / SAMPLE_RATE, 3)
        ctx.summary = {"rows": int(features.shape[0]), "rate": log_mel.RATE, "seconds": seconds} | timing
        ctx.progress(1.0, f"{features.shape[0]} log-mel rows")


if __name__ == "__main__":
    main(AudioFeatures())

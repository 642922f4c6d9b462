"""Text to speech with the real engines (espeak-ng from Debian, piper from the optional `tts` extra):
speech that the voice activity detector hears, longer for longer text, the `tts` stage run in
process on a local blob store, and each refusal in words a person can act on. Also: the voice
messages a person sends instead of text (Telegram's OGG Opus, and MP3) decode to the right sound."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from bench.preprocess import run_stage
from host.settings import get_settings
from host.storage.local import LocalBlobStore
from plugins.lipsync.sync_measure import speech_frames
from plugins.media.audio import SAMPLE_RATE, read_audio
from plugins.sdk.errors import StageFailed
from plugins.tts.engines import piper_installed, piper_voice, speak_espeak
from plugins.tts.languages import language_of
from plugins.tts.server import OUTPUT_KIND, OUTPUT_NAME, Tts
from plugins.tts.speech import MAX_CHARACTERS, speak
from tests.fixtures.services import require_samples

SENTENCE = "The quick brown fox jumps over the lazy dog, and then it runs back home before the rain starts."
FPS = 25


def wav_facts(path: Path) -> tuple[int, int]:
    """Channels and sample rate, as the file's header says."""
    with wave.open(str(path), "rb") as source:
        return source.getnchannels(), source.getframerate()


def speech_share(path: Path) -> float:
    """Share of the sound's 40 ms frames that the vad stage would flag as speech."""
    samples = read_audio(path)
    count = int(samples.size / SAMPLE_RATE * FPS)
    return float(speech_frames(samples, FPS, count).mean())


def test_espeak_speaks_a_sentence_the_voice_detector_hears(tmp_path):
    path = speak(SENTENCE, tmp_path, "espeak")
    assert wav_facts(path) == (1, 22050)
    seconds = read_audio(path).size / SAMPLE_RATE
    assert 3.0 < seconds < 12.0
    assert speech_share(path) > 0.7


def test_speech_grows_with_the_text(tmp_path):
    short = read_audio(speak("Hello there.", tmp_path, "espeak")).size
    long = read_audio(speak(" ".join([SENTENCE] * 3), tmp_path, "espeak")).size
    assert long > 5 * short


def test_chinese_text_is_spoken_by_the_mandarin_voice(tmp_path):
    """A Chinese text goes to espeak-ng's `cmn` voice whatever engine was asked for (piper's voice is
    English only); the English voice would spell each character out as "Chinese letter", much longer."""
    text = "你好，这是我的数字分身在说话。"
    assert (language_of(text), language_of("Hello, 你好"), language_of(SENTENCE)) == ("zh", "zh", "en")
    path = speak(text, tmp_path, "auto")
    assert path.name.startswith("speech-espeak-") and wav_facts(path) == (1, 22050)
    samples = read_audio(path)
    assert 1.5 < samples.size / SAMPLE_RATE < 8.0
    assert float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) > 0.01 and speech_share(path) > 0.5
    spelled = tmp_path / "spelled.wav"
    speak_espeak(text, spelled, voice="en-us")
    assert read_audio(spelled).size > 1.5 * samples.size


@pytest.mark.skipif(not piper_installed(), reason="piper is not installed: the optional `tts` extra (pip install 'twinforge[tts]')")
def test_piper_speaks_with_one_voice_loaded_once(tmp_path):
    first = speak(SENTENCE, tmp_path, "piper")
    second = speak("Hello there.", tmp_path, "piper")
    assert first != second
    assert wav_facts(first) == (1, 22050)
    assert 3.0 < read_audio(first).size / SAMPLE_RATE < 12.0
    assert speech_share(first) > 0.7
    assert piper_voice() is piper_voice()
    assert speak(SENTENCE, tmp_path, "auto").name.startswith("speech-piper-")


def test_the_tts_stage_stores_the_speech_with_its_facts(tmp_path):
    blobs = LocalBlobStore(tmp_path / "blobs")
    _, (audio,) = run_stage(Tts(), [], blobs, tmp_path, {"text": SENTENCE, "engine": "espeak"})
    assert (audio.ref.kind, audio.ref.name) == (OUTPUT_KIND, OUTPUT_NAME)
    facts = json.loads(audio.ref.metadata_json)
    assert facts["engine"] == "espeak" and facts["sample_rate"] == 22050
    assert facts["seconds"] == pytest.approx(read_audio(audio.path).size / SAMPLE_RATE, abs=0.01)


def test_the_tts_stage_takes_the_engine_from_the_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("TWINFORGE_TTS_ENGINE", "espeak")
    get_settings.cache_clear()
    try:
        _, (audio,) = run_stage(Tts(), [], LocalBlobStore(tmp_path / "blobs"), tmp_path, {"text": "Good morning."})
    finally:
        get_settings.cache_clear()
    assert json.loads(audio.ref.metadata_json)["engine"] == "espeak"


@pytest.mark.parametrize(
    ("text", "engine", "code", "words"),
    [
        ("", "espeak", "empty_text", "empty"),
        ("  \n\t ", "auto", "empty_text", "empty"),
        ("a" * (MAX_CHARACTERS + 1), "espeak", "text_too_long", f"at most {MAX_CHARACTERS}"),
        ("Hello.", "festival", "unknown_tts_engine", "auto, piper, espeak"),
    ],
)
def test_bad_requests_are_refused_with_advice(tmp_path, text, engine, code, words):
    with pytest.raises(StageFailed) as failed:
        speak(text, tmp_path, engine)
    assert failed.value.code == code
    assert words in failed.value.message + failed.value.advice
    assert list(tmp_path.iterdir()) == []


def test_a_missing_espeak_is_named_with_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(StageFailed) as failed:
        speak("Hello.", tmp_path, "espeak")
    assert failed.value.code == "tts_engine_missing"
    assert "apt-get install espeak-ng" in failed.value.advice


def test_no_engine_at_all_suggests_installing_one_or_sending_a_recording(tmp_path):
    """A fresh interpreter where neither piper can be imported nor espeak-ng found on the PATH: a
    machine without the `tts` extra and without the Debian package."""
    script = (
        "import sys; sys.modules['piper'] = None\n"
        "from pathlib import Path\n"
        "from plugins.sdk.errors import StageFailed\n"
        "from plugins.tts.speech import speak\n"
        "try:\n"
        f"    speak('Hello.', Path({str(tmp_path)!r}))\n"
        "except StageFailed as exc:\n"
        "    print(exc.code); print(exc.advice)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env={"PATH": str(tmp_path)}, cwd=Path(__file__).resolve().parents[2],
        capture_output=True, text=True, timeout=60, check=True,
    )
    code, advice = done.stdout.splitlines()
    assert code == "tts_engine_missing"
    assert "espeak-ng" in advice and "twinforge[tts]" in advice and "voice message" in advice


VOICE_MESSAGES = {
    # What Telegram's apps send: Opus in OGG, mono, 48 kHz, at a voice bit rate.
    "ogg-opus": ("voice.ogg", ["-ar", "48000", "-c:a", "libopus", "-b:a", "32k", "-application", "voip"]),
    "mp3": ("voice.mp3", ["-ar", "44100", "-c:a", "libmp3lame", "-b:a", "64k"]),
}


@pytest.mark.samples
@pytest.mark.parametrize("kind", ["ogg-opus", "mp3"])
def test_voice_messages_decode_to_the_recorded_sound(tmp_path, kind):
    source = require_samples() / "drive_speech_8s_c.wav"
    name, codec = VOICE_MESSAGES[kind]
    message = tmp_path / name
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-ac", "1", *codec, str(message)], check=True, timeout=60)
    original, decoded = read_audio(source), read_audio(message)
    assert decoded.size / SAMPLE_RATE == pytest.approx(original.size / SAMPLE_RATE, abs=0.01)
    middle = slice(SAMPLE_RATE, 7 * SAMPLE_RATE)
    lags = range(-800, 801)
    best = max(lags, key=lambda lag: float(np.dot(original[middle], decoded[middle.start + lag : middle.stop + lag])))
    assert abs(best) <= 16, f"the decoded sound is {best / SAMPLE_RATE * 1000:.1f} ms late"
    assert np.corrcoef(original[middle], decoded[middle])[0, 1] > 0.9

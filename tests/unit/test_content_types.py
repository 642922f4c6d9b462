"""Uploads are told apart by their bytes: real files written here by PyAV and Pillow, in every
container a person is likely to send, land in the right family whatever they are named."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from host.content_types import HEAD_BYTES, check_upload, sniff
from host.errors import InvalidArgument
from tests.fixtures.media import write_clip


def head(path: Path) -> bytes:
    return path.read_bytes()[:HEAD_BYTES]


def video_in(path: Path, container: str, codec: str = "libx264") -> Path:
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=25)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for i in range(5):
            picture = np.full((32, 32, 3), i * 40, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def sound_in(path: Path, container: str, codec: str) -> Path:
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), dtype=np.int16 if codec == "flac" else np.float32),
                                           format="s16" if codec == "flac" else "fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    return path


@pytest.mark.parametrize(
    ("container", "suffix", "codec", "media_type"),
    [
        ("mp4", "clip.mp4", "libx264", "video/mp4"),
        ("mov", "clip.mov", "libx264", "video/quicktime"),
        ("matroska", "clip.mkv", "libx264", "video/x-matroska"),
        ("avi", "clip.avi", "mpeg4", "video/x-msvideo"),
        ("mpegts", "clip.ts", "mpeg2video", "video/mp2t"),
    ],
)
def test_videos_in_every_common_container_are_videos(tmp_path, container, suffix, codec, media_type) -> None:
    path = video_in(tmp_path / suffix, container, codec)
    assert sniff(head(path)) == ("video", media_type)
    assert check_upload("video", head(path), "whatever.bin") == media_type


@pytest.mark.parametrize(("form", "media_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_pictures_are_pictures(form, media_type) -> None:
    data = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 200, 0)).save(data, format=form)
    assert sniff(data.getvalue()[:HEAD_BYTES]) == ("image", media_type)
    assert check_upload("background_image", data.getvalue(), "backdrop") == media_type


def test_sounds_are_sounds(tmp_path) -> None:
    with wave.open(str(tmp_path / "a.wav"), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(16000), out.writeframes(b"\0\0" * 1600)
    assert sniff(head(tmp_path / "a.wav")) == ("audio", "audio/wav")
    assert sniff(head(sound_in(tmp_path / "a.flac", "flac", "flac"))) == ("audio", "audio/flac")
    assert sniff(head(sound_in(tmp_path / "a.m4a", "ipod", "aac"))) == ("audio", "audio/mp4")


def test_a_picture_renamed_to_mp4_is_refused_as_a_video_saying_what_it_is(tmp_path) -> None:
    data = io.BytesIO()
    Image.new("RGB", (8, 8)).save(data, format="PNG")
    with pytest.raises(InvalidArgument) as refused:
        check_upload("video", data.getvalue(), "holiday.mp4")
    error = refused.value
    assert error.code == "upload_content_mismatch" and error.stage == "uploads"
    assert "'holiday.mp4'" in error.cause and "image/png" in error.cause and "MP4" in error.advice


def test_a_video_sent_as_a_background_and_text_sent_as_a_video_are_refused(tmp_path) -> None:
    clip = write_clip(tmp_path / "c.mp4", [np.zeros((16, 16, 3), dtype=np.uint8)] * 3)
    with pytest.raises(InvalidArgument, match="video/mp4"):
        check_upload("background_image", head(clip), "backdrop.png")
    with pytest.raises(InvalidArgument, match="match no known format"):
        check_upload("video", b"just some words, named video.mp4", "video.mp4")


def test_kinds_the_flow_does_not_decode_are_only_labelled() -> None:
    assert check_upload("note", b"%PDF-1.7 ...", "n.pdf") == "application/pdf"
    assert check_upload("note", b"plain words", "n.txt") == "application/octet-stream"

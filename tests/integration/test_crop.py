"""The crop stage on its own: a generated video whose "face" is a white square at known places, with
upstream outputs written in the formats of docs/preprocessing.md, so that every pixel, landmark and
quality flag of the training set can be checked against what it must be; a crash after a
checkpoint that resumes to the very same file; inputs that do not belong together refused; and a
real person's face cut from a sample clip, found again in the crops by a face detector."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from host.storage.local import LocalBlobStore
from plugins.crop import server as crop_server
from plugins.crop.server import ARTIFACT_KIND, ARTIFACT_NAME, Crop
from plugins.media.audio import read_audio, read_wav, write_wav
from plugins.media.frames import probe
from plugins.sdk.context import LocalInput, RunContext
from plugins.sdk.errors import StageFailed
from plugins.sdk.training_set import QUALITY_FLAGS, TrainingSet, open_training_set
from plugins.video_analysis.detectors import FaceDetector
from tests.fixtures.services import require_samples
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb

FPS = 25
WIDTH, HEIGHT = 160, 128
FRAMES = 50
SQUARE = 24  # the "face": a white square, SQUARE px wide, top-left at square_at(i)
HALF_BOX = 24  # the crop box: 48 px around the square's centre, so tiny's 96 px crops are 2x
NO_FACE = {0, 1, 10, 11, 12}  # the track found nothing here (held or back-filled boxes)
BLURRED = 20
JUMP = 30  # the square jumps 30 px right: large motion into this frame
CATCH_UP = 13  # the box held over 10..12 catches up 4 px at once: also large motion
BEYOND = set(range(45, 50))  # from here the crop box reaches past the right edge (the square does not)


def square_at(i: int) -> tuple[int, int]:
    return (50 + i if i < JUMP else 80 + i), 40


def picture(i: int) -> np.ndarray:
    gradient = (40 + np.arange(WIDTH) * 0.9).astype(np.uint8)  # every column differs: padding shows
    image = np.repeat(np.repeat(gradient[None, :, None], HEIGHT, axis=0), 3, axis=2)
    x, y = square_at(i)
    image[y : y + SQUARE, x : x + SQUARE] = 255
    return cv2.GaussianBlur(image, (0, 0), 3) if i == BLURRED else image


def write_square_video(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS, options={"crf": "4", "preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        sound = out.add_stream("aac", rate=16000)
        for i in range(FRAMES):
            for packet in video.encode(av.VideoFrame.from_ndarray(picture(i), format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        tone = (0.2 * np.sin(2 * np.pi * 220 * np.arange(FRAMES * 16000 // FPS) / 16000)).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
        frame.sample_rate = 16000
        for packet in [*sound.encode(frame), *sound.encode()]:
            out.mux(packet)
    return path


def square_track() -> dict[str, np.ndarray]:
    """face_track.npz of the square video: the square's corners as the mesh, the box around it."""
    landmarks = np.full((FRAMES, 468, 3), np.nan, np.float32)
    box = np.full((FRAMES, 4), np.nan, np.float32)
    crop_box = np.full((FRAMES, 4), np.nan, np.float32)
    found = np.array([i not in NO_FACE for i in range(FRAMES)])
    for i in range(FRAMES):
        x, y = square_at(i)
        cx, cy = x + SQUARE / 2, y + SQUARE / 2
        crop_box[i] = (cx - HALF_BOX, cy - HALF_BOX, cx + HALF_BOX, cy + HALF_BOX)
        if found[i]:
            corners = np.array([(x, y), (x + SQUARE, y), (x + SQUARE, y + SQUARE), (x, y + SQUARE)], np.float32)
            landmarks[i, :, :2] = np.resize(corners, (468, 2))
            landmarks[i, :, 2] = 0.0
            box[i] = (x, y, x + SQUARE, y + SQUARE)
    crop_box[:2] = np.nan  # before the first face the track has no box
    for i in sorted(NO_FACE - {0, 1}):
        crop_box[i] = crop_box[min(NO_FACE - {0, 1}) - 1]  # held over frames without a face
    return {"found": found, "landmarks": landmarks, "box": box, "crop_box": crop_box, "redetected": found.copy()}


class Inputs:
    """Upstream outputs in the spec's formats, each with the blob key its stage would give it."""

    def __init__(self, folder: Path, video: Path) -> None:
        self.folder = folder
        self.video = video
        info = probe(video)
        self.fps, self.count = info.fps, info.frame_count
        rng = np.random.default_rng(7)
        probability = rng.random(self.count).astype(np.float32)
        self.speech = {"probability": probability, "speech": probability > 0.5}
        self.mel = rng.standard_normal((round(self.count * 100 / self.fps), 80)).astype(np.float32)
        self.size = {"width": np.int64(info.width), "height": np.int64(info.height)}
        self.matte = np.zeros((self.count, info.height, info.width), np.uint8)  # both videos are at most 256 px
        self.audio = folder / "audio.wav"
        write_wav(self.audio, read_audio(video))

    def refs(self, track: dict[str, np.ndarray], extractor: str = "log_mel") -> list[LocalInput]:
        per_frame = {"fps": np.float64(self.fps), "frame_count": np.int64(len(track["found"]))}
        files = [
            ("uploads", "video", self.video, {}),
            ("vad", "speech_mask", self.npz("speech.npz", **self.speech, fps=np.float64(self.fps), frame_count=np.int64(self.count)), {}),
            ("audio_features", "audio", self.audio, {}),
            ("audio_features", "audio_features", self.npz("log_mel.npz", features=self.mel, rate=np.int64(100), **per_frame), {"extractor": extractor, "rate": 100}),
            ("face_track", "face_track", self.npz("face_track.npz", **track, **per_frame), {}),
            ("segmentation", "matte", self.npz("matte.npz", alpha=self.matte, **self.size, fps=np.float64(self.fps), frame_count=np.int64(self.count)), {}),
        ]
        refs = []
        for stage, kind, path, metadata in files:
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            key = f"avatars/av1/{stage}/run-{stage}/{path.name}"
            refs.append(LocalInput(plugin_pb.ArtifactRef(key=key, kind=kind, sha256=sha, name=path.name, metadata_json=json.dumps(metadata)), path))
        return refs

    def npz(self, name: str, **arrays: np.ndarray) -> Path:
        path = self.folder / name
        np.savez(path, **arrays)
        return path


def context(tmp_path: Path, inputs: list[LocalInput], parameters: dict | None = None, resume: Path | None = None) -> RunContext:
    workdir = tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}"
    workdir.mkdir()
    return RunContext(
        avatar_id="av1", stage="crop", run_id="run-crop", attempt=1 if resume is None else 2,
        parameters=parameters if parameters is not None else {"preset": "tiny"}, workdir=workdir, inputs=inputs,
        resume_checkpoint=resume, blobs=LocalBlobStore(tmp_path / "blobs"), emit=lambda event: None,
    )


def training_set(ctx: RunContext, tmp_path: Path, name: str) -> TrainingSet:
    (ref,) = ctx.outputs
    assert ref.kind == ARTIFACT_KIND and ref.name == ARTIFACT_NAME
    local = tmp_path / name
    ctx.blobs.get_file(ref.key, local, ref.sha256)
    return open_training_set(local)


@pytest.fixture(scope="module")
def squares(tmp_path_factory) -> Inputs:
    folder = tmp_path_factory.mktemp("square")
    return Inputs(folder, write_square_video(folder / "square.mp4"))


@pytest.fixture(scope="module")
def square_set(squares: Inputs, tmp_path_factory) -> TrainingSet:
    tmp_path = tmp_path_factory.mktemp("square-set")
    ctx = context(tmp_path, squares.refs(square_track()))
    Crop().run(ctx)
    return training_set(ctx, tmp_path, "set.zip")


def bright_box(face: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the white square's pixels in a crop."""
    ys, xs = np.nonzero(face.mean(axis=2) > 225)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def test_each_face_is_its_crop_box_resized_with_the_mesh_in_crop_pixels(square_set: TrainingSet, squares: Inputs) -> None:
    faces, boxes, landmarks = square_set["faces"], square_set["boxes"], square_set["landmarks"]
    assert faces.shape == (FRAMES, 96, 96, 3) and faces.dtype == np.uint8
    track = square_track()
    for i in range(FRAMES):
        x, y = square_at(i)
        # the box is the track's crop box (already on whole pixels here), stored to paste faces back
        expected_box = track["crop_box"][i] if i > 1 else track["crop_box"][2]
        np.testing.assert_array_equal(boxes[i], expected_box)
        if i != BLURRED:
            # the square lands at (corner - box corner) * 96 / 48: 24..72 where the box follows it,
            # shifted where a held or back-filled box stayed behind
            left, top = (x - expected_box[0]) * 2, (y - expected_box[1]) * 2
            assert np.allclose(bright_box(faces[i]), (left, top, left + 48, top + 48), atol=1), (i, bright_box(faces[i]))
        if i in NO_FACE:
            assert np.isnan(landmarks[i]).all()
        else:
            corners = np.resize(np.array([(24, 24), (72, 24), (72, 72), (24, 72)], np.float32), (468, 2))
            np.testing.assert_allclose(landmarks[i], corners, atol=1e-4)


def test_a_box_beyond_the_frame_repeats_the_edge_pixels(square_set: TrainingSet) -> None:
    face = square_set["faces"][49].astype(int)
    # frame 49's box ends 5 px past the right edge: the last 10 of 96 columns repeat the edge column
    beyond = face[:, 86:, 0]
    assert np.ptp(beyond, axis=1).max() <= 2
    assert abs(int(np.median(beyond)) - int(40 + (WIDTH - 1) * 0.9)) <= 3  # the gradient's last column, not black
    assert np.ptp(face[:, 40:80, 0][:, ::10], axis=1).max() > 10  # inside the frame the gradient shows


def test_quality_flags_say_what_is_wrong_with_each_frame(square_set: TrainingSet) -> None:
    quality = square_set["quality"]
    for name, frames in {"no_face": NO_FACE, "blurred": {BLURRED}, "partly_outside": set(), "large_motion": {CATCH_UP, JUMP}}.items():
        flagged = set(np.flatnonzero(quality & QUALITY_FLAGS[name]).tolist())
        assert flagged == frames, name
    # the crop boxes of these frames reach past the edge, but the face is whole: not flagged
    assert {i for i in range(FRAMES) if square_set["boxes"][i][2] > WIDTH} == BEYOND
    counts = square_set.manifest["quality"]
    assert counts == {"no_face": 5, "blurred": 1, "partly_outside": 0, "large_motion": 2, "clean": FRAMES - 8}


def test_the_manifest_and_the_copied_arrays(square_set: TrainingSet, squares: Inputs) -> None:
    manifest = square_set.manifest
    assert manifest["format"] == "twinforge.training_set" and manifest["format_version"] == 1
    expected = {"fps": 25.0, "frame_count": FRAMES, "width": WIDTH, "height": HEIGHT, "crop_size": 96, "preset": "tiny", "mel_rate": 100.0}
    assert {k: manifest[k] for k in expected} == expected
    assert manifest["avatar_id"] == "av1" and manifest["submission_video_key"] == "avatars/av1/uploads/run-uploads/square.mp4"
    assert manifest["video_sha256"] == hashlib.sha256(squares.video.read_bytes()).hexdigest()
    assert manifest["runs"] == {s: f"run-{s}" for s in ("vad", "audio_features", "face_track", "segmentation", "crop")}
    np.testing.assert_array_equal(square_set["speech"], squares.speech["speech"])
    np.testing.assert_array_equal(square_set["speech_probability"], squares.speech["probability"])
    np.testing.assert_array_equal(square_set["mel"], squares.mel)
    samples, rate = square_set.audio()
    assert rate == 16000 and np.array_equal(samples, read_wav(squares.audio)[0])


class Crash(Exception):
    pass


def test_a_crash_after_a_checkpoint_resumes_to_the_same_training_set(squares: Inputs, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(crop_server, "CHECKPOINT_EVERY_S", 0.0)
    monkeypatch.setattr(crop_server, "CHUNK_FRAMES", 10)
    refs = squares.refs(square_track())
    whole = context(tmp_path, refs)
    Crop().run(whole)

    doomed = context(tmp_path, refs)
    saved = []

    def save_then_die(path: Path, metadata=None):
        saved.append(RunContext.save_checkpoint(doomed, path, metadata))
        if len(saved) == 2:
            raise Crash("killed after the second checkpoint")

    doomed.save_checkpoint = save_then_die
    with pytest.raises(Crash):
        Crop().run(doomed)
    checkpoint = tmp_path / "checkpoint.npz"
    doomed.blobs.get_file(saved[-1].key, checkpoint)

    resumed = context(tmp_path, refs, resume=checkpoint)
    Crop().run(resumed)
    assert resumed.summary["resumed_at_frame"] == 20 and whole.summary["resumed_at_frame"] == 0
    assert resumed.outputs[0].sha256 == whole.outputs[0].sha256  # byte for byte the same zip


def test_outputs_of_another_video_are_refused(squares: Inputs, tmp_path: Path) -> None:
    track = {name: rows[:-3] for name, rows in square_track().items()}
    with pytest.raises(StageFailed) as failed:
        Crop().run(context(tmp_path, squares.refs(track)))
    assert failed.value.code == "inconsistent_inputs"
    assert "face_track output is for 47 frames" in failed.value.message and "50 frames" in failed.value.message
    assert "submit the video again" in failed.value.advice


def test_other_audio_features_than_log_mel_are_refused(squares: Inputs, tmp_path: Path) -> None:
    with pytest.raises(StageFailed) as failed:
        Crop().run(context(tmp_path, squares.refs(square_track(), extractor="wav2vec2")))
    assert failed.value.code == "missing_input" and "log_mel" in failed.value.message and "wav2vec2" in failed.value.message


def test_a_video_without_any_face_is_refused(squares: Inputs, tmp_path: Path) -> None:
    track = square_track()
    track["found"][:] = False
    track["crop_box"][:] = np.nan
    with pytest.raises(StageFailed) as failed:
        Crop().run(context(tmp_path, squares.refs(track)))
    assert failed.value.code == "no_face" and "next version" in failed.value.advice


def test_a_real_face_is_found_in_the_high_preset_crops(tmp_path: Path) -> None:
    """3 s of the congress sample cut at 256 px around the face a detector sees in its first frame."""
    clip = tmp_path / "congress_3s.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(require_samples() / "congress_60s_256.mp4"), "-t", "3",
         "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-c:a", "aac", str(clip)],
        check=True,
    )
    inputs = Inputs(tmp_path, clip)
    detector = FaceDetector()
    with av.open(str(clip)) as source:
        first = next(source.decode(video=0)).to_ndarray(format="rgb24")
    (face,) = detector.detect(first)
    cx, cy, side = (face.x + face.width / 2) * 256, (face.y + face.height / 2) * 256, face.width * 256 * 1.4
    count = inputs.count
    track = {
        "found": np.ones(count, bool),
        "landmarks": np.resize(np.array([cx, cy, 0.0], np.float32), (count, 468, 3)),
        "box": np.tile(np.array([cx - side / 3, cy - side / 3, cx + side / 3, cy + side / 3], np.float32), (count, 1)),
        "crop_box": np.tile(np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], np.float32), (count, 1)),
        "redetected": np.zeros(count, bool),
    }
    ctx = context(tmp_path, inputs.refs(track), {"preset": "high"})
    started = time.perf_counter()
    Crop().run(ctx)
    elapsed = time.perf_counter() - started
    made = training_set(ctx, tmp_path, "real.zip")
    assert made["faces"].shape == (count, 256, 256, 3) and elapsed < count * 0.05  # well under 50 ms a frame
    found = [detector.detect(np.asarray(made["faces"][i])) for i in range(0, count, 5)]
    assert all(len(faces) == 1 for faces in found)
    for (seen,) in found:  # the face fills the middle of the crop, as a 1.4x margin makes it
        assert abs(seen.x + seen.width / 2 - 0.5) < 0.1 and abs(seen.y + seen.height / 2 - 0.5) < 0.15
        assert 0.55 < seen.width < 0.9
    np.testing.assert_allclose(made["landmarks"][:, 0], 128.0, atol=1.0)  # the face's centre lands mid-crop
    assert made.manifest["quality"]["clean"] == count, made.manifest["quality"]
    detector.close()

"""Rendering on a real person: four seconds of congress_60s_256.mp4 run through the five preprocessing
stages into a training set, a driving clip of frames 10..60 played forth and back under five seconds
of another speaker's voice. The floor render (the driving clip as recorded) must last as long as
the sound, carry that sound, and show the recorded frames in the pingpong order; a model's lower
faces must reach the frames they were drawn for; a different picture must change only the lower
face, with no seam and the frame's colours; the cut-out must put the background where the person
is not; a clip too long to hold must stream in the same order. What the encoder gets is the held
picture exactly wherever the paste changed nothing, with or without a cut-out, and the mouth as
the whole-frame paste draws it."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from bench.preprocess import preprocess
from host.storage.local import LocalBlobStore
from plugins.lipsync.composite import LIPS, cut_out, lower_face_hull, paste, polygon_mask
from plugins.lipsync.driving import DrivingClip, driving_pictures, frame_order
from plugins.lipsync.planar import i420
from plugins.lipsync.render import LowerFaces, compose, render_video
from plugins.media.audio import read_audio
from plugins.media.frames import probe, read_frames
from plugins.sdk.errors import StageFailed
from plugins.sdk.training_set import TrainingSet, open_training_set
from tests.fixtures.services import require_samples

pytestmark = pytest.mark.samples

FPS = 25
FRAMES = 100  # four seconds of the sample
CLIP = DrivingClip(id="d1", start=10, stop=60, loop="pingpong")
MATERIALS = {"fps": 25.0, "driving_clips": [{"id": "d1", "start": 10, "stop": 60, "loop": "pingpong"}], "chosen": {"driving": "d1"}}
ENCODING = 3.0  # mean absolute difference (levels) of a CRF 18 re-encode of this 256 px picture; measured 1.9
GREEN = (0, 255, 0)
SEAM = 0.5  # levels per pixel: the most the change from the recording may vary across the paste's edge


class Avatar:
    """The cut sample, its training set and segmentation matte, and decoded pictures."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.video = cut_sample(require_samples() / "congress_60s_256.mp4", folder / "clip.mp4")
        preprocess(self.video, LocalBlobStore(folder / "blobs"), folder, "standard")
        self.training_set_path = folder / "crop-training_set.zip"
        self.dataset: TrainingSet = open_training_set(self.training_set_path)
        self.matte = folder / "segmentation-matte.npz"
        self.pictures = dict(read_frames(self.video))
        self.audio = require_samples() / "drive_speech_5s_a.wav"

    def hull(self, number: int) -> np.ndarray:
        """The lower-face region of a frame, in frame pixels."""
        box = self.dataset["boxes"][number]
        scale = (box[2] - box[0]) / self.dataset["faces"].shape[1]
        return lower_face_hull(self.dataset["landmarks"][number] * scale + box[:2])

    def outside(self, number: int, grow: int = 2) -> np.ndarray:
        """bool[H, W]: the pixels a paste must leave alone (the region grown by a couple of pixels
        for the encoder's blocks smearing a change into its neighbours)."""
        inside = polygon_mask(self.hull(number), (256, 256)).astype(np.uint8)
        return ~cv2.dilate(inside, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)).astype(bool)


def cut_sample(source: Path, path: Path) -> Path:
    """The sample's first FRAMES frames and their sound, encoded near-losslessly."""
    sound = read_audio(source, 48000)[: FRAMES * 48000 // FPS]
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS, options={"crf": "12", "preset": "ultrafast"})
        video.width = video.height = 256
        video.pix_fmt = "yuv420p"
        audio = out.add_stream("aac", rate=48000)
        for _, picture in read_frames(source, 0, FRAMES):
            out.mux(video.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        out.mux(video.encode(None))
        frame = av.AudioFrame.from_ndarray(sound[None, :].astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = 48000
        out.mux([*audio.encode(frame), *audio.encode(None)])
    return path


@pytest.fixture(scope="module")
def avatar(tmp_path_factory) -> Avatar:
    return Avatar(tmp_path_factory.mktemp("render"))


@pytest.fixture(scope="module")
def floor(avatar: Avatar) -> tuple[dict, list[tuple[float, str, float | None]]]:
    reports: list[tuple[float, str, float | None]] = []
    summary = render_video(
        avatar.video, avatar.training_set_path, MATERIALS, avatar.audio, None, avatar.folder / "floor.mp4",
        progress=lambda fraction, message, eta: reports.append((fraction, message, eta)),
    )
    return summary, reports


def pictures(path: Path) -> list[np.ndarray]:
    return [picture for _, picture in read_frames(path)]


def test_the_floor_render_lasts_as_long_as_the_audio_and_carries_it(avatar: Avatar, floor) -> None:
    summary, reports = floor
    sound = read_audio(avatar.audio)
    seconds = len(sound) / 16000
    info = probe(Path(summary["path"]))
    assert (info.fps, info.width, info.height) == (FPS, 256, 256)
    assert info.frame_count == summary["frames"] == round(seconds * FPS)
    assert abs(info.frame_count / FPS - seconds) <= 1 / FPS
    # the sound comes back sample for sample: same length, no offset, AAC's loss only
    heard = read_audio(Path(summary["path"]))
    assert abs(len(heard) - len(sound)) <= 16
    n = min(len(heard), len(sound))
    lags = range(-80, 81)
    best = max(lags, key=lambda lag: float(np.dot(sound[4000:n - 4000], heard[4000 + lag : n - 4000 + lag])))
    assert best == 0
    assert np.corrcoef(sound[:n], heard[:n])[0, 1] > 0.99
    with av.open(summary["path"]) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
    assert reports[0][0] == 0.0 and reports[-1][0] == 1.0
    assert all(a[0] <= b[0] for a, b in zip(reports, reports[1:]))


def test_the_floor_keeps_the_driving_frames_outside_the_lower_face_in_pingpong_order(avatar: Avatar, floor) -> None:
    summary, _ = floor
    rendered = pictures(Path(summary["path"]))
    order = frame_order(CLIP, len(rendered))
    assert order[:52].tolist() == [*range(10, 60), 58, 57]
    recorded = np.stack([avatar.pictures[m] for m in range(CLIP.start, CLIP.stop)]).reshape(CLIP.length, -1, 3)
    recorded_grey = recorded.mean(axis=2, dtype=np.float32)
    nearest = []
    for picture, number in zip(rendered, order):
        keep = avatar.outside(int(number)).reshape(-1)
        own = np.abs(picture.reshape(-1, 3)[keep].astype(np.int16) - recorded[int(number) - CLIP.start, keep])
        assert own.mean() < ENCODING  # as recorded, to the encoder's precision
        grey = picture.reshape(-1, 3).mean(axis=1, dtype=np.float32)
        error = np.abs(recorded_grey - grey) @ keep.astype(np.float32)  # against every frame of the clip
        nearest.append(CLIP.start + int(np.argmin(error)))
    # each frame is the recording's frame the order names, not a neighbour: forth, back, forth
    assert np.mean(np.array(nearest) == order) >= 0.95
    forward = frame_order(DrivingClip("d1", 10, 60, "forward"), len(rendered))
    assert np.mean(np.array(nearest) == forward) < 0.6
    # inside the lower face too: the floor is the driving clip as recorded, nothing pasted
    inside = [np.abs(p.astype(np.int16) - avatar.pictures[int(n)])[~avatar.outside(int(n), 0)].mean() for p, n in zip(rendered, order)]
    assert np.mean(inside) < ENCODING


def paste_crop(frame: np.ndarray, crop: np.ndarray, box: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """`paste` of a picture of the whole crop box, its landmarks in crop pixels."""
    side = float(box[2] - box[0])
    return paste(frame, crop, (float(box[0]), float(box[1]), side), landmarks * (side / crop.shape[0]) + box[:2])


WHOLE_BOX = (0.0, 0.0, 1.0, 1.0)  # a model that draws the whole crop box


def change_gradient(picture: np.ndarray, frame: np.ndarray, band: np.ndarray) -> float:
    """How sharply the change from `frame` to `picture` varies within `band` (mean gradient
    magnitude, levels per pixel): a seam is a change that steps."""
    change = picture.astype(np.float32).mean(axis=2) - frame.astype(np.float32).mean(axis=2)
    return float(np.hypot(cv2.Sobel(change, cv2.CV_32F, 1, 0, scale=0.125), cv2.Sobel(change, cv2.CV_32F, 0, 1, scale=0.125))[band].mean())


def in_frame(picture: np.ndarray, box: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The picture (the box's size) under the frame pixels of `mask`, and those pixels' indices."""
    ys, xs = np.nonzero(mask)
    rows, cols = ys - int(box[1]), xs - int(box[0])
    visible = (rows >= 0) & (cols >= 0) & (rows < picture.shape[0]) & (cols < picture.shape[1])
    return picture[rows[visible], cols[visible]], (ys[visible], xs[visible])


@pytest.mark.parametrize("number", [20, 45, 70])
def test_a_different_crop_changes_only_the_lower_face_without_a_seam_in_the_frames_colours(avatar: Avatar, number: int) -> None:
    frame = avatar.pictures[number]
    face = np.asarray(avatar.dataset["faces"][number])
    box, landmarks = avatar.dataset["boxes"][number], avatar.dataset["landmarks"][number]
    size, side = face.shape[0], int(box[2] - box[0])
    scale = side / size
    darker = (face * 0.55).astype(np.uint8)  # a colour cast the paste must take out
    lower = np.roll(face, size // 16, axis=0)  # the mouth moved down: a real change to show
    ramp = np.linspace(-40, 40, size)[None, :, None]  # lit from one side: a colour match cannot take it out
    lit = np.clip(face + ramp, 0, 255).astype(np.uint8)
    hull = avatar.hull(number)
    width = float(np.ptp(hull[:, 0]))
    inside = polygon_mask(hull, (256, 256))
    lips = polygon_mask(cv2.convexHull((landmarks[list(LIPS)] * scale + box[:2]).astype(np.float32))[:, 0], (256, 256))
    mesh = landmarks * scale + box[:2]
    face_height = mesh[:, 1].max() - mesh[:, 1].min()
    ring = cv2.dilate(inside.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & ~cv2.erode(inside.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    for crop in (darker, lower, lit):
        out = paste_crop(frame, crop, box, landmarks)
        changed = np.abs(out.astype(np.int16) - frame).max(axis=2) > 0
        assert not (changed & ~inside).any()  # nothing moves outside the lower face
        ys, xs = np.nonzero(changed)
        assert ys.min() >= mesh[1, 1]  # the eyes, the nose tip and above: as recorded
        assert ys.max() <= mesh[:, 1].max() + 0.1 * face_height  # at most a little below the chin
        assert mesh[:, 0].min() <= xs.min() and xs.max() <= mesh[:, 0].max()  # within the face's width
        # no seam: at the region's edge the change fades in, it does not step (measured 0.07..0.36)
        assert change_gradient(out, frame, ring) < SEAM
    # the moved mouth shows: the lips' region differs from the recording
    assert np.abs(paste_crop(frame, lower, box, landmarks).astype(np.int16) - frame)[lips].mean() > 10
    # colour: the darker crop's skin comes out at the frame's brightness
    skin = inside & ~cv2.dilate(lips.astype(np.uint8), np.ones((int(0.2 * width),) * 2, np.uint8)).astype(bool)
    resized = cv2.resize(darker, (side, side))
    raw, _ = in_frame(resized, box, skin)
    darkened = paste_crop(frame, darker, box, landmarks)
    assert np.abs(raw.mean(axis=0) - frame[skin].mean(axis=0)).max() > 30  # the cast is large
    assert np.abs(darkened[skin].mean(axis=0) - frame[skin].mean(axis=0)).max() < 3  # and gone
    # the measure sees a seam where there is one: the lit crop pasted hard into the same region
    hard = frame.copy()
    pixels, where = in_frame(cv2.resize(lit, (side, side)), box, inside)
    hard[where] = pixels
    assert change_gradient(hard, frame, ring) > 4 * SEAM  # measured 2.9..3.3


def test_without_landmarks_a_frame_is_left_as_recorded(avatar: Avatar) -> None:
    frame = avatar.pictures[30]
    no_face = np.full((468, 2), np.nan, np.float32)
    out = paste_crop(frame, np.zeros_like(avatar.dataset["faces"][30]), avatar.dataset["boxes"][30], no_face)
    np.testing.assert_array_equal(out, frame)
    assert out is not frame


def test_a_model_s_lower_faces_replace_the_mouth_for_the_frames_it_was_asked_for(avatar: Avatar, tmp_path: Path) -> None:
    calls = []
    faces = avatar.dataset["faces"]

    def draw(sound: np.ndarray, numbers: list[int]):
        calls.append((len(sound), list(numbers)))
        for number in numbers:
            crop = np.array(faces[number])
            lips = cv2.convexHull(avatar.dataset["landmarks"][number][list(LIPS)].astype(np.float32))[:, 0]
            cv2.fillConvexPoly(crop, np.round(lips).astype(np.int32), (150, 20, 20))  # a red, shut mouth
            yield crop

    summary = render_video(avatar.video, avatar.training_set_path, MATERIALS, avatar.audio, LowerFaces(draw, WHOLE_BOX, 0.0), tmp_path / "model.mp4")
    sound = read_audio(avatar.audio)
    order = frame_order(CLIP, summary["frames"])
    assert calls == [(len(sound), order.tolist())]
    for picture, number in zip(pictures(tmp_path / "model.mp4"), order):
        keep = avatar.outside(int(number))
        assert np.abs(picture.astype(np.int16) - avatar.pictures[int(number)])[keep].mean() < ENCODING  # as recorded around the mouth
        box = avatar.dataset["boxes"][number]
        scale = (box[2] - box[0]) / faces.shape[1]
        lips = polygon_mask(cv2.convexHull((avatar.dataset["landmarks"][number][list(LIPS)] * scale + box[:2]).astype(np.float32))[:, 0], (256, 256))
        assert picture[lips][:, 0].mean() > picture[lips][:, 1].mean() + 60  # the painted mouth shows


def test_a_model_that_draws_too_few_lower_faces_fails_and_leaves_no_file(avatar: Avatar, tmp_path: Path) -> None:
    faces = avatar.dataset["faces"]
    short = LowerFaces(lambda sound, numbers: (faces[n] for n in numbers[:10]), WHOLE_BOX, 0.0)
    with pytest.raises(StageFailed) as failed:
        render_video(avatar.video, avatar.training_set_path, MATERIALS, avatar.audio, short, tmp_path / "short.mp4")
    assert failed.value.code == "too_few_crops" and "10 lower faces" in failed.value.message
    assert list(tmp_path.iterdir()) == []


def test_the_cutout_puts_the_background_colour_where_the_person_is_not(avatar: Avatar, floor, tmp_path: Path) -> None:
    with np.load(avatar.matte) as matte:
        alpha = matte["alpha"][CLIP.start : CLIP.stop]
    assert alpha.shape[1:] == (256, 256) and (alpha == 0).mean() > 0.2 and (alpha == 255).mean() > 0.2
    cutout = tmp_path / "cutout.npz"
    np.savez_compressed(cutout, alpha=alpha, start=np.int64(CLIP.start), stop=np.int64(CLIP.stop), cover_alpha=alpha[0], background=np.array(GREEN, np.uint8))
    summary = render_video(avatar.video, avatar.training_set_path, MATERIALS, avatar.audio, None, tmp_path / "cut.mp4", cutout=cutout)
    assert summary["cutout"]
    rendered, floor_pictures = pictures(tmp_path / "cut.mp4"), pictures(Path(floor[0]["path"]))
    order = frame_order(CLIP, summary["frames"])
    block = np.ones((9, 9), np.uint8)  # away from the matte's edge, where chroma subsampling blends
    for picture, base, number in zip(rendered, floor_pictures, order):
        matte = alpha[int(number) - CLIP.start]
        away = cv2.erode((matte == 0).astype(np.uint8), block).astype(bool)
        person = cv2.erode((matte == 255).astype(np.uint8), block).astype(bool)
        assert np.abs(picture[away].astype(np.int16) - GREEN).mean() < ENCODING
        assert np.abs(picture.astype(np.int16) - base)[person].mean() < ENCODING
    # an explicit background wins over the cut-out's own, and a picture fills the frame
    backdrop = np.zeros((64, 128, 3), np.uint8)
    backdrop[..., 2] = 200
    render_video(avatar.video, avatar.training_set_path, MATERIALS, avatar.audio, None, tmp_path / "blue.mp4", cutout=cutout, background=backdrop)
    first = next(read_frames(tmp_path / "blue.mp4"))[1]
    away = cv2.erode((alpha[0] == 0).astype(np.uint8), block).astype(bool)
    assert np.abs(first[away].astype(np.int16) - (0, 0, 200)).mean() < ENCODING


def test_a_clip_too_long_to_hold_is_streamed_in_the_same_order(avatar: Avatar) -> None:
    info = probe(avatar.video)
    order = frame_order(CLIP, 130)
    held = list(driving_pictures(avatar.video, info, CLIP, order))
    streamed = list(driving_pictures(avatar.video, info, CLIP, order, memory_bytes=7 * 256 * 256 * 3))  # 7 frames at a time
    assert len(held) == len(streamed) == 130
    for a, b, number in zip(held, streamed, order):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, avatar.pictures[int(number)])


def red_mouths(avatar: Avatar):
    """A model whose lower face is the recorded crop with a red, shut mouth painted on."""
    faces = avatar.dataset["faces"]

    def draw(sound: np.ndarray, numbers: list[int]):
        for number in numbers:
            crop = np.array(faces[number])
            lips = cv2.convexHull(avatar.dataset["landmarks"][number][list(LIPS)].astype(np.float32))[:, 0]
            cv2.fillConvexPoly(crop, np.round(lips).astype(np.int32), (150, 20, 20))
            yield crop

    return LowerFaces(draw, WHOLE_BOX, 0.0)


@pytest.mark.parametrize("with_cutout", [False, True])
def test_the_encoder_gets_the_held_picture_exactly_wherever_the_paste_changed_nothing(avatar: Avatar, tmp_path: Path, with_cutout: bool) -> None:
    cutout = None
    if with_cutout:
        with np.load(avatar.matte) as matte:
            alpha = matte["alpha"][CLIP.start : CLIP.stop]
        cutout = tmp_path / "cutout.npz"
        np.savez_compressed(cutout, alpha=alpha, start=np.int64(CLIP.start), stop=np.int64(CLIP.stop), cover_alpha=alpha[0],
                            background=np.array(GREEN, np.uint8))
    planar = compose(avatar.video, avatar.training_set_path, MATERIALS, avatar.audio, red_mouths(avatar), cutout, planar=True)
    whole = compose(avatar.video, avatar.training_set_path, MATERIALS, avatar.audio, red_mouths(avatar), cutout)
    order = frame_order(CLIP, planar.count)
    for (i, frame, _), (_, picture, _), number in zip(planar.frames, whole.frames, order):
        recorded = avatar.pictures[int(number)]
        shown = recorded if not with_cutout else cut_out(recorded, alpha[int(number) - CLIP.start], np.array(GREEN, np.uint8))
        held = i420(shown)
        assert frame.shape == held.shape == (384, 256)
        changed = frame != held
        luma = changed[:256].reshape(256, 256)
        hull = ~avatar.outside(int(number), grow=1)
        assert luma.any() and not (luma & ~hull).any(), f"frame {i}: only the lower face differs from the held picture"
        chroma = np.stack([changed[256:320].reshape(128, 128), changed[320:].reshape(128, 128)]).any(axis=0)
        assert not (chroma & ~hull[::2, ::2] & ~hull[1::2, 1::2]).any()
        drawn = cv2.cvtColor(frame, cv2.COLOR_YUV2RGB_I420)
        assert np.abs(drawn.astype(np.int16) - picture)[hull].mean() < 2.0  # the mouth as the whole-frame paste draws it

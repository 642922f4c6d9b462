"""Why a driving clip or a cover was proposed, in English and Simplified Chinese. A proposal keeps
what its reason needs (its measures, and the video's average motion or mouth threshold it was
judged against) so that the bot and the web app say the reason in the person's language; the
English text stored as `reason` is the one made at extraction."""

from __future__ import annotations

from typing import Any

STILL_BELOW = 0.005  # what a reason calls "still"; up to twice that "fairly still"
SILENT_BELOW = 0.05  # speech in less of a clip than this: the clip is called silent
TURN_SCALE = 0.3  # a turn (measures.turn) this large or more scores 0 on facing the camera
CENTRED_BELOW = 0.1  # of half the frame: what a reason calls centred
FACING_BELOW = 0.05  # turn: what a reason calls facing the camera


def _language(language: str) -> str:
    return "zh" if language.replace("_", "-").split("-")[0].lower() == "zh" else "en"


def driving_reason(values: dict[str, float], video_motion: float, loop: str, language: str = "en") -> str:
    motion, speech = values["head_motion"], values["speech_share"]
    steadiness = 0 if motion < STILL_BELOW else 1 if motion < 2 * STILL_BELOW else 2
    if _language(language) == "zh":
        still = ("头很稳", "头比较稳", "头在动")[steadiness]
        text = (f"{values['duration_s']:.1f} 秒，{still}（每帧移动脸的 {100 * motion:.2f}%，整段视频平均 {100 * video_motion:.2f}%），"
                + ("没有说话" if speech < SILENT_BELOW else f"其中 {100 * speech:.0f}% 在说话")
                + f"，嘴巴闭着的时间占 {100 * values['mouth_closed_share']:.0f}%，眼睛睁着的占 {100 * values['eyes_open_share']:.0f}%")
        if loop == "forward":
            return text + f"；从头循环播放（最后一帧和第一帧只差脸的 {100 * values['loop_pose_gap']:.1f}%）"
        return text + "；来回往复播放"
    still = ("still", "fairly still", "moving")[steadiness]
    parts = [
        f"{values['duration_s']:.1f} s with the head {still} ({100 * motion:.2f} % of the face per frame, "
        f"the video's average {100 * video_motion:.2f} %)",
        "silent" if speech < SILENT_BELOW else f"speech in {100 * speech:.0f} % of it",
        f"the mouth closed {100 * values['mouth_closed_share']:.0f} % of the time",
        f"the eyes open {100 * values['eyes_open_share']:.0f} %",
    ]
    text = ", ".join(parts[:-1]) + f" and {parts[-1]}"
    if loop == "forward":
        return text + f"; loops forward (its last frame is {100 * values['loop_pose_gap']:.1f} % of the face from its first)"
    return text + "; loops forth and back"


def cover_reason(values: dict[str, float], mouth_closed_below: float, language: str = "en") -> str:
    eyes, turned = values["eye_opening_to_median"], values["turn"]
    eyes_at = 0 if eyes >= 0.85 else 1 if eyes >= 0.6 else 2
    closed, quiet = values["mouth_opening"] < mouth_closed_below, values["speech_probability"] < 0.5
    centred = values["off_centre"] < CENTRED_BELOW
    facing = 0 if turned < FACING_BELOW else 1 if turned < TURN_SCALE / 2 else 2
    off = 100 * values["off_centre"]
    if _language(language) == "zh":
        where = "在画面中间" if centred else f"偏离中心 {off:.0f}%"
        return (f"清晰（是整段视频中位数的 {values['sharpness_to_median']:.2f} 倍），"
                f"{('眼睛睁着', '眼睛半闭', '眼睛快闭上了')[eyes_at]}（中位数的 {eyes:.2f} 倍），"
                f"{'嘴巴闭着' if closed else '嘴巴张着'}，{'没在说话' if quiet else '正在说话'}，"
                f"脸{where}，{('面对镜头', '稍微侧了一点', '侧过去了')[facing]}")
    eyes_text = ("eyes open", "eyes half closed", "eyes closing")[eyes_at]
    centred_text = "centred" if centred else f"{off:.0f} % off centre"
    facing_text = ("facing the camera", "turned a little", "turned away")[facing]
    return (
        f"sharp ({values['sharpness_to_median']:.2f}x the video's median), {eyes_text} "
        f"({eyes:.2f}x the median), {'mouth closed' if closed else 'mouth open'}, {'silent' if quiet else 'mid-speech'}, "
        f"face {centred_text} and {facing_text}"
    )


def reason(entry: dict[str, Any], kind: str, language: str = "en") -> str:
    """A proposal's reason in `language`, from what it keeps; a proposal made before it kept that
    (or one of another kind) has its stored English reason only."""
    measures = entry.get("measures") or {}
    try:
        if kind == "driving" and "video_motion" in entry:
            return driving_reason(measures, float(entry["video_motion"]), str(entry.get("loop", "")), language)
        if kind == "cover" and "mouth_closed_below" in entry:
            return cover_reason(measures, float(entry["mouth_closed_below"]), language)
    except KeyError:  # a measure missing from an older or hand-edited proposal
        pass
    return str(entry.get("reason", ""))

"""What the intake check tells a person, in English and Simplified Chinese: the advice under each
measure, the measures' names and the words of their values. The report keeps each advice as a
code with its values beside the English text, so whoever shows it later (the bot, the web app)
says it in the reader's language; `twinforge check --lang` says it in the one asked for.

Templates are str.format strings over the advice's values: {value} (the measure), {target} (the
value to reach for a clean pass) and the extras each measure adds."""

from __future__ import annotations

from typing import Any

LANGUAGES = ("en", "zh")
_LONGER_EN = ("a longer recording trains a mouth that follows any voice more surely, and keeps 10 s of your own speech "
              "aside to test the avatar's lip sync on (1 to 5 minutes is best)")
_LONGER_ZH = "录得越长，训练出的口型越能跟上任何声音，还能留出 10 秒你自己的讲话，用来测试分身的口型（1 到 5 分钟最好）"
_REEXPORT_EN = "export it again as MP4 (H.264 video, AAC sound) and send it"
_REEXPORT_ZH = "请重新导出为 MP4（H.264 视频、AAC 声音）再发送"

ADVICE: dict[str, dict[str, str]] = {
    "en": {
        "file_missing": "the file cannot be opened ({error}): check its name and send it again",
        "file_too_big": "the file is {value:g} MB and the limit is {limit:.0f} MB: trim it to 1 to 5 minutes, or export it at 1080p or less",
        "unreadable_open": (
            "the file cannot be read as a video ({error}); send the video file straight from the camera or phone (MP4, MOV, "
            "MKV or WebM); if it was copied or uploaded, the copy may be incomplete: send it again"
        ),
        "unreadable_empty": "the file is empty (0 bytes); the upload or copy did not finish: send the video again",
        "unreadable_still": (
            "the file is a still image ({kind}), not a video; record a video of yourself speaking to the camera for 1 to 5 "
            "minutes and send that file"
        ),
        "unreadable_sound_only": "the file holds only sound: there is no video track; send a video file in which you are seen speaking to the camera",
        "unreadable_no_track": "the file holds no picture: there is no video track; send a video file in which you are seen speaking to the camera",
        "unreadable_no_codec": (
            "the video track's description is missing or damaged, so it cannot be decoded; the file is damaged or was cut "
            "short: " + _REEXPORT_EN
        ),
        "unreadable_no_picture": (
            "no picture could be decoded from the {codec} video track ({errors} damaged packets); the file is damaged or uses "
            "an unusual codec: " + _REEXPORT_EN
        ),
        "container_damaged": (
            "{errors} damaged packets were skipped; if the picture or sound stutters, export the video again from the "
            "original recording"
        ),
        "completeness_low": (
            "only {value:g}% of the video's {declared:.1f} s could be decoded: the file is cut off or damaged; send the "
            "complete file again (from the phone or camera, not a partial copy)"
        ),
        "duration_too_short": (
            "the video is {value:g} s long, under the {minimum:g} s this avatar needs; record at least {minimum:g} s of "
            "yourself speaking to the camera, {target:g} s or more if you can: " + _LONGER_EN
        ),
        "duration_short": "the video is {value:g} s long: enough to start, and {target:g} s or more makes a better avatar: " + _LONGER_EN,
        "duration_long": "the video is {value:g} s long; trim it to at most {target:g} s (1 to 5 minutes is best)",
        "frame_rate_low": (
            "the video has {value:g} frames a second; record at {target:g} fps or more (25 or 30 fps, the camera's usual "
            "video mode)"
        ),
        "frame_rate_variation_high": (
            "{value:g}% of the frame intervals are irregular (a variable frame rate); set the camera to a fixed frame rate, "
            "or export the video at a constant 25 or 30 fps, so that at most {target:g}% are"
        ),
        "dropped_frames_high": (
            "{value:g}% of the frames are missing (gaps in the frame times); close other apps while recording, or record "
            "at a lower resolution, so that at most {target:g}% are lost"
        ),
        "duplicated_frames_high": (
            "{value:g}% of the frames repeat the one before (a frozen or stuttering picture); record with the camera app "
            "itself, not a screen recorder or a converted file, so that at most {target:g}% repeat"
        ),
        "resolution_low": "the picture is {width}x{height} px; record at {target:.0f}p or more (the camera's 720p or 1080p setting)",
        "rotation_high": (
            "the video is stored turned by {value}° with a rotation flag (usual for phones); the check turned it upright. "
            "Nothing to do unless it looks sideways somewhere: then export it again with the rotation applied"
        ),
        "aspect_ratio_low": (
            "the picture is portrait ({width}x{height}); the avatar is cut around your face from it. For a landscape "
            "avatar, hold the phone sideways while recording"
        ),
        "aspect_ratio_high": "the picture is very wide ({width}x{height}); record in 16:9 or 4:3 with your face in the middle",
        "frame_brightness_low": (
            "the picture is too dark (brightness {value:g} of 255); turn on more light, or record by day facing a window, "
            "so that it reaches at least {target:g}"
        ),
        "frame_brightness_high": (
            "the picture is overexposed (brightness {value:g} of 255); use softer light or lower the camera's exposure so "
            "that it stays below {target:g}"
        ),
        "audio_track_missing": (
            "the video has no sound track; record with the microphone on (the camera app must not be muted): the avatar "
            "learns its lip movement from your voice"
        ),
        "audio_sample_rate_low": "the sound is sampled at {value} Hz; record at {target:.0f} Hz or more (the default of any phone or camera)",
        "loudness_silent": "the sound track is silent ({value:g} dBFS); check that the microphone was on and not muted, and record again",
        "loudness_low": (
            "the sound is very quiet ({value:g} dBFS); speak up or bring the microphone closer so that it reaches at least "
            "{target:g} dBFS"
        ),
        "loudness_high": (
            "the sound is very loud ({value:g} dBFS); lower the microphone's gain or move it further away so that it stays "
            "below {target:g} dBFS"
        ),
        "clipping_high": (
            "{value:g}% of the sound samples are clipped (distorted because too loud); lower the microphone's gain or move "
            "it further away so that at most {target:g}% clip"
        ),
        "noise_floor_high": (
            "the background noise between words is at {value:g} dBFS; record in a quiet room (fans, traffic, music off; a "
            "microphone close to you) so that it stays below {target:g} dBFS"
        ),
        "speech_share_low": (
            "you speak in {value:g}% of the video; talk for at least {target:g}% of the time (read a text aloud and keep "
            "pauses short)"
        ),
        "av_duration_gap_high": (
            "the sound ({sound:.1f} s) and the picture ({picture:.1f} s) differ in length by {value:g} s; export the video "
            "again from the original recording so that both tracks match (at most {target:g} s apart)"
        ),
        "face_visible_low": (
            "a face is seen in {value:g}% of the examined frames; keep your whole face in the picture, facing the camera, "
            "for at least {target:g}% of the video"
        ),
        "face_visible_low_dark": (
            "a face is seen in {value:g}% of the examined frames (the picture is very dark, which hides the face: add "
            "light); keep your whole face in the picture, facing the camera, for at least {target:g}% of the video"
        ),
        "single_face_low": (
            "only {value:g}% of the frames with a face show exactly one; record alone in the picture (no other people, "
            "photos or posters of faces behind you), so that at least {target:g}% do"
        ),
        "face_size_low": (
            "the face is {value} px wide; move closer to the camera, or record at a higher resolution, so that it is at "
            "least {target:.0f} px"
        ),
        "face_share_low": "the face spans {value:g}% of the picture's width; move closer so that it spans at least {target:g}%",
        "face_share_high": (
            "the face spans {value:g}% of the picture's width; step back so that your head and shoulders fit with some "
            "room around them (at most {target:g}%)"
        ),
        "face_cut_off_high": (
            "the face touches the edge of the picture in {value:g}% of the frames; sit so that your whole head is inside "
            "the picture with room above it (at most {target:g}% of frames)"
        ),
        "face_offset_high": (
            "the face is {value:g}% of the picture away from its centre; sit in the middle of the picture (at most "
            "{target:g}% off)"
        ),
        "head_motion_high": (
            "the head moves {value:g} face widths a second (typical); sit still facing the camera, moving at most "
            "{target:g} face widths a second (nodding while talking is fine)"
        ),
        "sharpness_low": (
            "the face is blurry (sharpness {value:g}; {target:g} or more is sharp); clean the lens, let the camera focus on "
            "your face, and add light so it need not blur movement"
        ),
        "face_brightness_low": (
            "the face is too dark (brightness {value:g} of 255); add light in front of you (face a window or a lamp) so "
            "that it reaches at least {target:g}"
        ),
        "face_brightness_high": (
            "the face is overexposed (brightness {value:g} of 255); use softer light or move away from the lamp so that it "
            "stays below {target:g}"
        ),
        "backlight_high": (
            "the background is {value:g} levels brighter than your face (backlit); do not sit with a window or lamp behind "
            "you, face the light instead (at most {target:g} levels)"
        ),
        "backlight_low": "your face is {neg:g} levels brighter than the background (a spotlight); light the room more evenly",
    },
    "zh": {
        "file_missing": "文件打不开（{error}）：请检查文件名后再发一次",
        "file_too_big": "文件有 {value:g} MB，上限是 {limit:.0f} MB：请剪到 1 到 5 分钟，或以 1080p 及以下导出",
        "unreadable_open": (
            "这个文件无法作为视频读取（{error}）；请直接发送相机或手机里的视频文件（MP4、MOV、MKV 或 WebM）；"
            "如果是复制或上传过的，副本可能不完整：请再发一次"
        ),
        "unreadable_empty": "文件是空的（0 字节）；上传或复制没有完成：请再发一次视频",
        "unreadable_still": "这个文件是一张静态图片（{kind}），不是视频；请录一段你对着镜头说话 1 到 5 分钟的视频，再发送那个文件",
        "unreadable_sound_only": "这个文件只有声音：没有视频画面；请发送一段能看到你对着镜头说话的视频文件",
        "unreadable_no_track": "这个文件里没有画面：没有视频轨道；请发送一段能看到你对着镜头说话的视频文件",
        "unreadable_no_codec": "视频轨道的描述信息缺失或损坏，无法解码；文件已损坏或被截断：" + _REEXPORT_ZH,
        "unreadable_no_picture": "{codec} 视频轨道里一帧画面都解不出来（{errors} 个损坏的数据包）；文件已损坏或用了少见的编码：" + _REEXPORT_ZH,
        "container_damaged": "跳过了 {errors} 个损坏的数据包；如果画面或声音卡顿，请从原始录像重新导出视频",
        "completeness_low": "视频总长 {declared:.1f} 秒，只有 {value:g}% 能解出来：文件被截断或损坏了；请重新发送完整的文件（直接从手机或相机发，不要发不完整的副本）",
        "duration_too_short": (
            "视频只有 {value:g} 秒，不到这个分身需要的 {minimum:g} 秒；请录至少 {minimum:g} 秒你对着镜头说话的视频，"
            "能录到 {target:g} 秒以上更好：" + _LONGER_ZH
        ),
        "duration_short": "视频有 {value:g} 秒：够开始了，录到 {target:g} 秒以上分身会更好：" + _LONGER_ZH,
        "duration_long": "视频有 {value:g} 秒；请剪到最多 {target:g} 秒（1 到 5 分钟最好）",
        "frame_rate_low": "视频每秒只有 {value:g} 帧；请用每秒 {target:g} 帧或以上录制（25 或 30 帧，相机平常的视频模式）",
        "frame_rate_variation_high": "{value:g}% 的帧间隔不均匀（帧率不固定）；请把相机设成固定帧率，或以固定的 25 或 30 帧导出，让不均匀的不超过 {target:g}%",
        "dropped_frames_high": "{value:g}% 的帧丢了（帧的时间有空缺）；录制时请关掉其他应用，或用低一点的分辨率录，让丢帧不超过 {target:g}%",
        "duplicated_frames_high": "{value:g}% 的帧和前一帧一模一样（画面卡住或一顿一顿的）；请直接用相机应用录制，不要用录屏或转换过的文件，让重复的不超过 {target:g}%",
        "resolution_low": "画面是 {width}x{height} 像素；请用 {target:.0f}p 或以上录制（相机的 720p 或 1080p 设置）",
        "rotation_high": "视频带着旋转 {value}° 的标记保存（手机常见）；检查时已把它转正。没什么要做的，除非哪里看起来是横着的：那就请在导出时把旋转应用进去",
        "aspect_ratio_low": "画面是竖的（{width}x{height}）；分身会从里面围绕你的脸裁出来。想要横向的分身，录的时候请把手机横过来",
        "aspect_ratio_high": "画面非常宽（{width}x{height}）；请用 16:9 或 4:3 录制，脸放在画面中间",
        "frame_brightness_low": "画面太暗（亮度 {value:g}，满分 255）；请多开些灯，或白天面对窗户录，让亮度至少达到 {target:g}",
        "frame_brightness_high": "画面过曝（亮度 {value:g}，满分 255）；请用柔和一些的光，或调低相机曝光，让亮度低于 {target:g}",
        "audio_track_missing": "视频没有声音；请打开麦克风录制（相机应用不能静音）：分身是从你的声音里学口型的",
        "audio_sample_rate_low": "声音的采样率是 {value} Hz；请用 {target:.0f} Hz 或以上录制（任何手机或相机的默认设置都可以）",
        "loudness_silent": "声音是静音的（{value:g} dBFS）；请确认麦克风打开了、没有静音，再录一次",
        "loudness_low": "声音很小（{value:g} dBFS）；请大声一点，或把麦克风靠近一些，让音量至少达到 {target:g} dBFS",
        "loudness_high": "声音很大（{value:g} dBFS）；请调低麦克风增益或把它拿远一点，让音量低于 {target:g} dBFS",
        "clipping_high": "{value:g}% 的声音采样爆音了（太响而失真）；请调低麦克风增益或把它拿远一点，让爆音不超过 {target:g}%",
        "noise_floor_high": "说话间隙的背景噪音有 {value:g} dBFS；请在安静的房间里录（关掉风扇、音乐，避开车流声；麦克风靠近你），让噪音低于 {target:g} dBFS",
        "speech_share_low": "视频里你说话的时间只占 {value:g}%；请至少有 {target:g}% 的时间在说话（可以朗读一段文字，停顿短一些）",
        "av_duration_gap_high": "声音（{sound:.1f} 秒）和画面（{picture:.1f} 秒）长度差了 {value:g} 秒；请从原始录像重新导出，让两者对齐（相差不超过 {target:g} 秒）",
        "face_visible_low": "检查的画面里只有 {value:g}% 能看到脸；请让整张脸一直在画面里、面对镜头，至少占视频的 {target:g}%",
        "face_visible_low_dark": "检查的画面里只有 {value:g}% 能看到脸（画面很暗，脸看不清：请加些光）；请让整张脸一直在画面里、面对镜头，至少占视频的 {target:g}%",
        "single_face_low": "有脸的画面里只有 {value:g}% 恰好是一张脸；请一个人出镜（身后不要有别人、照片或带人脸的海报），让至少 {target:g}% 的画面只有你",
        "face_size_low": "脸只有 {value} 像素宽；请离镜头近一点，或用更高的分辨率录，让脸至少有 {target:.0f} 像素宽",
        "face_share_low": "脸只占画面宽度的 {value:g}%；请靠近一点，让它至少占 {target:g}%",
        "face_share_high": "脸占了画面宽度的 {value:g}%；请往后退一点，让头和肩膀都在画面里、周围留些空间（最多占 {target:g}%）",
        "face_cut_off_high": "有 {value:g}% 的画面里脸碰到了边缘；请坐到整个头都在画面里、头顶上方留些空间的位置（最多 {target:g}% 的画面）",
        "face_offset_high": "脸离画面中心有画面的 {value:g}%；请坐在画面中间（最多偏 {target:g}%）",
        "head_motion_high": "头每秒移动 {value:g} 个脸宽（平均）；请面对镜头坐稳，每秒最多移动 {target:g} 个脸宽（说话时点点头没关系）",
        "sharpness_low": "脸是模糊的（清晰度 {value:g}；{target:g} 或以上才算清楚）；请擦干净镜头，让相机对焦在你的脸上，再加些光，这样动作就不会糊",
        "face_brightness_low": "脸太暗（亮度 {value:g}，满分 255）；请在你前面加些光（面对窗户或台灯），让亮度至少达到 {target:g}",
        "face_brightness_high": "脸过曝（亮度 {value:g}，满分 255）；请用柔和一些的光，或离灯远一点，让亮度低于 {target:g}",
        "backlight_high": "背景比你的脸亮 {value:g} 级（逆光）；不要背对窗户或灯坐，请面向光源（最多亮 {target:g} 级）",
        "backlight_low": "你的脸比背景亮 {neg:g} 级（像打了聚光灯）；请让房间的光更均匀一些",
    },
}

NAMES: dict[str, dict[str, str]] = {
    "zh": {
        "file_size": "文件大小", "container": "文件格式", "completeness": "完整度", "duration": "时长", "frame_rate": "帧率",
        "frame_rate_variation": "帧率波动", "dropped_frames": "丢帧", "duplicated_frames": "重复帧", "resolution": "分辨率",
        "rotation": "旋转", "aspect_ratio": "宽高比", "frame_brightness": "画面亮度", "audio_track": "声音", "audio_sample_rate": "采样率",
        "loudness": "音量", "clipping": "爆音", "noise_floor": "背景噪音", "speech_share": "说话时间", "av_duration_gap": "声画长度差",
        "face_visible": "能看到脸", "single_face": "只有一张脸", "face_size": "脸的大小", "face_share": "脸占画面", "face_cut_off": "脸被切到",
        "face_offset": "脸偏离中心", "head_motion": "头部晃动", "sharpness": "清晰度", "face_brightness": "脸的亮度", "backlight": "逆光",
    },
}

VALUES: dict[str, dict[str, str]] = {
    "en": {"present": "present", "missing": "missing", "unreadable": "unreadable"},
    "zh": {"present": "有", "missing": "没有", "unreadable": "无法读取"},
}

UNITS: dict[str, dict[str, str]] = {
    "zh": {"s": "秒", "px": "像素", "face widths/s": "脸宽/秒", "levels": "级", "w/h": "宽/高"},
}

HEADINGS: dict[str, dict[str, str]] = {
    "en": {"pass": "PASS", "fail": "FAIL", "preset": "{verdict} ({preset} preset)", "measure": "MEASURE", "value": "VALUE",
           "status": "STATUS", "advice": "ADVICE", "status_pass": "pass", "status_warning": "warning", "status_fail": "fail"},
    "zh": {"pass": "通过", "fail": "没有通过", "preset": "{verdict}（{preset} 标准）", "measure": "检查项", "value": "数值",
           "status": "结果", "advice": "建议", "status_pass": "通过", "status_warning": "注意", "status_fail": "没有通过"},
}


def supported(language: str) -> str:
    """The language's catalogue here, English for one without ("zh-hans" reads "zh")."""
    base = language.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else "en"


def advice(code: str, values: dict[str, Any], language: str = "en") -> str:
    """The advice `code` filled with `values`, in `language`."""
    return ADVICE[supported(language)][code].format(**values)


def measure_name(name: str, language: str = "en") -> str:
    """A measure as a person reads it: "face_size" is "face size", or "脸的大小"."""
    return NAMES.get(supported(language), {}).get(name, name.replace("_", " "))


def value_text(row: dict[str, Any], language: str = "en") -> str:
    """A measure's value with its unit: a yes/no measure as its word, a word value in the language."""
    words = VALUES[supported(language)]
    value = row.get("value")
    if isinstance(value, bool):
        return words["present" if value else "missing"]
    if isinstance(value, str):
        return words.get(value, value)
    unit = row.get("unit") or ""
    unit = UNITS.get(supported(language), {}).get(unit, unit)
    return f"{value} {unit}".strip()


def row_advice(row: dict[str, Any], language: str = "en") -> str:
    """The row's advice in `language`: from its code where the report has one (reports made before
    codes carry their English text only)."""
    if row.get("advice_code"):
        return advice(row["advice_code"], row.get("advice_values") or {}, language)
    return row.get("advice", "")


def heading(key: str, language: str = "en", **values: Any) -> str:
    return HEADINGS[supported(language)][key].format(**values)

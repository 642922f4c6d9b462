"""What an uploaded file is, told from its first bytes, never from its name.

A person's file name and a client's Content-Type are claims; the signature at the start of the
bytes is what decoders will actually meet. Uploads of a kind the flow will decode (a video, a
background picture, speech) are refused at the door when their bytes say otherwise, so a stage
never spends minutes failing on a renamed PDF, and the error can say what the file really is.
"""

from __future__ import annotations

from host.errors import InvalidArgument

HEAD_BYTES = 512  # enough for every signature below, including MPEG-TS's third sync byte at 376

# kind of upload -> the family its bytes must belong to
EXPECTED_FAMILY = {"video": "video", "background_image": "image", "audio": "audio"}

WORDS = {"video": "a video (MP4, MOV, MKV, WebM, AVI, MPEG)", "image": "a JPEG, PNG or WebP picture", "audio": "a sound file (WAV, FLAC, MP3, OGG, M4A)"}


def _riff(head: bytes, form: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == form


def sniff(head: bytes) -> tuple[str, str]:
    """(family, media type) of the bytes; ("unknown", "application/octet-stream") when no signature
    matches. ISO base media files are split by brand: an M4A brand is audio, the rest video."""
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return "audio", "audio/mp4"
        return "video", "video/quicktime" if brand == b"qt  " else "video/mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):  # QuickTime files older than ftyp
        return "video", "video/quicktime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if _riff(head, b"AVI "):
        return "video", "video/x-msvideo"
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return "video", "video/mp2t"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "video", "video/mpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "image/jpeg"
    if _riff(head, b"WEBP"):
        return "image", "image/webp"
    if _riff(head, b"WAVE"):
        return "audio", "audio/wav"
    if head.startswith(b"fLaC"):
        return "audio", "audio/flac"
    if head.startswith(b"OggS"):
        return "audio", "audio/ogg"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio", "audio/mpeg"
    if head.startswith(b"%PDF"):
        return "document", "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return "archive", "application/zip"
    if head.startswith(b"GIF87a") or head.startswith(b"GIF89a"):
        return "animation", "image/gif"
    if head.startswith(b"\x7fELF") or head.startswith(b"MZ"):
        return "program", "application/x-executable"
    return "unknown", "application/octet-stream"


def check_upload(kind: str, head: bytes, filename: str) -> str:
    """The media type of an upload of this kind, or InvalidArgument when its bytes are not what the
    kind needs. Kinds the flow does not decode (notes, edits' own files) are only labelled."""
    family, media_type = sniff(head)
    wanted = EXPECTED_FAMILY.get(kind)
    if wanted is None or family == wanted:
        return media_type
    seen = "its bytes match no known format" if family == "unknown" else f"its bytes are {media_type}"
    named = f" {filename!r}" if filename else ""
    raise InvalidArgument(
        stage="uploads",
        code="upload_content_mismatch",
        cause=f"the {kind} upload{named} is not {WORDS[wanted]}: {seen} (the name is not trusted, the bytes are)",
        advice=f"send {WORDS[wanted]}; a renamed file is refused whatever its extension",
    )

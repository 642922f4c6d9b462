"""What only the web app reads, as one value built from the TWINFORGE_WEBAPP_* fields of the one
settings object (host/settings.py), so that a test can also build it directly."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from host.settings import Settings

SESSION_KEY_LABEL = b"TwinforgeWebAppSession"


@dataclass(frozen=True)
class WebAppSettings:
    bot_token: SecretStr
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    url: str = ""
    secret: SecretStr = SecretStr("")
    init_data_max_age_s: float = 86400.0
    session_ttl_s: float = 7 * 86400.0
    chunk_bytes: int = 8 * 1024 * 1024
    max_video_bytes: int = 1024**3
    language: str = "en"  # for a person whose Telegram language has no catalogue (TWINFORGE_BOT_LANGUAGE)
    ice_servers: tuple[dict, ...] = ()  # the talk live page's STUN/TURN servers (TWINFORGE_LIVE_ICE_SERVERS and its login)
    # a key for this process only when neither a secret nor a bot token is set: sessions end with it
    _fallback_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> "WebAppSettings":
        return cls(
            bot_token=settings.bot_token, data_dir=settings.resolved_data_dir, host=settings.webapp_host, port=settings.webapp_port,
            url=settings.webapp_url, secret=settings.webapp_secret, init_data_max_age_s=settings.webapp_init_data_max_age_s,
            session_ttl_s=settings.webapp_session_ttl_s, chunk_bytes=settings.webapp_chunk_bytes,
            # the intake check refuses a larger video undecoded: refusing it before the upload saves the person the wait
            max_video_bytes=min(settings.max_upload_bytes, settings.max_video_bytes), language=settings.bot_language,
            ice_servers=tuple(settings.ice_servers()),
        )

    @property
    def public_url(self) -> str:
        return (self.url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def session_key(self) -> bytes:
        """The key session cookies are signed with: the configured secret, else one derived from the bot's
        token (the bot and the web app then agree without another setting)."""
        if self.secret.get_secret_value():
            return self.secret.get_secret_value().encode()
        token = self.bot_token.get_secret_value()
        if token:
            return hmac.new(SESSION_KEY_LABEL, token.encode(), hashlib.sha256).digest()
        return self._fallback_key

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "webapp" / "uploads"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "webapp" / "media"

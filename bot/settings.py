"""What only the bot reads, as one value: the TWINFORGE_BOT_* fields of the one settings object
(host/settings.py), so that a test or another caller can also build it directly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

from host.settings import Settings

# Telegram's public Bot API hands out files of at most 20 MB through getFile.
PUBLIC_API_DOWNLOAD_MB = 20


@dataclass(frozen=True)
class BotSettings:
    token: SecretStr = SecretStr("")
    api_base_url: str = ""
    max_download_mb: int = 0
    access: Literal["open", "allowlist", "invite"] = "allowlist"
    allowlist: str = ""
    invite_codes: str = ""
    edit_interval_s: float = 1.0
    language: str = "en"
    polling_timeout_s: int = 30
    review_remind_after_s: float = 86400.0
    review_reminders: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> "BotSettings":
        return cls(
            token=settings.bot_token, api_base_url=settings.bot_api_base_url, max_download_mb=settings.bot_max_download_mb,
            access=settings.bot_access, allowlist=settings.bot_allowlist, invite_codes=settings.bot_invite_codes,
            edit_interval_s=settings.bot_edit_interval_s, language=settings.bot_language, polling_timeout_s=settings.bot_polling_timeout_s,
            review_remind_after_s=settings.review_remind_after_s, review_reminders=settings.review_reminders,
        )

    @property
    def allowed_ids(self) -> frozenset[int]:
        return frozenset(int(part) for part in self.allowlist.replace(" ", "").split(",") if part)

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.invite_codes.split(",") if part.strip())

    @property
    def remind_after_s(self) -> float:
        """When the first reminder of a waiting preview is due; 0 when there are none."""
        return self.review_remind_after_s if self.review_reminders > 0 else 0.0

    @property
    def download_limit_bytes(self) -> int:
        mb = self.max_download_mb or (2000 if self.api_base_url else PUBLIC_API_DOWNLOAD_MB)
        return mb * 1024 * 1024

"""The one settings object: every knob of Twinforge, read from TWINFORGE_* environment variables.

Defaults run everything on one machine: SQLite and a local blob directory under `data_dir`, and a
private redis-server that `twinforge up` starts when no Redis URL is given.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TWINFORGE_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Root of the embedded database, blob store and logs.")
    database_url: str = Field("", description="peewee URL; empty means SQLite (WAL) at <data_dir>/twinforge.db.")
    storage_url: str = Field(
        "",
        description="Blob store: empty or file:///path for a local directory (default <data_dir>/blobs), "
        "s3://ACCESS:SECRET@host:port/bucket?secure=false for MinIO or any S3 service.",
    )
    redis_url: str = Field("", description="Redis for queues and live notifications; empty starts a private one.")
    private_redis_port: int = Field(6390, description="Port of the private redis-server started by `twinforge up`.")

    host_address: str = Field("127.0.0.1:50051", description="Where the host serves gRPC; plugins register here.")
    registration_token: str = Field(
        "twinforge-dev-token",
        description="Shared secret plugins present to register; change it anywhere beyond one machine.",
    )
    api_key: SecretStr = Field(
        SecretStr(""),
        description="This client's key to the host's API (`twinforge keys issue`); empty: the operator key `twinforge up` "
        "leaves in <data_dir>/operator.key, when this process can read it.",
    )
    tls_cert_file: str = Field(
        "",
        description="PEM certificate this process presents: the host's server certificate, or a client's certificate "
        "when the host requires them; empty, with tls_ca_file empty too: plaintext gRPC to and on the host.",
    )
    tls_key_file: str = Field("", description="PEM private key of tls_cert_file.")
    tls_ca_file: str = Field(
        "",
        description="PEM CA bundle: clients verify the host against it (empty: the system's roots), and the host "
        "verifies client certificates against it when tls_client_auth is on. Set on a client, it turns TLS on.",
    )
    tls_client_auth: bool = Field(False, description="The host accepts only clients presenting a certificate signed by tls_ca_file.")
    heartbeat_interval_s: float = Field(5.0, description="How often plugins heartbeat and the host probes health.")
    plugin_down_after_s: float = Field(15.0, description="A plugin silent this long is marked down.")
    plugin_host: str = Field("127.0.0.1", description="Interface plugins listen on.")
    plugin_port: int = Field(0, description="Port a plugin process listens on; 0 picks a free one.")
    plugin_base_port: int = Field(50100, description="`twinforge up` gives built-in plugin i the port base+i.")
    plugin_forget_after_s: float = Field(600.0, description="A plugin down this long is dropped from the registry.")

    max_message_bytes: int = Field(4 * 1024 * 1024, description="Largest single gRPC message accepted.")
    max_rejections: int = Field(5, ge=1, description="Rounds of one avatar a person may reject (each retrains it); the next rejection is refused.")
    max_avatars_per_person: int = Field(20, ge=1, description="Avatars one person (an avatar's owner) may keep; the next is refused until one is deleted.")
    max_active_runs_per_person: int = Field(30, ge=1, description="Stages of one person's avatars that may wait or run at once; a new submission is refused beyond it.")
    max_trainings_per_day: int = Field(10, ge=1, description="Videos one person may submit for training in 24 hours.")
    retention_days: float = Field(0.0, ge=0, description="Avatars with no activity for this many days (and not deployed, nothing running) are deleted with all their data; 0 keeps them.")
    max_upload_bytes: int = Field(2 * 1024**3, description="Largest artifact a client may upload.")
    upload_chunk_bytes: int = Field(1024 * 1024, description="Chunk size of streamed uploads and downloads.")
    storage_retries: int = Field(3, description="Retries of one S3 request (connection lost, 5xx) before the blob store gives up.")
    storage_retry_backoff_s: float = Field(0.2, description="Backoff factor between S3 retries: waits of 0, 2x, 4x... this, capped at 120 s.")
    storage_timeout_s: float = Field(60.0, description="Connect and read timeout of one S3 request.")

    intake_preset: str = Field("standard", description="Preset of the intake check (video_analysis): tiny (smoke tests only), draft, standard or high.")
    max_video_bytes: int = Field(1024**3, description="Largest video the intake check accepts; a larger file fails it undecoded.")

    max_attempts: int = Field(3, description="Attempts of a stage run before it fails for good.")
    lease_ttl_s: float = Field(30.0, description="A running job whose worker stops renewing its lease this long is interrupted.")
    plugin_wait_s: float = Field(
        30.0, description="How long a worker waits for a reachable plugin of its stage (one restarting after a crash) before the attempt counts."
    )
    gpu_stages_on_cpu: bool = Field(True, description="Let CPU workers take GPU stages (a machine without a GPU).")

    log_level: str = Field("WARNING", description="Root log level; logs are JSON lines on stderr.")

    registry: str = Field("", description="OCI registry (host:port) avatar images are pushed to; empty keeps them in the data storage only.")
    registry_tls: bool = Field(False, description="Speak HTTPS to the registry (plain HTTP suits a registry on 127.0.0.1).")
    registry_username: str = Field("", description="Registry user, when the registry asks for one.")
    registry_password: str = Field("", description="Registry password or token.")
    image_base_cpu: str = Field(
        "",
        description="Base of avatar images on a machine without a GPU: oci:/path/to/layout[:tag] or registry/repo:tag; "
        "empty builds on no base (the runtime layer carries the Python packages, the deploy host brings Python 3.11).",
    )
    image_base_cuda: str = Field("", description="Base of avatar images on a machine with a CUDA GPU (same forms as image_base_cpu).")
    kubeconfig: str = Field("", description="kubeconfig file for the kubernetes deploy target; empty: manifests are written, not applied.")
    kube_namespace: str = Field("default", description="Namespace avatar services are deployed to.")
    kube_rollout_timeout_s: float = Field(300.0, gt=0, description="How long a kubernetes deploy waits for its rollout to be ready before it fails.")
    bundle: str = Field("", description="The avatar bundle folder an inference service serves (the image sets it).")
    inference_host: str = Field("127.0.0.1", description="Interface local inference services listen on.")
    bot_token: SecretStr = Field(SecretStr(""), description="The Telegram bot's token from @BotFather; empty: the bot does not start.")
    bot_api_base_url: str = Field("", description="A local Bot API server (telegram-bot-api), e.g. http://127.0.0.1:8081; empty: api.telegram.org.")
    bot_max_download_mb: int = Field(0, description="Largest video the bot fetches; 0: 20 MB on api.telegram.org, 2000 MB on a local Bot API server.")
    bot_access: Literal["open", "allowlist", "invite"] = Field(
        "allowlist", description="Who may use the bot: anyone, the listed Telegram user ids, or whoever sends an invite code."
    )
    bot_allowlist: str = Field("", description="Comma-separated Telegram user ids allowed in 'allowlist' mode.")
    bot_invite_codes: str = Field("", description="Comma-separated codes; '/start CODE' admits a person in 'invite' mode.")
    bot_edit_interval_s: float = Field(1.0, description="Least time between two message edits in one chat.")
    bot_language: str = Field("en", description="Catalogue used when a person's Telegram language has none.")
    bot_polling_timeout_s: int = Field(30, description="Long-polling timeout of getUpdates.")
    review_remind_after_s: float = Field(
        86400.0, ge=0, description="How long a preview waits for the person's verdict before the bot reminds them, and between reminders; 0: never.",
    )
    review_reminders: int = Field(2, ge=0, description="Most reminders of one preview that waits for the person's verdict.")
    webapp_enabled: bool = Field(True, description="`twinforge up` serves the web app (the Telegram Mini App) beside the host.")
    webapp_host: str = Field("127.0.0.1", description="Interface the web app listens on (put the operator's HTTPS reverse proxy in front of it).")
    webapp_port: int = Field(8080, description="Port the web app listens on.")
    webapp_url: str = Field("", description="The web app's address as people open it (the HTTPS proxy's), used in the bot's login links; empty: http://<webapp_host>:<webapp_port>.")
    webapp_secret: SecretStr = Field(SecretStr(""), description="Signs the web app's session cookies; empty: derived from the bot's token.")
    webapp_init_data_max_age_s: float = Field(86400.0, gt=0, description="Oldest Telegram Mini App initData (its auth_date) the web app accepts.")
    webapp_login_ttl_s: float = Field(600.0, gt=0, description="How long a one-time login link from the bot stays valid.")
    webapp_session_ttl_s: float = Field(7 * 86400.0, gt=0, description="How long a browser stays signed in after a login link.")
    webapp_chunk_bytes: int = Field(8 * 1024 * 1024, ge=64 * 1024, description="Size of the pieces the upload page sends; the web app takes pieces up to twice this.")
    tts_engine: str = Field("auto", description="Text to speech: piper (optional extra), espeak (espeak-ng) or auto (piper when installed).")
    render_encoder: Literal["speed", "quality"] = Field(
        "speed", description="How the inference service encodes an answer's video: speed (x264 ultrafast with CABAC, deblocking and two "
        "B-frames: about twice the bytes of quality, several times faster at 1080x1920) or quality (veryfast, as the evaluation's renders).",
    )
    live_sessions: int = Field(
        1, ge=0, description="Live (WebRTC) conversations one inference service holds at once; the next is refused in words "
        "(1: at 512 px with the draft model on 2 cores a second one holds 25 fps but delays first frames by a second and holds 5-8% "
        "of answer frames, bench/live.py; 0 turns live talk off).",
    )
    live_ice_servers: str = Field(
        "", description="STUN and TURN servers through which both ends of a live conversation (the inference service and the talk "
        "live page) find a path to each other: comma-separated stun:, turn: or turns: URLs, e.g. stun:stun.example.org:3478, "
        "turn:turn.example.org:3478?transport=udp; empty: none, which is enough on one machine or one network (docs/deployment.md).",
    )
    live_turn_username: str = Field("", description="The user name the turn: and turns: URLs of TWINFORGE_LIVE_ICE_SERVERS take.")
    live_turn_credential: SecretStr = Field(SecretStr(""), description="The password the turn: and turns: URLs take.")
    brain_url: str = Field("", description="An OpenAI-compatible chat endpoint (its base, e.g. http://127.0.0.1:8000/v1) that writes the live "
                           "avatar's replies; empty: the avatar says what was typed.")
    brain_model: str = Field("", description="The model the chat endpoint is asked for (its `model` field).")
    brain_api_key: SecretStr = Field(SecretStr(""), description="Bearer token for the chat endpoint; empty sends none.")
    brain_prompt: str = Field(
        "You are the person in this video, talking live. Answer in one to three short spoken sentences, without lists or markup.",
        description="The system message the chat endpoint gets before the conversation.",
    )
    brain_timeout_s: float = Field(20.0, gt=0, description="How long a reply from the chat endpoint may take before the avatar says it could not think of one.")

    @field_validator("live_ice_servers")
    @classmethod
    def _ice_urls(cls, value: str) -> str:
        for url in ice_urls(value):
            if not url.startswith(ICE_SCHEMES) or len(url.split(":", 1)[1]) == 0:
                raise ValueError(f"TWINFORGE_LIVE_ICE_SERVERS: {url!r} is not a stun:, turn: or turns: URL; "
                                 "write them as stun:host:3478 or turn:host:3478?transport=udp, separated by commas")
        return value

    @model_validator(mode="after")
    def _turn_login(self) -> Settings:
        if any(url.startswith(("turn:", "turns:")) for url in ice_urls(self.live_ice_servers)) and not (
            self.live_turn_username and self.live_turn_credential.get_secret_value()
        ):
            raise ValueError("TWINFORGE_LIVE_ICE_SERVERS names a TURN server, which takes a login: "
                             "set TWINFORGE_LIVE_TURN_USERNAME and TWINFORGE_LIVE_TURN_CREDENTIAL")
        return self

    def ice_servers(self) -> list[dict]:
        """The ICE servers as a browser's RTCPeerConnection takes them (and aiortc's RTCIceServer):
        the STUN URLs in one entry, the TURN URLs with their login in another; [] for none."""
        urls = ice_urls(self.live_ice_servers)
        stun = [url for url in urls if url.startswith("stun:")]
        turn = [url for url in urls if not url.startswith("stun:")]
        servers: list[dict] = [{"urls": stun}] if stun else []
        if turn:
            servers.append({"urls": turn, "username": self.live_turn_username, "credential": self.live_turn_credential.get_secret_value()})
        return servers

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.resolved_data_dir / 'twinforge.db'}"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or f"file://{self.resolved_data_dir / 'blobs'}"

    @property
    def operator_key_file(self) -> Path:
        return self.resolved_data_dir / "operator.key"

    @property
    def bot_key_file(self) -> Path:
        return self.resolved_data_dir / "bot.key"

    @property
    def resolved_redis_url(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.private_redis_port}/0"


ICE_SCHEMES = ("stun:", "turn:", "turns:")


def ice_urls(value: str) -> list[str]:
    """The URLs of a comma-separated list, blanks dropped."""
    return [url.strip() for url in value.split(",") if url.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()

"""How a failed request is answered: one table from a StageFailed code to the gRPC status and
the HTTP status, so the two front doors of the service always agree."""

from __future__ import annotations

from http import HTTPStatus

import grpc

from plugins.sdk.errors import Cancelled, StageFailed

# What the caller sent is wrong: the message says what to send instead.
INVALID_REQUEST = frozenset({
    "no_input", "audio_unreadable", "audio_empty", "audio_too_long", "empty_text", "text_too_long",
    "bad_background", "no_cutout", "bad_jpeg_quality", "bad_offer",
})
TOO_LARGE = "request_too_large"
BUSY = frozenset({"busy", "live_full"})  # no room now: retry later, or another replica
NOT_FOUND = frozenset({"unknown_session"})
UNAVAILABLE = frozenset({"live_off", "brain_unreachable", "brain_refused"})
NO_SPEECH_ENGINE = frozenset({"tts_engine_missing", "unknown_tts_engine"})


def grpc_status(error: StageFailed) -> grpc.StatusCode:
    if error.code in INVALID_REQUEST or error.code == TOO_LARGE:
        return grpc.StatusCode.INVALID_ARGUMENT
    if error.code in BUSY:
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    if error.code in NO_SPEECH_ENGINE:
        return grpc.StatusCode.FAILED_PRECONDITION
    if error.code in NOT_FOUND:
        return grpc.StatusCode.NOT_FOUND
    if error.code in UNAVAILABLE:
        return grpc.StatusCode.UNAVAILABLE
    return grpc.StatusCode.INTERNAL


def http_status(error: StageFailed) -> HTTPStatus:
    if error.code in INVALID_REQUEST:
        return HTTPStatus.BAD_REQUEST
    if error.code == TOO_LARGE:
        return HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    if error.code in BUSY:
        return HTTPStatus.TOO_MANY_REQUESTS
    if error.code in NO_SPEECH_ENGINE:
        return HTTPStatus.NOT_IMPLEMENTED
    if error.code in NOT_FOUND:
        return HTTPStatus.NOT_FOUND
    if error.code in UNAVAILABLE:
        return HTTPStatus.SERVICE_UNAVAILABLE
    return HTTPStatus.INTERNAL_SERVER_ERROR


def outcome(error: BaseException | None) -> str:
    """The `outcome` label of the renders counter."""
    if error is None:
        return "ok"
    if isinstance(error, StageFailed):
        if error.code in INVALID_REQUEST or error.code == TOO_LARGE:
            return "invalid"
        return "busy" if error.code in BUSY else "failed"
    return "cancelled" if isinstance(error, (GeneratorExit, Cancelled)) else "error"


def unexpected(error: Exception) -> StageFailed:
    """A crash in the render, in the same shape as the errors that were foreseen."""
    return StageFailed("render_failed", f"the render failed: {type(error).__name__}: {error}", "retry; if it fails again, report it with this message")


def sentence(error: StageFailed) -> str:
    """The status details: what is wrong, then what to do."""
    return f"{error.message}; {error.advice}"

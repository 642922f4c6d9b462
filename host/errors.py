"""Errors as values a person can read: each names the stage, the cause and the next action.

Every layer raises a TwinforgeError subclass; the host's interceptor turns it into a gRPC status
whose details are the same three parts, so the bot and the CLI can show them unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc


@dataclass(eq=False)
class TwinforgeError(Exception):
    cause: str
    advice: str
    stage: str = "platform"
    code: str = "internal"

    status = grpc.StatusCode.INTERNAL

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"[{self.stage}] {self.cause} — {self.advice}"


class InvalidArgument(TwinforgeError):
    status = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(TwinforgeError):
    status = grpc.StatusCode.NOT_FOUND


class AlreadyExists(TwinforgeError):
    status = grpc.StatusCode.ALREADY_EXISTS


class IllegalTransition(TwinforgeError):
    status = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDenied(TwinforgeError):
    status = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(TwinforgeError):
    status = grpc.StatusCode.UNAUTHENTICATED


class Unavailable(TwinforgeError):
    status = grpc.StatusCode.UNAVAILABLE


class TooLarge(TwinforgeError):
    status = grpc.StatusCode.RESOURCE_EXHAUSTED


class IntegrityError(TwinforgeError):
    """A stored blob no longer matches its recorded sha256."""

    status = grpc.StatusCode.DATA_LOSS

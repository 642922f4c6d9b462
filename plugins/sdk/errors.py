"""The two ways a plugin's run ends early: a failure a person can act on, or a cancellation."""

from __future__ import annotations

from host.errors import TwinforgeError


class StageFailed(TwinforgeError):
    """Raised by a plugin to fail the run with words a person can act on: the platform's one error
    family, so whatever catches a TwinforgeError (the CLI, the host's interceptor) shows it too."""

    def __init__(self, code: str, message: str, advice: str, stage: str = "plugin") -> None:
        super().__init__(cause=message, advice=advice, stage=stage, code=code)

    @property
    def message(self) -> str:
        return self.cause


class Cancelled(Exception):
    """Raised inside the plugin's thread at its next report once the run was cancelled."""

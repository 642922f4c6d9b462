"""The two ways a plugin's run ends early: a failure a person can act on, or a cancellation."""


class StageFailed(Exception):
    """Raised by a plugin to fail the run with words a person can act on."""

    def __init__(self, code: str, message: str, advice: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.advice = advice


class Cancelled(Exception):
    """Raised inside the plugin's thread at its next report once the run was cancelled."""

"""The one error of the deploy targets: what went wrong and what to do, plain enough for the CLI
and the bot to show as it is (neither click nor gRPC is needed to raise it)."""

from __future__ import annotations


class DeployError(Exception):
    def __init__(self, message: str, advice: str) -> None:
        super().__init__(f"{message} — {advice}")
        self.message = message
        self.advice = advice

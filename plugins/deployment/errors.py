"""The one error of the deploy targets: what went wrong and what to do, plain enough for the CLI
and the bot to show as it is (neither click nor gRPC is needed to raise it)."""

from __future__ import annotations

from host.errors import TwinforgeError


class DeployError(TwinforgeError):
    def __init__(self, message: str, advice: str, code: str = "deploy_failed") -> None:
        super().__init__(cause=message, advice=advice, stage="deployment", code=code)

    @property
    def message(self) -> str:
        return self.cause

"""What a plugin author writes: a Plugin subclass with its description and `run(ctx)`.

`run` is plain synchronous code (it may decode video or train a model for an hour); the SDK runs it
in a thread, streams what it reports, and turns its outcome into the run's Result.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from plugins.sdk.context import RunContext
from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb


class Plugin:
    name: ClassVar[str]
    version: ClassVar[str] = "0.1.0"
    stages: ClassVar[tuple[str, ...]]
    description: ClassVar[str] = ""
    cpu_cores: ClassVar[float] = 1.0
    gpus: ClassVar[int] = 0
    memory_bytes: ClassVar[int] = 512 * 1024**2
    parameters_schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}

    def describe(self) -> plugin_pb.DescribeResponse:
        return plugin_pb.DescribeResponse(
            name=self.name,
            version=self.version,
            stages=list(self.stages),
            resources=plugin_pb.Resources(cpu_cores=self.cpu_cores, gpus=self.gpus, memory_bytes=self.memory_bytes),
            parameters_schema_json=json.dumps(self.parameters_schema, sort_keys=True),
            description=self.description,
        )

    def run(self, ctx: RunContext) -> None:
        raise NotImplementedError

"""ArtifactRef protobufs are the one representation of a stored blob everywhere: in runs, jobs and
notifications. These helpers move them in and out of JSON columns and payloads."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from google.protobuf import json_format

from twinforge.plugin.v1 import plugin_service_pb2 as plugin_pb


def ref_to_dict(ref: plugin_pb.ArtifactRef) -> dict[str, Any]:
    return json_format.MessageToDict(ref, preserving_proto_field_name=True)


def ref_from_dict(data: dict[str, Any]) -> plugin_pb.ArtifactRef:
    return json_format.ParseDict(data, plugin_pb.ArtifactRef(), ignore_unknown_fields=True)


def refs_to_json(refs: Iterable[plugin_pb.ArtifactRef]) -> str:
    return json.dumps([ref_to_dict(r) for r in refs], sort_keys=True)


def refs_from_json(text: str) -> list[plugin_pb.ArtifactRef]:
    return [ref_from_dict(d) for d in json.loads(text or "[]")]


def error_to_json(error: plugin_pb.StageError) -> str:
    return json.dumps(json_format.MessageToDict(error, preserving_proto_field_name=True), sort_keys=True)


def error_from_json(text: str) -> plugin_pb.StageError:
    return json_format.ParseDict(json.loads(text), plugin_pb.StageError()) if text else plugin_pb.StageError()

"""The committed gRPC code is what proto/generate.py makes from the .proto files, and the contracts
pass buf's STANDARD lint."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "proto"
BUF = ROOT / ".tools" / "node_modules" / ".bin" / "buf"


def _generate_module():
    spec = importlib.util.spec_from_file_location("twinforge_proto_generate", PROTO_ROOT / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _generated(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for pattern in ("*_pb2.py", "*_pb2.pyi", "*_pb2_grpc.py")
        for p in root.glob(f"twinforge/**/{pattern}")
    }


def test_committed_code_matches_regenerated(tmp_path):
    _generate_module().generate(tmp_path)
    fresh = _generated(tmp_path)
    committed = _generated(PROTO_ROOT)
    assert fresh, "generate() wrote no files"
    assert sorted(fresh) == sorted(committed), "generated files are missing or extra; run python proto/generate.py"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale generated code (run python proto/generate.py): {stale}"
    for package in {Path(name).parent for name in fresh}:
        assert (tmp_path / package / "__init__.py").is_file()


def test_protos_pass_buf_lint():
    buf = str(BUF) if BUF.is_file() else shutil.which("buf")
    if buf is None:
        pytest.skip(f"the buf CLI is absent (expected at {BUF.relative_to(ROOT)} or on PATH; npm install @bufbuild/buf)")
    result = subprocess.run([buf, "lint"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"buf lint failed:\n{result.stdout}{result.stderr}"

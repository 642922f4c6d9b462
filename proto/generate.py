"""The one codegen command: regenerates the Python gRPC code beside each .proto.

Run it after editing a .proto (`python proto/generate.py`); a test regenerates into a temporary
directory and fails when the committed code differs, so stale code never lands.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent


def proto_files(root: Path = PROTO_ROOT) -> list[Path]:
    return sorted(root.glob("twinforge/**/*.proto"))


def generate(out_dir: Path, root: Path = PROTO_ROOT) -> None:
    """Writes _pb2.py, _pb2.pyi and _pb2_grpc.py for every .proto under root into out_dir."""
    import grpc_tools
    from grpc_tools import protoc

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    files = [str(p.relative_to(root)) for p in proto_files(root)]
    args = [
        "grpc_tools.protoc",
        f"-I{root}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed; see the messages above")
    for package_dir in {out_dir / Path(f).parent for f in files}:
        for parent in [package_dir, *package_dir.parents]:
            if parent == out_dir or out_dir not in parent.parents:
                break
            (parent / "__init__.py").touch()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=PROTO_ROOT, help="output root (default: beside the .proto files)")
    generate(parser.parse_args(argv).out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Regenerate the Python code for the ``verifykit.v1`` protos (``make proto`` calls :func:`main`).

A test runs :func:`generate` into a temporary directory and fails
when the checked-in modules in ``_pb/`` differ, so the protos and the code never drift apart.

protoc writes absolute imports (``from verifykit.v1 import common_pb2``) that match the proto
package, not where the modules live in this wheel; they are rewritten to relative imports, so
the protos keep their natural paths (``verifykit/v1/*.proto``) for clients in other languages.
"""

from __future__ import annotations

import re
import sys
import tempfile
from importlib import resources
from pathlib import Path

from ._config import PROTO_ROOT

__all__ = ["PROTOS", "generate", "main", "proto_files"]

PB_DIR = Path(__file__).resolve().parent / "_pb"
PROTOS = ("common", "email_otp", "password", "face")
_PACKAGE = "verifykit.server._pb"
_ABSOLUTE_IMPORT = re.compile(r"^from verifykit\.v1 import ", re.MULTILINE)
_MODULE_NAME = re.compile(r"'verifykit\.v1\.(\w+_pb2)'")


def proto_files() -> list[Path]:
    return [PROTO_ROOT / "verifykit" / "v1" / f"{name}.proto" for name in PROTOS]


def _rewrite(text: str) -> str:
    text = _ABSOLUTE_IMPORT.sub("from . import ", text)
    return _MODULE_NAME.sub(lambda m: f"'{_PACKAGE}.{m.group(1)}'", text)


def generate(out_dir: Path) -> list[Path]:
    """Write ``*_pb2.py``, ``*_pb2.pyi`` and ``*_pb2_grpc.py`` for every proto into ``out_dir``."""
    from grpc_tools import protoc

    well_known = str(resources.files("grpc_tools") / "_proto")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{well_known}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *(str(p) for p in proto_files()),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed; see the messages above")
        for produced in sorted((Path(tmp) / "verifykit" / "v1").iterdir()):
            target = out_dir / produced.name
            target.write_text(_rewrite(produced.read_text(encoding="utf-8")), encoding="utf-8")
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    for path in generate(Path(args[0]) if args else PB_DIR):
        print(path)

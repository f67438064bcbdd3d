"""Regenerate the Python code for the ``verifykit.v1`` protos (``make proto`` calls :func:`main`).

A test runs :func:`generate` into a temporary directory and fails
when the checked-in modules in ``verifykit/_wire/_pb/`` differ, so the protos and the code never drift apart.

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
from typing import Any

from .._wire import PROTO_ROOT

__all__ = ["API_DOC", "PROTOS", "api_reference", "generate", "main", "proto_files"]

PB_DIR = PROTO_ROOT.parent / "_pb"
# In a source checkout, the API reference page beside the code; `make proto` rewrites it.
API_DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"
PROTOS = ("common", "email_otp", "password", "face", "totp", "recovery", "ladder", "voucher", "passkey")
_PACKAGE = "verifykit._wire._pb"
_ABSOLUTE_IMPORT = re.compile(r"^from verifykit\.v1 import ", re.MULTILINE)
_MODULE_NAME = re.compile(r"'verifykit\.v1\.(\w+_pb2)'")


def proto_files() -> list[Path]:
    return [PROTO_ROOT / "verifykit" / "v1" / f"{name}.proto" for name in PROTOS]


def _rewrite(text: str) -> str:
    text = _ABSOLUTE_IMPORT.sub("from . import ", text)
    return _MODULE_NAME.sub(lambda m: f"'{_PACKAGE}.{m.group(1)}'", text)


def _protoc(*outputs: str) -> None:
    from grpc_tools import protoc

    well_known = str(resources.files("grpc_tools") / "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        *outputs,
        *(str(p) for p in proto_files()),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed; see the messages above")


def generate(out_dir: Path) -> list[Path]:
    """Write ``*_pb2.py``, ``*_pb2.pyi`` and ``*_pb2_grpc.py`` for every proto into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        _protoc(f"--python_out={tmp}", f"--pyi_out={tmp}", f"--grpc_python_out={tmp}")
        for produced in sorted((Path(tmp) / "verifykit" / "v1").iterdir()):
            target = out_dir / produced.name
            target.write_text(_rewrite(produced.read_text(encoding="utf-8")), encoding="utf-8")
            written.append(target)
    return written


# Descriptor paths of the declarations that carry comments (descriptor.proto field numbers).
_MESSAGE, _ENUM, _SERVICE, _FIELD, _VALUE, _METHOD = 4, 5, 6, 2, 2, 2
_SCALARS = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 8: "bool", 9: "string", 12: "bytes"}


def _comment(comments: dict[tuple[int, ...], str], *path: int) -> str:
    return " ".join(comments.get(path, "").split())


def _type_name(field: Any) -> str:
    name = field.type_name.removeprefix(".verifykit.v1.").removeprefix(".") or _SCALARS.get(field.type, "?")
    if field.label == 3:
        return f"repeated {name}" if not name.endswith("Entry") else "map<string, string>"
    return f"optional {name}" if field.proto3_optional else name


def api_reference() -> str:
    """The API reference page (docs/api.md), written from the protos and their comments."""
    from google.protobuf import descriptor_pb2

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "api.pb"
        _protoc(f"--descriptor_set_out={out}", "--include_source_info")
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    lines = [
        "# API reference: `verifykit.v1`",
        "",
        "Written by `make proto` from the `.proto` files in `src/verifykit/_wire/proto/verifykit/v1/`",
        "(they ship inside the Python package); a test fails when this page and the protos differ.",
        "Error statuses are described on the [sidecar page](sidecar.md#errors).",
    ]
    for file in files:
        comments = {tuple(loc.path): loc.leading_comments for loc in file.source_code_info.location}
        lines += ["", f"## `{file.name}`", ""]
        for s_index, service in enumerate(file.service):
            lines += [f"### service `{service.name}`", "", _comment(comments, _SERVICE, s_index), ""]
            lines += ["| RPC | Request | Response | |", "|---|---|---|---|"]
            for m_index, method in enumerate(service.method):
                text = _comment(comments, _SERVICE, s_index, _METHOD, m_index)
                request = method.input_type.removeprefix(".verifykit.v1.")
                response = method.output_type.removeprefix(".verifykit.v1.")
                lines.append(f"| `{method.name}` | `{request}` | `{response}` | {text} |")
            lines.append("")
        for e_index, enum in enumerate(file.enum_type):
            lines += [f"### enum `{enum.name}`", "", _comment(comments, _ENUM, e_index), ""]
            lines += ["| Value | Number | |", "|---|---|---|"]
            for v_index, value in enumerate(enum.value):
                text = _comment(comments, _ENUM, e_index, _VALUE, v_index)
                lines.append(f"| `{value.name}` | {value.number} | {text} |")
            lines.append("")
        for m_index, message in enumerate(file.message_type):
            lines += [f"### message `{message.name}`", "", _comment(comments, _MESSAGE, m_index), ""]
            if message.field:
                lines += ["| Field | Type | Number | |", "|---|---|---|---|"]
            for f_index, field in enumerate(message.field):
                text = _comment(comments, _MESSAGE, m_index, _FIELD, f_index)
                lines.append(f"| `{field.name}` | `{_type_name(field)}` | {field.number} | {text} |")
            lines.append("")
    return "\n".join(line for n, line in enumerate(lines) if line or (n and lines[n - 1])).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    for path in generate(Path(args[0]) if args else PB_DIR):
        print(path)
    if not args:
        API_DOC.write_text(api_reference(), encoding="utf-8")
        print(API_DOC)

"""Every Python example in docs/ runs, and docs/sidecar.md names every service the sidecar serves.

Each page's ```python blocks run in order, in one namespace (a later block may use what an earlier
one made), in a fresh interpreter per page, inside a temporary working folder. A block may use
``await`` and ``async with`` at its top level, as in an asyncio REPL: all such blocks of a page share
one event loop. The names a page's examples take as given (a ``store``, a ``keyring``, the photo a
person sent) come from the page's prelude: one ```python block whose first line starts with
``# prelude``, shown folded at the top of the page and run first (docs/index.md says so).

``python tests/test_docs.py docs/PAGE.md`` runs one page by hand.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from verifykit.delivery import Outbox
from verifykit.server import Components, ServerConfig, create_server

DOCS = Path(__file__).resolve().parents[1] / "docs"
PROTO = Path(__file__).resolve().parents[1] / "src" / "verifykit" / "_wire" / "proto"
PRELUDE = "# prelude"
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[ \t]*$")
# Pages whose examples start worker processes or a sidecar: seconds, not a blink.
SLOW_PAGES = {"face.md", "sidecar.md"}


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # of the opening fence, 1-based
    code: str

    @property
    def is_prelude(self) -> bool:
        return self.code.startswith(PRELUDE)


def python_blocks(page: Path) -> list[Block]:
    """The ```python blocks of ``page``, dedented by their fence's indentation, in page order."""
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    opened: tuple[int, str, str] | None = None  # (line, indent, language)
    body: list[str] = []
    for number, text in enumerate(lines, start=1):
        fence = _FENCE.match(text)
        if opened is None:
            if fence is not None and fence["lang"]:
                opened, body = (number, fence["indent"], fence["lang"]), []
            elif fence is not None:
                opened, body = (number, fence["indent"], ""), []
            continue
        if fence is not None and not fence["lang"]:
            if opened[2] == "python":
                found.append(Block(page.name, opened[0], textwrap.dedent("\n".join(body)) + "\n"))
            opened = None
            continue
        body.append(text)
    if opened is not None:
        raise AssertionError(f"{page.name}:{opened[0]}: a code fence is never closed")
    return found


def pages_with_examples() -> list[Path]:
    return [page for page in sorted(DOCS.glob("*.md")) if python_blocks(page)]


def run_page(page: Path) -> NoReturn:
    """Run ``page``'s blocks, its prelude first; the first failing block ends the run with its
    traceback, whose file name is ``PAGE.md:LINE`` of that block's opening fence."""
    blocks = python_blocks(page)
    blocks.sort(key=lambda block: not block.is_prelude)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    loop = asyncio.new_event_loop()
    os.chdir(tempfile.mkdtemp(prefix="verifykit-docs-"))
    try:
        for block in blocks:
            # Offset the code so that a traceback's line numbers are the page's.
            source = "\n" * block.line + block.code
            flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
            code = compile(source, f"{block.page}:{block.line}", "exec", flags=flags)
            if code.co_flags & inspect.CO_COROUTINE:
                loop.run_until_complete(eval(code, namespace))
            else:
                exec(code, namespace)
    except BaseException:
        traceback.print_exc()
        status = 1
    else:
        print(f"{page.name}: {len(blocks)} blocks ran")
        status = 0
    if "verifykit.face" in sys.modules:
        sys.modules["verifykit.face"].shutdown_workers()
    sys.stdout.flush()
    sys.stderr.flush()
    # A sidecar a page started holds threads that would outlive the page: it is done either way.
    os._exit(status)


if __name__ == "__main__":
    run_page(Path(sys.argv[1]).resolve())


# -- the tests --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(page, id=page.name, marks=[pytest.mark.slow] if page.name in SLOW_PAGES else [])
        for page in pages_with_examples()
    ],
)
def test_every_python_block_of_the_page_runs(page: Path) -> None:
    done = subprocess.run(
        [sys.executable, __file__, str(page)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.endswith(f"{page.name}: {len(python_blocks(page))} blocks ran\n")


def test_every_python_fence_is_found() -> None:
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        assert len(python_blocks(page)) == len(re.findall(r"^[ \t]*```python[ \t]*$", text, re.M)), page.name


def test_a_page_has_at_most_one_prelude_and_it_comes_first() -> None:
    for page in pages_with_examples():
        preludes = [block.line for block in python_blocks(page) if block.is_prelude]
        assert len(preludes) <= 1, f"{page.name}: preludes at lines {preludes}"
        if preludes:
            assert python_blocks(page)[0].is_prelude, f"{page.name}: the prelude is not the first block"


def test_the_runner_reads_indented_fences_and_skips_other_languages(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n```sh\necho hi\n```\n\n"
        "- a step:\n\n  ```python\n  x = 1\n  ```\n\n"
        "```python\n# prelude\ny = 2\n```\n"
    )
    assert python_blocks(page) == [Block("page.md", 9, "x = 1\n"), Block("page.md", 13, "# prelude\ny = 2\n")]


def test_a_failing_block_fails_its_page_and_names_its_line(tmp_path: Path) -> None:
    page = tmp_path / "broken.md"
    page.write_text("# Broken\n\n```python\n# prelude\nstore = None\n```\n\n```python\nstore.start()\n```\n")
    done = subprocess.run([sys.executable, __file__, str(page)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert 'File "broken.md:8", line 9' in done.stderr
    assert "AttributeError" in done.stderr


# -- docs/sidecar.md's list of services ----------------------------------------------------------------


def documented_services() -> set[str]:
    """The service names in backticks (``FooService``, ``grpc.…``) of the "- Services:" item of
    docs/sidecar.md."""
    text = (DOCS / "sidecar.md").read_text(encoding="utf-8")
    found = re.search(r"^- Services: (.*?)(?=^\S|^- |\n\n)", text, re.M | re.S)
    assert found is not None, "docs/sidecar.md has no '- Services:' item"
    return set(re.findall(r"`(grpc\.[\w.]+|\w+Service)`", found.group(1)))


def proto_services() -> set[str]:
    return {
        name
        for proto in PROTO.rglob("*.proto")
        for name in re.findall(r"^service (\w+)", proto.read_text(encoding="utf-8"), re.M)
    }


def served_services() -> set[str]:
    """What a sidecar on the embedded defaults lists through server reflection."""
    import grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    sidecar, port = create_server(ServerConfig(listen="127.0.0.1:0"), Components(mailer=Outbox()))
    sidecar.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            (answer,) = stub.ServerReflectionInfo(iter([request]), timeout=30)
    finally:
        sidecar.stop(grace=1.0)
    return {service.name.removeprefix("verifykit.v1.") for service in answer.list_services_response.service}


def test_the_sidecar_page_names_every_service_in_the_proto_files() -> None:
    missing = proto_services() - documented_services()
    assert not missing, f"docs/sidecar.md's list of services lacks {sorted(missing)}"


def test_the_sidecar_page_names_every_service_a_sidecar_serves() -> None:
    served = served_services()
    assert {"EmailOtpService", "grpc.health.v1.Health"} <= served
    missing = served - documented_services()
    assert not missing, f"docs/sidecar.md's list of services lacks {sorted(missing)}"


def test_the_sidecar_page_names_no_service_that_does_not_exist() -> None:
    standard = {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}
    assert documented_services() <= proto_services() | standard

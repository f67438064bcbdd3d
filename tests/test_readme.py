"""The README's promises: its Python runs as written, and its install lines match the project."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def section(title: str) -> str:
    """The text under the ``## title`` heading, up to the next one."""
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.DOTALL | re.MULTILINE)
    assert found, f"the README has no section {title!r}"
    return found.group(1)


def python_blocks(text: str) -> list[str]:
    return [match.group(1) for match in FENCE.finditer(text)]


USE_IT = python_blocks(section("Use it"))


def test_the_use_it_section_shows_the_sync_and_the_asyncio_flavour() -> None:
    assert len(USE_IT) == 2
    assert "otp.check(" in USE_IT[0] and "await otp.check(" in USE_IT[1]


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter, in an empty folder, with no verifykit settings around it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFYKIT_")}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("code", USE_IT, ids=["sync", "asyncio"])
def test_each_python_block_of_use_it_runs_as_written_and_approves(code: str, tmp_path: Path) -> None:
    done = run_python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "approved", done.stdout


def test_the_block_runner_reports_a_block_that_fails(tmp_path: Path) -> None:
    # The test above is only as good as this: an exception in a block fails it.
    broken = USE_IT[0].replace("otp.check(challenge.id, code_the_person_typed)", "otp.check('nope', '1')")
    assert broken != USE_IT[0]
    assert run_python(broken, tmp_path).returncode != 0


def test_the_readme_names_every_extra_a_pip_user_can_install() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    quickstart = section("Quickstart")
    assert [extra for extra in extras if extra != "dev" and f"`{extra}`" not in quickstart] == []

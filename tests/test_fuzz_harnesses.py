"""The fuzz harnesses (fuzz/) stay runnable: every target has seeds, its seeds and a few hundred
mutations of them hold the invariant (a result or a verifykit error), and the runner fuzzes under
libFuzzer. The long runs are ``make fuzz``; this keeps a broken harness out of ``make test``."""

from __future__ import annotations

import importlib
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("atheris")
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # fuzz/ is a top-level folder beside src/, not an installed package
    sys.path.insert(0, str(REPO))

from fuzz._targets import CORPUS, TARGETS  # noqa: E402 - after the skip and the path
from fuzz.run import available  # noqa: E402

MUTATIONS = 200


def _seeds(target: str) -> list[bytes]:
    return [path.read_bytes() for path in sorted((CORPUS / target).iterdir())]


def _mutations(seeds: list[bytes], count: int, rng: random.Random) -> Iterator[bytes]:
    """libFuzzer's simplest moves: flip, overwrite, insert, delete, truncate and splice."""
    for _ in range(count):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            move = rng.randrange(6)
            at = rng.randrange(len(data) + 1)
            if move == 0 and data:
                data[at % len(data)] ^= 1 << rng.randrange(8)
            elif move == 1 and data:
                data[at % len(data)] = rng.choice((0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)))
            elif move == 2:
                data[at:at] = rng.randbytes(rng.randint(1, 8))
            elif move == 3:
                del data[at : at + rng.randint(1, 8)]
            elif move == 4:
                del data[at:]
            else:
                other = rng.choice(seeds)
                data[at:] = other[rng.randrange(len(other) + 1) :]
        yield bytes(data)


@pytest.fixture
def harness(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    module = importlib.import_module(f"fuzz.fuzz_{request.param}")
    yield module
    close = getattr(module, "close", None)
    if close is not None:
        close()


def test_every_target_has_a_harness() -> None:
    assert available() == list(TARGETS)


@pytest.mark.parametrize("target", available())
def test_every_target_has_seeds(target: str) -> None:
    assert _seeds(target)


@pytest.mark.parametrize("harness", available(), indirect=True)
def test_seeds_and_their_mutations_hold_the_invariant(harness: ModuleType) -> None:
    target = harness.__name__.rpartition("_")[2]
    seeds = _seeds(target)
    for data in seeds:
        harness.TestOneInput(data)
    for data in _mutations(seeds, MUTATIONS, random.Random(target)):
        harness.TestOneInput(data)


def test_the_runner_fuzzes_a_target_under_libfuzzer(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fuzz.run", "codes", "--runs", str(MUTATIONS), "--workdir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Done {MUTATIONS} runs" in result.stderr or "DONE" in result.stderr

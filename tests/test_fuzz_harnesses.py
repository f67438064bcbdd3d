"""The fuzz harnesses (fuzz/) stay runnable: every target has seeds, its seeds and a few hundred
mutations of them hold the invariant (a result or a verifykit error), and the runner fuzzes under
libFuzzer. The long runs are ``make fuzz``; this keeps a broken harness out of ``make test``."""

from __future__ import annotations

import importlib
import random
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

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


# -- the image harness's structure-aware mutator --------------------------------------------------

# What a file with a broken chunk or segment structure is refused for; the mutator never makes
# one (it may still make a RIFF size that lies: that is one of its moves).
_BROKEN_STRUCTURE = re.compile("checksum mismatch|bad chunk header|cut off inside|bad segment length")


def _byte_mutator(rng: random.Random) -> Callable[[bytes, int], bytes]:
    def mutate(data: bytes, max_size: int) -> bytes:
        return next(_mutations([data], 1, rng))[:max_size]

    return mutate


def _image_mutations(count: int) -> Iterator[bytes]:
    from fuzz import fuzz_image

    rng = random.Random("image-structure")
    for seed in _seeds("image"):
        for _ in range(count):
            out = fuzz_image.mutate(
                seed, fuzz_image.MAX_LEN, rng.randrange(1 << 32), lambda data, _size: data
            )
            assert len(out) <= fuzz_image.MAX_LEN
            yield out


def test_the_image_mutator_keeps_chunk_and_segment_structure_valid() -> None:
    from verifykit import ImageError
    from verifykit.face import probe

    for data in _image_mutations(40):
        try:
            probe(data)
        except ImageError as exc:
            assert not _BROKEN_STRUCTURE.search(str(exc)), (str(exc), data[:64])


def test_the_image_mutator_writes_png_lengths_and_crcs() -> None:
    from fuzz.fuzz_image import PNG_SIGNATURE, png_chunks, png_file

    pngs = [data for data in _image_mutations(40) if data.startswith(PNG_SIGNATURE)]
    assert pngs
    for data in pngs:
        assert png_file(png_chunks(data)) == data


def test_the_image_mutator_falls_back_to_byte_mutation_for_other_formats() -> None:
    from fuzz.fuzz_image import mutate

    assert mutate(b"GIF89a", 64, 1, lambda data, _size: data + b"!") == b"GIF89a!"


@pytest.mark.parametrize("harness", ["image"], indirect=True)
def test_the_image_harness_holds_the_invariant_on_structured_mutations(harness: ModuleType) -> None:
    rng = random.Random("image-harness")
    for seed in _seeds("image"):
        for _ in range(10):
            harness.TestOneInput(
                harness.mutate(seed, harness.MAX_LEN, rng.randrange(1 << 32), _byte_mutator(rng))
            )


def test_the_runner_gives_the_image_harness_its_mutator_and_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import atheris
    from fuzz import fuzz_image, run

    setup: dict[str, Any] = {}
    monkeypatch.setattr(atheris, "Setup", lambda args, target, **kwargs: setup.update(args=args, **kwargs))
    monkeypatch.setattr(atheris, "Fuzz", lambda: None)
    run.fuzz("image", seconds=1, runs=None, workdir=tmp_path, extra=[])
    assert setup["custom_mutator"] is fuzz_image.CustomMutator
    assert f"-timeout={fuzz_image.TIMEOUT}" in setup["args"]
    assert any(arg.startswith("-rss_limit_mb=") for arg in setup["args"])

"""Run one fuzz target, or all of them in turn: ``python -m fuzz.run TARGET|all --seconds N``.

Each target runs in a process of its own (atheris fuzzes once per process) under libFuzzer's
limits: ``-timeout`` (a hang), and ``-rss_limit_mb`` set to the idle size of the process plus the
target's memory budget (``RSS_MB``, 512 MiB unless the harness says otherwise), so memory past
the documented limit is a crash. New inputs go to a working corpus (``--workdir``, a temporary
directory by default); the committed seeds in fuzz/corpus/TARGET are only read. A crash leaves
its input as ``crash-*`` in the working directory; replay it with ``--replay FILE``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from ._targets import CORPUS, TARGETS

DEFAULT_RSS_MB = 512
DEFAULT_TIMEOUT = 10
DEFAULT_MAX_LEN = 4096


def available() -> list[str]:
    """The targets whose harness imports here (one may wait for an optional package)."""
    return [t for t in TARGETS if importlib.util.find_spec(f"fuzz.fuzz_{t}") is not None]


def _rss_mb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _load(target: str, *, instrument: bool) -> ModuleType:
    if not instrument:
        return importlib.import_module(f"fuzz.fuzz_{target}")
    import atheris

    # Coverage from verifykit's own code guides the search; libraries stay uninstrumented.
    with atheris.instrument_imports(include=["verifykit"]):
        return importlib.import_module(f"fuzz.fuzz_{target}")


def fuzz(target: str, *, seconds: int | None, runs: int | None, workdir: Path, extra: list[str]) -> None:
    """Fuzz ``target`` in this process; libFuzzer exits the process when it is done."""
    import atheris

    module = _load(target, instrument=True)
    setup = getattr(module, "setup", None)
    if setup is not None:
        setup()
    limit = _rss_mb() + getattr(module, "RSS_MB", DEFAULT_RSS_MB)
    workdir.mkdir(parents=True, exist_ok=True)
    args = [
        sys.argv[0],
        f"-rss_limit_mb={limit}",
        f"-timeout={getattr(module, 'TIMEOUT', DEFAULT_TIMEOUT)}",
        f"-max_len={getattr(module, 'MAX_LEN', DEFAULT_MAX_LEN)}",
        f"-artifact_prefix={workdir}/",
        "-print_final_stats=1",
    ]
    if seconds is not None:
        args.append(f"-max_total_time={seconds}")
    if runs is not None:
        args.append(f"-runs={runs}")
    args += extra
    corpus = workdir / "corpus"
    corpus.mkdir(exist_ok=True)
    args += [str(corpus), str(CORPUS / target)]
    # A harness may shape its inputs (fuzz_image keeps chunk and segment structure valid).
    mutator = getattr(module, "CustomMutator", None)
    atheris.Setup(args, module.TestOneInput, **({"custom_mutator": mutator} if mutator else {}))
    atheris.Fuzz()


def replay(target: str, files: list[Path]) -> None:
    """Run inputs through the harness without libFuzzer: a crash shows its traceback."""
    module = _load(target, instrument=False)
    try:
        for path in files:
            print(f"replaying {path}", flush=True)
            module.TestOneInput(path.read_bytes())
    finally:
        close = getattr(module, "close", None)
        if close is not None:
            close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=[*TARGETS, "all"])
    parser.add_argument("--seconds", type=int, help="stop after this long (per target)")
    parser.add_argument("--runs", type=int, help="stop after this many inputs (per target)")
    parser.add_argument("--workdir", type=Path, help="working corpus and crash files (default: temporary)")
    parser.add_argument("--replay", type=Path, nargs="+", metavar="FILE", help="run these inputs and stop")
    parser.add_argument("libfuzzer", nargs="*", help="extra libFuzzer flags, after --")
    args = parser.parse_args(argv)
    if args.replay:
        replay(args.target, args.replay)
        return 0
    if args.seconds is None and args.runs is None:
        parser.error("give --seconds or --runs")
    if args.target == "all":
        return _all(args)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix=f"verifykit-fuzz-{args.target}-"))
    fuzz(args.target, seconds=args.seconds, runs=args.runs, workdir=workdir, extra=args.libfuzzer)
    return 0


def _all(args: argparse.Namespace) -> int:
    failed = []
    for target in available():
        command = [sys.executable, "-m", "fuzz.run", target]
        command += ["--seconds", str(args.seconds)] if args.seconds is not None else []
        command += ["--runs", str(args.runs)] if args.runs is not None else []
        if args.workdir is not None:
            command += ["--workdir", str(args.workdir / target)]
        print(f"== fuzz {target}", flush=True)
        if subprocess.run([*command, "--", *args.libfuzzer], check=False).returncode != 0:
            failed.append(target)
    if failed:
        print(f"crashed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

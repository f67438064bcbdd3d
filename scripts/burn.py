"""Run a command while other processes keep the CPUs busy, to show a test suite does not lean on luck.

    python scripts/burn.py [--workers N] -- COMMAND [ARG ...]

Starts N processes (default 2) that spin on the CPU, runs COMMAND, stops them and exits with
COMMAND's status. ``make test-under-load`` runs the test suite this way: a suite that passes alone
but fails here waits on wall-clock time somewhere it should count or poll.
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import sys
import time


def _spin() -> None:
    """Busy work that never sleeps and never ends (the parent terminates it)."""
    n = 0
    while True:
        n = (n * 1103515245 + 12345) % 2**31


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a command while other processes keep the CPUs busy.")
    parser.add_argument("--workers", type=int, default=2, help="busy processes beside it (default 2)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    if args.workers < 0:
        parser.error("--workers must be 0 or more")
    burners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.workers)]
    for burner in burners:
        burner.start()
    began = time.monotonic()
    try:
        status = subprocess.call(command)  # noqa: S603 - the command line the caller gave
    except KeyboardInterrupt:
        status = 130
    finally:
        for burner in burners:
            burner.terminate()
        for burner in burners:
            burner.join()
    print(f"burn.py: {' '.join(command)} exited {status} after {time.monotonic() - began:.0f} s "
          f"beside {args.workers} busy process(es)", file=sys.stderr)  # fmt: skip
    return status


if __name__ == "__main__":
    sys.exit(main())

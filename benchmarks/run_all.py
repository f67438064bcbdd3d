"""Run every ``verifykit bench`` and keep each JSON report in ``bench-results/``.

Usage: python benchmarks/run_all.py [--quick] [NAME ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from verifykit.bench import BENCHES

QUICK_ARGS = {
    "store": ["-n", "300"],
    "otp": ["-n", "300"],
    "hash": ["--quick"],
    "face": ["--quick"],
    "grpc": ["--quick"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", default=list(BENCHES), help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)
    status = 0
    for name in args.names:
        extra = QUICK_ARGS.get(name, []) if args.quick else []
        cmd = [sys.executable, "-m", "verifykit", "bench", name, "--json", *extra]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{name}: failed\n{done.stderr}", file=sys.stderr)
            status = 1
            continue
        report = json.loads(done.stdout)
        (args.out / f"{name}.json").write_text(json.dumps(report, indent=2))
        for case in report["cases"]:
            ratio = "" if case["ratio"] is None else f"{case['ratio']:.2f}x"
            print(f"{name:6} {case['name']:<60} {case['value']:>10.4g} {case['unit']:<5} {ratio}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())

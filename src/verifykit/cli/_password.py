"""``verifykit password hash|verify|check|calibrate``.

Passwords are read from standard input (one trailing newline removed) or, on a terminal,
from a prompt that does not echo. They never appear in arguments, output or errors.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from typing import Any

from .._errors import InvalidInput

__all__ = ["parse_size", "register"]

_SIZE = re.compile(r"^\s*([0-9]+)\s*(B|KiB|MiB|GiB|K|M|G)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20}
_UNITS.update({"g": 1 << 30, "gib": 1 << 30})


def parse_size(text: str) -> int:
    """``"256MiB"`` -> bytes. Binary units (KiB, MiB, GiB; K/M/G mean the same); bare numbers are bytes."""
    m = _SIZE.match(text)
    if m is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 256MiB, 1GiB or 65536KiB")
    return int(m.group(1)) * _UNITS[(m.group(2) or "").lower()]


def _read_password(prompt: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    data = sys.stdin.read()
    if data.endswith("\r\n"):
        return data[:-2]
    return data[:-1] if data.endswith("\n") else data


def register(sub: Any) -> None:
    parser = sub.add_parser("password", help="hash, verify and check passwords; calibrate argon2id")
    cmds = parser.add_subparsers(dest="password_command", required=True, metavar="ACTION")

    p = cmds.add_parser("hash", help="read a password from stdin, check the policy, print its argon2id hash")
    p.add_argument("--preset", default=None, help="argon2id preset (default: rfc9106_low_memory)")
    p.add_argument("--subject", default=None, help="whose password it is (a word it may not contain)")
    p.add_argument("--context", action="append", default=[], help="another word it may not contain")
    p.add_argument("--min-length", type=int, default=None, help="minimum length (default 8)")
    p.set_defaults(func=_hash)

    p = cmds.add_parser("verify", help="read a password from stdin; exit 0 if it matches HASH, 1 if not")
    p.add_argument("hash", metavar="HASH", help="an argon2 (reference tool or ours), bcrypt or PBKDF2 hash")
    p.add_argument("--preset", default=None, help="preset whose parameters count as current (for 'rehash')")
    p.set_defaults(func=_verify)

    p = cmds.add_parser("check", help="read a candidate password from stdin and report the policy result")
    p.add_argument("--subject", default=None)
    p.add_argument("--context", action="append", default=[])
    p.add_argument("--min-length", type=int, default=None)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_check)

    p = cmds.add_parser("calibrate", help="propose argon2id parameters that meet a time target here")
    p.add_argument("--target-ms", type=float, default=250.0, help="time one hash may take (default 250)")
    p.add_argument("--max-memory", type=parse_size, default=parse_size("256MiB"), help="e.g. 256MiB")
    p.add_argument("--parallelism", type=int, default=None, help="lanes (default: cores, up to 4)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_calibrate)


def _policy(args: argparse.Namespace) -> Any:
    from ..password import PasswordPolicy

    return PasswordPolicy() if args.min_length is None else PasswordPolicy(min_length=args.min_length)


def _verifier(args: argparse.Namespace) -> Any:
    from ..crypto import Keyring
    from ..password import DEFAULT_PRESET, PasswordSettings, PasswordVerifier
    from ..store import MemoryStore

    # Hashing here is unpeppered and counts no attempt: a throwaway key and store are enough.
    settings = PasswordSettings(preset=getattr(args, "preset", None) or DEFAULT_PRESET, policy=_policy(args))
    return PasswordVerifier(store=MemoryStore(), keyring=Keyring.generate(), settings=settings, audit=None)


def _hash(args: argparse.Namespace) -> int:
    password = _read_password("New password: ")
    print(_verifier(args).hash(password, subject=args.subject, context=args.context))
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ..password import DEFAULT_PRESET, PasswordHasher, parse_hash, resolve_parameters

    stored = parse_hash(args.hash)
    if stored.pepper_kid is not None:
        raise InvalidInput("a peppered hash needs the server's keyring; verify it through the library")
    hasher = PasswordHasher(resolve_parameters(args.preset or DEFAULT_PRESET))
    if hasher.verify(stored, _read_password("Password: ")) is None:
        print("mismatch")
        return 1
    print("match" + (" (rehash: outdated parameters or scheme)" if hasher.needs_rehash(stored) else ""))
    return 0


def _check(args: argparse.Namespace) -> int:
    verifier = _verifier(args)
    result = verifier.check_policy(_read_password("Password: "), subject=args.subject, context=args.context)
    if args.json:
        print(
            json.dumps(
                {"approved": result.approved, "reason": result.reason.value, "message": result.message}
            )
        )
    else:
        print("ok" if result.approved else f"{result.reason}: {result.message}")
    return 0 if result.approved else 1


def _calibrate(args: argparse.Namespace) -> int:
    from ..password import calibrate, measure_ms

    params = calibrate(args.target_ms, args.max_memory, parallelism=args.parallelism)
    took = measure_ms(params)
    if args.json:
        doc = {
            "time_cost": params.time_cost,
            "memory_cost_kib": params.memory_cost,
            "parallelism": params.parallelism,
            "measured_ms": round(took, 1),
            "target_ms": args.target_ms,
        }
        print(json.dumps(doc))
    else:
        print(f"{params.describe()}: {took:.0f} ms here (target {args.target_ms:g} ms)")
        print(
            f"HashParameters(time_cost={params.time_cost}, memory_cost={params.memory_cost}, "
            f"parallelism={params.parallelism})"
        )
    return 0

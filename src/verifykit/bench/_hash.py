"""``verifykit bench hash``: password hashing and verification beside raw argon2-cffi in the same run.

- hash and verify latency per preset against argon2-cffi's ``PasswordHasher`` with identical
  parameters (verify overhead goal: at most 3 %);
- verifies per second with 1, 2 and N threads, and the scaling ratio;
- unknown-subject and wrong-password verify times side by side (they must match), for every
  stored form an existing subject may have (peppered, unpeppered, older argon2 parameters,
  argon2i/argon2d, bcrypt, PBKDF2), with the pepper on and with it off: within 5 % at p50 for
  each form that costs no more than the preset; a form that costs more is reported as the
  residual it is;
- blocklist lookup time and memory against a plain ``frozenset`` of the same entries;
- a flood of concurrent verifies at 64 MiB each in a fresh process: peak RSS above the process's
  base against the memory budget, and throughput against the same flood with no budget.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import threading
import time
import tracemalloc
import unicodedata
from typing import Any

import argon2
from argon2.low_level import Type, hash_secret

from ..crypto import Keyring
from ..password import PRESETS, HashParameters, PasswordHasher, PasswordSettings, PasswordVerifier, parse_hash
from ..password.low_level import WorkMeter, default_blocklist
from ..store import LockoutPolicy, MemoryStore
from ._report import BenchReport, Progress, percentile, time_call

__all__ = ["add_arguments", "flood_child", "run"]

PASSWORD = "correct horse battery staple"  # noqa: S105 - a benchmark input
MIB = 1 << 20
WRONG = "a wrong guess"
# NFKC folds these full-width letters to ASCII: the password is checked in two forms.
WRONG_UNNORMALIZED = "ａ ｗｒｏｎｇ ｇｕｅｓｓ"  # noqa: RUF001
# Goal for forms that cost no more than the preset: p50 within 5 % of an unknown subject's.
_ENUMERATION_TOLERANCE = 0.05
# The bench measures hashing, not lockouts: wide enough never to trip.
_WIDE = LockoutPolicy(threshold=100, lockout=1, lockout_max=1, hard_cap=100)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer samples, a shorter warm-up of the stored forms (rough ratios) and a smaller flood",
    )
    parser.add_argument("-n", type=int, default=None, help="samples per latency case (default 20; quick 5)")
    parser.add_argument("--flood", type=int, default=None, help="concurrent verifies (default 200; quick 50)")
    parser.add_argument(
        "--flood-budget",
        type=int,
        default=4,
        help="memory budget for the flood, in 64 MiB hashes (default 4)",
    )
    parser.add_argument("--threads", type=int, default=None, help="N for the scaling case (default: cores)")
    parser.add_argument(
        "--pepper",
        choices=("on", "off", "both"),
        default="both",
        help="the verifier's pepper for the stored-form cases (default both)",
    )


def _verifier(params: HashParameters, **options: Any) -> PasswordVerifier:
    options.setdefault("memory_budget", 1 << 62)
    settings = PasswordSettings(preset=params, lockout=_WIDE, **options)
    return PasswordVerifier(store=MemoryStore(), keyring=Keyring.generate(), settings=settings, audit=None)


def _raw(params: HashParameters) -> argon2.PasswordHasher:
    return argon2.PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_cost,
        parallelism=params.parallelism,
        hash_len=params.hash_len,
        salt_len=params.salt_len,
    )


def _latency(report: BenchReport, name: str, n: int, progress: Progress) -> None:
    params = PRESETS[name]
    pv, raw = _verifier(params), _raw(params)
    stored = pv.hash(PASSWORD)
    ours_hash: list[float] = []
    raw_hash: list[float] = []
    ours_verify: list[float] = []
    raw_verify: list[float] = []
    progress.stage(f"{name}: hash and verify", n)
    # Interleaved, so drift in machine load hits both sides alike.
    for i in range(n):
        ours_hash.append(time_call(lambda: pv.hash(PASSWORD)))
        raw_hash.append(time_call(lambda: raw.hash(PASSWORD)))
        ours_verify.append(time_call(functools.partial(pv.verify, f"user-{i}", stored, PASSWORD)))
        raw_verify.append(time_call(lambda: raw.verify(stored, PASSWORD)))
        progress.step()
    report.add(
        f"hash p50, {name}, vs raw PasswordHasher.hash",
        "ms",
        percentile(ours_hash, 50),
        percentile(raw_hash, 50),
    )
    case = report.add(
        f"verify p50, {name}, vs raw PasswordHasher.verify (goal <= 1.03)",
        "ms",
        percentile(ours_verify, 50),
        percentile(raw_verify, 50),
    )
    report.extra[f"verify_overhead_pct_{name}"] = round(((case.ratio or 0) - 1) * 100, 2)


def _throughput(params: HashParameters, threads: int, total: int) -> float:
    """Verifies per second with ``threads`` threads sharing ``total`` verifies."""
    pv = _verifier(params)
    stored = pv.hash(PASSWORD)
    per_thread = max(total // threads, 1)
    start = threading.Barrier(threads + 1)

    def worker(w: int) -> None:
        start.wait()
        for i in range(per_thread):
            pv.verify(f"user-{w}-{i}", stored, PASSWORD)

    pool = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    return per_thread * threads / (time.perf_counter() - t0)


def _scaling(report: BenchReport, total: int, n_threads: int, progress: Progress) -> None:
    # OWASP's preset has one lane, so the threads, not argon2's own lanes, use the cores.
    params = PRESETS["owasp_minimum"]
    counts = sorted({1, 2, n_threads})
    progress.stage("verifies per second by threads", len(counts))
    rates: dict[int, float] = {}
    for k in counts:
        rates[k] = _throughput(params, k, total)
        progress.step()
    for k in counts[1:]:
        report.add(
            f"verify cost, owasp_minimum, {k} threads vs 1 thread",
            "ms/verify",
            1000 / rates[k],
            1000 / rates[1],
        )
    report.extra["verifies_per_s_owasp_minimum"] = {str(k): round(v, 1) for k, v in rates.items()}
    report.extra["thread_scaling_ratio"] = round(rates[n_threads] / rates[1], 2)
    report.extra["cores"] = os.cpu_count()


def _argon2(params: HashParameters, kind: Type = Type.ID, **changes: int) -> str:
    values = {
        "time_cost": params.time_cost,
        "memory_cost": params.memory_cost,
        "parallelism": params.parallelism,
    }
    values.update(changes)
    salt = os.urandom(params.salt_len)
    return hash_secret(PASSWORD.encode(), salt, hash_len=params.hash_len, type=kind, **values).decode("ascii")


def _pbkdf2(iterations: int) -> str:
    import base64
    import hashlib

    digest = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), b"benchsalt", iterations)
    return f"pbkdf2_sha256${iterations}$benchsalt${base64.b64encode(digest).decode('ascii')}"


def _stored_forms(pv: PasswordVerifier) -> list[tuple[str, str, str]]:
    """(label, stored hash, wrong guess) for each form an existing subject's hash may be in:
    with the pepper on, hashes made before it; with it off, hashes made while it was on."""
    params = pv.parameters
    peppered = PasswordHasher(params, keyring=pv.keyring, pepper=True).hash(PASSWORD)
    unpeppered = PasswordHasher(params).hash(PASSWORD)
    forms = [
        ("argon2id, the preset, peppered", peppered, WRONG),
        ("argon2id, the preset, unpeppered", unpeppered, WRONG),
        ("argon2id, the preset, unpeppered, guess changed by NFKC", unpeppered, WRONG_UNNORMALIZED),
        ("argon2id, the preset, peppered, guess changed by NFKC", peppered, WRONG_UNNORMALIZED),
        ("argon2id, half the preset's memory", _argon2(params, memory_cost=params.memory_cost // 2), WRONG),
        ("argon2id, one pass fewer", _argon2(params, time_cost=max(params.time_cost - 1, 1)), WRONG),
        (
            "argon2id, owasp_minimum (an older preset)",
            PasswordHasher(PRESETS["owasp_minimum"]).hash(PASSWORD),
            WRONG,
        ),
        ("argon2i, the preset's parameters", _argon2(params, Type.I), WRONG),
        ("argon2d, the preset's parameters", _argon2(params, Type.D), WRONG),
        ("PBKDF2-SHA256, 260,000 iterations (Django 3.2)", _pbkdf2(260_000), WRONG),
    ]
    try:
        import bcrypt
    except ImportError:
        return forms
    for cost in (10, 12):
        forms.append(
            (f"bcrypt, cost {cost}", bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(cost)).decode(), WRONG)
        )
    return forms


def _enumeration(report: BenchReport, n: int, progress: Progress, *, pepper: bool, quick: bool) -> None:
    """An unknown subject against an existing one in each stored form, with the pepper on or off."""
    pv = _verifier(PRESETS["rfc9106_low_memory"], pepper=pepper)
    setting = "pepper on" if pepper else "pepper off"
    forms = _stored_forms(pv)
    preset_shape = pv.hasher.dummy().shape  # made once, as a running service has it
    counter = iter(range(1 << 62))

    def unknown(guess: str) -> float:
        return time_call(functools.partial(pv.verify, f"ghost-{next(counter)}", None, guess))

    def existing(stored: str, guess: str) -> float:
        return time_call(functools.partial(pv.verify, f"user-{next(counter)}", stored, guess))

    # Enough checks of each form for the meter to measure it and learn its top-up, as a
    # running service would have.
    costs = pv.hasher.costs
    warm = costs.min_samples + costs.top_up_window + 1 if isinstance(costs, WorkMeter) else 20
    if quick:  # enough for the meter to measure each form, not to settle its top-up: ratios are rough
        warm = costs.min_samples + 1 if isinstance(costs, WorkMeter) else 6
    progress.stage(f"stored forms, {setting}: measuring each check, as a running service has", len(forms))
    for _label, stored, guess in forms:
        for _ in range(warm):
            existing(stored, guess)
            unknown(guess)
        progress.step()
    samples: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label, _, _ in forms}
    progress.stage(f"unknown subject vs each stored form, {setting}", n)
    # Interleaved, taking turns at going first, so drift in machine load hits both sides alike.
    for i in range(n):
        for label, stored, guess in forms:
            ghost, real = samples[label]
            if i % 2:
                real.append(existing(stored, guess))
                ghost.append(unknown(guess))
            else:
                ghost.append(unknown(guess))
                real.append(existing(stored, guess))
        progress.step()
    details: dict[str, Any] = {}
    for label, stored, _guess in forms:
        ghost, real = samples[label]
        relative = pv.hasher.costs.relative_cost(parse_hash(stored).shape, preset_shape)
        cheaper = relative <= 1.0
        goal = (
            f"goal {1 - _ENUMERATION_TOLERANCE:.2f}-{1 + _ENUMERATION_TOLERANCE:.2f}"
            if cheaper
            else "costs more: residual"
        )
        case = report.add(
            f"unknown subject p50 vs {label} p50, {setting} ({goal})",
            "ms",
            percentile(ghost, 50),
            percentile(real, 50),
        )
        details[label] = {
            "check_cost_vs_preset": round(relative, 3),
            "unknown_p50_ms": round(percentile(ghost, 50), 2),
            "existing_p50_ms": round(percentile(real, 50), 2),
            "ratio": round(case.ratio or 0, 3),
            "within_goal": (abs((case.ratio or 0) - 1) <= _ENUMERATION_TOLERANCE) if cheaper else None,
        }
    report.extra.setdefault("stored_forms", {})[setting] = details


def _blocklist(report: BenchReport, progress: Progress) -> None:
    from importlib import resources

    progress.stage("blocklist", 3)
    data = resources.files("verifykit.password").joinpath("ncsc-top-100k.txt.gz").read_bytes()
    import gzip

    entries = [e for e in gzip.decompress(data).decode("utf-8").split("\n") if e]
    tracemalloc.start()
    as_set = frozenset(e.encode().decode() for e in entries)  # fresh strings, as a loaded file would be
    set_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    blocklist = default_blocklist()
    progress.step()
    probes = [entries[i] for i in range(0, len(entries), 97)] + [f"not listed {i}" for i in range(1000)]
    probes = [unicodedata.normalize("NFKC", p).casefold() for p in probes]

    def per_lookup_us(contains: Any) -> float:
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            for p in probes:
                contains(p)
            best = min(best, (time.perf_counter() - t0) / len(probes) * 1e6)
        return best

    ours = per_lookup_us(blocklist.__contains__)
    progress.step()
    theirs = per_lookup_us(as_set.__contains__)
    progress.step()
    report.add("blocklist lookup (goal well under 50 us) vs frozenset of str", "us", ours, theirs)
    report.add("blocklist memory vs frozenset of str", "KiB", blocklist.nbytes / 1024, set_bytes / 1024)
    pv = PasswordVerifier(store=MemoryStore(), keyring=Keyring.generate(), audit=None)
    check = [time_call(lambda: pv.check_policy(PASSWORD, subject="ana", context=["ana@example.com"])) * 1000]
    check += [time_call(lambda: pv.check_policy(PASSWORD, subject="ana")) * 1000 for _ in range(200)]
    report.add("check_policy p50 (whole policy, no baseline)", "us", percentile(check, 50))


# -- the flood, in a fresh process so its peak RSS is its own ------------------------------------


def _vm_kib(field: str) -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    # ru_maxrss is KiB on Linux.
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def flood_child() -> None:
    """Run one flood as told by the JSON in argv[1]; print what happened as JSON."""
    spec = json.loads(sys.argv[1])
    params = PRESETS[spec["preset"]]
    pv = _verifier(params, memory_budget=spec["budget"], busy_timeout=600.0)
    start = threading.Barrier(spec["n"] + 1)
    approved: list[bool] = []

    def login(i: int) -> None:
        start.wait()
        approved.append(pv.verify(f"user-{i}", spec["stored"], PASSWORD).approved)

    threads = [threading.Thread(target=login, args=(i,), daemon=True) for i in range(spec["n"])]
    for t in threads:
        t.start()
    base = _vm_kib("VmHWM")
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    doc = {
        "base_kib": base,
        "peak_kib": _vm_kib("VmHWM"),
        "elapsed_s": elapsed,
        "approved": sum(approved),
        "budget_peak": pv.budget.peak,
    }
    print(json.dumps(doc))


def _flood(preset: str, n: int, budget: int | None, stored: str) -> dict[str, Any]:
    spec = {"preset": preset, "n": n, "budget": budget if budget is not None else 1 << 62, "stored": stored}
    code = "from verifykit.bench._hash import flood_child; flood_child()"
    done = subprocess.run(  # noqa: S603 - this interpreter, running our own module
        [sys.executable, "-c", code, json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"flood process failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _summary(result: dict[str, Any], n: int) -> dict[str, Any]:
    return {
        "base_rss_mib": round(result["base_kib"] / 1024, 1),
        "peak_rss_mib": round(result["peak_kib"] / 1024, 1),
        "argon2_memory_peak_mib": result["budget_peak"] // MIB,
        "verifies_per_s": round(n / result["elapsed_s"], 2),
        "approved": result["approved"],
    }


def _flood_cases(report: BenchReport, n: int, hashes: int, progress: Progress) -> None:
    preset = "rfc9106_low_memory"
    params = PRESETS[preset]
    budget = hashes * params.memory_bytes
    stored = _raw(params).hash(PASSWORD)
    progress.stage(f"flood of {n} verifies at 64 MiB", 2)
    bounded = _flood(preset, n, budget, stored)
    progress.step()
    unbounded = _flood(preset, n, None, stored)
    progress.step()
    above = (bounded["peak_kib"] - bounded["base_kib"]) / 1024
    report.add(
        f"flood {n}: peak RSS above base vs the budget ({budget // MIB} MiB)", "MiB", above, budget / MIB
    )
    report.add(
        f"flood {n}: seconds, budget {budget // MIB} MiB vs unbounded (goal <= 1.10)",
        "s",
        bounded["elapsed_s"],
        unbounded["elapsed_s"],
    )
    report.extra["flood"] = {
        "verifies": n,
        "budget_mib": budget // MIB,
        "bounded": _summary(bounded, n),
        "unbounded": _summary(unbounded, n),
    }


def run(args: argparse.Namespace, progress: Progress) -> BenchReport:
    report = BenchReport("hash")
    n = args.n if args.n is not None else (5 if args.quick else 20)
    flood = args.flood if args.flood is not None else (50 if args.quick else 200)
    threads = args.threads if args.threads is not None else (os.cpu_count() or 1)
    for name in ("rfc9106_low_memory", "owasp_minimum"):
        _latency(report, name, n, progress)
    _scaling(report, 12 * threads if args.quick else 40 * threads, threads, progress)
    for pepper in (True, False):
        if args.pepper in ("both", "on" if pepper else "off"):
            _enumeration(report, n, progress, pepper=pepper, quick=args.quick)
    _blocklist(report, progress)
    _flood_cases(report, flood, args.flood_budget, progress)
    report.extra["n"] = n
    return report

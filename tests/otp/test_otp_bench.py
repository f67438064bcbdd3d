"""``verifykit bench otp`` runs end to end, reports in the shared format and cleans up."""

from __future__ import annotations

import argparse
import json

import pytest
import redis

from verifykit.bench import Progress
from verifykit.bench._otp import add_arguments, run


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


_SMALL = ("-n", "20", "--concurrency", "4", "--concurrent-checks", "32")


def test_the_otp_bench_reports_checks_and_starts_beside_raw_baselines(redis_url: str) -> None:
    report = run(_args(*_SMALL, "--redis", redis_url), Progress(False))
    doc = json.loads(report.to_json())
    assert doc["bench"] == "otp"
    names = [case["name"] for case in doc["cases"]]
    assert "check p50, redis, vs raw EVALSHA" in names
    assert "check p50, memory, vs raw HMAC+compare under a lock" in names
    for case in doc["cases"]:
        assert case["unit"] == "ms" and case["value"] > 0
        if case["baseline"] is not None:
            assert case["ratio"] == pytest.approx(case["value"] / case["baseline"])
    assert doc["n"] == 20


def test_the_otp_bench_compares_the_async_check_with_a_raw_redis_asyncio_evalsha(redis_url: str) -> None:
    doc = json.loads(run(_args(*_SMALL, "--redis", redis_url), Progress(False)).to_json())
    cases = {case["name"]: case for case in doc["cases"]}
    for p in (50, 99):
        case = cases[f"async check p{p}, redis, vs raw redis.asyncio EVALSHA"]
        assert case["baseline"] > 0 and case["ratio"] == pytest.approx(case["value"] / case["baseline"])
    assert doc["redis_async_check_ops_per_s"] > 0


def test_the_otp_bench_sets_concurrent_async_checks_against_as_many_threads(redis_url: str) -> None:
    doc = json.loads(run(_args(*_SMALL, "--redis", redis_url), Progress(False)).to_json())
    cases = {case["name"]: case for case in doc["cases"]}
    throughput = cases["4 concurrent checks, redis: async (4 tasks) vs sync (4 threads), wall ms per check"]
    assert throughput["ratio"] == pytest.approx(
        doc["redis_4_concurrent_sync_checks_per_s"] / doc["redis_4_concurrent_async_checks_per_s"], rel=0.01
    )
    # Both flavours did the same checks, and the wall time per check is what each rate says.
    assert doc["concurrent_checks_per_flavour"] == 32
    per_check = [1000 / doc[f"redis_4_concurrent_{f}_checks_per_s"] for f in ("async", "sync")]
    assert [throughput["value"], throughput["baseline"]] == pytest.approx(per_check, rel=0.01)
    # The latency spread of each flavour is reported (a goal of the long runs, judged there).
    assert {f"4 concurrent checks, redis, {f}: p99 vs its own p50" for f in ("async", "sync")} <= set(cases)


def test_the_otp_bench_skips_redis_when_asked() -> None:
    report = run(_args(*_SMALL, "--redis", ""), Progress(False))
    assert [c.name for c in report.cases if "redis" in c.name] == []


def test_the_otp_bench_leaves_no_keys_behind(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    before = sum(1 for _ in client.scan_iter(match="vkbench*", count=10_000))
    run(_args(*_SMALL, "--redis", redis_url), Progress(False))
    after = sum(1 for _ in client.scan_iter(match="vkbench*", count=10_000))
    client.close()
    assert after <= before

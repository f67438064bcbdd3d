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


def test_the_otp_bench_reports_checks_and_starts_beside_raw_baselines(redis_url: str) -> None:
    report = run(_args("-n", "20", "--redis", redis_url), Progress(False))
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


def test_the_otp_bench_leaves_no_keys_behind(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    before = sum(1 for _ in client.scan_iter(match="vkbench*", count=10_000))
    run(_args("-n", "10", "--redis", redis_url), Progress(False))
    after = sum(1 for _ in client.scan_iter(match="vkbench*", count=10_000))
    client.close()
    assert after <= before

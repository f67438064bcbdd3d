"""``verifykit bench store`` runs end to end and reports in the shared format."""

from __future__ import annotations

import argparse
import json

import pytest

from verifykit.bench import Progress
from verifykit.bench._store import add_arguments, run


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_store_bench_compares_each_backend_and_flavour_with_its_raw_baselines(
    redis_url: str, redis_cluster_url: str
) -> None:
    report = run(_args("-n", "20", "--redis", redis_url, "--cluster", redis_cluster_url), Progress(False))
    doc = json.loads(report.to_json())
    assert doc["bench"] == "store"
    names = [case["name"] for case in doc["cases"]]
    for backend in ("redis", "cluster"):
        assert f"check p50, {backend}, vs raw EVALSHA" in names
        assert f"check p99, {backend}, vs raw EVALSHA" in names
        assert f"check p50, {backend}, vs raw HGETALL then HSET (no script, not atomic)" in names
        assert (
            f"check p50, {backend}, vs raw EVALSHA of the same script (verifykit's client-side cost)" in names
        )
        assert f"async check p50, {backend}, vs raw redis.asyncio EVALSHA" in names
        assert f"async check p99, {backend}, vs raw redis.asyncio EVALSHA" in names
    assert "check p50, memory, vs raw dict update under a lock" in names
    for case in doc["cases"]:
        assert case["unit"] == "ms" and case["value"] > 0 and case["baseline"] > 0
        assert case["ratio"] == pytest.approx(case["value"] / case["baseline"])
    assert doc["n"] == 20 and doc["redis_check_ops_per_s"] > 0 and doc["redis_async_check_ops_per_s"] > 0


def test_the_store_bench_skips_redis_when_asked() -> None:
    report = run(_args("-n", "10", "--redis", ""), Progress(False))
    assert [c.name for c in report.cases if "redis" in c.name or "cluster" in c.name] == []

"""``verifykit bench hash`` runs end to end and reports in the shared format."""

from __future__ import annotations

import argparse
import functools
import json

import pytest

from verifykit.bench import BENCHES, Progress
from verifykit.bench._hash import add_arguments, run
from verifykit.password import _hasher
from verifykit.password.low_level import WorkMeter


@pytest.mark.slow
def test_the_hash_bench_reports_every_case_and_keeps_the_flood_within_its_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert BENCHES["hash"] == "verifykit.bench._hash"
    # The quick bench checks each stored form until the meter has measured it (min_samples + 1
    # times, with the pepper on and off: most of its time). What is checked here is that every case
    # is reported, not how close the ratios come, so the meters measure from their first sample.
    monkeypatch.setattr(_hasher, "WorkMeter", functools.partial(WorkMeter, min_samples=1))
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    # The stored forms with the pepper on only: the costlier setting, and the same code as off.
    args = parser.parse_args(
        ["--quick", "-n", "1", "--flood", "6", "--threads", "2", "--flood-budget", "2", "--pepper", "on"]
    )
    report = run(args, Progress(enabled=False))
    doc = json.loads(report.to_json())
    names = [c["name"] for c in doc["cases"]]
    for expected in ("verify p50, rfc9106_low_memory", "unknown subject p50", "blocklist lookup", "flood 6"):
        assert any(name.startswith(expected) for name in names), expected
    assert all(c["value"] > 0 for c in doc["cases"])
    assert set(doc["stored_forms"]) == {"pepper on"}
    assert any(form.startswith("PBKDF2") for form in doc["stored_forms"]["pepper on"])
    flood = doc["flood"]
    assert flood["bounded"]["approved"] == flood["unbounded"]["approved"] == 6
    assert flood["bounded"]["argon2_memory_peak_mib"] <= flood["budget_mib"] == 128
    assert flood["unbounded"]["argon2_memory_peak_mib"] > flood["budget_mib"]

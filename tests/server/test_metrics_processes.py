"""Domain metrics with ``verifykit serve --processes 2``: each process counts the events of the
calls it answered, and the parent's one scrape sums them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sidecars import ServeProcess
from test_serve_processes import children, metrics_port, scrape, served_by, shared_env, start_otp

from polling import wait_for

__all__ = ["shared_env"]  # the fixture, shared with the serving tests

PATIENCE = 120.0


def test_one_scrape_counts_the_starts_and_deliveries_of_both_processes(
    serve_process: ServeProcess, shared_env: dict[str, str], tmp_path: Path
) -> None:
    process = serve_process(
        "--processes", "2", "--metrics-port", "0", "--face-workers", "thread",
        "--mailer", f"file:{tmp_path / 'mail'}", "--insecure-dev-mailer",
        env=shared_env,
    )  # fmt: skip
    calls = 32  # each on a connection of its own: all on one process has odds of 2 ** -31
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda n: start_otp(process.target, n), range(calls))) == ["OK"] * calls
    served = wait_for(lambda: (s := served_by(process)).total() == calls and s, "an access line per call")
    assert set(served) == set(children(process)), served  # both processes started codes
    port = metrics_port(process)
    assert scrape(port, "verifykit_starts_total", way="email_code") == calls
    assert scrape(port, "verifykit_deliveries_total", way="email_code", status="sent") == calls
    assert process.stop(PATIENCE) == 0

"""``verifykit report``: a scripted day of traffic through a real sidecar, a real SMTP server and
the sidecar's own signed audit log, and every figure the report prints about it.

The day (2024-06-10, UTC), on the fake clock the store and the audit log share:

- 07:00 four people set up an authenticator app, three get recovery codes (not counted).
- 08:00 mail works. Six people approve their code after 30, 45, 60, 75, 90 and 120 s; one never
  answers (expired unanswered); one gets three codes wrong, is hard locked (the sidecar caps the
  lockout at three failures), and is refused once more with the right code.
- 09:00 mail works. Four approve after 40, 50, 200 and 300 s. Someone with no email challenge
  gets three authenticator codes wrong, is refused when locked, and an officer's voucher clears it.
- 10:00 the mail server refuses every message (451). Every one of eleven challenges fails:
  four people get in with their authenticator app, three with a recovery code, one with a counter
  voucher, one starts again at 11:05 once mail is back and approves; two give up.
- 11:00 mail is back. Three approve after 35, 55 and 65 s, the retry above after 60 s; one
  challenge is canceled; one started at 11:55 is still open when the log closes at 12:00.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
import pytest
from aiosmtpd.controller import Controller

import verifykit.cli._report as report_cli
import verifykit.server._app as sidecar_app
from smtp_servers import Recorder, free_port
from verifykit import AuditEvent, Keyring
from verifykit.aio import AsyncMemoryStore, AsyncSMTPMailer
from verifykit.auditlog import (
    AuditLog,
    PlotSeries,
    head_path,
    insights,
    load_public_key,
    plot_series,
    read_verified,
    write_key_pair,
)
from verifykit.cli import main
from verifykit.client import Client
from verifykit.server import Components, ServerConfig, create_server
from verifykit.store import MemoryStore
from verifykit.testing import FakeClock, code_in
from verifykit.vouchers import OfficerRegistry, RegistryFile, generate_officer_key, issue_voucher

DAY = datetime(2024, 6, 10, tzinfo=UTC).timestamp()
HOUR = 3600.0


def at(hour: int, minute: int = 0, second: float = 0) -> float:
    return DAY + hour * HOUR + minute * 60 + second


class Outage(Recorder):
    """A mail server that refuses every recipient while ``down``."""

    down = False

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.down:
            self.rcpt_commands += 1
            return "451 4.3.0 mail system down for maintenance"
        return await super().handle_RCPT(server, session, envelope, address, options)


class ClockedAuditLog(AuditLog):
    """The sidecar's own audit log, on the test's clock. Verifiers stamp an event with the host's
    time when they make it; this writes each at the fake clock's time instead (and its
    checkpoints by the same clock), so the scripted day lands in its hours."""

    def append(self, event: AuditEvent) -> None:
        super().append(dataclasses.replace(event, at=self._clock.now()))


@dataclass
class Day:
    log: Path
    public_key: Path
    anchor: str
    subjects: list[str]

    def report(self, *args: str) -> list[str]:
        return ["report", str(self.log), "--key", str(self.public_key), "--anchor", self.anchor, *args]


class Script:
    """The people of the day and what they do, through the sidecar's client."""

    def __init__(self, client: Client, clock: FakeClock, mail: Outage, officer: Any) -> None:
        self.client, self.clock, self.mail, self.officer = client, clock, mail, officer
        self.subjects: list[str] = []
        self.totp: dict[str, tuple[bytes, pyotp.TOTP]] = {}
        self.recovery: dict[str, tuple[str, list[str]]] = {}

    def person(self, name: str) -> str:
        if name not in self.subjects:
            self.subjects.append(name)
        return name

    def start(self, when: float, subject: str) -> str:
        self.clock.set(when)
        return self.client.email_otp.start(self.person(subject), f"{subject}@example.org").id

    def start_and_approve(self, when: float, subject: str, after: float) -> None:
        challenge = self.start(when, subject)
        self.clock.set(when + after)
        code = code_in(self.mail.received[-1].message())
        assert self.client.email_otp.check(challenge, code).approved

    def wrong_code(self, challenge: str) -> None:
        code = code_in(self.mail.received[-1].message())
        assert not self.client.email_otp.check(challenge, f"{(int(code) + 1) % 10**6:06d}").approved

    def enroll_app(self, subject: str) -> None:
        enrollment = self.client.totp.enroll(self.person(subject), f"{subject}@example.org")
        self.totp[subject] = (enrollment.stored, pyotp.TOTP(enrollment.secret_base32))

    def app(self, when: float, subject: str, *, right: bool = True) -> bool:
        self.clock.set(when)
        stored, app = self.totp[subject]
        code = app.at(self.clock.now())
        code = code if right else f"{(int(code) + 1) % 10**6:06d}"
        return self.client.totp.verify(subject, stored, code).approved

    def recovery_codes(self, subject: str) -> None:
        codes = self.client.recovery_codes.generate(self.person(subject))
        self.recovery[subject] = (codes.stored, list(codes.codes))

    def recovery_code(self, when: float, subject: str) -> None:
        self.clock.set(when)
        stored, codes = self.recovery[subject]
        assert self.client.recovery_codes.redeem(subject, stored, codes[0]).approved

    def voucher(self, when: float, subject: str, unlocks: str) -> None:
        self.clock.set(when)
        text = issue_voucher(
            self.officer, subject=subject, reason="lost_access", unlocks=[unlocks], now=self.clock.now()
        )
        assert self.client.vouchers.redeem(subject, text).approved


def play(s: Script) -> None:
    # 07:00 set-up
    s.clock.set(at(7))
    for name in ("c1", "c2", "c3", "c4", "x1"):
        s.enroll_app(name)
    for name in ("d1", "d2", "d3"):
        s.recovery_codes(name)
    # 08:00 mail works
    for i, after in enumerate((30, 45, 60, 75, 90, 120)):
        s.start_and_approve(at(8, 5 * i), f"a{i + 1}", after)
    s.start(at(8, 40), "e1")  # never answered: expires at 08:50
    locked = s.start(at(8, 45), "w1")
    for minute in (46, 47, 48):
        s.clock.set(at(8, minute))
        s.wrong_code(locked)
    s.clock.set(at(8, 49))
    right = s.client.email_otp.check(locked, code_in(s.mail.received[-1].message()))
    assert (right.approved, right.reason) == (False, "hard_locked")
    # 09:00 mail works; a hard lock on the authenticator app, cleared by a voucher
    for i, after in enumerate((40, 50, 200, 300)):
        s.start_and_approve(at(9, 10 * i), f"b{i + 1}", after)
    for minute in (10, 11, 12):
        assert not s.app(at(9, minute), "x1", right=False)
    assert not s.app(at(9, 13), "x1")  # refused: hard locked
    s.voucher(at(9, 30), "x1", "authenticator_app")
    assert s.app(at(9, 31), "x1")
    # 10:00 the mail server is down
    s.mail.down = True
    for i, name in enumerate(("c1", "c2", "c3", "c4")):
        s.start(at(10, 5 * i), name)
        assert s.app(at(10, 5 * i + 2), name)
    for i, name in enumerate(("d1", "d2", "d3")):
        s.start(at(10, 20 + 5 * i), name)
        s.recovery_code(at(10, 20 + 5 * i + 3), name)
    s.start(at(10, 40), "v1")
    s.voucher(at(10, 50), "v1", "email_code")
    s.start(at(10, 45), "s1")
    s.start(at(10, 50), "s2")
    s.start(at(10, 55), "r1")
    assert len(s.mail.received) == 12  # the 12 of 08:00 and 09:00: every send of the outage was refused
    # 11:00 mail is back
    s.mail.down = False
    s.start_and_approve(at(11, 5), "r1", 60)
    for i, after in enumerate((35, 55, 65)):
        s.start_and_approve(at(11, 10 + 5 * i), f"f{i + 1}", after)
    canceled = s.start(at(11, 30), "k1")
    s.clock.set(at(11, 31))
    s.client.email_otp.cancel(canceled)
    s.start(at(11, 55), "o1")  # still open at 12:00
    s.clock.set(at(12))


def run_day(folder: Path) -> Day:
    """Play the day through a sidecar writing its audit log to ``folder``; return where it is."""
    clock = FakeClock(at(0))
    officer = generate_officer_key()
    registry = folder / "officers.json"
    RegistryFile(registry).save(OfficerRegistry.empty().add(officer.public_key(), "Officer Ana"))
    key, public = folder / "audit.key", folder / "audit.pub"
    write_key_pair(key, public)
    log, anchor = folder / "audit.jsonl", f"dir://{folder / 'anchors'}"
    mail = Outage()
    port = free_port()
    controller = Controller(mail, hostname="127.0.0.1", port=port)
    controller.start()
    config = ServerConfig(
        listen="127.0.0.1:0",
        access_log=False,
        audit_log=False,
        grace=1.0,
        officers_file=registry,
        audit_file=log,
        audit_key_file=key,
        audit_anchor=anchor,
        lockout_hard_cap=3,
    )
    mailer = AsyncSMTPMailer("127.0.0.1", port, security="none", timeout=5.0, retries=0)
    parts = Components(
        store=AsyncMemoryStore(MemoryStore(clock=clock)), keyring=Keyring.generate(), mailer=mailer
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sidecar_app, "AuditLog", functools.partial(ClockedAuditLog, clock=clock))
        sidecar, port = create_server(config, parts)
    sidecar.start()
    script = Script(Client(f"127.0.0.1:{port}", timeout=30.0), clock, mail, officer)
    try:
        play(script)
    finally:
        script.client.close()
        sidecar.stop(0)  # at 12:00: the closing checkpoint
        controller.stop()
    return Day(log, public, anchor, script.subjects)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    return run_day(tmp_path_factory.mktemp("day"))


# -- what the day should show ---------------------------------------------------------------------

HOURS = ["2024-06-10 07:00", "2024-06-10 08:00", "2024-06-10 09:00", "2024-06-10 10:00", "2024-06-10 11:00",
         "2024-06-10 12:00"]  # fmt: skip
NO_RESCUE = {"authenticator_app": 0, "recovery_code": 0, "passkey": 0, "password": 0, "face": 0,
             "counter_voucher": 0}  # fmt: skip
EMPTY: dict[str, Any] = {
    "started": 0, "delivered": 0, "approved": 0, "expired_unanswered": 0,
    "abandoned_after_failed_delivery": 0, "denied": 0, "canceled": 0, "open": 0, "conversion": None,
    "approval_seconds": {"count": 0, "median": None, "p90": None},
    "stuck": 0, "rescued": NO_RESCUE, "rescued_total": 0, "retried": 0, "still_stuck": 0,
    "locked_out": 0, "cleared_by_voucher": 0,
}  # fmt: skip
H08 = EMPTY | {
    "started": 8, "delivered": 8, "approved": 6, "expired_unanswered": 1, "denied": 1, "conversion": 0.75,
    "approval_seconds": {"count": 6, "median": 67.5, "p90": 105.0},
    "stuck": 2, "still_stuck": 2, "locked_out": 1,
}  # fmt: skip
H09 = EMPTY | {
    "started": 4, "delivered": 4, "approved": 4, "conversion": 1.0,
    "approval_seconds": {"count": 4, "median": 125.0, "p90": 270.0},
    "locked_out": 1, "cleared_by_voucher": 1,
}  # fmt: skip
H10 = EMPTY | {
    "started": 11, "abandoned_after_failed_delivery": 11, "conversion": 0.0,
    "stuck": 11, "rescued": NO_RESCUE | {"authenticator_app": 4, "recovery_code": 3, "counter_voucher": 1},
    "rescued_total": 8, "retried": 1, "still_stuck": 2, "cleared_by_voucher": 1,
}  # fmt: skip
H11 = EMPTY | {
    "started": 6, "delivered": 6, "approved": 4, "canceled": 1, "open": 1, "conversion": 4 / 6,
    "approval_seconds": {"count": 4, "median": 57.5, "p90": 63.5},
}  # fmt: skip
TOTAL = EMPTY | {
    "started": 29, "delivered": 18, "approved": 14, "expired_unanswered": 1,
    "abandoned_after_failed_delivery": 11, "denied": 1, "canceled": 1, "open": 1, "conversion": 14 / 29,
    # 30 35 40 45 50 55 60 60 65 75 90 120 200 300
    "approval_seconds": {"count": 14, "median": 60.0, "p90": 176.0},  # 120 + 0.7 * (200 - 120)
    "stuck": 13, "rescued": H10["rescued"], "rescued_total": 8, "retried": 1, "still_stuck": 4,
    "locked_out": 2, "cleared_by_voucher": 2,
}  # fmt: skip
BY_HOUR = [EMPTY, H08, H09, H10, H11, EMPTY]
ENDS = ("approved", "expired_unanswered", "abandoned_after_failed_delivery", "denied", "canceled", "open")


def same(actual: Any, expected: Any) -> bool:
    """Equal, floats to within rounding (a percentile interpolates)."""
    if isinstance(expected, dict):
        keys = set(actual) - {"label", "start"}
        return keys == set(expected) and all(same(actual[k], expected[k]) for k in keys)
    if isinstance(expected, float):
        return bool(actual == pytest.approx(expected))
    return bool(actual == expected)


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_the_json_report_holds_every_figure_of_the_day(day: Day, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = run(capsys, day.report("--by", "hour", "--json"))
    assert status == 0
    doc = json.loads(out)
    assert doc["period"] == {
        "since": "2024-06-10T07:00:00+00:00",
        "until": "2024-06-10T13:00:00+00:00",
        "as_of": "2024-06-10T12:00:00+00:00",  # the closing checkpoint
        "by": "hour",
        "time_zone": "UTC",
    }
    assert doc["log"]["anchor_checked"] and doc["log"]["records_skipped"] == 0
    assert [b["label"] for b in doc["buckets"]] == HOURS
    for bucket, expected in zip(doc["buckets"], BY_HOUR, strict=True):
        assert same(bucket, expected), (bucket, expected)
    assert same(doc["total"], TOTAL), doc["total"]
    # Every challenge ends one way, every stuck episode too.
    for figures in [*doc["buckets"], doc["total"]]:
        assert sum(figures[k] for k in ENDS) == figures["started"]
        assert figures["rescued_total"] + figures["retried"] + figures["still_stuck"] == figures["stuck"]


def test_a_period_leaves_out_what_happened_after_it(day: Day, capsys: pytest.CaptureFixture[str]) -> None:
    since, until = "--since", "2024-06-10T10:00:00+00:00"
    status, out, _err = run(capsys, day.report(since, until, "--until", "2024-06-10T13:00+02:00", "--json"))
    assert status == 0
    doc = json.loads(out)
    (bucket,) = doc["buckets"]  # one day, 10:00-11:00
    assert doc["period"]["as_of"] == "2024-06-10T11:00:00+00:00"
    # r1 approved at 11:06: after the period, so still stuck within it.
    assert bucket["retried"] == 0 and bucket["still_stuck"] == 3 and bucket["rescued_total"] == 8
    assert bucket["started"] == bucket["abandoned_after_failed_delivery"] == 11


def cells(table: list[str], label: str) -> str:
    """The cells of the row ``label``, one space apart."""
    (row,) = [line for line in table if line.startswith(label + " ")]
    return " ".join(row[len(label) :].split())


def test_the_table_prints_the_same_figures_aligned(day: Day, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = run(capsys, day.report("--by", "hour"))
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("intact: ") and lines[1].startswith("anchor checked: ")
    assert "period: 2024-06-10 07:00 to 2024-06-10 13:00 UTC; judged as of 2024-06-10 12:00:00 UTC" in out
    blank = [i for i, line in enumerate(lines) if not line]
    funnel, stuck = lines[blank[1] + 2 : blank[2]], lines[blank[2] + 2 : blank[3]]
    for table in (funnel, stuck):
        assert len({len(line) for line in table}) == 1  # right-aligned columns: every line as wide
    assert funnel[0].split()[:4] == ["hour", "(UTC)", "started", "delivered"]
    assert cells(funnel, "2024-06-10 08:00") == "8 8 6 1 0 1 0 0 75.0% 68 105"
    assert cells(funnel, "2024-06-10 09:00") == "4 4 4 0 0 0 0 0 100.0% 125 270"
    assert cells(funnel, "2024-06-10 10:00") == "11 0 0 0 11 0 0 0 0.0% - -"
    assert cells(funnel, "2024-06-10 11:00") == "6 6 4 0 0 0 1 1 66.7% 58 64"
    assert cells(funnel, "total") == "29 18 14 1 11 1 1 1 48.3% 60 176"
    assert stuck[0].split() == [
        "hour", "(UTC)", "stuck", "authenticator_app", "recovery_code", "passkey", "password", "face",
        "counter_voucher", "email", "again", "still", "stuck", "locked", "out", "voucher", "clears",
    ]  # fmt: skip
    assert cells(stuck, "2024-06-10 08:00") == "2 0 0 0 0 0 0 0 2 1 0"
    assert cells(stuck, "2024-06-10 09:00") == "0 0 0 0 0 0 0 0 0 1 1"
    assert cells(stuck, "2024-06-10 10:00") == "11 4 3 0 0 0 1 1 2 0 1"
    assert cells(stuck, "2024-06-10 11:00") == "0 0 0 0 0 0 0 0 0 0 0"
    assert cells(stuck, "total") == "13 4 3 0 0 0 1 1 4 2 2"
    assert not any(line.startswith(("2024-06-10 07:00", "2024-06-10 12:00")) for line in lines)
    assert lines[-1] == "(2 hour(s) with nothing to count are not shown)"
    # docs/insights.md shows this day's report
    page = (Path(__file__).resolve().parents[2] / "docs" / "insights.md").read_text(encoding="utf-8")
    assert out[out.index("period: ") :] in page


def test_a_report_by_day_adds_the_hours_up(day: Day, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = run(capsys, day.report("--json"))
    assert status == 0
    doc = json.loads(out)
    (bucket,) = doc["buckets"]
    assert bucket["label"] == "2024-06-10"
    assert same(bucket, TOTAL)


def test_the_plot_draws_the_report_series(
    day: Day, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[PlotSeries] = []
    monkeypatch.setattr(report_cli, "draw_plot", lambda series, path: drawn.append(series))
    assert run(capsys, day.report("--by", "hour", "--plot", str(tmp_path / "day.png")))[0] == 0
    (series,) = drawn
    assert series.labels == tuple(HOURS)
    assert series.conversion == pytest.approx((None, 0.75, 1.0, 0.0, 4 / 6, None))
    assert series.stuck == (0, 2, 0, 11, 0, 0)
    assert series.rescued == (0, 0, 0, 8, 0, 0)
    assert series.retried == (0, 0, 0, 1, 0, 0)
    assert series.still_stuck == (0, 2, 0, 2, 0, 0)
    monkeypatch.undo()
    png = tmp_path / "drawn.png"
    status, _out, err = run(capsys, day.report("--by", "hour", "--plot", str(png)))
    assert status == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"plot written to {png}" in err


def test_the_report_names_no_person_address_or_challenge(
    day: Day, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [json.loads(line) for line in day.log.read_text(encoding="ascii").splitlines()]
    secret = {r[k] for r in records for k in ("subject_tag", "challenge_id", "destination") if r.get(k)}
    secret |= {part for r in records if r.get("challenge_id") for part in r["challenge_id"].split(".")}
    secret |= {f"{name}@" for name in day.subjects} | {f" {name} " for name in day.subjects}
    assert len(secret) > 60
    for args in (["--by", "hour"], ["--by", "hour", "--json"], ["--json"]):
        status, out, err = run(capsys, day.report(*args))
        assert status == 0
        assert [s for s in secret if s in out or s in err] == []


def test_a_tampered_log_gives_no_figures(
    day: Day, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "audit.jsonl"
    shutil.copy(day.log, log)
    shutil.copy(head_path(day.log), head_path(log))
    data = log.read_bytes()
    assert data.count(b'"outcome":"failed"') == 11
    log.write_bytes(data.replace(b'"outcome":"failed"', b'"outcome":"sent"', 1))  # hide an outage
    for args in ([], ["--json"], ["--by", "hour", "--plot", str(tmp_path / "p.png")]):
        argv = ["report", str(log), "--key", str(day.public_key), "--anchor", day.anchor, *args]
        status, out, err = run(capsys, argv)
        assert status == 1 and out == ""
        assert err.startswith("verifykit report: the audit log is not intact, no figures: line ")
        assert len(err.splitlines()) == 1 and "changed" in err
    assert not (tmp_path / "p.png").exists()
    assert main(["audit", "verify", str(log), "--key", str(day.public_key)]) == 1


def test_a_log_cut_back_is_found_by_the_anchor_and_gives_no_figures(
    day: Day, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_bytes(b"".join(day.log.read_bytes().splitlines(keepends=True)[:40]))
    status, out, err = run(
        capsys, ["report", str(log), "--key", str(day.public_key), "--no-head", "--anchor", day.anchor]
    )
    assert (status, out) == (1, "") and "truncated" in err and len(err.splitlines()) == 1


def test_records_without_their_expiry_expire_after_the_ttl_given() -> None:
    def event(action: str, when: float, outcome: str = "pending") -> AuditEvent:
        return AuditEvent(action, "email_code", "someone", outcome, challenge_id="c", at=when)

    events = [event("start", at(8)), event("send", at(8), "sent")]
    early = insights(events, since=at(8), until=at(9), as_of=at(8, 9), otp_ttl=600)
    late = insights(events, since=at(8), until=at(9), as_of=at(8, 10), otp_ttl=600)
    assert (early.total.open, early.total.expired_unanswered) == (1, 0)
    assert (late.total.open, late.total.expired_unanswered) == (0, 1)


def test_read_verified_hands_out_nothing_from_a_log_that_is_not_intact(day: Day, tmp_path: Path) -> None:
    intact = read_verified(day.log, load_public_key(day.public_key))
    assert intact.report.ok and len(intact.events) == intact.report.writers[0].records
    assert intact.last_at == at(12)
    assert plot_series(insights(intact.events, since=at(10), until=at(11), otp_ttl=600)).stuck == (11,)
    log = tmp_path / "audit.jsonl"
    log.write_bytes(day.log.read_bytes().replace(b'"outcome":"sent"', b'"outcome":"failed"', 1))
    shutil.copy(head_path(day.log), head_path(log))
    broken = read_verified(log, load_public_key(day.public_key))
    assert not broken.report.ok and broken.events == () and broken.last_at == 0.0


def test_without_matplotlib_the_plot_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # importing it fails, as if not installed
    argv = ["report", str(tmp_path / "none.jsonl"), "--key", "none.pub", "--plot", str(tmp_path / "p.png")]
    status, out, err = run(capsys, argv)
    assert status == 2 and out == ""
    assert err.strip() == (
        "verifykit: report: this needs the report extra (matplotlib is not installed): "
        "pip install 'verifykit[report]'"
    )

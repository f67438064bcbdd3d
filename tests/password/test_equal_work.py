"""A verify spends the same work whether the subject exists and whatever form its hash is in.

These tests count the work (each argon2, bcrypt and PBKDF2 run and its parameters) through
wrappers around the functions the hasher calls; they never time anything. How close the times
come is measured by ``verifykit bench hash`` (the stored-form cases).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import argon2
import bcrypt
import pytest
from password_support import GOOD

from verifykit import Keyring
from verifykit.password import (
    CHEAP_TESTS_ONLY,
    HashParameters,
    PasswordHasher,
    PasswordSettings,
    PasswordVerifier,
    _hasher,
)
from verifykit.password._padding import CostModel, Shape, WorkMeter, prior_unit_cost
from verifykit.store import MemoryStore

Run = tuple[str, str, int, int, int]
# NFKC turns these full-width letters into ASCII, so the password is tried in both forms.
UNNORMALIZED_GUESS = "ｗｒｏｎｇ ｇｕｅｓｓ"  # noqa: RUF001
PRESET = HashParameters(time_cost=2, memory_cost=256, parallelism=1, hash_len=16, salt_len=8)


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> list[Run]:
    """Every check and top-up the hasher runs: (what, scheme, passes, KiB, lanes)."""
    log: list[Run] = []
    verify_secret, hash_secret_raw = _hasher.verify_secret, _hasher.hash_secret_raw
    verify_bcrypt, verify_pbkdf2 = _hasher.verify_bcrypt, _hasher.verify_pbkdf2_sha256

    def counted_verify_secret(encoded: bytes, secret: bytes, kind: argon2.Type) -> bool:
        p = argon2.extract_parameters(encoded.decode("ascii"))
        log.append(
            ("check", encoded.decode("ascii").split("$")[1], p.time_cost, p.memory_cost, p.parallelism)
        )
        return verify_secret(encoded, secret, kind)

    def counted_hash_secret_raw(secret: bytes, salt: bytes, **kw: Any) -> bytes:
        assert kw["type"] is argon2.Type.ID
        log.append(("top-up", "argon2id", kw["time_cost"], kw["memory_cost"], kw["parallelism"]))
        return hash_secret_raw(secret, salt, **kw)

    def counted_bcrypt(encoded: str, password: str) -> bool:
        log.append(("check", "bcrypt", 0, 0, 0))
        return verify_bcrypt(encoded, password)

    def counted_pbkdf2(encoded: str, password: str) -> bool:
        log.append(("check", "pbkdf2_sha256", 0, 0, 0))
        return verify_pbkdf2(encoded, password)

    monkeypatch.setattr(_hasher, "verify_secret", counted_verify_secret)
    monkeypatch.setattr(_hasher, "hash_secret_raw", counted_hash_secret_raw)
    monkeypatch.setattr(_hasher, "verify_bcrypt", counted_bcrypt)
    monkeypatch.setattr(_hasher, "verify_pbkdf2_sha256", counted_pbkdf2)
    return log


@dataclass
class FixedCosts:
    """A cost model with set answers, so the expected top-up is exact."""

    relative: dict[str, float]
    recorded: list[Shape] = field(default_factory=list)

    def record(self, shape: Shape, seconds: float, reference: Shape) -> None:
        self.recorded.append(shape)

    def relative_cost(self, shape: Shape, reference: Shape) -> float:
        if shape.family == reference.family:
            return shape.units / reference.units
        name = str(shape.family[1] if shape.family[0] == "argon2" else shape.family[0])
        return self.relative[name]

    def memory_share(self, shape: Shape, time_share: float) -> float:
        return time_share

    def record_top_up(self, shape: Shape, memory_share: float, seconds: float, reference: Shape) -> None:
        pass


def preset_run(what: str = "check") -> Run:
    return (what, "argon2id", PRESET.time_cost, PRESET.memory_cost, PRESET.parallelism)


def verifier(costs: CostModel | None = None, **options: Any) -> PasswordVerifier:
    settings = PasswordSettings(preset=PRESET, **options)
    pv = PasswordVerifier(store=MemoryStore(), keyring=Keyring.generate(), settings=settings, audit=None)
    if costs is not None:
        pv.hasher.costs = costs
    pv.hasher.dummy()  # made once, as a running service has it, before any work is counted
    return pv


def argon2_hash(kind: argon2.Type, time_cost: int, memory_cost: int, parallelism: int = 1) -> str:
    return argon2.low_level.hash_secret(
        GOOD.encode(), b"saltsalt", time_cost=time_cost, memory_cost=memory_cost,
        parallelism=parallelism, hash_len=16, type=kind,
    ).decode()  # fmt: skip


def django_pbkdf2(iterations: int) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", GOOD.encode(), b"seasalt", iterations)
    return f"pbkdf2_sha256${iterations}$seasalt${base64.b64encode(digest).decode()}"


def bcrypt_hash() -> str:
    return bcrypt.hashpw(GOOD.encode(), bcrypt.gensalt(rounds=4)).decode()


def work_of(pv: PasswordVerifier, stored: str | None, guess: str, log: list[Run]) -> list[Run]:
    log.clear()
    assert not pv.verify(f"user-{uuid.uuid4().hex}", stored, guess).approved
    return list(log)


@pytest.mark.parametrize("guess", ["a wrong guess", UNNORMALIZED_GUESS])
def test_an_unknown_subject_and_a_hash_made_before_the_pepper_do_the_same_runs(
    guess: str, work: list[Run]
) -> None:
    pv = verifier(pepper=True)
    before_the_pepper = PasswordHasher(PRESET).hash(GOOD)
    forms = len(pv.hasher.candidates(guess))
    assert work_of(pv, None, guess, work) == [preset_run()] * forms
    assert work_of(pv, before_the_pepper, guess, work) == [preset_run()] * forms


def test_a_peppered_hash_is_tried_as_typed_too_so_it_costs_what_an_unpeppered_one_does(
    work: list[Run],
) -> None:
    pv = verifier(pepper=True)
    assert work_of(pv, pv.hash(GOOD), UNNORMALIZED_GUESS, work) == [preset_run()] * 2
    assert work_of(pv, PasswordHasher(PRESET).hash(GOOD), UNNORMALIZED_GUESS, work) == [preset_run()] * 2


def test_the_number_of_checks_depends_on_the_password_alone() -> None:
    hasher = PasswordHasher(PRESET)
    assert hasher.candidates("plain ascii") == ["plain ascii"]
    assert hasher.candidates(UNNORMALIZED_GUESS) == ["wrong guess", UNNORMALIZED_GUESS]


def test_an_argon2id_hash_with_less_memory_is_topped_up_by_exactly_the_memory_it_lacks(
    work: list[Run],
) -> None:
    # Same variant, passes and lanes as the preset: the share follows from the parameters, unmeasured.
    pv = verifier()
    smaller = argon2_hash(argon2.Type.ID, PRESET.time_cost, 64)
    assert work_of(pv, smaller, "a wrong guess", work) == [
        ("check", "argon2id", PRESET.time_cost, 64, 1),
        ("top-up", "argon2id", PRESET.time_cost, PRESET.memory_cost - 64, 1),
    ]


@pytest.mark.parametrize(
    ("stored", "check", "relative"),
    [
        pytest.param(bcrypt_hash(), ("check", "bcrypt", 0, 0, 0), 0.25, id="bcrypt"),
        pytest.param(django_pbkdf2(1000), ("check", "pbkdf2_sha256", 0, 0, 0), 0.5, id="pbkdf2"),
        pytest.param(
            argon2_hash(argon2.Type.ID, 1, 256), ("check", "argon2id", 1, 256, 1), 0.625, id="fewer-passes"
        ),
        pytest.param(argon2_hash(argon2.Type.I, 2, 256), ("check", "argon2i", 2, 256, 1), 0.75, id="argon2i"),
        pytest.param(
            argon2_hash(argon2.Type.D, 2, 256), ("check", "argon2d", 2, 256, 1), 0.875, id="argon2d"
        ),
    ],
)
@pytest.mark.parametrize("guess", ["a wrong guess", UNNORMALIZED_GUESS])
def test_a_form_cheaper_than_the_preset_is_topped_up_to_one_preset_run_per_check(
    stored: str, check: Run, relative: float, guess: str, work: list[Run]
) -> None:
    costs = FixedCosts(
        {"bcrypt": 0.25, "pbkdf2_sha256": 0.5, "argon2id": 0.625, "argon2i": 0.75, "argon2d": 0.875}
    )
    pv = verifier(costs)
    top_up = ("top-up", "argon2id", PRESET.time_cost, round((1 - relative) * PRESET.memory_cost), 1)
    forms = len(pv.hasher.candidates(guess))
    assert work_of(pv, stored, guess, work) == [check, top_up] * forms
    # One preset run's worth per form of the password: what the unknown subject spends.
    assert relative + top_up[3] / PRESET.memory_cost == pytest.approx(1.0)
    assert work_of(pv, None, guess, work) == [preset_run()] * forms


@pytest.mark.parametrize(
    ("stored", "check"),
    [
        pytest.param(bcrypt_hash(), ("check", "bcrypt", 0, 0, 0), id="bcrypt"),
        pytest.param(argon2_hash(argon2.Type.ID, 1, 1024), ("check", "argon2id", 1, 1024, 1), id="argon2id"),
    ],
)
def test_a_form_as_costly_as_the_preset_or_more_is_not_topped_up(
    stored: str, check: Run, work: list[Run]
) -> None:
    pv = verifier(FixedCosts({"bcrypt": 1.0, "argon2id": 1.5}))
    assert work_of(pv, stored, "a wrong guess", work) == [check]


def test_the_current_preset_is_never_topped_up(work: list[Run]) -> None:
    pv = verifier(FixedCosts({}))
    assert work_of(pv, pv.hash(GOOD), "a wrong guess", work) == [preset_run()]


def test_a_cheaper_form_holds_the_preset_memory_so_admission_does_not_tell_the_forms_apart() -> None:
    pv = verifier(FixedCosts({"bcrypt": 0.25}))
    assert not pv.verify("ana", bcrypt_hash(), "a wrong guess").approved
    assert pv.budget.peak == PRESET.memory_bytes


def test_the_hasher_measures_each_check_and_each_hash_it_makes() -> None:
    costs = FixedCosts({"bcrypt": 0.25})
    hasher = PasswordHasher(PRESET, costs=costs)
    hasher.verify(bcrypt_hash(), "a wrong guess")
    hasher.hash(GOOD)
    assert [s.family[0] for s in costs.recorded] == ["bcrypt", "argon2"]
    assert costs.recorded[1] == Shape(("argon2", "argon2id", 0x13, 2, 1), 256)


@pytest.fixture
def peppers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The key id of every pepper HMAC the hasher computes."""
    log: list[str] = []
    digest = Keyring.digest

    def counted(self: Keyring, purpose: str, data: bytes, kid: str | None = None) -> str:
        if purpose == _hasher._PEPPER_PURPOSE:
            log.append(kid or self.current_id)
        return digest(self, purpose, data, kid)

    monkeypatch.setattr(Keyring, "digest", counted)
    return log


def stored_forms(pv: PasswordVerifier) -> dict[str, str | None]:
    """An unknown subject and every form an existing subject's hash may be in."""
    peppered = PasswordHasher(PRESET, keyring=pv.keyring, pepper=True).hash(GOOD)
    return {
        "unknown subject": None,
        "argon2id, as the verifier makes it now": pv.hash(GOOD),
        "argon2id, peppered": peppered,
        "argon2id, unpeppered": PasswordHasher(PRESET).hash(GOOD),
        "argon2id, fewer passes": argon2_hash(argon2.Type.ID, 1, 256),
        "argon2i": argon2_hash(argon2.Type.I, 2, 256),
        "bcrypt": bcrypt_hash(),
        "pbkdf2": django_pbkdf2(1000),
    }


@pytest.mark.parametrize("pepper", [True, False], ids=["pepper-on", "pepper-off"])
@pytest.mark.parametrize("guess", ["a wrong guess", UNNORMALIZED_GUESS])
def test_every_stored_form_prepares_each_form_of_the_password_with_one_pepper_hmac(
    pepper: bool, guess: str, peppers: list[str]
) -> None:
    # The pepper's HMAC is work too: an unknown subject (a peppered dummy when the pepper is on)
    # must not cost an HMAC more or less per form than a hash from before the pepper, bcrypt or
    # PBKDF2 (or, with the pepper off, than a hash peppered while it was on).
    pv = verifier(pepper=pepper)
    forms = len(pv.hasher.candidates(guess))
    for name, stored in stored_forms(pv).items():
        peppers.clear()
        assert not pv.verify(f"user-{uuid.uuid4().hex}", stored, guess).approved
        assert peppers == [pv.keyring.current_id] * forms, name


@pytest.mark.parametrize("pepper", [True, False], ids=["pepper-on", "pepper-off"])
@pytest.mark.parametrize("guess", ["a wrong guess", UNNORMALIZED_GUESS])
def test_with_the_pepper_on_or_off_every_cheaper_form_does_an_unknown_subject_s_work(
    pepper: bool, guess: str, work: list[Run], peppers: list[str]
) -> None:
    costs = FixedCosts({"bcrypt": 0.25, "pbkdf2_sha256": 0.5, "argon2id": 0.625, "argon2i": 0.75})
    pv = verifier(costs, pepper=pepper)
    forms = len(pv.hasher.candidates(guess))
    for name, stored in stored_forms(pv).items():
        peppers.clear()
        runs = work_of(pv, stored, guess, work)
        # Each form of the password: one pepper HMAC, then one preset run's worth of hashing.
        assert len(peppers) == forms, name
        per_form = [runs[i * len(runs) // forms : (i + 1) * len(runs) // forms] for i in range(forms)]
        assert all(part == per_form[0] for part in per_form), name
        shape = _hasher.parse_hash(stored).shape if stored is not None else pv.hasher.dummy().shape
        check_cost = costs.relative_cost(shape, pv.hasher.dummy().shape)
        top_ups = [kib for what, _, _, kib, _ in per_form[0] if what == "top-up"]
        assert check_cost + sum(top_ups) / PRESET.memory_cost == pytest.approx(1.0), name


# -- the meter ---------------------------------------------------------------------------------

BCRYPT = Shape(("bcrypt",), 16)
PRESET_SHAPE = Shape(("argon2", "argon2id", 0x13, 2, 1), 256)


def test_the_meter_compares_a_shape_with_the_preset_run_of_the_same_moment() -> None:
    meter = WorkMeter(window=9, min_samples=3)
    for _ in range(3):
        meter.record(PRESET_SHAPE, 0.016, PRESET_SHAPE)
    for seconds in (0.004, 0.004, 0.100, 0.004):  # one slow outlier does not move the median
        meter.record(BCRYPT, seconds, PRESET_SHAPE)
    assert meter.relative_cost(BCRYPT, PRESET_SHAPE) == pytest.approx(0.25)
    # The machine gets twice as slow for everything: the comparison does not move.
    for _ in range(9):
        meter.record(PRESET_SHAPE, 0.032, PRESET_SHAPE)
    for _ in range(3):
        meter.record(BCRYPT, 0.008, PRESET_SHAPE)
    assert meter.relative_cost(BCRYPT, PRESET_SHAPE) == pytest.approx(0.25)


def test_the_meter_uses_the_rough_model_until_a_shape_has_enough_checks() -> None:
    meter = WorkMeter(min_samples=3)
    for _ in range(3):
        meter.record(BCRYPT, 1.0, PRESET_SHAPE)  # the preset is not measured yet
    prior = prior_unit_cost(BCRYPT.family) * 16 / (prior_unit_cost(PRESET_SHAPE.family) * 256)
    assert meter.relative_cost(BCRYPT, PRESET_SHAPE) == pytest.approx(prior)
    assert meter.relative_cost(Shape(("bcrypt",), 32), PRESET_SHAPE) == pytest.approx(2 * prior)


def test_an_unmeasured_shape_is_scaled_from_a_measured_one_of_its_family() -> None:
    meter = WorkMeter(min_samples=1)
    meter.record(PRESET_SHAPE, 0.016, PRESET_SHAPE)
    meter.record(Shape(("pbkdf2_sha256",), 1000), 0.002, PRESET_SHAPE)
    assert meter.relative_cost(Shape(("pbkdf2_sha256",), 3000), PRESET_SHAPE) == pytest.approx(0.375)


def test_within_the_preset_s_family_the_meter_needs_no_measurement() -> None:
    meter = WorkMeter()
    assert meter.relative_cost(Shape(PRESET_SHAPE.family, 64), PRESET_SHAPE) == 0.25


def test_the_meter_keeps_a_bounded_number_of_shapes() -> None:
    meter = WorkMeter(min_samples=1, max_shapes=2)
    for iterations in (1, 2, 3):
        meter.record(Shape(("pbkdf2_sha256",), iterations), 0.001, PRESET_SHAPE)
    assert meter.seconds(Shape(("pbkdf2_sha256",), 1)) is None
    assert meter.seconds(Shape(("pbkdf2_sha256",), 3)) == pytest.approx(0.001)


def test_the_meter_learns_how_much_memory_a_top_up_needs_for_its_share_of_time() -> None:
    # A small argon2 run can sit in a cache and take less than its share of memory suggests.
    meter = WorkMeter(min_samples=3, top_up_window=3)
    for _ in range(3):
        meter.record(PRESET_SHAPE, 0.100, PRESET_SHAPE)
    assert meter.memory_share(BCRYPT, 0.4) == pytest.approx(0.4)
    for _ in range(3):
        meter.record_top_up(BCRYPT, 0.4, 0.020, PRESET_SHAPE)  # took a fifth of a preset run, not 0.4
    assert meter.memory_share(BCRYPT, 0.4) == pytest.approx(0.8)
    assert meter.memory_share(Shape(("bcrypt",), 32), 0.4) == pytest.approx(0.4)


@pytest.mark.parametrize(
    "settings",
    [
        {"window": 0},
        {"min_samples": 0},
        {"max_shapes": 0},
        {"top_up_window": 0},
        {"window": 3, "min_samples": 4},
    ],
)
def test_meter_settings_are_checked(settings: dict[str, int]) -> None:
    from verifykit import ConfigurationError

    with pytest.raises(ConfigurationError):
        WorkMeter(**settings)


def test_cheap_tests_only_is_its_own_family_reference() -> None:
    # The test preset is the dummy's shape too: an unknown subject never gets a top-up.
    hasher = PasswordHasher(CHEAP_TESTS_ONLY)
    assert hasher.top_up_kib(hasher.dummy().shape) == 0

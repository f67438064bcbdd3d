"""FaceIndex: top-k search under a threshold agrees with brute force; sealed save and load;
searches and changes capped, limited per client and audited."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import numpy as np
import pytest
from face_photos import Encodings, photo, reference

from flavours import Flavour
from verifykit import (
    AuditEvent,
    ConfigurationError,
    InvalidInput,
    Keyring,
    RateLimited,
    TemplateError,
    WindowPolicy,
    aio,
)
from verifykit._flow import Emit, Work, WorkKind, drive
from verifykit.face import FaceIndex, FaceMatch, FaceSettings, FaceVerifier
from verifykit.face._template import seal_template
from verifykit.store import ChallengeStore, MemoryStore
from verifykit.testing import FakeClock

# Wider than a deployment allows, to hold the search against brute force far from the threshold.
WIDE = FaceSettings(max_search_distance=1.99, max_search_results=50)


def random_encodings(n: int, seed: int = 3) -> np.ndarray:
    """Vectors spread like dlib encodings (norm around 1, typical distances 0.3-1.2)."""
    rng = np.random.default_rng(seed)
    return (rng.normal(0.0, 0.09, size=(n, 128))).astype(np.float32)


def brute_force(
    matrix: np.ndarray, keys: list[str], query: np.ndarray, k: int, threshold: float
) -> list[str]:
    d = np.linalg.norm(matrix.astype(np.float64) - query.astype(np.float64), axis=1)
    order = [i for i in np.argsort(d, kind="stable") if d[i] <= threshold][:k]
    return [keys[i] for i in order]


@pytest.fixture
def filled(keyring: Keyring) -> tuple[FaceIndex, np.ndarray, list[str]]:
    matrix = random_encodings(3000)
    keys = [f"subject-{i}" for i in range(len(matrix))]
    index = FaceIndex(keyring, store=MemoryStore(), settings=WIDE, audit=None)
    index.add_matrix(keys, matrix)
    return index, matrix, keys


@pytest.mark.parametrize(("k", "threshold"), [(1, 0.6), (5, 0.9), (10, 1.0), (50, 1.2)])
def test_search_returns_the_brute_force_top_k_under_the_threshold(
    filled: tuple[FaceIndex, np.ndarray, list[str]], k: int, threshold: float
) -> None:
    index, matrix, keys = filled
    rng = np.random.default_rng(11)
    for row in rng.choice(len(matrix), size=20, replace=False):
        query = matrix[row] + rng.normal(0, 0.03, 128).astype(np.float32)
        hits = index.search(query, k=k, threshold=threshold)
        assert [h.key for h in hits] == brute_force(matrix, keys, query, k, threshold)
        assert all(h.distance <= threshold for h in hits)
        assert [h.distance for h in hits] == sorted(h.distance for h in hits)


def test_hits_carry_exact_float64_distances(filled: tuple[FaceIndex, np.ndarray, list[str]]) -> None:
    index, matrix, keys = filled
    query = matrix[7] + 0.01
    (hit,) = index.search(query, k=1, threshold=1.99)
    assert isinstance(hit, FaceMatch) and hit.key == keys[7]
    assert hit.distance == pytest.approx(
        float(np.linalg.norm(matrix[7].astype(np.float64) - (query))), abs=1e-9
    )


def test_nothing_under_the_threshold_gives_an_empty_list(keyring: Keyring) -> None:
    index = FaceIndex(keyring, store=MemoryStore())
    index.add("ana", np.full(128, 0.1))
    assert index.search(np.full(128, -0.1), threshold=0.6) == []


def test_an_empty_index_finds_nothing(keyring: Keyring) -> None:
    assert FaceIndex(keyring, store=MemoryStore()).search(np.zeros(128)) == []


def test_removing_a_key_removes_only_that_key(filled: tuple[FaceIndex, np.ndarray, list[str]]) -> None:
    index, matrix, keys = filled
    assert index.remove(keys[5]) is True
    assert index.remove(keys[5]) is False
    assert keys[5] not in index and len(index) == len(keys) - 1
    assert all(h.key != keys[5] for h in index.search(matrix[5], k=3, threshold=1.99))
    # The row moved into the gap is still found under its own key.
    (moved,) = index.search(matrix[-1], k=1, threshold=0.01)
    assert moved.key == keys[-1] and moved.distance < 1e-6


def test_adding_an_existing_key_replaces_its_encoding(keyring: Keyring) -> None:
    index = FaceIndex(keyring, store=MemoryStore())
    index.add("ana", np.full(128, 0.1))
    index.add("ana", np.full(128, -0.1))
    assert len(index) == 1
    assert index.search(np.full(128, -0.1), k=1)[0].key == "ana"


def test_a_template_is_opened_with_its_key_as_subject(keyring: Keyring) -> None:
    index = FaceIndex(keyring, store=MemoryStore())
    encoding = random_encodings(1)[0]
    index.add("ana", seal_template(keyring, "ana", encoding))
    assert index.search(encoding, k=1)[0].key == "ana"
    with pytest.raises(TemplateError):
        index.add("bob", seal_template(keyring, "ana", encoding))


def test_search_template_finds_a_duplicate_enrolment(keyring: Keyring) -> None:
    index = FaceIndex(keyring, store=MemoryStore())
    encoding = random_encodings(1)[0]
    index.add("ana", encoding)
    new_applicant = seal_template(keyring, "ana-again", encoding + 0.001)
    assert [h.key for h in index.search_template("ana-again", new_applicant)] == ["ana"]


@pytest.mark.parametrize(
    "bad",
    [np.zeros(127), np.full(128, np.nan), np.zeros(128, dtype=np.int64), [0.0] * 128],
    ids=["short", "nan", "integers", "list"],
)
def test_malformed_encodings_are_refused(keyring: Keyring, bad: object) -> None:
    index = FaceIndex(keyring, store=MemoryStore())
    with pytest.raises(InvalidInput):
        index.add("ana", bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        index.search(bad)  # type: ignore[arg-type]
    assert len(index) == 0


def test_a_bad_batch_adds_nothing(keyring: Keyring) -> None:
    index = FaceIndex(keyring, store=MemoryStore())
    with pytest.raises(InvalidInput):
        index.add_many([("ana", np.zeros(128)), ("bob", np.zeros(5))])
    assert len(index) == 0


# --- one index, shared by threads and tasks ------------------------------------------------


def test_a_search_asks_for_its_matrix_product_as_work_that_releases_the_gil(
    filled: tuple[FaceIndex, np.ndarray, list[str]],
) -> None:
    index, matrix, keys = filled
    answer = [FaceMatch("whoever-the-work-found", 0.25)]
    steps, hits = drive(index._search_flow(matrix[3], 1, 0.01, None), [answer, None])

    work, audit = steps
    assert isinstance(work, Work) and work.kind is WorkKind.RELEASES_GIL
    assert isinstance(audit, Emit) and audit.event.details["matches"] == "1"
    assert hits == answer  # the flow returns what the work found, computing nothing itself
    (found,) = work.fn(*work.args)
    assert found.key == keys[3]


def test_async_calls_wait_for_a_busy_index_beside_the_event_loop(keyring: Keyring) -> None:
    index = aio.FaceIndex(keyring, store=aio.AsyncMemoryStore(), audit=None)
    busy, done = threading.Event(), threading.Event()

    def long_search() -> None:  # holds the index as a search does through its matrix product
        with index._lock:
            busy.set()
            done.wait(timeout=10)

    holder = threading.Thread(target=long_search)
    holder.start()
    assert busy.wait(timeout=10)

    async def calls_while_busy() -> list[FaceMatch]:
        waiting = asyncio.gather(
            index.add("ana", np.full(128, 0.1)),
            index.remove("bob"),
            index.search(np.full(128, 0.1), k=1),
        )
        await asyncio.sleep(0.05)
        # The loop ran on while every call waited: the index is still held, nothing finished.
        assert index._lock.locked() and not waiting.done()
        done.set()
        _, removed, hits = await waiting
        assert removed is False
        return hits

    try:
        hits = asyncio.run(calls_while_busy())
    finally:
        done.set()
        holder.join()
    assert [hit.key for hit in hits] in ([], ["ana"])  # the search ran before or after the add
    assert index.keys() == ["ana"]


def test_save_and_load_round_trip(
    tmp_path: Path, filled: tuple[FaceIndex, np.ndarray, list[str]], keyring: Keyring
) -> None:
    index, matrix, keys = filled
    index.remove(keys[0])
    path = tmp_path / "faces.vkfi"
    index.save(path)
    loaded = FaceIndex.load(path, keyring, store=MemoryStore(), settings=WIDE)
    assert sorted(loaded.keys()) == sorted(index.keys())
    query = matrix[42]
    assert loaded.search(query, k=5, threshold=1.0) == index.search(query, k=5, threshold=1.0)


def test_a_saved_index_reveals_no_keys_or_encodings(tmp_path: Path, keyring: Keyring) -> None:
    index = FaceIndex(keyring, store=MemoryStore())
    encoding = random_encodings(1)[0]
    index.add("subject-with-a-name", encoding)
    path = tmp_path / "faces.vkfi"
    index.save(path)
    raw = path.read_bytes()
    assert b"subject-with-a-name" not in raw
    assert encoding.tobytes()[:16] not in raw


HEADER = len(b"VKFI\x01") + 16 + 4  # magic, file id, chunk count


@pytest.fixture
def saved(
    tmp_path: Path, filled: tuple[FaceIndex, np.ndarray, list[str]], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The filled index saved in chunks of 64 KiB (several chunks, as a large index has)."""
    from verifykit.face import _index

    monkeypatch.setattr(_index, "_CHUNK", 64 * 1024)
    path = tmp_path / "faces.vkfi"
    filled[0].save(path)
    return path


def split_chunks(raw: bytes) -> list[bytes]:
    """The length-prefixed sealed chunks after the header, each with its prefix."""
    out, pos = [], HEADER
    while pos < len(raw):
        size = int.from_bytes(raw[pos : pos + 4], "little")
        out.append(raw[pos : pos + 4 + size])
        pos += 4 + size
    return out


def test_an_altered_index_file_is_refused(saved: Path, keyring: Keyring) -> None:
    raw = bytearray(saved.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    saved.write_bytes(bytes(raw))
    with pytest.raises(TemplateError):
        FaceIndex.load(saved, keyring, store=MemoryStore())


def test_a_truncated_index_file_is_refused(saved: Path, keyring: Keyring) -> None:
    saved.write_bytes(saved.read_bytes()[:-100])
    with pytest.raises(TemplateError):
        FaceIndex.load(saved, keyring, store=MemoryStore())


def test_reordered_chunks_are_refused(saved: Path, keyring: Keyring) -> None:
    raw = saved.read_bytes()
    chunks = split_chunks(raw)
    assert len(chunks) >= 3
    chunks[1], chunks[2] = chunks[2], chunks[1]
    saved.write_bytes(raw[:HEADER] + b"".join(chunks))
    with pytest.raises(TemplateError):
        FaceIndex.load(saved, keyring, store=MemoryStore())


def test_a_dropped_last_chunk_is_refused_even_with_the_count_rewritten(saved: Path, keyring: Keyring) -> None:
    raw = saved.read_bytes()
    chunks = split_chunks(raw)[:-1]
    count = len(chunks).to_bytes(4, "little")
    saved.write_bytes(raw[: HEADER - 4] + count + b"".join(chunks))
    with pytest.raises(TemplateError):
        FaceIndex.load(saved, keyring, store=MemoryStore())


def test_chunks_from_another_index_file_cannot_be_spliced_in(
    tmp_path: Path, keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    from verifykit.face import _index

    monkeypatch.setattr(_index, "_CHUNK", 4096)  # several chunks for a small index
    first, second = (
        FaceIndex(keyring, store=MemoryStore()),
        FaceIndex(keyring, store=MemoryStore()),
    )
    first.add_matrix([f"a{i}" for i in range(100)], random_encodings(100, seed=1))
    second.add_matrix([f"b{i}" for i in range(100)], random_encodings(100, seed=2))
    first.save(tmp_path / "first")
    second.save(tmp_path / "second")
    a, b = (tmp_path / "first").read_bytes(), (tmp_path / "second").read_bytes()
    spliced = a[:HEADER] + b[HEADER:]
    (tmp_path / "spliced").write_bytes(spliced)
    with pytest.raises(TemplateError):
        FaceIndex.load(tmp_path / "spliced", keyring, store=MemoryStore())


def test_an_index_opens_only_with_its_keyring(saved: Path) -> None:
    with pytest.raises(TemplateError):
        FaceIndex.load(saved, Keyring.generate(), store=MemoryStore())


@pytest.mark.slow
def test_search_over_real_encodings_agrees_with_face_recognitions_distances(
    keyring: Keyring, our_encodings: Encodings
) -> None:
    face_recognition = reference()
    usable = {name: enc for name, enc in our_encodings.items() if enc is not None}
    index = FaceIndex(keyring, store=MemoryStore())
    index.add_many(list(usable.items()))
    names = list(usable)
    stacked = np.array([usable[n].astype(np.float32) for n in names])
    for name in names:
        distances = face_recognition.face_distance(
            stacked.astype(np.float64), usable[name].astype(np.float32)
        )
        expected = [names[i] for i in np.argsort(distances, kind="stable") if distances[i] <= 0.6][:5]
        assert [h.key for h in index.search(usable[name], k=5, threshold=0.6)] == expected


def test_the_verifier_encoding_feeds_the_index(verifier: FaceVerifier) -> None:
    index = FaceIndex(verifier.keyring, store=MemoryStore())
    enrollment = verifier.enroll("obama", photo("Barack_Obama__obama.jpg"))
    assert enrollment.stored is not None
    index.add("obama", enrollment.stored)
    _, probe = verifier.encode(photo("Barack_Obama__obama2.jpg"))
    assert probe is not None
    assert [h.key for h in index.search(probe)] == ["obama"]


def test_a_photo_can_be_searched_directly(verifier: FaceVerifier, flavour: Flavour) -> None:
    index = flavour.build(
        FaceIndex, aio.FaceIndex, keyring=verifier.keyring, store=flavour.store("memory://")
    )
    _, encoding = verifier.encode(photo("Joe_Biden__biden.jpg"))
    assert encoding is not None
    index.add("biden", encoding)
    assert [h.key for h in index.search(photo("Joe_Biden__biden2.jpg"))] == ["biden"]


def test_searching_a_photo_without_a_face_is_an_error_not_an_empty_result(keyring: Keyring) -> None:
    index = FaceIndex(keyring, store=MemoryStore())
    index.add("ana", np.zeros(128))
    with pytest.raises(InvalidInput, match="no_face"):
        index.search(photo("noface__rocket.jpg"))


# -- limits and audit ------------------------------------------------------------------------------


def one_face_index(keyring: Keyring, **options: object) -> FaceIndex:
    options.setdefault("store", MemoryStore())
    index = FaceIndex(keyring, **options)  # type: ignore[arg-type]
    index.add("ana", np.full(128, 0.05, dtype=np.float32))
    return index


NEAR_ANA = np.full(128, 0.051, dtype=np.float32)


@pytest.mark.parametrize("threshold", [0.61, 1.0, 2.0, float("inf")])
def test_a_search_wider_than_the_verification_threshold_is_refused(
    keyring: Keyring, threshold: float
) -> None:
    index = one_face_index(keyring, audit=None)
    with pytest.raises(InvalidInput) as refused:
        index.search(NEAR_ANA, threshold=threshold)
    assert refused.value.field == "threshold"


def test_a_search_may_go_as_wide_as_the_threshold_by_default(keyring: Keyring) -> None:
    index = one_face_index(keyring, audit=None)
    assert [h.key for h in index.search(NEAR_ANA, threshold=0.6)] == ["ana"]


def test_the_widest_search_is_a_setting(keyring: Keyring) -> None:
    index = one_face_index(keyring, audit=None, settings=FaceSettings(max_search_distance=0.8))
    assert [h.key for h in index.search(NEAR_ANA, threshold=0.8)] == ["ana"]
    with pytest.raises(InvalidInput):
        index.search(NEAR_ANA, threshold=0.81)


def test_a_cap_below_the_threshold_also_narrows_the_default_search(keyring: Keyring) -> None:
    index = FaceIndex(
        keyring, store=MemoryStore(), audit=None, settings=FaceSettings(max_search_distance=0.3)
    )
    index.add("ana", np.zeros(128, dtype=np.float32))
    index.add("bob", np.full(128, 0.4 / np.sqrt(128), dtype=np.float32))  # 0.4 from ana
    assert [h.key for h in index.search(np.zeros(128, dtype=np.float32))] == ["ana"]


@pytest.mark.parametrize("k", [0, 11, 1000])
def test_more_results_than_the_cap_are_refused(keyring: Keyring, k: int) -> None:
    index = one_face_index(keyring, audit=None)
    with pytest.raises(InvalidInput) as refused:
        index.search(NEAR_ANA, k=k)
    assert refused.value.field == "k"


def test_searches_over_a_clients_limit_are_refused_on_every_backend(
    keyring: Keyring, store: ChallengeStore
) -> None:
    settings = FaceSettings(search_limit=WindowPolicy(limit=2, window=60))
    index = one_face_index(keyring, audit=None, settings=settings, store=store)
    for _ in range(2):
        assert index.search(NEAR_ANA, client="service-a") != []
    with pytest.raises(RateLimited) as refused:
        index.search(NEAR_ANA, client="service-a")
    assert refused.value.reason == "search_limit" and 0 < refused.value.retry_after <= 60
    assert index.search(NEAR_ANA, client="service-b") != []  # per client


def test_the_search_limit_is_shared_by_every_index_on_the_store(
    keyring: Keyring, store: ChallengeStore
) -> None:
    settings = FaceSettings(search_limit=WindowPolicy(limit=1, window=60))
    one = one_face_index(keyring, audit=None, settings=settings, store=store)
    two = one_face_index(keyring, audit=None, settings=settings, store=store)
    one.search(NEAR_ANA, client="service-a")
    with pytest.raises(RateLimited):
        two.search(NEAR_ANA, client="service-a")


def test_the_search_window_slides_with_the_stores_clock(keyring: Keyring) -> None:
    clock = FakeClock()
    settings = FaceSettings(search_limit=WindowPolicy(limit=1, window=60))
    index = one_face_index(keyring, audit=None, settings=settings, store=MemoryStore(clock=clock))
    index.search(NEAR_ANA, client="service-a")
    with pytest.raises(RateLimited):
        index.search(NEAR_ANA, client="service-a")
    clock.advance(61)
    assert index.search(NEAR_ANA, client="service-a") != []


def test_additions_and_removals_share_a_clients_change_limit_on_every_backend_in_each_flavour(
    keyring: Keyring, flavour: Flavour, store_url: str
) -> None:
    settings = FaceSettings(index_change_limit=WindowPolicy(limit=2, window=60))
    store = flavour.store(store_url)
    index = flavour.build(
        FaceIndex, aio.FaceIndex, keyring=keyring, audit=None, settings=settings, store=store
    )
    index.add("ana", np.zeros(128), client="service-a")
    assert index.remove("ana", client="service-a") is True
    with pytest.raises(RateLimited) as refused:
        index.add("bob", np.zeros(128), client="service-a")
    assert refused.value.reason == "index_change_limit"
    with pytest.raises(RateLimited):
        index.remove("ana", client="service-a")
    assert index.keys() == []


def test_a_batch_counts_whole_against_the_change_limit(keyring: Keyring) -> None:
    settings = FaceSettings(index_change_limit=WindowPolicy(limit=2, window=60))
    index = FaceIndex(keyring, store=MemoryStore(), audit=None, settings=settings)
    with pytest.raises(RateLimited):
        index.add_many([(f"s{i}", np.zeros(128)) for i in range(3)], client="service-a")
    assert len(index) == 0


def test_a_limit_of_none_turns_it_off(keyring: Keyring) -> None:
    index = one_face_index(keyring, audit=None, settings=FaceSettings(search_limit=None))
    searches = FaceSettings().search_limit.limit + 1  # type: ignore[union-attr]
    found = [[h.key for h in index.search(NEAR_ANA, client="service-a")] for _ in range(searches)]
    assert found == [["ana"]] * searches  # one more than the default limit, and none refused


def test_changes_and_searches_are_audited_with_who_what_and_how_many(keyring: Keyring) -> None:
    events: list[AuditEvent] = []
    index = FaceIndex(keyring, store=MemoryStore(), audit=events.append)
    encoding = random_encodings(1)[0]
    index.add("ana", seal_template(keyring, "ana", encoding), client="service-a")
    index.add("ana", encoding, client="service-a")
    index.search(encoding, k=3, client="service-b")
    index.remove("ana", client="service-c")
    index.remove("ana", client="service-c")
    assert [(e.action, e.subject, e.outcome, e.client) for e in events] == [
        ("index_add", "ana", "added", "service-a"),
        ("index_add", "ana", "replaced", "service-a"),
        ("search", "", "searched", "service-b"),
        ("index_remove", "ana", "removed", "service-c"),
        ("index_remove", "ana", "absent", "service-c"),
    ]
    assert events[2].details == {"matches": "1", "k": "3", "max_distance": "0.6"}
    for event in events:
        text = event.to_json()
        assert encoding.tobytes()[:16].hex() not in text
        assert all(len(value) < 40 for value in event.details.values())


def test_a_refused_search_is_audited(keyring: Keyring) -> None:
    events: list[AuditEvent] = []
    settings = FaceSettings(search_limit=WindowPolicy(limit=1, window=60))
    index = one_face_index(keyring, audit=events.append, settings=settings)
    index.search(NEAR_ANA, client="service-a")
    with pytest.raises(RateLimited):
        index.search(NEAR_ANA, client="service-a")
    assert (events[-1].action, events[-1].outcome, events[-1].reason, events[-1].client) == (
        "search",
        "refused",
        "rate_limited",
        "service-a",
    )


def test_a_bulk_load_is_audited_once_with_its_count(keyring: Keyring) -> None:
    events: list[AuditEvent] = []
    FaceIndex(keyring, store=MemoryStore(), audit=events.append).add_matrix(
        ["a", "b", "c"], random_encodings(3)
    )
    assert [(e.action, e.outcome, e.details) for e in events] == [("index_add", "added", {"count": "3"})]


def test_an_index_without_the_shared_store_is_refused(keyring: Keyring) -> None:
    with pytest.raises(ConfigurationError):
        FaceIndex(keyring, store=None)

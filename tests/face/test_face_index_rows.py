"""The index's row book: rows found by 16-byte tag, keys in one heap, held against a dict.

Tags here are chosen to collide: their low bits (the home slot) come from a handful of values,
one of them the table's last slot, so probes run long, wrap around and shift back on removal.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from verifykit.face._rows import RowBook

_HOMES = [0, 1, 2, 0xFFFF]  # 0xFFFF: the last slot of any table up to 65,536 slots


def _tag(home: int, mid: int, high: int) -> bytes:
    return ((mid << 16) | home).to_bytes(8, "little") + high.to_bytes(8, "little")


tags = st.builds(_tag, st.sampled_from(_HOMES), st.integers(0, 3), st.integers(0, 2**64 - 1))
keys = st.text(min_size=1, max_size=12)
operations = st.lists(st.tuples(st.sampled_from(["put", "drop"]), st.integers(0, 39), keys), max_size=120)


def _assert_agrees(book: RowBook, model: dict[bytes, str], universe: list[bytes]) -> None:
    assert len(book) == len(model)
    rows = {tag: book.find(tag) for tag in universe}
    assert {tag for tag, row in rows.items() if row >= 0} == set(model)
    assert sorted(row for row in rows.values() if row >= 0) == list(range(len(model)))
    assert {tag: book.key(rows[tag]) for tag in model} == model
    assert book.keys() == [book.key(row) for row in range(len(book))]
    looked_up = book.find_many(b"".join(universe)).tolist()
    assert looked_up == [rows[tag] for tag in universe]


@settings(max_examples=200, deadline=None)
@given(st.lists(tags, min_size=40, max_size=40, unique=True), operations)
def test_put_and_drop_agree_with_a_dict(universe: list[bytes], steps: list[tuple[str, int, str]]) -> None:
    book, model = RowBook(), {}
    for op, which, key in steps:
        tag = universe[which]
        if op == "put":
            row, existed = book.put(tag, key)
            assert existed == (tag in model)
            model.setdefault(tag, key)  # a tag names one key: a replacement keeps it
            assert book.key(row) == model[tag]
        else:
            dropped = book.drop(tag)
            assert (dropped is not None) == (tag in model)
            model.pop(tag, None)
        _assert_agrees(book, model, universe)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(tags, keys), max_size=60), st.lists(st.tuples(tags, keys), max_size=60))
def test_bulk_extend_files_the_same_rows_as_one_put_at_a_time(
    before: list[tuple[bytes, str]], batch: list[tuple[bytes, str]]
) -> None:
    bulk, one_by_one = RowBook(), RowBook()
    for tag, key in before:
        bulk.put(tag, key)
        one_by_one.put(tag, key)
    kept = bulk.extend(b"".join(tag for tag, _ in batch), [key for _, key in batch])
    fresh = [i for i, (tag, key) in enumerate(batch) if not one_by_one.put(tag, key)[1]]
    assert kept.tolist() == fresh  # the first of each tag the book lacked, in order
    assert bulk.keys() == one_by_one.keys()
    universe = [tag for tag, _ in before + batch]
    assert [bulk.find(tag) for tag in universe] == [one_by_one.find(tag) for tag in universe]


def test_a_removed_row_is_filled_by_the_last() -> None:
    book = RowBook()
    for i in range(3):
        book.put(_tag(0, 0, i), f"k{i}")
    assert book.drop(_tag(0, 0, 0)) == (0, 2)
    assert book.keys() == ["k2", "k1"]
    assert book.find(_tag(0, 0, 2)) == 0


def test_the_table_grows_with_the_rows() -> None:
    book = RowBook()
    rng = np.random.default_rng(3)
    tags = [rng.bytes(16) for _ in range(5000)]
    for i, tag in enumerate(tags):
        book.put(tag, str(i))
    assert [book.find(tag) for tag in tags] == list(range(5000))


def test_the_heap_is_rewritten_once_garbage_outweighs_live_keys() -> None:
    book = RowBook()
    for i in range(100):
        book.put(_tag(1, 0, i), f"key-{i:04d}")  # 8 bytes each
    for i in range(50):
        book.drop(_tag(1, 0, i))
    assert book.heap_bytes == 800  # 400 bytes of garbage: not more than the live 400
    book.drop(_tag(1, 0, 50))
    assert book.heap_bytes == 49 * 8
    assert sorted(book.keys()) == [f"key-{i:04d}" for i in range(51, 100)]


def test_emptying_the_book_empties_the_heap() -> None:
    book = RowBook()
    book.put(_tag(2, 0, 1), "only")
    book.drop(_tag(2, 0, 1))
    assert (len(book), book.heap_bytes, book.keys()) == (0, 0, [])

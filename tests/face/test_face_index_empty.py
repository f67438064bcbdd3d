"""An index with no entry (never filled, or emptied) saves and loads like any other."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from verifykit import Keyring
from verifykit.face import FaceIndex
from verifykit.store import MemoryStore


def test_an_emptied_index_saves_and_loads_empty(tmp_path: Path, keyring: Keyring) -> None:
    index = FaceIndex(keyring, store=MemoryStore())
    index.add("ana", np.full(128, 0.05))
    index.remove("ana")
    index.save(tmp_path / "faces.vkfi")
    loaded = FaceIndex.load(tmp_path / "faces.vkfi", keyring, store=MemoryStore())
    assert len(loaded) == 0
    assert loaded.search(np.full(128, 0.05), k=1) == []

"""The fuzz targets and where their seeds live (no verifykit import: the runner instruments
verifykit as the harness imports it, which works only for modules not yet imported)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["CORPUS", "TARGETS"]

CORPUS = Path(__file__).resolve().parent / "corpus"
#: Every harness, by the name after ``fuzz_``.
TARGETS = (
    "image",
    "email",
    "codes",
    "fallbacks",
    "phc",
    "keyring",
    "sealed",
    "template",
    "vouchers",
    "config",
    "sidecar",
)

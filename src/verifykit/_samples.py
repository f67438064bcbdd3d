"""The sample photos: two public-domain portraits, package data so that the demo and the benches
run from a wheel."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

__all__ = ["sample_photos"]


def sample_photos() -> Traversable:
    """The folder of sample photos (``eileen_collins.jpg`` among them)."""
    return resources.files("verifykit") / "_data" / "photos"

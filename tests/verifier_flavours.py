"""Kept for the modules that still import from here: the flavour harness is :mod:`flavours`, and
the ``flavour`` fixture lives in ``tests/conftest.py``."""

from __future__ import annotations

from flavours import Flavour

__all__ = ["Flavour"]

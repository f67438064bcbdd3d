"""The assisted check: an operator verifies a person in person, with an audit trail."""

from ._check import DEFAULT_UNLOCKS, AssistedCheck

__all__ = ["DEFAULT_UNLOCKS", "AssistedCheck"]

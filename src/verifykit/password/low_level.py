"""Pieces of :class:`~verifykit.password.PasswordVerifier` below its rules, for tools that measure
them (``verifykit bench hash``): the shipped blocklist and the meter that pads every check to the
cost of a real one. To check a password, use :class:`~verifykit.password.PasswordVerifier`.
"""

from ._blocklist import default_blocklist
from ._padding import WorkMeter

__all__ = ["WorkMeter", "default_blocklist"]

"""The fallback ladder: for a subject, the ways in that are open now, in order, and why not the
others (locked until..., hard locked, not enrolled, delivery failed, below the level asked), with
the combinations that reach an assurance level of NIST SP 800-63B-4. One call, not a flow to
configure. The asyncio flavour is :class:`verifykit.aio.Ladder`.

>>> offer = Ladder(store=store, keyring=keyring).ways_in(          # doctest: +SKIP
...     "user-1", enrolled=["email_code", "password", "authenticator_app"], delivery="failed", level=AAL.AAL2)
"""

from ._decide import Offer, Rung
from ._ladder import AsyncLadder, Ladder
from ._levels import AAL, ASSURANCE, COMBINATIONS, Combination, Role

__all__ = [
    "AAL",
    "ASSURANCE",
    "COMBINATIONS",
    "AsyncLadder",
    "Combination",
    "Ladder",
    "Offer",
    "Role",
    "Rung",
]

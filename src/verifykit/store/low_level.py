"""The Redis backend below :class:`~verifykit.store.ChallengeStore`: its Lua scripts, their
arguments, the driver and the URL helpers.

For tools that talk to the store's server beside it, such as the raw baselines of
``verifykit bench store``. Nothing here is atomic or checked the way the store's operations are:
to keep challenges and counters, use :func:`~verifykit.store.open_store`.
"""

from ._cluster import RedisClusterStore, cluster_nodes
from ._redis import RedisStore, policy_args, redis_driver, script_sha, script_source, split_query

__all__ = [
    "RedisClusterStore",
    "RedisStore",
    "cluster_nodes",
    "policy_args",
    "redis_driver",
    "script_sha",
    "script_source",
    "split_query",
]

"""``redis://``, ``rediss://`` and ``unix://``: one Redis server shared by every process.

Each operation that reads and then writes is one Lua script (``lua/*.lua``), so it is
atomic and costs one round trip. The scripts mirror :mod:`verifykit.store._rules` and take
the time from Redis ``TIME``, never from the caller. Every driver error is turned into
:class:`~verifykit.StoreUnavailable` at one boundary, ``_send``.

Each operation is described once, in :class:`RedisBase`: a :class:`Request` (the command,
its keys and arguments, and the function that reads the reply). The sync
:class:`RedisStore` and the asyncio store (:mod:`verifykit.store._aio`) differ only in how they
send it.

Key layout (``NS`` is the namespace)::

    NS:ch:{TAG}.RANDOM      challenge hash (id "TAG.RANDOM"; other ids: NS:ch:{ID})
    NS:win:{KEY}            sliding-window sorted set (KEY used as is if it has a '{')
    NS:lock:{KEY}           lockout hash, e.g. NS:lock:{TAG}:fail:otp

so a challenge and its subject's lockout key share a Redis Cluster slot.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import math
import re
import secrets
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from types import ModuleType
from typing import Any, ClassVar, Generic, Self, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from .._errors import ConfigurationError, InvalidInput, StoreUnavailable
from ._base import (
    AttemptOutcome,
    ChallengeBrief,
    ChallengeRecord,
    ChallengeStatus,
    ChallengeStore,
    FailureState,
    LiveSend,
    LockoutPolicy,
    NewChallenge,
    Opened,
    ResendOutcome,
    WindowPolicy,
    WindowResult,
)
from ._rules import check_cost, check_live_sends, check_new_challenge

__all__ = [
    "RedisBase",
    "RedisStore",
    "Request",
    "hash_tag",
    "policy_args",
    "script_sha",
    "script_source",
    "verified_tls",
]

T = TypeVar("T")

SCRIPTS = (
    "create",
    "open",
    "get",
    "attempt",
    "resend",
    "set_delivery",
    "cancel",
    "hit",
    "refund",
    "charge",
    "failure_state",
)
# What a URL query may say for a yes/no option.
_FLAGS = {
    "true": True,
    "yes": True,
    "on": True,
    "1": True,
    "false": False,
    "no": False,
    "off": False,
    "0": False,
}


def _flag(text: str) -> bool:
    try:
        return _FLAGS[text.strip().lower()]
    except KeyError:
        raise ValueError(text) from None


# Store options, with the converter that turns a URL query string into the value.
_OPTIONS: dict[str, Callable[[str], Any]] = {
    "socket_timeout": float,
    "socket_connect_timeout": float,
    "max_connections": int,
    "health_check_interval": float,
    "client_name": str,
    "ssl_ca_certs": str,
    "ssl_certfile": str,
    "ssl_keyfile": str,
    "ssl_cert_reqs": str,
    "ssl_check_hostname": _flag,
}
# Options verifykit itself reads (redis-py never sees them): how many replicas must hold a write
# that spends an attempt or charges a limit before its reply counts, and how long to wait for them.
_WAIT_OPTIONS: dict[str, Callable[[str], Any]] = {"wait_replicas": int, "wait_timeout": float}
# wait_timeout's default: this share of socket_timeout, at most _WAIT_TIMEOUT_MAX seconds, so WAIT
# always answers before the socket gives up on it.
_WAIT_SHARE = 0.5
_WAIT_TIMEOUT_MAX = 0.5
# Query parameters redis-py itself reads from the URL; they stay in it.
_DRIVER_QUERY = {"db", "username", "password"}
_CHALLENGE_ID = re.compile(r"^([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{22,})$")
_FIELDS = ("kind", "subject", "max_attempts", "destination", "delivery")
_DATA = "d:"
# Every challenge hash has these fields (the first five from NewChallenge, the rest stamped by
# create.lua); any others are verifier data, "d:NAME". "live" holds the live sends as one small
# JSON list, [[send, "expires_at", "digest"], ...] oldest first, so every check reads them in
# the same one HGETALL.
_HASH_FIELDS = (
    *_FIELDS,
    *("status", "created_at", "expires_at", "attempts_left", "sends", "resend_at", "delivery_reason"),
    *("live", "approved_send", "retention"),
)
_STATUS = {status.value: status for status in ChallengeStatus}
_ATTEMPT = {outcome.value: outcome for outcome in AttemptOutcome}


def redis_driver() -> ModuleType:
    """The redis package, or a configuration error that names the extra to install."""
    try:
        import redis
        import redis.cluster
    except ImportError as exc:
        raise ConfigurationError(
            "the Redis store needs the redis package: pip install 'verifykit[redis]'"
        ) from exc
    return redis


@functools.cache
def script_source(name: str) -> str:
    """A script with the shared rules (``common.lua``) in front of it."""
    lua = resources.files("verifykit.store") / "lua"
    return (lua / "common.lua").read_text("utf-8") + "\n" + (lua / f"{name}.lua").read_text("utf-8")


@functools.cache
def script_sha(name: str) -> str:
    """The SHA1 a script is known by to EVALSHA."""
    return hashlib.sha1(script_source(name).encode("utf-8"), usedforsecurity=False).hexdigest()


def hash_tag(key: str) -> str:
    """The part of ``key`` Redis Cluster hashes: the first non-empty ``{…}``, else the whole key."""
    start = key.find("{")
    if start != -1:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key


def _tagged(key: str) -> str:
    # A caller's key with its own hash tag keeps it; any other key becomes one tag as a whole.
    return key if "{" in key else f"{{{key}}}"


def _float(name: str, value: Any, *, minimum: float, allow_zero: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"store option {name} must be a number") from None
    if not math.isfinite(number) or number < minimum or (number == minimum and not allow_zero):
        bound = "at least" if allow_zero else "above"
        raise ConfigurationError(f"store option {name} must be a finite number {bound} {minimum:g}")
    return number


def store_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate store options (keyword values or URL query strings) into redis-py keyword arguments."""
    known = {**_OPTIONS, **_WAIT_OPTIONS}
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigurationError(
            f"unknown Redis store option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    out: dict[str, Any] = {}
    for name, value in options.items():
        if name in _WAIT_OPTIONS:
            continue
        try:
            out[name] = _OPTIONS[name](value) if isinstance(value, str) else value
        except ValueError:
            raise ConfigurationError(f"store option {name} has a malformed value") from None
    out["socket_timeout"] = _float("socket_timeout", out.get("socket_timeout", 1.0), minimum=0.0)
    out["socket_connect_timeout"] = _float(
        "socket_connect_timeout", out.get("socket_connect_timeout", out["socket_timeout"]), minimum=0.0
    )
    out["health_check_interval"] = _float(
        "health_check_interval", out.get("health_check_interval", 0), minimum=0.0, allow_zero=True
    )
    max_connections = out.get("max_connections", 64)
    if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
        raise ConfigurationError("store option max_connections must be an integer >= 1")
    out["max_connections"] = max_connections
    return out


def _requires_certificate(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "required"
    return isinstance(value, ssl.VerifyMode) and value is ssl.CERT_REQUIRED


def verified_tls(options: dict[str, Any]) -> None:
    """Refuse every TLS option that would let the store trust a server it has not verified, and
    set the verifying values explicitly (``store.options`` then shows what redis-py is given).

    Redis replies decide approvals, so a ``rediss://`` store talks only to a server whose
    certificate chains to a trusted CA *and* names the host dialled. redis-py's own defaults are
    not relied on: they have changed between releases, ``RedisCluster`` once dropped the hostname
    option, and ``ssl_cert_reqs=none`` (or ``None``) silently switches the hostname check off too.
    """
    cert_reqs = options.get("ssl_cert_reqs", "required")
    if not _requires_certificate(cert_reqs):
        shown = cert_reqs.name if isinstance(cert_reqs, ssl.VerifyMode) else cert_reqs
        raise ConfigurationError(
            f"store option ssl_cert_reqs={shown!s} would trust a Redis server without verifying its "
            "certificate (and without checking its name); a rediss:// store only accepts a verified "
            "server: leave ssl_cert_reqs out or set it to 'required', and name a private CA with "
            "ssl_ca_certs"
        )
    if options.get("ssl_check_hostname", True) is not True:
        raise ConfigurationError(
            "store option ssl_check_hostname must be true: without it any certificate the CA signed, "
            "for any host, would be trusted; a rediss:// store only accepts a verified server: "
            "connect by a name the server's certificate carries"
        )
    options["ssl_cert_reqs"] = "required"
    options["ssl_check_hostname"] = True


def wait_options(options: Mapping[str, Any], socket_timeout: float) -> tuple[int, float]:
    """``wait_replicas`` (default 0: off) and ``wait_timeout`` in seconds (default: half the
    socket timeout, at most 0.5 s), validated; WAIT must answer before the socket times out."""
    raw_replicas = options.get("wait_replicas", 0)
    try:
        replicas = int(raw_replicas) if isinstance(raw_replicas, str) else raw_replicas
    except ValueError:
        raise ConfigurationError("store option wait_replicas has a malformed value") from None
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise ConfigurationError("store option wait_replicas must be an integer >= 0")
    default = min(_WAIT_TIMEOUT_MAX, socket_timeout * _WAIT_SHARE)
    timeout = _float("wait_timeout", options.get("wait_timeout", default), minimum=0.0)
    if timeout >= socket_timeout:
        raise ConfigurationError("store option wait_timeout must be shorter than socket_timeout")
    return replicas, timeout


def split_query(url: str, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The URL without store options in its query, and those options (keywords win over the URL)."""
    base, _, query_text = url.partition("?")  # not urlunsplit: it turns unix:///path into unix:/path
    query = parse_qsl(query_text, keep_blank_values=True)
    kept = [(k, v) for k, v in query if k in _DRIVER_QUERY]
    merged: dict[str, Any] = {k: v for k, v in query if k not in _DRIVER_QUERY}
    merged.update(options)
    return (f"{base}?{urlencode(kept)}" if kept else base), merged


def _record(challenge_id: str, f: Mapping[str, str]) -> ChallengeRecord:
    return ChallengeRecord(
        id=challenge_id,
        kind=f["kind"],
        subject=f["subject"],
        status=_STATUS[f["status"]],
        created_at=float(f["created_at"]),
        expires_at=float(f["expires_at"]),
        attempts_left=int(f["attempts_left"]),
        max_attempts=int(f["max_attempts"]),
        sends=int(f["sends"]),
        resend_at=float(f["resend_at"]),
        destination=f["destination"],
        delivery=f["delivery"],
        delivery_reason=f["delivery_reason"],
        live=_live(f["live"]),
        approved_send=int(f["approved_send"]),
        data={k[len(_DATA) :]: v for k, v in f.items() if k.startswith(_DATA)},
        as_of=float(f.get("as_of", "nan")),
    )


def _live(text: str) -> tuple[LiveSend, ...]:
    entries = json.loads(text)  # Lua's cjson writes an empty list as {}
    return tuple(LiveSend(int(send), secret, float(expires_at)) for send, expires_at, secret in entries or ())


def _failure(reply: Sequence[str]) -> FailureState:
    allowed, failures, retry_after, hard = reply
    return FailureState(
        allowed=allowed == "1",
        failures=int(failures),
        retry_after=float(retry_after),
        hard_locked=hard == "1",
    )


@functools.lru_cache(maxsize=64)
def policy_args(policy: LockoutPolicy) -> tuple[str, ...]:
    """A lockout policy as the ARGV value the scripts read (``read_policy`` in common.lua): its five
    values in one argument, which costs less to send and to read than five."""
    values = (policy.threshold, float(policy.lockout), float(policy.lockout_max), policy.hard_cap)
    return (" ".join((*map(repr, values), repr(float(policy.memory)))),)


@dataclass(frozen=True, slots=True)
class Request(Generic[T]):
    """One store operation as data: the command that performs it and how to read its reply.

    Built by :class:`RedisBase` and sent by either flavour's ``_send``, the only code that
    differs between the sync and the asyncio store.
    """

    operation: str
    command: tuple[str | int, ...]
    parse: Callable[[Any], T]
    script: bool = True  # the command is an EVALSHA of the script named ``operation``
    # The script answers with one JSON document (common.lua's ``reply``); False: with a plain array.
    document: bool = True
    # The script spends an attempt, charges a lockout or a window, or retires a secret: a write
    # that a failover must not undo, so ``wait_replicas`` applies to it.
    spends: bool = False

    @property
    def key(self) -> str:
        """The script's first key: the one whose slot decides the cluster node."""
        return str(self.command[3])

    def load(self) -> tuple[str, str]:
        """The command that loads the script, for a server that answers NOSCRIPT."""
        return ("SCRIPT LOAD", script_source(self.operation))

    def read(self, reply: Any) -> T:
        # Scripts answer with one JSON document (common.lua); commands with redis-py's value.
        return self.parse(json.loads(reply) if self.script and self.document else reply)

    def unavailable(self, exc: BaseException) -> StoreUnavailable:
        # The driver's message can quote arguments (digests); name only the error's type.
        return StoreUnavailable(
            f"the Redis store did not answer {self.operation} ({type(exc).__name__}); nothing was approved"
        )


def _script(
    name: str,
    keys: Sequence[str],
    args: Sequence[str],
    parse: Callable[[Any], T],
    *,
    spends: bool = False,
    document: bool = True,
) -> Request[T]:
    command: tuple[str | int, ...] = ("EVALSHA", script_sha(name), len(keys), *keys, *args)
    return Request(name, command, parse, spends=spends, document=document)


def _time(reply: Sequence[Any]) -> float:
    seconds, micros = reply
    return int(seconds) + int(micros) / 1_000_000


def _nothing(reply: object) -> None:
    return None


def _window(limit: int, reply: Sequence[str]) -> WindowResult:
    allowed, count, retry_after = reply
    return WindowResult(allowed=allowed == "1", count=int(count), limit=limit, retry_after=float(retry_after))


def _created(challenge_id: str, reply: Sequence[Any]) -> ChallengeRecord:
    if reply[0] == "collision":
        raise ValueError("challenge id collision")  # 128 random bits: a bug, not bad luck
    return _record(challenge_id, reply[1])


def _found(challenge_id: str, reply: Sequence[Any]) -> ChallengeRecord | None:
    return None if reply[0] == "missing" else _record(challenge_id, reply[1])


def _attempted(
    challenge_id: str, reply: Sequence[str]
) -> tuple[AttemptOutcome, ChallengeBrief | None, FailureState | None]:
    # attempt.lua: { "outcome status attempts_left approved_send [the lockout view]", kind,
    # subject, destination, created_at }, or { "missing" }.
    head = reply[0].split(" ")
    outcome = _ATTEMPT[head[0]]
    if len(reply) == 1:
        return outcome, None, None
    brief = ChallengeBrief(
        challenge_id,
        reply[1],
        reply[2],
        reply[3],
        _STATUS[head[1]],
        int(head[2]),
        int(head[3]),
        float(reply[4]) if len(reply) > 4 and reply[4] else math.nan,
    )
    return outcome, brief, (_failure(head[4:]) if len(head) > 4 else None)


def _new_args(new: NewChallenge, retention: float) -> tuple[str, str, str, str]:
    """The first four ARGV values of create.lua and open.lua (``create_challenge`` in common.lua)."""
    return repr(float(new.ttl)), repr(float(new.resend_after)), repr(float(retention)), new.secret


def _new_fields(new: NewChallenge) -> list[str]:
    """A new challenge's own fields as the field/value pairs its hash keeps."""
    fields: list[str] = []
    for name in _FIELDS:
        fields += [name, str(getattr(new, name))]
    for name, value in new.data.items():
        fields += [_DATA + name, value]
    return fields


def _opened(challenge_id: str, limits: Sequence[int], reply: Sequence[Any]) -> Opened:
    if reply[0] == "ok":
        return Opened(_record(challenge_id, reply[1]))
    if reply[0] == "locked":
        return Opened(None, locked=_failure(reply[1]))
    if reply[0] == "limited":
        allowed, count, retry_after = reply[2]
        index = int(reply[1])
        window = WindowResult(allowed == "1", int(count), limits[index], float(retry_after))
        return Opened(None, limited=index, window=window)
    raise ValueError("challenge id collision")  # 128 random bits: a bug, not bad luck


def _resent(challenge_id: str, reply: Sequence[Any]) -> tuple[ResendOutcome, ChallengeRecord | None, float]:
    outcome, fields, wait = reply
    record = _record(challenge_id, fields) if fields else None
    return ResendOutcome(outcome), record, float(wait)


def _canceled(challenge_id: str, reply: Sequence[Any]) -> tuple[bool, ChallengeRecord | None]:
    if reply[0] == "missing":
        return False, None
    return reply[0] == "canceled", _record(challenge_id, reply[1])


class RedisBase:
    """What both Redis flavours share: URL and options, the client, keys, and every
    operation as a :class:`Request` (validated arguments in, a parsed reply out).

    Connections come from a blocking pool of ``max_connections`` (default 64);
    ``socket_timeout`` (default 1.0 s) bounds each round trip, ``socket_connect_timeout``
    (default: the socket timeout) each connect, and ``health_check_interval`` (default 0:
    off) pings idle connections before reuse. The client connects lazily, on first use.
    """

    scheme_hint: ClassVar[str] = "redis://host:port/db"
    #: Whether the client is ``redis.asyncio``'s (the async flavour) or redis-py's.
    uses_asyncio: ClassVar[bool] = False
    namespace: str

    def __init__(
        self, url: str = "redis://127.0.0.1:6379/0", *, namespace: str = "vk", **options: Any
    ) -> None:
        if not namespace or "{" in namespace or "}" in namespace:
            raise ConfigurationError("namespace must be non-empty and free of '{' and '}'")
        self.namespace = namespace
        self._redis = redis_driver()
        self._url, merged = split_query(url, options)
        self._options = store_options(merged)
        self._wait_replicas, self._wait_timeout = wait_options(merged, self._options["socket_timeout"])
        tls = urlsplit(url).scheme.lower().startswith("rediss")
        if not tls and any(name.startswith("ssl_") for name in self._options):
            raise ConfigurationError("ssl_* store options need a rediss:// URL")
        if tls:
            verified_tls(self._options)
        self._lock = threading.Lock()
        self._client: Any = None
        self._errors = (self._redis.RedisError, self._redis.exceptions.RedisClusterException, OSError)
        self._noscript = self._redis.exceptions.NoScriptError
        self._response_error = self._redis.exceptions.ResponseError
        self._check_url()

    @classmethod
    def from_url(cls, url: str, *, namespace: str = "vk", **options: Any) -> Self:
        """Open a store from its URL; options may also come as URL query parameters."""
        return cls(url, namespace=namespace, **options)

    @property
    def options(self) -> dict[str, Any]:
        """The connection options in effect (timeouts in seconds), after defaults and URL query."""
        return dict(self._options)

    @property
    def wait(self) -> tuple[int, float]:
        """``wait_replicas`` and ``wait_timeout`` (seconds) in effect; 0 replicas: no WAIT."""
        return self._wait_replicas, self._wait_timeout

    # -- durable writes: WAIT for replicas after a write that spends ----------------------------

    def _waits(self, request: Request[Any]) -> bool:
        return self._wait_replicas > 0 and request.spends

    def _wait_command(self) -> tuple[str, int, int]:
        # WAIT's timeout is in milliseconds; 0 would mean "forever", so at least 1.
        return ("WAIT", self._wait_replicas, max(1, round(self._wait_timeout * 1000)))

    def _pinned(self, client: Any, request: Request[Any]) -> Any:
        """The client whose one connection carries a durable write and its WAIT (WAIT counts the
        replicas that hold the writes of the connection it arrives on): on one server, the client."""
        return client

    def _acked(self, request: Request[T], replies: Sequence[Any]) -> Any:
        """The script's reply, once enough replicas hold the write; else fail closed."""
        reply, acked = replies
        if int(acked) < self._wait_replicas:
            # The write is on the master only: a failover now could undo it, so nothing it
            # decided may be reported (an approval included). The caller sees the store as down.
            raise StoreUnavailable(
                f"the Redis store wrote {request.operation} but only {int(acked)} of "
                f"{self._wait_replicas} replica(s) confirmed it in time; nothing was approved"
            )
        return reply

    def _lost(self) -> None:
        """A request failed: on a cluster, the next durable write re-reads the topology."""

    def __repr__(self) -> str:
        parts = urlsplit(self._url)
        host = parts.netloc.rsplit("@", 1)[-1]  # never show a password
        return f"{type(self).__name__}({parts.scheme}://{host}{parts.path}, namespace={self.namespace!r})"

    # -- connection: the only part the cluster changes ---------------------------------------

    def _driver(self) -> Any:
        """The client package: ``redis`` or ``redis.asyncio`` (same classes, awaited calls)."""
        return importlib.import_module("redis.asyncio") if self.uses_asyncio else self._redis

    def _check_url(self) -> None:
        """Validate the URL without connecting."""
        try:
            self._redis.connection.parse_url(self._url)
        except ValueError:
            # redis-py's message may quote the URL, and with it a password.
            raise ConfigurationError(f"bad Redis URL: expected {self.scheme_hint}") from None

    def _connect(self) -> Any:
        """Build the client (no I/O: it connects on first command)."""
        driver = self._driver()
        pool = driver.BlockingConnectionPool.from_url(
            self._url,
            decode_responses=True,
            timeout=self._options["socket_connect_timeout"],
            **self._options,
        )
        return driver.Redis(connection_pool=pool)

    def _ready(self) -> Any:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._connect()
                client = self._client
        return client

    def _detach(self) -> Any:
        """Forget the client (to close it); the next operation builds a new one."""
        with self._lock:
            client, self._client = self._client, None
        return client

    # -- keys --------------------------------------------------------------------------------

    def challenge_key(self, challenge_id: str) -> str:
        match = _CHALLENGE_ID.match(challenge_id)
        if match is not None:
            return f"{self.namespace}:ch:{{{match.group(1)}}}.{match.group(2)}"
        return f"{self.namespace}:ch:{{{challenge_id}}}"

    def window_key(self, key: str) -> str:
        return f"{self.namespace}:win:{_tagged(key)}"

    def lockout_key(self, key: str) -> str:
        return f"{self.namespace}:lock:{_tagged(key)}"

    # -- each operation, once: a request for either flavour to send ---------------------------

    def _now(self) -> Request[float]:
        return Request("now", ("TIME",), _time, script=False)

    def _create(self, new: NewChallenge, retention: float) -> Request[ChallengeRecord]:
        check_new_challenge(new, retention)
        args = [*_new_args(new, retention), *_new_fields(new)]
        return _script("create", [self.challenge_key(new.id)], args, functools.partial(_created, new.id))

    def _open_challenge(
        self,
        new: NewChallenge,
        retention: float,
        lockout_key: str | None,
        limits: Sequence[tuple[str, WindowPolicy]],
    ) -> Request[Opened]:
        check_new_challenge(new, retention)
        keys = [self.challenge_key(new.id)]
        if lockout_key is not None:
            keys.append(self.lockout_key(lockout_key))
        windows: list[str] = []
        for key, window in limits:
            keys.append(self.window_key(key))
            windows += [str(window.limit), repr(float(window.window))]
        args = [
            *_new_args(new, retention),
            "" if lockout_key is None else "1",
            str(len(limits)),
            secrets.token_hex(8),
            *windows,
            *_new_fields(new),
        ]
        parse = functools.partial(_opened, new.id, tuple(window.limit for _, window in limits))
        return _script("open", keys, args, parse, spends=True)

    def _get(self, challenge_id: str) -> Request[ChallengeRecord | None]:
        return _script("get", [self.challenge_key(challenge_id)], [], functools.partial(_found, challenge_id))

    def _attempt(
        self,
        challenge_id: str,
        candidates: Sequence[str],
        lockout_key: str | None,
        lockout: LockoutPolicy | None,
    ) -> Request[tuple[AttemptOutcome, ChallengeBrief | None, FailureState | None]]:
        keys = [self.challenge_key(challenge_id)]
        args: list[str] = []
        if lockout_key is not None and lockout is not None:
            keys.append(self.lockout_key(lockout_key))
            if hash_tag(keys[0]) != hash_tag(keys[1]):
                raise InvalidInput(
                    "lockout_key must share the challenge id's hash tag ({TAG}:… for an id TAG.RANDOM)",
                    field="lockout_key",
                )
            args += policy_args(lockout)
        args += candidates
        parse = functools.partial(_attempted, challenge_id)
        return _script("attempt", keys, args, parse, spends=True, document=False)

    def _resend(
        self, challenge_id: str, secret: str, policy: tuple[float, int, float, float, float, int]
    ) -> Request[tuple[ResendOutcome, ChallengeRecord | None, float]]:
        """``policy``: ttl, max_sends, cooldown, cooldown_factor, cooldown_max and live_sends."""
        ttl, max_sends, cooldown, cooldown_factor, cooldown_max, live_sends = policy
        check_live_sends(live_sends)
        args = [
            secret,
            repr(float(ttl)),
            str(int(max_sends)),
            repr(float(cooldown)),
            repr(float(cooldown_factor)),
            repr(float(cooldown_max)),
            str(live_sends),
        ]
        key = self.challenge_key(challenge_id)
        return _script("resend", [key], args, functools.partial(_resent, challenge_id), spends=True)

    def _set_delivery(self, challenge_id: str, delivery: str, reason: str) -> Request[ChallengeRecord | None]:
        key = self.challenge_key(challenge_id)
        return _script("set_delivery", [key], [delivery, reason], functools.partial(_found, challenge_id))

    def _cancel(self, challenge_id: str) -> Request[tuple[bool, ChallengeRecord | None]]:
        key = self.challenge_key(challenge_id)
        return _script("cancel", [key], [], functools.partial(_canceled, challenge_id), spends=True)

    def _hit(self, key: str, policy: WindowPolicy, cost: int) -> Request[WindowResult]:
        check_cost(cost)
        args = [str(policy.limit), repr(float(policy.window)), str(cost), secrets.token_hex(8)]
        parse = functools.partial(_window, policy.limit)
        return _script("hit", [self.window_key(key)], args, parse, spends=True)

    def _refund(self, key: str, policy: WindowPolicy, cost: int) -> Request[WindowResult]:
        check_cost(cost)
        args = [str(policy.limit), repr(float(policy.window)), str(cost)]
        return _script("refund", [self.window_key(key)], args, functools.partial(_window, policy.limit))

    def _charge(self, key: str, policy: LockoutPolicy) -> Request[FailureState]:
        return _script("charge", [self.lockout_key(key)], policy_args(policy), _failure, spends=True)

    def _failure_state(self, key: str) -> Request[FailureState]:
        return _script("failure_state", [self.lockout_key(key)], [], _failure)

    def _reset_failures(self, key: str) -> Request[None]:
        return Request("reset_failures", ("DEL", self.lockout_key(key)), _nothing, script=False)


class RedisStore(RedisBase, ChallengeStore):
    """A store on one Redis server; every limit holds across all processes that share it.

    See :class:`RedisBase` for the connection options.
    """

    # -- the boundary where driver errors become StoreUnavailable -----------------------------

    def _send(self, request: Request[T]) -> T:
        """One round trip (two more when the server lost the script); driver errors fail closed."""
        try:
            client = self._client if self._client is not None else self._ready()
            if self._waits(request):
                reply = self._send_waiting(client, request)
            else:
                try:
                    reply = client.execute_command(*request.command)
                except self._noscript:
                    # The server has not seen the script (restarted, flushed, a new cluster node):
                    # load it there (redis-py sends SCRIPT LOAD to every cluster master), retry once.
                    client.execute_command(*request.load())
                    reply = client.execute_command(*request.command)
        except self._errors as exc:
            self._lost()
            raise request.unavailable(exc) from exc
        return request.read(reply)

    def _send_waiting(self, client: Any, request: Request[T]) -> Any:
        """The script and its WAIT, pipelined on one connection of the node that owns the key."""
        node = self._pinned(client, request)
        try:
            replies = self._pipeline(node, request)
        except self._noscript:
            node.execute_command(*request.load())
            replies = self._pipeline(node, request)
        return self._acked(request, replies)

    def _pipeline(self, node: Any, request: Request[Any]) -> Any:
        pipe = node.pipeline(transaction=False)
        pipe.execute_command(*request.command)
        pipe.execute_command(*self._wait_command())
        return pipe.execute()

    def close(self) -> None:
        client = self._detach()
        if client is not None:
            client.close()

    # -- the store: each operation's request, sent ------------------------------------------

    def now(self) -> float:
        return self._send(self._now())

    def create(self, new: NewChallenge, *, retention: float) -> ChallengeRecord:
        return self._send(self._create(new, retention))

    def open(
        self,
        new: NewChallenge,
        *,
        retention: float,
        lockout_key: str | None = None,
        limits: Sequence[tuple[str, WindowPolicy]] = (),
    ) -> Opened:
        return self._send(self._open_challenge(new, retention, lockout_key, limits))

    def get(self, challenge_id: str) -> ChallengeRecord | None:
        return self._send(self._get(challenge_id))

    def attempt(
        self,
        challenge_id: str,
        candidates: Sequence[str],
        *,
        lockout_key: str | None = None,
        lockout: LockoutPolicy | None = None,
    ) -> tuple[AttemptOutcome, ChallengeBrief | None, FailureState | None]:
        return self._send(self._attempt(challenge_id, candidates, lockout_key, lockout))

    def resend(
        self,
        challenge_id: str,
        secret: str,
        *,
        ttl: float,
        max_sends: int,
        cooldown: float,
        cooldown_factor: float,
        cooldown_max: float,
        live_sends: int = 1,
    ) -> tuple[ResendOutcome, ChallengeRecord | None, float]:
        policy = (ttl, max_sends, cooldown, cooldown_factor, cooldown_max, live_sends)
        return self._send(self._resend(challenge_id, secret, policy))

    def set_delivery(self, challenge_id: str, delivery: str, reason: str = "") -> ChallengeRecord | None:
        return self._send(self._set_delivery(challenge_id, delivery, reason))

    def cancel(self, challenge_id: str) -> tuple[bool, ChallengeRecord | None]:
        return self._send(self._cancel(challenge_id))

    def hit(self, key: str, policy: WindowPolicy, cost: int = 1) -> WindowResult:
        return self._send(self._hit(key, policy, cost))

    def refund(self, key: str, policy: WindowPolicy, cost: int = 1) -> WindowResult:
        return self._send(self._refund(key, policy, cost))

    def charge(self, key: str, policy: LockoutPolicy) -> FailureState:
        return self._send(self._charge(key, policy))

    def failure_state(self, key: str) -> FailureState:
        return self._send(self._failure_state(key))

    def reset_failures(self, key: str) -> None:
        self._send(self._reset_failures(key))

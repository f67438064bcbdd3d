"""Which addresses stay on this machine: the one test behind the sidecar's plaintext and token
rules and the client's, so the two sides cannot disagree about what "loopback" means."""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback_host", "is_loopback_target"]

_LOCAL_SCHEMES = ("unix:", "unix-abstract:")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (bracketed or not, IPv4-mapped too).

    Any other name is treated as reaching the network: a resolver may map it anywhere.
    """
    host = host.strip().removeprefix("[").removesuffix("]").rstrip(".")
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _host_of(address: str) -> str:
    """The host part of ``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address."""
    if address.startswith("["):
        return address[1 : address.find("]")] if "]" in address else address
    if address.count(":") == 1:
        return address.partition(":")[0]
    return address  # no port, or a bare IPv6 address


def is_loopback_target(target: str) -> bool:
    """True when a gRPC channel target cannot leave this machine.

    Understands ``host:port``, ``dns:[//authority/]host:port``, ``ipv4:``/``ipv6:`` address
    lists (every address must be loopback) and Unix-domain sockets.
    """
    target = target.strip()
    if target.startswith(_LOCAL_SCHEMES):
        return True
    if target.startswith("dns:"):
        rest = target.removeprefix("dns:")
        if rest.startswith("//"):
            rest = rest[2:].partition("/")[2]
        return bool(rest) and is_loopback_host(_host_of(rest))
    for scheme in ("ipv4:", "ipv6:"):
        if target.startswith(scheme):
            addresses = [a for a in target.removeprefix(scheme).split(",") if a]
            return bool(addresses) and all(is_loopback_host(_host_of(a)) for a in addresses)
    return bool(target) and is_loopback_host(_host_of(target))

"""``verifykit officer keygen|init|prove|add|revoke|list`` and ``verifykit voucher sign|inspect``.

A counter system without Python issues vouchers with these: the officer's private key stays in a
file of mode 0600 on the counter system; the registry of public keys is a JSON file the operator
keeps and deploys read-only to the service. An officer is added only with a proof, made with
their key file for this registry's id, that they hold the private key (``officer prove``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import stat
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._errors import ConfigurationError, InvalidInput
from .._verdict import Way, way_named

__all__ = ["register"]


def register(sub: Any) -> None:
    _register_officer(sub)
    _register_voucher(sub)


def _register_officer(sub: Any) -> None:
    parser = sub.add_parser("officer", help="manage the registry of officers who sign counter vouchers")
    cmds = parser.add_subparsers(dest="officer_command", required=True, metavar="ACTION")

    p = cmds.add_parser("keygen", help="make an officer key pair: PREFIX.key (mode 0600) and PREFIX.pub")
    p.add_argument("--out", required=True, metavar="PREFIX", help="path prefix of the two files")
    p.set_defaults(func=_keygen)

    p = cmds.add_parser(
        "init", help="make the registry (or give an old one its id) and print its registry id"
    )
    p.add_argument("--registry", required=True, metavar="PATH", help="the registry file (made if missing)")
    p.set_defaults(func=_init)

    p = cmds.add_parser(
        "prove", help="print a proof that you hold this key, for one registry ('officer add --proof')"
    )
    p.add_argument("--key", required=True, metavar="FILE", help="the officer's private key (mode 0600)")
    p.add_argument("--registry-id", required=True, metavar="ID", help="the id 'officer init' printed")
    p.set_defaults(func=_prove)

    p = cmds.add_parser("add", help="register an officer's public key under a display name, with its proof")
    p.add_argument(
        "--registry", required=True, metavar="PATH", help="the registry file ('officer init' makes it)"
    )
    p.add_argument("--public-key", required=True, metavar="FILE", help="the officer's PEM public key")
    p.add_argument(
        "--proof",
        required=True,
        metavar="FILE",
        help="the officer's 'officer prove' output for this registry",
    )
    p.add_argument("--name", required=True, help="display name (a label: identity is the key id)")
    p.set_defaults(func=_add)

    p = cmds.add_parser("revoke", help="revoke an officer's key for good")
    p.add_argument("--registry", required=True, metavar="PATH")
    p.add_argument("key_id", metavar="KEY_ID", help="the officer's key id (see 'officer list')")
    p.set_defaults(func=_revoke)

    p = cmds.add_parser("list", help="list the registered officers")
    p.add_argument("--registry", required=True, metavar="PATH")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_list)


def _unlockable() -> tuple[str, ...]:
    from ..vouchers import DEFAULT_UNLOCKS

    return tuple(verifier.value for verifier in DEFAULT_UNLOCKS)


# The ways in that keep a lockout: the names a voucher may unlock (VoucherSettings.unlockable).
_UNLOCKABLE = _unlockable()


def _unlocks(text: str) -> list[str]:
    """``--unlock``: comma-separated ways in, each one a voucher can unlock (the names of
    earlier releases, such as ``otp``, are read as the ways they meant)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"names no way in; give any of {', '.join(_UNLOCKABLE)}")
    ways = [way_named(name) for name in names]
    # Named as the person typed them ('voucher', not the 'counter_voucher' it means).
    unknown = [name for name, way in zip(names, ways, strict=True) if way is None or way not in _UNLOCKABLE]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"{', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not a way in a "
            f"voucher can unlock; give any of {', '.join(_UNLOCKABLE)}, comma-separated"
        )
    return [way.value for way in ways if way is not None]


def _register_voucher(sub: Any) -> None:
    parser = sub.add_parser("voucher", help="sign and inspect counter vouchers")
    cmds = parser.add_subparsers(dest="voucher_command", required=True, metavar="ACTION")

    p = cmds.add_parser("sign", help="issue a voucher (or add a second officer's signature) and print it")
    p.add_argument("--key", required=True, metavar="FILE", help="the officer's private key (mode 0600)")
    p.add_argument("--subject", required=True, help="the subject whose documents were checked")
    p.add_argument("--reason", help="why, as a short lowercase name (lost_phone, locked_out)")
    p.add_argument(
        "--unlock",
        type=_unlocks,
        metavar="LIST",
        help=f"ways in whose lockouts it clears, comma-separated: any of {', '.join(_UNLOCKABLE)}",
    )
    p.add_argument("--ttl", type=float, default=None, help="seconds until it expires (default and most: 900)")
    p.add_argument("--cosign", metavar="VOUCHER", help="add this key's signature to VOUCHER ('-': stdin)")
    p.add_argument(
        "--audit-file",
        metavar="PATH",
        help="append the issuance record to this tamper-evident audit log before printing the voucher",
    )
    p.add_argument(
        "--audit-key-file",
        metavar="KEY",
        help="the audit log's checkpoint signing key (mode 0600; 'verifykit audit keygen' makes one)",
    )
    p.set_defaults(func=_sign)

    p = cmds.add_parser("inspect", help="decode a voucher and check it against the registry (never redeems)")
    p.add_argument("voucher", metavar="VOUCHER", help="the voucher text ('-': stdin)")
    p.add_argument("--registry", required=True, metavar="PATH")
    p.add_argument("--subject", default=None, help="also check it was issued for this subject")
    p.add_argument("--four-eyes", action="store_true", help="require two officers, as the service may")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_inspect)


# -- officers ----------------------------------------------------------------------------------


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the start (never readable by others, even briefly)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise InvalidInput(f"{path} exists already; not overwriting a key", field="out") from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _keygen(args: argparse.Namespace) -> int:
    from ..vouchers import generate_officer_key, key_id, private_key_pem, public_key_pem

    key = generate_officer_key()
    private, public = Path(f"{args.out}.key"), Path(f"{args.out}.pub")
    _write_new(private, private_key_pem(key), 0o600)
    _write_new(public, public_key_pem(key), 0o644)
    print(f"key id {key_id(key.public_key())}")
    print(f"private key {private} (keep it on the counter system, mode 0600); public key {public}")
    return 0


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {path}: {exc.strerror}", field=what) from None


def _init(args: argparse.Namespace) -> int:
    from ..vouchers import RegistryFile

    registry_file = RegistryFile(args.registry)
    registry = registry_file.load(missing_ok=True)
    with_id = registry.with_registry_id()
    if with_id is not registry or not os.path.lexists(registry_file.path):
        registry_file.save(with_id)
    print(f"registry id {with_id.registry_id}")
    print(
        f"each officer proves their key with: verifykit officer prove --key KEY "
        f"--registry-id {with_id.registry_id} > NAME.proof",
        file=sys.stderr,
    )
    return 0


def _prove(args: argparse.Namespace) -> int:
    from ..vouchers import possession_proof

    print(possession_proof(_private_key(args.key), registry_id=args.registry_id))
    return 0


def _add(args: argparse.Namespace) -> int:
    from ..vouchers import RegistryFile, load_public_key

    public = load_public_key(_read(args.public_key, "public_key"))
    proof = _read(args.proof, "proof").decode("ascii", errors="replace")
    registry_file = RegistryFile(args.registry)
    if not os.path.lexists(registry_file.path):
        raise ConfigurationError(
            f"no officer registry at {registry_file.path}: make it with "
            f"'verifykit officer init --registry {registry_file.path}' and give officers the id it prints"
        )
    registry = registry_file.current()
    updated = registry.add_proven(public, args.name, proof)
    for other in registry.look_alikes(args.name):
        print(
            f"verifykit: warning: active officer {other.key_id} has a similar name {other.name!r}: "
            "make sure this is not the same person (four eyes compare keys, not names)",
            file=sys.stderr,
        )
    registry_file.save(updated)
    added = next(o for o in updated if o.key_id not in registry.officers)
    print(f"added officer {added.key_id} ({added.name!r})")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from ..vouchers import RegistryFile

    registry_file = RegistryFile(args.registry)
    registry_file.save(registry_file.current().revoke(args.key_id))
    print(f"revoked officer {args.key_id}")
    return 0


def _when(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _list(args: argparse.Namespace) -> int:
    from ..vouchers import RegistryFile

    officers = list(RegistryFile(args.registry).current())
    if args.json:
        rows = [
            {"key_id": o.key_id, "name": o.name, "state": o.state.value, "added_at": _when(o.added_at)}
            | ({"revoked_at": _when(o.revoked_at)} if o.revoked_at is not None else {})
            for o in officers
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for o in officers:
        revoked = f" revoked {_when(o.revoked_at)}" if o.revoked_at is not None else ""
        print(f"{o.key_id}  {o.state.value:<7}  added {_when(o.added_at)}{revoked}  {o.name!r}")
    return 0


# -- vouchers ----------------------------------------------------------------------------------


def _owner_only(path: str, field: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise InvalidInput(f"cannot read key {path}: {exc.strerror}", field=field) from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(f"the key {path} is readable by group or others; chmod 600 it")


def _private_key(path: str) -> Any:
    from ..vouchers import load_private_key

    _owner_only(path, "key")
    return load_private_key(_read(path, "key"))


def _text(value: str) -> str:
    return sys.stdin.read().strip() if value == "-" else value


def _sign(args: argparse.Namespace) -> int:
    from ..vouchers import cosign_voucher, issue_voucher

    if (args.audit_file is None) != (args.audit_key_file is None):
        raise InvalidInput("--audit-file and --audit-key-file go together", field="audit_file")
    key = _private_key(args.key)
    if args.audit_key_file is not None:
        _owner_only(args.audit_key_file, "audit_key_file")
    now = time.time()
    if args.cosign is not None:
        if args.reason or args.unlock or args.ttl is not None:
            raise InvalidInput("--cosign signs the voucher as it is: drop --reason, --unlock and --ttl")
        text = cosign_voucher(_text(args.cosign), key, subject=args.subject)
    else:
        if not args.reason or not args.unlock:
            raise InvalidInput("a new voucher needs --reason and --unlock")
        options: dict[str, Any] = {} if args.ttl is None else {"ttl": args.ttl}
        text = issue_voucher(
            key, subject=args.subject, reason=args.reason, unlocks=args.unlock, now=now, **options
        )
    if args.audit_file is not None:
        _record_issue(args, text, key, now, cosigned=args.cosign is not None)
    print(text)  # only once its record is on disk and sealed: an issued voucher is never unrecorded
    return 0


def _record_issue(args: argparse.Namespace, text: str, key: Any, now: float, *, cosigned: bool) -> None:
    """Append the issuance record to the audit log, flushed and sealed by a closing checkpoint.

    The record names the voucher without being it (the text is a bearer token until redeemed):
    the SHA-256 of its nonce (redemption records carry the nonce, so the two can be matched),
    the officers' key ids, reason, unlocks and lifetime. The subject is its keyed tag when the
    service's keyring is in ``VERIFYKIT_KEYS`` (the tag the service's own records use), else the
    nonce-salted subject digest the voucher carries; never the subject itself. Any failure
    raises, so the caller prints nothing.
    """
    from .._audit import AuditEvent
    from ..auditlog import AuditLog, load_private_key
    from ..crypto import Keyring
    from ..vouchers import decode_voucher, key_id

    voucher = decode_voucher(text)
    keyring = Keyring.from_env() if os.environ.get("VERIFYKIT_KEYS") else None
    event = AuditEvent(
        action="voucher_issue",
        verifier=Way.COUNTER_VOUCHER,
        subject=args.subject if keyring is not None else voucher.subject_digest.hex(),
        outcome="cosigned" if cosigned else "issued",
        reason=voucher.reason,
        at=now,
        details={
            "subject_form": "keyed_tag" if keyring is not None else "voucher_digest",
            "officer": key_id(key.public_key()),
            "officers": ",".join(s.key_id for s in voucher.signatures),
            "voucher_reason": voucher.reason,
            "unlocks": ",".join(voucher.unlocks),
            "issued_at": str(voucher.issued_at),
            "expires_at": str(voucher.expires_at),
            "nonce_sha256": hashlib.sha256(voucher.nonce).hexdigest(),
        },
    )
    log = AuditLog(args.audit_file, load_private_key(Path(args.audit_key_file)), keyring=keyring)
    try:
        log.append(event)
    finally:
        log.close()


def _inspect(args: argparse.Namespace) -> int:
    from ..vouchers import RegistryFile, VoucherSettings, inspect_voucher

    settings = VoucherSettings(four_eyes=args.four_eyes)
    registry = RegistryFile(args.registry).current()
    found = inspect_voucher(_text(args.voucher), registry, settings, now=time.time(), subject=args.subject)
    voucher = found.voucher
    doc: dict[str, Any] = {"acceptable": found.acceptable, "reason": found.reason and found.reason.value}
    if voucher is not None:
        doc |= {
            "version": voucher.version,
            "issued_at": _when(voucher.issued_at),
            "expires_at": _when(voucher.expires_at),
            "voucher_reason": voucher.reason,  # why it was issued; "reason" says why it is refused
            "unlocks": list(voucher.unlocks),
            "nonce": voucher.nonce_hex,
            "subject_matches": found.subject_matches,
            "signatures": [
                {"key_id": s.key_id, "status": s.status.value, "name": s.name} for s in found.signatures
            ],
        }
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        for name, value in doc.items():
            if name != "signatures":
                print(f"{name}: {value}")
        for s in doc.get("signatures", []):
            print(f"signature: {s['key_id']} {s['status']} {s['name']!r}")
    return 0 if found.acceptable else 1

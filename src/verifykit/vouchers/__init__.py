"""Counter vouchers: the way back in for a person whom no other method lets in.

An officer at a counter checks the person's documents and signs a voucher with their own Ed25519
key (``verifykit voucher sign``); the service redeems it once (:class:`Vouchers`), which clears
the subject's lockouts for the verifiers the voucher names, on the record. Officers are known by
their key ids, never by name; four eyes means two officers' keys. See ``docs/vouchers.md``.

The asyncio flavour, with the same names, arguments and results, is :class:`verifykit.aio.Vouchers`.
"""

from ._aio import Vouchers as AsyncVouchers
from ._check import Inspection, SignatureCheck, SignatureStatus, inspect_voucher
from ._flows import Redemption
from ._format import (
    MAX_TEXT_LENGTH,
    Voucher,
    VoucherSignature,
    cosign_voucher,
    decode_voucher,
    issue_voucher,
)
from ._officers import (
    Officer,
    OfficerRegistry,
    OfficerSource,
    OfficerState,
    RegistryFile,
    check_public_key,
    generate_officer_key,
    key_id,
    load_private_key,
    load_public_key,
    possession_proof,
    private_key_pem,
    public_key_pem,
    verify_possession,
)
from ._settings import DEFAULT_UNLOCKS, MAX_CLOCK_SKEW, MAX_VOUCHER_TTL, VOUCHER_PRESETS, VoucherSettings
from ._verifiers import Vouchers

__all__ = [
    "DEFAULT_UNLOCKS",
    "MAX_CLOCK_SKEW",
    "MAX_TEXT_LENGTH",
    "MAX_VOUCHER_TTL",
    "VOUCHER_PRESETS",
    "AsyncVouchers",
    "Inspection",
    "Officer",
    "OfficerRegistry",
    "OfficerSource",
    "OfficerState",
    "Redemption",
    "RegistryFile",
    "SignatureCheck",
    "SignatureStatus",
    "Voucher",
    "VoucherSettings",
    "VoucherSignature",
    "Vouchers",
    "check_public_key",
    "cosign_voucher",
    "decode_voucher",
    "generate_officer_key",
    "inspect_voucher",
    "issue_voucher",
    "key_id",
    "load_private_key",
    "load_public_key",
    "possession_proof",
    "private_key_pem",
    "public_key_pem",
    "verify_possession",
]

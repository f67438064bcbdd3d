"""``verifykit face compare A B [--json]``: distance and decision for two photos."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .._errors import InvalidInput

__all__ = ["register"]


def register(sub: Any) -> None:
    parser = sub.add_parser("face", help="face verification tools")
    actions = parser.add_subparsers(dest="face_command", required=True, metavar="ACTION")
    compare = actions.add_parser("compare", help="compare the faces in two photos")
    compare.add_argument("image_a", type=Path, help="first photo (JPEG, PNG or WebP)")
    compare.add_argument("image_b", type=Path, help="second photo")
    compare.add_argument("--json", action="store_true", help="print one JSON object")
    compare.add_argument(
        "--preset",
        default="standard",
        help="threshold preset: standard (0.6), strict (0.5), very_strict (0.4)",
    )
    compare.set_defaults(func=_compare)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", field="image") from None


def _compare(args: argparse.Namespace) -> int:
    from ..crypto import Keyring
    from ..face import FaceSettings, FaceVerifier
    from ..store import MemoryStore

    # compare opens no template and counts no attempt, so a throwaway key and store are enough;
    # the operator at the terminal is trusted with the distance.
    settings = FaceSettings.preset(args.preset, expose_scores=True)
    verifier = FaceVerifier(keyring=Keyring.generate(), store=MemoryStore(), settings=settings, audit=None)
    verdict = verifier.compare(_read(args.image_a), _read(args.image_b))
    threshold = verifier.settings.threshold
    result = {
        "match": verdict.approved,
        "reason": verdict.reason.value,
        "distance": None if verdict.distance is None else round(verdict.distance, 4),
        "score": None if verdict.score is None else round(verdict.score, 4),
        "threshold": threshold,
        "details": dict(verdict.details),
    }
    if args.json:
        print(json.dumps(result, sort_keys=True))
    elif verdict.distance is None:
        print(f"no decision: {verdict.reason.value} in image {verdict.details.get('image', '?')}")
    else:
        decision = "same person" if verdict.approved else "different people"
        print(f"distance {verdict.distance:.4f} (threshold {threshold:g}): {decision}")
    return 0 if verdict.approved else 1

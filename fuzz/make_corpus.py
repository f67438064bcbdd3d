"""Write the seed corpus (fuzz/corpus/<target>/): small valid and near-valid inputs per target.

Run once with ``python -m fuzz.make_corpus`` and commit the result; running it again rewrites
the seeds it makes and leaves any other file (a crash kept as a seed) alone.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from collections.abc import Iterable
from importlib import resources

import bcrypt
import cv2
import numpy as np
from argon2.low_level import Type, hash_secret
from google.protobuf import descriptor_pool, message_factory

from verifykit import Keyring
from verifykit.face._models import MODEL_ID
from verifykit.password import PasswordHasher
from verifykit.password._profiles import CHEAP_TESTS_ONLY

from ._targets import CORPUS

_SEP = b"\xff"


def _write(target: str, seeds: Iterable[bytes]) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        (folder / f"seed-{hashlib.sha1(seed).hexdigest()[:16]}").write_bytes(seed)


def _fields(*parts: str | bytes) -> bytes:
    return _SEP.join(p.encode() if isinstance(p, str) else p for p in parts)


# -- images ----------------------------------------------------------------------------------------


def _photo(width: int = 40) -> np.ndarray:
    data = (resources.files("verifykit") / "_data/photos/grace_hopper.jpg").read_bytes()
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None
    height = width * bgr.shape[0] // bgr.shape[1]
    return cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)


def _encode(ext: str, image: np.ndarray, *params: int) -> bytes:
    ok, out = cv2.imencode(ext, image, list(params))
    assert ok
    return out.tobytes()


def _with_exif(jpeg: bytes, orientation: int) -> bytes:
    tiff = b"MM\x00\x2a" + struct.pack(">IH", 8, 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    payload = b"Exif\x00\x00" + tiff + struct.pack(">I", 0)
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def images() -> list[bytes]:
    bgr = _photo()
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    bgra[::2, ::2, 3] = 128
    deep = bgra.astype(np.uint16) * 257
    baseline = _encode(".jpg", bgr, cv2.IMWRITE_JPEG_QUALITY, 70)
    # A 1x1 PNG that declares 30000x30000 in its header: a decompression bomb's shape.
    bomb = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
    bomb += _png_chunk(b"IDAT", zlib.compress(b"\x00" + b"\x80" * 3)) + _png_chunk(b"IEND", b"")
    return [
        baseline,
        _with_exif(baseline, 6),
        _encode(".jpg", bgr, cv2.IMWRITE_JPEG_PROGRESSIVE, 1, cv2.IMWRITE_JPEG_QUALITY, 60),
        _encode(".jpg", grey, cv2.IMWRITE_JPEG_QUALITY, 60),
        _encode(".png", bgr),
        _encode(".png", grey),
        _encode(".png", bgra),
        _encode(".png", deep),
        _encode(".webp", bgr, cv2.IMWRITE_WEBP_QUALITY, 50),
        _encode(".webp", bgra, cv2.IMWRITE_WEBP_QUALITY, 101),  # lossless with alpha
        bomb,
        baseline[: len(baseline) // 2],  # truncated
        b"GIF89a\x01\x00\x01\x00",
    ]


# -- text --------------------------------------------------------------------------------------------

ADDRESSES = [
    "alice@example.com",
    "Alice.Smith+news@Example.COM",
    "a.l.i.c.e+x@googlemail.com",
    "user@bücher.de",
    "ｕｓｅｒ＠ｅｘａｍｐｌｅ．ｃｏｍ",
    "用户@例子.广告",
    "x@xn--bcher-kva.de",
    "a..b@example.com",
    "alice@example.com\r\nBcc: eve@example.org",
    "<alice@example.com>",
    "alice@127.0.0.1",
    "@example.com",
    "a" * 65 + "@example.com",
]
CODES = [
    "123456",
    "123 456",
    "１２３４５６",
    "١٢٣٤٥٦",
    "12-34-56",
    "7k2m-x9qd-c4hr",
    "7K2M X9QD C4HR",
    "oil1-0000-zzzz",
]


def codes() -> list[bytes]:
    stored = Keyring.generate().digest("recovery-code", b"x")
    return [_fields(bytes([d]) + c.encode(), stored) for d, c in enumerate(CODES)] + [_fields(b"\x02", "")]


def fallbacks() -> list[bytes]:
    return [
        _fields(b"\x00", "1700000000", "123456"),
        _fields(b"\x04", "client-1", "nan", "123 456"),
        _fields(b"\x08", "", "000000") + b"\x01\x02k1" + bytes(40),
        _fields(b"\x01", "7k2m-x9qd-c4hr"),
        _fields(b"\x0b", "someone", "7k2m-x9qd-c4hr", "k1:" + "0" * 64),
    ]


def phc() -> list[bytes]:
    keyring = Keyring.generate("pepper1")
    hashes = [
        PasswordHasher(CHEAP_TESTS_ONLY).hash("correct horse"),
        PasswordHasher(CHEAP_TESTS_ONLY, keyring=keyring, pepper=True).hash("correct horse"),
        hash_secret(
            b"correct horse",
            b"saltsalt",
            time_cost=1,
            memory_cost=64,
            parallelism=1,
            hash_len=16,
            type=Type.I,
        ).decode(),
        hash_secret(
            b"correct horse",
            b"saltsalt",
            time_cost=1,
            memory_cost=64,
            parallelism=1,
            hash_len=16,
            type=Type.D,
        ).decode(),
        "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0",
        bcrypt.hashpw(b"correct horse", bcrypt.gensalt(4)).decode(),
        "pbkdf2_sha256$1000$somesalt$" + "A" * 43 + "=",
        "pbkdf2_sha256$870000$c2FsdA$" + "B" * 43 + "=",
        "$2b$31$" + "." * 53,
    ]
    return [_fields(h, "correct horse") for h in hashes]


def keyrings() -> list[bytes]:
    return [
        Keyring.new_keyring_string().encode(),
        f"{Keyring.new_key_string('tag')}, old:{'A' * 43}, {Keyring.new_key_string('k2')}".encode(),
        b"k1:AAAA",
        b"tag:!!!,k1:" + b"B" * 43,
    ]


def sealed() -> list[bytes]:
    keyring = Keyring.from_string(",".join(["tag:" + "A" * 43, "old:" + "B" * 43, "k1:" + "C" * 43]))
    blob = keyring.seal("fuzz", b"secret", aad=b"subject")
    return [b"\x00" + blob, b"\x01other" + _SEP + blob, b"\x00\x01\x05nokey" + bytes(28)]


def templates() -> list[bytes]:
    model = MODEL_ID.encode()
    payload = b"VKFT\x01" + bytes([len(model)]) + model + struct.pack("<H", 128) + bytes(512)
    return [b"\x01" + payload, b"\x01" + payload[:-2], b"\x01VKFT\x01\x00", b"\x00\x01\x02k1" + bytes(40)]


def vouchers() -> list[bytes]:
    from verifykit.vouchers import cosign_voucher, issue_voucher

    from . import fuzz_vouchers as v

    one = issue_voucher(
        v.OFFICERS[0], subject=v.SUBJECT, reason="lost_phone", unlocks=["totp"], now=v.NOW - 60
    )
    two = cosign_voucher(one, v.OFFICERS[1], subject=v.SUBJECT)
    revoked = issue_voucher(
        v.OFFICERS[2], subject="other", reason="x", unlocks=["totp", "password"], now=v.NOW
    )
    raw = [base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)) for t in (one, two, revoked)]
    return (
        [b"\x00" + t.encode() for t in (one, two, revoked)]
        + [b"\x01" + r for r in raw]
        + [b"\x02" + v._REGISTRY.to_json().encode()]
    )


def configs() -> list[bytes]:
    toml = [
        'listen = "127.0.0.1:50051"\nstore = "memory://"\nmailer = "console"\n',
        'listen = "[::1]:0"\ntoken = "0123456789abcdef0123"\nmax_message_bytes = 1048576\ngrace = 2.5\n',
        'store = "redis://user:secret@localhost:6379/0?password=x"\nmailer = "smtp://u:p@mail:25"\n'
        "insecure_dev_mailer = true\nheavy_queue = 0\nworkers = 4\n",
        'face_index = "~/index.bin"\nkeys_file = "/run/keys"\nlog_level = "DEBUG"\n',
        "metrics_port = 9.5\n",
    ]
    env = [bytes([i]) + value for i, value in ((0, b"0.0.0.0:80"), (2, b"vk"), (16, b"4096"), (19, b"1.5"))]
    return [b"\x01" + t.encode() for t in toml] + [b"\x00" + e for e in env]


def sidecar() -> list[bytes]:
    """A plausible request for every unary method, its fields filled by type."""
    from . import fuzz_sidecar

    running = fuzz_sidecar.setup()
    image = _encode(".jpg", _photo(160), cv2.IMWRITE_JPEG_QUALITY, 70)
    pool = descriptor_pool.Default()
    seeds = []
    try:
        for key in running.keys:
            service, _, method = key.partition("/")
            desc = next(
                s
                for s in pool.FindFileContainingSymbol("verifykit.v1." + service).services_by_name.values()
                if s.name == service
            )
            message = message_factory.GetMessageClass(desc.methods_by_name[method].input_type)()
            for field in message.DESCRIPTOR.fields:
                if field.is_repeated or field.message_type is not None:
                    continue
                value: object
                if field.type == field.TYPE_STRING:
                    value = {
                        "email": "alice@example.com",
                        "code": "123456",
                        "password": "correct horse battery",
                    }.get(field.name, "subject-1")
                elif field.type == field.TYPE_BYTES:
                    value = image if field.name == "image" else b"\x01\x02k1" + bytes(40)
                elif field.type == field.TYPE_BOOL:
                    value = True
                elif field.type in (field.TYPE_DOUBLE, field.TYPE_FLOAT):
                    value = 0.5
                elif field.type == field.TYPE_ENUM:
                    assert field.enum_type is not None
                    value = 1 if len(field.enum_type.values) > 1 else 0
                else:
                    value = 3
                setattr(message, field.name, value)
            seeds.append(key.encode() + b"\x00" + message.SerializeToString())
            seeds.append(key.encode() + b"\x00")
    finally:
        fuzz_sidecar.close()
    return seeds


def main() -> None:
    _write("image", images())
    _write("email", [a.encode() for a in ADDRESSES])
    _write("codes", codes())
    _write("fallbacks", fallbacks())
    _write("phc", phc())
    _write("keyring", keyrings())
    _write("sealed", sealed())
    _write("template", templates())
    _write("vouchers", vouchers())
    _write("config", configs())
    _write("sidecar", sidecar())


if __name__ == "__main__":
    main()

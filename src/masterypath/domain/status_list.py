"""Revocation and suspension of issued badges: W3C Bitstring Status Lists (v1.0), pure.

Each badge carries ``credentialStatus`` entries that point at one bit of lists the
issuer publishes (:func:`status_entry`): in a revocation list a set bit means revoked
(for good), in a suspension list suspended (until it is cleared). The list is a
credential of its own (:func:`status_list_credential`) whose ``encodedList`` is the
bitstring, GZIP-compressed, base64url-encoded without padding and multibase-prefixed
with ``u`` (:func:`encode_bits`). Bit 0 is the leftmost (most significant) bit of the
first byte. At least 131,072 bits (16 KiB), so that one badge's bit hides in a crowd.

>>> encoded = encode_bits({0, 9}, size=16)
>>> encoded[0], bit_is_set(encoded, 0), bit_is_set(encoded, 1), bit_is_set(encoded, 9)
('u', True, False, True)
>>> decode_bits(encoded).hex()
'8040'
"""

from __future__ import annotations

import base64
import gzip
import zlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from masterypath.domain.badges import iso_utc
from masterypath.errors import ValidationError

LIST_SIZE = 131_072
"""Bits in a status list: the specification's minimum (16 KiB)."""
MAX_DECODED = 16 * 1024 * 1024
"""The largest bitstring :func:`decode_bits` inflates (a GZIP bomb stops here)."""
ENTRY_TYPE = "BitstringStatusListEntry"
REVOCATION = "revocation"
SUSPENSION = "suspension"
PURPOSES = (REVOCATION, SUSPENSION)
"""The ``statusPurpose`` of each kind of list."""


def encode_bits(set_bits: Iterable[int], *, size: int = LIST_SIZE) -> str:
    """The ``encodedList`` of a bitstring of ``size`` bits with ``set_bits`` set."""
    if size <= 0 or size % 8:
        raise ValidationError("size", f"must be a positive multiple of 8, got {size}")
    bits = bytearray(size // 8)
    for index in set_bits:
        if not 0 <= index < size:
            raise ValidationError("statusListIndex", f"{index} is outside 0..{size - 1}")
        bits[index >> 3] |= 0x80 >> (index & 7)
    # mtime=0: the same bits give the same text
    packed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def decode_bits(encoded: str) -> bytes:
    """The bitstring of an ``encodedList``; :class:`ValidationError` when it is not one."""
    if not encoded.startswith("u"):
        raise ValidationError("encodedList", "must be multibase base64url (start with 'u')")
    text = encoded[1:]
    try:
        packed = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        bits = inflater.decompress(packed, MAX_DECODED + 1)
    except (ValueError, zlib.error) as exc:
        raise ValidationError("encodedList", f"not GZIP in base64url: {exc}") from None
    if len(bits) > MAX_DECODED:
        raise ValidationError("encodedList", f"inflates past {MAX_DECODED} bytes")
    if not inflater.eof:
        raise ValidationError("encodedList", "not GZIP in base64url: cut short")
    return bits


def bit_is_set(encoded: str, index: int) -> bool:
    """Whether bit ``index`` of an ``encodedList`` is set (the credential is revoked)."""
    bits = decode_bits(encoded)
    if not 0 <= index < len(bits) * 8:
        raise ValidationError("statusListIndex", f"{index} is outside the list")
    return bool(bits[index >> 3] & (0x80 >> (index & 7)))


def status_entry(list_url: str, index: int, purpose: str = REVOCATION) -> dict[str, str]:
    """The ``credentialStatus`` entry of a credential whose bit in the list at
    ``list_url`` (of this ``purpose``) is ``index``.

    >>> status_entry("https://school.example/badges/status/1", 7)["id"]
    'https://school.example/badges/status/1#7'
    >>> status_entry("https://school.example/badges/suspension/1", 7, SUSPENSION)["statusPurpose"]
    'suspension'
    """
    return {
        "id": f"{list_url}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def status_list_credential(
    *, issuer_id: str, list_url: str, encoded: str, valid_from: datetime, purpose: str = REVOCATION
) -> dict[str, Any]:
    """The (unsigned) ``BitstringStatusListCredential`` publishing the bits."""
    if valid_from.tzinfo is None:
        raise ValidationError("valid_from", "must be timezone-aware")
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_id,
        "validFrom": iso_utc(valid_from.replace(microsecond=0)),
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encoded,
        },
    }

"""Signed xAPI statements (xAPI 2.0 part two, 2.6): a JSON Web Signature over the
statement, sent as an attachment whose ``usageType`` is :data:`SIGNATURE`. The LRS must
refuse a malformed one: :func:`signature_problem` says why one is (not a compact JWS, an
algorithm other than RS256/384/512, a signature that does not verify against the X.509
certificate in its ``x5c`` header, a payload that is not the statement it came with).

Whether the signer is who they claim is outside xAPI (and this LRS): the certificate is
checked against the signature only, as the specification asks, to catch mistakes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from masterypath.interop.xapi_pseudonyms import without_addresses

SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"
"""The ``usageType`` of a signature attachment."""
SIGNATURE_CONTENT_TYPE = "application/octet-stream"
ALGORITHMS = ("RS256", "RS384", "RS512")
ASSIGNED_BY_LRS = ("id", "authority", "stored", "timestamp", "version")
"""Properties an LRS may set (xAPI 2.3.1): compared only when both statements have them."""


def signature_problem(statement: Mapping[str, Any], jws: bytes) -> str | None:
    """Why ``jws`` is not a well-formed signature of ``statement`` (as received, its
    signature attachment included), or None when it is."""
    try:
        token = jws.decode("ascii").strip()
        header = jwt.get_unverified_header(token)
    except (UnicodeDecodeError, jwt.InvalidTokenError):
        return "not a JWS in compact serialization"
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        return f"alg {algorithm!r}: a statement is signed with RS256, RS384 or RS512"
    jws_api = jwt.PyJWS()
    try:
        if "x5c" in header:
            key = _certificate_key(header["x5c"])
            if key is None:
                return "x5c does not start with an X.509 certificate of an RSA key"
            payload = jws_api.decode(token, key, algorithms=[algorithm])
        else:
            payload = jws_api.decode(token, options={"verify_signature": False})
    except jwt.InvalidSignatureError:
        return "the signature does not verify against the certificate in x5c"
    except jwt.InvalidTokenError as exc:
        return f"not a JWS: {exc}"
    try:
        signed = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "the payload is not a JSON statement"
    if not isinstance(signed, dict):
        return "the payload is not a JSON statement"
    if without_addresses(signed) != signed:
        return (
            "the signed statement holds an e-mail address (mbox), which this LRS does not "
            "store: sign a statement that names its agents by account or mbox_sha1sum"
        )
    if not equivalent(signed, statement):
        return "the payload is not the statement it is attached to"
    return None


def _certificate_key(chain: Any) -> RSAPublicKey | None:
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        return None
    try:
        key = x509.load_der_x509_certificate(base64.b64decode(chain[0])).public_key()
    except (ValueError, binascii.Error):
        return None
    return key if isinstance(key, RSAPublicKey) else None


def equivalent(signed: Mapping[str, Any], received: Mapping[str, Any]) -> bool:
    """Whether two statements are the same by xAPI's comparison rules (2.3.1): what the
    LRS may assign (:data:`ASSIGNED_BY_LRS`) is compared only where both have it, and
    timestamps as instants; attachments, activity definitions and a verb's ``display``
    are not part of a statement; a Group's members are in no order.

    >>> a = {"actor": {"mbox_sha1sum": "ab"}, "verb": {"id": "v", "display": {"en": "x"}},
    ...      "object": {"id": "o"}, "timestamp": "2026-12-07T10:00:00Z"}
    >>> b = {**a, "id": "f0", "verb": {"id": "v"}, "timestamp": "2026-12-07T11:00:00+01:00",
    ...      "attachments": []}
    >>> equivalent(a, b), equivalent(a, {**b, "object": {"id": "p"}})
    (True, False)
    """
    left, right = _comparable(signed), _comparable(received)
    for key in ASSIGNED_BY_LRS:
        if key not in left or key not in right:
            left.pop(key, None)
            right.pop(key, None)
    return left == right


def _comparable(statement: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = _without_definitions(
        {k: v for k, v in statement.items() if k != "attachments"}
    )
    for key in ("timestamp", "stored"):
        out[key] = _instant(out[key]) if key in out else None
        if out[key] is None:
            del out[key]
    if isinstance(out.get("verb"), dict):
        out["verb"] = {k: v for k, v in out["verb"].items() if k != "display"}
    if isinstance(out.get("object"), dict) and out["object"].get("objectType") == "SubStatement":
        out["object"] = _comparable(out["object"])
    return out


def _without_definitions(value: Any) -> Any:
    """``value`` without Activity definitions, each Group's members in a fixed order."""
    if isinstance(value, list):
        return [_without_definitions(v) for v in value]
    if not isinstance(value, Mapping):
        return value
    out = {k: _without_definitions(v) for k, v in value.items() if k != "definition"}
    if out.get("objectType") == "Group" and isinstance(out.get("member"), list):
        out["member"] = sorted(out["member"], key=lambda m: json.dumps(m, sort_keys=True))
    return out


def _instant(value: Any) -> Any:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return value

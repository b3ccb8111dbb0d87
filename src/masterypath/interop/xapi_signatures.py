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
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from masterypath.interop.xapi_comparison import equivalent
from masterypath.interop.xapi_pseudonyms import without_addresses

SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"
"""The ``usageType`` of a signature attachment."""
SIGNATURE_CONTENT_TYPE = "application/octet-stream"
ALGORITHMS = ("RS256", "RS384", "RS512")


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

"""The JSON Web Token proof format of Open Badges 3.0 (VC-JWT): a credential signed as a
compact JWS with RS256, the minimum the format requires, the issuer's public key in the
``jwk`` header and, where the issuer publishes it, the URL of that key in ``kid``. PyJWT
signs and checks the signature; what the claims must say is
``domain.badges.claim_problems``.

>>> key = generate_key()
>>> token = sign({"iss": "https://school.example/", "nbf": 1}, key)
>>> header, claims = verify(token)
>>> header["alg"], sorted(header["jwk"]), claims["iss"]
('RS256', ['e', 'kty', 'n'], 'https://school.example/')
>>> verify(token[:-4] + "AAAA")
Traceback (most recent call last):
...
masterypath.errors.ValidationError: jwt: the signature does not match the content
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from masterypath.errors import ValidationError

ALGORITHM = "RS256"
HEADERS = {"alg", "typ", "jwk", "kid"}
"""The JOSE headers the format allows; any other is refused."""
KEY_BITS = 3072


def generate_key() -> rsa.RSAPrivateKey:
    """A new RSA key for signing badges."""
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def write_key(key: rsa.RSAPrivateKey, path: Path) -> None:
    """Write ``key`` as PEM (PKCS #8), readable by its owner only; never over a file."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ValidationError(str(path), "exists; a signing key is never overwritten") from None
    with os.fdopen(fd, "wb") as file:
        file.write(pem)


def read_key(path: Path) -> rsa.RSAPrivateKey:
    """The RSA private key in the PEM file ``path``, or a :class:`ValidationError` that
    names the file and what is wrong with it."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ValidationError(str(path), f"cannot read the badge key: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        raise ValidationError(str(path), f"not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise ValidationError(str(path), "must hold an RSA key of at least 2048 bits (RS256)")
    return key


def read_public_key(path: Path) -> rsa.RSAPublicKey:
    """The RSA public key in the PEM file ``path``, which may hold the public key alone or
    the whole (unencrypted) private key; a :class:`ValidationError` names the file."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ValidationError(str(path), f"cannot read the key: {exc.strerror}") from None
    public: object
    try:
        public = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        try:
            public = serialization.load_pem_private_key(pem, password=None).public_key()
        except (ValueError, TypeError) as exc:
            message = f"not a PEM public key or unencrypted private key: {exc}"
            raise ValidationError(str(path), message) from None
    if not isinstance(public, rsa.RSAPublicKey) or public.key_size < 2048:
        raise ValidationError(str(path), "must hold an RSA key of at least 2048 bits (RS256)")
    return public


def public_jwk(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> dict[str, Any]:
    """The public half of ``key`` as a JWK (never the private ``d``)."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(public))
    return {name: jwk[name] for name in ("kty", "n", "e")}


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 thumbprint of an RSA public JWK: the SHA-256 of its required members
    in JSON, sorted and without spaces, base64url without padding.

    >>> n = ("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6"
    ...      "tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5"
    ...      "v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08"
    ...      "qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8"
    ...      "awapJzKnqDKgw")
    >>> thumbprint({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256"})  # RFC 7638, 3.1
    'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
    """
    members = {name: jwk[name] for name in ("e", "kty", "n")}
    text = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(text).digest()).decode().rstrip("=")


def sign(claims: Mapping[str, Any], key: rsa.RSAPrivateKey, *, kid: str | None = None) -> str:
    """``claims`` signed as a compact JWS: header ``alg``, ``typ``, ``jwk`` and, if given,
    ``kid`` (the URL the public key is published at)."""
    headers: dict[str, Any] = {"typ": "JWT", "jwk": public_jwk(key)}
    if kid is not None:
        headers["kid"] = kid
    return jwt.encode(dict(claims), key, algorithm=ALGORITHM, headers=headers)


def verify(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and the claims of ``token`` once its signature checks out against the
    public key in its ``jwk`` header. (Whether that key is the issuer's is the caller's
    question; a key given by ``kid`` alone would have to be fetched, which this does not
    do offline.) The claims' meaning is not checked here (see the module)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as exc:
        raise ValidationError("jwt", f"not a compact JWS: {exc}") from None
    unknown = sorted(set(header) - HEADERS)
    if unknown:
        raise ValidationError("jwt", f"header {unknown[0]!r} is not allowed by the format")
    if header.get("alg") != ALGORITHM:
        raise ValidationError("jwt", f"alg {header.get('alg')!r}: only RS256 is accepted")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise ValidationError("jwt", "no jwk header: the key to check the signature is missing")
    if "d" in jwk:
        raise ValidationError("jwt", "the jwk header holds a private key")
    try:
        public = RSAAlgorithm.from_jwk(jwk)
        claims: dict[str, Any] = jwt.decode(
            token,
            public,  # type: ignore[arg-type]
            algorithms=[ALGORITHM],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError:
        raise ValidationError("jwt", "the signature does not match the content") from None
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise ValidationError("jwt", f"cannot be checked: {exc}") from None
    return header, claims

"""An LTI 1.3 platform's ``id_token`` checked: its RS256 signature against the platform's
public key set (fetched from its URL and kept), then its issuer, audience, authorized
party and times (IMS Security Framework 5.1.3), against a clock passed in."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import jwt

from masterypath.errors import AuthenticationError, ConfigurationError

LEEWAY = timedelta(seconds=60)
"""How far the platform's clock may be from this server's."""
KEY_SET_TIMEOUT_S = 10


def key_set(url: str) -> jwt.PyJWKClient:
    """A reader of the key set at ``url`` that keeps the keys it fetched for five minutes
    and fetches again for a key id it has not seen (a platform rotating its keys)."""
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=KEY_SET_TIMEOUT_S)


def verify_id_token(
    token: str, *, keys: jwt.PyJWKClient, issuer: str, client_id: str, now: datetime
) -> dict[str, Any]:
    """The claims of ``token`` if the platform ``issuer`` signed it for ``client_id`` and it
    is valid at ``now``; an :class:`AuthenticationError` says what is wrong otherwise, a
    :class:`ConfigurationError` that the key set could not be read."""
    try:
        key = keys.get_signing_key_from_jwt(token)
    except jwt.PyJWKClientConnectionError as exc:
        raise ConfigurationError(f"the platform's key set could not be read: {exc}") from None
    except (jwt.PyJWKClientError, jwt.DecodeError) as exc:
        raise AuthenticationError(f"id_token: no key of the platform signed it ({exc})") from None
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=client_id,
            issuer=issuer,
            options={
                "require": ["iss", "aud", "sub", "exp", "iat", "nonce"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidTokenError as exc:
        raise AuthenticationError(f"id_token: {exc}") from None
    check_times(claims, now)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if ("azp" in claims or len(audiences) > 1) and claims.get("azp") != client_id:
        raise AuthenticationError("id_token: azp must be this tool's client id")
    return claims


def check_times(claims: dict[str, Any], now: datetime) -> None:
    """``exp`` must be after ``now`` and ``iat`` not after it (with :data:`LEEWAY`).

    >>> from datetime import UTC
    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> check_times({"exp": now.timestamp() - 61, "iat": now.timestamp() - 120}, now)
    Traceback (most recent call last):
    ...
    masterypath.errors.AuthenticationError: id_token: has expired
    """
    try:
        expires, issued = float(claims["exp"]), float(claims["iat"])
    except (TypeError, ValueError):
        raise AuthenticationError("id_token: exp and iat must be numbers") from None
    at = now.timestamp()
    if expires + LEEWAY.total_seconds() <= at:
        raise AuthenticationError("id_token: has expired")
    if issued - LEEWAY.total_seconds() > at:
        raise AuthenticationError("id_token: is issued in the future")

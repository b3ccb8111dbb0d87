"""This tool's own key for LTI 1.3: it signs what the tool sends a platform (the JWT that
asks for an access token to send grades, a deep-linking answer), and its public half is
published as a JWK set at ``/lti/jwks`` for the platforms to check them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from masterypath.errors import ConfigurationError, ValidationError
from masterypath.interop import vc_jwt
from masterypath.settings import Settings


@dataclass(frozen=True)
class ToolKey:
    """An RSA key (2048 bits or more) and its ``kid``, the RFC 7638 thumbprint.

    >>> key = ToolKey(vc_jwt.generate_key())
    >>> [k["kid"] for k in key.key_set()["keys"]] == [key.kid]
    True
    >>> "d" in key.key_set()["keys"][0]  # never the private part
    False
    """

    key: rsa.RSAPrivateKey

    @classmethod
    def from_settings(cls, settings: Settings) -> ToolKey | None:
        """The key ``MASTERYPATH_LTI_KEY_FILE`` names (None when it names none; a
        :class:`ConfigurationError` when it cannot be used)."""
        if not settings.lti_key_file:
            return None
        try:
            return cls(vc_jwt.read_key(Path(settings.lti_key_file)))
        except ValidationError as exc:
            raise ConfigurationError(f"MASTERYPATH_LTI_KEY_FILE: {exc}") from None

    @property
    def kid(self) -> str:
        return vc_jwt.thumbprint(vc_jwt.public_jwk(self.key))

    def key_set(self) -> dict[str, Any]:
        """The public key as a JWK set."""
        jwk = vc_jwt.public_jwk(self.key)
        return {"keys": [jwk | {"kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def sign(self, claims: Mapping[str, Any]) -> str:
        """``claims`` as a JWT signed RS256, its header naming the key."""
        return jwt.encode(dict(claims), self.key, algorithm="RS256", headers={"kid": self.kid})

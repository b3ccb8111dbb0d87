"""LTI Dynamic Registration 1.0 (pure): what a platform says of itself, and what this tool
asks it to register.

An admin of the platform (Moodle, Canvas, ...) pastes this tool's registration link into
it; the platform opens the link with the URL of its OpenID configuration and a token for
its registration endpoint. The configuration is read into a
:class:`PlatformConfiguration` (its issuer must be on the configuration's own host), the
tool posts :func:`tool_registration` to the registration endpoint, and the answer gives
the client id (and often the deployment) the platform made: :func:`registered_client`.

>>> config = read_configuration({
...     "issuer": "https://lms.school.org",
...     "authorization_endpoint": "https://lms.school.org/mod/lti/auth.php",
...     "token_endpoint": "https://lms.school.org/mod/lti/token.php",
...     "jwks_uri": "https://lms.school.org/mod/lti/certs.php",
...     "registration_endpoint": "https://lms.school.org/mod/lti/openid-registration.php",
...     PLATFORM_CONFIGURATION: {"product_family_code": "moodle"},
... }, url="https://lms.school.org/mod/lti/openid-configuration.php")
>>> config.issuer, config.product
('https://lms.school.org', 'moodle')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from masterypath.domain.lti import DEEP_LINKING_REQUEST, RESOURCE_LINK_REQUEST
from masterypath.errors import ValidationError

PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
CLOSE_MESSAGE = "org.imsglobal.lti.close"
"""The ``subject`` of the message that tells the platform the registration is done."""
WHERE = "platform configuration"
ENDPOINTS = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "registration_endpoint",
)


@dataclass(frozen=True)
class PlatformConfiguration:
    """The parts of a platform's OpenID configuration a registration uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    product: str | None = None
    """The platform's product family (``moodle``, ``canvas``, ...), if it says."""
    scopes: tuple[str, ...] | None = None
    """The scopes it supports, if it lists them."""


def read_configuration(config: Mapping[str, Any], *, url: str) -> PlatformConfiguration:
    """The configuration a platform answered at ``url``; a :class:`ValidationError` names
    the field that is missing or wrong. Its issuer must be on ``url``'s host (LTI Dynamic
    Registration 3.5.1): another site could not speak for the issuer.

    >>> read_configuration({"issuer": "https://other.org"}, url="https://lms.org/c")
    Traceback (most recent call last):
    ...
    masterypath.errors.ValidationError: platform configuration: issuer: 'https://other.org' is ...
    """
    found: dict[str, str] = {}
    for name in ENDPOINTS:
        value = config.get(name)
        if not isinstance(value, str) or not _web_url(value):
            raise ValidationError(name, "must be an http(s) URL", location=WHERE)
        if name == "issuer" and urlsplit(value).hostname != urlsplit(url).hostname:
            raise ValidationError(
                "issuer",
                f"{value!r} is not on the host of the configuration's URL ({url})",
                location=WHERE,
            )
        found[name] = value
    about = config.get(PLATFORM_CONFIGURATION, {})
    product = about.get("product_family_code") if isinstance(about, Mapping) else None
    scopes = config.get("scopes_supported")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        scopes = None
    return PlatformConfiguration(
        **found,
        product=product if isinstance(product, str) and product else None,
        scopes=None if scopes is None else tuple(scopes),
    )


def tool_registration(
    tool_url: str, *, name: str, scopes: Iterable[str], supported: Iterable[str] | None
) -> dict[str, Any]:
    """The registration this tool asks for (an OpenID Connect client registration with
    its LTI configuration): its login, launch and key-set URLs, signed requests for access
    tokens, the service ``scopes`` it uses (those ``supported`` by the platform, when it
    lists them), and its two messages: a launch, and deep linking to add it to a course.

    >>> body = tool_registration("https://mastery.school.org", name="masterypath",
    ...                          scopes=["s1", "s2"], supported=["s2"])
    >>> body["initiate_login_uri"], body["scope"]
    ('https://mastery.school.org/lti/login', 's2')
    """
    base = tool_url.rstrip("/")
    launch = f"{base}/lti/launch"
    allowed = None if supported is None else set(supported)
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": f"{base}/lti/login",
        "redirect_uris": [launch],
        "client_name": name,
        "jwks_uri": f"{base}/lti/jwks",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(s for s in scopes if allowed is None or s in allowed),
        TOOL_CONFIGURATION: {
            "domain": urlsplit(base).netloc,
            "target_link_uri": launch,
            "claims": ["iss", "sub", "name", "email"],
            "messages": [
                {"type": RESOURCE_LINK_REQUEST, "target_link_uri": launch, "label": name},
                {"type": DEEP_LINKING_REQUEST, "target_link_uri": launch, "label": name},
            ],
        },
    }


def registered_client(answer: Mapping[str, Any]) -> tuple[str, str | None]:
    """The client id the platform made for this tool, and the deployment, when it says.

    >>> registered_client({"client_id": "c7", TOOL_CONFIGURATION: {"deployment_id": "2"}})
    ('c7', '2')
    """
    client_id = answer.get("client_id")
    if not isinstance(client_id, str) or not client_id.strip():
        raise ValidationError("client_id", "is missing", location="registration answer")
    config = answer.get(TOOL_CONFIGURATION, {})
    deployment = config.get("deployment_id") if isinstance(config, Mapping) else None
    return client_id, deployment if isinstance(deployment, str) and deployment else None


def _web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)

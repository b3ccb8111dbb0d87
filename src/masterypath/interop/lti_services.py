"""A learning platform's services, called by this tool: an OAuth 2 access token got with
a JWT signed by this tool's key (IMS Security Framework 4.1, client credentials), then
each score posted to its line item (Assignment and Grade Services 2.0), or a course's
members read page by page (Names and Role Provisioning Services 2.0)."""

from __future__ import annotations

import json
import secrets
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any

from masterypath.domain.lti import SCORE_SCOPE
from masterypath.interop.lti_tool_key import ToolKey
from masterypath.interop.web_json import RemoteRefusedError, exchange, json_object

SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"


class PlatformRefusedError(RemoteRefusedError):
    """The platform could not be reached or answered with an error (the message says
    which URL and what it said)."""

    code = "platform_refused"


def client_assertion(*, client_id: str, token_url: str, key: ToolKey, now: datetime) -> str:
    """The JWT that authenticates this tool at the platform's token URL: five minutes, a
    random ``jti``."""
    at = int(now.timestamp())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "iat": at,
        "exp": at + 300,
        "jti": secrets.token_urlsafe(16),
    }
    return key.sign(claims)


def access_token(token_url: str, assertion: str, scope: str = SCORE_SCOPE) -> tuple[str, int]:
    """An access token for ``scope`` (sending scores, by default), and for how many seconds
    it holds."""
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": scope,
        }
    ).encode()
    answer = _json_object(
        token_url,
        _send(
            token_url,
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
            expect_json=True,
        ),
    )
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise PlatformRefusedError(f"{token_url}: the answer holds no access_token")
    expires = answer.get("expires_in", 3600)
    return token, int(expires) if isinstance(expires, int | float) else 3600


def post_score(lineitem: str, token: str, score: dict[str, Any]) -> None:
    """Post ``score`` to the line item (its ``/scores`` endpoint, query kept)."""
    parts = urllib.parse.urlsplit(lineitem)
    url = urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))
    headers = {"Content-Type": SCORE_TYPE, "Authorization": f"Bearer {token}"}
    _send(url, json.dumps(score).encode(), headers, expect_json=False)


def get_json(url: str, token: str, accept: str) -> tuple[dict[str, Any], str | None]:
    """The JSON object at ``url`` (with the access ``token``), and the URL of its next page
    (the ``Link`` header's ``rel="next"``), if any."""
    answer, link = _get(url, token, accept)
    return _json_object(url, answer), _next_page(link)


def line_items(url: str, token: str, query: dict[str, str]) -> list[Any]:
    """The gradebook columns of the line item container ``url`` that match ``query``
    (its first page: a link's own columns are few)."""
    parts = urllib.parse.urlsplit(url)
    joined = "&".join(q for q in (parts.query, urllib.parse.urlencode(query)) if q)
    listed = urllib.parse.urlunsplit(parts._replace(query=joined))
    answer = _get(listed, token, LINEITEMS_TYPE)[0]
    if not isinstance(answer, list):
        raise PlatformRefusedError(f"{listed}: the answer is not a JSON list")
    return answer


def make_line_item(url: str, token: str, item: dict[str, Any]) -> dict[str, Any]:
    """Post a new gradebook column to the line item container ``url``: the platform's
    answer is the column, its ``id`` the URL scores go to."""
    headers = {
        "Content-Type": LINEITEM_TYPE,
        "Accept": LINEITEM_TYPE,
        "Authorization": f"Bearer {token}",
    }
    return _json_object(url, _send(url, json.dumps(item).encode(), headers, expect_json=True))


def platform_configuration(url: str, registration_token: str | None) -> dict[str, Any]:
    """A platform's OpenID configuration (LTI Dynamic Registration), asked with its
    registration token when it gave one."""
    headers = {"Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    request = urllib.request.Request(url, headers=headers)
    return _json_object(url, _exchange(request, expect_json=True)[0])


def register_tool(
    url: str, registration_token: str | None, registration: dict[str, Any]
) -> dict[str, Any]:
    """Post this tool's registration to the platform's registration endpoint: the answer
    holds the client id it made."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    answer = _send(url, json.dumps(registration).encode(), headers, expect_json=True)
    return _json_object(url, answer)


def _get(url: str, token: str, accept: str) -> tuple[Any, str | None]:
    headers = {"Accept": accept, "Authorization": f"Bearer {token}"}
    return _exchange(urllib.request.Request(url, headers=headers), expect_json=True)


def _json_object(url: str, answer: Any) -> dict[str, Any]:
    return json_object(url, answer, PlatformRefusedError)


def _next_page(link: str | None) -> str | None:
    """
    >>> _next_page('<https://lms/m?p=2>; rel="next", <https://lms/m?p=1>; rel="first"')
    'https://lms/m?p=2'
    >>> _next_page(None) is None
    True
    """
    for part in (link or "").split(","):
        target, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            return target.strip().removeprefix("<").removesuffix(">")
    return None


def _send(url: str, body: bytes, headers: dict[str, str], *, expect_json: bool) -> Any:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    return _exchange(request, expect_json=expect_json)[0]


def _exchange(request: urllib.request.Request, *, expect_json: bool) -> tuple[Any, str | None]:
    return exchange(request, expect_json=expect_json, refused=PlatformRefusedError)

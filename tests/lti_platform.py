"""A learning platform for the LTI tests, standing in for Moodle or Canvas (which cannot run
here): its own RSA key signs each ``id_token``, and a real HTTP server on 127.0.0.1 serves
its key set, its OIDC authentication endpoint (which answers, as a platform does, with a
page that posts the signed launch to the tool) and a course page with a launch link."""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from masterypath.domain.lti import (
    CONTEXT,
    DEPLOYMENT,
    MEMBERSHIP,
    MESSAGE_TYPE,
    ROLES,
    VERSION,
)
from tests.http_stub import serving

CLIENT_ID = "tool-client-1"
DEPLOYMENT_ID = "deployment-1"
LEARNER = MEMBERSHIP + "Learner"
INSTRUCTOR = MEMBERSHIP + "Instructor"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Platform:
    """The platform: ``issuer`` and the URLs a tool registers are on its own server."""

    def __init__(self, key: rsa.RSAPrivateKey, port: int, *, kid: str = "platform-key-1") -> None:
        self.key, self.kid = key, kid
        self.issuer = f"http://127.0.0.1:{port}"
        self.auth_login_url = f"{self.issuer}/auth"
        self.key_set_url = f"{self.issuer}/keys"
        self.user: dict[str, Any] = {"sub": "user-1", ROLES: [LEARNER]}
        """The claims of the user the browser is logged in as, on the platform."""
        self.tool_url = ""
        self.token_url = f"{self.issuer}/token"
        self.tool_key: rsa.RSAPublicKey | None = None
        """This tool's public key, as an admin pastes it into the platform."""
        self.access_tokens: list[str] = []
        self.scores: list[tuple[str, dict[str, Any]]] = []
        """(line item path, score) of every score the tool posted."""
        self.refuse_scores = False
        self.line_items: list[dict[str, Any]] = []
        """The gradebook's columns (line items), the tool's own included."""
        self.columns_made = 0
        self.deleted: set[str] = set()
        """Line items a teacher deleted: their scores endpoint answers 404."""
        self.members: list[dict[str, Any]] = []
        """The course's membership list, served two a page."""
        self.scopes: list[str] = []
        """The scope of every access token asked for."""
        self.linked: list[str] = []
        """The signed deep-linking answers the tool posted back (an instructor's choices)."""
        self.clock: Callable[[], float] = time.time
        """The platform's clock, which checks the tool's signed requests."""
        self.registration_token = "registration-token-1"
        """The token the platform gives a tool with the registration link it opens."""
        self.registrations: list[dict[str, Any]] = []
        """The registrations tools posted (LTI Dynamic Registration)."""
        self.configured_issuer: str | None = None
        """The issuer its OpenID configuration says (another than its own: a wrong one)."""
        self.configured: dict[str, Any] = {}
        """Other values its OpenID configuration says instead of its own (wrong ones)."""

    def registration(self, platform_id: str = "moodle") -> dict[str, Any]:
        """The body of ``POST /api/v1/lti/platforms`` for this platform."""
        return {
            "id": platform_id,
            "title": "School Moodle",
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "auth_login_url": self.auth_login_url,
            "key_set_url": self.key_set_url,
            "deployment_ids": [DEPLOYMENT_ID],
            "token_url": self.token_url,
        }

    def lineitem(self, n: int) -> str:
        return f"{self.issuer}/lineitems/{n}/lineitem"

    def issue_access_token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The token endpoint: a client-credentials grant with a JWT signed by the tool."""
        if self.tool_key is None or form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        try:
            claims = jwt.decode(
                form.get("client_assertion", ""),
                self.tool_key,
                algorithms=["RS256"],
                audience=self.token_url,
                issuer=CLIENT_ID,
                options={"verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidTokenError as exc:
            return 401, {"error": "invalid_client", "error_description": str(exc)}
        if not claims["iat"] - 60 <= self.clock() < claims["exp"]:
            return 401, {"error": "invalid_client", "error_description": "not in time"}
        token = f"access-{len(self.access_tokens)}"
        self.access_tokens.append(token)
        self.scopes.append(form.get("scope", ""))
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600}

    def take_score(self, path: str, headers: Any, body: bytes) -> int:
        """A line item's scores endpoint."""
        if self.refuse_scores:
            return 503
        if self.issuer + path.removesuffix("/scores") in self.deleted:
            return 404
        if headers.get("Authorization", "").removeprefix("Bearer ") not in self.access_tokens:
            return 401
        if headers.get("Content-Type") != "application/vnd.ims.lis.v1.score+json":
            return 415
        self.scores.append((path, json.loads(body)))
        return 204

    def line_item_list(self, query: dict[str, str], headers: Any) -> tuple[int, str]:
        """The course's line item container, filtered as Assignment and Grade Services
        filters it (``resource_link_id``, ``resource_id``, ``tag``)."""
        if headers.get("Authorization", "").removeprefix("Bearer ") not in self.access_tokens:
            return 401, "{}"
        filters = {"resource_link_id": "resourceLinkId", "resource_id": "resourceId", "tag": "tag"}
        found = [
            item
            for item in self.line_items
            if all(
                item.get(field) == query[name] for name, field in filters.items() if name in query
            )
        ]
        return 200, json.dumps(found)

    def make_line_item(self, headers: Any, body: bytes) -> tuple[int, str]:
        """A new column of the course's gradebook: its ``id`` is where its scores go."""
        if headers.get("Authorization", "").removeprefix("Bearer ") not in self.access_tokens:
            return 401, "{}"
        if headers.get("Content-Type") != "application/vnd.ims.lis.v2.lineitem+json":
            return 415, "{}"
        self.columns_made += 1
        item = json.loads(body) | {"id": self.lineitem(100 + self.columns_made)}
        self.line_items.append(item)
        return 201, json.dumps(item)

    @property
    def configuration_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def openid_configuration(self) -> dict[str, Any]:
        """What the platform says of itself to a tool that registers (LTI Dynamic
        Registration), as Moodle says it."""
        return {
            "issuer": self.configured_issuer or self.issuer,
            "authorization_endpoint": self.auth_login_url,
            "token_endpoint": self.token_url,
            "jwks_uri": self.key_set_url,
            "registration_endpoint": f"{self.issuer}/register",
            "scopes_supported": [
                "openid",
                "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
            ],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "moodle",
                "version": "4.5",
            },
        } | self.configured

    def register(self, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        """The registration endpoint: a tool's registration, with the registration token."""
        if headers.get("Authorization") != f"Bearer {self.registration_token}":
            return 401, {"error": "invalid_token"}
        registration = json.loads(body)
        self.registrations.append(registration)
        tool = "https://purl.imsglobal.org/spec/lti-tool-configuration"
        answer = registration | {
            "client_id": CLIENT_ID,
            tool: registration[tool] | {"deployment_id": DEPLOYMENT_ID},
        }
        return 200, answer

    def memberships_url(self, course: str) -> str:
        return f"{self.issuer}/memberships/{course}"

    def membership_page(self, query: dict[str, str], headers: Any) -> tuple[int, str, str]:
        """A page of the membership list: (status, JSON, the next page's URL or "")."""
        if headers.get("Authorization", "").removeprefix("Bearer ") not in self.access_tokens:
            return 401, "{}", ""
        page = int(query.get("page", "0"))
        members = self.members[2 * page : 2 * page + 2]
        more = len(self.members) > 2 * page + 2
        return 200, json.dumps({"id": "m", "members": members}), "" if not more else str(page + 1)

    def key_set(self) -> dict[str, Any]:
        public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [public | {"kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def id_token(
        self,
        *,
        nonce: str,
        now: float | None = None,
        key: rsa.RSAPrivateKey | None = None,
        **claims: Any,
    ) -> str:
        """A resource-link launch for ``self.user`` (claims given here win)."""
        at = time.time() if now is None else now
        payload = (
            {
                "iss": self.issuer,
                "aud": CLIENT_ID,
                "iat": int(at),
                "exp": int(at) + 300,
                "nonce": nonce,
                MESSAGE_TYPE: "LtiResourceLinkRequest",
                VERSION: "1.3.0",
                DEPLOYMENT: DEPLOYMENT_ID,
                CONTEXT: {"id": "course-42", "title": "Algebra 1"},
                "name": "Ada Lovelace",
            }
            | self.user
            | claims
        )
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": self.kid})

    def login_form(self, target: str) -> str:
        """The platform's course page: its link posts a login initiation to the tool."""
        fields = {
            "iss": self.issuer,
            "login_hint": self.user["sub"],
            "target_link_uri": target,
            "client_id": CLIENT_ID,
            "lti_deployment_id": DEPLOYMENT_ID,
        }
        button = '<button type="submit">Open masterypath</button>'
        return _form_page("Algebra 1", f"{self.tool_url}/lti/login", fields, inside=button)

    def authenticate(self, query: dict[str, str]) -> str:
        """The answer to the tool's authentication request: a page posting the launch."""
        fields = {"id_token": self.id_token(nonce=query["nonce"]), "state": query["state"]}
        submit = "<script>document.forms[0].submit()</script>"
        return _form_page("Launching", query["redirect_uri"], fields, after=submit)


def _form_page(
    title: str, action: str, fields: dict[str, str], *, inside: str = "", after: str = ""
) -> str:
    """A page with a form of hidden ``fields`` (and ``inside``) posted to ``action``."""
    inputs = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in fields.items()
    )
    return (
        f'<!doctype html><html lang="en"><title>{title}</title><h1>{title}</h1>'
        f'<form method="post" action="{html.escape(action)}">{inputs}{inside}</form>{after}</html>'
    )


REGISTRATION = {
    "id": "lms",
    "title": "LMS",
    "issuer": "https://lms.example",
    "client_id": "c",
    "auth_login_url": "https://lms.example/auth",
    "key_set_url": "https://lms.example/keys",
    "deployment_ids": ["1"],
}
"""A registration of a platform that is never asked anything (its URLs go nowhere)."""


@contextmanager
def running_platform(key: rsa.RSAPrivateKey | None = None) -> Iterator[Platform]:
    """A platform whose HTTP server runs for the ``with`` block."""
    holder: dict[str, Platform] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            platform = holder["platform"]
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/keys":
                self._send(json.dumps(platform.key_set()), "application/json")
            elif url.path == "/auth":
                self._send(platform.authenticate(query), "text/html")
            elif url.path.startswith("/memberships/"):
                status, text, more = platform.membership_page(query, self.headers)
                body = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if more:
                    self.send_header(
                        "Link", f'<{platform.issuer}{url.path}?page={more}>; rel="next"'
                    )
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif url.path == "/.well-known/openid-configuration":
                self._send(json.dumps(platform.openid_configuration()), "application/json")
            elif url.path == "/register-tool":  # an admin adds a tool by its registration link
                link = f"{query['link']}?" + urlencode(
                    {
                        "openid_configuration": platform.configuration_url,
                        "registration_token": platform.registration_token,
                    }
                )
                self._send(
                    '<!doctype html><html lang="en"><title>Add a tool</title>'
                    f'<iframe title="tool registration" src="{html.escape(link)}" width="800" '
                    'height="400"></iframe><script>addEventListener("message", (e) => {'
                    'if (e.data && e.data.subject === "org.imsglobal.lti.close") '
                    'document.title = "Tool registered"; });</script></html>',
                    "text/html",
                )
            elif url.path == "/lineitems":
                status, text = platform.line_item_list(query, self.headers)
                self._send(text, "application/vnd.ims.lis.v2.lineitemcontainer+json", status)
            elif url.path == "/course":
                self._send(platform.login_form(query["target"]), "text/html")
            elif url.path == "/course-framed":  # the tool shown inside the course page
                frame = html.escape(f"/course?target={query['target']}")
                self._send(
                    f'<!doctype html><html lang="en"><title>Algebra 1</title>'
                    f'<iframe name="tool" title="masterypath" src="{frame}" width="1200" '
                    f'height="800"></iframe></html>',
                    "text/html",
                )
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            platform = holder["platform"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/token":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                status, answer = platform.issue_access_token(form)
                self._send(json.dumps(answer), "application/json", status)
            elif self.path.startswith("/deep-link-return"):
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                platform.linked.append(form["JWT"])
                self._send(
                    '<!doctype html><html lang="en"><title>Linked</title>Linked</html>', "text/html"
                )
            elif self.path == "/register":
                status, answer = platform.register(self.headers, body)
                self._send(json.dumps(answer), "application/json", status)
            elif self.path == "/lineitems":
                status, text = platform.make_line_item(self.headers, body)
                self._send(text, "application/vnd.ims.lis.v2.lineitem+json", status)
            elif self.path.startswith("/lineitems/") and self.path.endswith("/scores"):
                self.send_response(platform.take_score(self.path, self.headers, body))
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self.send_error(404)

        def _send(self, text: str, kind: str, status: int = 200) -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # quiet
            pass

    with serving(Handler) as port:
        holder["platform"] = Platform(key or new_key(), port)
        yield holder["platform"]

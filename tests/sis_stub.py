"""A school's student information system for the tests: a real HTTP server on 127.0.0.1
with a OneRoster 1.2 rostering service (pages of ``limit`` records from ``offset``, only
those changed since a time with ``filter=dateLastModified>='...'``, one user or class by
its id) and an OAuth 2 client-credentials token endpoint."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlsplit

from tests.http_stub import serving

CLIENT = ("sis-client", "sis-secret")
PRIMARY = "primary"


def user(sourced_id: str, role: str, given: str, family: str, **more: Any) -> dict[str, Any]:
    """A user as OneRoster 1.2 writes one (roles as a list, enabledUser a boolean)."""
    return {
        "sourcedId": sourced_id,
        "status": "active",
        "enabledUser": True,
        "givenName": given,
        "familyName": family,
        "roles": [{"roleType": PRIMARY, "role": role, "org": {"sourcedId": "school-1"}}],
        **more,
    }


def enrollment(sourced_id: str, class_id: str, user_id: str, role: str) -> dict[str, Any]:
    return {
        "sourcedId": sourced_id,
        "status": "active",
        "role": role,
        "class": {"sourcedId": class_id, "type": "class"},
        "user": {"sourcedId": user_id, "type": "user"},
    }


class Sis:
    """The system's records, token endpoint and rostering service."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/ims/oneroster/rostering/v1p2"
        self.token_url = f"http://127.0.0.1:{port}/oauth/token"
        self.records: dict[str, list[dict[str, Any]]] = {
            "users": [
                user("s1", "student", "Ana", "Lima", username="ana", email="ana@school.org"),
                user("s2", "student", "Ben", "Okafor", username="ben"),
                user("s3", "student", "Cleo", "Park"),
                user("t1", "teacher", "Mei", "Lee", username="ms-lee"),
            ],
            "classes": [{"sourcedId": "c1", "status": "active", "title": "Algebra 1"}],
            "enrollments": [
                enrollment("e1", "c1", "s1", "student"),
                enrollment("e2", "c1", "s2", "student"),
                enrollment("e3", "c1", "t1", "teacher"),
            ],
            "demographics": [{"sourcedId": "s3", "birthDate": "2016-04-01"}],
        }
        self.pages: list[str] = []
        self.nonces: set[str] = set()
        """The OAuth 1.0a nonces of the signed requests (OneRoster 1.1)."""
        self.scopes: list[str] = []

    def dated(self, stamp: str, *, last: str) -> None:
        """Every record changed at ``stamp``, the teacher's enrollment (the last) at
        ``last``."""
        for records in self.records.values():
            for record in records:
                record["dateLastModified"] = stamp
        self.records["enrollments"][-1]["dateLastModified"] = last


@contextmanager
def running_sis() -> Iterator[Sis]:
    """A student information system serving on 127.0.0.1 while the block runs."""
    holder: dict[str, Sis] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            system = holder["sis"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            basic = base64.b64encode(":".join(CLIENT).encode()).decode()
            if self.path != "/oauth/token" or self.headers.get("Authorization") != f"Basic {basic}":
                self._send(401, {"error": "invalid_client"})
                return
            system.scopes.append(parse_qs(body)["scope"][0])
            self._send(200, {"access_token": "sis-token", "token_type": "bearer"})

        def do_GET(self) -> None:
            system = holder["sis"]
            url = urlsplit(self.path)
            name = url.path.rsplit("/", 1)[-1]
            given = self.headers.get("Authorization", "")
            signed = given.startswith("OAuth ") and oauth1_valid(
                given, f"http://{self.headers['Host']}{url.path}", url.query, system.nonces
            )
            if given != "Bearer sis-token" and not signed:
                self._send(401, {"imsx_codeMajor": "failure"})
                return
            parts = url.path.rsplit("/", 2)
            if parts[-2] in ("users", "classes") and parts[-1] not in system.records:
                one = {"users": "user", "classes": "class"}[parts[-2]]
                wanted = unquote(parts[-1])
                found = [r for r in system.records[parts[-2]] if r["sourcedId"] == wanted]
                system.pages.append(f"{parts[-2]}/{wanted}")
                if found:
                    self._send(200, {one: found[0]})
                else:
                    self._send(404, {"imsx_codeMajor": "failure"})
                return
            if name not in system.records:
                self._send(404, {"imsx_codeMajor": "failure"})
                return
            asked = dict(parse_qsl(url.query))
            offset, limit = int(asked["offset"]), int(asked["limit"])
            records = system.records[name]
            if "filter" in asked:
                since = re.fullmatch(r"dateLastModified>='([^']+)'", asked["filter"])
                assert since, asked["filter"]
                records = [r for r in records if r.get("dateLastModified", "") >= since[1]]
                system.pages.append(f"{name}@{offset} since {since[1]}")
            else:
                system.pages.append(f"{name}@{offset}")
            self._send(200, {name: records[offset : offset + limit]})

        def _send(self, status: int, answer: dict[str, Any]) -> None:
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as port:
        holder["sis"] = Sis(port)
        yield holder["sis"]


def settings_of(sis: Sis) -> dict[str, str]:
    """The settings of a server that reads its roster from ``sis``."""
    return {
        "oneroster_url": sis.url,
        "oneroster_token_url": sis.token_url,
        "oneroster_client_id": CLIENT[0],
        "oneroster_client_secret": CLIENT[1],
    }


def oauth1_valid(header: str, base_uri: str, query: str, nonces: set[str]) -> bool:
    """Whether ``header`` is a GET's OAuth 1.0a HMAC-SHA256 signature by :data:`CLIENT`
    (RFC 5849 3.4, computed here by hand: not by the library the client signs with), its
    nonce not seen before."""

    def encode(text: str) -> str:
        return quote(text, safe="~-._")

    fields = dict(re.findall(r'(\w+)="([^"]*)"', header))
    params = {k: unquote(v) for k, v in fields.items()}
    if params.get("oauth_signature_method") != "HMAC-SHA256":
        return False
    if params.get("oauth_consumer_key") != CLIENT[0] or params["oauth_nonce"] in nonces:
        return False
    pairs = [(k, v) for k, v in parse_qsl(query)] + [
        (k, v) for k, v in params.items() if k.startswith("oauth_") and k != "oauth_signature"
    ]
    normalized = "&".join(f"{k}={v}" for k, v in sorted((encode(k), encode(v)) for k, v in pairs))
    base = "&".join(["GET", encode(base_uri), encode(normalized)])
    key = f"{encode(CLIENT[1])}&".encode()
    expected = base64.b64encode(hmac.new(key, base.encode(), hashlib.sha256).digest()).decode()
    nonces.add(params["oauth_nonce"])
    return hmac.compare_digest(expected, params.get("oauth_signature", ""))

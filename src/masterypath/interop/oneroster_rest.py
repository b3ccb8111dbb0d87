"""A school's roster read from its student information system's OneRoster REST API
(rostering service), instead of a CSV export.

The system gives this server a client id and secret. OneRoster 1.2 (``oauth2``): an
access token comes from its token URL (OAuth 2 client credentials, the
``roster-core.readonly`` and ``roster-demographics.readonly`` scopes). OneRoster 1.1
(``oauth1``): each request is signed with them (OAuth 1.0a, HMAC-SHA256, by
``oauthlib``). Then ``users``, ``classes``, ``enrollments`` and ``demographics`` are read
page by page (``limit`` and ``offset``): all of them, or (``since``) only those changed
since an earlier read (``filter=dateLastModified>='...'``), with each user and class a
changed enrollment names read by its id. Each record is
written as the row of the CSV export's file it stands for (:func:`as_csv_files`), so the
one reader (:func:`~masterypath.interop.oneroster.parse_roster`) checks both: a problem
names the file and the record's place (``users.csv:3`` is the second user).
"""

from __future__ import annotations

import base64
import csv
import io
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import oauthlib.oauth1

from masterypath.interop.web_json import RemoteRefusedError, exchange, json_object
from masterypath.settings import Settings

SCOPES = (
    "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly "
    "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-demographics.readonly"
)
PAGE = 100
MAX_PAGES = 10_000
"""A collection is read at most this many pages (a system that pages forever stops here)."""
COLLECTIONS = ("users", "classes", "enrollments", "demographics")
COLUMNS = {
    "users": (
        "sourcedId",
        "status",
        "role",
        "username",
        "givenName",
        "familyName",
        "email",
        "enabledUser",
        "agentSourcedIds",
    ),
    "classes": ("sourcedId", "status", "title"),
    "enrollments": ("sourcedId", "status", "classSourcedId", "userSourcedId", "role"),
    "demographics": ("sourcedId", "birthDate"),
}


@dataclass(frozen=True)
class RosterSource:
    """Where the roster is read and as whom: the rostering service's base URL, its token
    URL, and the client id and secret it gave this server."""

    url: str
    token_url: str
    """Empty with ``oauth1``: OneRoster 1.1 signs each request instead."""
    client_id: str
    client_secret: str = field(repr=False)
    auth: Literal["oauth2", "oauth1"] = "oauth2"

    @classmethod
    def from_settings(cls, settings: Settings) -> RosterSource | None:
        """The system ``MASTERYPATH_ONEROSTER_URL``, ``_TOKEN_URL``, ``_CLIENT_ID`` and
        ``_CLIENT_SECRET`` name (with ``_AUTH``); None unless all it needs are set (no
        token URL for OneRoster 1.1's ``oauth1``).

        >>> RosterSource.from_settings(Settings(oneroster_url="https://sis")) is None
        True
        """
        source = cls(
            settings.oneroster_url,
            settings.oneroster_token_url,
            settings.oneroster_client_id,
            settings.oneroster_client_secret,
            settings.oneroster_auth,
        )
        return source if not source.missing() else None

    def missing(self) -> list[str]:
        """The fields it needs and lacks.

        >>> RosterSource("https://sis", "", "id", "secret", "oauth1").missing()
        []
        >>> RosterSource("https://sis", "", "id", "", "oauth2").missing()
        ['token_url', 'client_secret']
        """
        needed = ["url", "client_id", "client_secret"]
        if self.auth == "oauth2":
            needed.insert(1, "token_url")
        return [name for name in needed if not getattr(self, name)]

    def read(
        self, *, since: str | None = None, progress: Callable[[str, int], None] | None = None
    ) -> RosterRead:
        """The roster read now: every record, or those changed since ``since`` (a
        ``dateLastModified`` of the system's, as :attr:`RosterRead.modified_through` gave
        it) and the users and classes their enrollments name."""
        if self.auth == "oauth1":
            sign = oauth1_signer(self.client_id, self.client_secret)
        else:
            sign = bearer(access_token(self.token_url, self.client_id, self.client_secret))
        found = read_collections(self.url, sign, since=since, progress=progress)
        return RosterRead(as_csv_files(found), modified_through(found), since)


@dataclass(frozen=True)
class RosterRead:
    """The roster as read: the CSV export's files (:func:`as_csv_files`), the latest
    ``dateLastModified`` among its records (where the next read of changes starts), and
    where this read started (None: it read everything)."""

    files: dict[str, str]
    modified_through: str | None
    since: str | None = None


def modified_through(collections: Mapping[str, Iterable[Mapping[str, Any]]]) -> str | None:
    """The latest ``dateLastModified`` of the records, as the system wrote it (None when
    none has one).

    >>> modified_through({"users": [{"dateLastModified": "2026-12-01T10:00:00Z"},
    ...                             {"dateLastModified": "2026-12-01T11:00:00.000Z"}],
    ...                   "classes": [{"sourcedId": "c1"}]})
    '2026-12-01T11:00:00.000Z'
    """
    latest: tuple[datetime, str] | None = None
    for records in collections.values():
        for record in records:
            stamp = record.get("dateLastModified")
            if not isinstance(stamp, str):
                continue
            try:
                at = datetime.fromisoformat(stamp)
            except ValueError:
                continue  # not a time: not a start to read changes from
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            if latest is None or at > latest[0]:
                latest = (at, stamp)
    return None if latest is None else latest[1]


class SisRefusedError(RemoteRefusedError):
    """The student information system could not be reached or answered with an error."""

    code = "sis_refused"


def access_token(token_url: str, client_id: str, client_secret: str) -> str:
    """An access token of the system's token URL for reading the roster."""
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    request = urllib.request.Request(
        token_url,
        data=urllib.parse.urlencode({"grant_type": "client_credentials", "scope": SCOPES}).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": f"Basic {basic}",
        },
        method="POST",
    )
    answer = json_object(token_url, exchange(request, expect_json=True, refused=SisRefusedError)[0])
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise SisRefusedError(f"{token_url}: the answer holds no access_token")
    return token


Signer = Callable[[str], str]
"""The ``Authorization`` header of a GET of a URL."""


def bearer(token: str) -> Signer:
    """An OAuth 2 access token's header, whatever the URL."""
    return lambda _url: f"Bearer {token}"


def oauth1_signer(client_id: str, client_secret: str) -> Signer:
    """OneRoster 1.1's OAuth 1.0a signature of each GET (HMAC-SHA256, no token): a fresh
    nonce and timestamp, the URL's query parameters signed with it."""
    client = oauthlib.oauth1.Client(
        client_id,
        client_secret=client_secret,
        signature_method=oauthlib.oauth1.SIGNATURE_HMAC_SHA256,
    )

    def sign(url: str) -> str:
        _, headers, _ = client.sign(url, http_method="GET")
        return str(headers["Authorization"])

    return sign


def read_collections(
    base_url: str,
    sign: Signer,
    *,
    since: str | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Every record of the rostering service at ``base_url`` (``.../ims/oneroster/
    rostering/v1p2``, or 1.1's ``.../ims/oneroster/v1p1``) in each of
    :data:`COLLECTIONS`, or (``since``) those changed since then and the users and classes
    the changed enrollments name; each GET authorized by ``sign``. A system that offers no
    demographics (404 or 403) gives none. ``progress`` is told each collection's records
    read so far."""
    base = base_url.rstrip("/")
    changed = None if since is None else f"dateLastModified>='{since}'"
    found: dict[str, list[dict[str, Any]]] = {}
    for name in COLLECTIONS:
        try:
            found[name] = _collection(base, name, sign, progress, changed)
        except SisRefusedError as exc:
            if name != "demographics" or exc.status not in (403, 404):
                raise
    if since is not None:
        for name, one, key in (("users", "user", "user"), ("classes", "class", "class")):
            known = {r.get("sourcedId") for r in found[name]}
            for ref in dict.fromkeys(_reference(e, key) for e in found["enrollments"]):
                if ref and ref not in known:
                    found[name].append(_record(base, name, one, ref, sign))
                    known.add(ref)
    return found


def _reference(enrollment: Mapping[str, Any], key: str) -> str | None:
    ref = enrollment.get(key)
    return str(ref["sourcedId"]) if isinstance(ref, dict) and ref.get("sourcedId") else None


def _record(base: str, name: str, one: str, sourced_id: str, sign: Signer) -> dict[str, Any]:
    """One record by its id (``GET .../users/ID`` answers ``{"user": {...}}``)."""
    url = f"{base}/{name}/{urllib.parse.quote(sourced_id, safe='')}"
    record = _get(url, sign).get(one)
    if not isinstance(record, dict):
        raise SisRefusedError(f"{url}: the answer holds no {one!r} record")
    return record


def _collection(
    base: str,
    name: str,
    sign: Signer,
    progress: Callable[[str, int], None] | None,
    changed: str | None,
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for page in range(MAX_PAGES):
        query: dict[str, str | int] = {"limit": PAGE, "offset": page * PAGE}
        if changed is not None:
            query["filter"] = changed
        url = f"{base}/{name}?" + urllib.parse.urlencode(query)
        listed = _get(url, sign).get(name)
        if not isinstance(listed, list):
            raise SisRefusedError(f"{url}: the answer holds no {name!r} list")
        records.extend(r for r in listed if isinstance(r, dict))
        if progress is not None:
            progress(name, len(records))
        if len(listed) < PAGE:
            return records
    raise SisRefusedError(f"{base}/{name}: more than {MAX_PAGES} pages")


def _get(url: str, sign: Signer) -> dict[str, Any]:
    """The JSON object the system answers a GET of ``url`` with."""
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "Authorization": sign(url)}
    )
    return json_object(url, exchange(request, expect_json=True, refused=SisRefusedError)[0])


def as_csv_files(collections: Mapping[str, Iterable[Mapping[str, Any]]]) -> dict[str, str]:
    """The records of the REST API as the CSV export's files.

    >>> files = as_csv_files({
    ...     "users": [{"sourcedId": "s1", "status": "active", "enabledUser": True,
    ...                "givenName": "Ana", "familyName": "Lima", "username": "ana",
    ...                "roles": [{"roleType": "primary", "role": "student"}]}],
    ...     "classes": [{"sourcedId": "c1", "title": "Algebra 1"}],
    ...     "enrollments": [{"sourcedId": "e1", "role": "student",
    ...                      "user": {"sourcedId": "s1"}, "class": {"sourcedId": "c1"}}],
    ... })
    >>> files["users.csv"].splitlines()[1]
    's1,active,student,ana,Ana,Lima,,true,'
    >>> files["enrollments.csv"].splitlines()[1]
    'e1,,c1,s1,student'
    """
    files = {}
    for name, records in collections.items():
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS[name])
        for record in records:
            writer.writerow([_cell(record, column) for column in COLUMNS[name]])
        files[f"{name}.csv"] = out.getvalue()
    return files


def _cell(record: Mapping[str, Any], column: str) -> str:
    """A record's value for a column of the CSV export (1.1's and 1.2's shapes alike)."""
    if column == "agentSourcedIds":  # a student's guardians, a guardian's children
        agents = record.get("agents")
        value: Any = ",".join(
            str(a["sourcedId"])
            for a in (agents if isinstance(agents, list) else [])
            if isinstance(a, Mapping) and a.get("sourcedId")
        )
    elif column in ("classSourcedId", "userSourcedId"):
        value = record.get(column[: -len("SourcedId")], {})
        value = value.get("sourcedId", "") if isinstance(value, Mapping) else ""
    elif column == "role" and "role" not in record:
        roles = record.get("roles")
        listed = [r for r in roles if isinstance(r, Mapping)] if isinstance(roles, list) else []
        primary = [r for r in listed if r.get("roleType") == "primary"] or listed
        value = primary[0].get("role", "") if primary else ""
    else:
        value = record.get(column, "")
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else ("" if value is None else str(value))

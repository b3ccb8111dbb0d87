"""What an LTI 1.3 launch says (pure): the claims of a platform's verified ``id_token``
read into a :class:`Launch`, and the platform's roles mapped to this system's.

A learning platform (Moodle, Canvas, ...) launches this tool for one of its users with an
OpenID Connect ``id_token`` (IMS LTI 1.3 Core). The signature, issuer, audience and times
are checked before (:mod:`masterypath.interop.lti_jwt`); here the LTI claims are: message
type and version, a deployment the platform was registered with, the nonce this tool sent,
a subject and roles this system has a part for.

>>> claims = {
...     "sub": "u7", "nonce": "n1",
...     MESSAGE_TYPE: "LtiResourceLinkRequest", VERSION: "1.3.0", DEPLOYMENT: "d1",
...     ROLES: [MEMBERSHIP + "Learner"],
...     CONTEXT: {"id": "c42", "title": "Algebra 1"},
... }
>>> launch = read_launch(claims, deployments=("d1",), nonce="n1")
>>> launch.role.value, launch.subject, launch.context_id, launch.context_title
('learner', 'u7', 'c42', 'Algebra 1')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from masterypath.domain.access import Role
from masterypath.errors import PermissionDeniedError, ValidationError

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
MESSAGE_TYPE = CLAIM + "message_type"
VERSION = CLAIM + "version"
DEPLOYMENT = CLAIM + "deployment_id"
ROLES = CLAIM + "roles"
ROLE_SCOPE_MENTOR = CLAIM + "role_scope_mentor"
"""The platform users a mentor (a parent, a Canvas observer) launching follows."""
CONTEXT = CLAIM + "context"
RESOURCE_LINK = CLAIM + "resource_link"
LIS = CLAIM + "lis"
CUSTOM = CLAIM + "custom"
TARGET_LINK_URI = CLAIM + "target_link_uri"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
"""The Assignment and Grade Services scope that lets a tool send scores."""
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
"""The Assignment and Grade Services scope that lets a tool make its own gradebook columns."""
LINEITEM_TAG = "masterypath"
"""The ``tag`` of the columns this tool makes (with the framework as ``resourceId``)."""
NAMES_ROLES = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
MEMBERS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
"""The Names and Role Provisioning Services scope that lets a tool read a course's members."""
DEEP_LINKING = "https://purl.imsglobal.org/spec/lti-dl/claim/"
DL_SETTINGS = DEEP_LINKING + "deep_linking_settings"
DL_CONTENT_ITEMS = DEEP_LINKING + "content_items"
DL_DATA = DEEP_LINKING + "data"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
"""A teacher adding the tool to a course: the tool answers with the link(s) to add."""

LIS_ROLES = "http://purl.imsglobal.org/vocab/lis/v2/"
MEMBERSHIP = LIS_ROLES + "membership#"
INSTITUTION = LIS_ROLES + "institution/person#"

EDUCATOR_ROLES = frozenset(
    {
        MEMBERSHIP + "Instructor",
        MEMBERSHIP + "ContentDeveloper",
        MEMBERSHIP + "Administrator",
        MEMBERSHIP + "Instructor#TeachingAssistant",
        INSTITUTION + "Instructor",
        INSTITUTION + "Faculty",
    }
)
"""Roles that teach: an educator here, for the launch's course."""
LEARNER_ROLES = frozenset(
    {MEMBERSHIP + "Learner", INSTITUTION + "Student", INSTITUTION + "Learner"}
)
"""Roles that learn: a learner here, seeing their own records."""
MENTOR_ROLES = frozenset({MEMBERSHIP + "Mentor", INSTITUTION + "Mentor"})
MENTOR_SUBROLE = LIS_ROLES + "membership/Mentor#"
"""Roles that follow learners (a parent, a Canvas observer): a guardian here, reading the
records of the learners the launch names (``role_scope_mentor``)."""
SHORT_ROLES = {"Instructor": MEMBERSHIP + "Instructor", "Learner": MEMBERSHIP + "Learner"}
"""LTI 1.1's simple names, which LTI 1.3 deprecates but platforms still send."""


@dataclass(frozen=True)
class Launch:
    """One verified resource-link launch, as this system uses it."""

    subject: str
    """The platform's stable id of the user (``sub``): never shown, only matched."""
    role: Role
    deployment_id: str
    context_id: str | None = None
    context_title: str | None = None
    person_sourced_id: str | None = None
    """The user's id in the school's roster (``lis.person_sourcedid``), if sent: links a
    launch to a learner imported from that roster."""
    section_sourced_id: str | None = None
    """The course section's roster id (``lis.course_section_sourcedid``)."""
    name: str | None = None
    email: str | None = None
    framework_id: str | None = None
    """The framework to open (custom parameter ``framework``), if the link names one."""
    resource_link_id: str | None = None
    message_type: str = RESOURCE_LINK_REQUEST
    deep_link_return_url: str | None = None
    """Where a deep-linking answer goes (a deep-linking launch only)."""
    deep_link_data: str | None = None
    """The request's opaque ``data``, given back in the answer."""
    memberships_url: str | None = None
    """Where the course's members can be read (Names and Role Provisioning Services)."""
    lineitem: str | None = None
    """Where this link's score goes in the platform's gradebook, when the platform lets the
    tool send scores (Assignment and Grade Services, the ``score`` scope)."""
    lineitems: str | None = None
    """The course's gradebook columns (line item container), when the launch names no
    column of its own but lets the tool make one (the ``lineitem`` scope too): the tool
    finds or makes its column there before it sends the first score."""
    mentees: tuple[str, ...] = ()
    """A mentor's launch (a guardian here): the platform users it follows
    (``role_scope_mentor``)."""


def role_of(roles: Iterable[str]) -> Role | None:
    """This system's role for a user with these LTI roles: an educator if any role teaches,
    else a learner if any role learns, else a guardian if any role mentors, else none. A
    platform's administrators are not made administrators here (that is given by hand).

    >>> role_of([MEMBERSHIP + "Learner", MEMBERSHIP + "Instructor"]).value
    'educator'
    >>> role_of(["Learner"]).value
    'learner'
    >>> role_of([MENTOR_SUBROLE + "Guardian"]).value
    'guardian'
    >>> role_of([LIS_ROLES + "system/person#Administrator"]) is None
    True
    """
    full = {SHORT_ROLES.get(r, r) for r in roles}
    if full & EDUCATOR_ROLES:
        return Role.EDUCATOR
    if full & LEARNER_ROLES:
        return Role.LEARNER
    if full & MENTOR_ROLES or any(r.startswith(MENTOR_SUBROLE) for r in full):
        return Role.GUARDIAN
    return None


def read_launch(claims: Mapping[str, Any], *, deployments: Iterable[str], nonce: str) -> Launch:
    """The :class:`Launch` in a verified token's ``claims``; a :class:`ValidationError`
    names the first claim that is missing or wrong, a :class:`PermissionDeniedError` says
    when the user has no role here.

    >>> read_launch({"nonce": "other"}, deployments=(), nonce="n1")
    Traceback (most recent call last):
    ...
    masterypath.errors.ValidationError: id_token: nonce: is not the one this tool sent
    """
    if claims.get("nonce") != nonce:
        raise _wrong("nonce", "is not the one this tool sent")
    message_type = claims.get(MESSAGE_TYPE)
    if message_type not in (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST):
        raise _wrong(MESSAGE_TYPE, f"must be {RESOURCE_LINK_REQUEST} or {DEEP_LINKING_REQUEST}")
    if claims.get(VERSION) != "1.3.0":
        raise _wrong(VERSION, "must be 1.3.0")
    deployment = claims.get(DEPLOYMENT)
    if not isinstance(deployment, str) or deployment not in set(deployments):
        raise _wrong(
            DEPLOYMENT,
            f"{deployment!r} is not a deployment registered for this platform (an admin "
            "adds it to the platform's deployments: masterypath lti update ID --deployment)",
        )
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise _wrong("sub", "must be a non-empty string of at most 255 characters")
    roles = claims.get(ROLES)
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise _wrong(ROLES, "must be a list of role URIs")
    role = role_of(roles)
    if role is None:
        raise PermissionDeniedError(
            "launch", "none of the launch's roles is a learner's, an educator's or a mentor's"
        )
    context = _object(claims, CONTEXT)
    lis = _object(claims, LIS)
    custom = _object(claims, CUSTOM)
    link = _object(claims, RESOURCE_LINK)
    grades = _object(claims, AGS_ENDPOINT)
    scopes = grades.get("scope", [])
    may_score = isinstance(scopes, list) and SCORE_SCOPE in scopes
    names_roles = _object(claims, NAMES_ROLES)
    lineitem = _text(grades, "lineitem", AGS_ENDPOINT) if may_score else None
    may_make = may_score and lineitem is None and LINEITEM_SCOPE in scopes
    lineitems = _text(grades, "lineitems", AGS_ENDPOINT) if may_make else None
    memberships = _text(names_roles, "context_memberships_url", NAMES_ROLES)
    # the tool calls these later: a web address, never a file or another scheme
    for url, claim, field in (
        (lineitem, AGS_ENDPOINT, "lineitem"),
        (lineitems, AGS_ENDPOINT, "lineitems"),
        (memberships, NAMES_ROLES, "context_memberships_url"),
    ):
        if url is not None and not _web_url(url):
            raise _wrong(f"{claim} {field}", "must be an http(s) URL")
    return_url, data = None, None
    if message_type == DEEP_LINKING_REQUEST:
        wanted = _object(claims, DL_SETTINGS)
        return_url = _text(wanted, "deep_link_return_url", DL_SETTINGS)
        if return_url is None or not _web_url(return_url):
            raise _wrong(f"{DL_SETTINGS} deep_link_return_url", "must be an http(s) URL")
        accepted = wanted.get("accept_types", [])
        if not isinstance(accepted, list) or "ltiResourceLink" not in accepted:
            raise _wrong(f"{DL_SETTINGS} accept_types", "must accept ltiResourceLink")
        data = _text(wanted, "data", DL_SETTINGS)
    mentees = claims.get(ROLE_SCOPE_MENTOR, [])
    if not isinstance(mentees, list) or not all(
        isinstance(m, str) and 0 < len(m) <= 255 for m in mentees
    ):
        raise _wrong(ROLE_SCOPE_MENTOR, "must be a list of user ids")
    return Launch(
        subject=subject,
        role=role,
        mentees=tuple(dict.fromkeys(mentees)) if role is Role.GUARDIAN else (),
        deployment_id=deployment,
        context_id=_text(context, "id", CONTEXT),
        context_title=_text(context, "title", CONTEXT) or _text(context, "label", CONTEXT),
        person_sourced_id=_text(lis, "person_sourcedid", LIS),
        section_sourced_id=_text(lis, "course_section_sourcedid", LIS),
        name=_text(claims, "name", "name"),
        email=_text(claims, "email", "email"),
        framework_id=_text(custom, "framework", CUSTOM),
        resource_link_id=_text(link, "id", RESOURCE_LINK),
        lineitem=lineitem,
        lineitems=lineitems,
        message_type=message_type,
        memberships_url=memberships,
        deep_link_return_url=return_url,
        deep_link_data=data,
    )


def member_launch(
    member: Mapping[str, Any], *, deployment_id: str, context_id: str, context_title: str
) -> Launch | None:
    """A course member from the platform's membership list (Names and Role Provisioning
    Services 2.0) as the launch they would make: None for a member who is not active or
    has no part here. A malformed member is a :class:`ValidationError`.

    >>> member = {"user_id": "u9", "roles": ["Learner"], "name": "Bo", "status": "Active"}
    >>> member_launch(member, deployment_id="d", context_id="c", context_title="C").subject
    'u9'
    >>> member_launch(member | {"status": "Inactive"}, deployment_id="d", context_id="c",
    ...               context_title="C") is None
    True
    """
    if member.get("status", "Active") != "Active":
        return None
    subject, roles = member.get("user_id"), member.get("roles")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise _wrong("user_id", "must be a non-empty string of at most 255 characters", MEMBERS)
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise _wrong("roles", "must be a list of role URIs", MEMBERS)
    role = role_of(roles)
    if role is None or role is Role.GUARDIAN:  # whom a mentor follows: only a launch says
        return None
    return Launch(
        subject=subject,
        role=role,
        deployment_id=deployment_id,
        context_id=context_id,
        context_title=context_title,
        person_sourced_id=_text(member, "lis_person_sourcedid", "lis_person_sourcedid", MEMBERS),
        name=_text(member, "name", "name", MEMBERS),
        email=_text(member, "email", "email", MEMBERS),
    )


def deep_linking_response(
    launch: Launch,
    *,
    client_id: str,
    issuer: str,
    nonce: str,
    now: float,
    item: Mapping[str, Any],
) -> dict[str, Any]:
    """The claims of the tool's answer to a deep-linking launch (LTI Deep Linking 2.0):
    the one content ``item`` chosen, for the platform ``issuer``, valid ten minutes, the
    request's ``data`` given back.

    >>> launch = Launch("u", Role.EDUCATOR, "d1", message_type=DEEP_LINKING_REQUEST,
    ...                 deep_link_return_url="https://lms/return", deep_link_data="x")
    >>> answer = deep_linking_response(launch, client_id="c", issuer="https://lms",
    ...                                nonce="n", now=0, item={"type": "ltiResourceLink"})
    >>> answer[MESSAGE_TYPE], answer["aud"], answer[DL_DATA], answer["exp"]
    ('LtiDeepLinkingResponse', 'https://lms', 'x', 600)
    """
    claims: dict[str, Any] = {
        "iss": client_id,
        "aud": issuer,
        "iat": int(now),
        "exp": int(now) + 600,
        "nonce": nonce,
        MESSAGE_TYPE: "LtiDeepLinkingResponse",
        VERSION: "1.3.0",
        DEPLOYMENT: launch.deployment_id,
        DL_CONTENT_ITEMS: [dict(item)],
    }
    if launch.deep_link_data is not None:
        claims[DL_DATA] = launch.deep_link_data
    return claims


def framework_link(framework_id: str, title: str, competencies: int, url: str) -> dict[str, Any]:
    """A content item that links a framework: the launch opens it (custom ``framework``),
    and the platform makes a gradebook column scored out of its competencies.

    >>> framework_link("sql", "SQL", 12, "https://tool/lti/launch")["lineItem"]
    {'scoreMaximum': 12, 'label': 'SQL', 'resourceId': 'sql'}
    """
    return {
        "type": "ltiResourceLink",
        "title": title,
        "url": url,
        "custom": {"framework": framework_id},
        "lineItem": {"scoreMaximum": competencies, "label": title, "resourceId": framework_id},
    }


def line_item(
    framework_id: str, title: str, competencies: int, resource_link_id: str
) -> dict[str, Any]:
    """The gradebook column this tool makes for a link (``application/vnd.ims.lis.v2.
    lineitem+json``): scored out of the framework's competencies, tagged as this tool's.

    >>> line_item("sql", "SQL", 12, "link-7")
    {'scoreMaximum': 12, 'label': 'SQL', 'resourceId': 'sql', 'resourceLinkId': 'link-7', \
'tag': 'masterypath'}
    """
    return {
        "scoreMaximum": competencies,
        "label": title,
        "resourceId": framework_id,
        "resourceLinkId": resource_link_id,
        "tag": LINEITEM_TAG,
    }


def is_own_line_item(item: Any, framework_id: str, resource_link_id: str) -> bool:
    """Whether a column of the platform's gradebook is the one :func:`line_item` made for
    this link and framework (a platform may ignore the list's filters).

    >>> is_own_line_item(line_item("sql", "SQL", 12, "l7") | {"id": "https://lms/li/1"},
    ...                  "sql", "l7")
    True
    >>> is_own_line_item({"id": "https://lms/li/2", "resourceLinkId": "l7"}, "sql", "l7")
    False
    """
    return (
        isinstance(item, dict)
        and isinstance(item.get("id"), str)
        and item.get("resourceLinkId") == resource_link_id
        and item.get("resourceId") == framework_id
        and item.get("tag") == LINEITEM_TAG
    )


@dataclass(frozen=True)
class Score:
    """A learner's score for a link, as LTI Assignment and Grade Services sends it: how
    many of the framework's competencies are mastered, of how many."""

    given: int
    maximum: int
    comment: str

    def to_json(self, user_id: str, timestamp: str) -> dict[str, Any]:
        """The score's JSON (``application/vnd.ims.lis.v1.score+json``) for the platform's
        user ``user_id``: final once every competency is mastered, pending before.

        >>> Score(3, 3, "").to_json("u7", "2026-11-23T09:00:00+00:00")["gradingProgress"]
        'FullyGraded'
        """
        done = self.given == self.maximum
        return {
            "userId": user_id,
            "scoreGiven": self.given,
            "scoreMaximum": self.maximum,
            "comment": self.comment,
            "timestamp": timestamp,
            "activityProgress": "Completed" if done else "InProgress",
            "gradingProgress": "FullyGraded" if done else "Pending",
        }


def score_of(mastered: Iterable[bool], framework_title: str) -> Score:
    """The :class:`Score` of a learner whose competencies are each ``mastered`` or not.

    >>> score_of([True, False, True], "SQL")
    Score(given=2, maximum=3, comment='2 of 3 competencies of SQL mastered')
    """
    flags = list(mastered)
    given = sum(flags)
    return Score(
        given, len(flags), f"{given} of {len(flags)} competencies of {framework_title} mastered"
    )


def _object(claims: Mapping[str, Any], claim: str) -> Mapping[str, Any]:
    value = claims.get(claim, {})
    if not isinstance(value, dict):
        raise _wrong(claim, "must be a JSON object")
    return value


def _text(values: Mapping[str, Any], key: str, claim: str, where: str = "id_token") -> str | None:
    value = values.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 1000:
        field = key if claim == key else f"{claim} {key}"
        raise _wrong(field, "must be a string of at most 1000 characters", where)
    return value


def _web_url(url: str) -> bool:
    """
    >>> _web_url("https://lms.example/dl?x=1"), _web_url("javascript:alert(1)")
    (True, False)
    """
    parts = urlsplit(url)
    plain = not any(c in parts.netloc for c in " ;,'\"")
    return parts.scheme in ("http", "https") and bool(parts.netloc) and plain


MEMBERS = "membership list"


def _wrong(claim: str, reason: str, where: str = "id_token") -> ValidationError:
    return ValidationError(claim, reason, location=where)

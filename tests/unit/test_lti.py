"""What an LTI 1.3 launch says (``domain/lti.py``) and when its token is in time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from masterypath.domain.access import Role
from masterypath.domain.lti import (
    AGS_ENDPOINT,
    CONTEXT,
    CUSTOM,
    DEEP_LINKING_REQUEST,
    DEPLOYMENT,
    DL_SETTINGS,
    EDUCATOR_ROLES,
    INSTITUTION,
    LEARNER_ROLES,
    LINEITEM_SCOPE,
    LIS,
    LIS_ROLES,
    MEMBERSHIP,
    MENTOR_ROLES,
    MESSAGE_TYPE,
    NAMES_ROLES,
    ROLES,
    SCORE_SCOPE,
    VERSION,
    Launch,
    member_launch,
    read_launch,
    role_of,
)
from masterypath.errors import (
    AuthenticationError,
    InvalidInputError,
    PermissionDeniedError,
    ValidationError,
)
from masterypath.interop.lti_jwt import check_times
from masterypath.interop.lti_services import PlatformRefusedError, get_json
from masterypath.services.lti import Platform, on_site

CLAIMS: dict[str, Any] = {
    "sub": "u7",
    "nonce": "n1",
    MESSAGE_TYPE: "LtiResourceLinkRequest",
    VERSION: "1.3.0",
    DEPLOYMENT: "d1",
    ROLES: [MEMBERSHIP + "Learner"],
    CONTEXT: {"id": "c42", "label": "ALG1"},
    LIS: {"person_sourcedid": "s-17", "course_section_sourcedid": "3B"},
    CUSTOM: {"framework": "algebra"},
    "name": "Ada Lovelace",
    "email": "ada@example.org",
}
ADMINS = [
    LIS_ROLES + "system/person#Administrator",
    LIS_ROLES + "system/person#SysAdmin",
    INSTITUTION + "Administrator",
    INSTITUTION + "Guest",
]


def test_a_launch_reads_every_claim_this_system_uses() -> None:
    assert read_launch(CLAIMS, deployments=("d0", "d1"), nonce="n1") == Launch(
        subject="u7",
        role=Role.LEARNER,
        deployment_id="d1",
        context_id="c42",
        context_title="ALG1",  # the label when there is no title
        person_sourced_id="s-17",
        section_sourced_id="3B",
        name="Ada Lovelace",
        email="ada@example.org",
        framework_id="algebra",
    )


def test_the_optional_claims_may_be_absent() -> None:
    bare = {k: v for k, v in CLAIMS.items() if k not in (CONTEXT, LIS, CUSTOM, "name", "email")}
    launch = read_launch(bare, deployments=("d1",), nonce="n1")
    assert (launch.context_id, launch.person_sourced_id, launch.name, launch.framework_id) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("claim", "value", "field"),
    [
        (MESSAGE_TYPE, "LtiSubmissionReviewRequest", MESSAGE_TYPE),
        (MESSAGE_TYPE, DEEP_LINKING_REQUEST, f"{DL_SETTINGS} deep_link_return_url"),
        (VERSION, "1.1", VERSION),
        (DEPLOYMENT, "d2", DEPLOYMENT),
        (DEPLOYMENT, None, DEPLOYMENT),
        ("sub", "", "sub"),
        ("sub", "x" * 256, "sub"),
        (ROLES, "Learner", ROLES),
        (CONTEXT, ["c42"], CONTEXT),
        (CONTEXT, {"id": 42}, f"{CONTEXT} id"),
        ("name", ["Ada"], "name"),
    ],
)
def test_a_wrong_claim_is_named(claim: str, value: object, field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        read_launch(CLAIMS | {claim: value}, deployments=("d1",), nonce="n1")
    assert refused.value.field == field and refused.value.location == "id_token"


def test_a_user_with_no_role_here_is_refused() -> None:
    with pytest.raises(PermissionDeniedError, match="none of the launch's roles"):
        read_launch(CLAIMS | {ROLES: ADMINS}, deployments=("d1",), nonce="n1")


@given(st.text(max_size=50).filter(lambda n: n != "n1"))
def test_a_launch_is_never_read_with_a_nonce_other_than_the_one_sent(nonce: str) -> None:
    with pytest.raises(ValidationError, match="nonce"):
        read_launch(CLAIMS | {"nonce": nonce}, deployments=("d1",), nonce="n1")


@pytest.mark.parametrize(
    ("roles", "role"),
    [
        ([MEMBERSHIP + "Learner"], Role.LEARNER),
        (["Learner"], Role.LEARNER),
        ([INSTITUTION + "Student"], Role.LEARNER),
        ([MEMBERSHIP + "Learner", MEMBERSHIP + "Instructor"], Role.EDUCATOR),
        (["Instructor"], Role.EDUCATOR),
        ([MEMBERSHIP + "Instructor#TeachingAssistant"], Role.EDUCATOR),
        ([MEMBERSHIP + "ContentDeveloper"], Role.EDUCATOR),
        ([INSTITUTION + "Faculty", INSTITUTION + "Administrator"], Role.EDUCATOR),
        ([MEMBERSHIP + "Mentor"], Role.GUARDIAN),  # a parent, a Canvas observer
        ([LIS_ROLES + "membership/Mentor#Guardian"], Role.GUARDIAN),
        ([MEMBERSHIP + "Mentor", MEMBERSHIP + "Learner"], Role.LEARNER),
        (ADMINS, None),
        ([], None),
    ],
)
def test_platform_roles_map_to_this_systems(roles: list[str], role: Role | None) -> None:
    assert role_of(roles) is role


@given(
    st.lists(
        st.sampled_from(
            sorted(EDUCATOR_ROLES | LEARNER_ROLES | MENTOR_ROLES) + ADMINS + ["Instructor"]
        )
        | st.text(max_size=30),
        max_size=6,
    )
)
def test_a_launch_never_makes_an_admin_and_teaches_only_with_a_teaching_role(
    roles: list[str],
) -> None:
    role = role_of(roles)
    assert role in (Role.EDUCATOR, Role.LEARNER, Role.GUARDIAN, None)
    teaches = any(r in EDUCATOR_ROLES or r == "Instructor" for r in roles)
    assert (role is Role.EDUCATOR) == teaches
    # a mentor's role reads (as a guardian) only where no role teaches or learns
    assert (role is Role.GUARDIAN) <= any(r in MENTOR_ROLES for r in roles)


NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("exp", "iat", "says"),
    [
        (-59, -300, None),  # expired 59 s ago: inside the minute of leeway
        (-60, -300, "has expired"),
        (300, 59, None),
        (300, 61, "is issued in the future"),
        ("soon", 0, "must be numbers"),
    ],
)
def test_a_token_is_in_time_within_a_minute_of_leeway(
    exp: float | str, iat: float, says: str | None
) -> None:
    at = NOW.timestamp()
    claims = {"exp": exp if isinstance(exp, str) else at + exp, "iat": at + iat}
    if says is None:
        check_times(claims, NOW)
    else:
        with pytest.raises(AuthenticationError, match=says):
            check_times(claims, NOW)


def test_a_platform_registration_names_each_wrong_field() -> None:
    wrong = Platform(
        id="Moodle 4",
        title=" ",
        issuer="https://lms.example",
        client_id="c",
        auth_login_url="http://lms.example/auth",  # plain http off this machine
        token_url="https://lms.example;script-src */token",  # would change the pages' policy
        key_set_url="http://127.0.0.1:8080/keys",  # on this machine: allowed
        deployment_ids=("1", ""),
    )
    with pytest.raises(InvalidInputError) as refused:
        wrong.check()
    fields = [p.field for p in refused.value.problems]
    assert fields == ["id", "title", "auth_login_url", "token_url", "deployment_ids"]


def test_a_deep_linking_launch_says_where_the_answer_goes_and_what_to_give_back() -> None:
    settings = {
        "deep_link_return_url": "https://lms.example/return?c=4",
        "accept_types": ["ltiResourceLink"],
        "data": "keep-me",
    }
    claims = CLAIMS | {MESSAGE_TYPE: DEEP_LINKING_REQUEST, DL_SETTINGS: settings}
    launch = read_launch(claims, deployments=("d1",), nonce="n1")
    assert launch.message_type == DEEP_LINKING_REQUEST
    assert (launch.deep_link_return_url, launch.deep_link_data) == (
        "https://lms.example/return?c=4",
        "keep-me",
    )
    # a resource-link launch carries none of it, whatever claims ride along
    plain = read_launch(CLAIMS | {DL_SETTINGS: settings}, deployments=("d1",), nonce="n1")
    assert plain.deep_link_return_url is None and plain.message_type == "LtiResourceLinkRequest"


@pytest.mark.parametrize(
    ("member", "role"),
    [
        ({"user_id": "u1", "roles": ["Instructor"]}, Role.EDUCATOR),
        ({"user_id": "u1", "roles": [MEMBERSHIP + "Learner"], "status": "Active"}, Role.LEARNER),
        ({"user_id": "u1", "roles": [MEMBERSHIP + "Learner"], "status": "Inactive"}, None),
        ({"user_id": "u1", "roles": [MEMBERSHIP + "Learner"], "status": "Deleted"}, None),
        ({"user_id": "u1", "roles": [MEMBERSHIP + "Mentor"]}, None),  # only a launch says whom
    ],
)
def test_a_course_member_is_the_launch_they_would_make(
    member: dict[str, Any], role: Role | None
) -> None:
    launch = member_launch(member, deployment_id="d1", context_id="c", context_title="Algebra")
    assert (launch.role if launch else None) is role
    if launch is not None:
        assert (launch.subject, launch.context_id, launch.deployment_id) == ("u1", "c", "d1")


def test_a_malformed_member_is_named_by_the_membership_list() -> None:
    with pytest.raises(ValidationError) as refused:
        member_launch(
            {"user_id": 7, "roles": []}, deployment_id="d", context_id="c", context_title="C"
        )
    assert (refused.value.field, refused.value.location) == ("user_id", "membership list")


@pytest.mark.parametrize(
    ("claim", "value", "field"),
    [
        (
            AGS_ENDPOINT,
            {"scope": [SCORE_SCOPE], "lineitem": "file:///etc/passwd"},
            f"{AGS_ENDPOINT} lineitem",
        ),
        (
            AGS_ENDPOINT,
            {"scope": [SCORE_SCOPE, LINEITEM_SCOPE], "lineitems": "file:///etc/items"},
            f"{AGS_ENDPOINT} lineitems",
        ),
        (
            NAMES_ROLES,
            {"context_memberships_url": "ftp://lms/members"},
            f"{NAMES_ROLES} context_memberships_url",
        ),
    ],
)
def test_the_addresses_the_tool_calls_later_must_be_web_addresses(
    claim: str, value: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        read_launch(CLAIMS | {claim: value}, deployments=("d1",), nonce="n1")
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("scopes", "named", "lineitem", "lineitems"),
    [
        ([SCORE_SCOPE, LINEITEM_SCOPE], {}, None, "https://lms/items"),
        ([SCORE_SCOPE], {}, None, None),  # may send scores, not make a column
        ([LINEITEM_SCOPE], {}, None, None),  # may make a column, not send scores
        (
            [SCORE_SCOPE, LINEITEM_SCOPE],
            {"lineitem": "https://lms/items/7"},
            "https://lms/items/7",
            None,
        ),
    ],
)
def test_the_tool_makes_its_own_column_only_where_it_may_and_none_is_named(
    scopes: list[str], named: dict[str, str], lineitem: str | None, lineitems: str | None
) -> None:
    grades = {"scope": scopes, "lineitems": "https://lms/items"} | named
    launch = read_launch(CLAIMS | {AGS_ENDPOINT: grades}, deployments=("d1",), nonce="n1")
    assert (launch.lineitem, launch.lineitems) == (lineitem, lineitems)


def test_a_platform_answer_naming_a_local_file_is_never_opened() -> None:
    with pytest.raises(PlatformRefusedError, match="not an http"):
        get_json("file:///etc/passwd", "token", "application/json")


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)


@given(
    st.lists(LABEL, min_size=1, max_size=3),
    st.lists(LABEL, min_size=1, max_size=3),
    st.sampled_from(["http", "https"]),
)
def test_a_subdomain_site_holds_exactly_the_hosts_below_it(
    below: list[str], parent: list[str], scheme: str
) -> None:
    host, site_host = ".".join(below + parent), ".".join(parent)
    assert on_site(f"{scheme}://{host}/x", f"{scheme}://*.{site_host}")
    assert on_site(f"{scheme}://{host}:8443/x", f"{scheme}://{host}:8443")
    assert not on_site(f"{scheme}://{host}:8443/x", f"{scheme}://{host}")  # another port
    assert not on_site(f"{scheme}://{site_host}/x", f"{scheme}://*.{site_host}")
    # a host that merely ends with the same letters is another site
    assert not on_site(f"{scheme}://x{site_host}/", f"{scheme}://*.{site_host}")
    other = "https" if scheme == "http" else "http"
    assert not on_site(f"{other}://{host}/x", f"{scheme}://{host}")


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "https://lms.org:99999/x", "https:///x", "ftp://lms.org/x"],
)
def test_an_address_that_is_no_web_address_is_on_no_site(url: str) -> None:
    assert not on_site(url, "https://lms.org")
    assert not on_site(url, "https://lms.org:*")

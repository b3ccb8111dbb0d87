"""Open Badges 3.0 for mastered competencies: API, verification endpoint and CLI (both
backends for the API)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from masterypath.api.app import create_app
from masterypath.cli import app
from masterypath.domain.evidence import BinaryOutcome, Evidence
from masterypath.domain.framework import Competency, Framework, Prerequisite
from masterypath.domain.status_list import LIST_SIZE, bit_is_set
from masterypath.errors import ConfigurationError
from masterypath.interop import vc_jwt
from masterypath.interop.case import case_identifier
from masterypath.interop.framework_files import write_framework_yaml
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService
from masterypath.settings import Settings
from tests.conftest import FixedClock, admin_client, api_app, badge_settings, login

COURSE = Framework(
    id="sql",
    title="Databases",
    competencies=(
        Competency("select", "SELECT queries", description="Write a SELECT."),
        Competency("join", "Joins", prerequisites=(Prerequisite("select"),)),
    ),
)
URL = "/api/v1/learners/kim/badges/sql/select"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def course(database: ServiceContext) -> ServiceContext:
    FrameworkService(database).save(COURSE)
    EvidenceService(database).record_many(
        [
            Evidence.create(
                learner_id="kim",
                competency_ids=("join",),
                outcome=BinaryOutcome(True),
                timestamp=T0,
            )
        ]
    )
    MasteryService(database).override(
        learner_id="kim",
        framework_id="sql",
        competency_id="select",
        status="mastered",
        reason="prior_learning",
        educator="user:1",
    )
    return database


def test_a_mastered_competency_gives_a_badge_that_verifies(
    course: ServiceContext, badge_key_file: Path
) -> None:
    client = admin_client(course, badge_settings(badge_key_file))
    answer = client.get(URL)
    assert answer.status_code == 200, answer.text
    badge: dict[str, Any] = answer.json()
    credential = badge["credential"]
    assert credential["issuer"]["id"] == "https://school.example/"
    assert credential["validFrom"] == "2026-11-23T09:00:00Z"  # the (test) clock's now
    achievement = credential["credentialSubject"]["achievement"]
    assert achievement["name"] == "SELECT queries"
    # aligned to the competency's item in the CASE export
    assert (
        achievement["alignment"][0]["targetUrl"] == f"urn:uuid:{case_identifier('sql', 'select')}"
    )
    # the JWS holds the same credential, signed by the configured key
    header, claims = vc_jwt.verify(badge["jwt"])
    assert header["jwk"] == vc_jwt.public_jwk(vc_jwt.read_key(badge_key_file))
    assert {k: v for k, v in claims.items() if k not in ("iss", "jti", "nbf", "sub")} == credential
    # anyone may check it: no credentials needed
    anyone = TestClient(client.app)
    checked = anyone.post("/badges/verify", json={"jwt": badge["jwt"]})
    assert checked.status_code == 200, checked.text
    assert checked.json()["valid"] is True and checked.json()["signed_by_this_issuer"] is True
    assert checked.json()["credential"] == credential
    # a badge signed by some other key checks out, but not as this issuer's
    other = vc_jwt.sign(claims, vc_jwt.generate_key())
    elsewhere = anyone.post("/badges/verify", json={"jwt": other}).json()
    assert elsewhere["valid"] is True and elsewhere["signed_by_this_issuer"] is False
    # a tampered badge is refused, naming why
    head, payload, _ = badge["jwt"].split(".")
    forged = anyone.post("/badges/verify", json={"jwt": f"{head}.{payload}.AAAA"})
    assert forged.status_code == 422 and "signature" in forged.json()["message"]


def test_no_badge_without_mastery_or_without_an_issuer(
    course: ServiceContext, badge_key_file: Path
) -> None:
    client = admin_client(course, badge_settings(badge_key_file))
    locked = client.get("/api/v1/learners/kim/badges/sql/join")  # evidence, not mastered
    assert locked.status_code == 409 and "not mastered" in locked.json()["message"]
    assert client.get("/api/v1/learners/ana/badges/sql/select").status_code == 409
    assert client.get("/api/v1/learners/kim/badges/sql/nope").status_code == 404
    assert client.get("/api/v1/learners/kim/badges/nope/select").status_code == 404
    # a server without badge settings says so (503); one half set up does not start
    plain, _ = api_app(course)
    plain.headers.update(login(plain, "admin", "admin-password"))
    unconfigured = plain.get(URL)
    assert unconfigured.status_code == 503
    assert "MASTERYPATH_BADGE_KEY_FILE" in unconfigured.json()["message"]
    with pytest.raises(ConfigurationError, match="MASTERYPATH_BADGE_ISSUER_URL"):
        create_app(Settings(badge_key_file=str(badge_key_file)), context=course)


def test_the_cli_makes_a_key_issues_and_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    key = tmp_path / "badge.pem"
    made = runner.invoke(app, ["badges", "key", str(key), "--json"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["public_jwk"] == vc_jwt.public_jwk(vc_jwt.read_key(key))
    again = runner.invoke(app, ["badges", "key", str(key)])
    assert again.exit_code == 2 and "never overwritten" in again.output
    # half set up: the missing setting is named
    monkeypatch.setenv("MASTERYPATH_BADGE_KEY_FILE", str(key))
    path = tmp_path / "sql.yaml"
    path.write_text(write_framework_yaml(COURSE))
    assert runner.invoke(app, ["import-framework", str(path)]).exit_code == 0
    half = runner.invoke(app, ["badges", "issue", "kim", "--competency", "select"])
    assert half.exit_code == 2 and "MASTERYPATH_BADGE_ISSUER_URL" in half.output
    monkeypatch.setenv("MASTERYPATH_BADGE_ISSUER_URL", "https://school.example/")
    refused = runner.invoke(app, ["badges", "issue", "kim", "--competency", "select", "--json"])
    assert refused.exit_code == 2 and json.loads(refused.output)["error"] == "conflict"
    granted = runner.invoke(
        app,
        [
            *("override", "kim", "select", "--status", "mastered"),
            *("--reason", "prior_learning", "--by", "ed"),
        ],
    )
    assert granted.exit_code == 0, granted.output
    issued = runner.invoke(app, ["badges", "issue", "kim", "--competency", "select"])
    assert issued.exit_code == 0, issued.output
    token = tmp_path / "badge.jwt"
    token.write_text(issued.output)
    checked = runner.invoke(app, ["badges", "verify", str(token), "--json"])
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.output)["signed_by_this_issuer"] is True
    assert json.loads(checked.output)["status"] == "active"
    listed = runner.invoke(app, ["badges", "list", "kim", "--json"])
    assert [(b["competency_id"], b["revoked"]) for b in json.loads(listed.output)] == [
        ("select", False)
    ]
    assert "select" in runner.invoke(app, ["badges", "list", "kim"]).output
    revoked = runner.invoke(
        app, ["badges", "revoke", "kim", "--competency", "select", "--reason", "copied", "--json"]
    )
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(revoked.output)[0]["reason"] == "copied"
    rechecked = runner.invoke(app, ["badges", "verify", str(token)])
    assert rechecked.exit_code == 1
    assert "revocation status: revoked" in " ".join(rechecked.output.split())
    head, payload, _ = issued.output.strip().split(".")
    token.write_text(f"{head}.{payload}.AAAA")
    broken = runner.invoke(app, ["badges", "verify", str(token)])
    assert broken.exit_code == 2 and "signature" in broken.output
    missing = runner.invoke(app, ["badges", "verify", str(tmp_path / "none.jwt")])
    assert missing.exit_code == 2 and "cannot read the badge" in missing.output


def test_an_educator_revokes_a_badge_and_every_copy_then_checks_as_revoked(
    course: ServiceContext, badge_key_file: Path
) -> None:
    client = admin_client(course, badge_settings(badge_key_file))
    anyone = TestClient(client.app)
    first = client.get(URL).json()
    entries = first["credential"]["credentialStatus"]
    entry = entries[0]
    index = int(entry["statusListIndex"])
    assert entries == [
        {
            "id": f"https://school.example/badges/status/1#{index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(index),
            "statusListCredential": "https://school.example/badges/status/1",
        },
        {
            "id": f"https://school.example/badges/suspension/1#{index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "suspension",
            "statusListIndex": str(index),
            "statusListCredential": "https://school.example/badges/suspension/1",
        },
    ]
    assert 0 <= index < LIST_SIZE
    # asked again: a newer version of the same credential, on the same bit
    again = client.get(URL).json()["credential"]
    assert again["id"] == first["credential"]["id"] and again["credentialStatus"] == entries

    def listed_bit(bit: int) -> bool:
        answer = anyone.get("/badges/status/1")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/vc+jwt"
        header, claims = vc_jwt.verify(answer.text)
        assert header["jwk"] == vc_jwt.public_jwk(vc_jwt.read_key(badge_key_file))
        assert claims["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
        assert claims["iss"] == "https://school.example/"
        return bit_is_set(claims["credentialSubject"]["encodedList"], bit)

    assert not listed_bit(index)
    checked = anyone.post("/badges/verify", json={"jwt": first["jwt"]}).json()
    assert (checked["valid"], checked["status"]) == (True, "active")
    issued = client.get("/api/v1/learners/kim/badges").json()
    assert [(b["competency_id"], b["status_index"], b["revoked"]) for b in issued] == [
        ("select", index, False)
    ]
    assert issued[0]["issued_by"].startswith("user:")
    revoke = f"{URL}/revoke"
    blank = client.post(revoke, json={"reason": " "})
    assert blank.status_code == 422 and blank.json()["problems"][0]["field"] == "reason"
    revoked = client.post(revoke, json={"reason": "work found to be copied"})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()[0]["revoked"] and revoked.json()[0]["reason"] == "work found to be copied"
    assert listed_bit(index)
    checked = anyone.post("/badges/verify", json={"jwt": first["jwt"]}).json()
    assert (checked["valid"], checked["status"]) == (False, "revoked")
    assert checked["problems"] == ["credentialStatus: revoked on 2026-11-23"]
    assert client.post(revoke, json={"reason": "twice"}).status_code == 404
    # still mastered: asked again, a new badge on a new bit; the old copies stay revoked
    renewed = client.get(URL).json()["credential"]["credentialStatus"][0]
    assert int(renewed["statusListIndex"]) != index
    assert len(client.get("/api/v1/learners/kim/badges").json()) == 2
    # erasing the learner leaves no badge row, and the revoked bit set
    assert client.delete("/api/v1/learners/kim").json()["deleted"]["badges"] == 2
    assert client.get("/api/v1/learners/kim/badges").json() == []
    assert listed_bit(index)
    audit = [e["action"] for e in client.get("/api/v1/audit-log").json()]
    assert audit.count("issue_badge") == 2 and audit.count("revoke_badge") == 1


def test_once_a_list_is_90_percent_used_new_badges_take_their_bits_in_the_next(
    course: ServiceContext, badge_key_file: Path
) -> None:
    from sqlalchemy import insert

    from masterypath.store.tables import BadgeStatusRow

    client = admin_client(course, badge_settings(badge_key_file))
    anyone = TestClient(client.app)
    assert anyone.get("/badges/status/2").status_code == 404  # no badge has a bit there
    # list 1 as a long-running school would have it: 90% of its bits taken, one revoked
    taken = -(-9 * LIST_SIZE // 10)  # 90%, rounded up
    with course.sessions.begin() as session:
        session.execute(
            insert(BadgeStatusRow),
            [{"status_index": i, "revoked_at": T0 if i == 5 else None} for i in range(taken)],
        )
    issued = client.get(URL).json()
    entry = issued["credential"]["credentialStatus"][0]
    bit = int(entry["statusListIndex"])
    assert entry["statusListCredential"] == "https://school.example/badges/status/2"
    assert entry["id"] == f"https://school.example/badges/status/2#{bit}"
    assert 0 <= bit < LIST_SIZE
    [held] = client.get("/api/v1/learners/kim/badges").json()
    assert held["status_index"] == LIST_SIZE + bit

    def listed(number: int) -> str:
        answer = anyone.get(f"/badges/status/{number}")
        assert answer.status_code == 200
        _, claims = vc_jwt.verify(answer.text)
        assert claims["credentialSubject"]["id"].startswith(
            f"https://school.example/badges/status/{number}"
        )
        return str(claims["credentialSubject"]["encodedList"])

    assert not bit_is_set(listed(2), bit) and bit_is_set(listed(1), 5)
    verified = anyone.post("/badges/verify", json={"jwt": issued["jwt"]}).json()
    assert verified["status"] == "active"
    assert client.post(f"{URL}/revoke", json={"reason": "copied"}).status_code == 200
    assert bit_is_set(listed(2), bit) and (bit == 5 or not bit_is_set(listed(1), bit))
    verified = anyone.post("/badges/verify", json={"jwt": issued["jwt"]}).json()
    assert (verified["valid"], verified["status"]) == (False, "revoked")
    for number in ("0", "x", "3"):
        assert anyone.get(f"/badges/status/{number}").status_code in (404, 422)


def test_a_foreign_or_unknown_status_is_not_taken_as_checked(
    course: ServiceContext, badge_key_file: Path
) -> None:
    client = admin_client(course, badge_settings(badge_key_file))
    anyone = TestClient(client.app)
    _, claims = vc_jwt.verify(client.get(URL).json()["jwt"])
    key = vc_jwt.read_key(badge_key_file)
    elsewhere = claims | {
        "credentialStatus": [
            e | {"statusListCredential": "https://other.example/status/3"}
            for e in claims["credentialStatus"]
        ]
    }
    checked = anyone.post("/badges/verify", json={"jwt": vc_jwt.sign(elsewhere, key)}).json()
    assert (checked["valid"], checked["status"]) == (True, "unchecked")
    revocation = claims["credentialStatus"][0]
    free = (int(revocation["statusListIndex"]) + 1) % LIST_SIZE
    unknown = claims | {"credentialStatus": revocation | {"statusListIndex": str(free)}}
    checked = anyone.post("/badges/verify", json={"jwt": vc_jwt.sign(unknown, key)}).json()
    assert checked["valid"] is False
    assert checked["problems"] == ["credentialStatus: this server issued no badge with that bit"]
    # without badge settings there is no list to serve
    plain, _ = api_app(course)
    assert plain.get("/badges/status/1").status_code == 503


def test_the_revocation_list_is_signed_again_only_when_a_bit_changes(
    course: ServiceContext, badge_key_file: Path
) -> None:
    client = admin_client(course, badge_settings(badge_key_file))
    assert client.get(URL).status_code == 200
    first = client.get("/badges/status/1").text
    clock = course.clock
    assert isinstance(clock, FixedClock)
    clock.advance(hours=1)
    assert client.get("/badges/status/1").text == first
    assert client.post(f"{URL}/revoke", json={"reason": "copied"}).status_code == 200
    changed = client.get("/badges/status/1").text
    _, before = vc_jwt.verify(first)
    _, after = vc_jwt.verify(changed)
    assert (before["validFrom"], after["validFrom"]) == (
        "2026-11-23T09:00:00Z",
        "2026-11-23T10:00:00Z",
    )


def test_an_educator_suspends_a_badge_until_it_is_reinstated(
    course: ServiceContext, badge_key_file: Path, tmp_path: Path
) -> None:
    """A suspension sets the badge's bit in the suspension list (never the revocation
    list) and is undone by reinstating it; a revocation outranks it; both are audited.
    A badge issued before suspension existed (one revocation entry) still checks."""
    client = admin_client(course, badge_settings(badge_key_file))
    anyone = TestClient(client.app)
    issued = client.get(URL).json()
    index = int(issued["credential"]["credentialStatus"][1]["statusListIndex"])

    def bits(index: int) -> tuple[bool, bool]:
        """(revoked, suspended) as the published lists say."""
        found = []
        for path in ("/badges/status/1", "/badges/suspension/1"):
            answer = anyone.get(path)
            assert answer.status_code == 200, answer.text
            _, claims = vc_jwt.verify(answer.text)
            subject = claims["credentialSubject"]
            assert subject["statusPurpose"] == ("revocation" if "status" in path else "suspension")
            found.append(bit_is_set(subject["encodedList"], index))
        return found[0], found[1]

    def checked() -> tuple[str, list[str]]:
        answer = anyone.post("/badges/verify", json={"jwt": issued["jwt"]}).json()
        return answer["status"], answer["problems"]

    assert bits(index) == (False, False) and checked() == ("active", [])
    blank = client.post(f"{URL}/suspend", json={"reason": " "})
    assert blank.status_code == 422 and blank.json()["problems"][0]["field"] == "reason"
    assert client.post(f"{URL}/reinstate").status_code == 409  # not suspended
    suspended = client.post(f"{URL}/suspend", json={"reason": "review of the portfolio"})
    assert suspended.status_code == 200, suspended.text
    assert [(b["suspended"], b["suspended_at"]) for b in suspended.json()] == [
        (True, "2026-11-23T09:00:00+00:00")
    ]
    assert bits(index) == (False, True)
    assert checked() == ("suspended", ["credentialStatus: suspended since 2026-11-23"])
    assert client.post(f"{URL}/suspend", json={"reason": "again"}).status_code == 409
    listed = client.get("/api/v1/learners/kim/badges").json()
    assert [(b["suspended"], b["revoked"]) for b in listed] == [(True, False)]
    reinstated = client.post(f"{URL}/reinstate")
    assert reinstated.status_code == 200 and reinstated.json()[0]["suspended"] is False
    assert bits(index) == (False, False) and checked() == ("active", [])

    # the same from the command line; then a revocation outranks the suspension
    env = {"MASTERYPATH_DATABASE_URL": str(course.engine.url.render_as_string(False))}
    env |= {
        "MASTERYPATH_BADGE_KEY_FILE": str(badge_key_file),
        "MASTERYPATH_BADGE_ISSUER_URL": "https://school.example/",
    }
    runner = CliRunner()
    args = ["--competency", "select", "--framework", "sql", "--json"]
    cli = runner.invoke(app, ["badges", "suspend", "kim", *args, "--reason", "review"], env=env)
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.output)[0]["suspended"] is True
    assert client.post(f"{URL}/revoke", json={"reason": "copied"}).status_code == 200
    status, problems = checked()
    assert status == "revoked" and "credentialStatus: revoked on 2026-11-23" in problems
    again = runner.invoke(app, ["badges", "reinstate", "kim", *args], env=env)
    assert again.exit_code != 0  # no badge in force any more
    audit = [e["action"] for e in client.get("/api/v1/audit-log").json()]
    assert (audit.count("suspend_badge"), audit.count("reinstate_badge")) == (2, 1)

    # a badge with one revocation entry, as issued before suspension lists existed
    key = vc_jwt.read_key(badge_key_file)
    _, claims = vc_jwt.verify(client.get(URL).json()["jwt"])
    old = claims | {"credentialStatus": claims["credentialStatus"][0]}
    answer = anyone.post("/badges/verify", json={"jwt": vc_jwt.sign(old, key)}).json()
    assert (answer["valid"], answer["status"]) == (True, "active")
    assert anyone.get("/badges/suspension/2").status_code == 404


def test_the_issuers_key_is_published_where_each_badges_kid_points(
    course: ServiceContext, badge_key_file: Path
) -> None:
    """A verifier can fetch the key from the issuer's site (``kid``) instead of trusting
    the one a badge carries (``jwk``); a badge signed with another key that claims this
    issuer's ``kid`` does not verify."""
    client = admin_client(course, badge_settings(badge_key_file))
    anyone = TestClient(client.app)
    token = client.get(URL).json()["jwt"]
    header, claims = vc_jwt.verify(token)
    key = vc_jwt.read_key(badge_key_file)
    thumbprint = vc_jwt.thumbprint(vc_jwt.public_jwk(key))
    assert header["kid"] == f"https://school.example/badges/keys/{thumbprint}"
    published = anyone.get(f"/badges/keys/{thumbprint}")
    assert published.status_code == 200
    assert published.json() == header["jwk"] | {
        "kid": header["kid"],
        "alg": "RS256",
        "use": "sig",
    }
    assert anyone.get("/badges/keys").json() == {"keys": [published.json()]}
    assert anyone.get("/badges/keys/not-the-key").status_code == 404
    # the status lists are signed the same way
    list_header, _ = vc_jwt.verify(anyone.get("/badges/status/1").text)
    assert list_header["kid"] == header["kid"]

    forger = vc_jwt.generate_key()
    forged = vc_jwt.sign(claims, forger, kid=header["kid"])
    checked = anyone.post("/badges/verify", json={"jwt": forged}).json()
    assert checked["valid"] is False and checked["signed_by_this_issuer"] is False
    assert "kid names this issuer's key, but another key signed the badge" in checked["problems"]
    plain, _ = api_app(course)
    assert plain.get("/badges/keys").status_code == 503


def test_a_replaced_key_stays_published_and_its_badges_still_verify(
    course: ServiceContext, badge_key_file: Path, tmp_path: Path
) -> None:
    """After the school replaces its signing key, the badges the old key signed name it in
    ``kid``: listed as a previous key, it is still published there and they still verify
    as this issuer's; without it they read as forged."""
    old_badge = admin_client(course, badge_settings(badge_key_file)).get(URL).json()["jwt"]
    old_header, _ = vc_jwt.verify(old_badge)
    new_key = tmp_path / "new.pem"
    vc_jwt.write_key(vc_jwt.generate_key(), new_key)
    old_public = tmp_path / "old.pub.pem"
    old_public.write_bytes(  # the public half is enough
        vc_jwt.read_key(badge_key_file)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    forgotten, _ = api_app(course, badge_settings(new_key))
    checked = forgotten.post("/badges/verify", json={"jwt": old_badge}).json()
    assert checked["valid"] is False and checked["signed_by_this_issuer"] is False
    assert (
        forgotten.get(old_header["kid"].removeprefix("https://school.example")).status_code == 404
    )

    settings = badge_settings(new_key).model_copy(
        update={"badge_previous_key_files": f"{old_public}, {badge_key_file}"}
    )
    client, _ = api_app(course, settings)
    client.headers.update(login(client, "admin", "admin-password"))
    anyone = TestClient(client.app)
    checked = anyone.post("/badges/verify", json={"jwt": old_badge}).json()
    assert checked["valid"] is True and checked["signed_by_this_issuer"] is True
    assert checked["problems"] == []
    published = anyone.get(old_header["kid"].removeprefix("https://school.example"))
    assert published.status_code == 200
    assert published.json() == old_header["jwk"] | {
        "kid": old_header["kid"],
        "alg": "RS256",
        "use": "sig",
    }
    new_badge = client.get(URL).json()["jwt"]
    new_header, _ = vc_jwt.verify(new_badge)
    assert new_header["kid"] != old_header["kid"]
    # the signing key first, the previous one once (named twice in the setting)
    kids = [k["kid"] for k in anyone.get("/badges/keys").json()["keys"]]
    assert kids == [new_header["kid"], old_header["kid"]]
    # a key that is no key stops the server, naming the setting and the file
    not_a_key = tmp_path / "notes.txt"
    not_a_key.write_text("not a key")
    broken = settings.model_copy(update={"badge_previous_key_files": str(not_a_key)})
    with pytest.raises(ConfigurationError, match=r"MASTERYPATH_BADGE_PREVIOUS_KEY_FILES: .*notes"):
        create_app(broken, context=course)


def test_a_badges_achievement_id_resolves_to_its_achievement(
    course: ServiceContext, badge_key_file: Path
) -> None:
    """``achievement.id`` (a URL under the issuer's) answers the same Achievement the badge
    holds; only achievements some badge was issued for resolve."""
    client = admin_client(course, badge_settings(badge_key_file))
    anyone = TestClient(client.app)
    achievement = client.get(URL).json()["credential"]["credentialSubject"]["achievement"]
    path = achievement["id"].removeprefix("https://school.example")
    assert path.startswith("/achievements/")
    resolved = anyone.get(path)
    assert resolved.status_code == 200
    body = resolved.json()
    assert body.pop("@context")[1].startswith("https://purl.imsglobal.org/spec/ob/v3p0/")
    assert body == achievement
    # another competency of the framework: no badge names it, so it does not resolve
    from masterypath.domain.badges import achievement_id
    from masterypath.services.badges import BadgeSigner

    signer = BadgeSigner.from_settings(badge_settings(badge_key_file))
    assert signer is not None
    other = achievement_id(signer.issuer, "sql", "join").removeprefix("https://school.example")
    assert anyone.get(other).status_code == 404
    assert anyone.get("/achievements/unknown").status_code == 404
    # the holder is erased: the badge in their hands still names it, so it still resolves
    assert client.delete("/api/v1/learners/kim").json()["deleted"]["badges"] == 1
    assert anyone.get(path).json() == resolved.json()


def test_migration_0024_keeps_the_achievements_of_badges_issued_before_it(
    course: ServiceContext, badge_key_file: Path
) -> None:
    from alembic import command

    from masterypath.store.database import alembic_config, upgrade

    client = admin_client(course, badge_settings(badge_key_file))
    achievement = client.get(URL).json()["credential"]["credentialSubject"]["achievement"]
    path = achievement["id"].removeprefix("https://school.example")
    command.downgrade(alembic_config(course.engine), "0023")
    upgrade(course.engine)
    client.delete("/api/v1/learners/kim")
    assert TestClient(client.app).get(path).json()["id"] == achievement["id"]

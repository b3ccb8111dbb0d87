"""Open Badges 3.0 credentials (domain/badges.py) and their VC-JWT proof (interop/vc_jwt.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masterypath.domain.badges import Issuer, achievement_credential, claim_problems, jwt_claims
from masterypath.domain.framework import Competency, Framework
from masterypath.errors import ValidationError
from masterypath.interop import vc_jwt

AT = datetime(2026, 12, 6, 10, 30, 15, 123456, tzinfo=UTC)
ISSUER = Issuer(id="https://school.example/", name="Example School")
FRAMEWORK = Framework(
    id="sql",
    title="Databases",
    competencies=(
        Competency("select", "SELECT queries", description="Write a SELECT.", code="DB.1"),
        Competency("join", "Joins"),
    ),
)
KEY = vc_jwt.generate_key()


def badge(learner: str = "kim", competency: str = "select", **changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "issuer": ISSUER,
        "framework": FRAMEWORK,
        "competency_id": competency,
        "learner_id": learner,
        "salt": "s4lt",
        "valid_from": AT,
        "alignment_url": "urn:uuid:1c0ffee0-0000-4000-8000-000000000001",
    }
    return achievement_credential(**{**args, **changes})


def test_the_credential_has_what_open_badges_3_requires() -> None:
    b = badge()
    assert b["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert b["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert b["issuer"] == {"id": ISSUER.id, "type": ["Profile"], "name": "Example School"}
    assert b["validFrom"] == "2026-12-06T10:30:15Z"  # to the second: nbf must equal it
    assert b["name"] == "SELECT queries"
    subject = b["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"] and subject["id"].startswith("urn:uuid:")
    # the learner only as a salted hash (hand-computed), never in clear
    (identity,) = subject["identifier"]
    assert identity == {
        "type": "IdentityObject",
        "identityHash": "sha256$" + hashlib.sha256(b"kims4lt").hexdigest(),
        "identityType": "identifier",
        "hashed": True,
        "salt": "s4lt",
    }
    assert "kim" not in json.dumps(b).replace(identity["identityHash"], "")
    achievement = subject["achievement"]
    assert achievement["type"] == ["Achievement"] and achievement["achievementType"] == "Competency"
    assert (achievement["name"], achievement["description"]) == (
        "SELECT queries",
        "Write a SELECT.",
    )
    assert achievement["id"].startswith("https://school.example/achievements/")
    assert "Databases" in achievement["criteria"]["narrative"]
    assert achievement["alignment"] == [
        {
            "type": ["Alignment"],
            "targetName": "SELECT queries",
            "targetUrl": "urn:uuid:1c0ffee0-0000-4000-8000-000000000001",
            "targetType": "CFItem",
            "targetFramework": "Databases",
            "targetCode": "DB.1",
        }
    ]
    # a competency without a description or code falls back to its title and id
    join = badge(competency="join")["credentialSubject"]["achievement"]
    assert (join["description"], join["alignment"][0]["targetCode"]) == ("Joins", "join")


def test_ids_are_stable_per_learner_and_competency() -> None:
    first, again = badge(), badge(valid_from=AT + timedelta(days=3), salt="other")
    assert first["id"] == again["id"]  # a newer version of the same credential
    assert first["credentialSubject"]["id"] == again["credentialSubject"]["id"]
    other_learner, other_competency = badge(learner="ana"), badge(competency="join")
    assert len({first["id"], other_learner["id"], other_competency["id"]}) == 3
    assert other_learner["credentialSubject"]["id"] != first["credentialSubject"]["id"]
    # ids holding the separator cannot collide: ("a", "b|c") is not ("a|b", "c")
    assert badge(learner="a|b")["id"] != badge(learner="a")["id"]


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValidationError, match=r"issuer\.id"):
        Issuer(id="school.example", name="x")
    with pytest.raises(ValidationError, match=r"issuer\.name"):
        Issuer(id="https://school.example/", name=" ")
    with pytest.raises(ValidationError, match="valid_from"):
        badge(valid_from=datetime(2026, 1, 1))
    with pytest.raises(KeyError):
        badge(competency="nope")


def test_claims_repeat_the_credential_and_the_checks_catch_a_mismatch() -> None:
    claims = jwt_claims(badge())
    assert (claims["iss"], claims["jti"], claims["sub"]) == (
        ISSUER.id,
        badge()["id"],
        badge()["credentialSubject"]["id"],
    )
    assert claims["nbf"] == int(datetime(2026, 12, 6, 10, 30, 15, tzinfo=UTC).timestamp())
    later = AT + timedelta(days=1)
    assert claim_problems(claims, now=later) == []
    assert claim_problems(claims, now=AT - timedelta(seconds=1)) == ["validFrom: not yet valid"]
    assert claim_problems({**claims, "iss": "https://evil.example/"}, now=later) == [
        "iss: does not match the credential"
    ]
    assert claim_problems({**claims, "nbf": claims["nbf"] + 1}, now=later) == [
        "nbf: does not match validFrom"
    ]
    assert claim_problems({**claims, "exp": claims["nbf"]}, now=later) == ["exp: expired"]
    no_sub = {k: v for k, v in claims.items() if k != "sub"}
    assert claim_problems(no_sub, now=later) == ["sub: does not match the credential"]
    assert claim_problems({**claims, "type": ["VerifiableCredential"]}, now=later) == [
        "type: not an OpenBadgeCredential"
    ]


def test_a_signed_badge_verifies_and_any_change_breaks_it() -> None:
    token = vc_jwt.sign(jwt_claims(badge()), KEY)
    header, claims = vc_jwt.verify(token)
    # only the headers the format allows; the public key, never the private "d"
    assert set(header) == {"alg", "typ", "jwk"} and header["alg"] == "RS256"
    assert header["typ"] == "JWT" and "d" not in header["jwk"]
    assert claims == jwt_claims(badge())
    head, _, signature = token.split(".")
    forged = dict(claims, name="Something else")
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    with pytest.raises(ValidationError, match="signature does not match"):
        vc_jwt.verify(f"{head}.{forged_payload}.{signature}")
    with pytest.raises(ValidationError, match="not a compact JWS"):
        vc_jwt.verify("not a token")


def test_tokens_outside_the_format_are_refused() -> None:
    claims = jwt_claims(badge())
    other = vc_jwt.generate_key()
    extra = jwt.encode(
        claims, KEY, algorithm="RS256", headers={"jwk": vc_jwt.public_jwk(KEY), "x5u": "https://x"}
    )
    with pytest.raises(ValidationError, match="'x5u' is not allowed"):
        vc_jwt.verify(extra)
    with pytest.raises(ValidationError, match="only RS256"):
        vc_jwt.verify(jwt.encode(claims, "a-shared-secret-of-32-bytes-long!", algorithm="HS256"))
    with pytest.raises(ValidationError, match="no jwk header"):
        vc_jwt.verify(jwt.encode(claims, KEY, algorithm="RS256"))
    private = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY))
    with pytest.raises(ValidationError, match="private key"):
        vc_jwt.verify(jwt.encode(claims, KEY, algorithm="RS256", headers={"jwk": private}))
    # signed by one key, claiming another: the signature does not check out
    lying = jwt.encode(claims, other, algorithm="RS256", headers={"jwk": vc_jwt.public_jwk(KEY)})
    with pytest.raises(ValidationError, match="signature does not match"):
        vc_jwt.verify(lying)


def test_keys_are_written_privately_never_overwritten_and_read_with_named_errors(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys" / "badge.pem"
    vc_jwt.write_key(KEY, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert vc_jwt.public_jwk(vc_jwt.read_key(path)) == vc_jwt.public_jwk(KEY)
    with pytest.raises(ValidationError, match="never overwritten"):
        vc_jwt.write_key(vc_jwt.generate_key(), path)
    assert vc_jwt.public_jwk(vc_jwt.read_key(path)) == vc_jwt.public_jwk(KEY)
    with pytest.raises(ValidationError, match="cannot read the badge key"):
        vc_jwt.read_key(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("hello")
    with pytest.raises(ValidationError, match=r"junk\.pem: not an unencrypted PEM private key"):
        vc_jwt.read_key(tmp_path / "junk.pem")


@settings(max_examples=25, deadline=None)
@given(
    learner=st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=40),
    seconds=st.integers(min_value=0, max_value=10**9),
)
def test_any_badge_round_trips_through_its_proof(learner: str, seconds: int) -> None:
    at = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=seconds % 7)
    credential = badge(learner=learner, valid_from=at)
    _, claims = vc_jwt.verify(vc_jwt.sign(jwt_claims(credential), KEY))
    assert claim_problems(claims, now=at + timedelta(seconds=1)) == []
    assert {k: v for k, v in claims.items() if k not in ("iss", "jti", "nbf", "sub")} == credential


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
CLAIMS = st.dictionaries(
    st.sampled_from(
        [
            "type",
            "id",
            "issuer",
            "credentialSubject",
            "validFrom",
            "nbf",
            "iss",
            "jti",
            "sub",
            "exp",
        ]
    ),
    JSON,
)


@settings(max_examples=200, deadline=None)
@given(payload=CLAIMS, text=st.text(max_size=60))
def test_any_signed_payload_or_text_gets_an_answer_never_a_crash(
    payload: dict[str, Any], text: str
) -> None:
    # a type list holding a list was a TypeError (a 500 at POST /badges/verify); signed
    # as raw JWS, past PyJWT's own checks of the claims it knows
    token = jwt.api_jws.encode(
        json.dumps(payload).encode(),
        KEY,
        algorithm="RS256",
        headers={"typ": "JWT", "jwk": vc_jwt.public_jwk(KEY)},
    )
    for candidate in (token, text):
        try:
            _, claims = vc_jwt.verify(candidate)
        except ValidationError:
            continue  # a 422 that says why
        assert isinstance(claim_problems(claims, now=AT), list)

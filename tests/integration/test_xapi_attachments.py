"""xAPI attachments and signed statements (both backends): the multipart/mixed
transmission format in and out, its refusals, signatures, export and erasure."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from masterypath.interop.xapi_multipart import read_transmission
from masterypath.services.context import ServiceContext
from masterypath.services.privacy import PrivacyService
from masterypath.store.tables import XapiAttachmentRow, XapiStatementRow
from tests.conftest import admin_client

V = {"X-Experience-API-Version": "2.0.0"}
ESSAY = b"My essay.\r\n--not-a-boundary\r\n\x00\xff binary bytes too\n"
SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"


def statement(n: int, learner: str = "stu-1", **changes: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "id": f"5a1e0000-0000-4000-8000-{n:012d}",
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://lms.example", "name": learner},
        },
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/completed",
            "display": {"en-US": "completed"},
        },
        "object": {"objectType": "Activity", "id": "https://lms.example/activities/essay"},
        "timestamp": "2026-12-07T10:00:00Z",
    }
    s.update(changes)
    return s


def attachment(content: bytes, **changes: Any) -> dict[str, Any]:
    a: dict[str, Any] = {
        "usageType": "https://school.example/attachments/essay",
        "display": {"en-US": "Essay"},
        "contentType": "text/plain",
        "length": len(content),
        "sha2": hashlib.sha256(content).hexdigest(),
    }
    a.update(changes)
    return a


def multipart(
    statements: Any,
    *parts: bytes,
    boundary: str = "b0undary",
    headers: dict[str, str] | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A multipart/mixed request: the statements, then each part (its hash computed)."""
    out = [
        f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode(),
        json.dumps(statements).encode(),
    ]
    for content in parts:
        part_headers = {
            "Content-Type": "text/plain",
            "Content-Transfer-Encoding": "binary",
            "X-Experience-API-Hash": hashlib.sha256(content).hexdigest(),
            **(headers or {}),
        }
        lines = "".join(f"{k}: {v}\r\n" for k, v in part_headers.items())
        out += [f"\r\n--{boundary}\r\n{lines}\r\n".encode(), content]
    out.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(out), {**V, "Content-Type": f'multipart/mixed; boundary="{boundary}"'}


@pytest.fixture
def client(database: ServiceContext) -> TestClient:
    return admin_client(database)


def stored(database: ServiceContext) -> tuple[int, int]:
    """How many statements and attachments' bytes are stored."""
    with database.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(XapiStatementRow)) or 0,
            session.scalar(select(func.count()).select_from(XapiAttachmentRow)) or 0,
        )


def test_the_specifications_example_goes_in_and_comes_back_with_its_bytes(
    client: TestClient,
) -> None:
    """The example of xAPI part three, 1.5.2, byte for byte (its odd boundary, a leading
    CRLF, a part whose Content-Type lacks its attachment's charset)."""
    boundary = "abcABC0123'()+_,-./:=?"
    sha2 = "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a"
    s = statement(
        1,
        attachments=[
            attachment(b"here is a simple attachment", contentType="text/plain; charset=ascii")
        ],
    )
    assert s["attachments"][0]["sha2"] == sha2
    body = (
        f"\r\n--{boundary}\r\nContent-Type:application/json\r\n\r\n{json.dumps(s)}\r\n"
        f"--{boundary}\r\nContent-Type:text/plain\r\nContent-Transfer-Encoding:binary\r\n"
        f"X-Experience-API-Hash:{sha2}\r\n\r\nhere is a simple attachment\r\n--{boundary}--"
    ).encode()
    headers = {**V, "Content-Type": f'multipart/mixed; boundary="{boundary}"'}
    response = client.post("/xapi/statements", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == [s["id"]]

    plain = client.get("/xapi/statements", params={"statementId": s["id"]}, headers=V)
    assert plain.headers["content-type"] == "application/json"
    assert plain.json()["attachments"] == s["attachments"]
    got = client.get(
        "/xapi/statements", params={"statementId": s["id"], "attachments": "true"}, headers=V
    )
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("multipart/mixed; boundary=")
    answer = read_transmission(got.content, got.headers["content-type"])
    assert json.loads(answer.statements)["id"] == s["id"]
    assert [(a.sha2, a.content, a.content_type) for a in answer.attachments.values()] == [
        (sha2, b"here is a simple attachment", "text/plain")
    ]


def test_binary_bytes_round_trip_and_shared_bytes_are_stored_and_sent_once(
    client: TestClient, database: ServiceContext
) -> None:
    """Bytes with NUL, CRLF and a fake boundary come back exactly; two statements (of two
    learners) with the same attachment keep one copy, and a page sends it once."""
    first = statement(1, attachments=[attachment(ESSAY)])
    second = statement(2, learner="stu-2", attachments=[attachment(ESSAY)])
    body, headers = multipart([first, second], ESSAY)
    response = client.post("/xapi/statements", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert stored(database) == (2, 1)

    page = client.get("/xapi/statements", params={"attachments": "true"}, headers=V)
    answer = read_transmission(page.content, page.headers["content-type"])
    assert [s["id"] for s in json.loads(answer.statements)["statements"]] == [
        second["id"],
        first["id"],
    ]
    assert [a.content for a in answer.attachments.values()] == [ESSAY]

    # a statement whose attachment has a fileUrl goes in as JSON, and has no bytes to send
    linked = statement(3, attachments=[attachment(b"elsewhere", fileUrl="https://cdn.example/e")])
    assert client.post("/xapi/statements", json=linked, headers=V).status_code == 200
    one = client.get(
        "/xapi/statements", params={"statementId": linked["id"], "attachments": "true"}, headers=V
    )
    assert read_transmission(one.content, one.headers["content-type"]).attachments == {}


def test_put_takes_a_multipart_statement(client: TestClient, database: ServiceContext) -> None:
    s = statement(1, attachments=[attachment(ESSAY)])
    body, headers = multipart(s, ESSAY)
    response = client.put(
        "/xapi/statements", params={"statementId": s["id"]}, content=body, headers=headers
    )
    assert response.status_code == 204, response.text
    assert stored(database) == (1, 1)


def refusal(client: TestClient, body: bytes, headers: dict[str, str]) -> str:
    response = client.post("/xapi/statements", content=body, headers=headers)
    assert response.status_code == 400, response.text
    return str(response.json()["message"])


def test_a_batch_that_breaks_the_transmission_rules_is_refused_whole_naming_the_fault(
    client: TestClient, database: ServiceContext
) -> None:
    good = statement(1, attachments=[attachment(ESSAY)])
    # an attachment without fileUrl in a JSON request: its bytes cannot have come
    response = client.post("/xapi/statements", json=[statement(2), good], headers=V)
    assert response.status_code == 400
    assert "statements[1]: attachments[0]: no fileUrl" in response.json()["message"]
    # multipart, but its part missing
    assert "no part of the request has its sha2" in refusal(client, *multipart([good]))
    # a part no attachment names
    body, headers = multipart([good], ESSAY, b"stray")
    stray = hashlib.sha256(b"stray").hexdigest()
    assert f"part with X-Experience-API-Hash {stray}" in refusal(client, body, headers)
    # a hash that is not the part's
    body, headers = multipart([good], ESSAY, headers={"X-Experience-API-Hash": "ab" * 32})
    assert "part 2: X-Experience-API-Hash is not the SHA-2" in refusal(client, body, headers)
    # another transfer encoding
    body, headers = multipart([good], ESSAY, headers={"Content-Transfer-Encoding": "base64"})
    assert "must be binary" in refusal(client, body, headers)
    # a length or media type that is not the part's
    short = statement(3, attachments=[attachment(ESSAY, length=3)])
    assert "length 3: its part has" in refusal(client, *multipart([short], ESSAY))
    image = statement(4, attachments=[attachment(ESSAY, contentType="image/png")])
    assert "differs from its part's" in refusal(client, *multipart([image], ESSAY))
    # the first part must be the statements, as JSON, without a NUL
    body, headers = multipart([good], ESSAY)
    assert "part 1" in refusal(client, body.replace(b"application/json", b"text/plain", 1), headers)
    nul = statement(5, attachments=[attachment(ESSAY)], result={"response": "a\u0000b"})
    assert "part 1: 0.result.response: contains a NUL" in refusal(client, *multipart([nul], ESSAY))
    # no boundary; not multipart at all
    headers = {**V, "Content-Type": "multipart/mixed"}
    assert "needs a boundary" in refusal(client, b"--x\r\n\r\n", headers)
    headers = {**V, "Content-Type": "multipart/mixed; boundary=x"}
    assert "not a multipart/mixed body" in refusal(client, b"garbage", headers)
    assert stored(database) == (0, 0)


def signing_key() -> tuple[rsa.RSAPrivateKey, str]:
    """An RSA key and a self-signed X.509 certificate of it (base64 DER, for x5c)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lms.example")])
    now = datetime(2026, 12, 1, tzinfo=UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    return key, base64.b64encode(der).decode("ascii")


def signed(
    s: dict[str, Any], key: Any, *, x5c: str | None, algorithm: str = "RS256", payload: Any = None
) -> tuple[dict[str, Any], bytes]:
    """``s`` with a signature attachment, and the signature's bytes."""
    headers = {"x5c": [x5c]} if x5c else None
    token = (
        jwt.PyJWS()
        .encode(
            json.dumps(s if payload is None else payload).encode(),
            key,
            algorithm=algorithm,
            headers=headers,
        )
        .encode("ascii")
    )
    sig = attachment(token, usageType=SIGNATURE, contentType="application/octet-stream")
    return {**s, "attachments": [*s.get("attachments", []), sig]}, token


def post_signed(client: TestClient, s: dict[str, Any], token: bytes) -> Any:
    body, headers = multipart([s], token, headers={"Content-Type": "application/octet-stream"})
    return client.post("/xapi/statements", content=body, headers=headers)


def test_signed_statements_are_checked_and_a_malformed_signature_is_refused(
    client: TestClient, database: ServiceContext
) -> None:
    key, certificate = signing_key()
    other_key, _ = signing_key()
    s = statement(1)
    response = post_signed(client, *signed(s, key, x5c=certificate))
    assert response.status_code == 200, response.text
    # the signature is sent back with its statement
    got = client.get(
        "/xapi/statements", params={"statementId": s["id"], "attachments": "true"}, headers=V
    )
    sent_back = next(
        iter(read_transmission(got.content, got.headers["content-type"]).attachments.values())
    )
    assert (
        jwt.PyJWS().decode(sent_back.content, key.public_key(), algorithms=["RS256"])
        == json.dumps(s).encode()
    )

    # signed without an x5c: the payload is still compared; RS512 is fine
    assert (
        post_signed(client, *signed(statement(2), key, x5c=None, algorithm="RS512")).status_code
        == 200
    )
    # the LRS may set what the signer left out (stored, authority) and show the verb differently
    bare = statement(3)
    sent, token = signed(bare, key, x5c=certificate)
    sent = {**sent, "verb": {"id": bare["verb"]["id"], "display": {"fr": "terminé"}}}
    assert post_signed(client, sent, token).status_code == 200

    def refused(s: dict[str, Any], token: bytes) -> str:
        response = post_signed(client, s, token)
        assert response.status_code == 400, response.text
        return str(response.json()["message"])

    changed, token = signed(statement(4), key, x5c=certificate)
    assert "not the statement it is attached to" in refused(
        {**changed, "result": {"success": True}}, token
    )
    assert "does not verify against the certificate" in refused(
        *signed(statement(5), other_key, x5c=certificate)
    )
    hs256, token = signed(statement(6), b"k" * 32, x5c=None, algorithm="HS256")
    assert "alg 'HS256'" in refused(hs256, token)
    junk = statement(
        7,
        attachments=[
            attachment(b"junk", usageType=SIGNATURE, contentType="application/octet-stream")
        ],
    )
    assert "not a JWS" in refused(junk, b"junk")
    with_mbox = statement(8, actor={"objectType": "Agent", "mbox": "mailto:kim@school.example"})
    assert "e-mail address" in refused(*signed(with_mbox, key, x5c=certificate))
    wrong_type, token = signed(statement(9), key, x5c=certificate)
    wrong_type["attachments"][0]["contentType"] = "text/plain"
    body, headers = multipart([wrong_type], token)
    assert "a signature's contentType is application/octet-stream" in refusal(client, body, headers)
    by_url = statement(
        10, attachments=[attachment(b"x", usageType=SIGNATURE, fileUrl="https://x.example/s")]
    )
    response = client.post("/xapi/statements", json=by_url, headers=V)
    assert response.status_code == 400
    assert "a signature comes as a part of the request" in response.json()["message"]
    assert stored(database) == (3, 3)


def test_a_learners_attachments_are_exported_and_erased_with_them_unless_shared(
    client: TestClient, database: ServiceContext
) -> None:
    own = b"only stu-1 sent this"
    first = statement(1, attachments=[attachment(ESSAY), attachment(own)])
    second = statement(2, learner="stu-2", attachments=[attachment(ESSAY)])
    body, headers = multipart([first, second], ESSAY, own)
    assert client.post("/xapi/statements", content=body, headers=headers).status_code == 200
    privacy = PrivacyService(database)

    exported = privacy.export("stu-1")["xapi_attachments"]
    assert sorted((a["statement_id"], base64.b64decode(a["content"])) for a in exported) == sorted(
        [(first["id"], ESSAY), (first["id"], own)]
    )
    counts = privacy.erase("stu-1", by="admin")
    assert counts["xapi_attachments"] == 1  # their own bytes; the essay is also stu-2's
    assert stored(database) == (1, 1)
    page = client.get("/xapi/statements", params={"attachments": "true"}, headers=V)
    assert [
        a.content
        for a in read_transmission(page.content, page.headers["content-type"]).attachments.values()
    ] == [ESSAY]
    assert privacy.erase("stu-2", by="admin")["xapi_attachments"] == 1
    assert stored(database) == (0, 0)


def test_voiding_statements_come_without_attachment_bytes(client: TestClient) -> None:
    target = statement(1)
    assert client.post("/xapi/statements", json=target, headers=V).status_code == 200
    voiding = statement(
        2,
        verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
        object={"objectType": "StatementRef", "id": target["id"]},
        attachments=[attachment(ESSAY)],
    )
    assert "voiding statements come without attachment parts" in refusal(
        client, *multipart([voiding], ESSAY)
    )
    response = client.post("/xapi/statements", json=voiding, headers=V)
    assert response.status_code == 400
    assert "a voiding statement's attachments need a fileUrl" in response.json()["message"]

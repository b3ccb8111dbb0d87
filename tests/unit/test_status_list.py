"""The badges' revocation list: W3C Bitstring Status List encoding, bit by bit."""

from __future__ import annotations

import base64
import gzip
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masterypath.domain.status_list import (
    LIST_SIZE,
    MAX_DECODED,
    bit_is_set,
    decode_bits,
    encode_bits,
    status_entry,
    status_list_credential,
)
from masterypath.errors import ValidationError

# the example list of the specification (a 16 KiB list, no bit set)
SPEC_EXAMPLE = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"


def test_the_specifications_example_reads_as_an_empty_list_of_the_minimum_size() -> None:
    assert decode_bits(SPEC_EXAMPLE) == bytes(LIST_SIZE // 8)
    assert decode_bits(encode_bits([])) == decode_bits(SPEC_EXAMPLE)


def test_bit_zero_is_the_leftmost_bit_of_the_first_byte() -> None:
    bits = decode_bits(encode_bits({0, 7, 8, LIST_SIZE - 1}))
    assert (bits[0], bits[1], bits[2], bits[-1]) == (0b1000_0001, 0b1000_0000, 0, 0b0000_0001)
    assert len(bits) == 16_384


@settings(max_examples=50, deadline=None)
@given(st.sets(st.integers(0, 1023), max_size=40))
def test_a_bit_is_set_exactly_when_its_badge_is_revoked(revoked: set[int]) -> None:
    encoded = encode_bits(revoked, size=1024)
    assert encoded.startswith("u") and "=" not in encoded
    assert {i for i in range(1024) if bit_is_set(encoded, i)} == revoked


def test_the_same_bits_give_the_same_text() -> None:
    assert encode_bits({5, 99}) == encode_bits([99, 5])


@pytest.mark.parametrize(
    ("encoded", "field", "reason"),
    [
        ("H4sIAAAA", "encodedList", "multibase"),
        ("u!!!", "encodedList", "not GZIP"),
        ("u" + base64.urlsafe_b64encode(b"plain").decode().rstrip("="), "encodedList", "GZIP"),
        (
            "u"
            + base64.urlsafe_b64encode(gzip.compress(bytes(MAX_DECODED + 8))).decode().rstrip("="),
            "encodedList",
            "inflates past",
        ),
    ],
)
def test_a_list_that_is_not_one_is_refused_naming_why(
    encoded: str, field: str, reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason) as raised:
        decode_bits(encoded)
    assert raised.value.field == field


def test_bits_outside_the_list_are_refused() -> None:
    with pytest.raises(ValidationError, match="outside"):
        encode_bits({LIST_SIZE})
    with pytest.raises(ValidationError, match="outside"):
        bit_is_set(encode_bits([], size=8), 8)
    with pytest.raises(ValidationError, match="multiple of 8"):
        encode_bits([], size=12)


def test_entry_and_list_credential_follow_the_data_model() -> None:
    url = "https://school.example/badges/status/1"
    assert status_entry(url, 42) == {
        "id": f"{url}#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "42",
        "statusListCredential": url,
    }
    listed = status_list_credential(
        issuer_id="https://school.example/",
        list_url=url,
        encoded=SPEC_EXAMPLE,
        valid_from=datetime(2026, 12, 6, 10, 0, 0, 123, tzinfo=UTC),
    )
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert listed["validFrom"] == "2026-12-06T10:00:00Z"
    assert listed["credentialSubject"] == {
        "id": f"{url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": "revocation",
        "encodedList": SPEC_EXAMPLE,
    }

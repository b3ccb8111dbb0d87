from __future__ import annotations

from datetime import UTC, datetime

import pytest

from masterypath.errors import InvalidInputError, ValidationError
from masterypath.interop.evidence_log import ColumnMapping, read_evidence_log, read_text
from tests.conftest import data_file

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
MAP = ColumnMapping.parse("user=u,skill=s,correct=c,order=o,item=i,time=t")


def read(text: str, mapping: ColumnMapping = MAP, **kw: object):  # type: ignore[no-untyped-def]
    return read_evidence_log(text, mapping, source="log", imported_at=NOW, **kw)  # type: ignore[arg-type]


def test_rows_become_ledger_rows_with_stable_keys() -> None:
    result = read(
        "u,s,c,o,i,t\nl1,add,1,10,q1,2026-01-01T10:00:00Z\n"
        "l1,mul,0,11,q2,2026-01-01T11:00:00+01:00\n"
    )
    rows = result.rows
    assert rows["key"].tolist() == ["log:l1:10", "log:l1:11"]
    assert rows["outcome"].tolist() == ["b1", "b0"]
    assert rows["timestamp"].tolist() == ["2026-01-01T10:00:00+00:00", "2026-01-01T10:00:00+00:00"]
    assert rows["item_id"].tolist() == ["q1", "q2"]


def test_every_bad_row_is_named_and_nothing_passes() -> None:
    text = (
        "u,s,c,o,i,t\n"
        "l1,add,1,1,q,2026-01-01T10:00:00Z\n"  # line 2 ok
        "l1,add,,2,q,2026-01-01T10:00:00Z\n"  # line 3 missing correct
        "l1,add,yes,3,q,2026-01-01T10:00:00Z\n"  # line 4 non-numeric correct
        "l1,add,1,4,q,2026-01-01 10:00:00\n"  # line 5 naive time
        "l1,,1,5,q,2026-01-01T10:00:00Z\n"  # line 6 missing skill
        "l1,add,1,x,q,2026-01-01T10:00:00Z\n"
    )  # line 7 bad order
    with pytest.raises(InvalidInputError) as exc:
        read(text)
    got = [(p.location, p.field) for p in exc.value.problems]
    assert got == [
        ("line 3", "c"),
        ("line 4", "c"),
        ("line 5", "t"),
        ("line 6", "s"),
        ("line 7", "o"),
    ]
    assert "must be 0 or 1, got 'yes'" in str(exc.value)
    assert "naive timestamp" in str(exc.value)
    skipped = read(text, skip_bad_rows=True)
    assert len(skipped.rows) == 1 and len(skipped.rejected) == 5


def test_timezone_option_localises_naive_times() -> None:
    result = read("u,s,c,o,i,t\nl1,add,1,1,q,2026-07-01 10:00:00\n", timezone="Europe/Paris")
    assert result.rows["timestamp"].tolist() == ["2026-07-01T08:00:00+00:00"]


def test_rows_sharing_an_order_are_one_multi_skill_answer() -> None:
    text = "u,s,c,o\nl1,add,1,7\nl1,mul,1,7\nl1,add,0,8\n"
    result = read(text, ColumnMapping.parse("user=u,skill=s,correct=c,order=o"))
    assert result.rows["skill"].tolist() == ["add\x1emul", "add"]
    assert result.merged_rows == 1
    conflicting = "u,s,c,o\nl1,add,1,7\nl1,mul,0,7\n"
    with pytest.raises(InvalidInputError, match="disagree on the outcome"):
        read(conflicting, ColumnMapping.parse("user=u,skill=s,correct=c,order=o"))


def test_score_column_and_separator() -> None:
    mapping = ColumnMapping.parse("user=u,skill=s,score=p,order=o,skill_separator=~~")
    result = read("u,s,p,o\nl1,a~~b,0.75,1\n", mapping)
    assert result.rows["outcome"].tolist() == ["s0.75"]
    assert result.rows["skill"].tolist() == ["a\x1eb"]
    with pytest.raises(InvalidInputError, match=r"must be a number in \[0, 1\], got '1.5'"):
        read("u,s,p,o\nl1,a,1.5,1\n", mapping)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user=u,skill=s,order=o", "exactly one of correct= or score="),
        ("user=u,skill=s,correct=c", "missing role(s): order"),
        ("user=u,skill=s,correct=c,order=o,colour=x", "unknown role 'colour'"),
        ("user=u,skill", "is not role=column"),
    ],
)
def test_bad_column_mapping(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ColumnMapping.parse(text)


def test_missing_column_lists_what_the_file_has() -> None:
    with pytest.raises(
        InvalidInputError, match=r"column\(s\) not found: user='u'.*the file has: a, b"
    ):
        read("a,b\n1,2\n", ColumnMapping.parse("user=u,skill=s,correct=c,order=o"))


def test_raw_assistments_schema_preset() -> None:
    text = read_text(data_file("kt/pybkt_examples/as_subset_2020-06-24_04f7936.csv.gz"))
    result = read(text, ColumnMapping.parse("assistments"))
    assert (result.total_rows, len(result.rows), len(result.rejected)) == (10791, 10791, 0)
    assert set(result.rows["skill"]) == {"Box and Whisker", "Table"}


def test_kdd_cup_preset_reports_rows_without_a_skill() -> None:
    text = read_text(data_file("kt/pybkt_examples/ct_2020-05-27_8958cf7.tsv.gz"))
    with pytest.raises(InvalidInputError) as exc:
        read(text, ColumnMapping.parse("kddcup"))
    assert len(exc.value.problems) == 18220 - 14701  # the rows pyBKT drops for having no KC
    assert {p.reason for p in exc.value.problems} == {"missing value"}
    result = read(text, ColumnMapping.parse("kddcup"), skip_bad_rows=True)
    assert len(result.rows) == 14701
    assert result.rows["skill"].str.contains("\x1e").sum() > 0  # "~~"-joined KCs kept together

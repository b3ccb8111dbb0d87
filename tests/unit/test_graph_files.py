"""Both real prerequisite graphs of ../shared/data/graphs must import."""

from __future__ import annotations

import pytest

from masterypath.errors import InvalidInputError
from masterypath.interop.graph_files import GraphRepairs, parse_edge
from masterypath.interop.loader import LoadOptions, load_framework_file
from tests.conftest import data_file

JUNYI_REPAIRS = GraphRepairs(
    split_joined_ids=True,
    drop_edges=frozenset(
        {
            ("proportions_1", "proportions_1"),
            ("number_sense_length_l1", "number_sense_length_l1"),
            ("simplifying_radicals", "adding_and_subtracting_radicals"),
        }
    ),
)


@pytest.mark.parametrize("name", ["DBE-KT22.graphml.gz", "DBE-KT22.json.gz"])
def test_dbe_kt22_imports(name: str) -> None:
    result = load_framework_file(
        data_file(f"graphs/{name}"),
        LoadOptions(repairs=GraphRepairs(edge_direction="dependent-first")),
    )
    fw = result.framework
    assert (len(fw), len(fw.edges())) == (98, 101)
    assert fw.id == "dbe-kt22"
    assert fw.competency("42").title == "Natural Join"
    # 'Natural Join -> Join' read dependent-first: Join (33) is a prerequisite of Natural Join
    assert "33" in {p.competency_id for p in fw.competency("42").prerequisites}
    assert result.notes == ()


@pytest.mark.parametrize("name", ["Junyi-Prerequisites.graphml.gz", "Junyi-Prerequisites.json.gz"])
def test_junyi_problems_are_each_named(name: str) -> None:
    path = data_file(f"graphs/{name}")
    with pytest.raises(InvalidInputError) as exc:
        load_framework_file(path)
    joined = [p for p in exc.value.problems if "joins" in p.reason]
    assert len(joined) == len(exc.value.problems) == 169
    assert any(p.location == "node 'domain_of_a_function,range_of_a_function'" for p in joined)

    with pytest.raises(InvalidInputError) as exc:
        load_framework_file(path, LoadOptions(repairs=GraphRepairs(split_joined_ids=True)))
    reasons = sorted(str(p) for p in exc.value.problems)
    assert len(reasons) == 3
    assert reasons[0].startswith(
        "edge 'number_sense_length_l1' -> 'number_sense_length_l1': edge: self-loop"
    )
    assert reasons[1].startswith("edge 'proportions_1' -> 'proportions_1': edge: self-loop")
    assert (
        "adding_and_subtracting_radicals -> radical_multiplication_and_division -> "
        "simplifying_radicals -> adding_and_subtracting_radicals"
    ) in reasons[2]


@pytest.mark.parametrize("name", ["Junyi-Prerequisites.graphml.gz", "Junyi-Prerequisites.json.gz"])
def test_junyi_imports_with_explicit_repairs_all_reported(name: str) -> None:
    result = load_framework_file(data_file(f"graphs/{name}"), LoadOptions(repairs=JUNYI_REPAIRS))
    fw = result.framework
    assert (len(fw), len(fw.edges())) == (835, 978)
    assert "addition_1" in fw and "domain_of_a_function,range_of_a_function" not in fw
    splits = [n for n in result.notes if n.startswith("split joined id")]
    drops = [n for n in result.notes if n.startswith("dropped edge")]
    assert len(splits) == 169 and len(drops) == 3


def test_dropping_an_edge_that_does_not_exist_is_an_error() -> None:
    repairs = GraphRepairs(edge_direction="dependent-first", drop_edges=frozenset({("x", "y")}))
    with pytest.raises(InvalidInputError, match="--drop-edge x->y: edge: no such edge"):
        load_framework_file(data_file("graphs/DBE-KT22.json.gz"), LoadOptions(repairs=repairs))


def test_parse_edge() -> None:
    assert parse_edge(" a -> b ") == ("a", "b")
    with pytest.raises(InvalidInputError, match="prerequisite->dependent"):
        parse_edge("a,b")

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from masterypath.domain.framework import Competency, Framework, Prerequisite, UnlockStatus
from masterypath.errors import InvalidInputError
from masterypath.interop.case import export_case, import_case

FIXTURE = Path(__file__).parents[1] / "fixtures" / "case_fractions.json"
A1, A2, A3, A4 = (f"9b1f2a40-0000-4000-8000-0000000000a{i}" for i in range(1, 5))
STAMP = "2026-02-01T00:00:00+00:00"


@pytest.fixture
def package() -> dict[str, Any]:
    package: dict[str, Any] = json.loads(FIXTURE.read_text())
    return package


def test_import_maps_hierarchy_precedes_and_statements(package: dict[str, Any]) -> None:
    result = import_case(package, source="fixture")
    fw = result.framework
    assert fw.id == "9b1f2a40-0000-4000-8000-000000000001"
    assert fw.title == "Fractions (grade 4, test fixture)"
    assert fw.ids == (A1, A2, A3, A4)
    eq = fw.competency(A2)
    assert (eq.title, eq.code, eq.parent_id) == ("Equivalent fractions", "4.NF.A.1", A1)
    assert eq.description.startswith("Explain why")
    assert fw.competency(A1).parent_id is None  # child of the document = top level
    assert fw.edges() == ((A2, A3, UnlockStatus.MASTERED), (A2, A4, UnlockStatus.MASTERED))
    assert result.notes == ("ignored 1 association(s) of type 'exactMatchOf'",)


def test_round_trip_import_export_import(package: dict[str, Any]) -> None:
    first = import_case(package, source="fixture").framework
    exported = export_case(first, last_change=STAMP)
    again = import_case(json.loads(json.dumps(exported)), source="export").framework
    assert again == first
    assert [i["identifier"] for i in exported["CFItems"]] == [A1, A2, A3, A4]


def test_round_trip_of_non_uuid_ids_and_proficient_edges() -> None:
    fw = Framework(
        id="arith",
        title="Arithmetic",
        competencies=(
            Competency(id="add", title="Add", description="Add whole numbers", code="A.1"),
            Competency(
                id="mul",
                title="Multiply",
                parent_id="add",
                prerequisites=(Prerequisite("add", UnlockStatus.PROFICIENT),),
            ),
        ),
    )
    package = export_case(fw, last_change=STAMP)
    for item in package["CFItems"]:
        assert len(item["identifier"]) == 36  # UUIDs, as CASE requires
    assert import_case(package, source="x").framework == fw
    # without our extension, ids can come from humanCodingScheme instead
    stripped = copy.deepcopy(package)
    for obj in [stripped["CFDocument"], *stripped["CFItems"]]:
        obj.pop("extensions")
    with pytest.raises(InvalidInputError) as exc:
        import_case(stripped, source="x", id_field="humanCodingScheme", framework_id="arith")
    assert ("CFItems[1]", "humanCodingScheme") in {
        (p.location, p.field) for p in exc.value.problems
    }


def test_export_is_deterministic(package: dict[str, Any]) -> None:
    fw = import_case(package, source="fixture").framework
    assert export_case(fw, last_change=STAMP) == export_case(fw, last_change=STAMP)


@pytest.mark.parametrize(
    ("mutate", "location", "field"),
    [
        (lambda p: p.pop("CFDocument"), "package", "CFDocument"),
        (lambda p: p["CFItems"][1].pop("identifier"), "CFItems[1]", "identifier"),
        (lambda p: p["CFItems"][2].pop("fullStatement"), "CFItems[2]", "fullStatement"),
        (
            lambda p: p["CFAssociations"][4]["originNodeURI"].update(identifier="missing"),
            "CFAssociations[4]",
            "originNodeURI",
        ),
        (lambda p: p.update(CFItems="oops"), "package", "CFItems"),
    ],
)
def test_malformed_case_names_location_and_field(
    package: dict[str, Any], mutate: Any, location: str, field: str
) -> None:
    mutate(package)
    with pytest.raises(InvalidInputError) as exc:
        import_case(package, source="bad.json")
    assert (location, field) in {(p.location, p.field) for p in exc.value.problems}
    assert str(exc.value).startswith("bad.json:")


def test_a_cycle_of_precedes_is_rejected_with_its_path(package: dict[str, Any]) -> None:
    back = copy.deepcopy(package["CFAssociations"][4])
    back["originNodeURI"], back["destinationNodeURI"] = (
        back["destinationNodeURI"],
        back["originNodeURI"],
    )
    package["CFAssociations"].append(back)
    with pytest.raises(Exception, match=f"{A2} -> {A3} -> {A2}"):
        import_case(package, source="cyclic.json")

"""Career alignment outputs: a CSV matrix, an HTML report with a chart, CASE associations.

>>> from masterypath.domain.careers import CoverageReport, CoveredSkill
>>> report = CoverageReport("dba", "database administrator", (
...     CoveredSkill("sql", "SQL", True, ("select",)),
...     CoveredSkill("backup", "backups", True, ()),
... ))
>>> print(coverage_matrix_csv(report, ["select"]), end="")
skill_id,skill,essential,covered,select
sql,SQL,1,1,1
backup,backups,1,0,0
"""

from __future__ import annotations

import csv
import html
import io
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from masterypath.domain.careers import CoverageReport
from masterypath.domain.framework import Framework
from masterypath.interop.case import EXTENSION, NAMESPACE, case_identifier
from masterypath.interop.spreadsheet import spreadsheet_safe

ESCO_SKILL_URI = "http://data.europa.eu/esco/skill/"


def coverage_matrix_csv(report: CoverageReport, competencies: Sequence[str]) -> str:
    """One row per required skill, one 0/1 column per competency that covers it (text
    that a spreadsheet would run as a formula quoted: :mod:`~masterypath.interop.spreadsheet`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["skill_id", "skill", "essential", "covered", *map(spreadsheet_safe, competencies)]
    )
    for skill in report.skills:
        covering = set(skill.competencies)
        writer.writerow(
            [
                spreadsheet_safe(skill.skill_id),
                spreadsheet_safe(skill.label),
                int(skill.essential),
                int(bool(covering)),
                *(int(c in covering) for c in competencies),
            ]
        )
    return out.getvalue()


def coverage_to_dict(report: CoverageReport) -> dict[str, Any]:
    """A coverage report as JSON-ready data."""
    return {
        "occupation_id": report.occupation_id,
        "occupation": report.label,
        "essential_share": round(report.essential_share, 4),
        "optional_share": round(report.optional_share, 4),
        "skills": [
            {
                "skill_id": s.skill_id,
                "skill": s.label,
                "essential": s.essential,
                "group": s.group,
                "competencies": list(s.competencies),
            }
            for s in report.skills
        ],
        "missing_essential": [s.skill_id for s in report.missing_essential],
        "missing_optional": [s.skill_id for s in report.missing_optional],
    }


def skill_uri(source: str, taxonomy_id: str, skill_id: str) -> str:
    """ESCO skills keep their official URI; others get a stable URN."""
    if source == "esco":
        return ESCO_SKILL_URI + skill_id
    return f"urn:masterypath:taxonomy:{taxonomy_id}:skill:{skill_id}"


def career_associations(
    framework: Framework,
    links: Sequence[Mapping[str, Any]],
    *,
    source: str,
    last_change: str,
) -> list[dict[str, Any]]:
    """CASE ``CFAssociations`` for confirmed links: origin = the competency's CFItem,
    destination = the career skill's URI, type ``exactMatchOf`` or ``isRelatedTo``."""
    doc_id = case_identifier(framework.id)
    doc_link = {"title": framework.title, "identifier": doc_id, "uri": f"urn:uuid:{doc_id}"}
    out = []
    for seq, link in enumerate(links, start=1):
        origin_id = case_identifier(framework.id, str(link["competency_id"]))
        dest_uri = skill_uri(source, str(link["taxonomy_id"]), str(link["skill_id"]))
        kind = str(link["match"])
        identifier = str(uuid.uuid5(NAMESPACE, f"{kind}:{origin_id}:{dest_uri}"))
        out.append(
            {
                "identifier": identifier,
                "uri": f"urn:uuid:{identifier}",
                "CFDocumentURI": doc_link,
                "associationType": kind,
                "sequenceNumber": seq,
                "originNodeURI": {
                    "title": framework.competency(str(link["competency_id"])).title,
                    "identifier": origin_id,
                    "uri": f"urn:uuid:{origin_id}",
                },
                "destinationNodeURI": {
                    "title": str(link["skill"]),
                    "identifier": dest_uri,
                    "uri": dest_uri,
                },
                "lastChangeDateTime": last_change,
                "extensions": {
                    EXTENSION: {
                        "taxonomy": link["taxonomy_id"],
                        "skill_id": link["skill_id"],
                        "score": link["score"],
                        "confirmed_by": link["decided_by"],
                    }
                },
            }
        )
    return out


def _bar(y: int, label: str, share: float, colour: str) -> str:
    width = round(300 * share)
    return (
        f'<text x="0" y="{y + 14}" font-size="13">{html.escape(label)}</text>'
        f'<rect x="200" y="{y}" width="300" height="18" fill="#e6e6e6"/>'
        f'<rect x="200" y="{y}" width="{width}" height="18" fill="{colour}"/>'
        f'<text x="510" y="{y + 14}" font-size="13">{share:.0%}</text>'
    )


def coverage_html(report: CoverageReport, best: Sequence[CoverageReport], *, programme: str) -> str:
    """A self-contained page: a bar chart of coverage and the lists behind it."""
    esc = html.escape
    bars = [
        _bar(0, "Essential skills", report.essential_share, "#0b5394"),
        _bar(26, "Optional skills", report.optional_share, "#6fa8dc"),
    ]
    for i, other in enumerate(best, start=2):
        bars.append(_bar(26 * i + 12, other.label[:28], other.essential_share, "#38761d"))
    height = 26 * (len(best) + 2) + 12
    chart_title = "Share of essential and optional skills covered" + (
        ", and the best-covered occupations" if best else ""
    )
    best_title = (
        f'<text x="0" y="{26 * 2 + 6}" font-size="12" font-weight="bold">'
        "Occupations this programme covers best (essential skills)</text>"
        if best
        else ""
    )

    def rows(essential: bool, covered: bool) -> str:
        items = [
            s for s in report.skills if s.essential == essential and bool(s.competencies) == covered
        ]
        if not items:
            return "<li>none</li>"
        return "".join(
            f"<li>{esc(s.label)}"
            + (f" <small>({esc(s.group)})</small>" if s.group else "")
            + (f" — covered by {esc(', '.join(s.competencies))}" if covered else "")
            + "</li>"
            for s in items
        )

    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Career coverage: {esc(report.label)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#1a1a1a}}h2{{margin-top:1.5rem}}</style></head><body><main>
<h1>{esc(programme)} → {esc(report.label)}</h1>
<p>{len(report.skills) - len(report.missing_essential) - len(report.missing_optional)} of
{len(report.skills)} required skills are covered by confirmed alignments:
{report.essential_share:.0%} of the essential and {report.optional_share:.0%} of the optional
skills.</p>
<figure><svg role="img" aria-labelledby="chart-title" width="560" height="{height + 20}"
viewBox="0 0 560 {height + 20}"><title id="chart-title">{chart_title}</title>
{best_title}{"".join(bars)}</svg>
<figcaption>Bars: share of required skills covered by at least one confirmed
competency.</figcaption></figure>
<h2>Missing essential skills ({len(report.missing_essential)})</h2><ul>{rows(True, False)}</ul>
<h2>Covered essential skills</h2><ul>{rows(True, True)}</ul>
<h2>Missing optional skills ({len(report.missing_optional)})</h2><ul>{rows(False, False)}</ul>
<h2>Covered optional skills</h2><ul>{rows(False, True)}</ul>
</main></body></html>
"""

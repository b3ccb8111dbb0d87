"""``masterypath careers``: import a taxonomy, align a framework to it, decide, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from masterypath.cli_support import (
    JsonOption,
    only_framework,
    open_context,
    out,
    print_json,
    register_commands,
)
from masterypath.domain.careers import Decision, MatchKind
from masterypath.errors import InvalidInputError, Problem
from masterypath.interop.career_reports import (
    coverage_html,
    coverage_matrix_csv,
    coverage_to_dict,
)
from masterypath.interop.taxonomies import read_esco, read_generic_csv
from masterypath.nlp.embeddings import load_encoder
from masterypath.services.careers import CareerService
from masterypath.services.context import ServiceContext
from masterypath.services.frameworks import FrameworkService
from masterypath.settings import Settings

app = typer.Typer(help="Curriculum-career alignment (ESCO or a generic CSV taxonomy).")

FrameworkOption = Annotated[
    str | None, typer.Option("--framework", help="Framework id (default: the only one).")
]
TaxonomyOption = Annotated[str, typer.Option("--taxonomy", help="Taxonomy id.")]


def _service(context: ServiceContext | None = None) -> tuple[CareerService, ServiceContext]:
    context = context or open_context()
    encoder = load_encoder(enabled=Settings.from_environment().embeddings)
    return CareerService(context, encoder=encoder), context


def _framework(context: ServiceContext, framework: str | None) -> str:
    return framework or only_framework(FrameworkService(context))


def import_taxonomy(
    source: Annotated[Path, typer.Argument(help="ESCO folder, or a generic CSV file.")],
    taxonomy_id: Annotated[str | None, typer.Option("--id", help="Taxonomy id.")] = None,
    title: Annotated[str, typer.Option(help="Title.")] = "",
    replace: Annotated[bool, typer.Option(help="Overwrite a stored taxonomy.")] = False,
    embed: Annotated[
        bool, typer.Option(help="Embed texts now (needs the nlp extra; minutes for ESCO).")
    ] = True,
    essential_at: Annotated[
        float, typer.Option(help="Generic CSV: numeric importance counted as essential.")
    ] = 0.5,
    as_json: JsonOption = False,
) -> None:
    """Import ESCO (a folder of TSV files) or a generic CSV (occupation, skill, importance)."""
    if source.is_dir():
        read = read_esco(source, taxonomy_id=taxonomy_id or "esco", title=title)
        taxonomy, skipped = read.taxonomy, read.skipped
    elif source.is_file():
        taxonomy = read_generic_csv(
            source, taxonomy_id=taxonomy_id or source.stem, title=title, essential_at=essential_at
        )
        skipped = 0
    else:
        raise InvalidInputError(str(source), [Problem(str(source), "SOURCE", "no such file")])
    service, _ = _service()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=as_json,
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        result = service.import_taxonomy(
            taxonomy, replace=replace, embed=embed, skipped=skipped, progress=progress
        )
    if as_json:
        print_json(result.__dict__)
        return
    out.print(
        f"taxonomy {result.id}: {result.occupations} occupations, {result.skills} skills, "
        f"{result.requirements} requirements ({result.essential} essential)"
        + (f", {result.skipped} relations skipped (unknown occupation)" if result.skipped else "")
        + f"; embedded with {result.encoder}" * bool(result.encoder)
        + ("; replaced" if result.replaced else "")
    )


def align(
    taxonomy: TaxonomyOption,
    framework: FrameworkOption = None,
    top: Annotated[int, typer.Option(help="Suggestions per competency.")] = 10,
    modules: Annotated[bool, typer.Option(help="Also align modules (parents).")] = True,
    competency: Annotated[
        list[str] | None, typer.Option(help="Only these competencies (repeatable).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Suggest career skills for each competency and module; decided links are kept."""
    service, context = _service()
    fid = _framework(context, framework)
    run = service.align(fid, taxonomy, top_k=top, modules=modules, competency_ids=competency or ())
    if as_json:
        print_json(run.__dict__)
        return
    out.print(
        f"{run.targets} competencies/modules aligned to {taxonomy} ({run.method}): "
        f"{run.suggestions} suggestions, {run.new} new. Review them with "
        f"`masterypath careers suggestions --taxonomy {taxonomy}`."
    )


def suggestions(
    taxonomy: TaxonomyOption,
    framework: FrameworkOption = None,
    competency: Annotated[str | None, typer.Option(help="Only this competency.")] = None,
    decision: Annotated[
        Decision | None, typer.Option(help="suggested, confirmed or rejected.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List alignments with their score and reason."""
    service, context = _service()
    fid = _framework(context, framework)
    rows = service.suggestions(fid, taxonomy, decision=decision, competency_id=competency)
    if as_json:
        print_json(rows)
        return
    table = Table("competency", "#", "skill", "score", "decision", "why")
    for r in rows:
        reason: Any = r["reason"]
        why = ", ".join(reason["words"]) or reason["sentence"][:60]
        table.add_row(
            str(r["competency_id"]),
            str(r["rank"]),
            f"{r['skill']} ({r['skill_id']})",
            f"{r['score']:.2f}",
            str(r["decision"]),
            why,
        )
    out.print(table)


def _decide(
    decision: Decision,
    competency: str,
    skill: str,
    taxonomy: str,
    framework: str | None,
    by: str,
    match: MatchKind,
    note: str,
    as_json: bool,
) -> None:
    service, context = _service()
    fid = _framework(context, framework)
    row = service.decide(
        fid, competency, taxonomy, skill, decision=decision, by=by, match=match, note=note
    )
    if as_json:
        print_json(row)
    else:
        out.print(f"{competency} -> {row['skill']} ({skill}): {decision.value} by {by}")


ByOption = Annotated[str, typer.Option("--by", help="Educator id (recorded).")]
NoteOption = Annotated[str, typer.Option(help="Why (recorded).")]


def confirm(
    competency: Annotated[str, typer.Argument(help="Competency (or module) id.")],
    skill: Annotated[str, typer.Argument(help="Career skill id.")],
    taxonomy: TaxonomyOption,
    by: ByOption,
    framework: FrameworkOption = None,
    match: Annotated[
        MatchKind, typer.Option(help="exactMatchOf or isRelatedTo (CASE association).")
    ] = MatchKind.RELATED,
    note: NoteOption = "",
    as_json: JsonOption = False,
) -> None:
    """Confirm that a competency develops a career skill (also one never suggested)."""
    _decide(Decision.CONFIRMED, competency, skill, taxonomy, framework, by, match, note, as_json)


def reject(
    competency: Annotated[str, typer.Argument(help="Competency (or module) id.")],
    skill: Annotated[str, typer.Argument(help="Career skill id.")],
    taxonomy: TaxonomyOption,
    by: ByOption,
    framework: FrameworkOption = None,
    note: NoteOption = "",
    as_json: JsonOption = False,
) -> None:
    """Reject a suggested link (it stays rejected when the framework is realigned)."""
    _decide(
        Decision.REJECTED,
        competency,
        skill,
        taxonomy,
        framework,
        by,
        MatchKind.RELATED,
        note,
        as_json,
    )


def report(
    occupation: Annotated[str, typer.Argument(help="Occupation id.")],
    taxonomy: TaxonomyOption,
    framework: FrameworkOption = None,
    html: Annotated[Path | None, typer.Option(help="Write an HTML report with a chart.")] = None,
    csv: Annotated[Path | None, typer.Option(help="Write the skill x competency matrix.")] = None,
    as_json: JsonOption = False,
) -> None:
    """How the programme covers an occupation's essential and optional skills."""
    service, context = _service()
    fid = _framework(context, framework)
    coverage = service.coverage(fid, taxonomy, occupation)
    if html is not None:
        best = service.best_occupations(fid, taxonomy, limit=5)
        title = FrameworkService(context).get(fid).title
        html.write_text(coverage_html(coverage, best, programme=title), encoding="utf-8")
    if csv is not None:
        competencies = sorted({c for s in coverage.skills for c in s.competencies})
        csv.write_text(coverage_matrix_csv(coverage, competencies), encoding="utf-8")
    if as_json:
        print_json(coverage_to_dict(coverage))
        return
    out.print(
        f"{coverage.label}: {coverage.essential_share:.0%} of essential and "
        f"{coverage.optional_share:.0%} of optional skills covered"
    )
    table = Table("skill", "essential", "covered by")
    for s in coverage.skills:
        table.add_row(s.label, "yes" if s.essential else "", ", ".join(s.competencies) or "MISSING")
    out.print(table)


def programme(
    taxonomy: TaxonomyOption,
    framework: FrameworkOption = None,
    limit: Annotated[int, typer.Option(help="How many occupations.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """The occupations the programme prepares for best (by confirmed alignments)."""
    service, context = _service()
    fid = _framework(context, framework)
    best = service.best_occupations(fid, taxonomy, limit=limit)
    if as_json:
        print_json([{k: v for k, v in coverage_to_dict(r).items() if k != "skills"} for r in best])
        return
    table = Table("occupation", "id", "essential covered", "optional covered")
    for r in best:
        table.add_row(
            r.label, r.occupation_id, f"{r.essential_share:.0%}", f"{r.optional_share:.0%}"
        )
    out.print(table)


def occupations(
    taxonomy: TaxonomyOption,
    query: Annotated[str, typer.Argument(help="Words in the occupation's label.")] = "",
    limit: Annotated[int, typer.Option(help="How many.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Find occupations by label."""
    service, _ = _service()
    rows = service.occupations(taxonomy, query=query, limit=limit)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "code", "occupation")
    for r in rows:
        table.add_row(r["id"], r["code"], r["label"])
    out.print(table)


def goal(
    learner: Annotated[str, typer.Argument(help="Learner id.")],
    occupation: Annotated[
        str | None, typer.Argument(help="Occupation id to choose (omit to show).")
    ] = None,
    taxonomy: Annotated[str | None, typer.Option("--taxonomy", help="Taxonomy id.")] = None,
    framework: FrameworkOption = None,
    as_json: JsonOption = False,
) -> None:
    """Choose (or show) a learner's career goal; its essential skills' competencies
    become the planner's goals in `masterypath plan` and the plan endpoint."""
    service, context = _service()
    fid = _framework(context, framework)
    if occupation is not None:
        if taxonomy is None:
            raise InvalidInputError(
                "--taxonomy", [Problem("--taxonomy", "taxonomy", "required to choose a goal")]
            )
        service.set_goal(learner, fid, taxonomy, occupation)
    shown = service.goal(learner, fid)
    if as_json:
        print_json(shown)
        return
    if shown is None:
        out.print(f"{learner} has no career goal in {fid}")
        return
    out.print(
        f"{learner} works toward {shown['occupation']} ({shown['occupation_id']}); goals: "
        + (", ".join(shown["goals"]) or "none yet (confirm alignments first)")  # type: ignore[arg-type]
    )


def export_case(
    taxonomy: TaxonomyOption,
    framework: FrameworkOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default stdout).")
    ] = None,
) -> None:
    """The framework as a CASE package with the confirmed links as associations
    (exactMatchOf / isRelatedTo, destination = the skill's URI)."""
    service, context = _service()
    fid = _framework(context, framework)
    text = json.dumps(service.export_case(fid, taxonomy), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")


def taxonomies(as_json: JsonOption = False) -> None:
    """List stored taxonomies."""
    service, _ = _service()
    rows = service.taxonomies()
    if as_json:
        print_json(rows)
        return
    table = Table("id", "title", "source", "embedded with", "imported")
    for r in rows:
        table.add_row(
            *(str(r[k] or "") for k in ("id", "title", "source", "encoder", "imported_at"))
        )
    out.print(table)


def register(parent: typer.Typer) -> None:
    register_commands(
        app,
        {
            "import": import_taxonomy,
            "list": taxonomies,
            "occupations": occupations,
            "align": align,
            "suggestions": suggestions,
            "confirm": confirm,
            "reject": reject,
            "report": report,
            "programme": programme,
            "goal": goal,
            "export-case": export_case,
        },
    )
    parent.add_typer(app, name="careers")

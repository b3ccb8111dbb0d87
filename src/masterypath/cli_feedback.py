"""``masterypath feedback`` and ``masterypath rubrics``: score an answer, store rubrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from masterypath.cli_support import JsonOption, open_context, out, print_json, register_commands
from masterypath.domain.rubric import Rubric, rubric_from_dict
from masterypath.domain.scoring import SimilarityScorer
from masterypath.errors import InvalidInputError, Problem
from masterypath.interop.case_rubrics import export_case_rubric, import_case_rubrics
from masterypath.interop.text_files import read_json_file
from masterypath.nlp.embeddings import load_encoder
from masterypath.nlp.llm import make_scorer
from masterypath.services.feedback import FeedbackService
from masterypath.settings import Settings

rubrics_app = typer.Typer(help="Rubrics for feedback on written work.")


def _service(*, scoring: bool = True) -> FeedbackService:
    """The feedback service; without ``scoring`` (storing rubrics only) no model is loaded."""
    if not scoring:
        return FeedbackService(open_context(), SimilarityScorer(), prepare_on_save=False)
    settings = Settings.from_environment()
    encoder = load_encoder(enabled=settings.embeddings)
    return FeedbackService(open_context(), make_scorer(settings, encoder))


def _read_rubric(path: Path) -> Rubric:
    return rubric_from_dict(read_json_file(path))


def feedback(
    rubric: Annotated[str, typer.Option(help="A rubric JSON file, or a stored rubric's id.")],
    answer: Annotated[str, typer.Option(help="The learner's answer.")],
    as_json: JsonOption = False,
) -> None:
    """Judge an answer against a rubric (nothing is stored): level, confidence and the
    supporting sentence per criterion, then the feedback a learner would read."""
    service = _service()
    path = Path(rubric)
    found = _read_rubric(path) if path.is_file() else service.rubric(rubric)
    result = service.judge(found, answer)
    if as_json:
        print_json(result)
        return
    table = Table("criterion", "level", "confidence", "because", "note")
    for j in result["judgements"]:
        table.add_row(
            j["criterion_id"],
            j["level_id"],
            f"{j['confidence']:.2f}",
            " / ".join(j["support"]),
            j["note"],
        )
    out.print(table)
    out.print(result["feedback"]["text"])


def import_rubric(
    file: Annotated[
        Path, typer.Argument(help="Rubric JSON (see the README), or CASE CFRubric / CFPackage.")
    ],
    replace: Annotated[bool, typer.Option(help="Overwrite a stored rubric.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Store a rubric, or every rubric of a CASE ``CFRubric`` / ``CFPackage`` (all or none)."""
    data = read_json_file(file)
    if isinstance(data, dict) and ("CFRubricCriteria" in data or "CFRubrics" in data):
        found = import_case_rubrics(data, source=str(file))
    else:
        found = [rubric_from_dict(data)]
    _service(scoring=False).save_rubrics(found, replace=replace)
    if as_json:
        print_json([{"id": r.id, "criteria": len(r.criteria)} for r in found])
    else:
        for r in found:
            out.print(f"rubric {r.id}: {len(r.criteria)} criteria stored")


def export_case(
    rubric_id: Annotated[str, typer.Argument(help="A stored rubric's id.")],
    framework: Annotated[
        str | None, typer.Option(help="Point each criterion at this framework's CFItem.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """A stored rubric as a CASE 1.1 ``CFRubric`` (JSON)."""
    service = _service(scoring=False)
    document = export_case_rubric(
        service.rubric(rubric_id),
        last_change=service.context.clock().isoformat(),
        framework_id=framework,
    )
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"rubric {rubric_id} written to {output}")


def train_scorer(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the fitted scorer to.")],
    levels: Annotated[
        str | None,
        typer.Option(help="Level scheme to learn, lowest first (default: the most common)."),
    ] = None,
    epochs: Annotated[int, typer.Option(help="Passes over the exemplars.")] = 3,
    seed: Annotated[
        int,
        typer.Option(
            help="Seeds the new classification head and the order of the exemplars; "
            "with a few hundred exemplars, models fitted with different seeds can differ "
            "by several points of accuracy on new questions, so compare more than one."
        ),
    ] = 0,
    reference_choice: Annotated[
        str,
        typer.Option(
            help="Pick the reference paired with an answer by 'embedding' (more accurate) "
            "or 'lexical' (no embeddings: faster)."
        ),
    ] = "embedding",
    as_json: JsonOption = False,
) -> None:
    """Fine-tune the cross-encoder rubric scorer on every stored rubric's exemplars
    (educator-scored answers and corrections) and save it; point
    ``MASTERYPATH_SCORER_MODEL`` at the folder to use it. Needs the ``nlp`` extra."""
    from masterypath.nlp.cross_encoder import CrossEncoderScorer
    from masterypath.nlp.embeddings import nlp_available

    if not nlp_available():
        raise InvalidInputError("nlp", [Problem("nlp", "extra", "install masterypath[nlp]")])
    settings = Settings.from_environment()
    examples = _service(scoring=False).scored_examples()
    with Progress(
        TextColumn("fine-tuning"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=as_json,
    ) as bar:
        task = bar.add_task("fit", total=None)
        scorer = CrossEncoderScorer(
            levels=levels.split(",") if levels else None,
            epochs=epochs,
            seed=seed,
            reference_choice=reference_choice,
            fallback=SimilarityScorer(encoder=load_encoder(enabled=settings.embeddings)),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        ).fit(examples)
    scorer.save(out_dir)
    result = {
        "path": str(out_dir),
        "levels": list(scorer.levels_),
        "examples": scorer.n_examples_,
        "skipped": scorer.skipped_,
        "reference_choice": scorer.reference_choice,
        "seed": scorer.seed,
    }
    if as_json:
        print_json(result)
    else:
        out.print(
            f"scorer for levels {', '.join(scorer.levels_)} fitted on {scorer.n_examples_} "
            f"exemplars ({scorer.skipped_} of other level schemes skipped), saved to {out_dir}"
        )


def register(parent: typer.Typer) -> None:
    register_commands(parent, {"feedback": feedback})
    register_commands(
        rubrics_app,
        {"import": import_rubric, "export-case": export_case, "train-scorer": train_scorer},
    )
    parent.add_typer(rubrics_app, name="rubrics")

"""``masterypath placement``: adaptive placement (test-out) sessions from the terminal."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from masterypath.cli_support import (
    JsonOption,
    only_framework,
    open_context,
    out,
    print_json,
    register_commands,
)
from masterypath.services.frameworks import FrameworkService
from masterypath.services.placement import PlacementService
from masterypath.settings import Settings
from masterypath.store.types import INT32_MAX

placement_app = typer.Typer(
    help="Adaptive placement (test-out): ask few questions, infer the rest from the graph."
)
ACTOR = "cli"


def _service() -> PlacementService:
    settings = Settings.from_environment()
    return PlacementService(open_context(), hold_for_confirmation=settings.placement_confirmation)


def _show(view: dict[str, Any]) -> None:
    out.print(
        f"placement {view['id']} for {view['learner_id']} on {view['framework_id']}: "
        f"{view['status']}, {view['asked']} of {view['budget']} questions asked"
    )
    if view.get("next_probe"):
        out.print(f"next question: [bold]{view['next_probe']}[/]")
    if view.get("conclusions") is not None:
        table = Table("competency", "concluded", "P(known)")
        for cid, c in sorted(view["conclusions"].items()):
            table.add_row(cid, "known" if c["known"] else "not known", f"{c['p_known']:.2f}")
        out.print(table)
        if view["evidence_keys"]:
            out.print(f"{len(view['evidence_keys'])} inferred evidence recorded")


def _emit(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(view)
    else:
        _show(view)


def start(
    learner: Annotated[str, typer.Argument(help="The learner's (pseudonymous) id.")],
    framework: Annotated[
        str | None, typer.Option(help="Framework id (default: the only one stored).")
    ] = None,
    budget: Annotated[
        int | None,
        typer.Option(min=1, max=INT32_MAX, help="Most questions (default: a fifth, at least 10)."),
    ] = None,
    confidence: Annotated[
        float | None, typer.Option(help="Classify at this P(known) or 1 - it (default 0.9).")
    ] = None,
    seed: Annotated[
        int, typer.Option(min=0, max=INT32_MAX, help="Seeds the sampler (replays are exact).")
    ] = 0,
    as_json: JsonOption = False,
) -> None:
    """Open a placement session; prints the first question."""
    service = _service()
    framework_id = framework or only_framework(FrameworkService(service.context))
    view = service.start(
        learner, framework_id, by=ACTOR, budget=budget, confidence=confidence, seed=seed
    )
    _emit(view, as_json)


def answer(
    placement_id: Annotated[int, typer.Argument(help="The session id.")],
    competency: Annotated[str, typer.Argument(help="The competency the question was on.")],
    correct: Annotated[
        bool, typer.Option("--correct/--wrong", help="Whether the answer was right.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Record one answer; prints the next question."""
    view = _service().answer(placement_id, competency, correct)
    _emit(view, as_json)


def show(
    placement_id: Annotated[int, typer.Argument(help="The session id.")],
    as_json: JsonOption = False,
) -> None:
    """A session: answers and next question, or its conclusions."""
    view = _service().get(placement_id)
    _emit(view, as_json)


def finish(
    placement_id: Annotated[int, typer.Argument(help="The session id.")],
    as_json: JsonOption = False,
) -> None:
    """Conclude a session (held for confirmation unless
    ``MASTERYPATH_PLACEMENT_CONFIRMATION=0``)."""
    view = _service().finish(placement_id, by=ACTOR)
    _emit(view, as_json)


def decide(
    placement_id: Annotated[int, typer.Argument(help="The session id.")],
    accept: Annotated[
        bool, typer.Option("--accept/--reject", help="Record the conclusions, or not.")
    ],
    by: Annotated[str, typer.Option(help="Who decides (kept as the evidence's asserter).")],
    note: Annotated[str | None, typer.Option(help="Why.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Accept a finished session's conclusions (they become ``inferred`` evidence) or
    reject them."""
    view = _service().decide(placement_id, accept=accept, by=by, note=note)
    _emit(view, as_json)


def list_sessions(
    learner: Annotated[str, typer.Argument(help="The learner's id.")],
    as_json: JsonOption = False,
) -> None:
    """The learner's placement sessions, newest first."""
    views = _service().sessions_of(learner)
    if as_json:
        print_json(views)
        return
    table = Table("id", "framework", "status", "asked", "started")
    for v in views:
        table.add_row(
            str(v["id"]), v["framework_id"], v["status"], str(v["asked"]), v["created_at"]
        )
    out.print(table)


def register(parent: typer.Typer) -> None:
    register_commands(
        placement_app,
        {
            "start": start,
            "answer": answer,
            "show": show,
            "finish": finish,
            "decide": decide,
            "list": list_sessions,
        },
    )
    parent.add_typer(placement_app, name="placement")

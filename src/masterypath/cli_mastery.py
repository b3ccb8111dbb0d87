"""Mastery commands: status, grid, explain, start, override, lift-override, overrides, alerts,
ack-alert, policy, replay, refit. Registered on the main ``masterypath`` app."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from masterypath.cli_support import (
    JsonOption,
    err,
    only_framework,
    open_context,
    out,
    print_json,
    register_commands,
)
from masterypath.domain.policy import MasteryPolicy
from masterypath.errors import ValidationError
from masterypath.interop import strict_json
from masterypath.interop.grid_csv import grid_csv, shown_statuses
from masterypath.services.accounts import AccountService
from masterypath.services.careers import CareerService
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.mastery import MasteryService, ReplaySummary
from masterypath.services.xapi import XapiService

FrameworkOption = Annotated[
    str | None, typer.Option("--framework", "-f", help="Framework id (optional when only one).")
]


def _service(framework: str | None) -> tuple[MasteryService, str]:
    context = open_context()
    return MasteryService(context), framework or only_framework(FrameworkService(context))


def _named(title: str, id_: str) -> str:
    """A competency or item as a table shows it: its title, and the id the other commands
    take."""
    return f"{title} ({id_})" if title and title != id_ else id_


def _at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError("--at", f"not an ISO 8601 time: {value!r}") from None
    if when.tzinfo is None:
        raise ValidationError("--at", "needs a UTC offset, e.g. 2026-03-01T09:00:00+00:00")
    return when


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def status(
    learner: Annotated[str, typer.Argument(help="Learner id.")],
    framework: FrameworkOption = None,
    at: Annotated[str | None, typer.Option(help="Status at this ISO time (default: now).")] = None,
    as_json: JsonOption = False,
) -> None:
    """A learner's status on every competency, with estimate, lock and next step."""
    service, fid = _service(framework)
    items = service.progress(learner, fid, now=_at(at))
    if as_json:
        print_json(
            {
                "learner_id": learner,
                "framework_id": fid,
                "competencies": [i.to_dict() for i in items],
            }
        )
        return
    titles = {i.competency_id: i.title for i in items}
    table = Table("competency", "status", "estimate", "±", "evidence", "unlocked", "why")
    for i in items:
        e = i.decision.explanation
        table.add_row(
            _named(i.title, i.competency_id),
            i.decision.status.value.replace("_", " ") + (" (override)" if e.override else ""),
            _pct(e.estimate),
            _pct(e.uncertainty),
            str(e.n_evidence),
            "yes"
            if i.unlocked
            else "locked: "
            + ", ".join(
                titles.get(m.competency_id) or m.competency_id for m in i.missing_prerequisites
            ),
            e.learner_text,
        )
    out.print(table)


def grid(
    framework: FrameworkOption = None,
    cohort: Annotated[str | None, typer.Option(help="Only this cohort's learners.")] = None,
    csv_path: Annotated[
        str | None,
        typer.Option(
            "--csv",
            help="Write the grid for a spreadsheet to this file (UTF-8 with a byte-order "
            "mark), or to stdout with '-'.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The cohort grid: every learner's status on every competency now, as the educator's
    page shows it. Prints how many competencies each learner has in each status."""
    service, fid = _service(framework)
    learners = None if cohort is None else AccountService(service.context).cohort_members(cohort)
    found = service.grid(fid, learners)
    if csv_path is not None:
        text = grid_csv(found)
        if csv_path == "-":
            typer.echo(text, nl=False)
        else:
            Path(csv_path).write_text(text, encoding="utf-8-sig")
            err.print(f"wrote {len(found['learners'])} learners to {csv_path}")
        return
    if as_json:
        print_json(found)
        return
    kinds = ["mastered", "proficient", "in_progress", "needs_review", "not_started", "locked"]
    table = Table("learner", *(k.replace("_", " ") for k in kinds))
    for row in found["learners"]:
        shown = shown_statuses(row)
        # insufficient evidence counts as in progress, as the pages show it
        counts = [
            sum(s == k or (k == "in_progress" and s == "insufficient_evidence") for s in shown)
            for k in kinds
        ]
        table.add_row(row["id"], *map(str, counts))
    out.print(table)


def explain(
    learner: Annotated[str, typer.Argument(help="Learner id.")],
    competency: Annotated[str, typer.Argument(help="Competency id.")],
    framework: FrameworkOption = None,
    at: Annotated[str | None, typer.Option(help="Explain as of this ISO time.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Why a competency has its status: rule, threshold, estimate, evidence trail."""
    service, fid = _service(framework)
    item, trail = service.explain(learner, fid, competency, now=_at(at))
    if as_json:
        print_json({**item.to_dict(), "trail": [asdict(t) for t in trail]})
        return
    e = item.decision.explanation
    out.print(f"[bold]{competency}[/]: {item.decision.status} (rule {e.rule})")
    out.print(f"learner: {e.learner_text}", highlight=False)
    out.print(f"educator: {e.educator_text}", highlight=False)
    table = Table("evidence", "time", "score", "kind", "before", "after", "status", "locked")
    for t in trail:
        table.add_row(
            t.key,
            t.timestamp.isoformat(timespec="seconds"),
            f"{t.score:g}",
            t.kind,
            _pct(t.estimate_before),
            _pct(t.estimate_after),
            t.status,
            "yes" if t.locked else "",
        )
    out.print(table)


def plan(
    learner: Annotated[str, typer.Argument(help="Learner id.")],
    framework: FrameworkOption = None,
    goal: Annotated[list[str] | None, typer.Option(help="Goal competency (repeatable).")] = None,
    steps: Annotated[int, typer.Option(help="At most this many steps.")] = 10,
    target_success: Annotated[
        float, typer.Option(help="Desirable difficulty: predicted success to aim for.")
    ] = 0.7,
    as_json: JsonOption = False,
) -> None:
    """The learner's next steps: due reviews, then what is ready to learn toward the goals
    (without --goal: toward the learner's career goal, if one is chosen)."""
    service, fid = _service(framework)
    goals = tuple(goal or ()) or CareerService(service.context).goals_for(learner, fid)
    result = service.plan(learner, fid, goals=goals, max_steps=steps, target_success=target_success)
    if as_json:
        print_json({"framework_id": fid, **result.to_dict()})
        return
    course = FrameworkService(service.context).get(fid)
    table = Table("#", "kind", "competency", "item", "success", "why")
    for n, s in enumerate(result.steps, 1):
        table.add_row(
            str(n),
            s.kind.value,
            _named(course.competency(s.competency_id).title, s.competency_id),
            _named(s.item_title, s.item_id) if s.item_id else "-",
            _pct(s.predicted_success),
            s.reason,
        )
    out.print(table)
    for note in result.notes:
        out.print(f"note: {note}")


def simulate(
    framework: Annotated[str, typer.Argument(help="Framework id (its prerequisite graph).")],
    goal: Annotated[list[str], typer.Option(help="Goal competency (repeatable).")],
    learners: Annotated[int, typer.Option(help="Simulated learners.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same learners).")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Compare the planner with a fixed curriculum on simulated learners with known truth
    (BKT-style learning, slower without prerequisites, guesses, slips, forgetting)."""
    from masterypath.domain.simulator import compare_policies

    context = open_context()
    with context.sessions() as session:
        fw = MasteryService(context).framework(session, framework)
    with Progress(
        SpinnerColumn(),
        TextColumn("simulating"),
        TimeElapsedColumn(),
        console=err,
        disable=as_json or not err.is_terminal,
    ) as bar:
        bar.add_task("simulate")
        result = compare_policies(fw, tuple(goal), learners=learners, seed=seed)
    if as_json:
        print_json(result)
        return
    table = Table(
        "policy",
        "opportunities",
        "goals truly mastered",
        "over-practice",
        "practice with an unknown prerequisite",
    )
    for name, r in (
        ("masterypath planner", result["planner"]),
        (f"fixed, {result['fixed_per_competency']} per competency", result["fixed"]),
    ):
        table.add_row(
            name,
            f"{r['opportunities']:.1f}",
            f"{r['goals_truly_mastered']:.1%}",
            f"{r['overpractice']:.1f}",
            f"{r['unready_practice']:.1f}",
        )
    out.print(table)
    out.print(f"the planner uses {result['saving']:.1%} fewer practice opportunities")


def start(
    learner: Annotated[str, typer.Argument(help="Learner id.")],
    framework: FrameworkOption = None,
    competency: Annotated[str | None, typer.Option(help="Competency to practise.")] = None,
    item: Annotated[str | None, typer.Option(help="Item (activity) to start.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Check the gate before an activity: exit 2 with the missing prerequisites if locked."""
    service, fid = _service(framework)
    targets = service.start_activity(learner, fid, competency_id=competency, item_id=item)
    if as_json:
        print_json({"allowed": True, "competencies": list(targets)})
    else:
        out.print(f"allowed: {', '.join(targets)} unlocked for {learner}")


def override(
    learner: Annotated[str, typer.Argument(help="Learner id.")],
    competency: Annotated[str, typer.Argument(help="Competency id.")],
    status_: Annotated[str, typer.Option("--status", help="Status to set (grant or revoke).")],
    reason: Annotated[
        str,
        typer.Option(
            help="demonstrated_elsewhere, prior_learning, assessment_error, accommodation or other."
        ),
    ],
    by: Annotated[str, typer.Option("--by", help="Educator who decides.")],
    note: Annotated[str, typer.Option(help="Free-text note shown to the learner.")] = "",
    framework: FrameworkOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set a learner's status on a competency; it wins over the model until lifted."""
    service, fid = _service(framework)
    o = service.override(
        learner_id=learner,
        framework_id=fid,
        competency_id=competency,
        status=status_,
        reason=reason,
        educator=by,
        note=note,
    )
    if as_json:
        print_json(o.to_dict())
    else:
        out.print(
            f"override {o.id}: {learner} {competency} -> {o.status} "
            f"(model said {o.model_status}, estimate {_pct(o.model_estimate)})"
        )


def lift_override(
    override_id: Annotated[int, typer.Argument(help="Override id.")],
    by: Annotated[str, typer.Option("--by", help="Educator who lifts it.")],
    note: Annotated[str, typer.Option(help="Why.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Lift an override: the model's status applies again."""
    o = MasteryService(open_context()).lift_override(override_id, by=by, note=note)
    if as_json:
        print_json(o.to_dict())
    else:
        out.print(f"override {o.id} lifted by {o.lifted_by}")


def overrides(
    framework: Annotated[str | None, typer.Option("--framework", "-f")] = None,
    learner: Annotated[str | None, typer.Option(help="Only this learner.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The override audit report: who, when, why, and what the model said at the time."""
    context = open_context()
    found = MasteryService(context).overrides(framework_id=framework, learner_id=learner)
    names = AccountService(context).names(actor for o in found for actor in o.actors)
    if as_json:
        print_json([o.to_dict(names) for o in found])
        return
    table = Table(
        "id",
        "learner",
        "competency",
        "status",
        "model said",
        "estimate",
        "reason",
        "by",
        "when",
        "lifted",
    )
    for o in found:
        table.add_row(
            str(o.id),
            o.learner_id,
            o.competency_id,
            str(o.status),
            str(o.model_status),
            _pct(o.model_estimate),
            str(o.reason),
            names[o.educator],
            o.created_at.isoformat(timespec="seconds"),
            ""
            if o.active or o.lifted_by is None
            else f"{names[o.lifted_by]} {o.lifted_at:%Y-%m-%d}",
        )
    out.print(table)


def alerts(
    framework: Annotated[str | None, typer.Option("--framework", "-f")] = None,
    learner: Annotated[str | None, typer.Option(help="Only this learner.")] = None,
    kind: Annotated[str | None, typer.Option(help="wheel_spinning or falling_estimate.")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Include closed alerts (acknowledged or cleared).")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 1000,
    as_json: JsonOption = False,
) -> None:
    """The educator alert queue: open alerts (neither acknowledged nor cleared by later
    evidence) unless --all."""
    found = MasteryService(open_context()).alerts(
        framework_id=framework,
        learner_id=learner,
        kind=kind,
        include_acknowledged=all_,
        limit=limit,
    )
    if as_json:
        print_json([asdict(a) for a in found])
        return
    frameworks = FrameworkService(open_context())
    titles = {
        (fid, c.id): c.title
        for fid in {a.framework_id for a in found}
        for c in frameworks.get(fid).competencies
    }
    table = Table("id", "learner", "competency", "kind", "message", "suggested action", "closed")
    for a in found:
        table.add_row(
            str(a.id),
            a.learner_id,
            _named(titles.get((a.framework_id, a.competency_id), ""), a.competency_id),
            a.kind,
            a.message,
            a.suggested_action,
            f"acknowledged by {a.acknowledged_by}"
            if a.acknowledged_by
            else f"cleared: {a.cleared_reason} ({a.cleared_by_evidence})"
            if a.cleared_by_evidence
            else "",
        )
    out.print(table)


def ack_alert(
    alert_id: Annotated[int, typer.Argument(help="Alert id.")],
    by: Annotated[str, typer.Option("--by", help="Who acknowledges it.")],
    as_json: JsonOption = False,
) -> None:
    """Acknowledge an alert (it leaves the open queue; it is kept for the record)."""
    MasteryService(open_context()).acknowledge_alert(alert_id, by=by)
    if as_json:
        print_json({"id": alert_id, "acknowledged_by": by})
    else:
        out.print(f"alert {alert_id} acknowledged")


def policy(
    framework: Annotated[str, typer.Argument(help="Framework id.")],
    competency: Annotated[
        str | None, typer.Option(help="One competency (default: the framework default).")
    ] = None,
    set_: Annotated[
        str | None,
        typer.Option(
            "--set",
            help="Policy as JSON (a file path or "
            "inline), e.g. '{\"min_evidence\": 5}'; "
            "unset keys take the defaults.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show or set a mastery policy (run `replay` afterwards to apply it to past evidence)."""
    service = MasteryService(open_context())
    if set_ is not None:
        text = Path(set_).read_text() if Path(set_).is_file() else set_
        try:
            data = strict_json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError("--set", f"not JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise ValidationError("--set", "must be a JSON object")
        service.set_policy(framework, MasteryPolicy.from_dict(data), competency_id=competency)
    book = service.policies(framework)
    shown = book.by_competency.get(competency, book.default) if competency else book.default
    if as_json:
        print_json(
            {
                "framework_id": framework,
                "competency_id": competency,
                "policy": shown.to_dict(),
                "competency_policies": sorted(book.by_competency),
            }
        )
        return
    table = Table("setting", "value", title=f"policy of {competency or framework + ' (default)'}")
    for k, v in shown.to_dict().items():
        table.add_row(k, json.dumps(v))
    out.print(table)


def _replay_dict(s: ReplaySummary) -> dict[str, Any]:
    return {**asdict(s), "events_per_second": s.events / s.seconds if s.seconds else None}


def replay(
    framework: Annotated[str, typer.Argument(help="Framework id.")],
    as_json: JsonOption = False,
) -> None:
    """Rebuild every state of a framework from the evidence ledger (one transaction)."""
    service = MasteryService(open_context())
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.completed} events"),
        TimeElapsedColumn(),
        console=err,
        disable=as_json or not err.is_terminal,
    ) as bar:
        task = bar.add_task("replay")
        summary = service.replay(framework, progress=lambda n: bar.advance(task, n))
    if as_json:
        print_json(_replay_dict(summary))
        return
    out.print(
        f"replayed {summary.events} events into {summary.states} states in "
        f"{summary.seconds:.1f} s ({summary.events / max(summary.seconds, 1e-9):,.0f}/s)"
    )
    out.print("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.statuses.items())))


def refit(
    framework: Annotated[str, typer.Argument(help="Framework id.")],
    model: Annotated[str, typer.Option(help="bkt or logistic.")] = "bkt",
    seed: Annotated[int, typer.Option(help="Random seed of the fit.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Fit a model on the framework's ledger, make it the active version, and replay."""
    with err.status(f"fitting {model} on the ledger of {framework}, then replaying"):
        result = MasteryService(open_context()).refit(framework, model=model, seed=seed)
    summary = result.pop("replay")
    if as_json:
        print_json({**result, "replay": _replay_dict(summary)})
        return
    out.print(
        f"model version {result['model_version']} ({model}) fitted on {result['n_rows']} "
        f"rows; replayed {summary.events} events"
    )


def void_evidence(
    learner: Annotated[str, typer.Argument(help="Learner id.")],
    key: Annotated[str, typer.Argument(help="The evidence's key.")],
    reason: Annotated[str, typer.Option(help="Why it was recorded in error.")],
    by: Annotated[str, typer.Option("--by", help="Who voids it.")],
    as_json: JsonOption = False,
) -> None:
    """Void a piece of evidence recorded in error: the ledger keeps it, and the learner's
    states are rebuilt without it (audited)."""
    voided = EvidenceService(open_context()).void(learner, key, reason=reason, by=by)
    if as_json:
        print_json(voided.to_dict())
    else:
        out.print(
            f"voided {key} of {learner}; states rebuilt in: {', '.join(voided.rebuilt) or '-'}"
        )


def restore_evidence(
    learner: Annotated[str, typer.Argument(help="Learner id.")],
    key: Annotated[str, typer.Argument(help="The voided evidence's key.")],
    reason: Annotated[str, typer.Option(help="Why the void was wrong.")],
    by: Annotated[str, typer.Option("--by", help="Who restores it.")],
    as_json: JsonOption = False,
) -> None:
    """Undo a void made in error: the evidence counts again, and the learner's states are
    rebuilt with it (audited)."""
    restored = EvidenceService(open_context()).restore(learner, key, reason=reason, by=by)
    if as_json:
        print_json(restored.to_dict())
    else:
        out.print(
            f"restored {key} of {learner}; states rebuilt in: {', '.join(restored.rebuilt) or '-'}"
        )


def xapi_unmapped(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many activities.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The activities of xAPI answers that became no evidence (no framework has an item
    for them), most answered first: add the items, then run ``xapi-remap``."""
    found = XapiService(open_context()).unmapped_activities(limit=limit)
    if as_json:
        print_json(found)
        return
    if not found:
        out.print("every xAPI answer stored is about a known item")
        return
    table = Table("activity", "answers", "learners", "last stored")
    for f in found:
        table.add_row(f["activity"], str(f["answers"]), str(f["learners"]), f["last_stored"])
    out.print(table)


def xapi_remap(as_json: JsonOption = False) -> None:
    """Make evidence of the stored xAPI answers that are about items now (the items were
    added after the answers came): each becomes the evidence it would have been."""
    with out.status("reading the stored statements..."):
        counts = XapiService(open_context()).remap()
    if as_json:
        print_json(counts)
        return
    out.print(
        f"{counts['became_evidence']} of {counts['answers_read']} stored answers without "
        f"evidence became evidence; {counts['learners_skipped']} learners skipped (no "
        "guardian consent)"
    )


COMMANDS: dict[str, Callable[..., None]] = {
    "status": status,
    "grid": grid,
    "explain": explain,
    "plan": plan,
    "simulate": simulate,
    "start": start,
    "override": override,
    "lift-override": lift_override,
    "overrides": overrides,
    "alerts": alerts,
    "ack-alert": ack_alert,
    "policy": policy,
    "replay": replay,
    "refit": refit,
    "void-evidence": void_evidence,
    "restore-evidence": restore_evidence,
    "xapi-unmapped": xapi_unmapped,
    "xapi-remap": xapi_remap,
}


def register(app: typer.Typer) -> None:
    register_commands(app, COMMANDS)

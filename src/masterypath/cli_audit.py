"""Audit commands: attributes, withdraw-attribute, audit, model-card."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from masterypath.cli_support import (
    JsonOption,
    err,
    open_context,
    out,
    print_json,
    register_commands,
)
from masterypath.errors import InvalidInputError, Problem, ValidationError
from masterypath.interop.audit_report import render_audit_html
from masterypath.interop.text_files import MORE_CELLS, read_utf8
from masterypath.services.audit import AuditService, AuditThresholds


def attributes(
    file: Annotated[Path, typer.Argument(help="CSV with columns learner_id, value, consent_by.")],
    attribute: Annotated[str, typer.Option(help="Attribute name, e.g. 'cohort'.")],
    as_json: JsonOption = False,
) -> None:
    """Store one group attribute per learner for audits; every row needs `consent_by`
    (who consented), otherwise nothing is stored."""
    try:
        rows = list(csv.DictReader(io.StringIO(read_utf8(file), newline="")))
    except csv.Error as exc:
        raise InvalidInputError(str(file), [Problem(str(file), "CSV", str(exc))]) from None
    # a row with cells beyond the header (an unquoted comma) would shift its values
    problems = [
        Problem(f"line {n + 2}", "(row)", MORE_CELLS) for n, r in enumerate(rows) if None in r
    ]
    problems += [
        Problem(f"line {n + 2}", col, "missing")
        for n, r in enumerate(rows)
        for col in ("learner_id", "value", "consent_by")
        if None not in r and not (r.get(col) or "").strip()
    ]
    if problems:
        raise InvalidInputError(str(file), problems)
    stored = AuditService(open_context()).set_attributes(
        attribute,
        {r["learner_id"]: r["value"] for r in rows},
        consent_by={r["learner_id"]: r["consent_by"] for r in rows},
    )
    if as_json:
        print_json({"attribute": attribute, "stored": stored})
    else:
        out.print(f"{stored} learners: {attribute} stored (with consent)")


def withdraw_attribute(
    attribute: Annotated[str, typer.Argument(help="Attribute name.")],
    learners: Annotated[list[str], typer.Argument(help="Learner ids whose consent is withdrawn.")],
    as_json: JsonOption = False,
) -> None:
    """Delete a group attribute of learners who withdrew consent."""
    removed = AuditService(open_context()).withdraw(attribute, learners)
    if as_json:
        print_json({"attribute": attribute, "removed": removed})
    else:
        out.print(f"{removed} removed")


def audit(
    framework: Annotated[str, typer.Argument(help="Framework id.")],
    attribute: Annotated[str, typer.Option(help="Group attribute to audit by.")],
    min_group: Annotated[int, typer.Option(help="Suppress groups with fewer learners.")] = 20,
    html: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json-file", help="Write the JSON report here.")
    ] = None,
    model: Annotated[str, typer.Option(help="Model audited on held-out learners.")] = "bkt",
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of folds and bootstrap.")] = 0,
    dif: Annotated[bool, typer.Option(help="Test items for bias (DIF).")] = True,
    mastery_gap: Annotated[float, typer.Option(help="Alert above this mastery-rate gap.")] = 0.10,
    calibration_gap: Annotated[float, typer.Option(help="Alert above this ECE gap.")] = 0.05,
    as_json: JsonOption = False,
) -> None:
    """Fairness audit of a framework by a group attribute: per-group outcomes and model
    quality with 95% intervals, item bias, and alerts above the thresholds."""
    import json

    try:
        thresholds = AuditThresholds(mastery_rate_gap=mastery_gap, calibration_gap=calibration_gap)
    except ValidationError as exc:  # named as the options are
        options = {"mastery_rate_gap": "--mastery-gap", "calibration_gap": "--calibration-gap"}
        option = options.get(exc.field, exc.field)
        raise ValidationError(option, exc.reason) from None
    with err.status(f"auditing {framework} by {attribute} ({folds}-fold cross-validation)"):
        report = AuditService(open_context()).run(
            framework,
            attribute,
            min_group=min_group,
            model=model,
            folds=folds,
            seed=seed,
            dif=dif,
            thresholds=thresholds,
        )
    if html is not None:
        html.write_text(render_audit_html(report), encoding="utf-8")
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    if as_json:
        print_json(report)
        return
    table = Table("group", "learners", "mastery rate", "with enough evidence", "AUC", "ECE")
    for g, v in report["groups"].items():
        model_q = v.get("model") or {}
        table.add_row(
            g,
            str(v["learners"]),
            _fmt(v["mastery_rate"]),
            _fmt(v["mastery_rate_given_evidence"]),
            _fmt(model_q.get("auc")),
            _fmt(model_q.get("ece")),
        )
    out.print(table)
    if report["suppressed_groups"]:
        out.print(
            f"suppressed (fewer than {min_group} learners): "
            + ", ".join(report["suppressed_groups"])
        )
    flagged = [d for d in report["dif"] if d["flagged"]]
    out.print(f"items flagged for review: {len(flagged)} of {len(report['dif'])} tested")
    for a in report["alerts"]:
        out.print(f"[bold red]alert[/] {a['kind']}: {a['message']}")
    for a in report.get("alerts_cleared", []):
        subject = f" {a['subject']}" if a["subject"] else ""
        out.print(f"[green]cleared[/] {a['kind']}{subject}: {a['reason']}")


def _fmt(iv: dict[str, Any] | None) -> str:
    if not iv or iv.get("value") is None:
        return "-"
    if iv.get("low") is None:
        return f"{iv['value']:.3f}"
    return f"{iv['value']:.3f} [{iv['low']:.3f}, {iv['high']:.3f}]"


def model_card(
    framework: Annotated[str, typer.Argument(help="Framework id.")],
    version: Annotated[int | None, typer.Option(help="Model version (default: active).")] = None,
    attribute: Annotated[str | None, typer.Option(help="Also report per group.")] = None,
    min_group: Annotated[int, typer.Option(help="Suppress groups with fewer learners.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The model card of a fitted model version: data, date, metrics (overall and per
    group, on held-out learners), intended use and known limits."""
    card = AuditService(open_context()).model_card(
        framework, version=version, attribute=attribute, min_group=min_group
    )
    if as_json:
        print_json(card)
        return
    out.print(
        f"[bold]model version {card['model_version']}[/] ({card['model']}), "
        f"fitted {card['created_at']}"
    )
    out.print(f"data: {card['training_data']}")
    out.print(
        f"evaluation ({card['evaluation']['protocol']}): AUC {card['evaluation']['auc']:.4f}, "
        f"RMSE {card['evaluation']['rmse']:.4f}, ECE {card['evaluation']['ece']:.4f}"
    )
    for g, q in card.get("per_group", {}).items():
        out.print(
            f"  {g}: "
            + (
                "suppressed"
                if q.get("suppressed")
                else f"AUC {_fmt(q['auc'])}, ECE {_fmt(q['ece'])}"
            )
        )
    out.print(f"intended use: {card['intended_use']}")
    for limit in card["known_limits"]:
        out.print(f"  - {limit}")


COMMANDS: dict[str, Callable[..., None]] = {
    "attributes": attributes,
    "withdraw-attribute": withdraw_attribute,
    "audit": audit,
    "model-card": model_card,
}


def register(app: typer.Typer) -> None:
    register_commands(app, COMMANDS)

"""The ``masterypath`` command line (typer + rich).

The database comes from ``MASTERYPATH_DATABASE_URL`` (default: a SQLite file,
``var/masterypath.db``). Every command that reports something takes ``--json``.
Exit codes: 0 success, 2 bad input or a refused operation (the message names the
file, row or field and the reason; nothing was stored).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.tree import Tree

from masterypath import (
    cli_accounts,
    cli_audit,
    cli_backup,
    cli_badges,
    cli_careers,
    cli_feedback,
    cli_jobs,
    cli_lti,
    cli_mastery,
    cli_placement,
    cli_roster,
)
from masterypath.cli_support import (
    JsonOption,
    err,
    only_framework,
    open_context,
    out,
    print_json,
    reports_errors,
)
from masterypath.domain.evidence import EvidenceKind
from masterypath.domain.framework import Framework
from masterypath.errors import ConflictError, InvalidInputError, Problem
from masterypath.interop import strict_json, vc_jwt
from masterypath.interop.case import IdField
from masterypath.interop.evidence_log import ColumnMapping, read_evidence_log, read_text
from masterypath.interop.framework_files import FrameworkFormat, framework_to_dict
from masterypath.interop.graph_files import EdgeDirection, GraphRepairs, parse_edge
from masterypath.interop.loader import LoadOptions, load_framework_file
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import ExportFormat, FrameworkService
from masterypath.settings import Settings
from masterypath.store.database import make_url_safe, upgrade

# Markdown help: docstrings are reflowed to the terminal instead of keeping their line breaks.
app = typer.Typer(
    help=__doc__,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


@app.command()
@reports_errors
def init(as_json: JsonOption = False) -> None:
    """Create or upgrade the database schema (safe to run again)."""
    context = open_context()
    url = make_url_safe(str(context.engine.url))
    if as_json:
        print_json({"database": url, "schema": "up to date"})
    else:
        out.print(f"database ready: {url}")


@app.command("import-framework")
@reports_errors
def import_framework(
    file: Annotated[
        Path,
        typer.Argument(
            help="CASE JSON, CSV, YAML, GraphML or node-link JSON "
            "(gzip OK); the format is read from the content."
        ),
    ],
    fmt: Annotated[
        FrameworkFormat | None, typer.Option("--format", help="Force the format.")
    ] = None,
    framework_id: Annotated[
        str | None, typer.Option(help="Framework id (default: from the file, or its name).")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Title for formats without one.")] = None,
    replace: Annotated[bool, typer.Option(help="Overwrite a framework with the same id.")] = False,
    split_joined_ids: Annotated[
        bool,
        typer.Option(
            help="Graphs: split comma-joined node ids like 'a,b' into separate competencies."
        ),
    ] = False,
    drop_edge: Annotated[
        list[str] | None,
        typer.Option(help="Graphs: drop the named edge 'prerequisite->dependent' (repeatable)."),
    ] = None,
    edge_direction: Annotated[
        EdgeDirection,
        typer.Option(help="Graphs: does an edge point from the prerequisite (default) or to it?"),
    ] = "prerequisite-first",
    case_id_field: Annotated[
        IdField,
        typer.Option(help="CASE: take competency ids from CFItem identifier or humanCodingScheme."),
    ] = "identifier",
    as_json: JsonOption = False,
) -> None:
    """Import a competency framework; all or nothing, every problem named."""
    repairs = GraphRepairs(
        split_joined_ids=split_joined_ids,
        drop_edges=frozenset(parse_edge(e) for e in drop_edge or []),
        edge_direction=edge_direction,
    )
    result = load_framework_file(
        file,
        LoadOptions(
            format=fmt,
            framework_id=framework_id,
            title=title,
            case_id_field=case_id_field,
            repairs=repairs,
        ),
    )
    saved = FrameworkService(open_context()).save(result.framework, replace=replace)
    if as_json:
        print_json({**asdict(saved), "notes": list(result.notes)})
        return
    for note in result.notes:
        out.print(f"note: {note}", highlight=False)
    verb = "replaced" if saved.replaced else "imported"
    out.print(
        f"{verb} framework [bold]{saved.id}[/]: {saved.competencies} competencies, "
        f"{saved.prerequisites} prerequisites, {saved.items} items"
    )


@app.command("export-framework")
@reports_errors
def export_framework(
    fmt: Annotated[ExportFormat, typer.Option("--format", help="case, csv or yaml.")],
    output: Annotated[Path, typer.Option(help="File to write ('-' for standard output).")],
    framework: Annotated[
        str | None,
        typer.Option(help="Framework id (may be left out when only one framework is stored)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Export a stored framework as CASE JSON, CSV or YAML."""
    service = FrameworkService(open_context())
    framework_id = framework or only_framework(service)
    text = service.export(framework_id, fmt)
    if str(output) == "-":
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    if as_json:
        print_json(
            {
                "framework": framework_id,
                "format": fmt,
                "output": str(output),
                "bytes": len(text.encode()),
            }
        )
    else:
        out.print(f"wrote {output} ({fmt})")


@app.command("show-framework")
@reports_errors
def show_framework(
    framework: Annotated[str | None, typer.Argument(help="Framework id; omit to list all.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List stored frameworks, or show one as a hierarchy with its prerequisites."""
    service = FrameworkService(open_context())
    if framework is None:
        summaries = service.summaries()
        if as_json:
            print_json([asdict(s) for s in summaries])
            return
        table = Table("id", "title", "competencies", "prerequisites", "imported")
        for s in summaries:
            table.add_row(
                s.id,
                s.title,
                str(s.competencies),
                str(s.prerequisites),
                s.imported_at.isoformat(timespec="seconds"),
            )
        out.print(table)
        return
    fw = service.get(framework)
    if as_json:
        print_json(framework_to_dict(fw))
        return
    out.print(_framework_tree(fw))


def _framework_tree(fw: Framework) -> Tree:
    tree = Tree(
        f"[bold]{fw.title}[/] ({fw.id}): {len(fw)} competencies, {len(fw.edges())} prerequisites"
    )
    nodes: dict[str, Tree] = {}
    for cid in _hierarchy_order(fw):
        c = fw.competency(cid)
        needs = ", ".join(
            p.competency_id + ("" if p.requires == "mastered" else f" ({p.requires})")
            for p in c.prerequisites
        )
        label = f"{c.title} [dim]{c.id}[/]" + (f"  [cyan]needs {needs}[/]" if needs else "")
        parent = nodes[c.parent_id] if c.parent_id else tree
        nodes[cid] = parent.add(label, highlight=False)
    return tree


def _hierarchy_order(fw: Framework) -> list[str]:
    """Parents before children, otherwise framework order."""
    placed: list[str] = []
    seen: set[str] = set()

    def place(cid: str) -> None:
        if cid in seen:
            return
        parent = fw.competency(cid).parent_id
        if parent:
            place(parent)
        seen.add(cid)
        placed.append(cid)

    for c in fw.competencies:
        place(c.id)
    return placed


@app.command("import-evidence")
@reports_errors
def import_evidence(
    file: Annotated[Path, typer.Argument(help="CSV or TSV log (gzip OK).")],
    columns: Annotated[
        str,
        typer.Option(
            help="role=column pairs: user=,skill=,correct= (or "
            "score=),order= and optional item=,time=; or a "
            "preset: pybkt, assistments, kddcup."
        ),
    ],
    source: Annotated[
        str | None, typer.Option(help="Source name, part of every key (default: the file name).")
    ] = None,
    kind: Annotated[
        EvidenceKind, typer.Option(help="Evidence kind of every row.")
    ] = EvidenceKind.PRACTICE,
    asserted_by: Annotated[str | None, typer.Option(help="Who asserts this evidence.")] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            help="IANA zone for times without a UTC offset (otherwise such rows are rejected)."
        ),
    ] = None,
    skip_bad_rows: Annotated[
        bool,
        typer.Option(
            help="Store the good rows and report each bad one (default: reject the file)."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import a response log into the evidence ledger (idempotent, all or nothing)."""
    if not file.is_file():
        raise InvalidInputError(str(file), [Problem(str(file), "FILE", "no such file")])
    mapping = ColumnMapping.parse(columns)
    context = open_context()
    name = source or file.name.split(".")[0]
    log = read_evidence_log(
        read_text(file),
        mapping,
        source=name,
        imported_at=context.clock(),
        kind=kind,
        asserted_by=asserted_by,
        timezone=timezone,
        skip_bad_rows=skip_bad_rows,
    )
    with Progress(
        TextColumn("storing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=as_json or not err.is_terminal,
    ) as bar:
        task = bar.add_task("rows", total=len(log.rows))
        counts = EvidenceService(context).import_log(
            log, skip_bad_rows=skip_bad_rows, progress=lambda n: bar.advance(task, n)
        )
    if as_json:
        print_json(
            {
                "file": str(file),
                "source": name,
                "rows": counts.rows,
                "stored": counts.stored,
                "duplicate": counts.duplicate,
                "rejected": counts.rejected,
                "merged_multi_skill_rows": counts.merged,
                "problems": [str(p) for p in counts.problems],
            }
        )
        return
    for problem in counts.problems:
        err.print(f"skipped {problem}", highlight=False)
    out.print(
        f"{file}: {counts.rows} rows: [green]{counts.stored} stored[/], "
        f"{counts.duplicate} duplicate, {counts.rejected} rejected"
        + (f", {counts.merged} folded into multi-skill answers" if counts.merged else "")
    )


@app.command()
@reports_errors
def serve(
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    workers: Annotated[
        int,
        typer.Option(
            min=1, max=64, help="Worker processes, each listening on its own socket (SO_REUSEPORT)."
        ),
    ] = 1,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs) and the pages."""
    import uvicorn

    from masterypath.api.app import create_app

    settings = Settings.from_environment()
    upgrade(ServiceContext.from_settings(settings).engine)
    if workers > 1:  # each worker process builds its own app from the environment
        from masterypath.serving import serve_workers

        serve_workers(host, port, workers)
    else:
        uvicorn.run(create_app(settings), host=host, port=port)


def demo_accounts(context: ServiceContext, learner_ids: list[str]) -> list[dict[str, str]]:
    """An admin, an educator of a cohort holding every demo learner, the first learner's
    own account and a parent's linked to that learner, each with a fresh random
    password."""
    import contextlib
    import secrets

    from masterypath.domain.access import Role
    from masterypath.errors import ConflictError
    from masterypath.services.accounts import AccountService

    accounts = AccountService(context)
    wanted: list[tuple[str, Role, str | None]] = [
        ("admin", Role.ADMIN, None),
        ("teacher", Role.EDUCATOR, None),
    ]
    if learner_ids:
        wanted.append(("learner", Role.LEARNER, learner_ids[0]))
        wanted.append(("parent", Role.GUARDIAN, None))
    logins = []
    for username, role, learner in wanted:
        password = secrets.token_urlsafe(12)
        if accounts.user_id(username) is None:
            accounts.create_user(username, password, role, learner_id=learner, by="demo")
        else:
            accounts.set_password(username, password, by="demo")
        logins.append({"username": username, "role": role.value, "password": password})
    with contextlib.suppress(ConflictError):
        accounts.create_cohort("demo-class", "Demo class", by="demo")
    for learner in learner_ids:
        accounts.enrol("demo-class", learner, by="demo")
    teacher = accounts.user_id("teacher")
    assert teacher is not None
    accounts.assign_educator("demo-class", teacher, by="demo")
    parent = accounts.user_id("parent")
    if parent is not None and learner_ids:
        accounts.link_guardian(parent, learner_ids[0], by="demo")
    return logins


@app.command()
@reports_errors
def demo(
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    learners: Annotated[int, typer.Option(min=1, max=1000, help="Simulated learners.")] = 30,
    seed: Annotated[int, typer.Option(help="Seed of the simulation.")] = 7,
    start: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="Day the course began (UTC). Default: the day the course in this database "
            "began, or five weeks ago for a new one.",
        ),
    ] = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Load the course and exit.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Load the sample course (DBE-KT22 excerpt + simulated learners) and serve it.

    The simulated learners study from the course's start until now, so the pages show
    reviews falling due, recent mastery and work in progress. Loading again adds only what
    they did since the last load; a database holds one demo course, so another --start
    needs another database (MASTERYPATH_DATABASE_URL)."""
    from masterypath.demo import (
        course_start,
        default_start,
        load_demo_framework,
        simulate_learners,
    )

    context = open_context()
    now = datetime.now(UTC)
    begun = course_start(EvidenceService(context).find(learner_id="sim-learner-01", limit=1000))
    if start is None:
        start = datetime.combine(begun, time()) if begun else default_start(now.date())
    start = start.replace(tzinfo=UTC)
    if begun is not None and start.date() != begun:
        raise ConflictError(
            "--start",
            start.date().isoformat(),
            f"this database's demo course began on {begun}"
            "; load another start into another database (MASTERYPATH_DATABASE_URL)",
        )
    framework = load_demo_framework()
    saved = FrameworkService(context).save(framework, replace=True)
    evidence = simulate_learners(
        framework, n_learners=learners, rng=np.random.default_rng(seed), start=start, end=now
    )
    results = EvidenceService(context).record_many(evidence)
    stored = sum(r.stored for r in results)
    logins = demo_accounts(context, sorted({e.learner_id for e in evidence}))
    summary = {
        "framework": saved.id,
        "competencies": saved.competencies,
        "learners": learners,
        "start": start.date().isoformat(),
        "evidence": len(results),
        "stored": stored,
        "duplicate": len(results) - stored,
        "url": f"http://{host}:{port}/",
        "logins": logins,
    }
    if as_json:
        print_json(summary)
    else:
        out.print(
            f"demo course [bold]{saved.id}[/]: {saved.competencies} competencies; "
            f"{learners} simulated learners, {len(results)} evidence "
            f"({stored} new)"
        )
        out.print(f"demo logins (new passwords each run), for http://{host}:{port}/login:")
        for who in logins:
            out.print(f"  {who['role']:<9} {who['username']:<10} {who['password']}")
    if not no_serve:
        for said in demo_keys(f"http://{host}:{port}/"):
            out.print(said)
        out.print(f"serving on http://{host}:{port}/  (API docs: /docs; Ctrl+C stops)")
        serve(port=port, host=host)


DEMO_BADGE_KEY = Path("var/demo-badge-key.pem")
DEMO_LTI_KEY = Path("var/demo-lti-key.pem")


def demo_keys(url: str) -> list[str]:
    """Let the demo server issue Open Badges and answer LTI 1.3 platforms in full (grades
    back, deep linking), each with a key of its own in ``var/`` (made once), unless its
    settings are given; says what it did."""
    said = []
    badge_settings = ("MASTERYPATH_BADGE_KEY_FILE", "MASTERYPATH_BADGE_ISSUER_URL")
    if not any(os.environ.get(name) for name in badge_settings):
        os.environ["MASTERYPATH_BADGE_KEY_FILE"] = str(_demo_key(DEMO_BADGE_KEY))
        os.environ["MASTERYPATH_BADGE_ISSUER_URL"] = url
        os.environ.setdefault("MASTERYPATH_BADGE_ISSUER_NAME", "masterypath demo")
        said.append(f"badges for mastered competencies are signed with {DEMO_BADGE_KEY}")
    if not os.environ.get("MASTERYPATH_LTI_KEY_FILE"):
        os.environ["MASTERYPATH_LTI_KEY_FILE"] = str(_demo_key(DEMO_LTI_KEY))
        said.append(f"LTI 1.3: grades back and deep linking are signed with {DEMO_LTI_KEY}")
    return [f"{line} (demo only)" for line in said]


def _demo_key(path: Path) -> Path:
    if not path.exists():
        vc_jwt.write_key(vc_jwt.generate_key(), path)
    return path


cli_mastery.register(app)
cli_audit.register(app)
cli_careers.register(app)
cli_accounts.register(app)
cli_feedback.register(app)
cli_placement.register(app)
cli_badges.register(app)
cli_roster.register(app)
cli_lti.register(app)
cli_backup.register(app)
cli_jobs.register(app)

kt_app = typer.Typer(
    help="Knowledge tracing: fit, evaluate and apply mastery models on "
    "response logs (CSV, TSV or Parquet; gzip OK).",
    no_args_is_help=True,
)
app.add_typer(kt_app, name="kt")

DataOption = Annotated[Path, typer.Option("--data", help="Response log: CSV, TSV or Parquet.")]
ColumnsOption = Annotated[
    str,
    typer.Option(
        help="user=,skill=,correct=,order=[,item=] or a preset (pybkt, assistments, kddcup)."
    ),
]
ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        help="bkt, bkt-forgets, bkt-idem, bkt-multilearn, logistic or rollup:METHOD "
        "(highest, latest, average, n_mastery, weighted_average, decaying_average).",
    ),
]
JsonPathOption = Annotated[
    Path | None,
    typer.Option("--json", help="Write the figures here as JSON; `-`: print only them, to stdout."),
]


def _report(figures: dict[str, Any], json_path: Path | None, table: Table) -> None:
    """The figures as JSON to ``json_path`` (``-``: to stdout, instead of the table)."""
    if json_path == Path("-"):
        print_json(figures)
        return
    if json_path:
        json_path.write_text(json.dumps(figures, indent=2))
    out.print(table)


def _load_responses(data: Path, columns: str) -> Any:
    from masterypath.domain.models.responses import Responses
    from masterypath.interop.tables import mapped_columns, read_table

    mapping = ColumnMapping.parse(columns)
    with err.status(f"reading {data}"):
        frame = read_table(data)
        return Responses.from_frame(frame, **mapped_columns(mapping))


def _metrics_table(title: str, rows: dict[str, Any]) -> Table:
    table = Table("metric", "value", title=title)
    for key, val in rows.items():
        table.add_row(key, f"{val:.4f}" if isinstance(val, float) else str(val))
    return table


@kt_app.command("fit")
@reports_errors
def kt_fit(
    data: DataOption,
    columns: ColumnsOption,
    model: ModelOption = "bkt",
    output: Annotated[Path, typer.Option(help="Model file (typed JSON) to write.")] = Path(
        "model.json"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the random restarts.")] = 0,
    n_jobs: Annotated[int, typer.Option(help="Skills fitted in parallel (joblib).")] = 1,
    json_path: JsonPathOption = None,
) -> None:
    """Fit a model on a whole log and write it as a JSON model file."""
    import time

    from masterypath.domain.models.metrics import all_metrics
    from masterypath.domain.models.registry import make_model

    responses = _load_responses(data, columns)
    estimator = make_model(model, seed=seed, n_jobs=n_jobs)
    with err.status(f"fitting {model} on {responses.n_responses:,} responses"):
        start = time.perf_counter()
        estimator.fit(responses)
        seconds = time.perf_counter() - start
    output.write_text(json.dumps(estimator.to_dict()))
    figures = {
        **all_metrics(responses.response_labels(), estimator.predict_proba(responses)),
        "fit_seconds": seconds,
        "n_rows": responses.n_responses,
        "model": model,
        "output": str(output),
        "note": "metrics on the training data",
    }
    _report(
        figures,
        json_path,
        _metrics_table(f"{model} fitted -> {output} (training-data metrics)", figures),
    )


@kt_app.command("evaluate")
@reports_errors
def kt_evaluate(
    data: DataOption,
    columns: ColumnsOption,
    model: ModelOption = "bkt",
    folds: Annotated[int, typer.Option(help="Student-level cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the fold split and restarts.")] = 0,
    n_jobs: Annotated[int, typer.Option(help="Skills fitted in parallel (joblib).")] = 1,
    json_path: JsonPathOption = None,
) -> None:
    """Student-level k-fold cross-validation: AUC, RMSE, log-loss, calibration error."""
    from masterypath.services.knowledge_tracing import cross_validate

    responses = _load_responses(data, columns)
    with Progress(
        TextColumn(f"{model}: folds"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    ) as bar:
        task = bar.add_task("folds", total=folds)
        result = cross_validate(
            model,
            responses,
            folds=folds,
            seed=seed,
            n_jobs=n_jobs,
            on_fold=lambda _: bar.advance(task),
        )
    figures = result.to_dict()
    shown = {k: v for k, v in figures.items() if k != "per_fold"}
    _report(
        figures,
        json_path,
        _metrics_table(f"{model}: {folds}-fold student-level CV (pooled)", shown),
    )


@kt_app.command("predict")
@reports_errors
def kt_predict(
    data: DataOption,
    columns: ColumnsOption,
    model_file: Annotated[Path, typer.Option(help="Model file written by kt fit.")],
    output: Annotated[Path, typer.Option(help="CSV of predictions to write.")] = Path(
        "predictions.csv"
    ),
    json_path: JsonPathOption = None,
) -> None:
    """P(correct) of every answer from the answers before it, and P(learned) per step. A
    learner or skill id a spreadsheet would run as a formula is written with a leading
    ``'``."""
    import pandas as pd

    from masterypath.domain.models.metrics import all_metrics
    from masterypath.domain.models.registry import model_from_dict
    from masterypath.interop.spreadsheet import spreadsheet_safe

    if not model_file.is_file():
        raise InvalidInputError(str(model_file), [Problem(str(model_file), "FILE", "no such file")])
    try:
        estimator = model_from_dict(strict_json.loads(model_file.read_text()))
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            str(model_file), [Problem(f"line {exc.lineno}", "json", exc.msg)]
        ) from None
    responses = _load_responses(data, columns)
    p_correct, p_known = estimator.predict_steps(responses)
    pd.DataFrame(
        {
            "learner": [spreadsheet_safe(responses.learners[i]) for i in responses.learner],
            "skill": [spreadsheet_safe(responses.skills[i]) for i in responses.skill],
            "response": responses.response,
            "correct": responses.correct,
            "p_correct": p_correct,
            "p_known": p_known,
        }
    ).to_csv(output, index=False)
    figures = {
        **all_metrics(responses.response_labels(), responses.combine(p_correct)),
        "n_rows": responses.n_responses,
        "output": str(output),
    }
    _report(figures, json_path, _metrics_table(f"predictions -> {output}", figures))


def main() -> None:
    app()

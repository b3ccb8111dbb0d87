"""Benchmark: importing a response log into the evidence ledger.

Runs, in one process and on the same data and database kind:

- **masterypath**: read + validate every row, then the idempotent bulk append
  (`EvidenceService.import_log`), and a second import of the same file (all duplicates);
- **pandas to_sql**: what a researcher would write, ``DataFrame.to_sql(method="multi")``
  of the raw columns (no validation, no idempotency, no multi-skill handling);
- **ORM row by row**: ``session.add`` + ``flush`` per evidence row and its competency
  link, on the first ``--orm-rows`` rows (it is too slow for the full file).

Prints a table with rows/s and the ratio to masterypath; ``--json PATH`` writes the
figures. Usage (from the repository root)::

    .venv/bin/python -m bench.import_log ../shared/data/kt/assist2009/assist2009_log.csv.gz \\
        --columns user=user_id,skill=skill_name,correct=correct,order=seq_idx,item=problem_id \\
        --backend sqlite --backend postgresql --json bench/import_log.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pandas as pd
import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine

from masterypath.interop.evidence_log import ColumnMapping, read_evidence_log, read_text
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.settings import Settings
from masterypath.store.database import normalise_url, upgrade
from masterypath.store.tables import EvidenceCompetencyRow, EvidenceRow


@contextmanager
def fresh_database(backend: str, admin_url: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / f'{uuid.uuid4().hex}.db'}"
        return
    name = f"mp_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_masterypath(text: str, mapping: ColumnMapping, url: str) -> dict[str, Any]:
    context = ServiceContext.from_settings(Settings(database_url=url))
    upgrade(context.engine)
    service = EvidenceService(context)
    t0 = time.perf_counter()
    log = read_evidence_log(text, mapping, source="bench", imported_at=datetime.now(UTC))
    t1 = time.perf_counter()
    counts = service.import_log(log)
    t2 = time.perf_counter()
    again = service.import_log(log)
    t3 = time.perf_counter()
    context.engine.dispose()
    return {
        "rows": log.total_rows,
        "stored": counts.stored,
        "validate_s": t1 - t0,
        "store_s": t2 - t1,
        "total_s": t2 - t0,
        "reimport_s": t3 - t2,
        "reimport_duplicates": again.duplicate,
    }


def bench_to_sql(text: str, mapping: ColumnMapping, url: str) -> dict[str, Any]:
    import io

    frame = pd.read_csv(io.StringIO(text), usecols=list(set(mapping.columns().values())))
    engine = create_engine(normalise_url(url))
    t0 = time.perf_counter()
    frame.to_sql(
        "raw_log", engine, if_exists="replace", index=False, method="multi", chunksize=2000
    )
    elapsed = time.perf_counter() - t0
    engine.dispose()
    return {"rows": len(frame), "total_s": elapsed}


def bench_orm(text: str, mapping: ColumnMapping, url: str, limit: int) -> dict[str, Any]:
    context = ServiceContext.from_settings(Settings(database_url=url))
    upgrade(context.engine)
    log = read_evidence_log(text, mapping, source="orm", imported_at=datetime.now(UTC))
    rows = log.rows.head(limit)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    with context.sessions.begin() as session:
        for r in cast(Iterable[Any], rows.itertuples()):  # rows of known columns
            row = EvidenceRow(
                key=r.key,
                batch_id="orm",
                content_hash=r.content_hash,
                learner_id=r.learner_id,
                item_id=r.item_id,
                outcome_type="binary",
                correct=r.outcome == "b1",
                score=float(r.score),
                rubric_levels=None,
                timestamp=now,
                sequence=int(r.sequence),
                kind=r.kind,
                source=r.source,
                asserted_by=None,
                recorded_at=now,
            )
            session.add(row)
            session.flush()
            for n, cid in enumerate(str(r.skill).split("\x1e")):
                session.add(
                    EvidenceCompetencyRow(evidence_id=row.id, competency_id=cid, position=n)
                )
    elapsed = time.perf_counter() - t0
    context.engine.dispose()
    return {"rows": len(rows), "total_s": elapsed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="CSV/TSV log (gzip OK)")
    parser.add_argument("--columns", required=True, help="role=column mapping or a preset")
    parser.add_argument(
        "--backend",
        action="append",
        choices=["sqlite", "postgresql"],
        help="repeatable; default sqlite",
    )
    parser.add_argument(
        "--postgres-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--orm-rows", type=int, default=20_000)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    text = read_text(args.path)
    mapping = ColumnMapping.parse(args.columns)
    console = Console()
    results: dict[str, Any] = {
        "dataset": str(args.path),
        "columns": args.columns,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "backends": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backend or ["sqlite"]:
            console.print(f"[bold]{backend}[/]: running masterypath, pandas to_sql, ORM ...")
            with fresh_database(backend, args.postgres_admin_url, Path(tmp)) as url:
                ours = bench_masterypath(text, mapping, url)
            with fresh_database(backend, args.postgres_admin_url, Path(tmp)) as url:
                to_sql = bench_to_sql(text, mapping, url)
            with fresh_database(backend, args.postgres_admin_url, Path(tmp)) as url:
                orm = bench_orm(text, mapping, url, args.orm_rows)
            results["backends"][backend] = {
                "masterypath": ours,
                "pandas_to_sql": to_sql,
                "orm_row_by_row": orm,
            }
            ours_rate = ours["rows"] / ours["total_s"]
            table = Table(
                "system",
                "rows",
                "seconds",
                "rows/s",
                "masterypath speed-up",
                title=f"{args.path.name} on {backend}",
            )
            for name, res in (
                ("masterypath (validate + idempotent bulk store)", ours),
                ("pandas to_sql (no validation, no idempotency)", to_sql),
                ("ORM row by row", orm),
            ):
                rate = res["rows"] / res["total_s"]
                table.add_row(
                    name,
                    f"{res['rows']:,}",
                    f"{res['total_s']:.2f}",
                    f"{rate:,.0f}",
                    f"{ours_rate / rate:.2f}x",
                )
            table.add_row(
                "masterypath re-import (all duplicates)",
                f"{ours['rows']:,}",
                f"{ours['reimport_s']:.2f}",
                f"{ours['rows'] / ours['reimport_s']:,.0f}",
                "",
            )
            console.print(table)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

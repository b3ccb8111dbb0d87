"""Shared pieces of the command line: consoles, the error wrapper, the database context."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from masterypath.errors import InvalidInputError, MasterypathError, Problem
from masterypath.services.context import ServiceContext
from masterypath.services.frameworks import FrameworkService
from masterypath.settings import Settings
from masterypath.store.database import upgrade

out = Console()
err = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


_OPENED: list[ServiceContext] = []
"""The contexts the running command opened; closed when it ends."""


def reports_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a MasterypathError, or a file that cannot be read or written (``OSError``),
    into a clear message (or a JSON error) and exit code 2; close the database
    connections the command opened, whatever happened."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except MasterypathError as exc:
            if kwargs.get("as_json"):
                payload: dict[str, Any] = {"error": exc.code, "message": str(exc)}
                if isinstance(exc, InvalidInputError):
                    payload["problems"] = [asdict(p) for p in exc.problems]
                print(json.dumps(payload, indent=2))
            else:
                err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(2) from None
        except OSError as exc:  # a file the command was told to read or write
            message = f"{exc.filename or '(file)'}: {exc.strerror or exc}"
            if kwargs.get("as_json"):
                print(json.dumps({"error": "file", "message": message}, indent=2))
            else:
                err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
            raise typer.Exit(2) from None
        finally:
            while _OPENED:
                _OPENED.pop().engine.dispose()

    return wrapper


def open_context() -> ServiceContext:
    context = ServiceContext.from_settings(Settings.from_environment())
    _OPENED.append(context)
    upgrade(context.engine)
    return context


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def print_rows(
    rows: Sequence[Mapping[str, Any]], columns: Mapping[str, str], *, as_json: bool
) -> None:
    """Rows as JSON with ``--json``, else as a table: ``columns`` maps each heading to the
    key it shows."""
    if as_json:
        print_json(rows)
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(row[key]) for key in columns.values()))
    out.print(table)


def only_framework(service: FrameworkService) -> str:
    stored = service.summaries()
    if len(stored) != 1:
        names = ", ".join(f.id for f in stored) or "none stored"
        raise InvalidInputError(
            "--framework",
            [
                Problem(
                    "--framework",
                    "framework",
                    f"required when there is not exactly one framework ({names})",
                )
            ],
        )
    return stored[0].id


def register_commands(app: typer.Typer, commands: dict[str, Callable[..., None]]) -> None:
    """Add each command to ``app`` under its name, wrapped in :func:`reports_errors`."""
    for name, fn in commands.items():
        app.command(name)(reports_errors(fn))


def with_progress(label: str, quiet: bool, run: Callable[[Callable[[int, int], None]], R]) -> R:
    """``run`` with a progress bar on the terminal (told how many are done of how many)."""
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        disable=quiet or not err.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=None)
        return run(lambda done, total: bar.update(task, completed=done, total=total))


@contextlib.contextmanager
def status_line(label: str) -> Iterator[Callable[[str], None]]:
    """A spinner with ``label`` on a terminal while the block runs; the block changes the
    label with the function it is given (elsewhere, it does nothing)."""
    if not err.is_terminal:
        yield lambda _: None
        return
    with err.status(label) as status:
        yield status.update

"""``masterypath roster import``: learners, accounts and cohorts from a school's OneRoster
CSV export."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from masterypath.cli_support import (
    JsonOption,
    err,
    open_context,
    out,
    print_json,
    register_commands,
    with_progress,
)
from masterypath.errors import InvalidInputError, Problem
from masterypath.interop.oneroster import FILES, parse_roster
from masterypath.interop.oneroster_rest import RosterSource
from masterypath.services.context import ServiceContext
from masterypath.services.roster import ReadMark, RosterService
from masterypath.settings import Settings

roster_app = typer.Typer(
    help="Learners, accounts and cohorts from a OneRoster CSV export or REST service."
)
AccountsFile = Annotated[
    Path | None,
    typer.Option(
        help="Also make accounts for students, teachers and parents with a username, and "
        "write "
        "their first passwords to this new file (CSV, readable by its owner only)."
    ),
]


def import_roster(
    folder: Annotated[
        Path,
        typer.Argument(
            help="Folder of the export: users.csv [classes.csv enrollments.csv] [demographics.csv]."
        ),
    ],
    accounts_file: AccountsFile = None,
    as_json: JsonOption = False,
) -> None:
    """Store each student's profile (name, e-mail, birth date) under their roster id, each
    class as a cohort with its students and teachers, and with --accounts-file accounts:
    all in one transaction, after every file was checked. Run it again with the next
    export to add what is new and update what changed."""
    if not folder.is_dir():
        raise InvalidInputError(str(folder), [Problem(str(folder), "FOLDER", "no such folder")])
    files = {}
    for name in FILES:
        if (folder / name).is_file():
            try:
                files[name] = (folder / name).read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                reason = f"is not UTF-8 (byte {exc.start})"
                raise InvalidInputError(name, [Problem(name, "encoding", reason)]) from None
    _store(files, accounts_file, as_json)


def sync_roster(
    url: Annotated[
        str | None,
        typer.Option(
            help="The rostering service's base URL (https://sis/ims/oneroster/rostering/v1p2, "
            "or 1.1's https://sis/ims/oneroster/v1p1); default MASTERYPATH_ONEROSTER_URL."
        ),
    ] = None,
    token_url: Annotated[
        str | None,
        typer.Option(
            help="Its OAuth 2 token URL (oauth2 only); default MASTERYPATH_ONEROSTER_TOKEN_URL."
        ),
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option(
            help="The client id it gave this server; default MASTERYPATH_ONEROSTER_CLIENT_ID."
        ),
    ] = None,
    auth: Annotated[
        str | None,
        typer.Option(
            help="oauth2 (OneRoster 1.2) or oauth1 (1.1: signed requests); default "
            "MASTERYPATH_ONEROSTER_AUTH, else oauth2."
        ),
    ] = None,
    everything: Annotated[
        bool,
        typer.Option(
            "--everything", help="Read every record, not only those changed since the last read."
        ),
    ] = False,
    accounts_file: AccountsFile = None,
    as_json: JsonOption = False,
) -> None:
    """Read the roster from the school's student information system (OneRoster REST:
    users, classes, enrollments, demographics; 1.2 with OAuth 2, or 1.1 with OAuth 1.0a
    signatures) and store it as roster import stores an export; the client secret comes
    from MASTERYPATH_ONEROSTER_CLIENT_SECRET, never the command line. After the first
    read, only the records changed since the last one are read (dateLastModified), with
    the users and classes their enrollments name. Run it from cron, or let the server do
    it (MASTERYPATH_ROSTER_SYNC_HOURS), to keep learners and classes current."""
    settings = Settings.from_environment()
    chosen = auth or settings.oneroster_auth
    if chosen not in ("oauth2", "oauth1"):
        raise InvalidInputError(
            "roster sync", [Problem("roster sync", "--auth", "must be oauth2 or oauth1")]
        )
    source = RosterSource(
        url or settings.oneroster_url,
        token_url or settings.oneroster_token_url,
        client_id or settings.oneroster_client_id,
        settings.oneroster_client_secret,
        "oauth1" if chosen == "oauth1" else "oauth2",
    )
    named = {
        "url": ("--url", "MASTERYPATH_ONEROSTER_URL"),
        "token_url": ("--token-url", "MASTERYPATH_ONEROSTER_TOKEN_URL"),
        "client_id": ("--client-id", "MASTERYPATH_ONEROSTER_CLIENT_ID"),
        "client_secret": ("client secret", "MASTERYPATH_ONEROSTER_CLIENT_SECRET"),
    }
    missing = [
        Problem("roster sync", named[field][0], f"is required (or {named[field][1]})")
        for field in source.missing()
    ]
    if missing:
        raise InvalidInputError("roster sync", missing)
    context = open_context()
    since = None if everything else RosterService(context).changes_start(source.url)
    read = with_progress(
        "reading the roster",
        as_json,
        lambda progress: source.read(
            since=since, progress=lambda _name, done: progress(done, done)
        ),
    )
    _store(read.files, accounts_file, as_json, (context, ReadMark.of(source.url, read)))


def _store(
    files: dict[str, str],
    accounts_file: Path | None,
    as_json: bool,
    read: tuple[ServiceContext, ReadMark] | None = None,
) -> None:
    """Check the roster's files, store them (``read``: in the database read from, with
    how far a read from a system got), write the first passwords, report."""
    context, mark = read if read is not None else (open_context(), None)
    roster = parse_roster(files)
    passwords = None if accounts_file is None else _new_private_file(accounts_file)
    try:
        with Progress(
            TextColumn("hashing first passwords"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            disable=as_json or not err.is_terminal or passwords is None,
        ) as bar:
            task = bar.add_task("hash", total=None)
            result = RosterService(context).import_roster(
                roster,
                by="cli",
                accounts=passwords is not None,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                read=mark,
            )
    except BaseException:
        if passwords is not None and accounts_file is not None:
            passwords.close()
            accounts_file.unlink()  # nothing was stored: no password to hand out
        raise
    if passwords is not None:
        with passwords:
            writer = csv.writer(passwords, lineterminator="\n")
            writer.writerow(["username", "password", "role"])
            for account in result.accounts:
                writer.writerow([account.username, account.password, account.role.value])
    if as_json:
        print_json(result.to_dict() | {"accounts_file": str(accounts_file or "")})
        return
    figures = {k: v for k, v in result.to_dict().items() if isinstance(v, int)}
    out.print(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in figures.items()))
    out.print(
        f"accounts created {len(result.accounts)}"
        + (f" (first passwords in {accounts_file})" if result.accounts else "")
    )
    for note in result.left_out:
        out.print(f"left out: {note}")


def _new_private_file(path: Path) -> TextIO:
    """``path``, made now and readable by its owner only; an existing file is an error."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInputError(
            str(path), [Problem(str(path), "--accounts-file", "exists: name a new file")]
        ) from None
    except OSError as exc:
        raise InvalidInputError(
            str(path), [Problem(str(path), "--accounts-file", exc.strerror or str(exc))]
        ) from None
    return os.fdopen(descriptor, "w", encoding="utf-8", newline="")


def register(parent: typer.Typer) -> None:
    register_commands(roster_app, {"import": import_roster, "sync": sync_roster})
    parent.add_typer(roster_app, name="roster")

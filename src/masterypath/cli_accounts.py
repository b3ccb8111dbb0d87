"""``masterypath users | api-keys | cohorts | learners``: accounts, keys, cohorts, privacy."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from masterypath.cli_support import (
    JsonOption,
    err,
    open_context,
    out,
    print_json,
    print_rows,
    register_commands,
)
from masterypath.domain.access import Role, Scope
from masterypath.errors import NotFoundError, ValidationError
from masterypath.services.accounts import AccountService
from masterypath.services.privacy import MAX_RETENTION_DAYS, PrivacyService
from masterypath.web.pages import embed_url

users_app = typer.Typer(help="User accounts (argon2 password hashes).")
keys_app = typer.Typer(help="Scoped API keys for integrations (stored hashed).")
cohorts_app = typer.Typer(help="Cohorts: learners and the educators who see them.")
learners_app = typer.Typer(help="Learners' personal data, guardian consent, export and erasure.")
CLI_ACTOR = "cli"
Temporary = Annotated[
    bool,
    typer.Option(
        "--temporary",
        help="The password is a first one: the pages ask for a new one at the next login.",
    ),
]
Password = Annotated[
    str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="Password.")
]


def add_user(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[Role, typer.Option(help="admin, educator, learner or guardian.")],
    password: Password,
    learner: Annotated[str | None, typer.Option(help="Learner id (learner accounts).")] = None,
    temporary: Temporary = False,
    as_json: JsonOption = False,
) -> None:
    """Create an account (the password is asked for, never echoed)."""
    user_id = AccountService(open_context()).create_user(
        username, password, role, learner_id=learner, by=CLI_ACTOR, temporary=temporary
    )
    if as_json:
        print_json(
            {
                "id": user_id,
                "username": username,
                "role": role.value,
                "must_change_password": temporary,
            }
        )
    else:
        out.print(f"user {username} ({role.value}) created: {user_id}")


def set_password(
    username: Annotated[str, typer.Argument(help="Login name.")],
    password: Password,
    temporary: Temporary = False,
    as_json: JsonOption = False,
) -> None:
    """Replace a password (revokes the account's tokens); a forgotten one with
    --temporary."""
    AccountService(open_context()).set_password(
        username, password, by=CLI_ACTOR, temporary=temporary
    )
    _done(
        as_json,
        {"username": username, "tokens_revoked": True, "must_change_password": temporary},
        f"password of {username} replaced; its tokens are revoked"
        + ("; it is to be changed at the next login" if temporary else ""),
    )


def list_users(as_json: JsonOption = False) -> None:
    """List accounts."""
    rows = AccountService(open_context()).users()
    if as_json:
        print_json(rows)
        return
    # a learner's account: its learner; a guardian's: the learners it reads
    table = Table("username", "role", "learner", "first password", "disabled", "id")
    for r in rows:
        table.add_row(
            str(r["username"]),
            str(r["role"]),
            str(r["learner_id"] or ", ".join(cast(list[str], r.get("learners", [])))),
            "yes" if r["must_change_password"] else "",
            f"by {r['disabled_by']}" if r["disabled"] else "",
            str(r["id"]),
        )
    out.print(table)


def disable_user(
    username: Annotated[str, typer.Argument(help="Login name.")],
    as_json: JsonOption = False,
) -> None:
    """Disable an account: it can no longer log in or launch from a platform, and every
    token of it is revoked at once (its data, cohorts and links stay)."""
    _set_disabled(username, True, as_json)


def enable_user(
    username: Annotated[str, typer.Argument(help="Login name.")],
    as_json: JsonOption = False,
) -> None:
    """Enable a disabled account again."""
    _set_disabled(username, False, as_json)


def _set_disabled(username: str, disabled: bool, as_json: bool) -> None:
    accounts = AccountService(open_context())
    user_id = accounts.user_id(username)
    if user_id is None:
        raise NotFoundError("user", username)
    account = accounts.set_disabled(user_id, disabled, by=CLI_ACTOR)
    _done(as_json, account, f"{username} {'disabled' if disabled else 'enabled'}")


def link_guardian(
    username: Annotated[str, typer.Argument(help="A guardian account's login name.")],
    learner: Annotated[str, typer.Argument(help="The learner id whose records it may read.")],
    remove: Annotated[
        bool, typer.Option("--remove", help="End the link instead of making it.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Let a guardian account (a parent's, a carer's; `users add NAME --role guardian`)
    read a learner's records: progress, evidence, plan and export, nothing else. With
    --remove, end it."""
    accounts = AccountService(open_context())
    user_id = accounts.user_id(username)
    if user_id is None:
        raise NotFoundError("user", username)
    if remove:
        accounts.unlink_guardian(user_id, learner, by=CLI_ACTOR)
    else:
        accounts.link_guardian(user_id, learner, by=CLI_ACTOR)
    learners = accounts.wards(user_id)
    _done(
        as_json,
        {"username": username, "learners": learners},
        f"{username} reads the records of: {', '.join(learners) or 'nobody'}",
    )


def create_key(
    name: Annotated[str, typer.Argument(help="What the key is for, e.g. the LMS.")],
    scope: Annotated[list[Scope], typer.Option(help="Scope (repeatable).")],
    expires_in_days: Annotated[
        int | None,
        typer.Option(min=1, max=36500, help="The key stops working after this many days."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key; it is printed once and only its hash is stored."""
    accounts = AccountService(open_context())
    expires_at = None
    if expires_in_days is not None:
        expires_at = accounts.context.clock() + timedelta(days=expires_in_days)
    issued = accounts.create_api_key(name, scope, by=CLI_ACTOR, expires_at=expires_at)
    if as_json:
        print_json(issued.__dict__)
    else:
        until = f", expires {issued.expires_at:%Y-%m-%d %H:%M} UTC" if issued.expires_at else ""
        out.print(f"API key {issued.id} ({', '.join(issued.scopes)}{until}):\n{issued.key}")


def list_keys(as_json: JsonOption = False) -> None:
    """List API keys (never the keys)."""
    rows = AccountService(open_context()).api_keys()
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "scopes", "revoked")
    for r in rows:
        table.add_row(str(r["id"]), str(r["name"]), ", ".join(r["scopes"]), str(r["revoked"]))  # type: ignore[arg-type]
    out.print(table)


def revoke_key(
    key_id: Annotated[str, typer.Argument(help="Key id.")], as_json: JsonOption = False
) -> None:
    """Revoke an API key."""
    AccountService(open_context()).revoke_api_key(key_id, by=CLI_ACTOR)
    _done(as_json, {"id": key_id, "revoked": True}, f"API key {key_id} revoked")


def create_cohort(
    cohort_id: Annotated[str, typer.Argument(help="Cohort id.")],
    title: Annotated[str, typer.Option(help="Title.")] = "",
    learner: Annotated[list[str] | None, typer.Option(help="Enrol (repeatable).")] = None,
    educator: Annotated[
        list[str] | None, typer.Option(help="Educator username (repeatable).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a cohort, enrol learners and assign educators (all of it, or nothing)."""
    accounts = AccountService(open_context())
    educators = []
    for username in educator or []:
        user_id = accounts.user_id(username)
        if user_id is None:
            raise typer.BadParameter(f"no user {username!r}", param_hint="--educator")
        educators.append(user_id)
    accounts.create_cohort(
        cohort_id, title or cohort_id, by=CLI_ACTOR, learners=learner or [], educators=educators
    )
    learners = list(dict.fromkeys(learner or []))
    _done(
        as_json,
        {"id": cohort_id, "learners": learners, "educators": educator or []},
        f"cohort {cohort_id}: {len(learners)} learners, {len(educators)} educators",
    )


def add_learner(
    learner_id: Annotated[str, typer.Argument(help="Pseudonymous learner id.")],
    name: Annotated[str, typer.Option(help="Name (personal data).")] = "",
    email: Annotated[str, typer.Option(help="E-mail (personal data).")] = "",
    birth_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Store a learner's personal data apart from the pseudonymous id."""
    try:
        born = date.fromisoformat(birth_date) if birth_date else None
    except ValueError as exc:
        raise typer.BadParameter(f"{birth_date!r}: {exc}", param_hint="--birth-date") from None
    PrivacyService(open_context()).create_learner(
        learner_id=learner_id, name=name, email=email, birth_date=born, by=CLI_ACTOR
    )
    _done(as_json, {"learner_id": learner_id, "stored": True}, f"learner {learner_id} stored")


def consent(
    learner_id: Annotated[str, typer.Argument(help="Learner id.")],
    guardian: Annotated[str, typer.Option(help="The guardian who consented.")],
    as_json: JsonOption = False,
) -> None:
    """Record a guardian's consent for a learner under 13."""
    PrivacyService(open_context()).record_consent(learner_id, guardian, by=CLI_ACTOR)
    _done(
        as_json,
        {"learner_id": learner_id, "guardian": guardian},
        f"guardian consent recorded for {learner_id}",
    )


def export_learner(
    learner_id: Annotated[str, typer.Argument(help="Learner id.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File.")] = None,
) -> None:
    """Everything stored about a learner, as JSON."""
    text = json.dumps(PrivacyService(open_context()).export(learner_id), indent=2, default=str)
    if output is None:
        print(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")


def access_log(
    learner_id: Annotated[str, typer.Argument(help="Learner id.")],
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows to show.")] = 1000,
    offset: Annotated[int, typer.Option(min=0, help="Rows to skip (oldest first).")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Who read the learner's records, what and when (oldest first); a read repeated by an
    account through one endpoint is a row per MASTERYPATH_ACCESS_LOG_WINDOW."""
    context = open_context()
    rows = PrivacyService(context).access_log(learner_id, limit=limit, offset=offset)
    names = AccountService(context).names(r["actor"] for r in rows)
    for row in rows:
        row["actor_name"] = names[row["actor"]]
    columns = {"at": "at", "who": "actor_name", "action": "action", "what": "what"}
    print_rows(rows, columns, as_json=as_json)


def embed_link(
    learner_id: Annotated[str, typer.Argument(help="Learner id.")],
    framework: Annotated[str | None, typer.Option(help="Framework the map shows.")] = None,
    minutes: Annotated[int, typer.Option(help="How long the link works (1 to 1440).")] = 60,
    base_url: Annotated[
        str, typer.Option(help="Where the server is reached.")
    ] = "http://127.0.0.1:8000/",
    as_json: JsonOption = False,
) -> None:
    """A link that shows the learner's progress map without a login (for an LMS's iframe)
    until it expires; it may read that learner's records only."""
    issued = AccountService(open_context()).create_embed_token(
        learner_id, by=CLI_ACTOR, minutes=minutes
    )
    url = embed_url(base_url, learner_id, framework, issued.token)
    _done(
        as_json,
        {
            "id": issued.id,
            "url": url,
            "token": issued.token,
            "expires_at": issued.expires_at.isoformat(),
        },
        f"{url}\n(link {issued.id}, works until {issued.expires_at.isoformat()})",
    )


def list_embed_links(
    learner_id: Annotated[str, typer.Argument(help="Learner id.")],
    as_json: JsonOption = False,
) -> None:
    """The learner's embed links that still work (never their tokens)."""
    accounts = AccountService(open_context())
    links = accounts.embed_links(learner_id)
    names = accounts.names(link.created_by for link in links)
    rows = [link.to_dict(names) for link in links]
    columns = {
        "id": "id",
        "created by": "created_by_name",
        "created at": "created_at",
        "expires at": "expires_at",
    }
    print_rows(rows, columns, as_json=as_json)


def revoke_embed_link(
    learner_id: Annotated[str, typer.Argument(help="Learner id.")],
    link_id: Annotated[str, typer.Argument(help="Link id (from embed-links).")],
    as_json: JsonOption = False,
) -> None:
    """Stop one of the learner's embed links before it expires."""
    AccountService(open_context()).revoke_embed_link(learner_id, link_id, by=CLI_ACTOR)
    _done(
        as_json,
        {"learner_id": learner_id, "id": link_id, "revoked": True},
        f"embed link {link_id} of {learner_id} revoked",
    )


def erase_learner(
    learner_id: Annotated[str, typer.Argument(help="Learner id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Erase a learner's personal data, evidence and derived records (a tombstone stays in
    the audit log)."""
    if not yes:
        typer.confirm(f"Erase everything about {learner_id}?", abort=True)
    counts = PrivacyService(open_context()).erase(learner_id, by=CLI_ACTOR)
    if as_json:
        print_json({"learner_id": learner_id, "deleted": counts})
    else:
        out.print(f"{learner_id} erased: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))


RetentionDays = Annotated[
    int,
    typer.Option(
        "--days", min=1, max=MAX_RETENTION_DAYS, help="Inactive for at least this many days."
    ),
]


def inactive_learners(days: RetentionDays, as_json: JsonOption = False) -> None:
    """The learners with no activity in the last DAYS days (nothing they did or was recorded
    for them, no read of their records by themselves), the longest inactive first: those
    `learners erase-inactive` would erase."""
    found = PrivacyService(open_context()).inactive(days=days)
    print_rows(
        [f.to_dict() for f in found],
        {"learner": "learner_id", "last activity (UTC)": "last_activity"},
        as_json=as_json,
    )


def erase_inactive(
    days: RetentionDays,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Erase every learner with no activity in the last DAYS days, each as `learners erase`
    does and in a transaction of its own (a tombstone each, saying when they were last
    active). A learner who became active after the list was made is kept."""
    privacy = PrivacyService(open_context())
    found = privacy.inactive(days=days)
    if found and not yes:
        if as_json:
            raise ValidationError("--yes", "give --yes to erase without being asked")
        typer.confirm(
            f"Erase everything about {len(found)} learner{'s' if len(found) != 1 else ''} "
            f"inactive for {days} days or more?",
            abort=True,
        )
    erased: list[str] = []
    kept: list[str] = []
    with Progress(
        TextColumn("erasing"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        disable=as_json or not err.is_terminal,
    ) as bar:
        task = bar.add_task("erase", total=len(found))
        for learner in found:
            done = privacy.erase_if_inactive(learner.learner_id, days=days, by=CLI_ACTOR)
            (kept if done is None else erased).append(learner.learner_id)
            bar.advance(task)
    _done(
        as_json,
        {"days": days, "erased": erased, "kept": kept},
        f"{len(erased)} learner{'s' if len(erased) != 1 else ''} erased"
        + (f"; {len(kept)} kept (active again): {', '.join(kept)}" if kept else ""),
    )


def register(parent: typer.Typer) -> None:
    register_commands(
        users_app,
        {
            "add": add_user,
            "password": set_password,
            "list": list_users,
            "disable": disable_user,
            "enable": enable_user,
            "guardian": link_guardian,
        },
    )
    register_commands(keys_app, {"create": create_key, "list": list_keys, "revoke": revoke_key})
    register_commands(cohorts_app, {"create": create_cohort})
    register_commands(
        learners_app,
        {
            "add": add_learner,
            "consent": consent,
            "export": export_learner,
            "access-log": access_log,
            "erase": erase_learner,
            "inactive": inactive_learners,
            "erase-inactive": erase_inactive,
            "embed": embed_link,
            "embed-links": list_embed_links,
            "revoke-embed": revoke_embed_link,
        },
    )
    parent.add_typer(users_app, name="users")
    parent.add_typer(keys_app, name="api-keys")
    parent.add_typer(cohorts_app, name="cohorts")
    parent.add_typer(learners_app, name="learners")


def _done(as_json: bool, figures: dict[str, object], sentence: str) -> None:
    """What a command did: ``figures`` as JSON with ``--json``, else ``sentence``."""
    if as_json:
        print_json(figures)
    else:
        out.print(sentence)

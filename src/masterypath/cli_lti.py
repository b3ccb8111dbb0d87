"""``masterypath lti``: the learning platforms (Moodle, Canvas, ...) that may launch this
tool with LTI 1.3."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from masterypath.cli_support import (
    JsonOption,
    open_context,
    out,
    print_json,
    register_commands,
    with_progress,
)
from masterypath.interop import vc_jwt
from masterypath.interop.lti_tool_key import ToolKey
from masterypath.services.accounts import AccountService
from masterypath.services.lti import LtiService, Platform
from masterypath.services.lti_grades import LtiGradeService
from masterypath.services.lti_members import LtiMemberService
from masterypath.services.lti_registration import LtiRegistrationService
from masterypath.settings import Settings

ServiceOrigins = Annotated[
    list[str] | None,
    typer.Option(
        help="Another site (https://host[:port]) the platform's services are on, e.g. "
        "Canvas's school host (repeatable; given to update, they replace the list, and "
        "'' empties it)."
    ),
]

lti_app = typer.Typer(
    help="Learning platforms that launch this tool (LTI 1.3): give each the tool's login "
    "URL (/lti/login) and launch URL (/lti/launch)."
)


def _service(*, with_key: bool = False) -> LtiService:
    context = open_context()
    key = ToolKey.from_settings(Settings.from_environment()) if with_key else None
    return LtiService(context, AccountService(context), tool_key=key)


def add_platform(
    platform_id: Annotated[str, typer.Argument(help="A short name: lower-case, digits, -, _.")],
    issuer: Annotated[str, typer.Option(help="The platform's issuer (iss), an https URL.")],
    client_id: Annotated[str, typer.Option(help="The client id the platform gave this tool.")],
    auth_login_url: Annotated[
        str, typer.Option(help="The platform's OIDC authentication request URL.")
    ],
    key_set_url: Annotated[str, typer.Option(help="The URL of the platform's public keys.")],
    deployment: Annotated[
        list[str], typer.Option(help="A deployment id launches may come from (repeatable).")
    ],
    title: Annotated[str | None, typer.Option(help="A name people know it by.")] = None,
    token_url: Annotated[
        str | None, typer.Option(help="The platform's OAuth 2 token URL (to send grades back).")
    ] = None,
    service_origin: ServiceOrigins = None,
    as_json: JsonOption = False,
) -> None:
    """Register a platform (Moodle: Site administration > Plugins > External tool > Manage
    tools shows the values; Canvas: the developer key's client id)."""
    platform = Platform(
        id=platform_id,
        title=title or platform_id,
        issuer=issuer,
        client_id=client_id,
        auth_login_url=auth_login_url,
        key_set_url=key_set_url,
        deployment_ids=tuple(deployment),
        token_url=token_url,
        service_origins=tuple(service_origin or ()),
    )
    platform = _service().register(platform, by="cli")
    if as_json:
        print_json(platform.to_dict())
    else:
        out.print(f"registered {platform_id} ({issuer}, client id {client_id})")


def update_platform(
    platform_id: Annotated[str, typer.Argument(help="The platform's id.")],
    title: Annotated[str | None, typer.Option(help="A name people know it by.")] = None,
    issuer: Annotated[str | None, typer.Option(help="The platform's issuer (iss).")] = None,
    client_id: Annotated[str | None, typer.Option(help="The client id it gave this tool.")] = None,
    auth_login_url: Annotated[
        str | None, typer.Option(help="Its OIDC authentication request URL.")
    ] = None,
    key_set_url: Annotated[str | None, typer.Option(help="The URL of its public keys.")] = None,
    deployment: Annotated[
        list[str] | None,
        typer.Option(help="A deployment id (repeatable): the ones given replace the list."),
    ] = None,
    token_url: Annotated[
        str | None, typer.Option(help="Its OAuth 2 token URL; '' removes it.")
    ] = None,
    service_origin: ServiceOrigins = None,
    as_json: JsonOption = False,
) -> None:
    """Change a registered platform (the options given): the accounts its users launch
    as, their courses and grade links stay, which removing and adding it again would lose."""
    given = {
        "title": title,
        "issuer": issuer,
        "client_id": client_id,
        "auth_login_url": auth_login_url,
        "key_set_url": key_set_url,
        "deployment_ids": deployment,
        "service_origins": None if service_origin is None else [o for o in service_origin if o],
    }
    changes: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if token_url is not None:
        changes["token_url"] = token_url or None
    platform = _service().update(platform_id, changes, by="cli")
    if as_json:
        print_json(platform.to_dict())
    else:
        out.print(f"updated {platform_id}: {', '.join(sorted(changes)) or 'nothing'}")


def list_platforms(as_json: JsonOption = False) -> None:
    """The registered platforms."""
    platforms = _service().platforms()
    if as_json:
        print_json([p.to_dict() for p in platforms])
        return
    table = Table("id", "title", "issuer", "client id", "deployments", "other sites")
    for p in platforms:
        table.add_row(
            p.id,
            p.title,
            p.issuer,
            p.client_id,
            ", ".join(p.deployment_ids) or "none yet",
            ", ".join(p.service_origins),
        )
    out.print(table if platforms else "no platform is registered")


def remove_platform(
    platform_id: Annotated[str, typer.Argument(help="The platform's id.")],
    as_json: JsonOption = False,
) -> None:
    """Forget a platform: its launches stop working; the accounts its users made stay."""
    _service().remove(platform_id, by="cli")
    if as_json:
        print_json({"removed": platform_id})
    else:
        out.print(f"removed {platform_id}")


def registration_link(
    hours: Annotated[float, typer.Option(help="How long it holds (at most 168).")] = 24.0,
    as_json: JsonOption = False,
) -> None:
    """Make a one-time link that lets a platform register this tool itself (LTI Dynamic
    Registration): paste it into Moodle's "Tool URL" (Site administration > Plugins >
    External tool > Manage tools) or Canvas's "LTI Registration". Shown once."""
    settings = Settings.from_environment()
    link = LtiRegistrationService(_service()).make_link(by="cli", hours=hours)
    base = settings.public_url or "https://<this server>"
    if as_json:
        print_json(
            {
                "url": f"{settings.public_url}{link.path}" if settings.public_url else None,
                "path": link.path,
                "expires_at": link.expires_at.isoformat(),
            }
        )
        return
    out.print(f"{base}{link.path}", soft_wrap=True)
    out.print(f"holds until {link.expires_at:%Y-%m-%d %H:%M} UTC, for one registration")


def new_key(
    path: Annotated[Path, typer.Argument(help="A new PEM file (never overwritten).")],
    as_json: JsonOption = False,
) -> None:
    """Make this tool's RSA key (readable by its owner only); set MASTERYPATH_LTI_KEY_FILE
    to it. Its public half is published at /lti/jwks for the platforms."""
    key = vc_jwt.generate_key()
    vc_jwt.write_key(key, path)
    kid = ToolKey(key).kid
    if as_json:
        print_json({"key_file": str(path), "kid": kid})
    else:
        out.print(f"wrote {path} (kid {kid}); set MASTERYPATH_LTI_KEY_FILE={path}")


def send_grades(
    platform: Annotated[str | None, typer.Option(help="Only this platform's links.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Send each launched learner's score (competencies mastered of the framework their
    link names) to their platform's gradebook, where it changed since it was last sent
    (LTI Assignment and Grade Services). Run it from cron, or after a day's work."""
    grades = LtiGradeService(
        open_context(), tool_key=ToolKey.from_settings(Settings.from_environment())
    )
    report = with_progress(
        "sending grades", as_json, lambda p: grades.send_grades(platform, progress=p)
    )
    if as_json:
        print_json(report.to_dict())
        return
    out.print(f"sent {report.sent}, unchanged {report.unchanged}")
    _say_problems(report.skipped, report.failed)


def sync_members(
    platform: Annotated[str | None, typer.Option(help="Only this platform's courses.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Read the members of every course launched from (LTI Names and Role Provisioning
    Services): each active learner and teacher gets their account and place in the
    course's cohort before their first launch; a learner no longer active leaves it."""
    members = LtiMemberService(_service(with_key=True))
    report = with_progress(
        "reading course members", as_json, lambda p: members.sync_members(platform, progress=p)
    )
    if as_json:
        print_json(report.to_dict())
        return
    out.print(
        f"courses {report.courses}, members {report.members}, accounts linked "
        f"{report.accounts_linked}, removed from their cohort {report.removed}"
    )
    _say_problems(report.skipped, report.failed)


def _say_problems(skipped: list[str], failed: list[str]) -> None:
    """Print what was skipped and refused; exit 1 when something was refused."""
    for line in skipped:
        out.print(f"skipped: {line}")
    for line in failed:
        out.print(f"failed: {line}")
    if failed:
        raise typer.Exit(1)


def register(parent: typer.Typer) -> None:
    register_commands(
        lti_app,
        {
            "add": add_platform,
            "update": update_platform,
            "list": list_platforms,
            "remove": remove_platform,
            "key": new_key,
            "registration-link": registration_link,
            "send-grades": send_grades,
            "sync-members": sync_members,
        },
    )
    parent.add_typer(lti_app, name="lti")

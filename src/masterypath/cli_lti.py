"""``masterypath lti``: the learning platforms (Moodle, Canvas, ...) that may launch this
tool with LTI 1.3."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from masterypath.cli_support import JsonOption, open_context, out, print_json, register_commands
from masterypath.services.accounts import AccountService
from masterypath.services.lti import LtiService, Platform

lti_app = typer.Typer(
    help="Learning platforms that launch this tool (LTI 1.3): give each the tool's login "
    "URL (/lti/login) and launch URL (/lti/launch)."
)


def _service() -> LtiService:
    context = open_context()
    return LtiService(context, AccountService(context))


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
    )
    _service().register(platform, by="cli")
    if as_json:
        print_json(platform.to_dict())
    else:
        out.print(f"registered {platform_id} ({issuer}, client id {client_id})")


def list_platforms(as_json: JsonOption = False) -> None:
    """The registered platforms."""
    platforms = _service().platforms()
    if as_json:
        print_json([p.to_dict() for p in platforms])
        return
    table = Table("id", "title", "issuer", "client id", "deployments")
    for p in platforms:
        table.add_row(p.id, p.title, p.issuer, p.client_id, ", ".join(p.deployment_ids))
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


def register(parent: typer.Typer) -> None:
    register_commands(
        lti_app, {"add": add_platform, "list": list_platforms, "remove": remove_platform}
    )
    parent.add_typer(lti_app, name="lti")

"""``masterypath badges``: Open Badges 3.0 for mastered competencies."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from masterypath.cli_accounts import CLI_ACTOR
from masterypath.cli_support import (
    JsonOption,
    only_framework,
    open_context,
    out,
    print_json,
    register_commands,
)
from masterypath.errors import ValidationError
from masterypath.interop import vc_jwt
from masterypath.services.badges import BadgeService, BadgeSigner
from masterypath.services.frameworks import FrameworkService
from masterypath.settings import Settings

badges_app = typer.Typer(help="Open Badges 3.0 credentials for mastered competencies.")
LearnerArgument = Annotated[str, typer.Argument(help="The learner's (pseudonymous) id.")]
CompetencyOption = Annotated[str, typer.Option(help="The badge's competency.")]
FrameworkOption = Annotated[
    str | None, typer.Option(help="Framework id (default: the only one stored).")
]


def _service() -> BadgeService:
    context = open_context()
    return BadgeService(context, BadgeSigner.from_settings(Settings.from_environment()))


def key(
    path: Annotated[Path, typer.Argument(help="Where to write the new PEM key (0600).")],
    as_json: JsonOption = False,
) -> None:
    """Make the RSA key that signs badges (never over an existing file); then set
    ``MASTERYPATH_BADGE_KEY_FILE`` to it and ``MASTERYPATH_BADGE_ISSUER_URL`` to your
    school's URL."""
    private = vc_jwt.generate_key()
    vc_jwt.write_key(private, path)
    if as_json:
        print_json({"path": str(path), "public_jwk": vc_jwt.public_jwk(private)})
        return
    out.print(f"wrote {path} ({vc_jwt.KEY_BITS}-bit RSA, readable by you only)")
    out.print(f"set MASTERYPATH_BADGE_KEY_FILE={path} and MASTERYPATH_BADGE_ISSUER_URL")


def issue(
    learner: LearnerArgument,
    competency: Annotated[str, typer.Option(help="The mastered competency.")],
    framework: FrameworkOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sign the learner's badge for a competency they have mastered; prints the compact
    JWS (the badge), or with ``--json`` the credential and the JWS."""
    service = _service()
    framework = framework or only_framework(FrameworkService(service.context))
    badge = service.issue(learner, framework, competency, by=CLI_ACTOR)
    if as_json:
        print_json(badge)
    else:
        print(badge["jwt"])


def verify(
    token: Annotated[str, typer.Argument(help="A file holding the badge (compact JWS), or -.")],
    as_json: JsonOption = False,
) -> None:
    """Check a badge's signature and claims; exit code 1 when it is not valid."""
    try:
        text = sys.stdin.read() if token == "-" else Path(token).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(token, f"cannot read the badge: {exc}") from None
    result = _service().verify(text)
    if as_json:
        print_json(result.to_dict())
    else:
        achievement = result.credential.get("credentialSubject", {}).get("achievement", {})
        out.print(f"{'valid' if result.valid else 'NOT valid'}: {achievement.get('name', '?')}")
        for problem in result.problems:
            out.print(f"  - {problem}")
        issuer = "this server's issuer key" if result.signed_by_this_issuer else "another key"
        out.print(f"signed by {issuer}; revocation status: {result.status}")
    if not result.valid:
        raise typer.Exit(1)


def list_badges(
    learner: LearnerArgument,
    as_json: JsonOption = False,
) -> None:
    """The badges issued to the learner, revoked ones included."""
    issued = [b.to_dict() for b in _service().badges(learner)]
    if as_json:
        print_json(issued)
        return
    table = Table("framework", "competency", "issued", "revoked", "reason", "suspended")
    for b in issued:
        table.add_row(
            b["framework_id"], b["competency_id"], b["issued_at"], b["revoked_at"] or "",
            b["reason"] or "", b["suspended_at"] or "",
        )  # fmt: skip
    out.print(table)


def _change(
    change: str, learner: str, competency: str, framework: str | None, as_json: bool, **how: str
) -> None:
    """Revoke, suspend or reinstate the learner's badge for a competency (``change`` is
    the :class:`BadgeService` method), then say so or print the badges as JSON."""
    service = _service()
    framework = framework or only_framework(FrameworkService(service.context))
    changed = getattr(service, change)(learner, framework, competency, by=CLI_ACTOR, **how)
    if as_json:
        print_json([b.to_dict() for b in changed])
    else:
        done = {"revoke": "revoked", "suspend": "suspended", "reinstate": "reinstated"}[change]
        out.print(f"{done} the badge of {learner} for {competency} ({framework})")


def revoke(
    learner: LearnerArgument,
    competency: CompetencyOption,
    reason: Annotated[str, typer.Option(help="Why (kept with the badge and audited).")],
    framework: FrameworkOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke the learner's badge for a competency: every copy they shared then checks as
    revoked against this server's revocation list."""
    _change("revoke", learner, competency, framework, as_json, reason=reason)


def suspend(
    learner: LearnerArgument,
    competency: CompetencyOption,
    reason: Annotated[str, typer.Option(help="Why (audited), e.g. a review under way.")],
    framework: FrameworkOption = None,
    as_json: JsonOption = False,
) -> None:
    """Suspend the learner's badge for a competency until it is reinstated: copies they
    shared check as suspended against this server's suspension list."""
    _change("suspend", learner, competency, framework, as_json, reason=reason)


def reinstate(
    learner: LearnerArgument,
    competency: CompetencyOption,
    framework: FrameworkOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reinstate the learner's suspended badge for a competency."""
    _change("reinstate", learner, competency, framework, as_json)


def register(parent: typer.Typer) -> None:
    register_commands(
        badges_app,
        {
            "key": key,
            "issue": issue,
            "verify": verify,
            "list": list_badges,
            "revoke": revoke,
            "suspend": suspend,
            "reinstate": reinstate,
        },
    )
    parent.add_typer(badges_app, name="badges")

"""The README documents every endpoint and every command, and each has its own doc: a
route or command added without them fails here, so the docs cannot drift."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer.main

from masterypath.api.app import create_app
from masterypath.cli import app as cli
from masterypath.settings import Settings

README = " ".join((Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8").split())


def with_blank_parameters(text: str) -> str:
    """``/learners/{learner_id}`` and ``/learners/{id}`` read the same."""
    return re.sub(r"\{[^}]*\}", "{}", text)


def documented(path: str, readme: str) -> bool:
    """Whether the README names ``path``, in full or as the README shortens it: a
    documented path, then ``.../rest`` (``/frameworks/{id}`` and ``.../items``)."""
    if path in readme:
        return True
    cuts = [i for i, c in enumerate(path) if c == "/" and i > 0]
    return any(f"...{path[i:]}" in readme and documented(path[:i], readme) for i in cuts)


def commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every command under a (typer's own click) group, by its words."""
    if hasattr(group, "commands"):
        for name, command in group.commands.items():
            yield from commands(command, (*path, name))
    else:
        yield " ".join(path), group


def test_every_endpoint_is_in_the_readme_with_a_description(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'docs.db'}"))
    readme = with_blank_parameters(README)
    operations = [
        (method.upper(), path, operation)
        for path, methods in app.openapi()["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) > 80
    undocumented = [
        f"{method} {path}"
        for method, path, _ in operations
        if not documented(with_blank_parameters(path), readme)
    ]
    assert undocumented == [], f"not in README.md: {undocumented}"
    assert [p for m, p, op in operations if not op.get("description", "").strip()] == []


def test_every_command_is_in_the_readme_with_help() -> None:
    found = list(commands(typer.main.get_command(cli)))
    assert len(found) > 40
    undocumented = [
        name
        for name, _ in found
        if f"masterypath {name}" not in README and f"`{name}" not in README
    ]
    assert undocumented == [], f"not in README.md: {undocumented}"
    assert [name for name, command in found if not (command.help or "").strip()] == []

"""Framework use cases: import (all or nothing), read, list, export."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from masterypath.domain.framework import Framework
from masterypath.errors import ConflictError, NotFoundError
from masterypath.interop.case import export_case
from masterypath.interop.framework_files import write_framework_csv, write_framework_yaml
from masterypath.services.conflicts import created_once
from masterypath.services.context import ServiceContext
from masterypath.store.repositories import FrameworkRepository, FrameworkSummary
from masterypath.store.tables import FrameworkRow

ExportFormat = Literal["case", "csv", "yaml"]


@dataclass(frozen=True)
class FrameworkImported:
    id: str
    competencies: int
    prerequisites: int
    items: int
    replaced: bool


class FrameworkService:
    def __init__(self, context: ServiceContext) -> None:
        self.context = context

    def save(self, framework: Framework, *, replace: bool = False) -> FrameworkImported:
        """Store a validated framework; an existing id is refused unless ``replace``."""
        taken = "already exists; pass --replace to overwrite it"
        with (
            created_once(self.context, FrameworkRow, "framework", [framework.id], taken),
            self.context.sessions.begin() as session,
        ):
            repo = FrameworkRepository(session)
            existed = repo.exists(framework.id)
            if existed and not replace:
                raise ConflictError("framework", framework.id, taken)
            if existed:
                repo.delete(framework.id)
                session.flush()
            repo.add(framework, imported_at=self.context.clock())
        return FrameworkImported(
            framework.id, len(framework), len(framework.edges()), len(framework.items), existed
        )

    def get(self, framework_id: str) -> Framework:
        with self.context.sessions() as session:
            framework = FrameworkRepository(session).get(framework_id)
        if framework is None:
            raise NotFoundError("framework", framework_id)
        return framework

    def summaries(self) -> list[FrameworkSummary]:
        with self.context.sessions() as session:
            return FrameworkRepository(session).summaries()

    def export(self, framework_id: str, fmt: ExportFormat) -> str:
        framework = self.get(framework_id)
        if fmt == "case":
            package = export_case(framework, last_change=self.context.clock().isoformat())
            return json.dumps(package, indent=2, ensure_ascii=False) + "\n"
        if fmt == "csv":
            return write_framework_csv(framework)
        return write_framework_yaml(framework)

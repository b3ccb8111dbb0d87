"""What every service needs, passed in (no globals): a session factory and a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from masterypath.settings import Settings
from masterypath.store.database import make_engine, make_session_factory

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ServiceContext:
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock = system_clock
    cache: dict[object, object] = field(default_factory=dict, compare=False, repr=False)
    """Immutable things worth keeping between calls: frameworks by (id, import time) and
    fitted models by version id (both change only by getting a new key)."""

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = system_clock) -> ServiceContext:
        engine = make_engine(settings)
        return cls(engine=engine, sessions=make_session_factory(engine), clock=clock)

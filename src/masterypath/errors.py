"""One exception tree for the whole package.

Every error names what is at fault (a field, an id, a file and row) so that the
CLI and the HTTP API can show it to the user unchanged. The HTTP mapping lives
in one place: :mod:`masterypath.api.errors`.

>>> try:
...     raise ValidationError("correct", "must be 0 or 1, got 'yes'", location="log.csv row 3")
... except MasterypathError as exc:
...     print(exc)
log.csv row 3: correct: must be 0 or 1, got 'yes'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class MasterypathError(Exception):
    """Base class of every error raised on purpose by masterypath."""

    code = "masterypath_error"


class ValidationError(MasterypathError):
    """A value was rejected; names the field, the reason and where it came from."""

    code = "validation_error"

    def __init__(self, field: str, reason: str, *, location: str | None = None) -> None:
        self.field = field
        self.reason = reason
        self.location = location
        prefix = f"{location}: " if location else ""
        super().__init__(f"{prefix}{field}: {reason}")


@dataclass(frozen=True)
class Problem:
    """One problem found in an input: where, which field, and why."""

    location: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.field}: {self.reason}"


class InvalidInputError(MasterypathError):
    """An input (file or request) had one or more problems; nothing was stored."""

    code = "invalid_input"

    def __init__(self, source: str, problems: Sequence[Problem], *, shown: int = 20) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = [str(p) for p in self.problems[:shown]]
        more = len(self.problems) - shown
        if more > 0:
            lines.append(f"... and {more} more")
        super().__init__(
            f"{source}: {len(self.problems)} problem(s), nothing stored:\n  " + "\n  ".join(lines)
        )


class FrameworkError(MasterypathError):
    """A competency framework is not valid (base of the graph errors)."""

    code = "invalid_framework"


class DuplicateIdError(FrameworkError):
    code = "duplicate_id"

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = tuple(ids)
        super().__init__(f"duplicate competency id(s): {', '.join(self.ids)}")


class UnknownReferenceError(FrameworkError):
    code = "unknown_reference"

    def __init__(self, references: Sequence[tuple[str, str, str]]) -> None:
        """``references`` holds ``(competency id, field, unknown id)`` triples."""
        self.references = tuple(references)
        parts = [f"{cid}.{field} -> {ref!r}" for cid, field, ref in self.references]
        super().__init__(f"unknown competency id(s) referenced: {'; '.join(parts)}")


class SelfLoopError(FrameworkError):
    code = "self_loop"

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = tuple(ids)
        super().__init__(
            "competency listed as its own prerequisite: "
            + ", ".join(f"{i} -> {i}" for i in self.ids)
        )


class CycleError(FrameworkError):
    code = "cycle"

    def __init__(self, path: Sequence[str], *, relation: str = "prerequisite") -> None:
        self.path = tuple(path)
        self.relation = relation
        super().__init__(f"{relation} cycle: {' -> '.join(self.path)}")


class NotFoundError(MasterypathError):
    """A thing asked for by id does not exist."""

    code = "not_found"

    def __init__(self, kind: str, identifier: str) -> None:
        self.kind = kind
        self.identifier = identifier
        super().__init__(f"{kind} {identifier!r} not found")


class ConflictError(MasterypathError):
    """A write conflicts with what is stored (e.g. same idempotency key, other content)."""

    code = "conflict"

    def __init__(self, field: str, identifier: str, reason: str) -> None:
        self.field = field
        self.identifier = identifier
        super().__init__(f"{field} {identifier!r}: {reason}")


class PreconditionFailedError(ConflictError):
    """A conditional write (``If-Match``, ``If-None-Match``) whose condition does not hold:
    the document changed since the client read it, or is there when it should not be."""

    code = "precondition_failed"


class ConfigurationError(MasterypathError):
    """A setting is missing or invalid."""

    code = "configuration_error"


class NotFittedError(MasterypathError):
    """A model was used before ``fit``."""

    code = "not_fitted"

    def __init__(self, model: str) -> None:
        super().__init__(f"{model} is not fitted yet; call fit() first")


class LockedError(ConflictError):
    """An activity of a competency whose prerequisites are not yet met."""

    code = "locked"

    def __init__(self, competency_id: str, missing: Sequence[tuple[str, str, str]]) -> None:
        self.missing = tuple(missing)
        """(prerequisite id, status it requires, status it has)."""
        listed = ", ".join(f"{p} (needs {r}, is {s})" for p, r, s in self.missing)
        reason = f"is locked; missing prerequisites: {listed}"
        super().__init__("competency_id", competency_id, reason)


class AuthenticationError(MasterypathError):
    """No credentials, or credentials that are wrong, expired or revoked."""

    code = "unauthenticated"


class AccountDisabledError(AuthenticationError):
    """The right password of an account an admin (or the roster) disabled: the message
    says when and by whom."""

    code = "account_disabled"


class PermissionDeniedError(MasterypathError):
    """The caller is known but may not do this; the message says why."""

    code = "forbidden"

    def __init__(self, action: str, reason: str) -> None:
        self.action = action
        self.reason = reason
        super().__init__(f"{action}: {reason}")


class ConsentRequiredError(PermissionDeniedError):
    """A learner under 13 has no guardian-consent record, so no evidence is processed."""

    code = "consent_required"

    def __init__(self, learner_ids: Sequence[str]) -> None:
        self.learner_ids = tuple(learner_ids)
        super().__init__(
            "learner_id",
            f"learner(s) {', '.join(self.learner_ids)} are under 13 and have no guardian-consent "
            "record; record one before sending their evidence (nothing was stored)",
        )


class RateLimitedError(MasterypathError):
    """Too many attempts; try again after ``retry_after`` seconds."""

    code = "rate_limited"

    def __init__(self, what: str, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many {what}; try again in {retry_after} s")

"""The server's scheduled jobs: the roster synced, grades sent back, course members read,
learners inactive beyond the retention period erased and the database backed up on their
own, without cron.

Each :class:`Job` runs every ``every``, or once a day at a time of day (:class:`Daily`);
:meth:`JobRunner.run_due` runs those due now.
Several server processes (``serve --workers``) share the one database, so a process first
takes a job's lease in a transaction (``job_runs``): of all the processes that find it
due, one runs it and the others skip it. While it runs, the process renews its lease every
quarter of :data:`LEASE`, so a run longer than that is not started again elsewhere; a
server that stopped mid-run leaves a lease that ends after :data:`LEASE`, and then another
process may run the job (the stopped run, if it ever finishes, records nothing). A run that
fails is recorded with why, and the job is due again a period later. The server looks for
due jobs every :data:`POLL_SECONDS` and runs each in a thread of its own
(:meth:`JobRunner.claim_due`, ``api/jobs.py``), so a long backup does not hold up the next
grades sent; ``masterypath jobs run`` runs the due ones one after another
(:meth:`JobRunner.run_due`).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from masterypath.errors import ConfigurationError, NotFoundError
from masterypath.interop.lti_tool_key import ToolKey
from masterypath.interop.oneroster import parse_roster
from masterypath.interop.oneroster_rest import RosterSource
from masterypath.services.accounts import AccountService
from masterypath.services.context import ServiceContext
from masterypath.services.lti import LtiService
from masterypath.services.lti_grades import LtiGradeService
from masterypath.services.lti_members import LtiMemberService
from masterypath.services.privacy import PrivacyService
from masterypath.services.roster import ReadMark, RosterService
from masterypath.settings import Settings
from masterypath.store.backup import backup_database
from masterypath.store.tables import JobRunRow

LEASE = timedelta(hours=1)
"""How long a process holds a job it runs: another takes it over only after this."""
POLL_SECONDS = 30.0
"""How often the server looks for due jobs."""
EVERYTHING_AFTER = timedelta(days=1)
"""The scheduled roster sync reads only the changes, but everything once this long."""
BY = "schedule"
"""Who a scheduled job acts as, in the audit log."""

log = logging.getLogger("masterypath.jobs")


@dataclass(frozen=True)
class Daily:
    """A time of day in a time zone, at which a job runs once a day.

    >>> from zoneinfo import ZoneInfo
    >>> night = Daily(time(2, 30), ZoneInfo("Europe/Berlin"))
    >>> str(night)
    '02:30 Europe/Berlin'
    >>> night.next_from(datetime(2026, 12, 7, 1, 0, tzinfo=UTC)).isoformat()  # 02:00 there
    '2026-12-07T01:30:00+00:00'
    >>> night.next_from(datetime(2026, 12, 7, 1, 31, tzinfo=UTC)).isoformat()
    '2026-12-08T01:30:00+00:00'
    >>> night.next_from(datetime(2026, 7, 1, 0, 0, tzinfo=UTC)).isoformat()  # summer time
    '2026-07-01T00:30:00+00:00'
    """

    at: time
    zone: ZoneInfo

    def next_from(self, moment: datetime) -> datetime:
        """The first time it strikes at or after ``moment`` (in UTC). On a day the clocks
        skip the time, it strikes as far after the gap's start as the time is."""
        local = moment.astimezone(self.zone)
        for day in (local.date(), local.date() + timedelta(days=1)):
            strikes = datetime.combine(day, self.at, tzinfo=self.zone).astimezone(UTC)
            if strikes >= moment:
                return strikes
        raise AssertionError("a time of day strikes within two days")  # pragma: no cover

    def __str__(self) -> str:
        return f"{self.at:%H:%M} {self.zone.key}"


@dataclass(frozen=True)
class Job:
    """A job of the server: its name, how often it runs (or ``daily`` at a time of day),
    and what it does (answering a summary of what it did)."""

    name: str
    every: timedelta
    run: Callable[[], dict[str, Any]]
    daily: Daily | None = None

    def first_due(self, now: datetime) -> datetime:
        """When a job never run is due: at once, or at its time of day."""
        return now if self.daily is None else self.daily.next_from(now)

    def next_due(self, started: datetime) -> datetime:
        """When a run that started at ``started`` makes it due again."""
        if self.daily is None:
            return started + self.every
        return self.daily.next_from(started + timedelta(minutes=1))

    @property
    def schedule(self) -> str:
        """Its schedule in words, as stored beside its due time (a server started with
        another one works the due time out again).

        >>> Job("backup", timedelta(hours=6), dict).schedule
        'every 21600 s'
        """
        if self.daily is None:
            return f"every {int(self.every.total_seconds())} s"
        return f"daily {self.daily}"

    def due_by_schedule(self, row: JobRunRow, now: datetime) -> datetime:
        """When the job whose run ``row`` records is due: as stored, unless stored under
        another schedule (the server's settings changed), then a period (or at its time
        of day) after its last start, or as a job never run."""
        if row.schedule == self.schedule:
            return row.due_at
        return self.first_due(now) if row.started_at is None else self.next_due(row.started_at)


@dataclass(frozen=True)
class JobStatus:
    """How a job stands: when it last ran and how that went, and when it is due."""

    name: str
    every_seconds: float
    due_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    outcome: str | None
    summary: str | None
    running: bool
    daily_at: str | None = None
    """The time of day it runs at (``02:30 Europe/Berlin``), if it runs at one."""

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "name": self.name,
            "every_seconds": self.every_seconds,
            "daily_at": self.daily_at,
            "due_at": iso(self.due_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "outcome": self.outcome,
            "summary": self.summary,
            "running": self.running,
        }


class JobRunner:
    """Runs ``jobs`` when due, one process at a time (see the module's docstring);
    ``renew_seconds``: how often a running job's lease is renewed."""

    def __init__(
        self,
        context: ServiceContext,
        jobs: Sequence[Job],
        *,
        renew_seconds: float = LEASE.total_seconds() / 4,
    ) -> None:
        self.context = context
        self.jobs = list(jobs)
        self.renew_seconds = renew_seconds

    def run_due(
        self,
        *,
        only: str | None = None,
        now_too: bool = False,
        starting: Callable[[str], None] | None = None,
    ) -> list[JobStatus]:
        """Run every job due now, one after another (``only``: just that one; ``now_too``:
        due or not, if no other process runs it; ``starting`` is told each one's name as
        it starts); the status of each that ran."""
        ran = []
        for job in self.jobs:
            if only is not None and job.name != only:
                continue
            holder = self._claim(job, force=now_too)
            if holder is not None:
                if starting is not None:
                    starting(job.name)
                self.run_claimed(job, holder)
                ran.append(self._status(job))
        return ran

    def claim_due(self, *, besides: Collection[str] = ()) -> list[tuple[Job, str]]:
        """Take the lease of every job due now that no process runs (none named in
        ``besides``: those this process runs still): each such job with the lease's
        holder, to pass to :meth:`run_claimed` (in a thread of its own)."""
        claimed = []
        for job in self.jobs:
            if job.name in besides:
                continue
            holder = self._claim(job, force=False)
            if holder is not None:
                claimed.append((job, holder))
        return claimed

    def claim_now(self, name: str) -> tuple[Job, str] | None:
        """Take the lease of the job ``name``, due or not, unless a process runs it: the
        job and the lease's holder, to pass to :meth:`run_claimed`; None while it runs.
        A job the runner does not have is a :class:`NotFoundError`."""
        for job in self.jobs:
            if job.name == name:
                holder = self._claim(job, force=True)
                return None if holder is None else (job, holder)
        raise NotFoundError("job", name)

    def status(self, name: str) -> JobStatus:
        """The status of the job ``name`` (:class:`NotFoundError` for one it lacks)."""
        for job in self.jobs:
            if job.name == name:
                return self._status(job)
        raise NotFoundError("job", name)

    def statuses(self) -> list[JobStatus]:
        """Every job's status, in the order given."""
        return [self._status(job) for job in self.jobs]

    def _claim(self, job: Job, *, force: bool) -> str | None:
        """Take the job's lease if it is due (or ``force``) and no process holds it: the
        lease's holder, or None."""
        now = self.context.clock()
        holder = secrets.token_hex(8)
        try:
            with self.context.sessions.begin() as session:
                row = session.get(JobRunRow, job.name, with_for_update=True)
                if row is None:  # never run: due at once, or at its time of day
                    row = JobRunRow(name=job.name, due_at=job.first_due(now))
                    session.add(row)
                elif row.schedule != job.schedule:  # due by another schedule than this
                    row.due_at = job.due_by_schedule(row, now)
                row.schedule = job.schedule
                if row.lease_until is not None and row.lease_until > now:
                    return None
                if row.due_at > now and not force:
                    return None
                row.lease_until, row.started_at, row.holder = now + LEASE, now, holder
        except IntegrityError:
            return None  # another process made the row meanwhile, and runs it
        return holder

    def run_claimed(self, job: Job, holder: str) -> None:
        """Run ``job``, whose lease ``holder`` holds, renewing the lease while it runs,
        and record how it went (nothing, if another process took the lease over)."""
        stop = threading.Event()
        renewer = threading.Thread(
            target=self._keep_lease, args=(job, holder, stop), name=f"job-{job.name}-lease"
        )
        renewer.start()
        outcome, summary = "ok", ""
        try:
            summary = json.dumps(job.run(), default=str, sort_keys=True)
        except Exception as exc:  # any failure is recorded, and the server goes on
            outcome, summary = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            stop.set()
            renewer.join()
        now = self.context.clock()
        with self.context.sessions.begin() as session:
            row = session.get(JobRunRow, job.name, with_for_update=True)
            if row is None:  # removed meanwhile (a restore): nothing to record
                return
            if row.holder != holder:
                log.warning("job %s finished after another process took it over", job.name)
                return
            row.finished_at, row.outcome, row.summary = now, outcome, summary
            row.lease_until = row.holder = None
            row.due_at, row.schedule = job.next_due(row.started_at or now), job.schedule

    def _keep_lease(self, job: Job, holder: str, stop: threading.Event) -> None:
        """Renew ``holder``'s lease of ``job`` every ``renew_seconds`` until ``stop``."""
        while not stop.wait(self.renew_seconds):
            try:
                with self.context.sessions.begin() as session:
                    row = session.get(JobRunRow, job.name, with_for_update=True)
                    if row is None or row.holder != holder:
                        return  # taken over (this process stalled past its lease)
                    row.lease_until = self.context.clock() + LEASE
            except Exception:  # the database away for a moment: try again next time
                log.exception("the lease of job %s could not be renewed", job.name)

    def _status(self, job: Job) -> JobStatus:
        with self.context.sessions() as session:
            row = session.get(JobRunRow, job.name)
        now = self.context.clock()
        seconds = job.every.total_seconds()
        daily = None if job.daily is None else str(job.daily)
        if row is None:
            due = job.first_due(now) if job.daily else None
            return JobStatus(job.name, seconds, due, None, None, None, None, False, daily)
        running = row.lease_until is not None and row.lease_until > now
        return JobStatus(
            job.name,
            seconds,
            job.due_by_schedule(row, now),
            row.started_at,
            row.finished_at,
            row.outcome,
            row.summary,
            running,
            daily,
        )


def scheduled_jobs(
    settings: Settings,
    context: ServiceContext,
    *,
    accounts: AccountService | None = None,
    tool_key: ToolKey | None = None,
) -> list[Job]:
    """The jobs ``settings`` ask for; a job whose settings are missing is a
    :class:`ConfigurationError` naming them (at start-up, not at its first run)."""
    jobs = []
    if settings.roster_sync_hours:
        source = RosterSource.from_settings(settings)
        if source is None:
            raise ConfigurationError(
                "MASTERYPATH_ROSTER_SYNC_HOURS needs MASTERYPATH_ONEROSTER_URL, _CLIENT_ID, "
                "_CLIENT_SECRET and (for oauth2) _TOKEN_URL"
            )
        roster = RosterService(context)

        def sync_roster() -> dict[str, Any]:
            # the changes since the last read; everything once a day (a change the system
            # dated in the past is not missed for long)
            since = roster.changes_start(source.url, everything_after=EVERYTHING_AFTER)
            read = source.read(since=since)
            stored = roster.import_roster(
                parse_roster(read.files), by=BY, read=ReadMark.of(source.url, read)
            )
            return stored.to_dict()

        jobs.append(Job("roster-sync", timedelta(hours=settings.roster_sync_hours), sync_roster))
    if settings.lti_grades_minutes or settings.lti_members_hours:
        if tool_key is None:
            raise ConfigurationError(
                "MASTERYPATH_LTI_GRADES_MINUTES and _LTI_MEMBERS_HOURS need "
                "MASTERYPATH_LTI_KEY_FILE (masterypath lti key PATH makes one)"
            )
        lti = LtiService(context, accounts or AccountService(context), tool_key=tool_key)
        grades, members = LtiGradeService(context, tool_key=tool_key), LtiMemberService(lti)
        for name, every, run in (
            ("lti-grades", timedelta(minutes=settings.lti_grades_minutes), grades.send_grades),
            ("lti-members", timedelta(hours=settings.lti_members_hours), members.sync_members),
        ):
            if every:
                jobs.append(Job(name, every, _reported(run)))
    if settings.retention_days:
        days, privacy = settings.retention_days, PrivacyService(context)

        def erase_inactive() -> dict[str, Any]:
            erased: list[str] = []
            kept: list[str] = []
            for learner in privacy.inactive(days=days):
                done = privacy.erase_if_inactive(learner.learner_id, days=days, by=BY)
                (kept if done is None else erased).append(learner.learner_id)
            return {"days": days, "erased": erased, "kept": kept}

        daily = _daily(settings.retention_at, settings)
        jobs.append(Job("retention", timedelta(days=1), erase_inactive, daily))
    elif settings.retention_at:
        raise ConfigurationError("MASTERYPATH_RETENTION_AT needs MASTERYPATH_RETENTION_DAYS")
    if settings.backup_hours or settings.backup_at:
        if settings.backup_hours and settings.backup_at:
            raise ConfigurationError(
                "MASTERYPATH_BACKUP_HOURS and MASTERYPATH_BACKUP_AT: set one (every so many "
                "hours, or once a day at a time)"
            )
        named = "MASTERYPATH_BACKUP_AT" if settings.backup_at else "MASTERYPATH_BACKUP_HOURS"
        if not settings.backup_dir:
            raise ConfigurationError(f"{named} needs MASTERYPATH_BACKUP_DIR")
        folder, keep = Path(settings.backup_dir), settings.backup_keep

        def back_up() -> dict[str, Any]:
            return scheduled_backup(context, folder, keep=keep, at=context.clock())

        every = timedelta(hours=settings.backup_hours or 24)
        jobs.append(Job("backup", every, back_up, _daily(settings.backup_at, settings)))
    return jobs


def _daily(at: str, settings: Settings) -> Daily | None:
    """``HH:MM`` (checked by the settings) in the settings' time zone; None for ``""``."""
    if not at:
        return None
    hours, minutes = map(int, at.split(":"))
    return Daily(time(hours, minutes), ZoneInfo(settings.timezone))


def _reported(run: Callable[[], Any]) -> Callable[[], dict[str, Any]]:
    """``run``, answering its report (a grades or members report) as a dict."""

    def summary() -> dict[str, Any]:
        report: dict[str, Any] = run().to_dict()
        return report

    return summary


def scheduled_backup(
    context: ServiceContext, folder: Path, *, keep: int, at: datetime
) -> dict[str, Any]:
    """Back the database up into ``folder`` as ``masterypath-STAMP.sqlite`` (``.dump`` for
    PostgreSQL), then delete the oldest of those beyond ``keep``; what was made and
    deleted."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = "sqlite" if context.engine.dialect.name == "sqlite" else "dump"
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"masterypath-{stamp}.{suffix}"
    n = 1
    while path.exists():  # a run by hand in the same second as the last
        path, n = folder / f"masterypath-{stamp}-{n}.{suffix}", n + 1
    report = backup_database(context.engine, path)
    made = sorted(
        folder.glob(f"masterypath-*.{suffix}"), key=lambda p: (p.stat().st_mtime_ns, p.name)
    )
    deleted = made[: max(len(made) - keep, 0)]
    for old in deleted:
        old.unlink()
    return report.to_dict() | {"deleted": [p.name for p in deleted]}

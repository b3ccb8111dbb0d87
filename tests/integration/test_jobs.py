"""The server's scheduled jobs (``services/jobs.py``, ``api/jobs.py``, ``masterypath
jobs``) on SQLite and PostgreSQL: run when due and only then, by one process at a time,
failures recorded; the real jobs (a backup, a roster sync, grades and members) as the
settings ask for them; in the background of a serving app."""

from __future__ import annotations

import io
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner

from masterypath import cli_support
from masterypath.api.app import create_app
from masterypath.api.errors import install_error_handlers
from masterypath.api.jobs import JobThreads, jobs_lifespan, jobs_router
from masterypath.cli import app as cli
from masterypath.domain.access import Role
from masterypath.errors import ConfigurationError
from masterypath.interop.loader import load_framework_file
from masterypath.interop.lti_tool_key import ToolKey
from masterypath.services.accounts import AccountService
from masterypath.services.context import ServiceContext
from masterypath.services.evidence import EvidenceService
from masterypath.services.frameworks import FrameworkService
from masterypath.services.jobs import LEASE, Daily, Job, JobRunner, scheduled_jobs
from masterypath.settings import Settings
from masterypath.store.tables import LearnerProfileRow, UserRow
from tests.conftest import CHEAP_HASHER, REQUIRE_POSTGRES, advance_clock, api_app, login
from tests.integration.test_retention import FIXTURES, piece
from tests.sis_stub import Sis, running_sis, settings_of

HOUR = timedelta(hours=1)


class Counter:
    """A job's work: counts its runs, and does what it is told during one."""

    def __init__(self, during: Any = None) -> None:
        self.runs = 0
        self.during = during

    def __call__(self) -> dict[str, Any]:
        self.runs += 1
        if self.during is not None:
            self.during()
        return {"run": self.runs}


@pytest.fixture
def sis() -> Iterator[Sis]:
    with running_sis() as system:
        yield system


def run_job(client: TestClient, name: str, headers: dict[str, str] | None = None) -> Any:
    """Run a job by hand through the API, as the page does: start it, then look until it
    has finished; its status."""
    started = client.post(f"/api/v1/jobs/{name}/run", headers=headers)
    assert started.status_code == 202, started.text
    for _ in range(600):
        (status,) = [
            j for j in client.get("/api/v1/jobs", headers=headers).json() if j["name"] == name
        ]
        if not status["running"]:
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {name} still runs")


def needs_pg_dump(database: ServiceContext) -> None:
    if database.engine.dialect.name == "postgresql" and shutil.which("pg_dump") is None:
        if REQUIRE_POSTGRES:
            pytest.fail("pg_dump is not installed (apt-get install postgresql-client)")
        pytest.skip("pg_dump is not installed: the PostgreSQL backup leg is skipped")


def test_a_job_runs_when_due_and_only_then(database: ServiceContext) -> None:
    work = Counter()
    runner = JobRunner(database, [Job("tidy", HOUR, work)])
    (ran,) = runner.run_due()  # never run: due at once
    assert (ran.name, ran.outcome, json.loads(ran.summary or "")) == ("tidy", "ok", {"run": 1})
    assert ran.due_at == ran.started_at + HOUR  # type: ignore[operator]
    assert runner.run_due() == []
    advance_clock(database, minutes=59)
    assert runner.run_due() == [] and work.runs == 1
    advance_clock(database, minutes=1)
    assert [s.name for s in runner.run_due()] == ["tidy"] and work.runs == 2
    # by hand: now, due or not
    assert [s.name for s in runner.run_due(only="tidy", now_too=True)] == ["tidy"]
    assert work.runs == 3


def test_a_daily_job_runs_at_its_time_of_day_in_its_time_zone(database: ServiceContext) -> None:
    work = Counter()
    night = Daily(clock_time(2, 30), ZoneInfo("Europe/Berlin"))  # 01:30 UTC in winter
    runner = JobRunner(database, [Job("backup", timedelta(days=1), work, night)])
    # the clock reads 2026-11-23 09:00 UTC: never run, but due at the next 02:30 there
    (waiting,) = runner.statuses()
    assert waiting.due_at == datetime(2026, 11, 24, 1, 30, tzinfo=UTC)
    assert waiting.to_dict()["daily_at"] == "02:30 Europe/Berlin"
    assert runner.run_due() == [] and work.runs == 0
    advance_clock(database, hours=16, minutes=29)  # 01:29 UTC
    assert runner.run_due() == []
    advance_clock(database, minutes=1)
    (ran,) = runner.run_due()
    assert ran.due_at == datetime(2026, 11, 25, 1, 30, tzinfo=UTC) and work.runs == 1
    # run by hand in the afternoon: the night's run stays where it was
    advance_clock(database, hours=12)
    (by_hand,) = runner.run_due(only="backup", now_too=True)
    assert by_hand.due_at == datetime(2026, 11, 25, 1, 30, tzinfo=UTC) and work.runs == 2


def test_times_of_day_and_time_zones_are_checked_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable, value, said in (
        ("MASTERYPATH_BACKUP_AT", "24:00", "MASTERYPATH_BACKUP_AT: Value error, a time of day"),
        ("MASTERYPATH_RETENTION_AT", "3pm", "MASTERYPATH_RETENTION_AT: Value error, a time"),
        ("MASTERYPATH_TIMEZONE", "Mars/Olympus", "'Mars/Olympus' is not a time zone"),
    ):
        monkeypatch.setenv(variable, value)
        with pytest.raises(ConfigurationError, match=said):
            Settings.from_environment()
        monkeypatch.setenv(variable, {"MASTERYPATH_TIMEZONE": "UTC"}.get(variable, ""))
    monkeypatch.setenv("MASTERYPATH_TIMEZONE", "America/New_York")
    monkeypatch.setenv("MASTERYPATH_RETENTION_DAYS", "365")
    monkeypatch.setenv("MASTERYPATH_RETENTION_AT", "23:15")
    settings = Settings.from_environment()
    context = ServiceContext.from_settings(Settings(database_url="sqlite://"))
    (retention,) = scheduled_jobs(settings, context)
    assert str(retention.daily) == "23:15 America/New_York"


def test_of_two_processes_one_runs_a_job_and_a_dead_ones_lease_ends(
    database: ServiceContext,
) -> None:
    other = JobRunner(database, [Job("tidy", HOUR, Counter())])
    seen: list[object] = []
    work = Counter(
        during=lambda: seen.extend([other.run_due(), other.run_due(only="tidy", now_too=True)])
    )
    runner = JobRunner(database, [Job("tidy", HOUR, work)])
    assert len(runner.run_due()) == 1
    assert seen == [[], []]  # while it ran, the other process let it be
    (status,) = other.statuses()
    assert status.outcome == "ok" and status.running is False

    # a process that died running it: its lease ends after LEASE, then another runs it
    dead = JobRunner(database, [Job("stuck", HOUR, Counter())])
    assert dead._claim(dead.jobs[0], force=False)
    survivor = JobRunner(database, [Job("stuck", HOUR, work)])
    assert survivor.run_due() == [] and survivor.statuses()[0].running is True
    advance_clock(database, seconds=LEASE.total_seconds())
    assert [s.name for s in survivor.run_due()] == ["stuck"]


def wait_for(condition: Callable[[], bool]) -> bool:
    """Whether ``condition`` came true within a generous while (for a slow machine)."""
    for _ in range(1000):
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class Blocked:
    """A job's work that runs until released, answering ``label``."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> dict[str, Any]:
        self.started.set()
        assert self.release.wait(60), "the test never released the job"
        return {"by": self.label}


def test_a_long_run_keeps_its_lease_and_one_taken_over_records_nothing(
    database: ServiceContext,
) -> None:
    slow = Blocked("slow")
    runner = JobRunner(database, [Job("tidy", HOUR, slow)], renew_seconds=0.01)
    other = JobRunner(database, [Job("tidy", HOUR, Counter())])
    running = threading.Thread(target=runner.run_due)
    running.start()
    try:
        assert slow.started.wait(60)
        advance_clock(database, seconds=2 * LEASE.total_seconds())  # past its first lease
        # renewed while it runs: the other process leaves it alone
        assert wait_for(lambda: other.statuses()[0].running)
        assert other.run_due() == [] and other.run_due(only="tidy", now_too=True) == []
    finally:
        slow.release.set()
        running.join()
    (done,) = other.statuses()
    assert (done.outcome, done.summary, done.running) == ("ok", '{"by": "slow"}', False)

    # a process stalled past its lease without renewing it (renews once an hour): another
    # takes the job over, and the stalled run, when it ends, records nothing over it
    stalled = Blocked("stalled")
    runner = JobRunner(database, [Job("tidy", HOUR, stalled)])
    advance_clock(database, hours=1)
    running = threading.Thread(target=runner.run_due)
    running.start()
    try:
        assert stalled.started.wait(60)
        advance_clock(database, seconds=LEASE.total_seconds())
        taken = JobRunner(database, [Job("tidy", HOUR, lambda: {"by": "the other"})])
        (over,) = taken.run_due()
        assert over.summary == '{"by": "the other"}'
    finally:
        stalled.release.set()
        running.join()
    (last,) = other.statuses()
    assert (last.summary, last.started_at) == (over.summary, over.started_at)


def test_a_serving_app_runs_a_long_job_beside_the_others(database: ServiceContext) -> None:
    slow, quick = Blocked("slow"), Counter()
    runner = JobRunner(database, [Job("backup", HOUR, slow), Job("grades", HOUR, quick)])
    app = FastAPI(lifespan=jobs_lifespan(JobThreads(runner), poll_seconds=0.01))
    with TestClient(app):
        try:
            assert slow.started.wait(60)
            assert wait_for(lambda: quick.runs >= 1)  # while the backup still runs
            assert slow.release.is_set() is False
            # an hour on: the grades are due again and run; the backup's lease has ended
            # (it renews every 15 minutes of real time), but this process runs it still
            advance_clock(database, hours=1)
            assert wait_for(lambda: quick.runs >= 2)
        finally:
            slow.release.set()
    # the server stopped after waiting for the backup to finish, and recorded it
    backup, grades = runner.statuses()
    assert (backup.outcome, backup.summary, backup.running) == ("ok", '{"by": "slow"}', False)
    assert grades.outcome == "ok"


def test_a_job_run_by_hand_goes_on_in_the_background(database: ServiceContext) -> None:
    slow, quick = Blocked("slow"), Counter()
    threads = JobThreads(JobRunner(database, [Job("backup", HOUR, slow), Job("tidy", HOUR, quick)]))
    app = FastAPI()
    install_error_handlers(app)
    anyone = Depends(lambda: None)  # who may: test_admins_see_and_run_the_jobs_and_...
    app.include_router(jobs_router(threads, lambda action: anyone, list))
    client = TestClient(app)
    try:
        started = client.post("/jobs/backup/run")  # answered while the backup runs
        assert started.status_code == 202, started.text
        assert (started.json()["name"], started.json()["running"]) == ("backup", True)
        assert slow.started.wait(60)
        refused = client.post("/jobs/backup/run")
        assert refused.status_code == 409 and "runs already" in refused.text
        assert client.post("/jobs/tidy/run").status_code == 202  # not held up by the backup
        assert wait_for(lambda: quick.runs == 1)
        backup, _ = client.get("/jobs").json()
        assert (backup["running"], backup["outcome"]) == (True, None)
    finally:
        slow.release.set()
    threads.wait()
    backup, tidy = client.get("/jobs").json()
    assert (backup["running"], backup["outcome"], backup["summary"]) == (
        False,
        "ok",
        '{"by": "slow"}',
    )
    assert backup["due_at"] == "2026-11-23T10:00:00+00:00"  # a period after it started
    assert tidy["outcome"] == "ok"
    missing = client.post("/jobs/nightly/run")
    assert missing.status_code == 404 and "nightly" in missing.text


def test_a_changed_schedule_works_the_due_time_out_again(database: ServiceContext) -> None:
    work = Counter()
    every_day = JobRunner(database, [Job("backup", timedelta(days=1), work)])
    (ran,) = every_day.run_due()  # 2026-11-23 09:00 UTC: due a day on
    assert ran.due_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    # the server starts again with MASTERYPATH_BACKUP_AT=02:30 (Berlin): due that night,
    # not at the 09:00 the old schedule worked out
    night = Daily(clock_time(2, 30), ZoneInfo("Europe/Berlin"))
    nightly = JobRunner(database, [Job("backup", timedelta(days=1), work, night)])
    (waiting,) = nightly.statuses()
    assert waiting.due_at == datetime(2026, 11, 24, 1, 30, tzinfo=UTC)
    advance_clock(database, hours=16, minutes=30)  # 01:30 UTC
    (ran,) = nightly.run_due()
    assert ran.due_at == datetime(2026, 11, 25, 1, 30, tzinfo=UTC) and work.runs == 2
    # and back to every six hours: six hours after that night's start
    six_hourly = JobRunner(database, [Job("backup", timedelta(hours=6), work)])
    assert six_hourly.run_due() == []
    (waiting,) = six_hourly.statuses()
    assert waiting.due_at == datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
    advance_clock(database, hours=6)
    assert [s.name for s in six_hourly.run_due()] == ["backup"] and work.runs == 3
    # the same schedule again keeps the due time stored (a daily job never run included)
    assert JobRunner(database, [Job("backup", timedelta(hours=6), work)]).run_due() == []
    tidy = Job("tidy", timedelta(days=1), Counter(), night)
    assert JobRunner(database, [tidy]).run_due() == []  # due at 01:30 the next night
    advance_clock(database, hours=20)  # past it: a new look must not push it to a later night
    (late,) = JobRunner(database, [tidy]).statuses()
    assert late.due_at == datetime(2026, 11, 25, 1, 30, tzinfo=UTC)
    assert [s.name for s in JobRunner(database, [tidy]).run_due()] == ["tidy"]


def test_a_failed_run_is_recorded_and_the_others_still_run(database: ServiceContext) -> None:
    def broken() -> dict[str, Any]:
        raise ValueError("the folder is full")

    work = Counter()
    runner = JobRunner(database, [Job("broken", HOUR, broken), Job("tidy", HOUR, work)])
    failed, done = runner.run_due()
    assert (failed.outcome, failed.summary) == ("failed", "ValueError: the folder is full")
    assert done.outcome == "ok" and work.runs == 1
    assert runner.run_due() == []  # due again a period later, not at once
    advance_clock(database, hours=1)
    assert [s.name for s in runner.run_due()] == ["broken", "tidy"]


def test_scheduled_backups_keep_the_newest(database: ServiceContext, tmp_path: Path) -> None:
    needs_pg_dump(database)
    AccountService(database, hasher=CHEAP_HASHER).create_user("ada", "ada-password", Role.ADMIN)
    folder = tmp_path / "backups"
    settings = Settings(backup_hours=24, backup_dir=str(folder), backup_keep=2)
    runner = JobRunner(database, scheduled_jobs(settings, database))
    assert [job.name for job in runner.jobs] == ["backup"]
    made = []
    for _ in range(3):
        (status,) = runner.run_due()
        assert status.outcome == "ok", status.summary
        made.append(json.loads(status.summary or "")["path"])
        advance_clock(database, hours=24)
    suffix = "sqlite" if database.engine.dialect.name == "sqlite" else "dump"
    assert Path(made[0]).name == f"masterypath-20261123T090000Z.{suffix}"
    assert sorted(str(p) for p in folder.iterdir()) == made[1:]  # the oldest deleted
    assert json.loads(status.summary or "")["deleted"] == [Path(made[0]).name]
    assert json.loads(status.summary or "")["rows"]["users"] == 1


def test_a_scheduled_roster_sync_stores_the_roster_without_accounts(
    database: ServiceContext, sis: Sis
) -> None:
    settings = Settings.model_validate({"roster_sync_hours": 6, **settings_of(sis)})
    runner = JobRunner(database, scheduled_jobs(settings, database))
    (status,) = runner.run_due()
    assert status.outcome == "ok", status.summary
    assert json.loads(status.summary or "")["learners_added"] == 3
    with database.sessions() as session:
        assert len(list(session.scalars(select(LearnerProfileRow)))) == 3
        assert list(session.scalars(select(UserRow))) == []  # nobody to hand passwords to
    sis.records["users"][0]["givenName"] = "Ana Maria"
    advance_clock(database, hours=6)
    (again,) = runner.run_due()
    assert json.loads(again.summary or "")["learners_updated"] == 1


def test_the_scheduled_roster_sync_reads_the_changes_and_everything_once_a_day(
    database: ServiceContext, sis: Sis
) -> None:
    sis.dated("2026-12-01T08:00:00Z", last="2026-12-01T08:30:00Z")
    settings = Settings.model_validate({"roster_sync_hours": 6, **settings_of(sis)})
    runner = JobRunner(database, scheduled_jobs(settings, database))

    def sync() -> str | None:
        (status,) = runner.run_due()
        assert status.outcome == "ok", status.summary
        since: str | None = json.loads(status.summary or "")["changes_since"]
        return since

    assert sync() is None  # the first: everything
    for _ in range(3):  # six hours on each time: the changes since
        advance_clock(database, hours=6)
        assert sync() == "2026-12-01T08:30:00Z"
    advance_clock(database, hours=6)  # a day after everything was read: everything again
    assert sync() is None


def test_the_retention_job_erases_learners_inactive_beyond_the_period(
    database: ServiceContext,
) -> None:
    FrameworkService(database).save(
        load_framework_file(FIXTURES / "careers_programme.yaml").framework
    )
    evidence = EvidenceService(database)
    evidence.record(piece("ana"))
    runner = JobRunner(database, scheduled_jobs(Settings(retention_days=30), database))
    (first,) = runner.run_due()
    assert json.loads(first.summary or "")["erased"] == []  # ana was active today
    advance_clock(database, days=20)
    evidence.record(piece("ben"))
    advance_clock(database, days=11)  # ana inactive 31 days, ben 11
    (second,) = runner.run_due()
    assert json.loads(second.summary or "") == {"days": 30, "erased": ["ana"], "kept": []}
    assert evidence.find(learner_id="ana") == [] and evidence.find(learner_id="ben") != []
    assert runner.run_due() == []  # once a day
    with pytest.raises(ValueError, match="less than or equal to 36500"):
        Settings(retention_days=36_501)


def test_grades_and_members_jobs_run_the_real_services(
    database: ServiceContext, badge_key_file: Path
) -> None:
    settings = Settings(
        lti_key_file=str(badge_key_file), lti_grades_minutes=15, lti_members_hours=24
    )
    runner = JobRunner(
        database, scheduled_jobs(settings, database, tool_key=ToolKey.from_settings(settings))
    )
    assert [job.every for job in runner.jobs] == [timedelta(minutes=15), timedelta(hours=24)]
    grades, members = runner.run_due()
    assert (grades.name, grades.outcome) == ("lti-grades", "ok")
    assert json.loads(grades.summary or "")["sent"] == 0  # no launch yet: nothing to send
    assert (members.name, json.loads(members.summary or "")["courses"]) == ("lti-members", 0)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"roster_sync_hours": 1}, "MASTERYPATH_ONEROSTER_URL"),
        ({"lti_grades_minutes": 5}, "MASTERYPATH_LTI_KEY_FILE"),
        ({"lti_members_hours": 5}, "MASTERYPATH_LTI_KEY_FILE"),
        ({"backup_hours": 24}, "MASTERYPATH_BACKUP_DIR"),
        ({"backup_at": "02:30"}, "MASTERYPATH_BACKUP_AT needs MASTERYPATH_BACKUP_DIR"),
        (
            {"backup_at": "02:30", "backup_hours": 24, "backup_dir": "b"},
            "MASTERYPATH_BACKUP_HOURS and MASTERYPATH_BACKUP_AT: set one",
        ),
        ({"retention_at": "03:00"}, "MASTERYPATH_RETENTION_AT needs MASTERYPATH_RETENTION_DAYS"),
    ],
)
def test_a_job_without_its_settings_stops_the_start(
    settings: dict[str, Any], named: str, tmp_path: Path
) -> None:
    context = ServiceContext.from_settings(Settings(database_url=f"sqlite:///{tmp_path}/x.db"))
    with pytest.raises(ConfigurationError, match=named):
        create_app(Settings.model_validate({"embeddings": False, **settings}), context=context)
    for name in [k for k, v in settings.items() if isinstance(v, int)]:  # a period < 0
        with pytest.raises(ValueError, match="greater than or equal to 0"):
            Settings.model_validate({name: -1})


def test_admins_see_and_run_the_jobs_and_the_server_runs_them_itself(
    database: ServiceContext, tmp_path: Path
) -> None:
    needs_pg_dump(database)
    folder = tmp_path / "backups"
    settings = Settings(embeddings=False, backup_hours=24, backup_dir=str(folder))
    client, accounts = api_app(database, settings)
    accounts.create_user("root", "root-password", Role.ADMIN)
    accounts.create_user("lee", "lee-password", Role.EDUCATOR)
    admin = login(client, "root", "root-password")
    teacher = login(client, "lee", "lee-password")
    (listed,) = client.get("/api/v1/jobs", headers=admin).json()
    assert listed["name"] == "backup" and listed["every_seconds"] == 86_400
    assert listed["outcome"] is None  # not started: a TestClient outside `with` serves none
    assert client.post("/api/v1/jobs/backup/run", headers=teacher).status_code == 403
    ran = run_job(client, "backup", admin)
    assert ran["outcome"] == "ok", ran
    assert len(list(folder.iterdir())) == 1
    assert client.post("/api/v1/jobs/nightly/run", headers=admin).status_code == 404

    # a serving app runs the due ones itself, in the background
    advance_clock(database, hours=24)
    admin = login(client, "root", "root-password")  # a day on: the first token expired
    with TestClient(client.app) as serving:
        for _ in range(400):  # room for a slow machine; the first look is at start-up
            if len(list(folder.iterdir())) == 2:
                break
            time.sleep(0.05)
        assert len(list(folder.iterdir())) == 2
        answer = serving.get("/api/v1/jobs", headers=admin)
        assert answer.status_code == 200, answer.text
        (after,) = answer.json()
    assert after["started_at"] == "2026-11-24T09:00:00+00:00"


def test_the_cli_lists_and_runs_the_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert CliRunner().invoke(cli, ["init"]).exit_code == 0
    unscheduled = CliRunner().invoke(cli, ["jobs", "list"])
    assert unscheduled.exit_code == 0 and "no job is scheduled" in unscheduled.output
    monkeypatch.setenv("MASTERYPATH_BACKUP_HOURS", "12")
    monkeypatch.setenv("MASTERYPATH_BACKUP_DIR", str(tmp_path / "backups"))
    listed = CliRunner().invoke(cli, ["jobs", "list", "--json"])
    assert json.loads(listed.output)[0]["every_seconds"] == 43_200
    ran = CliRunner().invoke(cli, ["jobs", "run", "--json"])
    assert ran.exit_code == 0, ran.output
    assert [s["outcome"] for s in json.loads(ran.output)] == ["ok"]
    again = CliRunner().invoke(cli, ["jobs", "run"])
    assert "nothing was due" in again.output
    forced = CliRunner().invoke(cli, ["jobs", "run", "backup", "--json"])
    assert forced.exit_code == 0 and json.loads(forced.output)[0]["name"] == "backup"
    table = CliRunner().invoke(cli, ["jobs", "list"])
    assert "│ ok " in table.output and "backup" in table.output.replace("│", "")
    assert len(list((tmp_path / "backups").iterdir())) == 2
    unknown = CliRunner().invoke(cli, ["jobs", "run", "nightly"])
    assert unknown.exit_code != 0 and "nightly" in unknown.output


def test_the_cli_shows_on_a_terminal_which_job_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = io.StringIO()
    monkeypatch.setattr(cli_support, "err", Console(file=terminal, force_terminal=True))
    monkeypatch.setenv("MASTERYPATH_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("MASTERYPATH_BACKUP_HOURS", "12")
    monkeypatch.setenv("MASTERYPATH_BACKUP_DIR", str(tmp_path / "backups"))
    assert CliRunner().invoke(cli, ["init"]).exit_code == 0
    ran = CliRunner().invoke(cli, ["jobs", "run", "backup", "--json"])
    assert ran.exit_code == 0, ran.output
    assert "running backup" in terminal.getvalue()
    assert json.loads(ran.output)[0]["outcome"] == "ok"  # the JSON stays clean

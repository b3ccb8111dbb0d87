"""Settings read from the environment (``MASTERYPATH_*``), passed explicitly everywhere."""

from __future__ import annotations

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from masterypath.errors import ConfigurationError

DEFAULT_DATABASE_URL = "sqlite:///var/masterypath.db"

_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
_ORIGIN = re.compile(rf"https?://(\*\.)?{_LABEL}(\.{_LABEL})*(:(\d{{1,5}}|\*))?")


def parse_origins(text: str) -> tuple[str, ...]:
    """The origins in ``text`` (separated by spaces or commas), each ``http(s)://host``
    with an optional port and an optional ``*.`` before the host (any subdomain), as a
    Content-Security-Policy source list takes them; a :class:`ValueError` names the first
    that is not one.

    >>> parse_origins("https://lms.school.org, https://*.school.org:8443")
    ('https://lms.school.org', 'https://*.school.org:8443')
    >>> parse_origins("lms.school.org")
    Traceback (most recent call last):
    ...
    ValueError: 'lms.school.org' is not an origin: write it as https://host[:port] ...
    """
    origins = tuple(o.rstrip("/").lower() for o in re.split(r"[\s,]+", text) if o)
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise ValueError(
                f"{origin!r} is not an origin: write it as https://host[:port] (a leading "
                "'*.' before the host allows its subdomains)"
            )
    return origins


class Settings(BaseSettings):
    """Runtime configuration.

    >>> Settings(database_url="sqlite:///x.db").database_url
    'sqlite:///x.db'
    """

    model_config = SettingsConfigDict(env_prefix="MASTERYPATH_", extra="ignore")

    @classmethod
    def from_environment(cls) -> Settings:
        """The settings of the ``MASTERYPATH_*`` variables; a bad value is a
        :class:`ConfigurationError` naming the variable (not a traceback).

        >>> import os
        >>> os.environ["MASTERYPATH_MAX_BODY_BYTES"] = "ten"
        >>> Settings.from_environment()
        Traceback (most recent call last):
        ...
        masterypath.errors.ConfigurationError: MASTERYPATH_MAX_BODY_BYTES: Input should be a...
        >>> del os.environ["MASTERYPATH_MAX_BODY_BYTES"]
        """
        try:
            return cls()
        except PydanticValidationError as exc:
            reasons = [
                f"{cls.model_config['env_prefix']}{'_'.join(map(str, e['loc'])).upper()}: "
                f"{e['msg']}"
                for e in exc.errors()
            ]
            raise ConfigurationError("; ".join(reasons)) from None

    database_url: str = DEFAULT_DATABASE_URL
    """SQLAlchemy URL; ``postgresql://`` is read as ``postgresql+psycopg://``."""
    echo_sql: bool = False
    max_body_bytes: int = Field(default=10_000_000, ge=1)
    """Larger request bodies are refused with 413."""
    llm_url: str = ""
    """OpenAI-compatible endpoint (``https://host/v1``) for rubric scoring; empty: off."""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout: float = Field(default=20.0, gt=0)
    scorer_model: str = ""
    """Folder of a fitted cross-encoder rubric scorer (``masterypath feedback train``);
    empty: the similarity scorer."""
    placement_confirmation: bool = True
    """Hold placement conclusions for an educator's confirmation before they become
    ``inferred`` evidence (``MASTERYPATH_PLACEMENT_CONFIRMATION=0``: record at once)."""
    opentelemetry: bool = False
    """FastAPI's own OpenTelemetry spans and metrics, for a process that configures an
    OpenTelemetry SDK (``MASTERYPATH_OPENTELEMETRY=1``). Off, FastAPI does not look for
    one on every request (it reads the environment each time to find out)."""
    embeddings: bool = True
    """Use sentence embeddings for career alignment when the ``nlp`` extra is installed
    (``MASTERYPATH_EMBEDDINGS=0``: lexical matching only)."""
    badge_key_file: str = ""
    """PEM file of the RSA key that signs Open Badges (``masterypath badges key PATH``
    makes one); empty: no badges are issued."""
    badge_previous_key_files: str = ""
    """PEM files (separated by commas) of keys that signed badges before the current one:
    each is still published at its ``kid`` and its badges still verify as this issuer's.
    The public half is enough. Empty: none."""
    badge_issuer_url: str = ""
    """The issuer's id in every badge: an http(s) URL that identifies the school. The
    badges' revocation lists are published under it (``/badges/status/1``, ...), so it
    should be where this server is reached."""
    badge_issuer_name: str = "masterypath"
    """The issuer's name in every badge."""
    access_log_window: float = Field(default=300.0, ge=0)
    """Seconds: a learner's data read again by the same account through the same endpoint
    is logged once per this window while the reads go on (a page polling every second is
    one access-log row per window, not 3,600 an hour); 0: every read is a row."""
    lti_key_file: str = ""
    """PEM file of this tool's RSA key for LTI 1.3 (``masterypath lti key PATH`` makes one):
    it signs the requests that send grades back to a platform, and its public half is
    published at ``/lti/jwks`` for the platform. Empty: no grades are sent back."""
    embed_origins: str = ""
    """The sites (origins, separated by spaces or commas) whose pages may frame an embed
    link's page, e.g. ``https://lms.school.org``; empty: any site. No other page may be
    framed by these (the app's pages only by the registered LTI platforms' sites)."""

    oneroster_url: str = ""
    """The school's OneRoster 1.2 rostering service (``https://sis/ims/oneroster/rostering/
    v1p2``) that ``masterypath roster sync`` reads; empty: give ``--url``."""
    oneroster_token_url: str = ""
    """Its OAuth 2 token URL."""
    oneroster_client_id: str = ""
    oneroster_client_secret: str = ""
    """The client id and secret it gave this server (the secret only ever from here)."""
    oneroster_auth: Literal["oauth2", "oauth1"] = "oauth2"
    """How it is asked: ``oauth2`` (OneRoster 1.2: a token from the token URL) or
    ``oauth1`` (OneRoster 1.1: each request signed with the client id and secret, OAuth
    1.0a HMAC-SHA256; no token URL)."""
    roster_sync_hours: float = Field(default=0.0, ge=0)
    """Hours between the server's syncs of the roster from the student information system
    (the ``oneroster_*`` settings; no accounts are made); 0: none (cron or "Sync now")."""
    lti_grades_minutes: float = Field(default=0.0, ge=0)
    """Minutes between the server's sends of changed grades to every platform that takes
    them (needs ``lti_key_file``); 0: none (cron or "Send grades now")."""
    lti_members_hours: float = Field(default=0.0, ge=0)
    """Hours between the server's reads of the members of every course launched from; 0:
    none."""
    retention_days: int = Field(default=0, ge=0, le=36_500)
    """Once a day the server erases every learner with no activity for this many days, as
    ``masterypath learners erase-inactive`` does; 0: none (a school's retention policy,
    e.g. 1,095 for three years)."""
    backup_hours: float = Field(default=0.0, ge=0)
    """Hours between the server's backups of the database into ``backup_dir``; 0: none."""
    backup_dir: str = ""
    """The folder scheduled backups go to (``masterypath-STAMP.sqlite`` or ``.dump``)."""
    backup_keep: int = Field(default=7, ge=1)
    """How many scheduled backups are kept: the oldest beyond it are deleted."""
    backup_at: str = ""
    """``HH:MM``: a backup once a day at this time of ``timezone`` (instead of every
    ``backup_hours``), e.g. ``02:30`` when nobody uses the server."""
    retention_at: str = ""
    """``HH:MM``: the time of ``timezone`` the daily retention run starts at (else a day
    after the last one)."""
    timezone: str = "UTC"
    """The time zone of ``backup_at`` and ``retention_at`` (an IANA name, e.g.
    ``Europe/Berlin``)."""
    public_url: str = ""
    """The address people and platforms reach this server at, when a proxy stands in
    front (``https://mastery.school.org``: a scheme and host, an optional port, no path).
    Every URL this server makes (an LTI launch's redirect, the tool URLs a platform is
    given, an embed link, the xAPI ``authority``) then names it, whatever address the
    proxy forwards to. Empty: the address each request was sent to (its ``Host``)."""

    @field_validator("backup_at", "retention_at")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        if value and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("a time of day as HH:MM (00:00 to 23:59)")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            said = f"{value!r} is not a time zone (an IANA name, e.g. Europe/Berlin)"
            raise ValueError(said) from None
        return value

    @field_validator("embed_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        return " ".join(parse_origins(value))

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value:
            return value
        origins = parse_origins(value)
        if len(origins) != 1 or "*" in origins[0]:
            raise ValueError(
                f"{value!r} is not one address: write it as https://host[:port], no path"
            )
        return origins[0]

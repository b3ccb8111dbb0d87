"""Fuzz the OpenAPI schema with schemathesis, as an admin: no 5xx, and every response
matches the schema (status code documented, body valid, content type declared)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import ignored_auth, positive_data_acceptance

from masterypath.interop.loader import load_framework_file
from masterypath.services.context import ServiceContext
from masterypath.services.frameworks import FrameworkService
from tests.conftest import admin_client

FIXTURES = Path(__file__).parents[1] / "fixtures"
SKIP = {("POST", "/auth/logout")}  # would revoke the fuzzer's own token


def test_api_never_fails_and_matches_its_schema(database: ServiceContext) -> None:
    FrameworkService(database).save(
        load_framework_file(FIXTURES / "careers_programme.yaml").framework
    )
    # credentials cached: the single posts go through their fast lane (api/fast_lane.py)
    client = admin_client(database, cache_seconds=3600.0)
    headers = dict(client.headers)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            # authentication is tested by the authorization matrix (the ignored-auth probe
            # cannot remove a header passed explicitly); schema-valid bodies may still be
            # rejected on meaning (a CASE package without a CFDocument is 422, rightly)
            case.call_and_validate(
                headers=headers, excluded_checks=[ignored_auth, positive_data_acceptance]
            )

        try:
            check()
        except Exception as exc:  # collect every operation's failure, not just the first
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:400]}")
    assert operations >= 55
    assert failures == [], "\n\n".join(failures)

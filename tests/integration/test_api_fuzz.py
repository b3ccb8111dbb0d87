"""Fuzz the OpenAPI schema with schemathesis, as an admin with requests that follow the
schema and with requests that break it, and as an educator and a learner (whose requests
go through the cohort and own-record checks): no 5xx, and every response matches the
schema (status code documented, body valid, content type declared).

The test suite runs 6 derandomized examples per operation. For a deeper, random search
set ``MASTERYPATH_FUZZ_EXAMPLES``, e.g.
``MASTERYPATH_FUZZ_EXAMPLES=200 .venv/bin/pytest tests/integration/test_api_fuzz.py``
(Hypothesis prints the seed of a failure, to reproduce it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import ignored_auth, negative_data_rejection, positive_data_acceptance
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err

from masterypath.domain.access import Role
from masterypath.interop.loader import load_framework_file
from masterypath.services.context import ServiceContext
from masterypath.services.frameworks import FrameworkService
from tests.conftest import api_app, badge_settings, login
from tests.sis_stub import Sis, running_sis, settings_of

FIXTURES = Path(__file__).parents[1] / "fixtures"
SKIP = {("POST", "/auth/logout")}  # would revoke the fuzzer's own token
DEEP_EXAMPLES = os.environ.get("MASTERYPATH_FUZZ_EXAMPLES")


EXCLUDED = {
    # authentication is tested by the authorization matrix (the ignored-auth probe cannot
    # remove a header passed explicitly); schema-valid bodies may still be rejected on
    # meaning (a CASE package without a CFDocument is 422, rightly)
    GenerationMode.POSITIVE: [ignored_auth, positive_data_acceptance],
    # some "schema-violating" requests are the same as valid ones on the wire (a query
    # value of the wrong JSON type is text all the same; an extra parameter whose value is
    # an empty list is not sent), so they are rightly accepted; what must hold is the
    # rest: no 5xx, documented status codes, error bodies of the documented shape
    GenerationMode.NEGATIVE: [ignored_auth, positive_data_acceptance, negative_data_rejection],
}


@pytest.fixture
def sis() -> Iterator[Sis]:
    with running_sis() as system:
        yield system


@pytest.mark.parametrize(
    ("role", "mode"),
    [
        (Role.ADMIN, GenerationMode.POSITIVE),
        (Role.ADMIN, GenerationMode.NEGATIVE),
        (Role.EDUCATOR, GenerationMode.POSITIVE),
        (Role.LEARNER, GenerationMode.POSITIVE),
    ],
    ids=lambda v: v.value,
)
def test_api_never_fails_and_matches_its_schema(
    database: ServiceContext, role: Role, mode: GenerationMode, badge_key_file: Path, sis: Sis
) -> None:
    FrameworkService(database).save(
        load_framework_file(FIXTURES / "careers_programme.yaml").framework
    )
    # credentials cached: the single posts go through their fast lane (api/fast_lane.py)
    # a server that issues badges: without, their endpoint is rightly a 503
    # and sends LTI grades back (the same key as its LTI key), else that endpoint is a 503;
    # and reads the roster from a student information system, else its sync is a 503
    served = badge_settings(badge_key_file).model_copy(
        update={
            "lti_key_file": str(badge_key_file),
            **settings_of(sis),
        }
    )
    client, accounts = api_app(database, served, cache_seconds=3600.0)
    learner_id = "fuzz-learner" if role is Role.LEARNER else None
    user = accounts.create_user("fuzzer", "fuzzer-password", role, learner_id=learner_id)
    if role is Role.EDUCATOR:
        accounts.create_cohort("fuzz", "Fuzz", by="test", educators=[user])
        accounts.enrol("fuzz", "fuzz-learner", by="test")
    headers = login(client, "fuzzer", "fuzzer-password")
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # a schema the fuzzer cannot read: a failure, not a skip
            raise result.err()
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        operations += 1

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=int(DEEP_EXAMPLES or 6),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=DEEP_EXAMPLES is None,
            database=None,
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, excluded_checks=EXCLUDED[mode])

        try:
            check()
        except Unsatisfiable:  # nothing to make invalid: an operation without inputs
            assert mode is GenerationMode.NEGATIVE
        # collect every operation's failure, not just the first (schemathesis reports its
        # checks' failures as a BaseExceptionGroup, which `except Exception` lets through)
        except (Exception, FailureGroup) as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:400]}")
    assert operations >= 55
    assert failures == [], "\n\n".join(failures)

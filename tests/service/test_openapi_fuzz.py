"""Schemathesis against the OpenAPI schema, stateless and stateful, on SQLite and PostgreSQL:
no 5xx and no response that breaks the schema, with an admin token (so every operation is
reachable) and a bounded number of examples; afterwards the stored state still routes.

Drives schemathesis' Python API with Hypothesis directly (one strategy per operation), which
keeps the run bounded and independent of its pytest plugin."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from leadpilot.policy.availability import check_availability
from leadpilot.store.reps import list_reps
from leadpilot.store.tables import policies

from .conftest import Api, build_api, make_reps, migrated_engine

# What the issue asks: no 5xx, and every response (status, content type, headers, body)
# as the schema documents it. Schemathesis' "positive data accepted" heuristic is left out:
# a schema-valid canonical body sent with ?format=hubspot is rightly a 422.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Bounded so CI stays fast (~1-2 min per database on 2 cores): enough to reach every
# operation with valid and invalid inputs; the 5xx were found well within this.
# Per operation: schema-valid inputs, and inputs that break the schema (must be 4xx).
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}
STATEFUL_RUNS = 25
STATEFUL_STEPS = 8


@pytest.fixture(params=["sqlite", "postgres"])
def fuzzed(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[Api]:
    """An app with three reps and one lead, on each database (PostgreSQL is required when
    LEADPILOT_TEST_POSTGRES_URL is set, as CI sets it)."""
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else sqlite_url
    engine = migrated_engine(url)
    api = build_api(engine, make_reps(3))
    with api.client:
        api.post("/v1/leads", {"lead_id": "seed-lead", "email": "seed@acme.com"})
        yield api
    _assert_state_is_usable(api)
    engine.dispose()


def _assert_state_is_usable(api: Api) -> None:
    """What the fuzzing wrote still routes: every stored rep can be read (main left one with
    a garbage timezone), and exactly one or no policy is active."""
    with api.engine.connect() as conn:
        for rep in list_reps(conn):
            check_availability(rep)
        active = conn.execute(
            sa.select(sa.func.count()).select_from(policies).where(policies.c.active)
        ).scalar()
    assert active in (0, 1)


def _schema(api: Api) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", api.client.app)


@pytest.mark.slow
def test_no_server_errors_and_responses_match_the_schema(fuzzed: Api) -> None:
    """Stateless: every operation with generated valid and invalid inputs."""
    headers = fuzzed.headers("admin")
    operations = [result.ok() for result in _schema(fuzzed).get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []
    for operation, (mode, examples) in itertools.product(operations, EXAMPLES.items()):

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            check()
        except Unsatisfiable:  # no input to break (e.g. GET /healthz has no parameters)
            assert mode is GenerationMode.NEGATIVE, operation.label
        except (Exception, BaseExceptionGroup) as exc:  # collect every failure, then report
            failures.append(f"{operation.label} ({mode.value}): {str(exc)[:1500]}")
    assert failures == []


@pytest.mark.slow
def test_stateful_sequences_never_answer_5xx(fuzzed: Api) -> None:
    """Stateful: sequences that follow the links schemathesis infers (a lead's id into GET
    /v1/leads/{id}, /v1/decisions and /v1/events; a rep's id into GET and PUT /v1/reps/{id})."""
    headers = fuzzed.headers("admin")
    workflow = _schema(fuzzed).as_state_machine()

    class Sequences(workflow):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(  # type: ignore[override]
            self, response: Any, case: schemathesis.Case, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS)

    assert len(workflow.bundles) >= 4
    Sequences.run(
        settings=settings(
            max_examples=STATEFUL_RUNS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )

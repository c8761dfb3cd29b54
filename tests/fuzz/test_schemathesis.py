"""schemathesis over every operation of the OpenAPI document, against the app in process: every phase
(examples, coverage, fuzzing, the stateful phase that follows links), every check, and one of ours that
holds each problem to the codes its operation documents. A fixed seed makes it the same run everywhere.

The budget is `SPONSORFLOW_FUZZ_EXAMPLES` examples per operation (default below, sized for `make test`);
`make fuzz` runs a larger one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.engine import Status, events, from_schema
from schemathesis.python import asgi

from app.api.problems import PROBLEM_JSON
from app.clock import FrozenClock
from app.config import Settings
from app.main import create_app
from app.rules.book import RuleBook
from app.web.auth import ORGANISATION_HEADER
from tests.support.tenants import Tenant

EXAMPLES = int(os.environ.get("SPONSORFLOW_FUZZ_EXAMPLES", "10"))
SEED = 20261201

#: What a request the schema allows may be answered with. The schema promises a request's shape; the
#: rules still refuse some well-shaped ones with a documented problem: an id that names nothing (404), a
#: cursor this API never issued (400), an action the case's state refuses (409), a stale or missing
#: If-Match (412, 428), a date the rule book does not cover or a day outside a field's window (422).
#: `problem_codes_are_documented` holds each of those to the codes its operation lists.
ACCEPTED_REFUSALS = ["2xx", "400", "401", "403", "404", "409", "412", "422", "428"]


def _documented_codes(case: schemathesis.Case, status: int) -> set[str] | None:
    """The problem codes the operation documents for `status` (the example names under
    application/problem+json), or None where it lists none."""
    responses: dict[str, Any] = case.operation.definition.raw.get("responses", {})
    documented = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
    if not isinstance(documented, dict):
        return None
    examples = documented.get("content", {}).get(PROBLEM_JSON, {}).get("examples")
    return set(examples) if examples else None


@schemathesis.check
def problem_codes_are_documented(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Every error is problem+json with a stable code, and the code is one the operation documents."""
    if response.status_code < 400:
        return None
    media_type = response.headers.get("content-type", [""])[0]
    assert media_type == PROBLEM_JSON, f"a {response.status_code} answered {media_type}, not {PROBLEM_JSON}"
    problem = response.json()
    for member in ("type", "title", "status", "code"):
        assert member in problem, f"the problem has no `{member}`: {problem}"
    assert problem["status"] == response.status_code, problem
    codes = _documented_codes(case, response.status_code)
    if codes is not None:
        assert problem["code"] in codes, (
            f"{case.operation.label} answered {response.status_code} `{problem['code']}`, "
            f"not among its documented codes {sorted(codes)}"
        )
    return None


def _failures(stream: Iterator[events.EngineEvent]) -> Iterator[str]:
    for event in stream:
        if isinstance(event, events.NonFatalError | events.FatalError):
            yield f"error: {event!r}"[:2000]
        if not isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            continue
        if event.status not in (Status.FAILURE, Status.ERROR):
            continue
        for checks in event.recorder.checks.values():
            for check in checks:
                if check.failure_info is not None:
                    failure = check.failure_info.failure
                    yield (f"{failure.operation}: {failure.title}\n{failure.message}\n{check.failure_info.code_sample}")


@pytest.fixture
def fuzzed_app(settings: Settings, clock: FrozenClock, rulebook: RuleBook) -> Iterator[Any]:
    # Its own engine: schemathesis calls the app from its own event loop.
    app = create_app(settings, clock=clock, rulebook=rulebook)
    yield app
    asgi.shutdown_lifespans()


def test_every_operation_survives_the_fuzzer(fuzzed_app: Any, tenant: Tenant, platform_key: str) -> None:
    # A platform key reaches every operation: its own (organisations, test clocks) and, naming the
    # organisation it acts for, an admin's.
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {platform_key}", ORGANISATION_HEADER: tenant.organisation_id},
            "checks": {
                "enabled": True,
                "positive_data_acceptance": {"expected-statuses": ACCEPTED_REFUSALS},
                # A missing If-Match is `428 precondition_required` (RFC 6585), the status made for it.
                "missing_required_header": {"expected-statuses": [400, 401, 403, 406, 415, 422, 428]},
            },
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
            "phases": {"stateful": {"max-steps": EXAMPLES * 2}},
            "operations": [
                # A legal hold is a switch on the case, not a resource of its own: after DELETE clears
                # it, GET still answers 200 with `legal_hold: false` and the retention date.
                {
                    "include-path": "/v1/hires/{hire_id}/legal-hold",
                    "include-method": "GET",
                    "checks": {"use_after_free": {"enabled": False}},
                }
            ],
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app, config=config)
    failures = list(dict.fromkeys(_failures(from_schema(schema).execute())))
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)

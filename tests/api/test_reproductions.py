"""Requests a property-based fuzzer found answering 500 or accepting what no user means. Each answers a
documented 4xx problem naming the field, and writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import FrozenClock
from app.config import Settings
from app.db.engine import create_engine
from tests.support.casework import SOFTWARE_ENGINEER, Casework
from tests.support.problems import assert_field_refused, assert_problem, row_counts
from tests.support.tenants import Tenant

NUL = "\x00"
BOM = "\ufeff"


@pytest.fixture
def casework(client: AsyncClient, tenant: Tenant, clock: FrozenClock) -> Casework:
    return Casework(client, tenant, clock)


async def refused(client: AsyncClient, db: AsyncEngine, method: str, url: str, **kwargs):  # type: ignore[no-untyped-def]
    """Send the request and check that no table changed."""
    before = await row_counts(db)
    response = await client.request(method, url, **kwargs)
    assert await row_counts(db) == before, "a refused request wrote rows"
    return response


async def test_a_hire_created_with_a_cohort_flag_keeps_it(casework: Casework) -> None:
    hire = await casework.create(postdoctoral_role=True, phd="relevant_stem", switching_from_student_or_graduate=True)
    assert hire["postdoctoral_role"] is True
    assert hire["phd"] == "relevant_stem"
    assert hire["switching_from_student_or_graduate"] is True
    assert hire["first_sponsored_before_2024_04_04"] is False


async def test_the_salary_option_is_the_services_answer_not_an_input(
    client: AsyncClient, tenant: Tenant, db: AsyncEngine
) -> None:
    r = await refused(
        client, db, "POST", "/v1/hires", json=SOFTWARE_ENGINEER | {"salary_option": "general"}, headers=tenant.headers()
    )
    assert_field_refused(r, "body", "salary_option")


@pytest.mark.parametrize("character", [NUL, BOM], ids=["nul", "bom"])
async def test_a_name_with_an_invisible_character_is_refused(
    client: AsyncClient, tenant: Tenant, db: AsyncEngine, character: str
) -> None:
    body = SOFTWARE_ENGINEER | {"given_name": f"Ada{character}"}
    r = await refused(client, db, "POST", "/v1/hires", json=body, headers=tenant.headers())
    assert_field_refused(r, "body", "given_name")


async def test_nul_in_a_nested_json_detail_is_refused(client: AsyncClient, tenant: Tenant, db: AsyncEngine) -> None:
    body = {"effective_date": "2026-01-12", "description": "New office", "details": {"note": ["x", f"a{NUL}"]}}
    r = await refused(client, db, "POST", "/v1/organisation-changes", json=body, headers=tenant.headers())
    assert_field_refused(r, "body", "details")


async def test_nul_in_a_path_parameter_is_refused(client: AsyncClient, tenant: Tenant, db: AsyncEngine) -> None:
    r = await refused(client, db, "GET", "/v1/hires/hire_%00", headers=tenant.headers())
    assert_field_refused(r, "path", "hire_id")


async def test_nul_in_a_query_parameter_is_refused(client: AsyncClient, tenant: Tenant, db: AsyncEngine) -> None:
    r = await refused(client, db, "GET", "/v1/hires", params={"external_id": f"E{NUL}1"}, headers=tenant.headers())
    assert_field_refused(r, "query", "external_id")


@pytest.mark.parametrize("amount", [10**26, "100000000000000000000000000", 1e26], ids=["int", "string", "float"])
async def test_an_amount_near_1e26_is_refused(client: AsyncClient, tenant: Tenant, db: AsyncEngine, amount) -> None:  # type: ignore[no-untyped-def]
    body = {"soc_code": "2134", "annual_salary": amount, "weekly_hours": "37.5", "cos_assignment_date": "2026-01-12"}
    r = await refused(client, db, "POST", "/v1/eligibility-checks", json=body, headers=tenant.headers())
    assert_field_refused(r, "body", "annual_salary")


async def test_a_hire_salary_near_1e26_is_refused(client: AsyncClient, tenant: Tenant, db: AsyncEngine) -> None:
    body = SOFTWARE_ENGINEER | {"salary": "1e26"}
    r = await refused(client, db, "POST", "/v1/hires", json=body, headers=tenant.headers())
    assert_field_refused(r, "body", "salary")


@pytest.mark.parametrize("salary", [" 100 ", "100 ", "1e3", True], ids=["padded", "trailing", "exponent", "bool"])
async def test_a_salary_no_one_types_is_refused(client: AsyncClient, tenant: Tenant, db: AsyncEngine, salary) -> None:  # type: ignore[no-untyped-def]
    r = await refused(
        client, db, "POST", "/v1/hires", json=SOFTWARE_ENGINEER | {"salary": salary}, headers=tenant.headers()
    )
    assert_field_refused(r, "body", "salary")


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0"])
async def test_an_updated_since_filter_outside_the_calendar_is_refused(
    client: AsyncClient, tenant: Tenant, db: AsyncEngine, since: str
) -> None:
    r = await refused(client, db, "GET", "/v1/hires", params={"updated_since": since}, headers=tenant.headers())
    body = assert_field_refused(r, "query", "updated_since")
    assert "2000-01-01" in str(body["errors"]) or "ISO 8601" in str(body["errors"])


async def test_rules_on_day_zero_is_not_read_as_1970(client: AsyncClient, tenant: Tenant, db: AsyncEngine) -> None:
    r = await refused(client, db, "GET", "/v1/occupations/2134", params={"on": "0"}, headers=tenant.headers())
    assert_field_refused(r, "query", "on")


@pytest.mark.parametrize("frozen_time", ["2026-01-12T09:00:00", 0, "2026-01-12"], ids=["naive", "number", "day"])
async def test_a_test_clock_needs_a_time_with_a_zone(
    client: AsyncClient, platform_key: str, db: AsyncEngine, frozen_time: object
) -> None:
    r = await refused(
        client,
        db,
        "POST",
        "/v1/test-clocks",
        json={"frozen_time": frozen_time},
        headers={"Authorization": f"Bearer {platform_key}"},
    )
    assert_field_refused(r, "body", "frozen_time")


async def test_a_permission_ending_in_9999_is_refused(casework: Casework, db: AsyncEngine) -> None:
    await casework.licence_active()
    hire = await casework.create(inside_uk=False)
    await casework.walk(hire["id"], "submit_visa_application", "2026-01-12")
    before = await row_counts(db)
    r = await casework.act(
        hire["id"], "grant_visa", permission_start_date="2026-01-20", permission_end_date="9999-12-31"
    )
    assert await row_counts(db) == before
    body = assert_field_refused(r, "body", "permission_end_date")
    assert "2099-12-31" in body["errors"][0]["message"]


async def test_405_allows_every_method_of_the_path(client: AsyncClient, tenant: Tenant, casework: Casework) -> None:
    hire = await casework.create()
    r = await client.post(f"/v1/hires/{hire['id']}", json={}, headers=tenant.headers())
    assert_problem(r, 405, "method_not_allowed")
    assert {"GET", "PATCH"} <= set(r.headers["allow"].split(", "))
    r = await client.delete("/v1/hires", headers=tenant.headers())
    assert {"GET", "POST"} <= set(r.headers["allow"].split(", "))


async def test_a_chunked_body_over_the_limit_is_413(
    client: AsyncClient, tenant: Tenant, db: AsyncEngine, settings: Settings
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"given_name": "'
        for _ in range(settings.max_body_bytes // 1024 + 1):
            yield b"a" * 1024
        yield b'", "family_name": "Okafor"}'

    before = await row_counts(db)
    r = await client.post("/v1/hires", content=chunks(), headers=tenant.headers(**{"Content-Type": "application/json"}))
    assert_problem(r, 413, "payload_too_large")
    assert await row_counts(db) == before


async def test_a_database_error_shows_no_statement_parameters(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as failed:
                await conn.execute(text("SELECT * FROM no_such_table WHERE name = :name"), {"name": "Ada Okafor"})
    finally:
        await engine.dispose()
    assert "Ada Okafor" not in str(failed.value)


async def test_the_audit_pack_of_a_case_not_yet_judged_is_served(
    client: AsyncClient, tenant: Tenant, casework: Casework
) -> None:
    r = await client.post("/v1/hires", json={"given_name": "Ada", "family_name": "Okafor"}, headers=tenant.headers())
    assert r.status_code == 201, r.text
    pack = await client.get(f"/v1/hires/{r.json()['id']}/audit-pack", headers=tenant.headers("hr"))
    assert pack.status_code == 200, pack.text
    assert pack.json()["job"]["salary_option"] is None
    printable = await client.get(
        f"/v1/hires/{r.json()['id']}/audit-pack", params={"format": "html"}, headers=tenant.headers("hr")
    )
    assert printable.status_code == 200, printable.text


@pytest.mark.parametrize("months", [489_882, 121])
async def test_a_cos_period_past_ten_years_is_refused(
    client: AsyncClient, tenant: Tenant, db: AsyncEngine, months: int
) -> None:
    body = {"inside_uk": False, "cos_months": months, "sponsor_size": "small", "cos_assignment_date": "2025-04-09"}
    r = await refused(client, db, "POST", "/v1/cost-estimates", json=body, headers=tenant.headers())
    assert_field_refused(r, "body", "cos_months")


@pytest.mark.parametrize("flag", [0, "true", "yes"])
async def test_a_cohort_flag_is_a_json_boolean(client: AsyncClient, tenant: Tenant, db: AsyncEngine, flag) -> None:  # type: ignore[no-untyped-def]
    body = SOFTWARE_ENGINEER | {"postdoctoral_role": flag}
    r = await refused(client, db, "POST", "/v1/hires", json=body, headers=tenant.headers())
    assert_field_refused(r, "body", "postdoctoral_role")


async def test_405_on_a_fixed_path_allows_only_its_own_methods(client: AsyncClient, tenant: Tenant) -> None:
    r = await client.post("/v1/job-mappings/suggestions", params={"title": "Nurse"}, headers=tenant.headers())
    assert_problem(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET"


async def test_a_database_error_is_logged_by_class_and_sqlstate_only(
    client: AsyncClient,
    tenant: Tenant,
    app,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    class _DriverError(Exception):
        sqlstate = "22021"

    @app.get("/v1/failing-write")
    async def failing_write() -> None:
        raise DBAPIError(
            "INSERT INTO hires (given_name) VALUES (?)", {"given_name": "Ada Okafor"}, _DriverError("Ada Okafor")
        )

    with caplog.at_level("ERROR", logger="sponsorflow.errors"):
        r = await client.get("/v1/failing-write", headers=tenant.headers())
    assert_problem(r, 500, "internal_error")
    assert "Ada Okafor" not in caplog.text
    assert "_DriverError (SQLSTATE 22021)" in caplog.text


async def test_a_body_that_is_not_utf8_is_malformed_json(client: AsyncClient, tenant: Tenant, db: AsyncEngine) -> None:
    r = await refused(
        client,
        db,
        "POST",
        "/v1/cost-estimates",
        content=b"E~\xff\xfe",
        headers=tenant.headers(**{"Content-Type": "application/json"}),
    )
    assert_problem(r, 400, "malformed_json")


async def test_an_action_body_of_json_null_is_refused(casework: Casework, client: AsyncClient, db: AsyncEngine) -> None:
    # The contract gives every action one object body; `null` is not one (an absent body still means `{}`).
    await casework.licence_active()
    hire = await casework.create()
    headers = casework.headers(**{"If-Match": casework.etags[hire["id"]], "Content-Type": "application/json"})
    r = await refused(client, db, "POST", f"/v1/hires/{hire['id']}/actions/close", content=b"null", headers=headers)
    assert_field_refused(r, "body")
    admin = casework.tenant.headers("admin", **{"If-Match": "*", "Content-Type": "application/json"})
    r = await refused(client, db, "POST", "/v1/licence/actions/suspend", content=b"null", headers=admin)
    assert_field_refused(r, "body")

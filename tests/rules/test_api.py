"""The rules over HTTP: eligibility checks, cost estimates, occupations and what was loaded (design §4)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import FrozenClock
from app.main import create_app
from tests.support.databases import make_settings
from tests.support.problems import assert_problem
from tests.support.rules import money_rule, write_rules
from tests.support.tenants import Tenant

HC_997 = date(2025, 7, 22)  # RQF 6 minimum from this CoS assignment date
TODAY = "2026-01-12"  # the `clock` fixture's date in the UK


def job(code: str, on: date | None, salary: str = "41700", hours: str = "37.5", **flags: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"soc_code": code, "annual_salary": salary, "weekly_hours": hours, **flags}
    if on is not None:
        body["cos_assignment_date"] = on.isoformat()
    return body


def codes(result: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in result["reasons"]]


async def check(client: AsyncClient, tenant: Tenant, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/v1/eligibility-checks", json=body, headers=tenant.headers("viewer"))
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


WORKED_EXAMPLE = {
    "sponsor_size": "medium_large",
    "cos_months": 36,
    "inside_uk": False,
    "cos_assignment_date": "2025-12-16",
    "application_date": "2026-01-05",
}


# --- eligibility checks -------------------------------------------------------------------------------


async def test_7220_on_2025_07_21_keeps_rqf3_but_on_2025_07_22_falls_below_skill_minimum(
    client: AsyncClient, tenant: Tenant
) -> None:
    # rule skill.minimum_rqf: RQF 3 until 2025-07-21, RQF 6 from 2025-07-22 (HC 997).
    before = await check(client, tenant, job("7220", date(2025, 7, 21), salary="40000"))
    assert before["status"] == "needs_review"
    assert "skill_level_met" in codes(before) and "below_skill_level_no_shortage_list" not in codes(before)
    assert "going_rate_not_in_data" in codes(before)

    after = await check(client, tenant, job("7220", HC_997, salary="50000"))
    assert after["status"] == "ineligible"
    assert after["occupation_title"] == "Customer service supervisors"
    reason = after["reasons"][0]
    assert (reason["code"], reason["rule_id"], reason["effective_from"], reason["status"]) == (
        "below_skill_level_no_shortage_list",
        "skill.minimum_rqf",
        "2025-07-22",
        "confirmed",
    )
    assert reason["source"]["url"].startswith("https://")


async def test_7220_with_transitional_protection_is_eligible_at_the_41700_threshold(
    client: AsyncClient, tenant: Tenant
) -> None:
    # rules skill.transitional_protection and salary.general_threshold.standard (£41,700).
    result = await check(
        client, tenant, job("7220", date(2025, 9, 1), held_skilled_worker_permission_before_2025_07_22=True)
    )
    assert result["status"] == "eligible"
    assert [(r["code"], r["rule_id"]) for r in result["reasons"]] == [
        ("transitional_protection", "skill.transitional_protection"),
        ("salary_meets_requirement", "salary.general_threshold.standard"),
    ]
    assert result["salary_required"] == "41700.00"
    short = await check(
        client,
        tenant,
        job("7220", date(2025, 9, 1), salary="38700", held_skilled_worker_permission_before_2025_07_22=True),
    )
    assert (short["status"], short["salary_shortfall"]) == ("ineligible", "3000.00")


async def test_3411_artists_is_isl_eligible_until_2026_12_31_and_not_after(client: AsyncClient, tenant: Tenant) -> None:
    # rule shortage_lists.immigration_salary_list.valid_until = 2026-12-31.
    last_day = await check(client, tenant, job("3411", date(2026, 12, 31), salary="38200"))
    assert (last_day["status"], last_day["occupation_title"]) == ("eligible", "Artists")
    assert "on_immigration_salary_list" in codes(last_day)
    closed = await check(client, tenant, job("3411", date(2027, 1, 1), salary="60000"))
    assert (closed["status"], codes(closed)) == ("ineligible", ["below_skill_level_no_shortage_list"])

    viewer = tenant.headers("viewer")
    on_list = (await client.get("/v1/occupations/3411", params={"on": "2026-12-31"}, headers=viewer)).json()
    assert on_list["occupation"]["title"] == "Artists"
    assert on_list["occupation"]["skill_band"] == "medium_skilled"
    assert on_list["immigration_salary_list"]["on_list"] is True
    assert on_list["immigration_salary_list"]["valid_until"] == "2026-12-31"
    assert on_list["immigration_salary_list"]["rule_id"] == "shortage_lists.immigration_salary_list.valid_until"
    assert on_list["temporary_shortage_list"]["on_list"] is False
    assert on_list["temporary_shortage_list"]["entry"] is None
    off_list = (await client.get("/v1/occupations/3411", params={"on": "2027-01-01"}, headers=viewer)).json()
    assert off_list["immigration_salary_list"]["on_list"] is False
    assert off_list["immigration_salary_list"]["entry"]["rate"] == "38200.00"  # the entry is still shown


async def test_going_rate_is_pro_rated_for_30_hours(client: AsyncClient, tenant: Tenant) -> None:
    # 1111 Chief executives (occupations.skilled_worker.1111): £88,100 on 37.5 hours -> £70,480 on 30.
    result = await check(client, tenant, job("1111", date(2026, 1, 5), salary="70480", hours="30"))
    assert (result["status"], result["salary_required"]) == ("eligible", "70480.00")
    going = next(c for c in result["salary_components"] if c["name"] == "going_rate")
    assert going["amount"] == "70480.00"
    assert going["rule_ids"] == ["occupations.skilled_worker.1111"]
    short = await check(client, tenant, job("1111", date(2026, 1, 5), salary="70479.99", hours="30"))
    assert (short["status"], short["salary_shortfall"]) == ("ineligible", "0.01")


async def test_cos_assignment_date_defaults_to_today_in_the_uk(client: AsyncClient, tenant: Tenant) -> None:
    result = await check(client, tenant, job("2136", None, salary="45000"))
    assert (result["cos_assignment_date"], result["status"]) == (TODAY, "eligible")


async def test_an_unknown_soc_code_is_an_answer_not_an_error(client: AsyncClient, tenant: Tenant) -> None:
    result = await check(client, tenant, job("9999", HC_997))
    assert (result["status"], codes(result)) == ("ineligible", ["unknown_soc_code"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (job("7220", HC_997, salary=41700.5), "annual_salary"),  # money is never a float
        ({"annual_salary": "41700", "weekly_hours": "37.5"}, "soc_code"),
        (job("7220", HC_997, hours="0"), "weekly_hours"),
        (job("7220", HC_997, phd="doctorate"), "phd"),
        (job("7220", HC_997, salary_option="standard"), "salary_option"),  # the facts decide the option
        (job("7220", HC_997, surprise=True), "surprise"),
    ],
)
async def test_malformed_eligibility_input_is_a_422_problem(
    client: AsyncClient, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    r = await client.post("/v1/eligibility-checks", json=body, headers=tenant.headers("viewer"))
    problem = assert_problem(r, 422, "validation_error")
    assert ["body", field] in [e["loc"] for e in problem["errors"]]


# --- cost estimates -----------------------------------------------------------------------------------


async def test_worked_example_3_year_cos_after_16_dec_2025_costs_a_medium_large_sponsor_4485(
    client: AsyncClient, tenant: Tenant
) -> None:
    # facts §2.4: rules cos.fee.assignment.skilled_worker £525 + isc.fee.first_period.medium_large £1,320
    # + 4 x isc.fee.further_period.medium_large £660 = £4,485.
    r = await client.post("/v1/cost-estimates", json=WORKED_EXAMPLE, headers=tenant.headers("viewer"))
    assert r.status_code == 200, r.text
    estimate = r.json()
    assert estimate["sponsor_total"] == "4485.00"
    sponsor = [
        (line["rule_id"], line["amount"], line["quantity"], line["priced_on"])
        for line in estimate["lines"]
        if line["payer"] == "sponsor"
    ]
    assert sponsor == [
        ("cos.fee.assignment.skilled_worker", "525.00", 1, "2025-12-16"),
        ("isc.fee.first_period.medium_large", "1320.00", 1, "2025-12-16"),
        ("isc.fee.further_period.medium_large", "660.00", 4, "2025-12-16"),
    ]
    visa = next(line for line in estimate["lines"] if line["code"] == "visa_application_fee")
    assert (visa["priced_on"], visa["payer"]) == ("2026-01-05", "worker")
    assert Decimal(estimate["total"]) == Decimal("4485.00") + Decimal(estimate["worker_total"])


async def test_cost_estimate_dates_default_to_today(client: AsyncClient, tenant: Tenant) -> None:
    body = {"sponsor_size": "small", "cos_months": 12, "inside_uk": True}
    r = await client.post("/v1/cost-estimates", json=body, headers=tenant.headers("viewer"))
    assert r.status_code == 200, r.text
    assert {line["priced_on"] for line in r.json()["lines"]} == {TODAY}


async def test_a_charge_not_in_the_data_for_the_date_is_a_422_naming_the_rule(
    client: AsyncClient, tenant: Tenant
) -> None:
    # visa.fee.outside_uk.up_to_3_years: the data starts on 2023-10-04.
    body = WORKED_EXAMPLE | {"cos_assignment_date": "2023-01-02", "application_date": "2023-01-09"}
    r = await client.post("/v1/cost-estimates", json=body, headers=tenant.headers("viewer"))
    problem = assert_problem(r, 422, "rule_not_in_force")
    assert "visa.fee.outside_uk.up_to_3_years" in problem["detail"]
    assert "2023-01-09" in problem["detail"]


@pytest.mark.parametrize(
    "body",
    [
        WORKED_EXAMPLE | {"application_date": "2025-12-15"},  # before the CoS assignment
        WORKED_EXAMPLE | {"licence_priority": True},  # no licence_application_date to price it on
        WORKED_EXAMPLE | {"cos_months": 0},
        {k: v for k, v in WORKED_EXAMPLE.items() if k != "cos_assignment_date"}
        | {"application_date": "2026-01-05"},  # before today, the defaulted CoS date
    ],
)
async def test_inconsistent_cost_input_is_a_422_problem(
    client: AsyncClient, tenant: Tenant, body: dict[str, Any]
) -> None:
    r = await client.post("/v1/cost-estimates", json=body, headers=tenant.headers("viewer"))
    assert assert_problem(r, 422, "validation_error")["errors"]


# --- occupations --------------------------------------------------------------------------------------


async def test_occupation_search_ranks_the_exact_code_first_and_finds_titles_by_words(
    client: AsyncClient, tenant: Tenant
) -> None:
    viewer = tenant.headers("viewer")
    by_code = (await client.get("/v1/occupations", params={"q": "7220"}, headers=viewer)).json()
    assert by_code["on"] == TODAY
    assert (by_code["data"][0]["match"], by_code["data"][0]["occupation"]["code"]) == ("exact_code", "7220")

    r = await client.get("/v1/occupations", params={"q": "customer service supervisors", "limit": 3}, headers=viewer)
    found = r.json()["data"]
    assert len(found) <= 3
    assert (found[0]["match"], found[0]["occupation"]["code"]) == ("all_words", "7220")
    assert found[0]["occupation"]["title"] == "Customer service supervisors"

    before_data = await client.get("/v1/occupations", params={"q": "7220", "on": "2025-07-21"}, headers=viewer)
    assert before_data.json()["data"] == []  # the occupation tables start on 2025-07-22


async def test_an_occupation_shows_skill_band_rates_and_lists_on_a_date(client: AsyncClient, tenant: Tenant) -> None:
    r = await client.get("/v1/occupations/7220", headers=tenant.headers("viewer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["on"] == TODAY
    occupation = body["occupation"]
    assert (occupation["code"], occupation["skill_band"]) == ("7220", "medium_skilled")
    assert occupation["going_rates"]["standard"] == "34200.00"
    assert occupation["hours_per_week_basis"] == "37.5"
    assert body["temporary_shortage_list"]["on_list"] is False
    assert body["immigration_salary_list"]["on_list"] is False


async def test_an_occupation_unknown_or_not_in_force_is_a_404_that_says_which(
    client: AsyncClient, tenant: Tenant
) -> None:
    viewer = tenant.headers("viewer")
    unknown = assert_problem(await client.get("/v1/occupations/9999", headers=viewer), 404, "not_found")
    assert "not in the occupation tables" in unknown["detail"]
    r = await client.get("/v1/occupations/7220", params={"on": "2025-07-21"}, headers=viewer)
    not_in_force = assert_problem(r, 404, "not_found")
    assert "2025-07-21" in not_in_force["detail"] and "2025-07-22..open" in not_in_force["detail"]


# --- what was loaded ----------------------------------------------------------------------------------


async def test_rules_lists_a_known_rule_with_its_windows_and_source(client: AsyncClient, tenant: Tenant) -> None:
    # isc.fee.first_period.medium_large: £1,000 from 2017-04-06, £1,320 from 2025-12-16.
    viewer = tenant.headers("viewer")
    loaded = (await client.get("/v1/rules", headers=viewer)).json()
    assert loaded["override_dir"] is None
    assert {"file": "shipped/isc.yaml", "origin": "shipped", "content": "rules"} in loaded["files"]
    isc = next(rule for rule in loaded["rules"] if rule["id"] == "isc.fee.first_period.medium_large")
    assert [(w["entry"]["effective_from"], w["entry"]["value"], w["origin"]) for w in isc["windows"]] == [
        ("2017-04-06", "1000.00", "shipped"),
        ("2025-12-16", "1320.00", "shipped"),
    ]
    assert all(w["entry"]["source"]["url"].startswith("https://") for w in isc["windows"])
    assert all(w["entry"]["status"] for w in isc["windows"])
    (dataset,) = loaded["occupation_datasets"]
    assert dataset["occupation_count"] == 412

    one = await client.get("/v1/rules/isc.fee.first_period.medium_large", headers=viewer)
    assert one.status_code == 200 and one.json() == isc
    missing = assert_problem(await client.get("/v1/rules/isc.fee.nope", headers=viewer), 404, "not_found")
    assert "isc.fee.nope" in missing["detail"]


@pytest.fixture
async def overridden(tmp_path: Path, db: AsyncEngine, clock: FrozenClock) -> AsyncIterator[AsyncClient]:
    """A second app whose SPONSORFLOW_RULES_PATH raises salary.general_threshold.standard to £45,000."""
    write_rules(tmp_path, "thresholds.yaml", [money_rule("salary.general_threshold.standard", "45000", HC_997)])
    url = db.url.render_as_string(hide_password=False)
    app = create_app(make_settings(url, rules_path=tmp_path), clock=clock, engine=db)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
        yield c


async def test_an_override_directory_changes_a_figure_and_so_the_answer(
    client: AsyncClient, overridden: AsyncClient, tenant: Tenant, tmp_path: Path
) -> None:
    # salary.general_threshold.standard: shipped £41,700 from 2025-07-22, overridden to £45,000.
    body = job("2136", date(2026, 1, 5), salary="44000")
    assert (await check(client, tenant, body))["status"] == "eligible"
    result = await check(overridden, tenant, body)
    assert (result["status"], result["salary_shortfall"]) == ("ineligible", "1000.00")
    below = next(r for r in result["reasons"] if r["code"] == "salary_below_required")
    assert below["rule_id"] == "salary.general_threshold.standard"

    r = await overridden.get("/v1/rules/salary.general_threshold.standard", headers=tenant.headers("viewer"))
    assert [(w["entry"]["value"], w["origin"], w["file"]) for w in r.json()["windows"]] == [
        ("38700.00", "shipped", "shipped/salary.yaml"),
        ("45000.00", "override", "override/thresholds.yaml"),
    ]
    loaded = (await overridden.get("/v1/rules", headers=tenant.headers("viewer"))).json()
    assert loaded["override_dir"] == str(tmp_path)
    assert {"file": "override/thresholds.yaml", "origin": "override", "content": "rules"} in loaded["files"]


# --- authentication and errors ------------------------------------------------------------------------

ROUTES = [
    ("POST", "/v1/eligibility-checks", job("7220", HC_997)),
    ("POST", "/v1/cost-estimates", WORKED_EXAMPLE),
    ("GET", "/v1/occupations?q=7220", None),
    ("GET", "/v1/occupations/7220", None),
    ("GET", "/v1/rules", None),
    ("GET", "/v1/rules/isc.fee.first_period.medium_large", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_every_route_needs_an_api_key(
    client: AsyncClient, tenant: Tenant, method: str, path: str, body: dict[str, Any] | None
) -> None:
    assert_problem(await client.request(method, path, json=body), 401, "unauthenticated")
    bad = {"Authorization": "Bearer sf_deadbeef_nope"}
    assert_problem(await client.request(method, path, json=body, headers=bad), 401, "unauthenticated")
    r = await client.request(method, path, json=body, headers=tenant.headers("viewer"))
    assert r.status_code == 200, r.text  # a viewer key is enough


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("POST", "/v1/eligibility-checks", {"content": b'{"soc_code": '}, 400, "malformed_json"),
        ("POST", "/v1/eligibility-checks", {"json": []}, 422, "validation_error"),
        ("POST", "/v1/cost-estimates", {"json": {}}, 422, "validation_error"),
        ("GET", "/v1/occupations", {}, 422, "validation_error"),  # q is required
        ("GET", "/v1/occupations", {"params": {"q": "7220", "limit": "0"}}, 422, "validation_error"),
        ("GET", "/v1/occupations/7220", {"params": {"on": "31/12/2026"}}, 422, "validation_error"),
        ("GET", "/v1/occupations/0000", {}, 404, "not_found"),
        ("GET", "/v1/rules/no.such.rule", {}, 404, "not_found"),
    ],
)
async def test_every_error_is_problem_json(
    client: AsyncClient,
    tenant: Tenant,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    code: str,
) -> None:
    headers = tenant.headers("viewer", **{"Content-Type": "application/json"})
    assert_problem(await client.request(method, path, headers=headers, **kwargs), status, code)


async def test_operation_ids_name_the_rules_routes(app: FastAPI, client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    every_id = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(every_id) == len(set(every_id))
    operations = {
        (method.upper(), path): op["operationId"]
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if path.startswith(("/v1/eligibility", "/v1/cost", "/v1/occupations", "/v1/rules"))
    }
    assert operations == {
        ("POST", "/v1/eligibility-checks"): "createEligibilityCheck",
        ("POST", "/v1/cost-estimates"): "createCostEstimate",
        ("GET", "/v1/occupations"): "searchOccupations",
        ("GET", "/v1/occupations/{code}"): "getOccupation",
        ("GET", "/v1/rules"): "describeRules",
        ("GET", "/v1/rules/{rule_id}"): "getRule",
        ("GET", "/v1/rules/changes"): "listRuleChanges",
    }
    body = spec["components"]["schemas"]["EligibilityCheckRequest"]
    assert "cos_assignment_date" not in body.get("required", [])

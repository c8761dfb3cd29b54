"""Dated changes in the rules data (facts §2.4, §3.4, §3.6): what changes, on which date, from which
source; figures seen without a date are listed apart, never given one."""

from __future__ import annotations

from datetime import date

from httpx import AsyncClient

from app.rules import RuleBook
from app.rules.changes import rule_changes
from tests.support.problems import assert_problem
from tests.support.tenants import Tenant


def test_the_shortage_lists_close_to_cos_assigned_from_2027_01_01(book: RuleBook) -> None:
    found = rule_changes(book, date(2026, 12, 1), date(2027, 1, 31))
    closing = {(c.rule_id, c.kind, c.on) for c in found.data}
    assert closing == {
        ("shortage_lists.temporary_shortage_list.valid_until", "list_closes", date(2027, 1, 1)),
        ("shortage_lists.immigration_salary_list.valid_until", "list_closes", date(2027, 1, 1)),
    }
    tsl = next(c for c in found.data if "temporary" in c.rule_id)
    assert "Temporary Shortage List" in tsl.what and "2026-12-31" in tsl.what
    assert tsl.source.url.startswith("https://") and tsl.status == "confirmed"


def test_a_new_figure_is_a_change_from_the_old_one_on_its_first_day(book: RuleBook) -> None:
    found = rule_changes(book, date(2025, 12, 16), date(2025, 12, 16))
    small = next(c for c in found.data if c.rule_id == "isc.fee.first_period.small")
    assert (small.kind, small.before, small.after) == ("value_changes", "£364.00", "£480.00")
    assert {c.rule_id for c in found.data} == {
        "isc.fee.first_period.small",
        "isc.fee.further_period.small",
        "isc.fee.first_period.medium_large",
        "isc.fee.further_period.medium_large",
    }


def test_where_a_rules_data_begins_is_not_a_change(book: RuleBook) -> None:
    found = rule_changes(book, date(2020, 12, 1), date(2020, 12, 1))
    assert found.data == []


def test_a_figure_seen_without_a_date_is_listed_apart_with_no_date(book: RuleBook) -> None:
    found = rule_changes(book, date(2026, 1, 1), date(2026, 12, 31))
    undated = {u.rule_id: u for u in found.undated}
    small = undated["licence.fee.application.small"]
    assert (small.in_force, small.reported) == ("£574.00", "£611.00")
    assert small.status == "unconfirmed" and "Harveys" in small.source.title


async def test_rule_changes_over_http(client: AsyncClient, tenant: Tenant) -> None:
    viewer = tenant.headers("viewer")
    r = await client.get("/v1/rules/changes", params={"from": "2026-12-01", "to": "2027-01-31"}, headers=viewer)
    assert r.status_code == 200, r.text
    assert {c["on"] for c in r.json()["data"]} == {"2027-01-01"}
    assert r.json()["from"] == "2026-12-01" and r.json()["to"] == "2027-01-31"
    backwards = await client.get("/v1/rules/changes", params={"from": "2027-01-31", "to": "2026-12-01"}, headers=viewer)
    assert_problem(backwards, 422, "validation_error")
    # From today (2026-01-12 in the suite) when `from` is left out.
    today = await client.get("/v1/rules/changes", headers=viewer)
    assert today.json()["from"] == "2026-01-12" and today.json()["to"] is None

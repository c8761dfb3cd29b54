"""When deadlines fall due, against shared/domain/uk-sponsorship-facts.md (§1.2, §1.4, §2.2, §3.1, §4, §5,
§6). Expected dates are counted by hand from the facts file's bank-holiday tables, not by the code."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app.calendar import Nation
from app.deadlines.policy import (
    DEADLINE_KINDS,
    RTW_CHECK_BEFORE_START,
    Anchor,
    DeadlineSpec,
    UnknownDeadlineKind,
    compute,
    due_at,
    late_start_window_opens,
)
from app.obligations.policy import OBLIGATION_KINDS, SPONSOR_OBLIGATIONS, WORKER_OBLIGATIONS, obligation_due
from app.rules import RuleBook, ids, load_rulebook
from app.workflow.definitions import WORKFLOWS

EW, SCT, NI = Nation.england_and_wales, Nation.scotland, Nation.northern_ireland
D = date.fromisoformat


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return load_rulebook()


def one(kind: str, anchor: Anchor, book: RuleBook) -> DeadlineSpec:
    specs = compute(kind, anchor, book)
    assert len(specs) == 1, specs
    return specs[0]


# --- every kind the workflows arm or open has a policy ----------------------------------------------

# A case with every fact known, so each kind has what it counts from.
FULL = Anchor(
    today=D("2026-01-12"),
    nation=EW,
    start_date=D("2026-03-02"),
    cos_granted_on=D("2026-01-12"),
    cos_assigned_on=D("2026-01-12"),
    visa_applied_on=D("2026-01-12"),
    visa_service="standard",
    inside_uk=False,
    permission_start_date=D("2026-02-20"),
    permission_end_date=D("2029-03-02"),
    permission_notified_on=D("2026-02-10"),
    ended_on=D("2028-01-31"),
    absent_since=D("2026-01-12"),
    unpaid_leave=((D("2026-01-12"), None),),
    new_licence_needed=True,
)


def _armed_kinds() -> list[str]:
    return sorted({kind for wf in WORKFLOWS.values() for state in wf.states for kind in wf.deadlines_of(state.name)})


def _opened_obligations() -> list[str]:
    return sorted({a.opens_obligation for wf in WORKFLOWS.values() for a in wf.actions if a.opens_obligation})


@pytest.mark.parametrize("kind", _armed_kinds())
def test_every_kind_a_workflow_state_arms_has_a_policy(book: RuleBook, kind: str) -> None:
    assert kind in DEADLINE_KINDS
    specs = compute(kind, FULL, book)
    assert specs
    assert all(s.kind == kind and s.nation is EW and s.basis for s in specs)


def test_no_policy_is_left_without_a_state_arming_it() -> None:
    assert set(_armed_kinds()) == DEADLINE_KINDS


@pytest.mark.parametrize("kind", _opened_obligations())
def test_every_obligation_a_workflow_action_opens_has_a_reporting_window(book: RuleBook, kind: str) -> None:
    assert kind in OBLIGATION_KINDS
    assert obligation_due(kind, D("2026-01-12"), EW, book).due_on > D("2026-01-12")


def test_an_unknown_kind_is_refused_by_name(book: RuleBook) -> None:
    with pytest.raises(UnknownDeadlineKind, match="'visa_lottery'"):
        compute("visa_lottery", FULL, book)
    with pytest.raises(UnknownDeadlineKind, match="'visa_lottery'"):
        obligation_due("visa_lottery", D("2026-01-12"), EW, book)


def test_each_deadline_names_the_rule_that_set_it_and_its_source(book: RuleBook) -> None:
    specs = [s for kind in sorted(DEADLINE_KINDS) for s in compute(kind, FULL, book)]
    specs += [obligation_due(kind, D("2026-01-12"), EW, book) for kind in sorted(OBLIGATION_KINDS)]
    for spec in specs:
        assert spec.rule_source == book.entry(spec.rule_id, D("2026-01-12")).source, spec.kind


def test_the_rtw_check_before_start_rule_is_in_the_rule_book(book: RuleBook) -> None:
    assert RTW_CHECK_BEFORE_START in book.rule_ids()


# --- licence (facts §1.2, §1.4) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("anchor", "due", "rule_id"),
    [
        pytest.param(
            Anchor(today=D("2026-01-12"), nation=EW),
            "2026-03-09",
            ids.LICENCE_DECISION_STANDARD,
            id="standard: most decisions within 8 weeks",
        ),
        pytest.param(
            Anchor(today=D("2026-01-12"), nation=EW, licence_priority=True),
            "2026-01-26",
            ids.LICENCE_DECISION_PRIORITY,
            id="priority: considered within 10 working days",
        ),
    ],
)
def test_licence_decision(book: RuleBook, anchor: Anchor, due: str, rule_id: str) -> None:
    spec = one("licence_decision", anchor, book)
    assert (spec.due_on, spec.rule_id, spec.warn_on) == (D(due), rule_id, None)


@pytest.mark.parametrize(
    ("nation", "due"),
    [(EW, "2026-04-23"), (NI, "2026-04-23"), (SCT, "2026-04-22")],  # Easter Monday is not Scottish
)
def test_suspension_representations_20_working_days_across_easter(book: RuleBook, nation: Nation, due: str) -> None:
    spec = one("suspension_representations", Anchor(today=D("2026-03-24"), nation=nation), book)
    assert (spec.due_on, spec.rule_id) == (D(due), ids.LICENCE_SUSPENSION_REPRESENTATIONS)


def test_action_plan_lasts_3_calendar_months_clamped_to_month_end(book: RuleBook) -> None:
    spec = one("action_plan", Anchor(today=D("2025-11-30"), nation=EW), book)
    assert (spec.due_on, spec.rule_id) == (D("2026-02-28"), ids.LICENCE_ACTION_PLAN)
    assert spec.basis == "3 calendar months after the licence was downgraded to a B-rating on 2025-11-30"


# --- CoS (facts §2.2) -------------------------------------------------------------------------------


@pytest.mark.parametrize(("nation", "due"), [(EW, "2026-04-07"), (SCT, "2026-04-06")])
def test_defined_cos_decision_chased_the_next_working_day(book: RuleBook, nation: Nation, due: str) -> None:
    # Requested Thu 2 Apr 2026: Good Friday, then Easter Monday outside Scotland.
    spec = one("cos_decision_chase", Anchor(today=D("2026-04-02"), nation=nation), book)
    assert (spec.due_on, spec.rule_id) == (D(due), ids.COS_DEFINED_DECISION_CHASE)


@pytest.mark.parametrize(
    ("granted", "due"),
    [("2026-01-12", "2026-04-12"), ("2026-01-31", "2026-04-30"), ("2025-11-30", "2026-02-28")],
)
def test_defined_cos_must_be_assigned_within_3_months_of_grant(book: RuleBook, granted: str, due: str) -> None:
    spec = one("cos_assignment_window", Anchor(today=D("2026-02-02"), nation=EW, cos_granted_on=D(granted)), book)
    assert (spec.due_on, spec.rule_id) == (D(due), ids.COS_DEFINED_ASSIGNMENT_WINDOW)
    assert spec.basis == f"3 calendar months after the CoS was granted on {granted}"


def test_cos_grant_date_defaults_to_the_day_the_grant_is_recorded(book: RuleBook) -> None:
    spec = one("cos_assignment_window", Anchor(today=D("2026-01-31"), nation=EW), book)
    assert spec.due_on == D("2026-04-30")


def test_visa_application_due_within_3_months_of_cos_assignment(book: RuleBook) -> None:
    anchor = Anchor(today=D("2026-06-01"), nation=EW, cos_assigned_on=D("2026-05-31"))
    spec = one("visa_application_window", anchor, book)
    assert (spec.due_on, spec.rule_id) == (D("2026-08-31"), ids.COS_VISA_APPLICATION_WINDOW)


def test_visa_application_window_is_the_rule_in_force_on_the_assignment_date(tmp_path: Path) -> None:
    # A made-up change from 1 Apr 2026; a CoS assigned before it keeps the old window even when the
    # assignment is recorded after it. This also shows the figure comes from the book, not the code.
    (tmp_path / "change.yaml").write_text(
        """
rules:
  - id: cos.visa_application_window
    kind: duration
    value: {amount: 3, unit: calendar_months}
    effective_from: 2020-12-01
    effective_to: 2026-03-31
    status: confirmed
    source: {url: "https://example.org/old", title: old}
  - id: cos.visa_application_window
    kind: duration
    value: {amount: 6, unit: calendar_months}
    effective_from: 2026-04-01
    status: confirmed
    source: {url: "https://example.org/new", title: new}
""",
        encoding="utf-8",
    )
    changed = load_rulebook(tmp_path)
    before = Anchor(today=D("2026-04-10"), nation=EW, cos_assigned_on=D("2026-03-31"))
    after = replace(before, cos_assigned_on=D("2026-04-01"))
    assert one("visa_application_window", before, changed).due_on == D("2026-06-30")
    assert one("visa_application_window", after, changed).due_on == D("2026-10-01")
    assert one("visa_application_window", after, changed).rule_source.title == "new"


# --- visa (facts §3.1) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "inside_uk", "applied", "due", "rule_id"),
    [
        # visa.decision.standard.outside_uk: 3 weeks
        (None, False, "2026-01-12", "2026-02-02", ids.VISA_DECISION_STANDARD_OUTSIDE_UK),
        ("standard", False, "2026-01-12", "2026-02-02", ids.VISA_DECISION_STANDARD_OUTSIDE_UK),
        # visa.decision.standard.inside_uk: 8 weeks
        ("standard", True, "2026-01-12", "2026-03-09", ids.VISA_DECISION_STANDARD_INSIDE_UK),
        # visa.decision.priority: 5 working days, wherever the worker is; Easter skipped
        ("priority", True, "2026-04-02", "2026-04-13", ids.VISA_DECISION_PRIORITY),
        ("priority", None, "2026-04-02", "2026-04-13", ids.VISA_DECISION_PRIORITY),
        # visa.decision.super_priority: next working day, across Christmas and the Boxing Day substitute
        ("super_priority", False, "2026-12-24", "2026-12-29", ids.VISA_DECISION_SUPER_PRIORITY),
    ],
)
def test_visa_decision_expected_by_service_and_location(
    book: RuleBook, service: str | None, inside_uk: bool | None, applied: str, due: str, rule_id: str
) -> None:
    anchor = Anchor(today=D(applied), nation=EW, visa_service=service, inside_uk=inside_uk, visa_applied_on=D(applied))
    spec = one("visa_decision", anchor, book)
    assert (spec.due_on, spec.rule_id) == (D(due), rule_id)


def test_visa_decision_counts_from_the_application_date_not_the_day_it_was_recorded(book: RuleBook) -> None:
    anchor = Anchor(today=D("2026-01-14"), nation=EW, inside_uk=False, visa_applied_on=D("2026-01-12"))
    spec = one("visa_decision", anchor, book)
    assert spec.due_on == D("2026-02-02")
    assert spec.basis == "3 weeks after the visa application on 2026-01-12 (standard service, outside the UK)"


def test_standard_visa_decision_needs_the_workers_location(book: RuleBook) -> None:
    assert compute("visa_decision", Anchor(today=D("2026-01-12"), nation=EW), book) == []


def test_an_unknown_visa_service_is_an_error(book: RuleBook) -> None:
    with pytest.raises(ValueError, match="express"):
        compute("visa_decision", Anchor(today=D("2026-01-12"), nation=EW, visa_service="express"), book)


# --- right to work (facts §4) -----------------------------------------------------------------------


def test_rtw_check_due_the_day_before_the_first_day_of_work(book: RuleBook) -> None:
    spec = one("rtw_check_before_start", Anchor(today=D("2026-01-12"), nation=EW, start_date=D("2026-02-02")), book)
    assert spec.due_on == D("2026-02-01")
    assert spec.warn_on == D("2026-01-26")  # 5 working days before Mon 2 Feb
    assert spec.rule_id == RTW_CHECK_BEFORE_START


def test_rtw_check_warning_skips_bank_holidays(book: RuleBook) -> None:
    # Start Tue 29 Dec 2026: 28 Dec (substitute), 25 Dec and the weekend are not working days.
    spec = one("rtw_check_before_start", Anchor(today=D("2026-12-01"), nation=EW, start_date=D("2026-12-29")), book)
    assert (spec.due_on, spec.warn_on) == (D("2026-12-28"), D("2026-12-18"))


@pytest.mark.parametrize(("today", "warn"), [("2026-01-29", "2026-01-29"), ("2026-02-01", None)])
def test_rtw_check_warning_already_due_is_given_today_or_not_at_all(
    book: RuleBook, today: str, warn: str | None
) -> None:
    spec = one("rtw_check_before_start", Anchor(today=D(today), nation=EW, start_date=D("2026-02-02")), book)
    assert spec.warn_on == (D(warn) if warn else None)


def test_rtw_check_without_a_start_date_gives_no_deadline(book: RuleBook) -> None:
    assert compute("rtw_check_before_start", Anchor(today=D("2026-01-12"), nation=EW), book) == []


def test_rtw_follow_up_due_when_permission_ends_with_warnings_at_90_60_30_days(book: RuleBook) -> None:
    anchor = Anchor(today=D("2026-03-01"), nation=EW, permission_end_date=D("2027-06-30"))
    specs = compute("rtw_follow_up", anchor, book)
    assert [s.warn_on for s in specs] == [D("2027-04-01"), D("2027-05-01"), D("2027-05-31")]
    assert {s.due_on for s in specs} == {D("2027-06-30")}
    assert {s.rule_id for s in specs} == {ids.RTW_FOLLOW_UP_WARNINGS}
    assert specs[0].basis == "follow-up check before permission ends on 2027-06-30; warned 90 days before"


def test_rtw_follow_up_warnings_already_past_collapse_into_one_today(book: RuleBook) -> None:
    anchor = Anchor(today=D("2026-03-01"), nation=EW, permission_end_date=D("2026-04-15"))
    assert [s.warn_on for s in compute("rtw_follow_up", anchor, book)] == [D("2026-03-01"), D("2026-03-16")]
    late = replace(anchor, today=D("2026-04-15"))
    assert [(s.due_on, s.warn_on) for s in compute("rtw_follow_up", late, book)] == [(D("2026-04-15"), None)]


def test_rtw_follow_up_6_months_after_a_positive_verification_notice(book: RuleBook) -> None:
    anchor = Anchor(today=D("2026-03-12"), nation=EW, pvn_on=D("2026-03-10"), permission_end_date=D("2026-03-01"))
    specs = compute("rtw_follow_up", anchor, book)
    assert {(s.due_on, s.rule_id) for s in specs} == {(D("2026-09-10"), ids.RTW_PVN_FOLLOW_UP)}
    assert [s.warn_on for s in specs] == [D("2026-06-12"), D("2026-07-12"), D("2026-08-11")]


def test_no_rtw_follow_up_without_a_permission_end_date(book: RuleBook) -> None:
    # Settled status (List A): no follow-up check is ever due.
    assert compute("rtw_follow_up", Anchor(today=D("2026-03-01"), nation=EW), book) == []


# --- late start (facts §2.2) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "permission_start", "notified", "due"),
    [
        ("2026-02-02", "2026-01-20", "2026-01-15", "2026-03-02"),  # the CoS start date is latest
        ("2026-02-02", "2026-02-09", "2026-01-15", "2026-03-09"),  # permission starts later
        ("2026-02-02", "2026-01-20", "2026-02-16", "2026-03-16"),  # told of the grant later still
        (None, "2026-01-20", None, "2026-02-17"),  # only one date known
    ],
)
def test_late_start_28_calendar_days_after_the_latest_of_the_three_dates(
    book: RuleBook, start: str | None, permission_start: str, notified: str | None, due: str
) -> None:
    anchor = Anchor(
        today=D("2026-01-20"),
        nation=EW,
        start_date=D(start) if start else None,
        permission_start_date=D(permission_start),
        permission_notified_on=D(notified) if notified else None,
    )
    spec = one("late_start", anchor, book)
    assert (spec.due_on, spec.rule_id) == (D(due), ids.EMPLOYMENT_LATE_START_WINDOW)


def test_late_start_without_any_date_gives_no_deadline(book: RuleBook) -> None:
    anchor = Anchor(today=D("2026-01-20"), nation=EW)
    assert late_start_window_opens(anchor) is None
    assert compute("late_start", anchor, book) == []


# --- record keeping (facts §4) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ended", "today", "due"),
    [
        ("2026-02-28", "2026-03-20", "2028-02-28"),
        ("2028-02-29", "2028-03-20", "2030-02-28"),
        (None, "2026-05-05", "2028-05-05"),
    ],
)
def test_records_kept_2_years_after_employment_ends_or_the_case_closes(
    book: RuleBook, ended: str | None, today: str, due: str
) -> None:
    spec = one("record_retention", Anchor(today=D(today), nation=EW, ended_on=D(ended) if ended else None), book)
    assert (spec.due_on, spec.rule_id) == (D(due), ids.RECORDS_RETENTION)


# --- SMS reporting windows (facts §5, worked example §6) -------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "nation", "due"),
    [
        ("2025-11-21", EW, "2025-12-05"),
        ("2025-11-21", SCT, "2025-12-08"),  # St Andrew's Day substitute, Mon 1 Dec
        ("2025-11-21", NI, "2025-12-05"),
        ("2026-03-10", EW, "2026-03-24"),
        ("2026-03-10", SCT, "2026-03-24"),
        ("2026-03-10", NI, "2026-03-25"),  # St Patrick's Day
    ],
)
@pytest.mark.parametrize("kind", sorted(WORKER_OBLIGATIONS - {"late_start", "unauthorised_absence"}))
def test_worker_event_reported_within_10_working_days_of_the_nation(
    book: RuleBook, kind: str, trigger: str, nation: Nation, due: str
) -> None:
    spec = obligation_due(kind, D(trigger), nation, book)
    assert (spec.due_on, spec.rule_id, spec.nation, spec.warn_on) == (
        D(due),
        ids.REPORTING_WORKER_EVENT,
        nation,
        None,
    )


def test_worker_event_basis_names_the_nation_whose_holidays_were_skipped(book: RuleBook) -> None:
    spec = obligation_due("employment_end", D("2025-11-21"), SCT, book)
    assert spec.basis == "10 working days (Scotland) after employment ended on 2025-11-21"


@pytest.mark.parametrize(("nation", "due"), [(EW, "2025-12-19"), (NI, "2025-12-19"), (SCT, "2025-12-22")])
@pytest.mark.parametrize("kind", sorted(SPONSOR_OBLIGATIONS))
def test_sponsor_event_reported_within_20_working_days(book: RuleBook, kind: str, nation: Nation, due: str) -> None:
    spec = obligation_due(kind, D("2025-11-21"), nation, book)
    assert (spec.due_on, spec.rule_id) == (D(due), ids.REPORTING_SPONSOR_EVENT)


def test_change_of_sponsor_size_uses_20_working_days_and_says_the_sources_conflict(book: RuleBook) -> None:
    spec = obligation_due("size", D("2025-11-21"), EW, book)
    assert spec.due_on == D("2025-12-19")
    assert "conflict" in spec.basis
    assert "conflict" not in obligation_due("ownership", D("2025-11-21"), EW, book).basis


@pytest.mark.parametrize(
    ("opens", "nation", "due"),
    [
        ("2026-02-02", EW, "2026-03-16"),  # period ends Mon 2 Mar; 10 WD after it
        ("2026-02-10", EW, "2026-03-24"),  # period ends Tue 10 Mar (facts §6 worked example)
        ("2026-02-10", NI, "2026-03-25"),
    ],
)
def test_late_start_reported_10_working_days_after_the_28_day_period_ends(
    book: RuleBook, opens: str, nation: Nation, due: str
) -> None:
    spec = obligation_due("late_start", D(opens), nation, book)
    assert (spec.due_on, spec.rule_id) == (D(due), ids.REPORTING_WORKER_EVENT)


def test_late_start_report_follows_the_late_start_deadline(book: RuleBook) -> None:
    anchor = Anchor(today=D("2026-01-20"), nation=EW, start_date=D("2026-02-02"))
    period_end = one("late_start", anchor, book).due_on
    opens = late_start_window_opens(anchor)
    assert opens is not None
    report = obligation_due("late_start", opens, EW, book)
    assert report.basis == (
        "10 working days (England and Wales) after the late-start period of 28 calendar days from "
        f"2026-02-02 ended on {period_end.isoformat()}"
    )


@pytest.mark.parametrize(
    ("first_day", "nation", "due"),
    [
        ("2026-03-02", EW, "2026-03-27"),  # 10th working day of absence Fri 13 Mar
        ("2026-02-28", EW, "2026-03-27"),  # absence from a Saturday: day 1 is Mon 2 Mar
        ("2026-03-02", NI, "2026-03-30"),  # St Patrick's Day inside the reporting window
    ],
)
def test_unauthorised_absence_reported_10_working_days_after_the_10th_working_day_of_absence(
    book: RuleBook, first_day: str, nation: Nation, due: str
) -> None:
    spec = obligation_due("unauthorised_absence", D(first_day), nation, book)
    assert (spec.due_on, spec.rule_id) == (D(due), ids.REPORTING_WORKER_EVENT)
    assert f"the 10th working day of absence from {first_day} on 2026-03-13" in spec.basis


# --- due_at -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "instant"),
    [
        ("2026-01-12", datetime(2026, 1, 12, 23, 59, 59, tzinfo=UTC)),  # GMT
        ("2026-07-01", datetime(2026, 7, 1, 22, 59, 59, tzinfo=UTC)),  # BST
        ("2026-03-29", datetime(2026, 3, 29, 22, 59, 59, tzinfo=UTC)),  # clocks went forward that morning
        ("2026-10-25", datetime(2026, 10, 25, 23, 59, 59, tzinfo=UTC)),  # clocks went back that morning
    ],
)
def test_a_deadline_breaches_at_the_end_of_its_day_in_uk_time(day: str, instant: datetime) -> None:
    assert due_at(D(day)) == instant
    assert due_at(D(day)).tzinfo is UTC


def test_due_at_refuses_a_datetime() -> None:
    with pytest.raises(TypeError):
        due_at(datetime(2026, 1, 12, 9, 0, tzinfo=UTC))

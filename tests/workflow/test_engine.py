from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
import transitions
from hypothesis import given
from hypothesis import strategies as st

from app.errors import Reason
from app.workflow import (
    HIRE,
    LICENCE,
    WORKFLOWS,
    ActionNotAvailable,
    ActionRefused,
    Facts,
    GuardInput,
    Workflow,
    apply,
    available_actions,
    machine_for,
)
from tests.support.workflow_cases import GOOD_FACTS, GOOD_PAYLOAD, TODAY, Case, Licence, inputs, passing_case

HIRE_EDGES = [(a.name, source) for a in HIRE.actions for source in a.sources]
LICENCE_EDGES = [(a.name, source) for a in LICENCE.actions for source in a.sources]


def _declared(workflow: Workflow[Any]) -> set[tuple[str, str, str]]:
    return {(s, a.dest or s, a.name) for a in workflow.actions for s in a.sources}


@pytest.mark.parametrize(("action_name", "source"), HIRE_EDGES)
def test_every_hire_edge_fires_from_each_of_its_sources(action_name: str, source: str) -> None:
    action = HIRE.find_action(action_name)
    assert action is not None
    case = passing_case(action, source)

    applied = apply(HIRE, case, action_name, inputs(case), actor_is_system=action.system)

    dest = action.dest or source
    assert (applied.from_state, applied.to_state, case.state) == (source, dest, dest)
    # A kind both states may hold carries over (unless the action meets it): neither settled nor armed again.
    carried = (HIRE.deadlines_of(source) & HIRE.deadlines_of(dest)) - set(action.meets) if dest != source else set()
    if action.dest is None:
        assert applied.armed == action.arms
        assert set(applied.settled) <= set(action.meets)
    elif action.dest == source:
        assert applied.armed == HIRE.state(dest).arms
        assert set(applied.settled) == set(HIRE.state(source).arms)
    else:
        assert set(applied.armed) == set(HIRE.state(dest).arms) - carried
        assert set(applied.settled) == HIRE.deadlines_of(source) - carried


@pytest.mark.parametrize(("action_name", "source"), LICENCE_EDGES)
def test_every_licence_edge_fires_from_each_of_its_sources(action_name: str, source: str) -> None:
    action = LICENCE.find_action(action_name)
    assert action is not None
    licence = Licence(state=source)

    applied = apply(LICENCE, licence, action_name, GuardInput(subject=licence, facts=GOOD_FACTS))

    assert licence.state == applied.to_state == (action.dest or source)


@pytest.mark.parametrize(
    ("workflow", "action_name", "source", "to_state", "opens", "armed", "settled"),
    [
        (HIRE, "request_cos", "draft", "cos_requested", None, ("cos_decision_chase",), {}),
        (HIRE, "grant_cos", "cos_requested", "cos_granted", None, ("cos_assignment_window",),
         {"cos_decision_chase": "met"}),
        (HIRE, "assign_cos", "cos_granted", "cos_assigned", None, ("visa_application_window",),
         {"cos_assignment_window": "met"}),
        (HIRE, "assign_cos", "draft", "cos_assigned", None, ("visa_application_window",), {}),
        (HIRE, "submit_visa_application", "cos_assigned", "visa_applied", None, ("visa_decision",),
         {"visa_application_window": "met"}),
        (HIRE, "refuse_visa", "visa_applied", "refused", None, (), {"visa_decision": "met"}),
        (HIRE, "grant_visa", "visa_applied", "visa_granted", None, ("rtw_check_before_start", "late_start"),
         {"visa_decision": "met"}),
        (HIRE, "complete_rtw_check", "visa_granted", "rtw_verified", None, (),
         {"rtw_check_before_start": "met"}),
        (HIRE, "start_employment", "rtw_verified", "employed", None, ("rtw_follow_up",),
         {"late_start": "met"}),
        (HIRE, "record_no_show", "rtw_verified", "sponsorship_ended", "no_show", (),
         {"late_start": "cancelled"}),
        (HIRE, "end_sponsorship", "employed", "sponsorship_ended", "employment_end", (),
         {"absence_threshold": "cancelled", "rtw_follow_up": "cancelled", "unpaid_leave_threshold": "cancelled"}),
        (HIRE, "expire_cos", "cos_assigned", "expired", None, (), {"visa_application_window": "cancelled"}),
        (HIRE, "withdraw", "draft", "withdrawn", None, (), {}),
        (HIRE, "withdraw", "cos_requested", "withdrawn", None, (), {"cos_decision_chase": "cancelled"}),
        (HIRE, "withdraw", "cos_granted", "withdrawn", "cos_withdrawal", (),
         {"cos_assignment_window": "cancelled"}),
        (HIRE, "withdraw", "rtw_verified", "withdrawn", "cos_withdrawal", (), {"late_start": "cancelled"}),
        (HIRE, "close", "withdrawn", "closed", None, ("record_retention",), {}),
        (HIRE, "record_absence", "employed", "employed", "unauthorised_absence", ("absence_threshold",), {}),
        (HIRE, "record_return", "employed", "employed", "unauthorised_absence", (), {"absence_threshold": "met"}),
        (HIRE, "record_unpaid_leave", "employed", "employed", "unpaid_leave", ("unpaid_leave_threshold",),
         {"unpaid_leave_threshold": "met"}),
        (HIRE, "change_job", "employed", "employed", "job_change", (), {}),
        (HIRE, "record_rtw_follow_up", "employed", "employed", None, ("rtw_follow_up",),
         {"rtw_follow_up": "met"}),
        (LICENCE, "submit", "draft", "submitted", None, ("licence_decision", "supporting_documents"), {}),
        (LICENCE, "send_supporting_documents", "submitted", "submitted", None, (), {"supporting_documents": "met"}),
        (LICENCE, "grant", "submitted", "active", None, (),
         {"licence_decision": "met", "supporting_documents": "cancelled"}),
        (LICENCE, "receive_downgrade_notice", "active", "active", None, ("downgrade_representations",), {}),
        # A change of ownership in progress carries over a rating change.
        (LICENCE, "downgrade", "active", "b_rated", None, ("action_plan", "action_plan_fee_payment"),
         {"downgrade_representations": "cancelled"}),
        (LICENCE, "upgrade", "b_rated", "active", None, (),
         {"action_plan": "met", "action_plan_fee_payment": "cancelled"}),
        (LICENCE, "suspend", "b_rated", "suspended", None, ("suspension_representations",),
         {"action_plan": "cancelled", "action_plan_fee_payment": "cancelled", "new_licence_application": "cancelled"}),
        (LICENCE, "make_representations", "suspended", "suspended", None, (),
         {"suspension_representations": "met"}),
        (LICENCE, "reinstate_b_rated", "suspended", "b_rated", None, ("action_plan", "action_plan_fee_payment"),
         {"suspension_representations": "cancelled"}),
        (LICENCE, "revoke", "suspended", "revoked", None, ("cooling_off",),
         {"suspension_representations": "cancelled"}),
    ],
)  # fmt: skip
def test_effects_of_an_action(
    workflow: Workflow[Any],
    action_name: str,
    source: str,
    to_state: str,
    opens: str | None,
    armed: tuple[str, ...],
    settled: dict[str, str],
) -> None:
    action = workflow.find_action(action_name)
    assert action is not None
    subject = passing_case(action, source) if workflow is HIRE else Licence(state=source)
    guard_input = GuardInput(subject=subject, facts=GOOD_FACTS, payload=GOOD_PAYLOAD)

    applied = apply(workflow, subject, action_name, guard_input, actor_is_system=action.system)

    assert (applied.to_state, applied.opens_obligation, applied.armed, applied.settled) == (
        to_state,
        opens,
        armed,
        settled,
    )


@pytest.mark.parametrize(("new_salary", "opens"), [(Decimal("40000"), "salary_change"), (50000, None)])
def test_only_a_salary_cut_below_the_cos_salary_opens_an_obligation(
    new_salary: Decimal | int, opens: str | None
) -> None:
    case = Case(state="employed", salary=Decimal("45000"))
    payload = {**GOOD_PAYLOAD, "new_salary": new_salary}

    applied = apply(HIRE, case, "change_salary", inputs(case, payload=payload))

    assert (applied.to_state, applied.opens_obligation) == ("employed", opens)


def test_an_unknown_action_is_not_available_and_changes_nothing() -> None:
    case = Case(state="draft")
    before = replace(case)

    with pytest.raises(ActionNotAvailable) as raised:
        apply(HIRE, case, "approve_everything", inputs(case))

    assert raised.value.code == "unknown_action"
    assert case == before


def test_an_action_from_another_state_says_where_it_is_allowed() -> None:
    case = Case(state="draft")
    before = replace(case)

    with pytest.raises(ActionNotAvailable) as raised:
        apply(HIRE, case, "grant_visa", inputs(case))

    assert raised.value.code == "not_allowed_from_state"
    assert raised.value.allowed_from == ("visa_applied",)
    assert "allowed from: visa_applied" in raised.value.message
    assert case == before


def test_a_subject_in_an_undeclared_state_is_refused_and_unchanged() -> None:
    case = Case(state="limbo")

    with pytest.raises(ActionNotAvailable):
        apply(HIRE, case, "withdraw", inputs(case))

    assert case.state == "limbo"


@pytest.mark.parametrize("action_name", ["expire_cos", "licence_activated"])
def test_system_actions_are_refused_to_users(action_name: str) -> None:
    case = Case(state="cos_assigned" if action_name == "expire_cos" else "awaiting_licence")
    before = replace(case)

    with pytest.raises(ActionNotAvailable) as raised:
        apply(HIRE, case, action_name, inputs(case))

    assert raised.value.code == "system_only"
    assert case == before


def test_a_refusal_lists_every_reason_from_every_guard_and_changes_nothing() -> None:
    case = Case(state="draft", inside_uk=True, soc_code=None, salary=None)
    before = replace(case)
    ineligible = (Reason("below_rqf6", "SOC 7220 is below RQF 6."), Reason("salary_low", "Pay is too low."))
    facts = replace(
        GOOD_FACTS, licence_state="b_rated", eligibility_status="ineligible", eligibility_reasons=ineligible
    )

    with pytest.raises(ActionRefused) as raised:
        apply(HIRE, case, "request_cos", inputs(case, facts=facts))

    assert [r.code for r in raised.value.reasons] == [
        "licence_not_active",
        "below_rqf6",
        "salary_low",
        "missing_hire_detail",
        "missing_hire_detail",
        "defined_cos_needs_worker_outside_uk",
    ]
    assert [r.field for r in raised.value.reasons][3:5] == ["soc_code", "salary"]
    assert case == before


def test_payload_guards_refuse_with_every_missing_field() -> None:
    case = Case(state="visa_applied")

    with pytest.raises(ActionRefused) as raised:
        apply(HIRE, case, "grant_visa", inputs(case, payload={}))

    assert [(r.code, r.field) for r in raised.value.reasons] == [
        ("missing_field", "permission_start_date"),
        ("missing_field", "permission_end_date"),
    ]
    assert case.state == "visa_applied"


def test_guard_input_must_be_about_the_same_subject() -> None:
    case = Case()
    with pytest.raises(ValueError, match="must be the subject"):
        apply(HIRE, case, "withdraw", inputs(Case()))


def test_available_actions_for_a_draft_hire_outside_the_uk() -> None:
    case = Case(state="draft", inside_uk=False)

    listed = {a.name: a for a in available_actions(HIRE, case, GuardInput(subject=case, facts=GOOD_FACTS))}

    assert set(listed) == {"request_cos", "assign_cos", "withdraw"}
    assert listed["request_cos"].allowed
    assert listed["withdraw"].allowed  # its payload guard waits for the payload
    assert not listed["assign_cos"].allowed
    assert [r.code for r in listed["assign_cos"].reasons] == ["undefined_cos_needs_worker_inside_uk"]


def test_available_actions_show_system_actions_to_the_system_only() -> None:
    case = Case(state="awaiting_licence")
    guard_input = GuardInput(subject=case, facts=GOOD_FACTS)

    assert [a.name for a in available_actions(HIRE, case, guard_input)] == ["withdraw"]
    assert [a.name for a in available_actions(HIRE, case, guard_input, actor_is_system=True)] == [
        "licence_activated",
        "withdraw",
    ]


def test_available_actions_without_an_active_licence() -> None:
    case = Case(state="draft", inside_uk=True)
    facts = replace(GOOD_FACTS, licence_state="suspended", undefined_cos_remaining=0)

    listed = {a.name: a for a in available_actions(HIRE, case, GuardInput(subject=case, facts=facts))}

    assert [r.code for r in listed["assign_cos"].reasons] == ["licence_not_active", "no_undefined_cos_left"]
    assert "suspended" in listed["assign_cos"].reasons[0].message


def test_one_machine_per_workflow_however_many_subjects(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    original_init = transitions.Machine.__init__

    def counting_init(self: transitions.Machine, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(transitions.Machine, "__init__", counting_init)
    machine = machine_for(HIRE)

    for _ in range(300):
        case = Case(state="cos_assigned")
        apply(HIRE, case, "submit_visa_application", inputs(case))
        apply(HIRE, case, "grant_visa", inputs(case))

    assert built == []
    assert machine_for(HIRE) is machine
    assert machine.models == []  # nothing attached, nothing accumulates
    assert not hasattr(case, "trigger")  # and nothing bound onto the subject
    assert {machine_for(w) for w in WORKFLOWS.values()} == {machine_for(HIRE), machine_for(LICENCE)}


def test_an_unregistered_workflow_has_no_machine() -> None:
    copy = replace(HIRE)
    with pytest.raises(ValueError, match="not a registered"):
        machine_for(copy)


# --- random action sequences ---------------------------------------------------------------------

_payloads: st.SearchStrategy[Mapping[str, object]] = st.one_of(
    st.just(GOOD_PAYLOAD),
    st.just({}),
    st.sets(st.sampled_from(sorted(GOOD_PAYLOAD))).map(lambda keep: {k: GOOD_PAYLOAD[k] for k in keep}),
)
_facts = st.builds(
    Facts,
    today=st.just(TODAY),
    licence_state=st.sampled_from([None, "active", "b_rated", "suspended", "revoked"]),
    undefined_cos_remaining=st.sampled_from([None, 0, 3]),
    eligibility_status=st.sampled_from([None, "eligible", "ineligible"]),
    open_obligations=st.integers(0, 2),
)
_ALL_HIRE_ACTIONS = [a.name for a in HIRE.actions] + ["fly", "to_closed"]


@given(
    start=st.sampled_from([s.name for s in HIRE.states]),
    inside_uk=st.sampled_from([None, True, False]),
    data=st.data(),
)
def test_random_hire_sequences_move_only_along_declared_edges(
    start: str, inside_uk: bool | None, data: st.DataObject
) -> None:
    declared = _declared(HIRE)
    case = Case(state=start, inside_uk=inside_uk)
    for _ in range(data.draw(st.integers(0, 40), label="steps")):
        # Mostly actions declared from the current state, so that long runs get deep into the machine.
        from_here = [a.name for a in HIRE.actions_from(case.state)] or _ALL_HIRE_ACTIONS
        action_name = data.draw(
            st.one_of(st.sampled_from(from_here), st.sampled_from(_ALL_HIRE_ACTIONS)), label="action"
        )
        facts = data.draw(st.one_of(st.just(GOOD_FACTS), _facts), label="facts")
        payload = data.draw(_payloads, label="payload")
        actor_is_system = data.draw(st.booleans(), label="actor_is_system")
        before = replace(case)
        try:
            applied = apply(HIRE, case, action_name, inputs(case, facts, payload), actor_is_system)
        except ActionRefused as refused:
            assert refused.reasons
            assert case == before
        except ActionNotAvailable:
            assert case == before
        else:
            assert (before.state, applied.to_state, action_name) in declared
            assert (applied.from_state, case.state) == (before.state, applied.to_state)


@given(
    start=st.sampled_from([s.name for s in LICENCE.states]),
    steps=st.lists(st.sampled_from([a.name for a in LICENCE.actions] + ["renew"]), max_size=30),
)
def test_random_licence_sequences_move_only_along_declared_edges(start: str, steps: list[str]) -> None:
    declared = _declared(LICENCE)
    licence = Licence(state=start)
    for action_name in steps:
        before = licence.state
        try:
            applied = apply(LICENCE, licence, action_name, GuardInput(subject=licence, facts=GOOD_FACTS))
        except ActionNotAvailable:
            assert licence.state == before
        else:
            assert (before, applied.to_state, action_name) in declared
            assert licence.state == applied.to_state


def test_a_hire_runs_from_awaiting_licence_to_closed() -> None:
    case = Case(state="awaiting_licence", inside_uk=False)
    path = [
        ("licence_activated", True),
        ("request_cos", False),
        ("grant_cos", False),
        ("assign_cos", False),
        ("submit_visa_application", False),
        ("grant_visa", False),
        ("complete_rtw_check", False),
        ("start_employment", False),
        ("change_salary", False),
        ("end_sponsorship", False),
        ("close", False),
    ]
    states = [apply(HIRE, case, name, inputs(case), system).to_state for name, system in path]
    assert states == [
        "draft",
        "cos_requested",
        "cos_granted",
        "cos_assigned",
        "visa_applied",
        "visa_granted",
        "rtw_verified",
        "employed",
        "employed",
        "sponsorship_ended",
        "closed",
    ]

from __future__ import annotations

import json
from collections import deque
from typing import Any

import pytest

from app.workflow import HIRE, LICENCE, Action, State, Workflow, describe
from app.workflow.guards import COS_ISSUED_STATES, UNDEFINED_COS_STATE, Subject


def test_hire_states_and_actions_are_those_of_the_design() -> None:
    assert [s.name for s in HIRE.states] == [
        "awaiting_licence", "draft", "cos_requested", "cos_granted", "cos_assigned", "visa_applied",
        "visa_granted", "rtw_verified", "employed", "new_cos_assigned", "new_visa_applied",
        "sponsorship_ended", "closed", "withdrawn", "refused", "expired",
    ]  # fmt: skip
    design_actions = {
        "licence_activated", "request_cos", "grant_cos", "refuse_cos", "assign_cos",
        "submit_visa_application", "grant_visa", "refuse_visa", "complete_rtw_check",
        "start_employment", "end_sponsorship", "close", "withdraw", "expire_cos", "record_absence",
        "change_salary", "change_job", "change_work_location", "record_unpaid_leave",
    }  # fmt: skip
    added_here = {
        "record_no_show", "record_rtw_follow_up", "record_return", "record_permission_change",
        "record_suspected_breach", "assign_new_cos", "submit_new_visa_application", "abandon_new_cos",
        "grant_new_permission", "refuse_new_permission",
    }  # fmt: skip
    assert {a.name for a in HIRE.actions} == design_actions | added_here
    assert {a.name for a in HIRE.actions if a.system} == {"licence_activated", "expire_cos"}


def test_licence_states_and_actions() -> None:
    assert [s.name for s in LICENCE.states] == [
        "draft", "submitted", "active", "refused", "b_rated", "suspended", "revoked", "surrendered",
    ]  # fmt: skip
    assert {(a.name, a.dest) for a in LICENCE.actions} == {
        ("submit", "submitted"), ("grant", "active"), ("refuse", "refused"), ("downgrade", "b_rated"),
        ("upgrade", "active"), ("suspend", "suspended"), ("make_representations", None),
        ("reinstate", "active"), ("reinstate_b_rated", "b_rated"), ("revoke", "revoked"),
        ("surrender", "surrendered"), ("send_supporting_documents", None), ("receive_downgrade_notice", None),
        ("respond_to_downgrade_notice", None), ("pay_action_plan_fee", None),
        ("record_change_of_ownership", None), ("apply_for_new_licence", None),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("workflow", "arms"),
    [
        (
            HIRE,
            {
                "cos_requested": ("cos_decision_chase",),
                "cos_granted": ("cos_assignment_window",),
                "cos_assigned": ("visa_application_window",),
                "visa_applied": ("visa_decision",),
                "visa_granted": ("rtw_check_before_start", "late_start"),
                "rtw_verified": ("late_start",),
                "employed": ("rtw_follow_up",),
                "new_cos_assigned": ("visa_application_window", "rtw_follow_up"),
                "new_visa_applied": ("visa_decision", "rtw_follow_up"),
                "closed": ("record_retention",),
            },
        ),
        (
            LICENCE,
            {
                "submitted": ("licence_decision", "supporting_documents"),
                "b_rated": ("action_plan", "action_plan_fee_payment"),
                "suspended": ("suspension_representations",),
                "revoked": ("cooling_off",),
            },
        ),
    ],
    ids=["hire", "licence"],
)
def test_deadlines_armed_on_entering_each_state(workflow: Workflow[Any], arms: dict[str, tuple[str, ...]]) -> None:
    assert {s.name: s.arms for s in workflow.states if s.arms} == arms


def test_obligations_opened_by_actions() -> None:
    assert {a.name: a.opens_obligation for a in HIRE.actions if a.opens_obligation} == {
        "record_no_show": "no_show",
        "end_sponsorship": "employment_end",
        "withdraw": "cos_withdrawal",
        "record_absence": "unauthorised_absence",
        "record_return": "unauthorised_absence",
        "record_unpaid_leave": "unpaid_leave",
        "change_salary": "salary_change",
        "change_job": "job_change",
        "change_work_location": "work_location_change",
        "record_permission_change": "permission_change",
        "record_suspected_breach": "suspected_breach",
        "refuse_new_permission": "employment_end",
    }


@pytest.mark.parametrize("workflow", [HIRE, LICENCE], ids=lambda w: w.name)
def test_every_state_is_reachable_and_only_terminal_states_are_dead_ends(workflow: Workflow[Any]) -> None:
    seen = set(workflow.entry_states)
    queue = deque(seen)
    while queue:
        for action in workflow.actions_from(queue.popleft()):
            if action.dest is not None and action.dest not in seen:
                seen.add(action.dest)
                queue.append(action.dest)
    assert seen == {s.name for s in workflow.states}
    for state in workflow.states:
        leaves = any(a.dest not in (None, state.name) for a in workflow.actions_from(state.name))
        assert leaves != state.terminal, state.name


def test_the_states_guards_refer_to_exist() -> None:
    withdraw = HIRE.find_action("withdraw")
    assign = HIRE.find_action("assign_cos")
    assert withdraw is not None and assign is not None
    assert set(withdraw.sources) == {s.name for s in HIRE.states} & (
        {"awaiting_licence", "draft", "cos_requested"} | COS_ISSUED_STATES
    )
    assert UNDEFINED_COS_STATE in assign.sources


@pytest.mark.parametrize(
    ("states", "actions", "problem"),
    [
        ((State("a", ""),), (Action("go", "", ("a",), "nowhere"),), "unknown destination"),
        ((State("a", ""),), (Action("go", "", ("b",), "a"),), "unknown source"),
        ((State("a", "", terminal=True),), (Action("go", "", ("a",), None),), "leaves terminal"),
        ((State("a", ""),), (Action("go", "", ("a",), None, meets=("x",)),), "no source arms"),
        ((State("a", ""), State("a", "")), (), "duplicate state"),
        (
            (State("a", ""),),
            (Action("go", "", ("a",), None), Action("go", "", ("a",), None)),
            "duplicate action",
        ),
        ((State("a", ""),), (Action("go", "", (), "a"),), "no source states"),
    ],
)
def test_an_inconsistent_definition_is_refused(
    states: tuple[State, ...], actions: tuple[Action[Subject], ...], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        Workflow(name="broken", description="", states=states, initial="a", actions=actions)


def test_an_unknown_entry_state_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown entry state"):
        Workflow(name="broken", description="", states=(State("a", ""),), initial="b", actions=())


def test_describe_is_json_and_carries_guards_and_obligations() -> None:
    described = json.loads(json.dumps(describe(HIRE)))

    assert described["name"] == "hire"
    assert described["entry_states"] == ["awaiting_licence", "draft"]
    actions = {a["name"]: a for a in described["actions"]}
    assert [g["code"] for g in actions["assign_cos"]["guards"]] == [
        "licence_active",
        "eligible",
        "hire_details_complete",
        "cos_type_fits_location",
        "undefined_cos_left",
        "required_fields",
        "assigned_on_not_in_future",
        "assigned_on_after_cos_granted_on",
    ]
    assert actions["record_absence"]["arms"] == ["absence_threshold"]
    assert all(g["description"] for a in described["actions"] for g in a["guards"])
    assert actions["withdraw"]["opens_obligation"] == "cos_withdrawal"
    assert actions["withdraw"]["obligation_condition"]["code"] == "cos_issued"
    assert actions["record_absence"]["in_state"] is True
    assert actions["expire_cos"]["system"] is True
    states = {s["name"]: s for s in described["states"]}
    assert states["closed"] == {
        "name": "closed",
        "description": states["closed"]["description"],
        "terminal": True,
        "arms": ["record_retention"],
    }

"""Applies an action to a subject on the one shared `transitions` machine of its workflow.

Pure and synchronous: the engine moves `subject.state` and reports the effects (`Applied`); the service
persists them (deadlines armed and settled, obligation opened, audit and outbox rows) in its own
transaction. Machines are built once at import (engineering notes, trap 4) and subjects are never
attached to them: each action runs through the event's `trigger(subject)`, so nothing is bound onto
the subject and nothing accumulates on the machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from transitions import EventData, Machine

from app.errors import Reason
from app.workflow.definitions import WORKFLOWS, Action, Workflow
from app.workflow.guards import GuardInput, S_contra, evaluate

Settlement = Literal["met", "cancelled"]


class ActionNotAvailable(Exception):
    """The action does not exist, is the system's alone, or is not allowed from the current state.
    `code` is one of `unknown_action`, `system_only`, `not_allowed_from_state`."""

    def __init__(self, code: str, message: str, allowed_from: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.allowed_from = allowed_from


class ActionRefused(Exception):
    """Guards refused the action; `reasons` lists every one of them."""

    def __init__(self, action: str, reasons: list[Reason]) -> None:
        super().__init__(f"{action} refused: " + " ".join(r.message for r in reasons))
        self.action = action
        self.reasons = tuple(reasons)


@dataclass(frozen=True)
class Applied:
    """What happened, for the service to persist. `armed` lists deadline kinds to create (due dates
    are the caller's to compute); `settled` maps deadline kinds of the state left to their outcome."""

    action: str
    from_state: str
    to_state: str
    opens_obligation: str | None
    armed: tuple[str, ...]
    settled: dict[str, Settlement]


@dataclass(frozen=True)
class AvailableAction:
    name: str
    allowed: bool
    reasons: tuple[Reason, ...]


def _guards_condition(action: Action[Any]) -> Callable[[EventData], bool]:
    """The transition's single condition: run every guard (not just up to the first failure) and
    hand the reasons back through the trigger's keyword arguments."""

    def passes(event: EventData) -> bool:
        refusals: list[Reason] = event.kwargs["refusals"]
        refusals.extend(evaluate(action.guards, event.kwargs["guard_input"]))
        return not refusals

    return passes


def _build_machine(workflow: Workflow[Any]) -> Machine:
    machine = Machine(
        model=None,
        states=[state.name for state in workflow.states],
        initial=workflow.initial,
        auto_transitions=False,
        send_event=True,
        model_attribute="state",
        name=workflow.name,
    )
    for action in workflow.actions:
        condition = _guards_condition(action)
        for source in action.sources:
            # dest None makes transitions treat it as internal: no exit or enter.
            machine.add_transition(action.name, source, action.dest, conditions=[condition])
    return machine


_MACHINES: dict[str, Machine] = {name: _build_machine(workflow) for name, workflow in WORKFLOWS.items()}


def machine_for(workflow: Workflow[Any]) -> Machine:
    """The shared machine of a registered workflow."""
    if WORKFLOWS.get(workflow.name) is not workflow:
        raise ValueError(f"workflow {workflow.name!r} is not a registered definition")
    return _MACHINES[workflow.name]


def _settle(workflow: Workflow[Any], action: Action[Any], from_state: str) -> dict[str, Settlement]:
    if action.dest is None:
        return {kind: "met" for kind in action.meets if kind in workflow.deadlines_of(from_state)}
    if action.dest == from_state:
        left: Iterable[str] = workflow.state(from_state).arms
    else:
        left = workflow.deadlines_of(from_state) - _carried(workflow, action, from_state)
    return {kind: ("met" if kind in action.meets else "cancelled") for kind in sorted(left)}


def _carried(workflow: Workflow[Any], action: Action[Any], from_state: str) -> frozenset[str]:
    """Kinds both the state left and the state entered may hold stay open across the move, unless the
    action meets them (then they are settled, and armed afresh if the destination arms them)."""
    if action.dest is None or action.dest == from_state:
        return frozenset()
    return (workflow.deadlines_of(from_state) & workflow.deadlines_of(action.dest)) - frozenset(action.meets)


def _armed(workflow: Workflow[Any], action: Action[Any], from_state: str) -> tuple[str, ...]:
    if action.dest is None:
        return action.arms
    carried = _carried(workflow, action, from_state)
    return tuple(k for k in workflow.state(action.dest).arms if k not in carried)


def apply(
    workflow: Workflow[S_contra],
    subject: S_contra,
    action_name: str,
    guard_input: GuardInput[S_contra],
    actor_is_system: bool = False,
) -> Applied:
    """Fire `action_name` on `subject`, moving `subject.state` if every guard passes.

    Raises `ActionNotAvailable` or `ActionRefused`; in both cases the subject is left untouched.
    """
    if guard_input.subject is not subject:
        raise ValueError("guard_input.subject must be the subject the action is applied to")
    action = workflow.find_action(action_name)
    if action is None:
        known = ", ".join(a.name for a in workflow.actions)
        raise ActionNotAvailable(
            "unknown_action", f"There is no {workflow.name} action {action_name!r}; known actions: {known}."
        )
    if action.system and not actor_is_system:
        raise ActionNotAvailable("system_only", f"{action_name} is fired by the system only, never through a request.")
    from_state = subject.state
    if from_state not in action.sources:
        allowed = ", ".join(action.sources)
        raise ActionNotAvailable(
            "not_allowed_from_state",
            f"{action_name} is not allowed from state {from_state}; it is allowed from: {allowed}.",
            action.sources,
        )
    # Decided on the state before the move (e.g. whether a CoS had been issued when withdrawing).
    opens = action.opens_obligation
    if action.obligation_condition is not None and not action.obligation_condition.holds(guard_input):
        opens = None

    refusals: list[Reason] = []
    moved = machine_for(workflow).events[action_name].trigger(subject, guard_input=guard_input, refusals=refusals)
    if not moved:
        raise ActionRefused(action_name, refusals)
    return Applied(
        action=action_name,
        from_state=from_state,
        to_state=subject.state,
        opens_obligation=opens,
        armed=_armed(workflow, action, from_state),
        settled=_settle(workflow, action, from_state),
    )


def available_actions(
    workflow: Workflow[S_contra],
    subject: S_contra,
    guard_input: GuardInput[S_contra],
    actor_is_system: bool = False,
) -> list[AvailableAction]:
    """The actions allowed from the subject's current state, each with whether its guards pass now.
    Guards that need the action's payload are skipped: that payload does not exist yet."""
    if guard_input.subject is not subject:
        raise ValueError("guard_input.subject must be the subject the actions are listed for")
    listed = []
    for action in workflow.actions_from(subject.state):
        if action.system and not actor_is_system:
            continue
        reasons = evaluate(action.guards, guard_input, with_payload=False)
        listed.append(AvailableAction(action.name, not reasons, tuple(reasons)))
    return listed

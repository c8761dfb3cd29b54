"""Running a workflow action on a persisted case: shared by licences and hires.

The pure engine (app.workflow) moves the state and reports effects; this module turns its refusals into
problems and its outcome into audit events, inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from app.audit.schemas import Actor
from app.audit.service import SYSTEM, EventDraft
from app.calendar import Nation
from app.errors import FieldError, ProblemError, Reason
from app.rules.book import RuleBook
from app.workflow import ActionNotAvailable, ActionRefused, Applied, GuardInput, Workflow, apply, available_actions
from app.workflow.guards import Subject
from app.workflow.schemas import AvailableActionOut

S = TypeVar("S", bound=Subject)
UK = ZoneInfo("Europe/London")
#: Payload fields kept out of the audit trail: personal data that proves nothing about the action.
_NOT_AUDITED = frozenset({"share_code"})


@dataclass(frozen=True)
class Context:
    """Who acts for which organisation and when, with the rules in force: what every case use case
    needs besides its own input."""

    organisation_id: str
    actor: Actor
    now: datetime
    book: RuleBook
    sponsor_nation: Nation
    clock_id: str | None = None  # the organisation's sandbox test clock, if any

    @property
    def today(self) -> date:
        return uk_today(self.now)

    def as_system(self) -> Context:
        return replace(self, actor=SYSTEM)


def uk_today(now: datetime) -> date:
    """The date in the UK: the Home Office counts days there, whatever the server's zone."""
    return now.astimezone(UK).date()


def parse_payload(model: type[BaseModel], raw: dict[str, Any] | None) -> BaseModel:
    try:
        return model.model_validate(raw or {})
    except ValidationError as exc:
        raise ProblemError(
            422,
            "validation_error",
            "the action's payload does not match its schema",
            errors=[FieldError(loc=["body", *e["loc"]], message=e["msg"], type=e["type"]) for e in exc.errors()],
        ) from exc


def check_action_exists(workflow: Workflow[Any], action: str, *, by_system: bool = False) -> None:
    """Refuse before any I/O: an unknown action is 404, a system action fired by a person 403."""
    found = workflow.find_action(action)
    if found is None:
        names = ", ".join(a.name for a in workflow.actions if not a.system)
        raise ProblemError(404, "unknown_action", f"{workflow.name} has no action {action!r}; actions: {names}")
    if found.system and not by_system:
        raise ProblemError(403, "system_action", f"{action} is fired by sponsorflow itself, not through the API")


def run(workflow: Workflow[S], subject: S, action: str, guard_input: GuardInput[S], *, by_system: bool) -> Applied:
    try:
        return apply(workflow, subject, action, guard_input, actor_is_system=by_system)
    except ActionNotAvailable as exc:
        raise ProblemError(
            409,
            "action_not_available",
            exc.message,
            reasons=[Reason(exc.code, exc.message)],
        ) from exc
    except ActionRefused as exc:
        raise ProblemError(
            409,
            "action_refused",
            f"{action} was refused: see reasons",
            reasons=list(exc.reasons),
        ) from exc


def available(workflow: Workflow[S], subject: S, guard_input: GuardInput[S]) -> list[AvailableActionOut]:
    """The actions a person may take on the case now, each with the reasons it is refused (if it is)."""
    return [
        AvailableActionOut(name=a.name, allowed=a.allowed, reasons=list(a.reasons))
        for a in available_actions(workflow, subject, guard_input)
    ]


def transition_event(subject_type: str, subject_id: str, applied: Applied, payload: BaseModel | None) -> EventDraft:
    data = payload.model_dump(mode="json", exclude_none=True, exclude=set(_NOT_AUDITED)) if payload else {}
    changed = applied.from_state != applied.to_state
    return EventDraft(
        type=f"{subject_type}.state_changed" if changed else f"{subject_type}.action_recorded",
        subject_type=subject_type,
        subject_id=subject_id,
        action=applied.action,
        from_state=applied.from_state,
        to_state=applied.to_state,
        data=data,
    )

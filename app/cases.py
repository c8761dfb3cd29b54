"""Running a workflow action on a persisted case: shared by licences and hires.

The pure engine (app.workflow) moves the state and reports effects; this module turns its refusals into
problems, applies its effects (deadlines, obligations) and describes its audit event, inside the
caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import EventDraft
from app.calendar import Nation
from app.context import Context
from app.deadlines import service as deadlines
from app.deadlines.policy import Anchor
from app.errors import FieldError, ProblemError, Reason
from app.obligations import service as obligations
from app.workflow import ActionNotAvailable, ActionRefused, Applied, GuardInput, Workflow, apply, available_actions
from app.workflow.guards import Subject
from app.workflow.schemas import AvailableActionOut

S = TypeVar("S", bound=Subject)
#: Payload fields kept out of the audit trail: personal data that proves nothing about the action.
_NOT_AUDITED = frozenset({"share_code"})


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
    return [_action_view(a.name, a.allowed, a.reasons) for a in available_actions(workflow, subject, guard_input)]


@lru_cache(maxsize=4096)
def _action_view(name: str, allowed: bool, reasons: tuple[Reason, ...]) -> AvailableActionOut:
    # One (frozen) view per distinct answer, shared by every case that gets it: a page of fifty employed
    # cases lists some 550 actions, nearly all alike, and building each was a sixth of the page's CPU.
    return AvailableActionOut(name=name, allowed=allowed, reasons=list(reasons))


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


# --- effects: one applier for every workflow ----------------------------------------------------------


@dataclass(frozen=True)
class Reporting:
    """Where an SMS report an action opens counts from, in which nation's calendar, and what it records."""

    trigger_date: date
    nation: Nation
    hire_id: str | None
    details: dict[str, Any]


def arm(
    session: AsyncSession, ctx: Context, kinds: Sequence[str], *, subject_type: str, subject_id: str, anchor: Anchor
) -> None:
    deadlines.arm(
        session,
        kinds,
        anchor,
        ctx.book,
        organisation_id=ctx.organisation_id,
        clock_id=ctx.clock_id,
        subject_type=subject_type,
        subject_id=subject_id,
        now=ctx.now,
    )


async def apply_effects(
    session: AsyncSession,
    ctx: Context,
    applied: Applied,
    *,
    subject_type: str,
    subject_id: str,
    anchor: Anchor,
    reporting: Reporting | None = None,
) -> list[EventDraft]:
    """What the definition says a transition does: settle the deadlines it leaves, arm those it enters
    (counted from `anchor`), open the obligation it declares. Returns the events of what it opened."""
    if applied.settled:
        await deadlines.settle(session, subject_id, applied.settled, ctx.now)
    if applied.armed:
        arm(session, ctx, applied.armed, subject_type=subject_type, subject_id=subject_id, anchor=anchor)
    if applied.opens_obligation is None:
        return []
    if reporting is None:
        raise ValueError(f"{applied.action} opens an obligation, but the caller gave no reporting facts")
    _, opened = obligations.open_obligation(
        session,
        ctx,
        applied.opens_obligation,
        reporting.trigger_date,
        reporting.nation,
        hire_id=reporting.hire_id,
        details=reporting.details,
    )
    return [opened]

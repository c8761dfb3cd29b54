"""Which details a person may still correct in each phase, and re-arming the deadlines a correction feeds."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app import cases
from app.context import Context
from app.deadlines import service as deadlines
from app.errors import Conflict, Reason
from app.hires.anchors import ENTERED_ON, anchor_for, worker_nation
from app.hires.models import Hire
from app.hires.schemas import HireUpdate
from app.workflow import HIRE

# Details a person may correct in each phase; later changes go through actions that open SMS reports.
_PRE_COS_STATES = frozenset({"awaiting_licence", "draft"})
_IN_PROCESS_STATES = frozenset(
    {"cos_requested", "cos_granted", "cos_assigned", "visa_applied", "visa_granted", "rtw_verified"}
)
_ALWAYS_EDITABLE = frozenset({"email", "external_id"})
_IN_PROCESS_EDITABLE = _ALWAYS_EDITABLE | {"start_date", "date_of_birth", "nationality"}
#: The deadline kinds each editable date or flag feeds; a new work nation changes every calendar.
_REARMS = {"start_date": ("rtw_check_before_start", "late_start"), "inside_uk": ("visa_decision",)}
ANCHOR_FIELDS = frozenset(_REARMS) | {"work_nation"}


def check_editable(hire: Hire, changed: set[str]) -> None:
    locked = sorted(changed - editable(hire.state))
    if locked:
        raise Conflict(
            "fields_locked",
            f"in state {hire.state} these details can no longer be changed here: {', '.join(locked)}",
            reasons=[
                Reason(
                    code="field_locked",
                    message=f"{name} is fixed once the CoS is in process; "
                    "after employment starts use the change_* actions, which open SMS reports",
                    field=name,
                )
                for name in locked
            ],
        )


def editable(state: str) -> frozenset[str]:
    if state in _PRE_COS_STATES:
        return frozenset(HireUpdate.model_fields)
    return _IN_PROCESS_EDITABLE if state in _IN_PROCESS_STATES else _ALWAYS_EDITABLE


async def rearm(session: AsyncSession, ctx: Context, hire: Hire, changed: frozenset[str]) -> None:
    """A date or calendar a deadline counts by changed: recompute the current state's deadlines that
    read it, counted from the day the case entered the state. A kind that already breached stays
    breached and is not armed again."""
    armed = HIRE.state(hire.state).arms
    kinds = set(armed) if "work_nation" in changed else {k for f in changed for k in _REARMS.get(f, ()) if k in armed}
    kinds -= await deadlines.breached_kinds(session, hire.id, kinds)
    if kinds:
        await deadlines.settle(session, hire.id, dict.fromkeys(kinds, "cancelled"), ctx.now)
        entered = getattr(hire, ENTERED_ON.get(hire.state, ""), None) or ctx.today
        cases.arm(
            session,
            ctx,
            sorted(kinds),
            subject_type="hire",
            subject_id=hire.id,
            anchor=anchor_for(hire, entered, worker_nation(ctx, hire)),
        )

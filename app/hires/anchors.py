"""The dates a hire's deadlines and reports count from, and the calendar they count in."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from app.calendar import Nation
from app.context import Context
from app.deadlines.policy import Anchor
from app.hires import counting
from app.hires.models import Hire

#: The date the case entered each state, which its deadlines count from.
ENTERED_ON = {
    "cos_requested": "cos_requested_on",
    "cos_granted": "cos_granted_on",
    "cos_assigned": "cos_assigned_on",
    "visa_applied": "visa_applied_on",
    "visa_granted": "visa_granted_on",
    "employed": "actual_start_date",
}


def worker_nation(ctx: Context, hire: Hire) -> Nation:
    """Worker deadlines count the work location's bank holidays; until it is known, the sponsor's."""
    return Nation(hire.work_nation) if hire.work_nation else ctx.sponsor_nation


def anchor_for(hire: Hire, today: date, nation: Nation) -> Anchor:
    return Anchor(
        today=today,
        nation=nation,
        start_date=hire.start_date,
        cos_granted_on=hire.cos_granted_on,
        cos_assigned_on=hire.new_cos_assigned_on or hire.cos_assigned_on,
        visa_applied_on=hire.visa_applied_on,
        visa_service=hire.visa_service,
        inside_uk=True if hire.pending_cos else hire.inside_uk,  # a new CoS is applied on in the UK
        permission_start_date=hire.permission_start_date,
        permission_end_date=hire.permission_end_date,
        permission_notified_on=hire.visa_granted_on,
        ended_on=hire.ended_on,
        absent_since=hire.absent_since,
        unpaid_leave=counting.periods(hire.unpaid_leave),
    )


#: The payload date each reportable event counts from (facts §5.1); otherwise the day it is recorded.
#: Threshold-counted reports (absence, unpaid leave) count from the date `counting` finds instead.
_TRIGGER_FIELDS = ("ended_on", "withdrawn_on", "refused_on", "noticed_on", "effective_date")


def trigger_date(payload: BaseModel, today: date) -> date:
    for name in _TRIGGER_FIELDS:
        value = getattr(payload, name, None)
        if isinstance(value, date):
            return value
    return today

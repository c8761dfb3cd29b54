"""When each SMS report is due (facts §5): worker events within 10 working days, sponsor events within
20, counted from the day the reporting window opens, with the bank holidays of the nation that applies."""

from __future__ import annotations

from datetime import date, timedelta

from app.calendar import Nation
from app.deadlines.policy import DeadlineSpec, Period, UnknownDeadlineKind
from app.rules import ids
from app.rules.book import RuleBook
from app.rules.models import Duration

_WORKER_EVENTS = {
    "no_show": "the no-show",
    "late_start": "",  # special trigger, below
    "unauthorised_absence": "",  # special trigger, below
    "unpaid_leave": "the unpaid leave passed the yearly limit",
    "salary_change": "the salary cut",
    "job_change": "the job change",
    "work_location_change": "the work location change",
    "employment_end": "employment ended",
    "cos_withdrawal": "sponsorship was withdrawn",
    "permission_change": "the worker's permission changed",
    "suspected_breach": "the suspected breach came to light",
}
_SPONSOR_EVENTS = {
    "organisation_name": "the organisation name changed",
    "organisation_address": "the organisation address changed",
    "key_personnel": "the key personnel changed",
    "ownership": "the ownership changed",
    "trading": "the change in trading",
    "size": "the sponsor size changed",
}
WORKER_OBLIGATIONS: frozenset[str] = frozenset(_WORKER_EVENTS)
SPONSOR_OBLIGATIONS: frozenset[str] = frozenset(_SPONSOR_EVENTS)
OBLIGATION_KINDS: frozenset[str] = WORKER_OBLIGATIONS | SPONSOR_OBLIGATIONS


def obligation_due(kind: str, trigger_date: date, nation: Nation, book: RuleBook) -> DeadlineSpec:
    """When an SMS report of `kind` is due. `nation` is the worker's work nation for worker events and
    the sponsor's main-address nation for sponsor events.

    `trigger_date` is the date of the event, except for the two kinds whose reporting window opens
    later (facts §5.1); for those pass the date the situation began and this function finds the day
    the window opens:
      - `late_start`: the date the late-start period counts from (`late_start_window_opens`, the
        date the `late_start` deadline counts from, not its due date); the worker-event window runs
        from the day that period ends;
      - `unauthorised_absence`: the first day of absence; the worker-event window runs from the day
        the absence reaches the threshold (the 10th working day of absence today), counting the first
        day of absence as day 1 when it is a working day.
    `unpaid_leave`: pass the day the year's unpaid leave passed the limit (`unpaid_leave_passing_days`
    in `app.deadlines.policy`, over the leave the case records).
    """
    if kind in _SPONSOR_EVENTS:
        period = Period.of(book, ids.REPORTING_SPONSOR_EVENT, trigger_date)
        # The sources disagree on a change of size (facts §5.2, O5); the data's default is kept, and said.
        note = (
            "; the sources conflict on this event's window, the sponsor-event window is used" if kind == "size" else ""
        )
        return period.spec(kind, trigger_date, nation, _SPONSOR_EVENTS[kind], note=note)
    if kind == "suspected_breach":
        # facts §5.1 W12: "as soon as reasonably practicable" (Reiss Edwards) vs 10 working days (Bates
        # Wells): the worker-event window is kept, and the obligation is flagged urgent.
        report = Period.of(book, ids.REPORTING_WORKER_EVENT, trigger_date)
        note = "; urgent: the sources conflict, one says as soon as reasonably practicable"
        return report.spec(kind, trigger_date, nation, _WORKER_EVENTS[kind], note=note)
    if kind not in _WORKER_EVENTS:
        raise UnknownDeadlineKind(f"no obligation policy for {kind!r}; known: {', '.join(sorted(OBLIGATION_KINDS))}")
    if kind == "late_start":
        window = Period.of(book, ids.EMPLOYMENT_LATE_START_WINDOW, trigger_date)
        opens = window.duration.after(trigger_date, nation)
        event = f"the late-start period of {window.duration} from {trigger_date.isoformat()} ended"
    elif kind == "unauthorised_absence":
        threshold = Period.of(book, ids.ABSENCE_UNAUTHORISED_THRESHOLD, trigger_date)
        # Counted from the day before, so a first day of absence that is a working day is day 1.
        opens = threshold.duration.after(trigger_date - timedelta(days=1), nation)
        event = f"the {_ordinal(threshold.duration)} of absence from {trigger_date.isoformat()}"
    else:
        opens, event = trigger_date, _WORKER_EVENTS[kind]
    report = Period.of(book, ids.REPORTING_WORKER_EVENT, opens)
    return report.spec(kind, opens, nation, event)


def _ordinal(period: Duration) -> str:
    # "10th working day": the threshold named as the day it is reached, from the rule's own figure.
    n = period.amount
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    unit = period.unit.value.replace("_", " ").removesuffix("s")
    return f"{n}{suffix} {unit}"

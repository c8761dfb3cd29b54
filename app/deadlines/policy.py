"""When each deadline falls due (design §3): pure date arithmetic over the rule book and the calendar.

    specs = compute("cos_assignment_window", Anchor(today=..., nation=..., cos_granted_on=...), book)
    for spec in specs:                     # usually one; `rtw_follow_up` gives one per warning
        create_deadline(spec.kind, due_at(spec.due_on), spec.warn_on and due_at(spec.warn_on), ...)

No database, clock or network: the caller fills an `Anchor` with the case's facts at the moment a state
arms the deadline. Every period comes from the `RuleBook`; this module only knows which rule applies and
which date it counts from. A rule is looked up on the date its period counts from, which is the date the
law keys it on (the CoS assignment date for the visa application window, the application date for the
visa decision); in the ordinary flow that is the action's date.

Deadlines are dates ("by the end of that day"); `due_at` turns one into the UTC instant at which it
breaches. Day 1 of a working-day period is the first working day after the trigger (`app.calendar`).

An empty list from `compute` is an answer, not an error: the date the deadline counts from is not
known, and by law there is nothing to time. E.g. `rtw_follow_up` for a worker with no permission end
date (settled status: no follow-up check is needed). The caller skips the kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.calendar import DurationUnit, Nation, add_duration, is_working_day
from app.rules import Duration, RuleBook, Source, VisaService, ids

UK_TIME = ZoneInfo("Europe/London")  # every UK nation keeps the same clock

RTW_CHECK_BEFORE_START = ids.RTW_CHECK_BEFORE_START


@dataclass(frozen=True)
class Anchor:
    """The facts a deadline counts from, as they stand when a state arms it.

    `today` is the date of the action that arms the deadline (the trigger date). `nation` is the
    calendar that counts working days: the worker's work nation for worker deadlines, the sponsor's
    main-address nation for licence and sponsor deadlines (the caller picks).

    An event date left None for the event the arming action itself records (the CoS grant, the CoS
    assignment, the visa application, the close of the case) is taken to be `today`, so a forgotten field
    cannot silently drop a CoS expiry. Other dates have no such default: without them the deadline is
    not computed (see the module docstring).
    """

    today: date
    nation: Nation
    start_date: date | None = None
    """Planned first day of work (the CoS start date, as amended by a sponsor note)."""
    cos_granted_on: date | None = None
    cos_assigned_on: date | None = None
    visa_applied_on: date | None = None
    """The date UKVI's clock starts: biometrics if known, else the application date."""
    visa_service: str | None = None
    """standard | priority | super_priority; None means standard (no priority service bought)."""
    inside_uk: bool | None = None
    permission_start_date: date | None = None
    permission_end_date: date | None = None
    """None when the worker has permanent permission (List A): no follow-up check is due."""
    permission_notified_on: date | None = None
    """The date the worker was told of the grant (recorded with `grant_visa`)."""
    pvn_on: date | None = None
    """The date of a Positive Verification Notice when the right to work rests on one (List B group 2)."""
    ended_on: date | None = None
    licence_priority: bool = False
    """The pre-licence priority service was bought."""
    new_licence_needed: bool = False
    """A change of ownership the sponsor recorded needs a new licence application."""
    absent_since: date | None = None
    """First day of an unauthorised absence with no return recorded."""
    unpaid_leave: tuple[tuple[date, date | None], ...] = ()
    """Unpaid leave recorded, (first day, last day or None while it goes on)."""


@dataclass(frozen=True)
class DeadlineSpec:
    """One deadline to create: due by the end of `due_on`, warned at the end of `warn_on` (if any)."""

    kind: str
    due_on: date
    warn_on: date | None
    rule_id: str
    rule_source: Source
    nation: Nation
    basis: str
    """Why this date, in one sentence a person can check: "3 calendar months after the CoS was granted
    on 2026-01-12"."""


class UnknownDeadlineKind(ValueError):
    """A kind no policy covers: a workflow state arms it, but nobody said when it falls due."""


def due_at(due_on: date) -> datetime:
    """The instant a date's deadline breaches: 23:59:59 UK time that day, in UTC. Use it for warnings
    too. One second before midnight (not midnight) keeps the instant on the date it names."""
    if isinstance(due_on, datetime):  # a datetime is a date subclass; its time would be dropped silently
        raise TypeError("pass a date, not a datetime")
    return datetime.combine(due_on, time(23, 59, 59), tzinfo=UK_TIME).astimezone(UTC)


# --- helpers ------------------------------------------------------------------------------------------

_NATION_NAMES = {
    Nation.england_and_wales: "England and Wales",
    Nation.scotland: "Scotland",
    Nation.northern_ireland: "Northern Ireland",
}


def _describe(period: Duration, nation: Nation) -> str:
    # Only working days depend on the nation; naming it lets a reader recount the bank holidays.
    if period.unit is DurationUnit.working_days:
        return f"{period} ({_NATION_NAMES[Nation(nation)]})"
    return str(period)


def _before(period: Duration, d: date, nation: Nation) -> date:
    """`d` less `period`: the calendar only counts working days forwards, so step back here."""
    if period.unit is DurationUnit.working_days:
        remaining = period.amount
        while remaining:
            d -= timedelta(days=1)
            if is_working_day(d, nation):
                remaining -= 1
        return d
    return add_duration(d, -period.amount, period.unit, nation)


def _warnings(candidates: Iterable[date], today: date, due_on: date) -> list[date | None]:
    """Warning dates worth storing, earliest first. A warning already past when the deadline is armed
    becomes a warning today (the reader still needs it); one on or after the due date is no warning.
    At least one entry (None) so the deadline itself is never lost."""
    kept = sorted({max(d, today) for d in candidates if max(d, today) < due_on})
    return [*kept] if kept else [None]


@dataclass(frozen=True)
class Period:
    """A duration rule and its entry (for the source), looked up together."""

    rule_id: str
    duration: Duration
    source: Source

    @classmethod
    def of(cls, book: RuleBook, rule_id: str, on: date) -> Period:
        return cls(rule_id, book.duration(rule_id, on), book.entry(rule_id, on).source)

    def spec(
        self,
        kind: str,
        start: date,
        nation: Nation,
        event: str,
        *,
        note: str = "",
    ) -> DeadlineSpec:
        """A deadline with no warning: no rule sets a warning for these periods yet."""
        due_on = self.duration.after(start, nation)
        basis = f"{_describe(self.duration, nation)} after {event} on {start.isoformat()}{note}"
        return DeadlineSpec(kind, due_on, None, self.rule_id, self.source, nation, basis)


def _latest(*dates: date | None) -> date | None:
    known = [d for d in dates if d is not None]
    return max(known) if known else None


# --- deadline kinds armed by workflow states ------------------------------------------------------------


def _licence_decision(a: Anchor, book: RuleBook) -> list[DeadlineSpec]:
    rule_id, service = (
        (ids.LICENCE_DECISION_PRIORITY, "pre-licence priority service")
        if a.licence_priority
        else (ids.LICENCE_DECISION_STANDARD, "standard service")
    )
    period = Period.of(book, rule_id, a.today)
    event = "the licence application was submitted"
    return [period.spec("licence_decision", a.today, a.nation, event, note=f" ({service})")]


def _from_the_action(kind: str, rule_id: str, event: str) -> Callable[[Anchor, RuleBook], list[DeadlineSpec]]:
    """A licence period counted from the day of the action that arms it (the anchor's `today`)."""

    def policy(a: Anchor, book: RuleBook) -> list[DeadlineSpec]:
        return [Period.of(book, rule_id, a.today).spec(kind, a.today, a.nation, event)]

    return policy


_LICENCE_PERIODS = {
    "suspension_representations": (ids.LICENCE_SUSPENSION_REPRESENTATIONS, "the licence was suspended"),
    "supporting_documents": (ids.LICENCE_SUPPORTING_DOCUMENTS, "the licence application was submitted"),
    "downgrade_representations": (ids.LICENCE_DOWNGRADE_REPRESENTATIONS, "the notice of a downgrade"),
    "action_plan": (ids.LICENCE_ACTION_PLAN, "the licence was downgraded to a B-rating"),
    "action_plan_fee_payment": (ids.LICENCE_ACTION_PLAN_FEE_PAYMENT, "the licence was downgraded to a B-rating"),
    # Not a duty: the day after it is the first on which a new licence application can be made.
    "cooling_off": (ids.LICENCE_COOLING_OFF_AFTER_REVOCATION, "the licence was revoked"),
}


def cooling_off_ends(revoked_on: date, nation: Nation, book: RuleBook) -> date:
    """The last day of the cooling-off period after a revocation: no new application until after it."""
    return book.duration(ids.LICENCE_COOLING_OFF_AFTER_REVOCATION, revoked_on).after(revoked_on, nation)


def _new_licence_application(a: Anchor, book: RuleBook) -> list[DeadlineSpec]:
    if not a.new_licence_needed:
        return []
    period = Period.of(book, ids.LICENCE_NEW_APPLICATION_AFTER_OWNERSHIP_CHANGE, a.today)
    return [period.spec("new_licence_application", a.today, a.nation, "the change of ownership")]


def allocation_year_end(
    year_end: date, today: date, remaining: int, granted: int, nation: Nation, book: RuleBook
) -> list[DeadlineSpec]:
    """The undefined-CoS allocation year's last day, warned ahead: CoS unassigned then lapse."""
    rule_id = ids.COS_ALLOCATION_YEAR_END_WARNINGS
    offsets = book.day_offsets(rule_id, today)
    warnings = _warnings((year_end - timedelta(days=n) for n in offsets), today, year_end)
    basis = (
        f"the allocation year ends on {year_end.isoformat()}: undefined CoS still unassigned then lapse "
        f"({remaining} of {granted} unassigned on {today.isoformat()}); assign them, or request the next "
        "year's allocation"
    )
    source = book.entry(rule_id, today).source
    return [DeadlineSpec("allocation_year_end", year_end, w, rule_id, source, nation, basis) for w in warnings]


def _cos_decision_chase(a: Anchor, book: RuleBook) -> list[DeadlineSpec]:
    # UKVI publishes no SLA: passing this date means "chase UKVI", not a breach of the sponsor's duty.
    period = Period.of(book, ids.COS_DEFINED_DECISION_CHASE, a.today)
    return [period.spec("cos_decision_chase", a.today, a.nation, "the defined CoS was requested")]


def _cos_assignment_window(a: Anchor, book: RuleBook) -> list[DeadlineSpec]:
    granted = a.cos_granted_on or a.today
    period = Period.of(book, ids.COS_DEFINED_ASSIGNMENT_WINDOW, granted)
    return [period.spec("cos_assignment_window", granted, a.nation, "the CoS was granted")]


def _visa_application_window(a: Anchor, book: RuleBook) -> list[DeadlineSpec]:
    assigned = a.cos_assigned_on or a.today
    period = Period.of(book, ids.COS_VISA_APPLICATION_WINDOW, assigned)
    spec = period.spec("visa_application_window", assigned, a.nation, "the CoS was assigned")
    ends = a.permission_end_date
    if ends is not None and ends < spec.due_on:
        # A worker already holding permission (a new CoS) must apply while it lasts.
        return [replace(spec, due_on=ends, basis=f"{spec.basis}, but the current permission ends on {ends}")]
    return [spec]


def _visa_decision(a: Anchor, book: RuleBook) -> list[DeadlineSpec]:
    applied = a.visa_applied_on or a.today
    service = VisaService(a.visa_service or VisaService.standard)
    if service is VisaService.priority:
        rule_id, note = ids.VISA_DECISION_PRIORITY, " (priority service)"
    elif service is VisaService.super_priority:
        rule_id, note = ids.VISA_DECISION_SUPER_PRIORITY, " (super priority service)"
    elif a.inside_uk is None:
        return []  # the standard service differs by location, and the location is not recorded
    elif a.inside_uk:
        rule_id, note = ids.VISA_DECISION_STANDARD_INSIDE_UK, " (standard service, inside the UK)"
    else:
        rule_id, note = ids.VISA_DECISION_STANDARD_OUTSIDE_UK, " (standard service, outside the UK)"
    period = Period.of(book, rule_id, applied)
    return [period.spec("visa_decision", applied, a.nation, "the visa application", note=note)]


def _rtw_check_before_start(a: Anchor, book: RuleBook) -> list[DeadlineSpec]:
    if a.start_date is None:
        return []
    # The check must be done before employment starts: by the end of the day before the first day.
    lead = book.duration(ids.RTW_CHECK_BEFORE_START, a.today)
    warning = book.duration(ids.RTW_CHECK_BEFORE_START_WARNING, a.today)
    due_on = _before(lead, a.start_date, a.nation)
    warn = _before(warning, a.start_date, a.nation)
    basis = (
        f"the day before the first day of work on {a.start_date.isoformat()}; warned "
        f"{_describe(warning, a.nation)} before it"
    )
    return [
        DeadlineSpec(
            "rtw_check_before_start",
            due_on,
            warn_on,
            RTW_CHECK_BEFORE_START,
            book.entry(RTW_CHECK_BEFORE_START, a.today).source,
            a.nation,
            basis,
        )
        for warn_on in _warnings([warn], a.today, due_on)
    ]


def late_start_window_opens(anchor: Anchor) -> date | None:
    """The date the 28-day late-start period counts from: the latest of the CoS start date, the
    permission start date and the date the worker was told of the grant (facts §2.2). None when none
    is known. Also the trigger date of a `late_start` obligation."""
    return _latest(anchor.start_date, anchor.permission_start_date, anchor.permission_notified_on)


def _late_start(a: Anchor, book: RuleBook) -> list[DeadlineSpec]:
    # Unknown dates are left out of "the latest of": that can only make the deadline earlier (safer).
    opens = late_start_window_opens(a)
    if opens is None:
        return []
    period = Period.of(book, ids.EMPLOYMENT_LATE_START_WINDOW, opens)
    note = " (the latest of the CoS start date, the permission start date and the grant notification)"
    return [period.spec("late_start", opens, a.nation, "the late-start period opened", note=note)]


# --- thresholds the sponsor must watch (facts §5.1 W3, W4) ---------------------------------------------


def _threshold(book: RuleBook, on: date) -> Duration:
    return book.duration(ids.ABSENCE_UNAUTHORISED_THRESHOLD, on)


def absence_working_days(start: date, end: date, nation: Nation) -> int:
    """Working days of absence from `start` to `end`, both included."""
    days, d = 0, start
    while d <= end:
        days += is_working_day(d, nation)
        d += timedelta(days=1)
    return days


def absence_passes_threshold(start: date, end: date, nation: Nation, book: RuleBook) -> bool:
    """More than the threshold's consecutive working days of unauthorised absence (reportable)."""
    return absence_working_days(start, end, nation) > _threshold(book, start).amount


def absence_watch_due(start: date, nation: Nation, book: RuleBook) -> date:
    """The first working day on which an absence that began on `start` is past the threshold (the 11th
    working day of absence; `start` is day 1 when it is a working day). A worker still absent at its end,
    with no return recorded, has been absent for more than the threshold."""
    threshold = _threshold(book, start)
    return add_duration(start - timedelta(days=1), threshold.amount + 1, threshold.unit, nation)


def _absence_threshold(a: Anchor, book: RuleBook) -> list[DeadlineSpec]:
    if a.absent_since is None:
        return []  # the absence's last day is known: it is counted when recorded, no watch is needed
    due_on = absence_watch_due(a.absent_since, a.nation, book)
    if due_on <= a.today:
        return []  # already past: the recording action reports it at once
    period = Period.of(book, ids.ABSENCE_UNAUTHORISED_THRESHOLD, a.absent_since)
    basis = (
        f"the first working day past {_describe(period.duration, a.nation)} of unauthorised absence from "
        f"{a.absent_since.isoformat()}: still absent then with no return recorded, it is reportable"
    )
    return [DeadlineSpec("absence_threshold", due_on, None, period.rule_id, period.source, a.nation, basis)]


def unpaid_leave_passing_days(periods: Sequence[tuple[date, date | None]], limit: Duration) -> dict[int, date]:
    """For each calendar year whose recorded unpaid leave passes `limit` in total, the day it does (the
    first day of leave beyond it). Leave with no last day is taken to go on, through the next year at most."""
    allowed = _days(limit)
    days: set[date] = set()
    for start, end in periods:
        last = end or date(start.year + 1, 12, 31)
        days.update(start + timedelta(days=n) for n in range((last - start).days + 1))
    passing: dict[int, date] = {}
    taken: dict[int, int] = {}
    for day in sorted(days):
        taken[day.year] = taken.get(day.year, 0) + 1
        if taken[day.year] == allowed + 1:
            passing[day.year] = day
    return passing


def _days(period: Duration) -> int:
    if period.unit is DurationUnit.calendar_days:
        return period.amount
    if period.unit is DurationUnit.weeks:
        return 7 * period.amount
    raise ValueError(f"{period} is not a whole number of days")


def _unpaid_leave_threshold(a: Anchor, book: RuleBook) -> list[DeadlineSpec]:
    # A year that passed the limit by today was reported by the recording action; watch the next one.
    limit = book.duration(ids.ABSENCE_UNPAID_LEAVE_THRESHOLD, a.today)
    ahead = [d for d in unpaid_leave_passing_days(a.unpaid_leave, limit).values() if d > a.today]
    if not ahead:
        return []
    passes = min(ahead)
    period = Period.of(book, ids.ABSENCE_UNPAID_LEAVE_THRESHOLD, passes)
    basis = (
        f"the day the calendar year's unpaid leave passes {period.duration} if the leave recorded as ongoing "
        "goes on: still on leave then with no last day recorded, it is reportable"
    )
    return [DeadlineSpec("unpaid_leave_threshold", passes, None, period.rule_id, period.source, a.nation, basis)]


def breach_trigger(kind: str, anchor: Anchor, due_on: date) -> date | None:
    """The date a report opened by this kind's breach counts from (see `obligation_due`): the late-start
    period's first day, the first day of absence, or the day the year's unpaid leave passed the limit."""
    if kind == "late_start":
        return late_start_window_opens(anchor)
    if kind == "absence_threshold":
        return anchor.absent_since
    if kind == "unpaid_leave_threshold":
        return due_on
    raise UnknownDeadlineKind(f"a breach of {kind!r} opens no report")


# --- a dated rule change ahead of a case (armed by the hire domain, not by a state) -------------------

RULE_CHANGE = "rule_change"


def rule_change(
    last_day: date, today: date, nation: Nation, rule_id: str, source: Source, basis: str, book: RuleBook
) -> list[DeadlineSpec]:
    """The `rule_change` deadline: due at the end of the last day to act before a change, warned the
    rule's calendar days ahead (one spec per warning, as for `rtw_follow_up`)."""
    offsets = book.day_offsets(ids.RULE_CHANGE_WARNINGS, today)
    warnings = _warnings((last_day - timedelta(days=n) for n in offsets), today, last_day)
    return [DeadlineSpec(RULE_CHANGE, last_day, w, rule_id, source, nation, basis) for w in warnings]


def _rtw_follow_up(a: Anchor, book: RuleBook) -> list[DeadlineSpec]:
    if a.pvn_on is not None:
        # A PVN replaces the permission end date as the limit of the statutory excuse: the permission
        # recorded has usually ended already, while the application or appeal is pending.
        period = Period.of(book, ids.RTW_PVN_FOLLOW_UP, a.pvn_on)
        due_on = period.duration.after(a.pvn_on, a.nation)
        rule_id, source = period.rule_id, period.source
        basis = (
            f"{_describe(period.duration, a.nation)} after the Positive Verification Notice of {a.pvn_on.isoformat()}"
        )
    elif a.permission_end_date is not None:
        due_on = a.permission_end_date
        rule_id = ids.RTW_FOLLOW_UP_WARNINGS
        source = book.entry(rule_id, a.today).source
        basis = f"follow-up check before permission ends on {due_on.isoformat()}"
    else:
        return []  # permanent permission: no follow-up check is ever due
    offsets = book.day_offsets(ids.RTW_FOLLOW_UP_WARNINGS, a.today)
    warnings = _warnings((due_on - timedelta(days=n) for n in offsets), a.today, due_on)
    return [
        DeadlineSpec(
            "rtw_follow_up",
            due_on,
            warn_on,
            rule_id,
            source,
            a.nation,
            basis if warn_on is None else f"{basis}; warned {(due_on - warn_on).days} days before",
        )
        for warn_on in warnings
    ]


def _record_retention(a: Anchor, book: RuleBook) -> list[DeadlineSpec]:
    start, event = (a.ended_on, "employment ended") if a.ended_on else (a.today, "the case closed")
    period = Period.of(book, ids.RECORDS_RETENTION, start)
    return [period.spec("record_retention", start, a.nation, event)]


_POLICIES: dict[str, Callable[[Anchor, RuleBook], list[DeadlineSpec]]] = {
    "licence_decision": _licence_decision,
    **{kind: _from_the_action(kind, rule_id, event) for kind, (rule_id, event) in _LICENCE_PERIODS.items()},
    "new_licence_application": _new_licence_application,
    "cos_decision_chase": _cos_decision_chase,
    "cos_assignment_window": _cos_assignment_window,
    "visa_application_window": _visa_application_window,
    "visa_decision": _visa_decision,
    "rtw_check_before_start": _rtw_check_before_start,
    "late_start": _late_start,
    "rtw_follow_up": _rtw_follow_up,
    "record_retention": _record_retention,
    "absence_threshold": _absence_threshold,
    "unpaid_leave_threshold": _unpaid_leave_threshold,
}

DEADLINE_KINDS: frozenset[str] = frozenset(_POLICIES)


def compute(kind: str, anchor: Anchor, book: RuleBook) -> list[DeadlineSpec]:
    """The deadlines of `kind` for a case whose facts are `anchor`.

    Usually one spec; `rtw_follow_up` gives one per warning (same due date, one warning each), so a
    deadline row keeps its single `warn_at`. An empty list means the date the deadline counts from is
    unknown and there is nothing to time (see the module docstring): skip the kind.

    Raises `UnknownDeadlineKind` for a kind with no policy, `RuleNotFound` when the rule book has no
    window covering the date looked up.
    """
    policy = _POLICIES.get(kind)
    if policy is None:
        raise UnknownDeadlineKind(f"no deadline policy for {kind!r}; known: {', '.join(sorted(_POLICIES))}")
    return policy(anchor, book)

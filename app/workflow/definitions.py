"""The two state machines as data (design §2): the engine runs them, the API serves them, the docs draw
them. Change a workflow here and the machine, `GET /v1/workflows` and the diagrams follow.

Deadlines: a state `arms` deadline kinds when a subject enters it (the caller computes each due date);
an in-state action may arm kinds too (a watch on an absence), which then belong to its state. When the
subject leaves the state, the state's deadlines are settled: `met` if the action lists the kind in
`meets`, `cancelled` otherwise, except a kind the destination arms as well, which carries over open (the
late-start period runs from the visa grant through the right-to-work check). An in-state action
settles only the kinds it `meets`, then arms its own. A self-transition (`dest` equal to the source)
leaves and re-enters: it settles the deadlines the state arms on entry and arms them afresh. Settlement
applies to deadlines still pending or warned; a breached one stays breached.

Breaches: `on_breach` says what a deadline kind's breach does besides being recorded — fire a system
action on the subject, or open an SMS reporting obligation. The scheduler only reports that a row
breached; the owning domain reads this and acts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic

from app.workflow.guards import (
    ABSENCE_END,
    ABSENCE_OPEN,
    ABSENCE_START,
    ACTUAL_START,
    APPLICATION_DATE,
    APPLIED_IN_TIME,
    ASSIGNED_ON,
    COS_ISSUED,
    COS_REFERENCE,
    COS_TYPE_FITS_LOCATION,
    DESCRIPTION,
    EFFECTIVE_DATE,
    ELIGIBLE,
    ENDED_ON,
    GRANTED_ON,
    HIRE_DETAILS_COMPLETE,
    LEAVE_END,
    LEAVE_START,
    LICENCE_ACTIVE,
    NEW_COS_FITS_PURPOSE,
    NEW_PERMISSION_END,
    NEW_SALARY,
    NO_OPEN_ABSENCE,
    NO_OPEN_OBLIGATIONS,
    NOTICED_ON,
    PERMISSION_DATES_IN_ORDER,
    PERMISSION_END,
    PERMISSION_START,
    REASON,
    REFUSED_ON,
    REQUESTED_ON,
    RTW_CHECK_BEFORE_START,
    RTW_CHECK_DATE,
    SALARY_REDUCED,
    START_WITHIN_PERMISSION,
    THRESHOLD_PASSED,
    UNDEFINED_COS_LEFT,
    VISA_GRANTED_ON,
    WITHDRAWN_ON,
    WORKER_OUTSIDE_UK,
    Condition,
    Guard,
    HireSubject,
    S_contra,
    Subject,
    end_not_before_start,
    not_in_future,
    on_or_after,
    required,
)


@dataclass(frozen=True)
class State:
    name: str
    description: str
    terminal: bool = False
    arms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action(Generic[S_contra]):
    """A trigger. `system` actions are fired by the service only (never through a user's request).
    The obligation opens whenever the action fires, or only when `obligation_condition` holds."""

    name: str
    description: str
    sources: tuple[str, ...]
    dest: str | None
    system: bool = False
    guards: tuple[Guard[S_contra], ...] = ()
    opens_obligation: str | None = None
    obligation_condition: Condition[S_contra] | None = None
    meets: tuple[str, ...] = ()
    arms: tuple[str, ...] = ()

    @property
    def in_state(self) -> bool:
        return self.dest is None

    @property
    def reads(self) -> frozenset[str]:
        """The facts its guards read."""
        return frozenset().union(*(guard.reads for guard in self.guards))


@dataclass(frozen=True)
class Breach:
    """What a deadline kind's breach does to its subject: fire a system action, or open an obligation."""

    fires: str | None = None
    opens_obligation: str | None = None


@dataclass(frozen=True)
class Workflow(Generic[S_contra]):
    """States and actions, checked for consistency on construction. New subjects start in `initial`,
    or in one of `also_created_in` when the service knows better (a hire created under an already
    active licence starts in `draft`)."""

    name: str
    description: str
    states: tuple[State, ...]
    initial: str
    actions: tuple[Action[S_contra], ...]
    also_created_in: tuple[str, ...] = ()
    on_breach: dict[str, Breach] = field(default_factory=dict)
    _states: dict[str, State] = field(init=False, repr=False, compare=False)
    _actions: dict[str, Action[S_contra]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # frozen: the lookups are derived once, here.
        object.__setattr__(self, "_states", {s.name: s for s in self.states})
        object.__setattr__(self, "_actions", {a.name: a for a in self.actions})
        problems = self._problems()
        if problems:
            raise ValueError(f"workflow {self.name!r} is inconsistent: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        problems = []
        if len(self._states) != len(self.states):
            problems.append("duplicate state names")
        if len(self._actions) != len(self.actions):
            problems.append("duplicate action names")
        problems += [f"unknown entry state {s!r}" for s in self.entry_states if s not in self._states]
        for action in self.actions:
            if not action.sources:
                problems.append(f"{action.name}: no source states")
            for source in action.sources:
                if source not in self._states:
                    problems.append(f"{action.name}: unknown source {source!r}")
                elif self._states[source].terminal:
                    problems.append(f"{action.name}: leaves terminal state {source!r}")
            if action.dest is not None and action.dest not in self._states:
                problems.append(f"{action.name}: unknown destination {action.dest!r}")
            armed = {kind for s in action.sources if s in self._states for kind in self.deadlines_of(s)}
            problems += [f"{action.name}: meets {k!r}, which no source arms" for k in action.meets if k not in armed]
            if action.obligation_condition is not None and action.opens_obligation is None:
                problems.append(f"{action.name}: an obligation condition without an obligation")
            if action.arms and not action.in_state:
                problems.append(f"{action.name}: only an in-state action arms deadlines (states arm on entry)")
        armed_anywhere = {kind for s in self.states for kind in self.deadlines_of(s.name)}
        for kind, breach in self.on_breach.items():
            if kind not in armed_anywhere:
                problems.append(f"on_breach: no state arms {kind!r}")
            if (breach.fires is None) == (breach.opens_obligation is None):
                problems.append(f"on_breach {kind!r}: fire an action or open an obligation, exactly one")
            fired = self._actions.get(breach.fires) if breach.fires else None
            if breach.fires is not None and (fired is None or not fired.system):
                problems.append(f"on_breach {kind!r}: {breach.fires!r} is not a system action")
        return problems

    def deadlines_of(self, state: str) -> frozenset[str]:
        """Every kind a subject in `state` may have open: armed on entry, or by its in-state actions."""
        armed = set(self._states[state].arms) if state in self._states else set()
        armed.update(k for a in self.actions if a.in_state and state in a.sources for k in a.arms)
        return frozenset(armed)

    @property
    def entry_states(self) -> tuple[str, ...]:
        return (self.initial, *self.also_created_in)

    def state(self, name: str) -> State:
        return self._states[name]

    def find_action(self, name: str) -> Action[S_contra] | None:
        return self._actions.get(name)

    def breach_of(self, kind: str) -> Breach | None:
        return self.on_breach.get(kind)

    def actions_from(self, state: str) -> tuple[Action[S_contra], ...]:
        return tuple(a for a in self.actions if state in a.sources)

    def reads_in(self, state: str) -> frozenset[str]:
        """The facts a subject's available actions read in `state` (what a view of it needs)."""
        return frozenset().union(*(a.reads for a in self.actions_from(state) if not a.system))

    def reads_for(self, action: Action[S_contra]) -> frozenset[str]:
        """The facts firing `action` reads, and those its result's available actions read."""
        after = action.sources if action.dest is None else (action.dest,)
        return action.reads.union(*(self.reads_in(state) for state in after))


def describe(workflow: Workflow[Any]) -> dict[str, Any]:
    """The definition as JSON-able data, for `GET /v1/workflows` and the generated docs."""
    return {
        "name": workflow.name,
        "description": workflow.description,
        "initial": workflow.initial,
        "entry_states": list(workflow.entry_states),
        "states": [
            {"name": s.name, "description": s.description, "terminal": s.terminal, "arms": list(s.arms)}
            for s in workflow.states
        ],
        "actions": [
            {
                "name": a.name,
                "description": a.description,
                "sources": list(a.sources),
                "dest": a.dest,
                "in_state": a.in_state,
                "system": a.system,
                "guards": [
                    {"code": g.code, "description": g.description, "needs_payload": g.needs_payload} for g in a.guards
                ],
                "opens_obligation": a.opens_obligation,
                "obligation_condition": (
                    None
                    if a.obligation_condition is None
                    else {
                        "code": a.obligation_condition.code,
                        "description": a.obligation_condition.description,
                    }
                ),
                "meets": list(a.meets),
                "arms": list(a.arms),
            }
            for a in workflow.actions
        ],
        "on_breach": {
            kind: {"fires": b.fires, "opens_obligation": b.opens_obligation} for kind, b in workflow.on_breach.items()
        },
    }


# --- sponsor licence (design §2.1) ---------------------------------------------------------------

LICENCE: Workflow[Subject] = Workflow(
    name="licence",
    description="The organisation's sponsor licence, from application to revocation or surrender.",
    initial="draft",
    states=(
        State("draft", "Licence application being prepared."),
        State(
            "submitted",
            "Application submitted; UKVI decision awaited, the supporting documents due within 5 working days.",
            arms=("licence_decision", "supporting_documents"),
        ),
        State("active", "Licence granted and A-rated: CoS may be requested and assigned."),
        State("refused", "Application refused.", terminal=True),
        State(
            "b_rated",
            "Downgraded to B: no CoS for new workers until an action plan restores the A-rating; the action "
            "plan fee is due within 10 working days.",
            arms=("action_plan", "action_plan_fee_payment"),
        ),
        State(
            "suspended",
            "Suspended pending investigation: no new CoS; representations due.",
            arms=("suspension_representations",),
        ),
        State(
            "revoked",
            "Licence revoked: sponsorship ends for every worker; no new application until the cooling-off ends.",
            terminal=True,
            arms=("cooling_off",),
        ),
        State("surrendered", "Licence surrendered: sponsorship ends for every worker.", terminal=True),
    ),
    actions=(
        Action("submit", "Submit the licence application.", ("draft",), "submitted"),
        Action(
            "send_supporting_documents",
            "Record that the submission sheet and supporting documents were sent.",
            ("submitted",),
            None,
            meets=("supporting_documents",),
        ),
        Action(
            "grant",
            "Record that UKVI granted the licence (A-rated).",
            ("submitted",),
            "active",
            meets=("licence_decision",),
        ),
        Action(
            "refuse",
            "Record that UKVI refused the application.",
            ("submitted",),
            "refused",
            meets=("licence_decision",),
        ),
        Action(
            "receive_downgrade_notice",
            "Record the Home Office's written notice of a downgrade: 20 working days to respond.",
            ("active",),
            None,
            arms=("downgrade_representations",),
        ),
        Action(
            "respond_to_downgrade_notice",
            "Record that the response to the downgrade notice was sent.",
            ("active",),
            None,
            meets=("downgrade_representations",),
        ),
        Action("downgrade", "Record a downgrade to a B-rating.", ("active",), "b_rated"),
        Action(
            "pay_action_plan_fee",
            "Record that the action plan fee was paid.",
            ("b_rated",),
            None,
            meets=("action_plan_fee_payment",),
        ),
        Action(
            "upgrade",
            "Record that the action plan restored the A-rating.",
            ("b_rated",),
            "active",
            meets=("action_plan",),
        ),
        Action("suspend", "Record a suspension of the licence.", ("active", "b_rated"), "suspended"),
        Action(
            "make_representations",
            "Record that representations against the suspension were sent.",
            ("suspended",),
            None,
            meets=("suspension_representations",),
        ),
        Action("reinstate", "Record reinstatement with an A-rating.", ("suspended",), "active"),
        Action(
            "reinstate_b_rated",
            "Record reinstatement with a B-rating and an action plan.",
            ("suspended",),
            "b_rated",
        ),
        Action(
            "revoke",
            "Record revocation (after suspension, or directly for the gravest breaches).",
            ("active", "b_rated", "suspended"),
            "revoked",
        ),
        Action("surrender", "Surrender the licence.", ("active", "b_rated"), "surrendered"),
        Action(
            "record_change_of_ownership",
            "Record a change of ownership, merger or takeover: reported within 20 working days, and a new "
            "licence applied for in that time when the change needs one.",
            ("active", "b_rated"),
            None,
            opens_obligation="ownership",
            arms=("new_licence_application",),
        ),
        Action(
            "apply_for_new_licence",
            "Record the new licence application a change of ownership needs.",
            ("active", "b_rated"),
            None,
            meets=("new_licence_application",),
        ),
    ),
)


# --- hire case (design §2.2) ---------------------------------------------------------------------

#: Employment runs in these states: the worker's reportable events can happen in any of them.
_EMPLOYED = ("employed", "new_cos_assigned", "new_visa_applied")

_PRE_EMPLOYMENT = (
    "awaiting_licence",
    "draft",
    "cos_requested",
    "cos_granted",
    "cos_assigned",
    "visa_applied",
    "visa_granted",
    "rtw_verified",
)

# The step each decision follows, for the checks that dates come in order.
_REQUESTED = ("cos_requested_on", "the CoS request date")
_APPLIED = ("visa_applied_on", "the visa application date")
#: A grant records permission dates in order, dated no earlier than the application.
_GRANTED_PERMISSION = (
    required(PERMISSION_START, PERMISSION_END),
    PERMISSION_DATES_IN_ORDER,
    not_in_future(VISA_GRANTED_ON),
    on_or_after(VISA_GRANTED_ON, *_APPLIED),
)

HIRE: Workflow[HireSubject] = Workflow(
    name="hire",
    description="One sponsored hire: CoS, visa, right to work, then SMS reporting until it closes.",
    initial="awaiting_licence",
    also_created_in=("draft",),
    states=(
        State("awaiting_licence", "The organisation has no active sponsor licence yet."),
        State("draft", "Details being completed; eligibility is computed on every change."),
        State(
            "cos_requested",
            "A defined CoS has been applied for (worker outside the UK); UKVI decision awaited.",
            arms=("cos_decision_chase",),
        ),
        State(
            "cos_granted",
            "Defined CoS granted, not yet assigned; it expires 3 months after grant.",
            arms=("cos_assignment_window",),
        ),
        State(
            "cos_assigned",
            "CoS assigned to the worker; the visa application must follow within 3 months.",
            arms=("visa_application_window",),
        ),
        State("visa_applied", "Visa application made; decision awaited.", arms=("visa_decision",)),
        State(
            "visa_granted",
            "Permission granted; the right-to-work check is due before the first day of work, and the "
            "28-day late-start period runs.",
            arms=("rtw_check_before_start", "late_start"),
        ),
        State(
            "rtw_verified",
            "Right-to-work check recorded; waiting for the worker to start (28-day late-start rule).",
            arms=("late_start",),
        ),
        State(
            "employed",
            "Sponsored employment running: reportable events open SMS obligations.",
            arms=("rtw_follow_up",),
        ),
        State(
            "new_cos_assigned",
            "Still employed, with a new CoS assigned (an extension, or a change of employment into another SOC "
            "code): the in-country application is due within 3 months and before the current permission ends.",
            arms=("visa_application_window", "rtw_follow_up"),
        ),
        State(
            "new_visa_applied",
            "Still employed, the in-country application on the new CoS made; decision awaited (the current "
            "permission continues while it is pending).",
            arms=("visa_decision", "rtw_follow_up"),
        ),
        State("sponsorship_ended", "Employment ended or sponsorship stopped; the report of it is due."),
        State(
            "closed",
            "Every obligation met; records kept until the retention date.",
            terminal=True,
            arms=("record_retention",),
        ),
        State("withdrawn", "Ended before employment: the offer or sponsorship was withdrawn."),
        State("refused", "Ended before employment: UKVI refused the CoS or the visa."),
        State("expired", "Ended before employment: the CoS was not used in time."),
    ),
    actions=(
        Action(
            "licence_activated",
            "The organisation's licence became active (fired by the licence workflow).",
            ("awaiting_licence",),
            "draft",
            system=True,
        ),
        Action(
            "request_cos",
            "Apply for a defined CoS for a worker outside the UK.",
            ("draft",),
            "cos_requested",
            guards=(LICENCE_ACTIVE, ELIGIBLE, HIRE_DETAILS_COMPLETE, WORKER_OUTSIDE_UK, not_in_future(REQUESTED_ON)),
        ),
        Action(
            "grant_cos",
            "Record that UKVI granted the defined CoS.",
            ("cos_requested",),
            "cos_granted",
            guards=(LICENCE_ACTIVE, not_in_future(GRANTED_ON), on_or_after(GRANTED_ON, *_REQUESTED)),
            meets=("cos_decision_chase",),
        ),
        Action(
            "refuse_cos",
            "Record that UKVI refused the defined CoS.",
            ("cos_requested",),
            "refused",
            guards=(not_in_future(REFUSED_ON), on_or_after(REFUSED_ON, *_REQUESTED)),
            meets=("cos_decision_chase",),
        ),
        Action(
            "assign_cos",
            "Assign the granted defined CoS, or an undefined CoS from the allocation to a worker in the UK.",
            ("cos_granted", "draft"),
            "cos_assigned",
            guards=(
                LICENCE_ACTIVE,
                ELIGIBLE,
                HIRE_DETAILS_COMPLETE,
                COS_TYPE_FITS_LOCATION,
                UNDEFINED_COS_LEFT,
                required(COS_REFERENCE),
                not_in_future(ASSIGNED_ON),
                on_or_after(ASSIGNED_ON, "cos_granted_on", "the CoS grant date"),
            ),
            meets=("cos_assignment_window",),
        ),
        Action(
            "submit_visa_application",
            "Record the worker's visa application.",
            ("cos_assigned",),
            "visa_applied",
            guards=(
                required(APPLICATION_DATE),
                not_in_future(APPLICATION_DATE),
                on_or_after(APPLICATION_DATE, "cos_assigned_on", "the CoS assignment date"),
            ),
            meets=("visa_application_window",),
        ),
        Action(
            "grant_visa",
            "Record the visa grant and the permission dates.",
            ("visa_applied",),
            "visa_granted",
            guards=_GRANTED_PERMISSION,
            meets=("visa_decision",),
        ),
        Action(
            "refuse_visa",
            "Record that the visa was refused.",
            ("visa_applied",),
            "refused",
            guards=(not_in_future(REFUSED_ON), on_or_after(REFUSED_ON, *_APPLIED)),
            meets=("visa_decision",),
        ),
        Action(
            "complete_rtw_check",
            "Record the right-to-work check.",
            ("visa_granted",),
            "rtw_verified",
            guards=(required(RTW_CHECK_DATE), RTW_CHECK_BEFORE_START, not_in_future(RTW_CHECK_DATE)),
            meets=("rtw_check_before_start",),
        ),
        Action(
            "start_employment",
            "Confirm the worker started work.",
            ("rtw_verified",),
            "employed",
            guards=(required(ACTUAL_START), START_WITHIN_PERMISSION, not_in_future(ACTUAL_START)),
            meets=("late_start",),
        ),
        Action(
            "record_no_show",
            "Record that the worker did not start work.",
            ("visa_granted", "rtw_verified"),
            "sponsorship_ended",
            opens_obligation="no_show",
        ),
        Action(
            "end_sponsorship",
            "Record that employment ended or sponsorship stopped.",
            ("rtw_verified", *_EMPLOYED),
            "sponsorship_ended",
            guards=(required(ENDED_ON),),
            opens_obligation="employment_end",
        ),
        Action(
            "withdraw",
            "Withdraw the offer or the sponsorship before employment starts.",
            _PRE_EMPLOYMENT,
            "withdrawn",
            guards=(required(REASON), not_in_future(WITHDRAWN_ON)),
            opens_obligation="cos_withdrawal",
            obligation_condition=COS_ISSUED,
        ),
        Action(
            "expire_cos",
            "The CoS was not used in time (fired by its deadline).",
            ("cos_granted", "cos_assigned"),
            "expired",
            system=True,
        ),
        Action(
            "close",
            "Close the case once every obligation is reported or waived.",
            ("sponsorship_ended", "withdrawn", "refused", "expired"),
            "closed",
            guards=(NO_OPEN_OBLIGATIONS,),
        ),
        Action(
            "record_absence",
            "Record an unauthorised absence: reportable once it passes 10 consecutive working days, counted "
            "here; an absence with no last day is watched until it does or the return is recorded.",
            _EMPLOYED,
            None,
            guards=(
                required(ABSENCE_START),
                not_in_future(ABSENCE_START),
                not_in_future(ABSENCE_END),
                end_not_before_start(ABSENCE_START, ABSENCE_END),
                NO_OPEN_ABSENCE,
            ),
            opens_obligation="unauthorised_absence",
            obligation_condition=THRESHOLD_PASSED,
            arms=("absence_threshold",),
        ),
        Action(
            "record_return",
            "Record the last day of the open unauthorised absence; reportable if it passed the threshold.",
            _EMPLOYED,
            None,
            guards=(required(ABSENCE_END), not_in_future(ABSENCE_END), ABSENCE_OPEN),
            opens_obligation="unauthorised_absence",
            obligation_condition=THRESHOLD_PASSED,
            meets=("absence_threshold",),
        ),
        Action(
            "record_unpaid_leave",
            "Record unpaid or reduced-pay leave (again with the same first day to give its last day): "
            "reportable from the day the calendar year's leave passes 4 weeks, counted here.",
            _EMPLOYED,
            None,
            guards=(
                required(LEAVE_START),
                not_in_future(LEAVE_START),
                not_in_future(LEAVE_END),
                end_not_before_start(LEAVE_START, LEAVE_END),
            ),
            opens_obligation="unpaid_leave",
            obligation_condition=THRESHOLD_PASSED,
            meets=("unpaid_leave_threshold",),
            arms=("unpaid_leave_threshold",),
        ),
        Action(
            "change_salary",
            "Record a salary change; a cut below the CoS salary must be reported.",
            _EMPLOYED,
            None,
            guards=(required(NEW_SALARY, EFFECTIVE_DATE),),
            opens_obligation="salary_change",
            obligation_condition=SALARY_REDUCED,
        ),
        Action(
            "change_job",
            "Record a significant change to the job within the same SOC code.",
            _EMPLOYED,
            None,
            guards=(required(EFFECTIVE_DATE),),
            opens_obligation="job_change",
        ),
        Action(
            "change_work_location",
            "Record a change of normal work location.",
            _EMPLOYED,
            None,
            guards=(required(EFFECTIVE_DATE),),
            opens_obligation="work_location_change",
        ),
        Action(
            "record_rtw_follow_up",
            "Record a follow-up right-to-work check; the next one is armed from the new permission.",
            ("employed",),
            "employed",
            guards=(required(RTW_CHECK_DATE), not_in_future(RTW_CHECK_DATE)),
            meets=("rtw_follow_up",),
        ),
        Action(
            "record_permission_change",
            "Record a change to the worker's permission (curtailment, or a new permission end date): reported "
            "within 10 working days; the follow-up check is re-armed from the new end date.",
            ("employed",),
            "employed",
            guards=(required(EFFECTIVE_DATE, NEW_PERMISSION_END), not_in_future(EFFECTIVE_DATE)),
            opens_obligation="permission_change",
            meets=("rtw_follow_up",),
        ),
        Action(
            "record_suspected_breach",
            "Record that the worker is known or suspected to have breached their conditions: reported within "
            "10 working days, flagged urgent (the sources conflict on the window).",
            ("rtw_verified", *_EMPLOYED),
            None,
            guards=(required(NOTICED_ON, DESCRIPTION), not_in_future(NOTICED_ON)),
            opens_obligation="suspected_breach",
        ),
        Action(
            "assign_new_cos",
            "Assign a new undefined CoS to the employed worker: an extension in the same occupation before "
            "permission ends, or a change of employment into another SOC code; eligible under the rules of the "
            "new assignment date.",
            ("employed",),
            "new_cos_assigned",
            guards=(
                LICENCE_ACTIVE,
                ELIGIBLE,
                HIRE_DETAILS_COMPLETE,
                UNDEFINED_COS_LEFT,
                required(COS_REFERENCE),
                not_in_future(ASSIGNED_ON),
                on_or_after(ASSIGNED_ON, "cos_assigned_on", "the current CoS assignment date"),
                NEW_COS_FITS_PURPOSE,
            ),
        ),
        Action(
            "submit_new_visa_application",
            "Record the worker's in-country application on the new CoS.",
            ("new_cos_assigned",),
            "new_visa_applied",
            guards=(
                required(APPLICATION_DATE),
                not_in_future(APPLICATION_DATE),
                on_or_after(APPLICATION_DATE, "new_cos_assigned_on", "the new CoS assignment date"),
                APPLIED_IN_TIME,
            ),
            meets=("visa_application_window",),
        ),
        Action(
            "abandon_new_cos",
            "The new CoS will not be used (withdrawn, or its window passed): employment goes on under the "
            "current permission.",
            ("new_cos_assigned",),
            "employed",
            guards=(required(REASON),),
        ),
        Action(
            "grant_new_permission",
            "Record the new permission granted on the new CoS: employment goes on under it, and the follow-up "
            "check is re-armed from its end date.",
            ("new_visa_applied",),
            "employed",
            guards=_GRANTED_PERMISSION,
            meets=("visa_decision", "rtw_follow_up"),
        ),
        Action(
            "refuse_new_permission",
            "Record that the in-country application was refused: the worker's right to work ends, sponsorship "
            "ends and its report is due; the Immigration Skills Charge paid on the CoS is refundable.",
            ("new_visa_applied",),
            "sponsorship_ended",
            guards=(not_in_future(REFUSED_ON), on_or_after(REFUSED_ON, *_APPLIED)),
            opens_obligation="employment_end",
            meets=("visa_decision",),
        ),
    ),
    on_breach={
        # An unused CoS dies with its window (facts §1.2); a late start must be reported (facts §2.2).
        "cos_assignment_window": Breach(fires="expire_cos"),
        "visa_application_window": Breach(fires="expire_cos"),
        "late_start": Breach(opens_obligation="late_start"),
        # Watches on open-ended absence and leave (facts §5.1 W3, W4): still open at the threshold, reportable.
        "absence_threshold": Breach(opens_obligation="unauthorised_absence"),
        "unpaid_leave_threshold": Breach(opens_obligation="unpaid_leave"),
    },
)

WORKFLOWS: dict[str, Workflow[Any]] = {LICENCE.name: LICENCE, HIRE.name: HIRE}

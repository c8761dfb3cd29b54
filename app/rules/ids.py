"""Rule ids the code reads, in one place: the data may change figures and windows, not these names.

A test checks that each id here is in the shipped data with the kind of value its name promises.
"""

from __future__ import annotations

from typing import Final

# --- durations (deadlines and timers) -----------------------------------------------------------------
LICENCE_DECISION_STANDARD: Final = "licence.decision.standard"
LICENCE_DECISION_PRIORITY: Final = "licence.decision.priority"
LICENCE_SUPPORTING_DOCUMENTS: Final = "licence.supporting_documents"
LICENCE_SUSPENSION_REPRESENTATIONS: Final = "licence.suspension_representations"
LICENCE_DOWNGRADE_REPRESENTATIONS: Final = "licence.downgrade_representations"
LICENCE_ACTION_PLAN: Final = "licence.action_plan"
LICENCE_ACTION_PLAN_FEE_PAYMENT: Final = "licence.action_plan_fee_payment"
LICENCE_COOLING_OFF_AFTER_REVOCATION: Final = "licence.cooling_off.after_revocation"
LICENCE_NEW_APPLICATION_AFTER_OWNERSHIP_CHANGE: Final = "licence.change_of_ownership.new_application"
COS_DEFINED_DECISION_CHASE: Final = "cos.defined_decision_chase"
COS_DEFINED_ASSIGNMENT_WINDOW: Final = "cos.defined_assignment_window"
COS_VISA_APPLICATION_WINDOW: Final = "cos.visa_application_window"
VISA_DECISION_STANDARD_OUTSIDE_UK: Final = "visa.decision.standard.outside_uk"
VISA_DECISION_STANDARD_INSIDE_UK: Final = "visa.decision.standard.inside_uk"
VISA_DECISION_PRIORITY: Final = "visa.decision.priority"
VISA_DECISION_SUPER_PRIORITY: Final = "visa.decision.super_priority"
EMPLOYMENT_LATE_START_WINDOW: Final = "employment.late_start_window"
REPORTING_WORKER_EVENT: Final = "reporting.worker_event"
REPORTING_SPONSOR_EVENT: Final = "reporting.sponsor_event"
ABSENCE_UNAUTHORISED_THRESHOLD: Final = "absence.unauthorised_threshold"
ABSENCE_UNPAID_LEAVE_THRESHOLD: Final = "absence.unpaid_leave_threshold"
RTW_PVN_FOLLOW_UP: Final = "rtw.pvn_follow_up"
RTW_CHECK_BEFORE_START: Final = "rtw.check_before_start"
RTW_CHECK_BEFORE_START_WARNING: Final = "rtw.check_before_start_warning"
RECORDS_RETENTION: Final = "records.retention"
IHS_PERMISSION_BEYOND_COS: Final = "ihs.permission_beyond_cos"
IHS_HALF_RATE_PART_YEAR_UP_TO: Final = "ihs.half_rate_part_year_up_to"
IHS_EXEMPT_PERMISSION_UP_TO: Final = "ihs.exempt_permission_up_to"

DURATIONS: Final = (
    LICENCE_DECISION_STANDARD,
    LICENCE_DECISION_PRIORITY,
    LICENCE_SUPPORTING_DOCUMENTS,
    LICENCE_SUSPENSION_REPRESENTATIONS,
    LICENCE_DOWNGRADE_REPRESENTATIONS,
    LICENCE_ACTION_PLAN,
    LICENCE_ACTION_PLAN_FEE_PAYMENT,
    LICENCE_COOLING_OFF_AFTER_REVOCATION,
    LICENCE_NEW_APPLICATION_AFTER_OWNERSHIP_CHANGE,
    COS_DEFINED_DECISION_CHASE,
    COS_DEFINED_ASSIGNMENT_WINDOW,
    COS_VISA_APPLICATION_WINDOW,
    VISA_DECISION_STANDARD_OUTSIDE_UK,
    VISA_DECISION_STANDARD_INSIDE_UK,
    VISA_DECISION_PRIORITY,
    VISA_DECISION_SUPER_PRIORITY,
    EMPLOYMENT_LATE_START_WINDOW,
    REPORTING_WORKER_EVENT,
    REPORTING_SPONSOR_EVENT,
    ABSENCE_UNAUTHORISED_THRESHOLD,
    ABSENCE_UNPAID_LEAVE_THRESHOLD,
    RTW_PVN_FOLLOW_UP,
    RTW_CHECK_BEFORE_START,
    RTW_CHECK_BEFORE_START_WARNING,
    RECORDS_RETENTION,
    IHS_PERMISSION_BEYOND_COS,
    IHS_HALF_RATE_PART_YEAR_UP_TO,
    IHS_EXEMPT_PERMISSION_UP_TO,
)

# Calendar-day offsets before permission ends at which to warn that a follow-up RTW check is due.
RTW_FOLLOW_UP_WARNINGS: Final = "rtw.follow_up_warnings"
# Calendar-day offsets before the last day to act ahead of a dated rule change.
RULE_CHANGE_WARNINGS: Final = "rule_changes.warnings"
# Calendar-day offsets before the undefined-CoS allocation year ends.
COS_ALLOCATION_YEAR_END_WARNINGS: Final = "cos.allocation_year_end_warnings"

# --- casework and compliance --------------------------------------------------------------------------
COMPLIANCE_DEADLINE_HORIZON: Final = "compliance.deadline_horizon"
NORMAL_DURATION_PREFIX: Final = "case.normal_duration."


def normal_duration(state: str) -> str:
    """`case.normal_duration.<state>`: how long a hire case normally stays in the state (none for some)."""
    return NORMAL_DURATION_PREFIX + state


# --- eligibility --------------------------------------------------------------------------------------
MINIMUM_RQF: Final = "skill.minimum_rqf"
TRANSITIONAL_PROTECTION: Final = "skill.transitional_protection"
TSL_VALID_UNTIL: Final = "shortage_lists.temporary_shortage_list.valid_until"
ISL_VALID_UNTIL: Final = "shortage_lists.immigration_salary_list.valid_until"
CARE_WORKER_CODES: Final = "care_workers.soc_codes"
CARE_WORKER_SWITCH_UNTIL: Final = "care_workers.in_country_switching_until"
CARE_WORKER_PRIOR_EMPLOYMENT: Final = "care_workers.prior_employment"
HOURLY_FLOOR: Final = "salary.hourly_floor"
HOURLY_FLOOR_LOWER_RATE_COHORT: Final = "salary.hourly_floor.lower_rate_cohort"
WEEKS_PER_YEAR: Final = "salary.weeks_per_year"
NEW_ENTRANT_AGE_LIMIT: Final = "salary.new_entrant.age_limit"


def general_threshold(option: str, lower_rate_cohort: bool) -> str:
    """`salary.general_threshold[.lower_rate_cohort].<option>`; the cohort only has some options."""
    return f"salary.general_threshold.{'lower_rate_cohort.' if lower_rate_cohort else ''}{option}"


# --- costs --------------------------------------------------------------------------------------------
COS_FEE_SKILLED_WORKER: Final = "cos.fee.assignment.skilled_worker"
ISC_FIRST_PERIOD: Final = "isc.first_period"
ISC_FURTHER_PERIOD: Final = "isc.further_period"
ISC_ENTRY_CLEARANCE_EXEMPTION_BELOW: Final = "isc.entry_clearance_exemption_below"
VISA_FEE_SHORT_PERIOD_LIMIT: Final = "visa.fee.short_period_limit"
VISA_FEE_PRIORITY: Final = "visa.fee.priority"
VISA_FEE_SUPER_PRIORITY: Final = "visa.fee.super_priority"
IHS_ADULT: Final = "ihs.annual.adult"
IHS_REDUCED: Final = "ihs.annual.reduced"

LICENCE_FEE_PRE_LICENCE_PRIORITY: Final = "licence.fee.pre_licence_priority"


def isc_fee(period: str, sponsor_size: str) -> str:
    """`isc.fee.<first_period|further_period>.<small|medium_large>`."""
    return f"isc.fee.{period}.{sponsor_size}"


def visa_fee(category: str, long_period: bool) -> str:
    """`visa.fee.<outside_uk|inside_uk|immigration_salary_list|health_and_care>.<up_to|over>_3_years`."""
    return f"visa.fee.{category}.{'over_3_years' if long_period else 'up_to_3_years'}"


def licence_application_fee(sponsor_size: str) -> str:
    return f"licence.fee.application.{sponsor_size}"

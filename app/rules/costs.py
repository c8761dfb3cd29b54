"""Itemised cost of one sponsored hire: sponsor fees, Immigration Skills Charge, visa fee, IHS (facts §1-3).

Each line names the rule and date it was priced on: sponsor-side charges on the CoS assignment date,
the worker's visa fee, priority fee and IHS on the visa application date, licence fees on the licence
application date. The IHS follows the permission granted (facts §3.3): given permission dates, or the
CoS period plus the time permission runs beyond it, charged by the half-year rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from app.api.types import Day
from app.calendar import Nation, add_calendar_months, add_years
from app.rules import ids
from app.rules.book import RuleBook, RuleTypeError
from app.rules.models import Duration, Money, MoneyRule, RuleStatus, Source, SponsorSize

# Calendar periods ignore the nation; `Duration.after` asks for one all the same.
_NO_WORKING_DAYS = Nation.england_and_wales


class VisaService(StrEnum):
    standard = "standard"
    priority = "priority"
    super_priority = "super_priority"


class Payer(StrEnum):
    """Who is liable by default. Sponsor costs cannot be recovered from the worker (facts §1.1)."""

    sponsor = "sponsor"
    worker = "worker"


#: Skilled Worker permission is granted for at most five years at a time; a CoS period over ten years is a
#: typo (and a large one would carry the fee arithmetic past the calendar's end).
MAX_COS_MONTHS = 120
#: More dependants than any family applying together has; bounds the surcharge arithmetic.
MAX_DEPENDANTS = 30


class CostInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sponsor_size: SponsorSize
    cos_months: StrictInt = Field(ge=1, le=MAX_COS_MONTHS, description="period of employment on the CoS, in months")
    inside_uk: StrictBool = Field(description="switching or extending in the UK, rather than entry clearance")
    cos_assignment_date: Day
    application_date: Day = Field(description="the visa application date")
    dependants: StrictInt = Field(
        default=0, ge=0, le=MAX_DEPENDANTS, description="adult dependants applying with the worker"
    )
    child_dependants: StrictInt = Field(
        default=0, ge=0, le=MAX_DEPENDANTS, description="dependants under 18 (reduced IHS rate)"
    )
    isl_job: StrictBool = Field(default=False, description="the job is on the Immigration Salary List")
    health_and_care: StrictBool = Field(default=False, description="a Health and Care visa")
    visa_service: VisaService = VisaService.standard
    licence_application_date: Day | None = Field(
        default=None, description="include the sponsor licence application fee, priced on this date"
    )
    licence_priority: StrictBool = Field(default=False, description="add the pre-licence priority service fee")
    permission_start_date: Day | None = Field(
        default=None, description="the permission granted, when known: the surcharge is charged on it"
    )
    permission_end_date: Day | None = Field(default=None, description="the last day of the permission granted")

    @model_validator(mode="after")
    def _consistent(self) -> CostInput:
        if self.application_date < self.cos_assignment_date:
            raise ValueError("application_date is before cos_assignment_date: a visa application uses an assigned CoS")
        if self.licence_priority and self.licence_application_date is None:
            raise ValueError("licence_priority needs licence_application_date (the fee is priced on that date)")
        check_permission_dates(self.permission_start_date, self.permission_end_date)
        return self


def check_permission_dates(start: date | None, end: date | None) -> None:
    if (start is None) != (end is None):
        raise ValueError("give both permission_start_date and permission_end_date, or neither")
    if start is not None and end is not None and end <= start:
        raise ValueError("permission_end_date must be after permission_start_date")


class CostLine(BaseModel):
    code: str = Field(description="stable snake_case identifier of the charge")
    item: str
    payer: Payer
    amount: Money = Field(description="price of one unit")
    quantity: int
    total: Money = Field(description="amount x quantity")
    rule_id: str
    priced_on: date
    source: Source
    status: RuleStatus
    effective_from: date
    effective_to: date | None
    basis: str | None = Field(default=None, description="how the quantity was counted, when it was")
    caveats: list[str] = Field(default_factory=list, description="what the figure's data says to check")


class CostEstimate(BaseModel):
    lines: list[CostLine]
    sponsor_total: Money
    worker_total: Money
    total: Money
    notes: list[str] = Field(description="what was exempt, assumed or left out, in words")


_VISA_CATEGORY_WORDS = {
    "health_and_care": "Health and Care visa",
    "immigration_salary_list": "Immigration Salary List job",
    "inside_uk": "inside the UK",
    "outside_uk": "outside the UK",
}


class _Lines:
    def __init__(self, book: RuleBook) -> None:
        self.book = book
        self.lines: list[CostLine] = []

    def add(
        self,
        code: str,
        item: str,
        payer: Payer,
        rule_id: str,
        on: date,
        quantity: int = 1,
        *,
        share: Decimal = Decimal(1),
        basis: str | None = None,
    ) -> None:
        """One line; `share` prices a fraction of the rule's figure (the IHS's half year)."""
        entry = self.book.entry(rule_id, on)
        if not isinstance(entry, MoneyRule):
            raise RuleTypeError(f"rule {rule_id!r} holds a {entry.kind} value, not money")
        amount = entry.value * share
        caveat = entry.caveat
        self.lines.append(
            CostLine(
                code=code,
                item=item,
                payer=payer,
                amount=amount,
                quantity=quantity,
                total=amount * quantity,
                rule_id=rule_id,
                priced_on=on,
                source=entry.source,
                status=entry.status,
                effective_from=entry.effective_from,
                effective_to=entry.effective_to,
                basis=basis,
                caveats=[caveat] if caveat else [],
            )
        )


def estimate_costs(book: RuleBook, inp: CostInput) -> CostEstimate:
    """Itemise the charges for one hire. Raises `RuleNotFound` when a charge for a date is not in the data
    (e.g. visa fees before 2023-10-04): a partial total would read as a complete one."""
    lines = _Lines(book)
    notes: list[str] = []
    size = inp.sponsor_size.value
    months = inp.cos_months

    if inp.licence_application_date is not None:
        on = inp.licence_application_date
        lines.add(
            "licence_application_fee",
            f"Sponsor licence application ({size.replace('_', ' or ')} sponsor)",
            Payer.sponsor,
            ids.licence_application_fee(size),
            on,
        )
        if inp.licence_priority:
            lines.add(
                "licence_priority_fee",
                "Pre-licence priority service",
                Payer.sponsor,
                ids.LICENCE_FEE_PRE_LICENCE_PRIORITY,
                on,
            )

    cos_on = inp.cos_assignment_date
    lines.add(
        "cos_assignment_fee",
        "Certificate of Sponsorship assignment",
        Payer.sponsor,
        ids.COS_FEE_SKILLED_WORKER,
        cos_on,
    )
    _immigration_skills_charge(book, inp, lines, notes)

    app_on = inp.application_date
    limit = book.duration(ids.VISA_FEE_SHORT_PERIOD_LIMIT, app_on)
    long_period = months > limit.in_months()
    if inp.health_and_care:
        category = "health_and_care"
        if inp.isl_job:
            notes.append("Health and Care visa fee used: it applies instead of the Immigration Salary List fee")
    elif inp.isl_job:
        category = "immigration_salary_list"
    else:
        category = "inside_uk" if inp.inside_uk else "outside_uk"
    applicants = 1 + inp.dependants + inp.child_dependants
    band = f"over {limit}" if long_period else f"up to {limit}"
    lines.add(
        "visa_application_fee",
        f"Visa application fee, {_VISA_CATEGORY_WORDS[category]}, CoS {band}, per applicant",
        Payer.worker,
        ids.visa_fee(category, long_period),
        app_on,
        quantity=applicants,
    )

    if inp.visa_service is not VisaService.standard:
        rule_id = ids.VISA_FEE_PRIORITY if inp.visa_service is VisaService.priority else ids.VISA_FEE_SUPER_PRIORITY
        words = inp.visa_service.value.replace("_", " ")
        lines.add(f"visa_{inp.visa_service.value}_fee", f"Visa {words} service", Payer.worker, rule_id, app_on)
        if applicants > 1:
            notes.append(
                f"The {words} fee is charged once, for the worker; the facts file does not say whether each "
                "dependant's application pays it too"
            )

    _health_surcharge(book, inp, lines, notes)

    doubtful = sorted({line.rule_id for line in lines.lines if line.status.doubtful or line.caveats})
    if doubtful:
        notes.append(f"Some figures are graded unconfirmed or conflict; check before quoting: {', '.join(doubtful)}")

    sponsor_total = sum((line.total for line in lines.lines if line.payer is Payer.sponsor), Decimal(0))
    worker_total = sum((line.total for line in lines.lines if line.payer is Payer.worker), Decimal(0))
    return CostEstimate(
        lines=lines.lines,
        sponsor_total=sponsor_total,
        worker_total=worker_total,
        total=sponsor_total + worker_total,
        notes=notes,
    )


def _immigration_skills_charge(book: RuleBook, inp: CostInput, lines: _Lines, notes: list[str]) -> None:
    on = inp.cos_assignment_date
    exemption = book.duration(ids.ISC_ENTRY_CLEARANCE_EXEMPTION_BELOW, on)
    if not inp.inside_uk and inp.cos_months < exemption.in_months():
        notes.append(f"No Immigration Skills Charge: entry clearance for less than {exemption} is exempt")
        return
    first = book.duration(ids.ISC_FIRST_PERIOD, on)
    further = book.duration(ids.ISC_FURTHER_PERIOD, on)
    size = inp.sponsor_size.value
    lines.add(
        "isc_first_period",
        f"Immigration Skills Charge, first {first}",
        Payer.sponsor,
        ids.isc_fee("first_period", size),
        on,
    )
    # Each whole or part further period is charged: 16 months is charged as 12 + 6.
    blocks = math.ceil(max(0, inp.cos_months - first.in_months()) / further.in_months())
    if blocks:
        lines.add(
            "isc_further_periods",
            f"Immigration Skills Charge, each further {further} or part of it",
            Payer.sponsor,
            ids.isc_fee("further_period", size),
            on,
            quantity=blocks,
        )
    notes.append(
        "Immigration Skills Charge exemptions not applied here: students switching in the UK, PhD-level "
        "occupation codes, some research, academic and minister-of-religion roles, graduate trainees"
    )


@dataclass(frozen=True)
class Permission:
    """How the IHS counts a permission: whole years, then a final part-year at half or full rate."""

    whole_years: int
    part_year: str  # "none" | "half" | "full"
    exempt: bool
    words: str

    @property
    def years_at_full_rate(self) -> int:
        return self.whole_years + (self.part_year == "full")


def count_permission(
    start: date, end_exclusive: date, half_rate_up_to: Duration, exempt_up_to: Duration, words: str
) -> Permission:
    """Whole years from `start`, and whether what remains before `end_exclusive` pays half (6 months or
    less) or the full rate; none at all when the whole permission is within the exemption."""
    exempt = end_exclusive <= add_calendar_months(start, exempt_up_to.in_months())
    years = 0
    while add_years(start, years + 1) <= end_exclusive:
        years += 1
    anchor = add_years(start, years)
    if anchor == end_exclusive:
        part = "none"
    elif end_exclusive <= add_calendar_months(anchor, half_rate_up_to.in_months()):
        part = "half"
    else:
        part = "full"
    return Permission(years, part, exempt, words)


def estimated_permission(book: RuleBook, inp: CostInput) -> Permission:
    """The permission the surcharge is charged on: the dates given, else the CoS period plus the time
    permission runs beyond the CoS end (counted from the application date, which only anchors months)."""
    on = inp.application_date
    half = book.duration(ids.IHS_HALF_RATE_PART_YEAR_UP_TO, on)
    exempt = book.duration(ids.IHS_EXEMPT_PERMISSION_UP_TO, on)
    if inp.permission_start_date is not None and inp.permission_end_date is not None:
        start, end = inp.permission_start_date, inp.permission_end_date
        return count_permission(start, end + timedelta(days=1), half, exempt, f"permission from {start} to {end}")
    beyond = book.duration(ids.IHS_PERMISSION_BEYOND_COS, on)
    end_exclusive = beyond.after(add_calendar_months(on, inp.cos_months), _NO_WORKING_DAYS)
    return count_permission(
        on,
        end_exclusive,
        half,
        exempt,
        f"an estimated permission of the {inp.cos_months} months on the CoS plus {beyond}",
    )


def _health_surcharge(book: RuleBook, inp: CostInput, lines: _Lines, notes: list[str]) -> None:
    if inp.health_and_care:
        notes.append("No Immigration Health Surcharge: Health and Care visa holders and their dependants are exempt")
        return
    on = inp.application_date
    permission = estimated_permission(book, inp)
    exempt = book.duration(ids.IHS_EXEMPT_PERMISSION_UP_TO, on)
    half = book.duration(ids.IHS_HALF_RATE_PART_YEAR_UP_TO, on)
    if permission.exempt:
        notes.append(
            f"No Immigration Health Surcharge: {permission.words} totals {exempt} or less "
            f"(rule {ids.IHS_EXEMPT_PERMISSION_UP_TO})"
        )
        return
    part = {
        "none": "",
        "half": f" and a part-year of {half} or less, which pays half",
        "full": f" and a part-year of more than {half}, which pays a full year",
    }[permission.part_year]
    basis = (
        f"{permission.words}: {permission.whole_years} whole years{part} "
        f"(rules {ids.IHS_HALF_RATE_PART_YEAR_UP_TO}, {ids.IHS_EXEMPT_PERMISSION_UP_TO})"
    )
    for code, who, rule_id, people in (
        ("ihs_worker", "worker", ids.IHS_ADULT, 1),
        ("ihs_adult_dependants", "adult dependant", ids.IHS_ADULT, inp.dependants),
        ("ihs_child_dependants", "dependant under 18", ids.IHS_REDUCED, inp.child_dependants),
    ):
        if not people:
            continue
        if permission.years_at_full_rate:
            lines.add(
                code,
                f"Immigration Health Surcharge, {who}, per year",
                Payer.worker,
                rule_id,
                on,
                permission.years_at_full_rate * people,
                basis=basis,
            )
        if permission.part_year == "half":
            lines.add(
                f"{code}_half_year",
                f"Immigration Health Surcharge, {who}, final part-year of {half} or less (half the annual rate)",
                Payer.worker,
                rule_id,
                on,
                people,
                share=Decimal("0.5"),
                basis=basis,
            )
    if inp.permission_start_date is None:
        notes.append(
            f"Immigration Health Surcharge charged on the CoS period plus the time Skilled Worker permission "
            f"runs beyond it: {inp.cos_months} months plus {book.duration(ids.IHS_PERMISSION_BEYOND_COS, on)} "
            f"(rule {ids.IHS_PERMISSION_BEYOND_COS}). Permission can also start before the CoS start date, which "
            "lengthens it: give permission_start_date and permission_end_date once the grant is known"
        )

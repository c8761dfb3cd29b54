"""Itemised cost of one sponsored hire: sponsor fees, Immigration Skills Charge, visa fee, IHS (facts §1-3).

Each line names the rule and date it was priced on: sponsor-side charges on the CoS assignment date,
the worker's visa fee, priority fee and IHS on the visa application date, licence fees on the licence
application date.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.rules import ids
from app.rules.book import RuleBook, RuleTypeError
from app.rules.models import Money, MoneyRule, RuleStatus, Source, SponsorSize


class VisaService(StrEnum):
    standard = "standard"
    priority = "priority"
    super_priority = "super_priority"


class Payer(StrEnum):
    """Who is liable by default. Sponsor costs cannot be recovered from the worker (facts §1.1)."""

    sponsor = "sponsor"
    worker = "worker"


class CostInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sponsor_size: SponsorSize
    cos_months: int = Field(ge=1, description="period of employment on the CoS, in months")
    inside_uk: bool = Field(description="switching or extending in the UK, rather than entry clearance")
    cos_assignment_date: date
    application_date: date = Field(description="the visa application date")
    dependants: int = Field(default=0, ge=0, description="adult dependants applying with the worker")
    child_dependants: int = Field(default=0, ge=0, description="dependants under 18 (reduced IHS rate)")
    isl_job: bool = Field(default=False, description="the job is on the Immigration Salary List")
    health_and_care: bool = Field(default=False, description="a Health and Care visa")
    visa_service: VisaService = VisaService.standard
    licence_application_date: date | None = Field(
        default=None, description="include the sponsor licence application fee, priced on this date"
    )
    licence_priority: bool = Field(default=False, description="add the pre-licence priority service fee")

    @model_validator(mode="after")
    def _consistent(self) -> CostInput:
        if self.application_date < self.cos_assignment_date:
            raise ValueError("application_date is before cos_assignment_date: a visa application uses an assigned CoS")
        if self.licence_priority and self.licence_application_date is None:
            raise ValueError("licence_priority needs licence_application_date (the fee is priced on that date)")
        return self


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

    def add(self, code: str, item: str, payer: Payer, rule_id: str, on: date, quantity: int = 1) -> None:
        entry = self.book.entry(rule_id, on)
        if not isinstance(entry, MoneyRule):
            raise RuleTypeError(f"rule {rule_id!r} holds a {entry.kind} value, not money")
        self.lines.append(
            CostLine(
                code=code,
                item=item,
                payer=payer,
                amount=entry.value,
                quantity=quantity,
                total=entry.value * quantity,
                rule_id=rule_id,
                priced_on=on,
                source=entry.source,
                status=entry.status,
                effective_from=entry.effective_from,
                effective_to=entry.effective_to,
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

    _health_surcharge(inp, lines, notes)

    doubtful = sorted({line.rule_id for line in lines.lines if line.status.doubtful})
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


def _health_surcharge(inp: CostInput, lines: _Lines, notes: list[str]) -> None:
    if inp.health_and_care:
        notes.append("No Immigration Health Surcharge: Health and Care visa holders and their dependants are exempt")
        return
    on = inp.application_date
    # Charged per year; the facts file has no half-year rule, so every started year counts in full.
    years = math.ceil(inp.cos_months / 12)
    lines.add("ihs_worker", "Immigration Health Surcharge, worker, per year", Payer.worker, ids.IHS_ADULT, on, years)
    if inp.dependants:
        lines.add(
            "ihs_adult_dependants",
            "Immigration Health Surcharge, adult dependant, per year",
            Payer.worker,
            ids.IHS_ADULT,
            on,
            years * inp.dependants,
        )
    if inp.child_dependants:
        lines.add(
            "ihs_child_dependants",
            "Immigration Health Surcharge, dependant under 18, per year",
            Payer.worker,
            ids.IHS_REDUCED,
            on,
            years * inp.child_dependants,
        )
    notes.append(
        f"Immigration Health Surcharge charged for {years} year(s) for a {inp.cos_months}-month CoS: each "
        "started year counts in full (the facts file gives no half-year rule); the real charge follows the "
        "length of permission granted, which can exceed the CoS period"
    )

"""HTTP shapes of the rules API that the package's own models do not give: request bodies whose dates
default to today (UK), an occupation search page, and an occupation with its shortage-list standing on a
date. Everything else is answered with the package's models as they are."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field, ValidationError, model_validator

from app.api.types import Day
from app.errors import FieldError, ProblemError
from app.rules import ids
from app.rules.book import RuleBook, RuleNotFound, RuleTypeError
from app.rules.costs import CostInput, check_permission_dates
from app.rules.eligibility import EligibilityInput
from app.rules.models import DateRule, Occupation, OccupationMatch, RuleStatus, ShortageListEntry, Source

# --- requests -----------------------------------------------------------------------------------------


class EligibilityCheckRequest(EligibilityInput):
    """`EligibilityInput` with the CoS assignment date optional."""

    # The package's input needs the date; the API fills it in, so the override narrows nothing a caller
    # of the package relies on.
    cos_assignment_date: Day | None = Field(  # type: ignore[assignment]
        default=None, description="the date the CoS is (or will be) assigned; defaults to today in the UK"
    )

    def resolve(self, today: date) -> EligibilityInput:
        values = self.model_dump() | {"cos_assignment_date": self.cos_assignment_date or today}
        return EligibilityInput.model_validate(values)


class CostEstimateRequest(CostInput):
    """`CostInput` with the CoS assignment and visa application dates optional."""

    cos_assignment_date: Day | None = Field(  # type: ignore[assignment]
        default=None,
        description="prices the sponsor's CoS fee and Immigration Skills Charge; defaults to today in the UK",
    )
    application_date: Day | None = Field(  # type: ignore[assignment]
        default=None,
        description="the visa application date, which prices the visa fee and the Immigration Health "
        "Surcharge; defaults to the CoS assignment date",
    )

    @model_validator(mode="after")
    def _consistent(self) -> CostEstimateRequest:
        # Replaces `CostInput._consistent`, which cannot compare a date not yet given; `resolve` checks the
        # whole input once the defaults are filled in.
        if (
            self.cos_assignment_date is not None
            and self.application_date is not None
            and self.application_date < self.cos_assignment_date
        ):
            raise ValueError("application_date is before cos_assignment_date: a visa application uses an assigned CoS")
        if self.licence_priority and self.licence_application_date is None:
            raise ValueError("licence_priority needs licence_application_date (the fee is priced on that date)")
        check_permission_dates(self.permission_start_date, self.permission_end_date)
        return self

    def resolve(self, today: date) -> CostInput:
        """The package's input, dates filled in. Raises a 422 `validation_error` problem when the defaults
        make it inconsistent (an application_date before today with no cos_assignment_date)."""
        assigned = self.cos_assignment_date or today
        values = self.model_dump() | {
            "cos_assignment_date": assigned,
            "application_date": self.application_date or assigned,
        }
        try:
            return CostInput.model_validate(values)
        except ValidationError as exc:
            errors = [
                FieldError(loc=["body", *e["loc"]], message=e["msg"].removeprefix("Value error, "), type=e["type"])
                for e in exc.errors()
            ]
            detail = (
                f"with cos_assignment_date left out it defaults to today ({today}), and the request no "
                "longer holds together: give cos_assignment_date"
            )
            raise ProblemError(422, "validation_error", detail, errors=errors) from exc


# --- responses ----------------------------------------------------------------------------------------


class OccupationSearch(BaseModel):
    q: str
    on: date = Field(description="only occupations in force on this date were searched")
    data: list[OccupationMatch] = Field(
        description="best first: the exact code, codes starting with the digits, titles holding every "
        "word, titles holding some"
    )


class ShortageListStanding(BaseModel):
    """Whether an occupation is on a shortage list for a CoS assigned on the date asked about."""

    on_list: bool = Field(
        description="the occupation has an entry and the list covers a CoS assigned on the date; the entry "
        "may still limit the jobs or areas"
    )
    entry: ShortageListEntry | None = Field(
        description="the occupation's entry in the tables (jobs, areas, rates), shown even once the list has closed"
    )
    valid_until: date | None = Field(
        description="the last CoS assignment date the list covers; null when the data holds no such rule for the date"
    )
    rule_id: str = Field(description="the rule giving `valid_until`")
    status: RuleStatus | None = Field(description="that rule's confidence grade")
    source: Source | None = None


class OccupationAsOf(BaseModel):
    """A SOC 2020 occupation as it stands on `on`: skill band, going rates and shortage lists."""

    on: date
    occupation: Occupation
    temporary_shortage_list: ShortageListStanding
    immigration_salary_list: ShortageListStanding

    @classmethod
    def of(cls, book: RuleBook, occupation: Occupation, on: date) -> OccupationAsOf:
        return cls(
            on=on,
            occupation=occupation,
            temporary_shortage_list=_standing(book, occupation.temporary_shortage_list, ids.TSL_VALID_UNTIL, on),
            immigration_salary_list=_standing(book, occupation.immigration_salary_list, ids.ISL_VALID_UNTIL, on),
        )


def _standing(book: RuleBook, entry: ShortageListEntry | None, rule_id: str, on: date) -> ShortageListStanding:
    # As the eligibility check reads it: a list with no `valid_until` in force on the date covers nothing.
    try:
        rule = book.entry(rule_id, on)
    except RuleNotFound:
        return ShortageListStanding(
            on_list=False, entry=entry, valid_until=None, rule_id=rule_id, status=None, source=None
        )
    if not isinstance(rule, DateRule):
        raise RuleTypeError(f"rule {rule_id!r} holds a {rule.kind} value, not a date")
    return ShortageListStanding(
        on_list=entry is not None and on <= rule.value,
        entry=entry,
        valid_until=rule.value,
        rule_id=rule_id,
        status=rule.status,
        source=rule.source,
    )

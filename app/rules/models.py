"""Typed shapes of the rules data: versioned rule entries, durations, occupations, and what was loaded.

Every figure the service relies on arrives through these models from `app/rules/data/` (or an operator's
override directory), with its validity window, source and confidence grade (design §4). Money is
`Decimal` GBP with pennies, never a float, and is written to JSON as a string ("41700.00").
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from app.api.types import PLAIN_DECIMAL
from app.calendar import DurationUnit, Nation, add_duration

PENNY = Decimal("0.01")
MONEY_MAX_DIGITS = 14
RULE_ID_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
SOC_CODE_PATTERN = r"^\d{4}$"


def _no_float(value: Any) -> Any:
    # YAML and JSON turn 17.13 into a binary float before we see it; a figure must arrive exact.
    if isinstance(value, float):
        raise ValueError("write money and figures as a string or an integer, not a float (e.g. '17.13')")
    return value


def _whole_pennies(value: Decimal) -> Decimal:
    if value != value.quantize(PENNY):
        raise ValueError("money has at most two decimal places")
    return value.quantize(PENNY)


def _money_json(value: Decimal) -> str:
    return f"{value:.2f}"


Money = Annotated[
    Decimal,
    # Up to a trillion pounds: a larger amount is a typo, and past 26 digits the pennies overflow.
    Field(max_digits=MONEY_MAX_DIGITS),
    BeforeValidator(_no_float),
    PLAIN_DECIMAL,
    AfterValidator(_whole_pennies),
    PlainSerializer(_money_json, return_type=str, when_used="json"),
    # Clients see what is accepted: a decimal string or a whole number, never a float.
    WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": r"^-?\d+(\.\d{1,2})?$"}, {"type": "integer"}]},
        mode="validation",
    ),
]
"""GBP amount with pennies; JSON as a string."""

ExactDecimal = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    PlainSerializer(str, return_type=str, when_used="json"),
]
"""A non-money figure (hours, weeks, an RQF level), exact; JSON as a string."""

SocCode = Annotated[str, Field(pattern=SOC_CODE_PATTERN)]


class RuleStatus(StrEnum):
    """Confidence grade from the facts file, weakest last (the order is used to find the weakest)."""

    confirmed = "confirmed"
    reported = "reported"
    unconfirmed = "unconfirmed"
    conflict = "conflict"

    @property
    def rank(self) -> int:
        return list(RuleStatus).index(self)

    @property
    def doubtful(self) -> bool:
        """Unconfirmed or conflicting figures are not to be relied on without a person checking."""
        return self in (RuleStatus.unconfirmed, RuleStatus.conflict)


class Origin(StrEnum):
    shipped = "shipped"
    override = "override"


class SponsorSize(StrEnum):
    """Companies Act s.382 size, which sets the licence fee and ISC rate; charities count as small."""

    small = "small"
    medium_large = "medium_large"


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    url: str = Field(pattern=r"^https?://\S+$")
    title: str = Field(min_length=1)


class Duration(BaseModel):
    """A period as the Home Office states it; `app.calendar` does the counting."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: int = Field(ge=1)
    unit: DurationUnit

    def __str__(self) -> str:
        words = self.unit.value.replace("_", " ")
        return f"{self.amount} {words[:-1] if self.amount == 1 else words}"

    def in_months(self) -> int:
        """Whole months, for periods the law counts in months or years (the ISC's blocks, the fee bands)."""
        if self.unit is DurationUnit.calendar_months:
            return self.amount
        if self.unit is DurationUnit.years:
            return self.amount * 12
        raise ValueError(f"{self} is not a whole number of months")

    def after(self, start: date, nation: Nation, *, strict: bool = False) -> date:
        """The date this period ends when counted from `start` (day 1 is the day after `start`)."""
        return add_duration(start, self.amount, self.unit, nation, strict=strict)


class Versioned(BaseModel):
    """What every rule entry and occupation dataset carries: identity, validity window, provenance."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: str = Field(pattern=RULE_ID_PATTERN)
    effective_from: date
    effective_to: date | None = Field(default=None, description="inclusive; none means still in force")
    source: Source
    status: RuleStatus
    note: str | None = None

    @model_validator(mode="after")
    def _window_in_order(self) -> Versioned:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError(f"effective_to {self.effective_to} is before effective_from {self.effective_from}")
        return self

    def covers(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    @property
    def window(self) -> str:
        return f"{self.effective_from}..{self.effective_to or 'open'}"


class ReportedFigure(BaseModel):
    """A later figure a source reports without the date it took effect. The window stays priced at the
    dated value (no date is invented) and every answer priced on it says a later figure is reported."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    value: Money
    status: RuleStatus
    source: Source
    note: str | None = None


class MoneyRule(Versioned):
    kind: Literal["money"]
    value: Money
    reported_later: ReportedFigure | None = Field(
        default=None, description="a later figure seen in a source that gives no date for it"
    )

    @property
    def caveat(self) -> str | None:
        later = self.reported_later
        if later is None:
            return None
        return (
            f"{self.id}: a later figure of £{later.value:,.2f} is reported ({later.source.title}; "
            f"{later.status.value}) with no date it took effect; £{self.value:,.2f} is the last dated figure"
        )


class DurationRule(Versioned):
    kind: Literal["duration"]
    value: Duration


class DayOffsetsRule(Versioned):
    """Calendar-day offsets, e.g. warnings 90/60/30 days before permission ends."""

    kind: Literal["day_offsets"]
    value: list[Annotated[int, Field(ge=1)]] = Field(min_length=1)


class DateRule(Versioned):
    kind: Literal["date"]
    value: date
    last_day_of: str | None = Field(
        default=None,
        description="what the date is the last day of (a list's coverage): the day after it is a dated change",
    )


class NumberRule(Versioned):
    kind: Literal["number"]
    value: ExactDecimal


class SocCodesRule(Versioned):
    kind: Literal["soc_codes"]
    value: list[SocCode] = Field(min_length=1)


RuleEntry = Annotated[
    MoneyRule | DurationRule | DayOffsetsRule | DateRule | NumberRule | SocCodesRule,
    Field(discriminator="kind"),
]
RuleValue = Decimal | Duration | list[int] | date | list[str]


class OccupationDataset(Versioned):
    """A registry entry: which occupations JSON applies over which window (the JSON holds no window)."""

    file: str = Field(pattern=r"^[^/\\]+\.json$")


# --- occupations --------------------------------------------------------------------------------------


class SkillBand(StrEnum):
    """The skill band of the Appendix Skilled Occupations tables (data README: Higher = RQF 6+,
    Medium = RQF 3-5)."""

    higher_skilled = "higher_skilled"
    medium_skilled = "medium_skilled"
    ineligible = "ineligible"

    @property
    def rqf_floor(self) -> int | None:
        """Lowest RQF level of the band, to compare with the route's minimum; None for ineligible."""
        return _RQF_FLOOR[self]

    @property
    def rqf_label(self) -> str:
        return _RQF_LABEL[self]


_RQF_FLOOR = {SkillBand.higher_skilled: 6, SkillBand.medium_skilled: 3, SkillBand.ineligible: None}
_RQF_LABEL = {
    SkillBand.higher_skilled: "RQF 6 or above",
    SkillBand.medium_skilled: "RQF 3-5",
    SkillBand.ineligible: "below RQF 3",
}


class SkillCondition(StrEnum):
    """The qualifiers the tables attach to a skill band (data README's label variants)."""

    extending_same_occupation_only = "extending_same_occupation_only"
    subject_to_listed_conditions = "subject_to_listed_conditions"
    restricted_job_types = "restricted_job_types"


class ShortageListEntry(BaseModel):
    """A Temporary Shortage List or Immigration Salary List entry for one occupation."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    job_types: str
    areas: str | None = None
    rate: Money | None = None
    lower_rate: Money | None = None


class GoingRates(BaseModel):
    """Annual going rates on the dataset's basic week; `note` explains a missing standard rate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    standard: Money | None = None
    lower: Money | None = None
    new_entrant: Money | None = None
    new_entrant_lower: Money | None = None
    phd_non_stem: Money | None = None
    phd_stem: Money | None = None
    phd_non_stem_lower: Money | None = None
    phd_stem_lower: Money | None = None
    note: str | None = None

    @property
    def none_published(self) -> bool:
        """No rate at all: health and education jobs, paid on national pay scales."""
        return all(getattr(self, name) is None for name in type(self).model_fields if name != "note")


class Occupation(BaseModel):
    """One SOC 2020 occupation over one validity window, normalised from an occupations dataset."""

    model_config = ConfigDict(frozen=True)

    code: SocCode
    title: str
    skill_band: SkillBand
    skill_condition: SkillCondition | None = None
    condition_text: str | None = Field(default=None, description="the qualifier as the table words it")
    skill_level_label: str = Field(description="the label exactly as in the dataset")
    going_rates: GoingRates
    temporary_shortage_list: ShortageListEntry | None = None
    immigration_salary_list: ShortageListEntry | None = None
    hours_per_week_basis: ExactDecimal
    national_pay_scale_urls: tuple[str, ...] = ()
    dataset_id: str
    effective_from: date
    effective_to: date | None = None
    source: Source
    status: RuleStatus
    origin: Origin
    file: str

    def covers(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    @property
    def window(self) -> str:
        return f"{self.effective_from}..{self.effective_to or 'open'}"

    @property
    def label(self) -> str:
        return f"SOC {self.code} {self.title}"


class MatchKind(StrEnum):
    """How a search hit matched, best first."""

    exact_code = "exact_code"
    code_prefix = "code_prefix"
    all_words = "all_words"
    some_words = "some_words"


class OccupationMatch(BaseModel):
    match: MatchKind
    occupation: Occupation


# --- what was loaded (GET /v1/rules) ------------------------------------------------------------------


class LoadedFile(BaseModel):
    file: str = Field(description="origin-relative name, e.g. shipped/visa.yaml or override/fees.yaml")
    origin: Origin
    content: Literal["rules", "occupations"]


class RuleWindow(BaseModel):
    entry: RuleEntry
    origin: Origin
    file: str


class RuleDescription(BaseModel):
    id: str
    kind: str
    windows: list[RuleWindow]


class DatasetDescription(BaseModel):
    dataset: OccupationDataset
    origin: Origin
    files: list[str]
    occupation_count: int
    overridden_codes: list[str] = Field(description="codes whose figures come from an override file")


class RuleBookDescription(BaseModel):
    override_dir: str | None
    files: list[LoadedFile]
    rules: list[RuleDescription]
    occupation_datasets: list[DatasetDescription]

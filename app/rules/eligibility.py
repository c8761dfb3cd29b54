"""Skilled Worker eligibility of one job on one CoS assignment date (facts §3.4-3.5, design §4).

Pure: reads a `RuleBook`, never the clock or a database. Each conclusion is a reason naming the rule it
rests on, with that rule's source, window and grade, so a person can act on it or check it. Where a
figure the answer needs is not in the data, the answer is `needs_review`, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from app.api.types import PLAIN_DECIMAL, Day, VisibleStr
from app.rules import ids
from app.rules.book import RuleBook, RuleNotFound, RuleTypeError
from app.rules.models import (
    PENNY,
    DateRule,
    DurationRule,
    Money,
    MoneyRule,
    NumberRule,
    Occupation,
    RuleStatus,
    ShortageListEntry,
    SkillBand,
    SkillCondition,
    SocCodesRule,
    Source,
)


class SalaryOption(StrEnum):
    """The salary options A-E of Appendix Skilled Worker, in the order the check prefers them when
    several pass: the standard option has no conditions, the new-entrant option is time-limited."""

    standard = "standard"
    immigration_salary_list = "immigration_salary_list"
    relevant_phd = "relevant_phd"
    stem_phd = "stem_phd"
    new_entrant = "new_entrant"

    @property
    def words(self) -> str:
        return _OPTION_WORDS[self]


_OPTION_WORDS = {
    SalaryOption.standard: "standard",
    SalaryOption.immigration_salary_list: "Immigration Salary List",
    SalaryOption.relevant_phd: "relevant PhD",
    SalaryOption.stem_phd: "STEM PhD",
    SalaryOption.new_entrant: "new entrant",
}


class PhdQualification(StrEnum):
    """What the worker's doctorate is worth to the job (options B and C)."""

    none = "none"
    relevant = "relevant"
    relevant_stem = "relevant_stem"


class OptionOutcome(StrEnum):
    passes = "passes"
    needs_review = "needs_review"
    fails = "fails"
    not_open = "not_open"


class EligibilityStatus(StrEnum):
    eligible = "eligible"
    needs_review = "needs_review"
    ineligible = "ineligible"


class ReasonOutcome(StrEnum):
    """What one reason does to the answer; the worst outcome among the reasons decides the status."""

    ok = "ok"
    needs_review = "needs_review"
    ineligible = "ineligible"

    @property
    def severity(self) -> int:
        return list(ReasonOutcome).index(self)


#: A week has 168 hours; the figure is exact to the quarter hour a contract states.
WeeklyHours = Annotated[Decimal, Field(gt=0, le=168, max_digits=5, decimal_places=2), PLAIN_DECIMAL]


class EligibilityInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    soc_code: VisibleStr = Field(min_length=1, max_length=16, description="SOC 2020 code, 4 digits")
    annual_salary: Money = Field(ge=0, description="GBP a year, as a string (e.g. '41700')")
    weekly_hours: WeeklyHours = Field(description="contracted hours a week")
    age_on_application_date: StrictInt | None = Field(
        default=None, ge=0, le=130, description="the worker's age on the visa application date (new entrant)"
    )
    switching_from_student_or_graduate: StrictBool = Field(
        default=False, description="switching in the UK from a Student or Graduate visa (new entrant)"
    )
    working_towards_professional_qualification: StrictBool = Field(
        default=False, description="working towards a recognised professional qualification (new entrant)"
    )
    postdoctoral_role: StrictBool = Field(default=False, description="in a postdoctoral position (new entrant)")
    phd: PhdQualification = Field(
        default=PhdQualification.none, description="a PhD relevant to the job, in a STEM subject or not"
    )
    held_skilled_worker_permission_before_2025_07_22: StrictBool = Field(
        default=False, description="on the Skilled Worker route before 22 Jul 2025: transitional protection"
    )
    first_sponsored_before_2024_04_04: StrictBool = Field(
        default=False, description="first sponsored before 4 Apr 2024: the lower-rate cohort"
    )
    cos_assignment_date: Day


class EligibilityReason(BaseModel):
    code: str = Field(description="stable snake_case identifier")
    outcome: ReasonOutcome
    message: str
    rule_id: str | None = None
    source: Source | None = None
    effective_from: date | None = None
    effective_to: date | None = None
    status: RuleStatus | None = None


class SalaryComponentName(StrEnum):
    general_threshold = "general_threshold"
    going_rate = "going_rate"
    hourly_floor = "hourly_floor"


class SalaryComponent(BaseModel):
    """One of the three floors the salary must clear; `amount` is None when its figure is not in the data."""

    name: SalaryComponentName
    amount: Money | None
    explanation: str
    rule_ids: list[str]
    status: RuleStatus | None = Field(description="the weakest grade among the rules it uses")


class SalaryOptionAssessment(BaseModel):
    """One salary option as it stands for this worker and job."""

    option: SalaryOption
    outcome: OptionOutcome
    salary_required: Money | None
    salary_shortfall: Money | None
    explanation: str = Field(description="why it is open or not, and what it requires")


class EligibilityResult(BaseModel):
    status: EligibilityStatus
    soc_code: str
    occupation_title: str | None
    skill_band: SkillBand | None
    cos_assignment_date: date
    salary_option: SalaryOption | None = Field(
        description="the option that passes, else the closest one; None when the salary was not assessed"
    )
    annual_salary: Money
    salary_required: Money | None = Field(description="None when a figure it needs is not in the data")
    salary_shortfall: Money | None
    salary_basis: str | None
    salary_components: list[SalaryComponent]
    options: list[SalaryOptionAssessment] = Field(description="every salary option, open or not, and its outcome")
    to_pass: list[str] = Field(description="what would make the job pass, when it does not")
    reasons: list[EligibilityReason]


# --- internals ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ref:
    """The rule (or occupation record) a reason rests on."""

    rule_id: str
    source: Source | None = None
    effective_from: date | None = None
    effective_to: date | None = None
    status: RuleStatus | None = None

    @classmethod
    def of_rule(cls, entry: MoneyRule | DateRule | NumberRule | SocCodesRule | DurationRule) -> _Ref:
        return cls(entry.id, entry.source, entry.effective_from, entry.effective_to, entry.status)

    @classmethod
    def of_occupation(cls, occupation: Occupation) -> _Ref:
        return cls(
            f"{occupation.dataset_id}.{occupation.code}",
            occupation.source,
            occupation.effective_from,
            occupation.effective_to,
            occupation.status,
        )


@dataclass
class _Component:
    name: SalaryComponentName
    amount: Decimal | None
    explanation: str
    refs: list[_Ref]

    @property
    def weakest(self) -> _Ref | None:
        graded = [r for r in self.refs if r.status is not None]
        if len(graded) < len(self.refs):
            return None
        return max(graded, key=lambda r: r.status.rank if r.status else 0, default=None)

    def public(self) -> SalaryComponent:
        weakest = self.weakest
        return SalaryComponent(
            name=self.name,
            amount=self.amount,
            explanation=self.explanation,
            rule_ids=[r.rule_id for r in self.refs],
            status=weakest.status if weakest else None,
        )


_E = TypeVar("_E", MoneyRule, DateRule, NumberRule, SocCodesRule, DurationRule)


@dataclass
class _Check:
    book: RuleBook
    inp: EligibilityInput
    option: SalaryOption = SalaryOption.standard
    reasons: list[EligibilityReason] = field(default_factory=list)

    def fork(self, option: SalaryOption) -> _Check:
        """A check of one salary option, with reasons of its own."""
        return _Check(self.book, self.inp, option)

    @property
    def worst(self) -> ReasonOutcome:
        return max((r.outcome for r in self.reasons), key=lambda o: o.severity, default=ReasonOutcome.ok)

    @property
    def on(self) -> date:
        return self.inp.cos_assignment_date

    @property
    def cohort(self) -> str:
        return " for workers first sponsored before 2024-04-04" if self.inp.first_sponsored_before_2024_04_04 else ""

    def rule(self, rule_id: str, kind: type[_E]) -> _E | None:
        """The rule in force on the CoS date, or None when the data has no window for it."""
        try:
            entry = self.book.entry(rule_id, self.on)
        except RuleNotFound:
            return None
        if not isinstance(entry, kind):
            raise RuleTypeError(f"rule {rule_id!r} holds a {entry.kind} value, not {kind.__name__}")
        return entry

    def add(self, outcome: ReasonOutcome, code: str, message: str, ref: _Ref | None = None) -> ReasonOutcome:
        reason = EligibilityReason(
            code=code,
            outcome=outcome,
            message=message,
            rule_id=ref.rule_id if ref else None,
            source=ref.source if ref else None,
            effective_from=ref.effective_from if ref else None,
            effective_to=ref.effective_to if ref else None,
            status=ref.status if ref else None,
        )
        # The skill and salary checks can both reach one list restriction; say it once.
        if not any(r.code == code and r.rule_id == reason.rule_id for r in self.reasons):
            self.reasons.append(reason)
        return outcome


def _gbp(amount: Decimal) -> str:
    return f"£{amount:,.2f}"


def _plain(number: Decimal) -> str:
    return f"{number.normalize():f}"


def _ceil_penny(amount: Decimal) -> Decimal:
    # A requirement is rounded up: rounding down could pass a salary a penny short.
    return amount.quantize(PENNY, rounding=ROUND_CEILING)


def _words(text: str) -> str:
    return " ".join(text.replace("\N{EN DASH}", "-").split()).lower()


# --- the check ----------------------------------------------------------------------------------------


def check_eligibility(book: RuleBook, inp: EligibilityInput) -> EligibilityResult:
    """Can this job be sponsored with a CoS assigned on `inp.cos_assignment_date`, and at what salary?"""
    check = _Check(book, inp)
    occupation, current = _occupation_for(book, inp.soc_code, inp.cos_assignment_date)
    if occupation is None:
        check.add(
            ReasonOutcome.ineligible,
            "unknown_soc_code",
            f"SOC code {inp.soc_code.strip()!r} is not in the Skilled Worker occupation tables: check the "
            "code (SOC 2020, 4 digits) against the job's duties",
        )
        return _result(check, None, None)

    minimum = check.rule(ids.MINIMUM_RQF, NumberRule)
    if minimum is None:
        known = book.windows(ids.MINIMUM_RQF)
        since = f" (they start on {known[0].effective_from})" if known else ""
        check.add(
            ReasonOutcome.needs_review,
            "rules_not_in_data",
            "The rules data holds no Skilled Worker skill or salary rules for a CoS assigned on "
            f"{check.on}{since}: check the rules in force on that date by hand",
            _Ref(ids.MINIMUM_RQF),
        )
        return _result(check, occupation, None)

    access = _assess_occupation(check, occupation, current, minimum)
    # No salary can open an occupation that is closed, so its figures would only be noise.
    salary = None if access is ReasonOutcome.ineligible else _assess_options(check, occupation, current)
    return _result(check, occupation, salary)


def _occupation_for(book: RuleBook, code: str, on: date) -> tuple[Occupation | None, bool]:
    """The record in force on `on` (True), or else the nearest one (False), whose title and skill band
    still hold (the SOC's RQF level did not change with the July 2025 split) but whose rates and list
    entries belong to another period."""
    found = book.find_occupation(code, on)
    if found is not None:
        return found, True
    windows = book.occupation_windows(code)
    if not windows:
        return None, False

    def distance(o: Occupation) -> int:
        if on < o.effective_from:
            return (o.effective_from - on).days
        return (on - (o.effective_to or on)).days

    return min(windows, key=distance), False


# --- occupation and skill level -----------------------------------------------------------------------


def _assess_occupation(check: _Check, occ: Occupation, current: bool, minimum: NumberRule) -> ReasonOutcome:
    band = occ.skill_band
    ref = _Ref.of_occupation(occ)
    borrowed = ""
    if not current:
        borrowed = (
            f" (skill band from the occupation tables in force from {occ.effective_from}; those for "
            f"{check.on} are not in the data)"
        )
    if band.rqf_floor is None:
        return check.add(
            ReasonOutcome.ineligible,
            "occupation_ineligible",
            f"{occ.label} is not an eligible Skilled Worker occupation ({band.rqf_label}){borrowed}: no "
            "CoS can be assigned for it; check whether another SOC code describes the job",
            ref,
        )

    care = _assess_care_work(check, occ)
    if care is not None:
        return care

    if occ.skill_condition is SkillCondition.extending_same_occupation_only:
        if check.inp.held_skilled_worker_permission_before_2025_07_22:
            return check.add(
                ReasonOutcome.needs_review,
                "same_occupation_extension_only",
                f"{occ.label} is open only to workers extending their permission in the same occupation: "
                f"confirm the worker is already sponsored as {occ.title.lower()} before assigning the CoS",
                ref,
            )
        return check.add(
            ReasonOutcome.ineligible,
            "same_occupation_extension_only",
            f"{occ.label} is open only to workers already sponsored in this occupation who extend their "
            "permission: a new worker cannot be sponsored in it",
            ref,
        )

    outcomes = []
    if occ.skill_condition is SkillCondition.restricted_job_types:
        outcomes.append(
            check.add(
                ReasonOutcome.needs_review,
                "occupation_restricted_job_types",
                f"{occ.label} is eligible only for these jobs: {occ.condition_text}. Confirm the job is one of them",
                ref,
            )
        )
    elif occ.skill_condition is SkillCondition.subject_to_listed_conditions:
        listed = f": {occ.immigration_salary_list.job_types}" if occ.immigration_salary_list else ""
        outcomes.append(
            check.add(
                ReasonOutcome.needs_review,
                "occupation_listed_conditions",
                f"{occ.label} is eligible only subject to the conditions listed in the occupation "
                f"tables{listed}. Confirm the job meets them",
                ref,
            )
        )

    required = int(minimum.value)
    if band.rqf_floor >= required:
        outcomes.append(
            check.add(
                ReasonOutcome.ok,
                "skill_level_met",
                f"{occ.label} is {band.rqf_label}{borrowed}, which meets the RQF {required} minimum for a "
                f"CoS assigned on {check.on}",
                _Ref.of_rule(minimum),
            )
        )
    else:
        outcomes.append(_assess_below_minimum(check, occ, current, minimum))
    return max(outcomes, key=lambda o: o.severity)


def _assess_below_minimum(check: _Check, occ: Occupation, current: bool, minimum: NumberRule) -> ReasonOutcome:
    """An RQF 3-5 job under the RQF 6 rule: only the shortage lists or transitional protection open it."""
    required = int(minimum.value)
    if not current:
        return check.add(
            ReasonOutcome.needs_review,
            "shortage_lists_not_in_data",
            f"{occ.label} is {occ.skill_band.rqf_label}, below the RQF {required} minimum for a CoS "
            f"assigned on {check.on}, and the shortage lists of that date are not in the data: check the "
            "Temporary Shortage List and the Immigration Salary List by hand",
            _Ref.of_rule(minimum),
        )

    open_routes: list[tuple[str, str, DateRule]] = []
    restricted_routes: list[tuple[str, str, str]] = []
    ended: list[str] = []
    for code, name, entry, rule_id in (
        (
            "temporary_shortage_list",
            "Temporary Shortage List",
            occ.temporary_shortage_list,
            ids.TSL_VALID_UNTIL,
        ),
        (
            "immigration_salary_list",
            "Immigration Salary List",
            occ.immigration_salary_list,
            ids.ISL_VALID_UNTIL,
        ),
    ):
        if entry is None:
            continue
        until = check.rule(rule_id, DateRule)
        if until is None or check.on > until.value:
            last = f" up to {until.value}" if until else " in another period"
            ended.append(f"its {name} entry covered CoS assigned{last}")
            continue
        restriction = _list_restriction(entry, occ)
        if restriction is None:
            open_routes.append((code, name, until))
        else:
            restricted_routes.append((code, name, restriction))

    if open_routes:
        for code, name, until in open_routes:
            check.add(
                ReasonOutcome.ok,
                f"on_{code}",
                f"{occ.label} is below RQF {required} but on the {name} for a CoS assigned up to "
                f"{until.value}: it can be sponsored through the list; a new worker in it cannot bring "
                "dependants",
                _Ref.of_rule(until),
            )
        return ReasonOutcome.ok
    if restricted_routes:
        for code, name, restriction in restricted_routes:
            check.add(
                ReasonOutcome.needs_review,
                f"{code}_entry_restricted",
                f"{occ.label} is on the {name} only for {restriction}. Confirm the job is covered: "
                f"otherwise it is below RQF {required} and cannot be sponsored",
                _Ref.of_occupation(occ),
            )
        return ReasonOutcome.needs_review

    protection = check.rule(ids.TRANSITIONAL_PROTECTION, DateRule)
    if protection is not None and check.inp.held_skilled_worker_permission_before_2025_07_22:
        return check.add(
            ReasonOutcome.ok,
            "transitional_protection",
            f"{occ.label} is below RQF {required} and on no shortage list, but the worker held Skilled "
            f"Worker permission before {protection.value}: transitional protection allows an extension, a "
            "change of employer or supplementary work in this occupation; the current salary thresholds "
            "still apply",
            _Ref.of_rule(protection),
        )
    message = f"{occ.label} is below RQF {required} and on no shortage list"
    if ended:
        message += f" in force ({'; '.join(ended)})"
    message += f": new Skilled Worker CoS assigned on or after {minimum.effective_from} are not possible"
    if protection is not None:
        cut_off = "that date" if protection.value == minimum.effective_from else str(protection.value)
        message += f"; workers already sponsored before {cut_off} may stay (transitional protection)"
    return check.add(ReasonOutcome.ineligible, "below_skill_level_no_shortage_list", message, _Ref.of_rule(minimum))


def _list_restriction(entry: ShortageListEntry, occ: Occupation) -> str | None:
    """What a list entry limits itself to, or None when it covers every job in the occupation UK-wide."""
    title = _words(occ.title)
    every_job = _words(entry.job_types) in (title, f"{title} - all jobs")
    uk_wide = entry.areas is None or _words(entry.areas) == "uk wide"
    if every_job and uk_wide:
        return None
    scope = entry.job_types if not every_job else "all jobs"
    return f"{scope!r}" + ("" if uk_wide else f" in {entry.areas}")


def _assess_care_work(check: _Check, occ: Occupation) -> ReasonOutcome | None:
    """Care workers: overseas recruitment closed on 22 Jul 2025; in-country switching only, on conditions."""
    codes = check.rule(ids.CARE_WORKER_CODES, SocCodesRule)
    if codes is None or occ.code not in codes.value:
        return None
    message = f"{occ.label}: overseas recruitment closed for CoS assigned on or after {codes.effective_from}"
    until = check.rule(ids.CARE_WORKER_SWITCH_UNTIL, DateRule)
    prior = check.rule(ids.CARE_WORKER_PRIOR_EMPLOYMENT, DurationRule)
    if until is not None and prior is not None:
        message += (
            f"; a worker already in the UK may switch into it until {until.value} if they have worked for "
            f"the sponsor for at least {prior.value} before the CoS is assigned"
        )
    if check.inp.held_skilled_worker_permission_before_2025_07_22:
        message += "; the worker's transitional protection also allows an extension or a change of employer"
    if occ.immigration_salary_list is not None:
        conditions = occ.immigration_salary_list.job_types.rstrip(".")
        message += f"; the job must also meet the list's conditions: {conditions}"
    message += ". Check these conditions before assigning a CoS"
    return check.add(ReasonOutcome.needs_review, "care_worker_conditions", message, _Ref.of_rule(codes))


# --- salary -------------------------------------------------------------------------------------------

# Which going rate of the occupation tables each option uses: (standard cohort, lower-rate cohort); the
# Immigration Salary List option uses the list entry's rates.
_RATE_FIELDS = {
    SalaryOption.standard: ("standard", "lower"),
    SalaryOption.relevant_phd: ("phd_non_stem", "phd_non_stem_lower"),
    SalaryOption.stem_phd: ("phd_stem", "phd_stem_lower"),
    SalaryOption.new_entrant: ("new_entrant", "new_entrant_lower"),
}


@dataclass
class _Salary:
    required: Decimal | None
    shortfall: Decimal | None
    basis: str
    components: list[_Component]
    options: list[SalaryOptionAssessment] = field(default_factory=list)
    to_pass: list[str] = field(default_factory=list)


@dataclass
class _Option:
    """One salary option tried on its own check: `opens` says why it applies or why it does not."""

    option: SalaryOption
    open: bool
    opens: str
    ref: _Ref | None
    check: _Check | None = None
    salary: _Salary | None = None

    @property
    def outcome(self) -> OptionOutcome:
        if not self.open:
            return OptionOutcome.not_open
        assert self.check is not None
        return {
            ReasonOutcome.ok: OptionOutcome.passes,
            ReasonOutcome.needs_review: OptionOutcome.needs_review,
            ReasonOutcome.ineligible: OptionOutcome.fails,
        }[self.check.worst]

    def outcome_if_open(self) -> OptionOutcome | None:
        """The outcome a worker-dependent option would have if the facts opened it."""
        if self.check is None:
            return None
        return _Option(self.option, True, self.opens, self.ref, self.check, self.salary).outcome

    def rank(self) -> tuple[int, int, Decimal, int]:
        """Best first: passing, then needing review, then failing on salary alone (smallest shortfall
        first), then closed by a missing rate; ties go to the preferred option."""
        assert self.check is not None and self.salary is not None
        severity = self.check.worst.severity
        shortfall = self.salary.shortfall
        blocked = severity == ReasonOutcome.ineligible.severity and shortfall is None
        return severity, int(blocked), shortfall or Decimal(0), list(SalaryOption).index(self.option)

    def public(self) -> SalaryOptionAssessment:
        required = self.salary.required if self.salary else None
        shortfall = self.salary.shortfall if self.salary else None
        explanation = self.opens
        if self.open and self.salary is not None:
            explanation += f"; requires {self.salary.basis}"
        return SalaryOptionAssessment(
            option=self.option,
            outcome=self.outcome,
            salary_required=required,
            salary_shortfall=_ceil_penny(shortfall) if shortfall is not None else None,
            explanation=explanation,
        )


def _assess_options(check: _Check, occ: Occupation, current: bool) -> _Salary:
    """Try every salary option the facts open, name the one that passes (or the closest), and say what
    the others would need."""
    tried = [_option_open(check, occ, option) for option in SalaryOption]
    for option in tried:
        # A worker-dependent option is tried even when not open, to say what would open it.
        if option.open or option.option in _WORKER_OPTIONS:
            option.check = check.fork(option.option)
            option.salary = _assess_salary(option.check, occ, current)
    named = min((o for o in tried if o.open), key=_Option.rank)
    assert named.check is not None and named.salary is not None
    check.option = named.option
    if named.option is not SalaryOption.standard:
        check.add(
            ReasonOutcome.ok, "salary_option", f"{named.option.words.capitalize()} option: {named.opens}", named.ref
        )
    for reason in named.check.reasons:
        check.reasons.append(reason)
    salary = named.salary
    salary.options = [o.public() for o in tried]
    if named.outcome is not OptionOutcome.passes:
        salary.to_pass = _to_pass(named, tried)
    return salary


#: Options that depend on the worker rather than the job: tried even when the facts stated do not open
#: them, so the answer can say which fact would.
_WORKER_OPTIONS = frozenset({SalaryOption.relevant_phd, SalaryOption.stem_phd, SalaryOption.new_entrant})
_PHD_OPENS = {
    SalaryOption.relevant_phd: (
        {PhdQualification.relevant, PhdQualification.relevant_stem},
        "the worker has a PhD relevant to the job",
    ),
    SalaryOption.stem_phd: ({PhdQualification.relevant_stem}, "the worker has a STEM PhD relevant to the job"),
}


def _option_open(check: _Check, occ: Occupation, option: SalaryOption) -> _Option:
    """Whether the facts open `option`, and why in words."""
    inp = check.inp
    if option is SalaryOption.standard:
        return _Option(option, True, "open to every job", None)
    if option is SalaryOption.immigration_salary_list:
        until = check.rule(ids.ISL_VALID_UNTIL, DateRule)
        ref = _Ref.of_rule(until) if until else _Ref(ids.ISL_VALID_UNTIL)
        if occ.immigration_salary_list is None:
            return _Option(option, False, f"{occ.label} is not on the Immigration Salary List", ref)
        if until is None or check.on > until.value:
            last = f"up to {until.value}" if until else "in another period"
            return _Option(option, False, f"the Immigration Salary List covers CoS assigned {last}", ref)
        return _Option(
            option, True, f"{occ.label} is on the Immigration Salary List for CoS assigned up to {until.value}", ref
        )
    if option in _PHD_OPENS:
        qualifying, words = _PHD_OPENS[option]
        if inp.phd in qualifying:
            return _Option(option, True, words, None)
        return _Option(option, False, f"it applies when {words}", None)
    return _new_entrant_open(check)


def _new_entrant_open(check: _Check) -> _Option:
    inp = check.inp
    limit = check.rule(ids.NEW_ENTRANT_AGE_LIMIT, NumberRule)
    ref = _Ref.of_rule(limit) if limit else _Ref(ids.NEW_ENTRANT_AGE_LIMIT)
    under = f"under {_plain(limit.value)}" if limit else "under the new-entrant age limit"
    facts = (
        (
            limit is not None and inp.age_on_application_date is not None and inp.age_on_application_date < limit.value,
            f"the worker is {under} on the visa application date",
        ),
        (inp.switching_from_student_or_graduate, "the worker switches from a Student or Graduate visa"),
        (
            inp.working_towards_professional_qualification,
            "the worker is working towards a recognised professional qualification",
        ),
        (inp.postdoctoral_role, "the job is a postdoctoral position"),
    )
    met = [words for holds, words in facts if holds]
    if met:
        return _Option(SalaryOption.new_entrant, True, "; ".join(met), ref)
    return _Option(
        SalaryOption.new_entrant,
        False,
        f"it applies to a worker {under} on the visa application date, switching from a Student or "
        "Graduate visa, working towards a recognised professional qualification, or in a postdoctoral position",
        ref,
    )


def _to_pass(named: _Option, tried: list[_Option]) -> list[str]:
    hints = []
    if named.salary is not None and named.salary.required is not None and named.salary.shortfall is not None:
        hints.append(
            f"raise the salary to {_gbp(named.salary.required)} ({_gbp(_ceil_penny(named.salary.shortfall))} "
            f"more) under the {named.option.words} option"
        )
    for option in tried:
        if not option.open and option.outcome_if_open() is OptionOutcome.passes and option.salary is not None:
            required = option.salary.required
            needs = f" (it requires {_gbp(required)})" if required is not None else ""
            hints.append(f"the {option.option.words} option would pass at this salary{needs}: {option.opens}")
    return hints


def _assess_salary(check: _Check, occ: Occupation, current: bool) -> _Salary:
    inp = check.inp
    components = [_general_threshold(check)]
    going, blocked = _going_rate(check, occ, current)
    components.append(going)
    components.append(_hourly_floor(check))

    known = [c for c in components if c.amount is not None]
    complete = not blocked and len(known) == len(components)
    binding = max(known, key=lambda c: c.amount or Decimal(0), default=None)
    salary = inp.annual_salary
    shortfall: Decimal | None = None
    deciding: list[_Component] = []
    words = check.option.words
    if binding is not None and binding.amount is not None and salary < binding.amount:
        shortfall = binding.amount - salary
        deciding = [c for c in known if c.amount is not None and salary < c.amount]
        check.add(
            ReasonOutcome.ineligible,
            "salary_below_required",
            f"The annual salary of {_gbp(salary)} is {_gbp(_ceil_penny(shortfall))} short of the "
            f"{_gbp(binding.amount)} required under the {words} option ({binding.explanation}): raise the "
            f"salary to {_gbp(binding.amount)}",
            binding.refs[0],
        )
    elif complete and binding is not None and binding.amount is not None:
        deciding = [binding]
        check.add(
            ReasonOutcome.ok,
            "salary_meets_requirement",
            f"The annual salary of {_gbp(salary)} meets the {_gbp(binding.amount)} required under the {words} "
            f"option ({binding.explanation})",
            binding.refs[0],
        )
    # A doubtful figure matters only where it decides the answer.
    for component in deciding:
        weakest = component.weakest
        if weakest is not None and weakest.status is not None and weakest.status.doubtful:
            check.add(
                ReasonOutcome.needs_review,
                "depends_on_unconfirmed_rule",
                f"The salary answer turns on the {component.name.value.replace('_', ' ')} "
                f"({component.explanation}), which uses a figure graded {weakest.status.value} "
                f"({weakest.rule_id}): check it before relying on the answer",
                weakest,
            )

    parts = "; ".join(c.explanation for c in components)
    if complete and binding is not None and binding.amount is not None:
        return _Salary(binding.amount, shortfall, f"{_gbp(binding.amount)}, the highest of: {parts}", components)
    floor = f"at least {_gbp(binding.amount)}" if binding and binding.amount is not None else "not known"
    return _Salary(None, shortfall, f"{floor}; the data cannot settle it: {parts}", components)


def _general_threshold(check: _Check) -> _Component:
    option = check.option
    rule_id = ids.general_threshold(option.value, check.inp.first_sponsored_before_2024_04_04)
    rule = check.rule(rule_id, MoneyRule)
    if rule is None:
        check.add(
            ReasonOutcome.needs_review,
            "rule_not_in_data",
            f"The rules data holds no general salary threshold for option {option.value}{check.cohort} for "
            f"a CoS assigned on {check.on}: check the threshold by hand",
            _Ref(rule_id),
        )
        return _Component(
            SalaryComponentName.general_threshold,
            None,
            f"general threshold for option {option.value}{check.cohort}: not in the data",
            [_Ref(rule_id)],
        )
    return _Component(
        SalaryComponentName.general_threshold,
        rule.value,
        f"general threshold for option {option.value}{check.cohort}: {_gbp(rule.value)}",
        [_Ref.of_rule(rule)],
    )


def _going_rate(check: _Check, occ: Occupation, current: bool) -> tuple[_Component, bool]:
    """The going rate for the option, pro-rated to the hours; True when the option is closed to the job."""
    inp = check.inp
    option = check.option
    lower = inp.first_sponsored_before_2024_04_04
    ref = _Ref.of_occupation(occ)
    rate_name = "lower going rate" if lower else "going rate"

    def unknown(why: str, blocked: bool = False) -> tuple[_Component, bool]:
        return _Component(SalaryComponentName.going_rate, None, f"{rate_name}: {why}", [ref]), blocked

    if not current:
        check.add(
            ReasonOutcome.needs_review,
            "going_rate_not_in_data",
            f"The going rates for a CoS assigned on {check.on} are not in the rules data (the occupation "
            f"tables start on {occ.effective_from}): check the {rate_name} for {occ.label} under option "
            f"{option.value} by hand",
            ref,
        )
        return unknown(f"not in the data for {check.on}")

    rate: Decimal | None
    if option is SalaryOption.immigration_salary_list:
        entry = occ.immigration_salary_list
        assert entry is not None  # the option is tried only for an occupation on the list
        restriction = _list_restriction(entry, occ)
        if restriction is not None:
            check.add(
                ReasonOutcome.needs_review,
                "immigration_salary_list_entry_restricted",
                f"{occ.label} is on the Immigration Salary List only for {restriction}. Confirm the job is "
                "covered: otherwise the Immigration Salary List salary option does not apply",
                ref,
            )
        rate = entry.lower_rate if lower else entry.rate
        rate_name = f"Immigration Salary List {rate_name}"
    else:
        standard_field, lower_field = _RATE_FIELDS[option]
        rate = getattr(occ.going_rates, lower_field if lower else standard_field)

    if rate is None:
        return _missing_rate(check, occ, rate_name, ref)
    hours = inp.weekly_hours
    prorated = _ceil_penny(rate * hours / occ.hours_per_week_basis)
    explanation = (
        f"{rate_name} for {occ.label} under option {option.value}: {_gbp(rate)} a year for "
        f"{_plain(occ.hours_per_week_basis)} hours a week, pro-rated to {_plain(hours)} hours: "
        f"{_gbp(prorated)}"
    )
    return _Component(SalaryComponentName.going_rate, prorated, explanation, [ref]), False


def _missing_rate(check: _Check, occ: Occupation, rate_name: str, ref: _Ref) -> tuple[_Component, bool]:
    option = check.option
    rates = occ.going_rates
    if rates.none_published and option is not SalaryOption.immigration_salary_list:
        urls = ", ".join(occ.national_pay_scale_urls) or "the national pay scales"
        check.add(
            ReasonOutcome.needs_review,
            "going_rate_on_national_pay_scale",
            f"{occ.label} has no going rate in the occupation tables: health and education jobs are paid "
            f"against national pay scales ({urls}); check the rate for this job by hand",
            ref,
        )
        return _Component(SalaryComponentName.going_rate, None, f"{rate_name}: national pay scale", [ref]), False
    if rates.note:
        message = (
            f"{occ.label} has no {rate_name} under option {option.value}{check.cohort} (the tables say: "
            f"{rates.note}): it cannot be sponsored on that basis; check another salary option or whether "
            "the worker is in the lower-rate cohort (first sponsored before 2024-04-04)"
        )
        code = "going_rate_not_available"
    elif option in (SalaryOption.relevant_phd, SalaryOption.stem_phd):
        message = (
            f"{occ.label} does not qualify for the PhD salary discount (the tables give it no PhD "
            f"{rate_name}): use another salary option"
        )
        code = "phd_option_not_available"
    else:
        message = (
            f"{occ.label} has no {rate_name} under option {option.value}{check.cohort}: this option is not "
            "available for it; use another salary option"
        )
        code = "going_rate_not_available"
    check.add(ReasonOutcome.ineligible, code, message, ref)
    return _Component(SalaryComponentName.going_rate, None, f"{rate_name}: none for this option", [ref]), True


def _hourly_floor(check: _Check) -> _Component:
    inp = check.inp
    floor_id = ids.HOURLY_FLOOR_LOWER_RATE_COHORT if inp.first_sponsored_before_2024_04_04 else ids.HOURLY_FLOOR
    floor = check.rule(floor_id, MoneyRule)
    weeks = check.rule(ids.WEEKS_PER_YEAR, NumberRule)
    hours = inp.weekly_hours
    if floor is None or weeks is None:
        missing = floor_id if floor is None else ids.WEEKS_PER_YEAR
        paid = f" ({_gbp(inp.annual_salary / (hours * weeks.value))} an hour)" if weeks is not None else ""
        check.add(
            ReasonOutcome.needs_review,
            "rule_not_in_data",
            f"The rules data holds no hourly salary floor{check.cohort} for a CoS assigned on {check.on}: "
            f"check by hand that the pay{paid} meets the floor",
            _Ref(missing),
        )
        return _Component(SalaryComponentName.hourly_floor, None, "hourly floor: not in the data", [_Ref(missing)])
    # The floor is stated to the penny and met by hourly pay that rounds to it, so the lowest annual pay
    # that meets it is half a penny an hour below the floor (£33,400 for 37.5 hours is £17.128 an hour).
    annual = _ceil_penny((floor.value - PENNY / 2) * hours * weeks.value)
    return _Component(
        SalaryComponentName.hourly_floor,
        annual,
        f"hourly floor {_gbp(floor.value)} an hour (pay rounded to the penny) for {_plain(hours)} hours a "
        f"week over {_plain(weeks.value)} weeks: {_gbp(annual)}",
        [_Ref.of_rule(floor), _Ref.of_rule(weeks)],
    )


def _result(check: _Check, occ: Occupation | None, salary: _Salary | None) -> EligibilityResult:
    worst = max((r.outcome for r in check.reasons), key=lambda o: o.severity, default=ReasonOutcome.needs_review)
    status = {
        ReasonOutcome.ok: EligibilityStatus.eligible,
        ReasonOutcome.needs_review: EligibilityStatus.needs_review,
        ReasonOutcome.ineligible: EligibilityStatus.ineligible,
    }[worst]
    inp = check.inp
    return EligibilityResult(
        status=status,
        soc_code=inp.soc_code.strip(),
        occupation_title=occ.title if occ else None,
        skill_band=occ.skill_band if occ else None,
        cos_assignment_date=inp.cos_assignment_date,
        salary_option=check.option if salary else None,
        annual_salary=inp.annual_salary,
        salary_required=salary.required if salary else None,
        salary_shortfall=_ceil_penny(salary.shortfall) if salary and salary.shortfall is not None else None,
        salary_basis=salary.basis if salary else None,
        salary_components=[c.public() for c in salary.components] if salary else [],
        options=salary.options if salary else [],
        to_pass=salary.to_pass if salary else [],
        reasons=check.reasons,
    )

"""Versioned UK sponsorship rules (design §4): data in `data/`, loaded into a `RuleBook`; the Skilled
Worker eligibility check and the cost estimate read only that book. No database, clock or network.

    book = load_rulebook(settings.rules_path)          # once, at start-up
    check_eligibility(book, EligibilityInput(...))
    estimate_costs(book, CostInput(...))
    book.duration(ids.REPORTING_WORKER_EVENT, on=trigger_date).after(trigger_date, nation)
"""

from app.rules import ids
from app.rules.book import OccupationNotFound, RuleBook, RuleNotFound, RuleTypeError
from app.rules.costs import CostEstimate, CostInput, CostLine, Payer, VisaService, estimate_costs
from app.rules.eligibility import (
    EligibilityInput,
    EligibilityReason,
    EligibilityResult,
    EligibilityStatus,
    OptionOutcome,
    PhdQualification,
    ReasonOutcome,
    SalaryComponent,
    SalaryOption,
    SalaryOptionAssessment,
    check_eligibility,
)
from app.rules.loader import RulesError, load_rulebook
from app.rules.models import (
    Duration,
    Occupation,
    OccupationMatch,
    RuleBookDescription,
    RuleEntry,
    RuleStatus,
    Source,
    SponsorSize,
)

__all__ = [
    "CostEstimate",
    "CostInput",
    "CostLine",
    "Duration",
    "EligibilityInput",
    "EligibilityReason",
    "EligibilityResult",
    "EligibilityStatus",
    "Occupation",
    "OccupationMatch",
    "OccupationNotFound",
    "OptionOutcome",
    "Payer",
    "PhdQualification",
    "ReasonOutcome",
    "RuleBook",
    "RuleBookDescription",
    "RuleEntry",
    "RuleNotFound",
    "RuleStatus",
    "RuleTypeError",
    "RulesError",
    "SalaryComponent",
    "SalaryOption",
    "SalaryOptionAssessment",
    "Source",
    "SponsorSize",
    "VisaService",
    "check_eligibility",
    "estimate_costs",
    "ids",
    "load_rulebook",
]

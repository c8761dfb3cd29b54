"""The rules data over HTTP: stateless eligibility checks and cost estimates, occupation look-ups, and
what the service loaded. Every answer comes from the app's `RuleBook` (shipped data plus overrides)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from app.api.types import Day, VisibleStr
from app.errors import NotFound, ProblemError
from app.rules.book import OccupationNotFound
from app.rules.changes import RuleChanges, rule_changes
from app.rules.costs import CostEstimate, estimate_costs
from app.rules.eligibility import EligibilityResult, check_eligibility
from app.rules.models import RuleBookDescription, RuleDescription
from app.rules.schemas import CostEstimateRequest, EligibilityCheckRequest, OccupationAsOf, OccupationSearch
from app.web.routing import DefaultLimit, Limit, ViewerWithRules, v1_router

router = v1_router("rules")

On = Annotated[Day | None, Query(description="the date to read the rules on; defaults to today in the UK")]


@router.post("/eligibility-checks")
async def create_eligibility_check(body: EligibilityCheckRequest, org: ViewerWithRules) -> EligibilityResult:
    """Can this job be sponsored on the Skilled Worker route with a CoS assigned on
    `cos_assignment_date` (default today), and at what salary? Stateless: nothing is stored.
    `status` is `eligible`, `needs_review` (a figure is missing or doubtful, or a condition needs a
    person to confirm) or `ineligible`; each reason names the rule it rests on with its source and
    window. An unknown SOC code is an answer (`ineligible`, reason `unknown_soc_code`), not an error."""
    return check_eligibility(org.book, body.resolve(org.today))


@router.post("/cost-estimates")
async def create_cost_estimate(body: CostEstimateRequest, org: ViewerWithRules) -> CostEstimate:
    """Itemise what one sponsored hire costs: licence fee (if asked), CoS fee and Immigration Skills
    Charge on the CoS assignment date (default today), visa fee and Immigration Health Surcharge on the
    application date (default the CoS date). Each line names its rule, date and payer. Stateless. When
    a charge for a date is not in the data the answer is `422 rule_not_in_force`, never a partial total."""
    return estimate_costs(org.book, body.resolve(org.today))


@router.get("/occupations")
async def search_occupations(
    org: ViewerWithRules,
    q: Annotated[
        VisibleStr, Query(min_length=1, max_length=200, description="a SOC code, its first digits, or title words")
    ],
    on: On = None,
    limit: Limit = DefaultLimit,
) -> OccupationSearch:
    """Search the occupations in force on `on` (default today) by SOC code or title words, best first:
    the exact code, codes starting with the digits typed, titles holding every word, then titles holding
    some. A word matches a title word it starts ("superv" finds "supervisors")."""
    day = on or org.today
    return OccupationSearch(q=q, on=day, data=org.book.search_occupations(q, day, limit))


@router.get("/occupations/{code}")
async def get_occupation(code: VisibleStr, org: ViewerWithRules, on: On = None) -> OccupationAsOf:
    """One SOC 2020 occupation as it stands on `on` (default today): skill band, going rates, and
    whether it is on the Temporary Shortage List and the Immigration Salary List for a CoS assigned that
    day. 404 when the code is not in the occupation tables, or its data does not cover the date (the
    detail says which)."""
    day = on or org.today
    try:
        occupation = org.book.occupation(code, day)
    except OccupationNotFound as exc:
        raise ProblemError(404, "not_found", str(exc)) from exc
    return OccupationAsOf.of(org.book, occupation, day)


@router.get("/rules")
async def describe_rules(org: ViewerWithRules) -> RuleBookDescription:
    """What the service loaded: each rule's windows with value, source and confidence grade, the
    occupation datasets, the files read, and which of them came from the override directory
    (SPONSORFLOW_RULES_PATH)."""
    return org.book.describe()


@router.get("/rules/changes")
async def list_rule_changes(
    org: ViewerWithRules,
    start: Annotated[Day | None, Query(alias="from", description="first day to list; defaults to today (UK)")] = None,
    end: Annotated[Day | None, Query(alias="to", description="last day to list; none for every later change")] = None,
) -> RuleChanges:
    """The dated changes in the rules data, soonest first: a new figure replacing the old (`value_changes`),
    a rule with no figure after a date (`ends`), a list's last covered day passing (`list_closes`, e.g. the
    Temporary Shortage List for CoS assigned from 2027-01-01), each with its rule, source and grade. Where a
    rule's data begins is not a change. Figures a source reports with no date are listed under `undated`."""
    first = start or org.today
    if end is not None and end < first:
        raise ProblemError(422, "validation_error", f"`to` ({end}) is before `from` ({first})")
    return rule_changes(org.book, first, end)


@router.get("/rules/{rule_id}")
async def get_rule(rule_id: VisibleStr, org: ViewerWithRules) -> RuleDescription:
    """Every window of one rule, oldest first, with value, source, grade and the file it came from."""
    found = next((rule for rule in org.book.describe().rules if rule.id == rule_id), None)
    if found is None:
        raise NotFound(f"rule {rule_id!r}")
    return found

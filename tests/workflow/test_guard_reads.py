"""Each guard declares the facts it reads: the service looks up only those (a fact no guard declares
is never loaded), so an undeclared read would judge a case on a blank fact."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from app.workflow import HIRE, LICENCE, Facts, GuardInput
from tests.support.workflow_cases import GOOD_FACTS, GOOD_PAYLOAD, Case

FACT_FIELDS = frozenset(f.name for f in dataclasses.fields(Facts)) - {"today"}


class _Recording(Facts):
    """Facts that note every field a guard looks at."""

    def __getattribute__(self, name: str) -> Any:
        if name in FACT_FIELDS:
            object.__getattribute__(self, "__dict__").setdefault("_seen", set()).add(name)
        return object.__getattribute__(self, name)


def _seen(facts: _Recording) -> set[str]:
    return set(object.__getattribute__(facts, "__dict__").get("_seen", set()))


GUARDED = [
    (workflow, action, source)
    for workflow in (HIRE, LICENCE)
    for action in workflow.actions
    if action.guards
    for source in action.sources
]


@pytest.mark.parametrize(
    ("workflow", "action", "source"), GUARDED, ids=[f"{w.name}.{a.name}.{s}" for w, a, s in GUARDED]
)
@pytest.mark.parametrize("inside_uk", [True, False, None])
@pytest.mark.parametrize("payload", [GOOD_PAYLOAD, {}], ids=["payload", "no-payload"])
def test_a_guard_reads_only_the_facts_it_declares(
    workflow: Any, action: Any, source: str, inside_uk: bool | None, payload: Any
) -> None:
    for guard in action.guards:
        facts = _Recording(**{f.name: getattr(GOOD_FACTS, f.name) for f in dataclasses.fields(Facts)})
        guard.check(GuardInput(Case(state=source, inside_uk=inside_uk), facts, payload))
        assert _seen(facts) <= guard.reads, (guard.code, _seen(facts) - guard.reads)


def test_change_job_locks_nothing_of_the_organisation() -> None:
    # The hot path of an HRIS sync: its own guards read no fact, so nothing is locked before the case.
    change_job = HIRE.find_action("change_job")
    assert change_job is not None
    assert change_job.reads == frozenset()
    # Its view does: a new CoS can be assigned from employment, guarded by the licence and allocation.
    assert {"licence_state", "undefined_cos_remaining"} <= HIRE.reads_in("employed")


def test_views_of_cases_before_a_cos_read_the_licence_and_allocation() -> None:
    assert {"licence_state", "undefined_cos_remaining"} <= HIRE.reads_in("draft")
    assert "open_obligations" in HIRE.reads_in("sponsorship_ended")  # close waits for every report

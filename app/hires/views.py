"""Hire responses, built from what the use case already holds in memory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app import cases
from app.deadlines import service as deadlines
from app.deadlines.models import Deadline
from app.hires import eligibility
from app.hires.models import Hire
from app.hires.queries import facts as case_facts
from app.hires.schemas import DeadlineSummary, HireOut, ObligationSummary
from app.licences.models import CosAllocation, Licence
from app.obligations import service as obligations
from app.obligations.models import Obligation
from app.rules.book import RuleBook
from app.workflow import HIRE, Facts, GuardInput


@dataclass(frozen=True)
class Summaries:
    deadlines: dict[str, list[Deadline]]
    obligations: dict[str, list[Obligation]]

    @classmethod
    async def load(cls, session: AsyncSession, hire_ids: list[str]) -> Summaries:
        return cls(await deadlines.open_for(session, hire_ids), await obligations.open_for(session, hire_ids))

    def of(
        self, hire: Hire, licence: Licence | None, allocation: CosAllocation | None, today: date, book: RuleBook
    ) -> HireOut:
        owed = self.obligations.get(hire.id, [])
        assessed = eligibility.current(hire, book, today)
        facts = case_facts(licence, allocation, today, assessed, len(owed))
        return view(hire, facts, self.deadlines.get(hire.id, []), owed, assessed)


def view(
    hire: Hire,
    facts: Facts,
    open_deadlines: list[Deadline],
    open_obligations: list[Obligation],
    assessed: eligibility.Assessment | None,
) -> HireOut:
    fields = {name: getattr(hire, name) for name in HireOut.model_fields if hasattr(Hire, name)}
    fields["eligibility_status"], fields["eligibility"] = assessed or (None, None)
    return HireOut(
        **fields,
        available_actions=cases.available(HIRE, hire, GuardInput(hire, facts)),
        open_deadlines=[
            DeadlineSummary(id=d.id, kind=d.kind, status=d.status, due_at=d.due_at, warn_at=d.warn_at)
            for d in open_deadlines
        ],
        open_obligations=[
            ObligationSummary(id=o.id, kind=o.kind, status=o.status, due_on=o.due_on) for o in open_obligations
        ],
    )

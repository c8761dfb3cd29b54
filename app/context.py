"""The context of a use case: who acts for which organisation and when, with the rules in force."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from app.audit.schemas import Actor
from app.audit.service import SYSTEM
from app.calendar import Nation
from app.rules.book import RuleBook

UK = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class Context:
    """Who acts for which organisation and when, with the rules in force: what every case use case
    needs besides its own input."""

    organisation_id: str
    actor: Actor
    now: datetime
    book: RuleBook
    sponsor_nation: Nation
    clock_id: str | None = None  # the organisation's sandbox test clock, if any
    sponsor_size: str | None = None  # when the caller knows it (the request's cached organisation)

    @cached_property
    def today(self) -> date:
        # Asked dozens of times in one action (every guard, deadline and obligation rule): worked out once.
        return uk_today(self.now)

    def as_system(self) -> Context:
        return replace(self, actor=SYSTEM)


def uk_today(now: datetime) -> date:
    """The date in the UK: the Home Office counts days there, whatever the server's zone."""
    return now.astimezone(UK).date()

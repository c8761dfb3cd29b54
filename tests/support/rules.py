"""Builders for rules-data test inputs: rule entries, override directories, eligibility inputs."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from app.rules import EligibilityInput, EligibilityResult, RuleBook, check_eligibility

SOURCE = {"url": "https://www.gov.uk/skilled-worker-visa/your-job", "title": "operator correction (test)"}


def money_rule(rule_id: str, value: str, effective_from: date, effective_to: date | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": rule_id,
        "kind": "money",
        "value": value,
        "effective_from": effective_from,
        "status": "confirmed",
        "source": SOURCE,
    }
    if effective_to is not None:
        entry["effective_to"] = effective_to
    return entry


def write_rules(directory: Path, name: str, entries: list[dict[str, Any]]) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump({"rules": entries}, sort_keys=False), encoding="utf-8")
    return path


def write_occupations(
    directory: Path, name: str, occupations: dict[str, Any], effective_date: str = "2025-07-22"
) -> Path:
    """An occupations JSON of the shipped shape holding only `occupations`."""
    path = directory / name
    document = {
        "route": "Skilled Worker",
        "effective_date": effective_date,
        "source_url": "https://www.gov.uk/skilled-worker-visa/your-job",
        "hours_per_week_basis": 37.5,
        "occupations": occupations,
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def assess(
    book: RuleBook,
    code: str,
    on: date,
    salary: str = "41700",
    hours: str = "37.5",
    **flags: Any,
) -> EligibilityResult:
    return check_eligibility(
        book,
        EligibilityInput(
            soc_code=code,
            annual_salary=Decimal(salary),
            weekly_hours=Decimal(hours),
            cos_assignment_date=on,
            **flags,
        ),
    )


def codes(result: EligibilityResult) -> list[str]:
    return [reason.code for reason in result.reasons]

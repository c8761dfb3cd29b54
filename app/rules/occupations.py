"""The occupations JSON as shipped (data README) and its normalisation into `Occupation` records."""

from __future__ import annotations

import re
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from app.rules.models import (
    ExactDecimal,
    GoingRates,
    Money,
    Occupation,
    OccupationDataset,
    Origin,
    ShortageListEntry,
    SkillBand,
    SkillCondition,
)


class RawOccupation(BaseModel):
    """One entry under `occupations` in the JSON; unknown keys are refused so typos surface."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    job_type: str = Field(min_length=1)
    skill_level: str = Field(min_length=1)
    going_rate: Money | None = None
    going_rate_note: str | None = None
    lower_going_rate: Money | None = None
    new_entrant_rate: Money | None = None
    new_entrant_lower_rate: Money | None = None
    phd_non_stem_rate: Money | None = None
    phd_stem_rate: Money | None = None
    phd_non_stem_lower_rate: Money | None = None
    phd_stem_lower_rate: Money | None = None
    temporary_shortage_list: ShortageListEntry | None = None
    immigration_salary_list: ShortageListEntry | None = None


class OccupationsFile(BaseModel):
    """The file's header plus its occupations; header keys we do not use are ignored."""

    model_config = ConfigDict(extra="ignore")

    route: str | None = None
    effective_date: date
    source_url: str | None = None
    hours_per_week_basis: ExactDecimal = Field(gt=0)
    national_pay_scale_urls: list[str] = Field(default_factory=list)
    occupations: dict[str, RawOccupation]


# The tables write the band first, then an optional qualifier after a hyphen or dash that sometimes
# lacks its space ("Medium Skilled<en dash> extending in same occupation only").
_LABEL = re.compile(r"^(?P<band>Higher Skilled|Medium Skilled|Ineligible)\s*(?:[-\u2013\u2014]\s*(?P<qualifier>.+))?$")
_BANDS = {
    "Higher Skilled": SkillBand.higher_skilled,
    "Medium Skilled": SkillBand.medium_skilled,
    "Ineligible": SkillBand.ineligible,
}


def normalise_skill_level(label: str) -> tuple[SkillBand, SkillCondition | None, str | None]:
    """Band, qualifier and the qualifier's wording; raises ValueError on a label it does not know, so a
    new variant stops the load instead of being silently dropped."""
    match = _LABEL.match(" ".join(label.split()))
    if match is None:
        raise ValueError(f"unknown skill_level {label!r}")
    band = _BANDS[match["band"]]
    qualifier = match["qualifier"]
    if qualifier is None:
        return band, None, None
    text = qualifier.strip()
    lowered = text.lower().rstrip(".")
    if lowered == "extending in same occupation only":
        return band, SkillCondition.extending_same_occupation_only, text
    if lowered == "subject to listed conditions":
        return band, SkillCondition.subject_to_listed_conditions, text
    if lowered.startswith("only "):
        return band, SkillCondition.restricted_job_types, text
    raise ValueError(f"unknown skill_level qualifier {text!r} in {label!r}")


def build_occupation(
    code: str,
    raw: RawOccupation,
    header: OccupationsFile,
    dataset: OccupationDataset,
    origin: Origin,
    file: str,
) -> Occupation:
    band, condition, condition_text = normalise_skill_level(raw.skill_level)
    return Occupation(
        code=code,
        title=raw.job_type.rstrip("."),
        skill_band=band,
        skill_condition=condition,
        condition_text=condition_text,
        skill_level_label=raw.skill_level,
        going_rates=GoingRates(
            standard=raw.going_rate,
            lower=raw.lower_going_rate,
            new_entrant=raw.new_entrant_rate,
            new_entrant_lower=raw.new_entrant_lower_rate,
            phd_non_stem=raw.phd_non_stem_rate,
            phd_stem=raw.phd_stem_rate,
            phd_non_stem_lower=raw.phd_non_stem_lower_rate,
            phd_stem_lower=raw.phd_stem_lower_rate,
            note=raw.going_rate_note,
        ),
        temporary_shortage_list=raw.temporary_shortage_list,
        immigration_salary_list=raw.immigration_salary_list,
        hours_per_week_basis=header.hours_per_week_basis,
        national_pay_scale_urls=tuple(header.national_pay_scale_urls),
        dataset_id=dataset.id,
        effective_from=dataset.effective_from,
        effective_to=dataset.effective_to,
        source=dataset.source,
        status=dataset.status,
        origin=origin,
        file=file,
    )


_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> tuple[str, ...]:
    """Lower-case words for search ("Customer service supervisors" -> customer, service, supervisors)."""
    return tuple(_WORD.findall(text.lower()))

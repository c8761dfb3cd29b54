"""Loading, validating and overriding the rules data (design §4)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from app.rules import EligibilityStatus, RuleBook, RulesError, load_rulebook
from app.rules.models import MatchKind, Origin, SkillBand, SkillCondition
from app.rules.occupations import normalise_skill_level
from tests.support.rules import SOURCE, assess, money_rule, write_occupations, write_rules

HC_997 = date(2025, 7, 22)
DASH = "\N{EN DASH}"  # the tables' labels use it
ARTISTS = {
    "job_type": "Artists",
    "skill_level": "Medium Skilled",
    "going_rate": 38200,
    "lower_going_rate": 26600,
    "immigration_salary_list": {
        "job_types": f"Artists {DASH} all jobs",
        "areas": "UK wide",
        "rate": 40000,
        "lower_rate": 26600,
    },
}


def problems_of(override: Path) -> list[str]:
    with pytest.raises(RulesError) as caught:
        load_rulebook(override)
    return caught.value.problems


# --- shipped data -------------------------------------------------------------------------------------


def test_shipped_data_loads_all_412_occupations(book: RuleBook) -> None:
    assert len(book.occupation_codes()) == 412
    datasets = book.describe().occupation_datasets
    assert [(d.dataset.id, d.occupation_count, d.origin) for d in datasets] == [
        ("occupations.skilled_worker", 412, Origin.shipped)
    ]


@pytest.mark.parametrize(
    ("label", "band", "condition"),
    [
        ("Higher Skilled", SkillBand.higher_skilled, None),
        (
            f"Medium Skilled{DASH} extending in same occupation only",
            SkillBand.medium_skilled,
            SkillCondition.extending_same_occupation_only,
        ),
        (
            f"Medium Skilled {DASH} extending in same occupation only",
            SkillBand.medium_skilled,
            SkillCondition.extending_same_occupation_only,
        ),
        (
            f"Medium Skilled {DASH} Subject to listed conditions",
            SkillBand.medium_skilled,
            SkillCondition.subject_to_listed_conditions,
        ),
        (
            f"Medium Skilled {DASH} ONLY Vent chick sexer or Deckhand on large fishing vessel (9 metres and above)",
            SkillBand.medium_skilled,
            SkillCondition.restricted_job_types,
        ),
        ("Ineligible", SkillBand.ineligible, None),
    ],
)
def test_skill_level_variants_are_normalised_not_dropped(
    label: str, band: SkillBand, condition: SkillCondition | None
) -> None:
    assert normalise_skill_level(label)[:2] == (band, condition)


def test_skill_level_variants_in_the_shipped_data(book: RuleBook) -> None:
    conditions = [book.occupation(code, HC_997).skill_condition for code in book.occupation_codes()]
    assert conditions.count(SkillCondition.extending_same_occupation_only) == 9
    assert conditions.count(SkillCondition.subject_to_listed_conditions) == 2
    assert conditions.count(SkillCondition.restricted_job_types) == 1
    assert str(book.occupation("9119", HC_997).condition_text).startswith("ONLY Vent chick sexer")


def test_unknown_skill_level_label_stops_the_load(tmp_path: Path) -> None:
    write_occupations(tmp_path, "skilled-worker-occupations-2025-11.json", {"3411": {**ARTISTS, "skill_level": "Low"}})
    assert any("occupation 3411" in p and "unknown skill_level 'Low'" in p for p in problems_of(tmp_path))


def test_describe_lists_files_rules_windows_and_sources(book: RuleBook) -> None:
    description = book.describe()
    assert description.override_dir is None
    assert {f.file for f in description.files} >= {
        "shipped/salary.yaml",
        "shipped/skilled-worker-occupations-2025-11.json",
    }
    isc = next(rule for rule in description.rules if rule.id == "isc.fee.first_period.medium_large")
    assert [(w.entry.effective_from, w.entry.value, w.origin) for w in isc.windows] == [
        (date(2017, 4, 6), Decimal("1000.00"), Origin.shipped),
        (date(2025, 12, 16), Decimal("1320.00"), Origin.shipped),
    ]
    assert description.model_dump_json()  # serialisable for GET /v1/rules


# --- search ---------------------------------------------------------------------------------------------


def test_search_ranks_exact_code_then_prefix_then_all_words_then_some(book: RuleBook) -> None:
    assert [(m.match, m.occupation.code) for m in book.search_occupations("7220", HC_997, 2)] == [
        (MatchKind.exact_code, "7220")
    ]
    prefix = book.search_occupations("72", HC_997, 50)
    assert prefix and all(m.match is MatchKind.code_prefix and m.occupation.code.startswith("72") for m in prefix)
    words = book.search_occupations("customer superv", HC_997, 20)
    assert (words[0].match, words[0].occupation.code) == (MatchKind.all_words, "7220")
    assert words[-1].match is MatchKind.some_words
    assert book.search_occupations("  ", HC_997) == []


# --- refusals -------------------------------------------------------------------------------------------


def test_overlapping_windows_for_one_rule_are_refused(tmp_path: Path) -> None:
    # The shipped £41,700 window is open-ended; a new window from 2026 without closing it overlaps.
    write_rules(tmp_path, "2026.yaml", [money_rule("salary.general_threshold.standard", "43000", date(2026, 4, 8))])
    problems = problems_of(tmp_path)
    assert len(problems) == 1
    assert "salary.general_threshold.standard 2026-04-08..open (override/2026.yaml) overlaps" in problems[0]


def test_overlapping_windows_within_one_file_are_refused(tmp_path: Path) -> None:
    write_rules(
        tmp_path,
        "new.yaml",
        [
            money_rule("fee.new_thing", "10", date(2026, 1, 1), date(2026, 12, 31)),
            money_rule("fee.new_thing", "12", date(2026, 6, 1)),
        ],
    )
    assert any("fee.new_thing 2026-06-01..open" in p and "overlaps" in p for p in problems_of(tmp_path))


@pytest.mark.parametrize(
    ("code", "entry", "expected"),
    [
        ("12a4", ARTISTS, "occupation code '12a4' is not 4 digits"),
        ("34111", ARTISTS, "occupation code '34111' is not 4 digits"),
        (
            "3411",
            {k: v for k, v in ARTISTS.items() if k != "job_type"},
            "occupation 3411: job_type: Field required",
        ),
        (
            "3411",
            {**ARTISTS, "job_type": " "},
            "occupation 3411: job_type: String should have at least 1 character",
        ),
    ],
)
def test_bad_occupation_code_or_missing_title_is_refused(
    tmp_path: Path, code: str, entry: dict[str, object], expected: str
) -> None:
    write_occupations(tmp_path, "skilled-worker-occupations-2025-11.json", {code: entry})
    problems = problems_of(tmp_path)
    assert any(p.startswith("override/skilled-worker-occupations-2025-11.json: ") and expected in p for p in problems)


def test_schema_errors_name_the_file_and_the_entry(tmp_path: Path) -> None:
    bad_unit = {
        "id": "licence.decision.standard",
        "kind": "duration",
        "value": {"amount": 8, "unit": "fortnights"},
        "effective_from": date(2020, 12, 1),
        "status": "confirmed",
        "source": SOURCE,
    }
    float_money = {**money_rule("visa.fee.priority", "0", date(2023, 10, 4)), "value": 500.5}
    no_source = {k: v for k, v in money_rule("fee.new_thing", "10", date(2026, 1, 1)).items() if k != "source"}
    bad_status = {**money_rule("fee.other_thing", "10", date(2026, 1, 1)), "status": "rumoured"}
    write_rules(tmp_path, "broken.yaml", [bad_unit, float_money, no_source, bad_status])
    problems = problems_of(tmp_path)
    assert len(problems) == 4, problems
    assert problems[0].startswith("override/broken.yaml: rules[0] (id 'licence.decision.standard'): value.unit:")
    assert "rules[1] (id 'visa.fee.priority'): value: Value error, write money and figures as a string" in problems[1]
    assert "rules[2] (id 'fee.new_thing'): source: Field required" in problems[2]
    assert "rules[3] (id 'fee.other_thing'): status:" in problems[3]


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    (tmp_path / "dup.yaml").write_text(
        "rules:\n  - id: fee.x\n    kind: money\n    value: '1'\n    value: '2'\n", encoding="utf-8"
    )
    assert any(
        "override/dup.yaml: cannot read YAML" in p and "duplicate key 'value'" in p for p in problems_of(tmp_path)
    )


def test_an_override_may_not_change_a_rules_value_kind(tmp_path: Path) -> None:
    write_rules(tmp_path, "kind.yaml", [money_rule("licence.action_plan", "3", date(2020, 12, 1))])
    assert any("is a money rule; the shipped rule is duration" in p for p in problems_of(tmp_path))


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    write_rules(tmp_path, "a.yaml", [money_rule("salary.general_threshold.standard", "43000", date(2026, 4, 8))])
    (tmp_path / "b.yaml").write_text("rules: [1]\n", encoding="utf-8")
    write_occupations(tmp_path, "extra.json", {"x": ARTISTS})
    problems = problems_of(tmp_path)
    assert len(problems) == 3
    with pytest.raises(RulesError, match="3 problem"):
        load_rulebook(tmp_path)


def test_missing_override_directory_is_refused(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "absent") == [
        f"override directory {tmp_path / 'absent'} does not exist or is not a directory"
    ]


# --- overrides ------------------------------------------------------------------------------------------


def test_override_replacing_a_salary_threshold_changes_the_eligibility_answer(tmp_path: Path, book: RuleBook) -> None:
    assert assess(book, "2136", date(2026, 1, 5), salary="44000").status is EligibilityStatus.eligible
    write_rules(tmp_path, "thresholds.yaml", [money_rule("salary.general_threshold.standard", "45000", HC_997)])
    overridden = load_rulebook(tmp_path)
    result = assess(overridden, "2136", date(2026, 1, 5), salary="44000")
    assert result.status is EligibilityStatus.ineligible
    assert result.salary_shortfall == Decimal("1000.00")
    windows = next(r for r in overridden.describe().rules if r.id == "salary.general_threshold.standard").windows
    assert [(w.entry.value, w.origin, w.file) for w in windows] == [
        (Decimal("38700.00"), Origin.shipped, "shipped/salary.yaml"),
        (Decimal("45000.00"), Origin.override, "override/thresholds.yaml"),
    ]


def test_override_extends_with_a_new_window_once_the_shipped_one_is_closed(tmp_path: Path) -> None:
    write_rules(
        tmp_path,
        "2026.yaml",
        [
            money_rule("salary.general_threshold.standard", "41700", HC_997, date(2026, 4, 7)),
            money_rule("salary.general_threshold.standard", "43000", date(2026, 4, 8)),
        ],
    )
    overridden = load_rulebook(tmp_path)
    assert overridden.money("salary.general_threshold.standard", date(2026, 4, 7)) == Decimal("41700")
    assert overridden.money("salary.general_threshold.standard", date(2026, 4, 8)) == Decimal("43000")


def test_override_occupation_figure_replaces_the_shipped_one(tmp_path: Path, book: RuleBook) -> None:
    on = date(2026, 1, 5)
    assert assess(book, "3411", on, salary="38200").status is EligibilityStatus.eligible
    write_occupations(tmp_path, "skilled-worker-occupations-2025-11.json", {"3411": ARTISTS})
    overridden = load_rulebook(tmp_path)
    result = assess(overridden, "3411", on, salary="38200")
    assert result.status is EligibilityStatus.ineligible
    assert result.salary_required == Decimal("40000.00")
    assert overridden.occupation("3411", on).origin is Origin.override
    assert overridden.occupation("7220", on).origin is Origin.shipped  # codes not in the override stay
    (dataset,) = overridden.describe().occupation_datasets
    assert dataset.overridden_codes == ["3411"] and dataset.occupation_count == 412


def test_a_new_occupations_dataset_needs_the_shipped_window_closed(tmp_path: Path) -> None:
    write_occupations(tmp_path, "occupations-2026.json", {"3411": ARTISTS}, effective_date="2026-04-08")
    assert any(
        "occupation 3411 2026-04-08..open (override/occupations-2026.json) overlaps" in p for p in problems_of(tmp_path)
    )
    # Re-describing the shipped dataset with an end date lets the new one follow it.
    (tmp_path / "registry.yaml").write_text(
        "occupation_datasets:\n"
        "  - id: occupations.skilled_worker\n"
        "    file: skilled-worker-occupations-2025-11.json\n"
        "    effective_from: 2025-07-22\n"
        "    effective_to: 2026-04-07\n"
        "    status: reported\n"
        f"    source: {{url: '{SOURCE['url']}', title: shipped tables (closed)}}\n",
        encoding="utf-8",
    )
    overridden = load_rulebook(tmp_path)
    before, after = (
        overridden.occupation("3411", d).immigration_salary_list for d in (date(2026, 4, 7), date(2026, 4, 8))
    )
    assert before is not None and before.rate == Decimal("38200.00")
    assert after is not None and after.rate == Decimal("40000.00")
    assert overridden.find_occupation("7220", date(2026, 4, 8)) is None

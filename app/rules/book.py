"""`RuleBook`: the loaded rules, indexed for cheap look-ups by id and date."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from app.rules.models import (
    DatasetDescription,
    DateRule,
    DayOffsetsRule,
    Duration,
    DurationRule,
    LoadedFile,
    MatchKind,
    MoneyRule,
    NumberRule,
    Occupation,
    OccupationDataset,
    OccupationMatch,
    Origin,
    RuleBookDescription,
    RuleDescription,
    RuleEntry,
    RuleValue,
    RuleWindow,
    SocCodesRule,
)
from app.rules.occupations import words


class RuleNotFound(LookupError):
    """No window of `rule_id` covers `on` (or the id is unknown)."""

    def __init__(self, rule_id: str, on: date, windows: Sequence[str] = ()) -> None:
        self.rule_id = rule_id
        self.on = on
        self.windows = tuple(windows)
        detail = f"its windows are {', '.join(windows)}" if windows else "no rule with this id is loaded"
        super().__init__(f"no rule {rule_id!r} is in force on {on}: {detail}")


class OccupationNotFound(LookupError):
    def __init__(self, code: str, on: date, windows: Sequence[str] = ()) -> None:
        self.code = code
        self.on = on
        detail = f"its data covers {', '.join(windows)}" if windows else "the code is not in the occupation tables"
        super().__init__(f"no occupation {code!r} on {on}: {detail}")


class RuleTypeError(TypeError):
    """The rule exists but holds another kind of value than the caller asked for."""


@dataclass(frozen=True)
class LoadedRule:
    entry: RuleEntry
    origin: Origin
    file: str


@dataclass(frozen=True)
class LoadedDataset:
    dataset: OccupationDataset
    origin: Origin
    files: tuple[str, ...]


_E = TypeVar("_E", MoneyRule, DurationRule, DayOffsetsRule, DateRule, NumberRule, SocCodesRule)


class RuleBook:
    """Immutable after construction; build it with `load_rulebook()` once and share it."""

    def __init__(
        self,
        *,
        rules: Iterable[LoadedRule],
        occupations: Iterable[Occupation],
        datasets: Sequence[LoadedDataset],
        files: Sequence[LoadedFile],
        override_dir: Path | None,
    ) -> None:
        by_id: dict[str, list[LoadedRule]] = {}
        for loaded in rules:
            by_id.setdefault(loaded.entry.id, []).append(loaded)
        self._rules: dict[str, tuple[LoadedRule, ...]] = {
            rule_id: tuple(sorted(items, key=lambda r: r.entry.effective_from)) for rule_id, items in by_id.items()
        }
        # Windows never overlap (the loader refuses it), so a bisect on the start dates finds the only
        # candidate window for a date.
        self._rule_starts = {k: [r.entry.effective_from for r in v] for k, v in self._rules.items()}

        by_code: dict[str, list[Occupation]] = {}
        for occupation in occupations:
            by_code.setdefault(occupation.code, []).append(occupation)
        self._occupations: dict[str, tuple[Occupation, ...]] = {
            code: tuple(sorted(items, key=lambda o: o.effective_from)) for code, items in sorted(by_code.items())
        }
        self._occupation_starts = {k: [o.effective_from for o in v] for k, v in self._occupations.items()}
        # Title words are split once here so a search is one pass over the records in force.
        self._search_index = [(o, words(o.title)) for items in self._occupations.values() for o in items]
        self._datasets = tuple(datasets)
        self._files = tuple(files)
        self._override_dir = override_dir

    # --- rules ----------------------------------------------------------------------------------------

    def rule_ids(self) -> list[str]:
        return sorted(self._rules)

    def windows(self, rule_id: str) -> tuple[RuleEntry, ...]:
        return tuple(r.entry for r in self._rules.get(rule_id, ()))

    def entry(self, rule_id: str, on: date) -> RuleEntry:
        """The entry in force on `on`, with its value, source, status and window."""
        items = self._rules.get(rule_id)
        if items is None:
            raise RuleNotFound(rule_id, on)
        index = bisect_right(self._rule_starts[rule_id], on) - 1
        if index >= 0 and items[index].entry.covers(on):
            return items[index].entry
        raise RuleNotFound(rule_id, on, [r.entry.window for r in items])

    def value(self, rule_id: str, on: date) -> RuleValue:
        return self.entry(rule_id, on).value

    def _typed(self, rule_id: str, on: date, kind: type[_E]) -> _E:
        entry = self.entry(rule_id, on)
        if not isinstance(entry, kind):
            raise RuleTypeError(f"rule {rule_id!r} holds a {entry.kind} value, not {kind.__name__}")
        return entry

    def money(self, rule_id: str, on: date) -> Decimal:
        return self._typed(rule_id, on, MoneyRule).value

    def duration(self, rule_id: str, on: date) -> Duration:
        return self._typed(rule_id, on, DurationRule).value

    def day_offsets(self, rule_id: str, on: date) -> list[int]:
        return list(self._typed(rule_id, on, DayOffsetsRule).value)

    def date_value(self, rule_id: str, on: date) -> date:
        return self._typed(rule_id, on, DateRule).value

    def number(self, rule_id: str, on: date) -> Decimal:
        return self._typed(rule_id, on, NumberRule).value

    def soc_codes(self, rule_id: str, on: date) -> list[str]:
        return list(self._typed(rule_id, on, SocCodesRule).value)

    # --- occupations ----------------------------------------------------------------------------------

    def occupation_codes(self) -> list[str]:
        return list(self._occupations)

    def occupation_windows(self, code: str) -> tuple[Occupation, ...]:
        """Every window held for `code`, oldest first (empty if the code is unknown)."""
        return self._occupations.get(code.strip(), ())

    def find_occupation(self, code: str, on: date) -> Occupation | None:
        code = code.strip()
        items = self._occupations.get(code)
        if items is None:
            return None
        index = bisect_right(self._occupation_starts[code], on) - 1
        if index >= 0 and items[index].covers(on):
            return items[index]
        return None

    def occupation(self, code: str, on: date) -> Occupation:
        found = self.find_occupation(code, on)
        if found is None:
            windows = [o.window for o in self.occupation_windows(code)]
            raise OccupationNotFound(code, on, windows)
        return found

    def search_occupations(self, q: str, on: date, limit: int = 20) -> list[OccupationMatch]:
        """Occupations in force on `on` matching `q`, best first: the exact code, codes starting with
        the digits typed, titles holding every word typed, then titles holding some of them. A word
        matches a title word it starts ("superv" finds "supervisors")."""
        query = q.strip().lower()
        if not query or limit < 1:
            return []
        tokens = words(query)
        ranked: list[tuple[int, int, str, OccupationMatch]] = []
        for occupation, title_words in self._search_index:
            if not occupation.covers(on):
                continue
            code = occupation.code
            if query == code:
                kind, matched = MatchKind.exact_code, len(tokens)
            elif query.isdigit() and code.startswith(query):
                kind, matched = MatchKind.code_prefix, len(tokens)
            else:
                matched = sum(1 for t in tokens if any(w.startswith(t) for w in title_words))
                if matched == 0:
                    continue
                kind = MatchKind.all_words if matched == len(tokens) else MatchKind.some_words
            rank = list(MatchKind).index(kind)
            ranked.append((rank, -matched, code, OccupationMatch(match=kind, occupation=occupation)))
        ranked.sort(key=lambda item: item[:3])
        return [item[3] for item in ranked[:limit]]

    # --- description ----------------------------------------------------------------------------------

    def describe(self) -> RuleBookDescription:
        """What was loaded and from where, for GET /v1/rules."""
        counts: dict[tuple[str, date], int] = {}
        overridden: dict[tuple[str, date], list[str]] = {}
        for items in self._occupations.values():
            for o in items:
                key = (o.dataset_id, o.effective_from)
                counts[key] = counts.get(key, 0) + 1
                if o.origin is Origin.override:
                    overridden.setdefault(key, []).append(o.code)
        return RuleBookDescription(
            override_dir=str(self._override_dir) if self._override_dir else None,
            files=list(self._files),
            rules=[
                RuleDescription(
                    id=rule_id,
                    kind=items[0].entry.kind,
                    windows=[RuleWindow(entry=r.entry, origin=r.origin, file=r.file) for r in items],
                )
                for rule_id, items in sorted(self._rules.items())
            ],
            occupation_datasets=[
                DatasetDescription(
                    dataset=d.dataset,
                    origin=d.origin,
                    files=list(d.files),
                    occupation_count=counts.get((d.dataset.id, d.dataset.effective_from), 0),
                    overridden_codes=overridden.get((d.dataset.id, d.dataset.effective_from), []),
                )
                for d in self._datasets
            ],
        )

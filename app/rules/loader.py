"""Load the shipped rules data plus an operator's override directory into one validated `RuleBook`.

An override entry with the same id and `effective_from` as a shipped one replaces it; any other entry
adds a window or an id. Occupations follow the same rule per SOC code, with the window taken from the
dataset registry (`occupation_datasets`). The merged result is checked as a whole and every problem is
reported at once in a single `RulesError`, so an operator fixes a bad override in one pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from app.rules.book import LoadedDataset, LoadedRule, RuleBook
from app.rules.models import (
    SOC_CODE_PATTERN,
    LoadedFile,
    Occupation,
    OccupationDataset,
    Origin,
    RuleEntry,
    RuleStatus,
    Source,
)
from app.rules.occupations import OccupationsFile, build_occupation

SHIPPED_DATA_DIR = Path(__file__).parent / "data"

_RULE_ADAPTER: TypeAdapter[RuleEntry] = TypeAdapter(RuleEntry)
_SECTIONS = ("rules", "occupation_datasets")


class RulesError(ValueError):
    """The rules data cannot be used; `problems` lists every problem found, each naming its file."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"- {p}" for p in self.problems)
        super().__init__(f"the rules data has {len(self.problems)} problem(s):\n{lines}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a doubled `value:` must fail, not pick one silently."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


@dataclass
class _Declared:
    """An occupation dataset entry and where it was declared."""

    dataset: OccupationDataset
    origin: Origin
    declared_in: str


@dataclass
class _Directory:
    origin: Origin
    rules: list[LoadedRule] = field(default_factory=list)
    datasets: list[_Declared] = field(default_factory=list)
    jsons: dict[str, Path] = field(default_factory=dict)
    yaml_files: list[LoadedFile] = field(default_factory=list)

    def label(self, path: Path) -> str:
        return f"{self.origin.value}/{path.name}"


def load_rulebook(override_dir: Path | None = None) -> RuleBook:
    """Read `app/rules/data/` and, if given, `override_dir` (SPONSORFLOW_RULES_PATH); validate the whole.

    Raises `RulesError` listing every problem. Call once at start-up and share the result: look-ups on
    the returned book are index look-ups.
    """
    problems: list[str] = []
    shipped = _read_directory(SHIPPED_DATA_DIR, Origin.shipped, problems)
    if override_dir is None or override_dir.is_dir():
        override = _read_directory(override_dir, Origin.override, problems)
    else:
        problems.append(f"override directory {override_dir} does not exist or is not a directory")
        override = _Directory(Origin.override)

    rules = _merge_rules(shipped, override, problems)
    datasets, occupations, json_files = _load_occupations(shipped, override, problems)
    if problems:
        raise RulesError(problems)
    return RuleBook(
        rules=rules,
        occupations=occupations,
        datasets=datasets,
        files=[*shipped.yaml_files, *override.yaml_files, *json_files],
        override_dir=override_dir,
    )


# --- reading files ------------------------------------------------------------------------------------


def _read_directory(path: Path | None, origin: Origin, problems: list[str]) -> _Directory:
    directory = _Directory(origin)
    for file in sorted(path.iterdir()) if path is not None else ():
        if file.suffix in (".yaml", ".yml") and file.is_file():
            _read_rules_file(directory, file, problems)
        elif file.suffix == ".json" and file.is_file():
            directory.jsons[file.name] = file
    return directory


def _read_rules_file(directory: _Directory, path: Path, problems: list[str]) -> None:
    label = directory.label(path)
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(f"{label}: cannot read YAML: {exc}")
        return
    directory.yaml_files.append(LoadedFile(file=label, origin=directory.origin, content="rules"))
    if document is None:
        return
    if not isinstance(document, dict):
        problems.append(f"{label}: the top level must be a mapping with {' and/or '.join(_SECTIONS)}")
        return
    for key in document:
        if key not in _SECTIONS:
            problems.append(f"{label}: unknown section {key!r} (expected {' or '.join(_SECTIONS)})")
    for section in _SECTIONS:
        entries = document.get(section) or []
        if not isinstance(entries, list):
            problems.append(f"{label}: {section} must be a list of entries")
            continue
        for index, raw in enumerate(entries):
            where = f"{label}: {section}[{index}]"
            if isinstance(raw, dict) and "id" in raw:
                where += f" (id {raw['id']!r})"
            try:
                if section == "rules":
                    directory.rules.append(LoadedRule(_RULE_ADAPTER.validate_python(raw), directory.origin, label))
                else:
                    dataset = OccupationDataset.model_validate(raw)
                    directory.datasets.append(_Declared(dataset, directory.origin, label))
            except ValidationError as exc:
                tag = raw.get("kind") if isinstance(raw, dict) else None
                problems.extend(f"{where}: {_describe_error(error, tag)}" for error in exc.errors())


def _describe_error(error: ErrorDetails, tag: object = None) -> str:
    location = list(error["loc"])
    if location and location[0] == tag:  # a tagged union puts the tag first; the entry already shows it
        location = location[1:]
    path = ".".join(str(part) for part in location)
    given = error.get("input")
    shown = f" (got {given!r})" if isinstance(given, str | int | float | Decimal | date) else ""
    return f"{path + ': ' if path else ''}{error['msg']}{shown}"


def _read_occupations_file(path: Path, label: str, problems: list[str]) -> OccupationsFile | None:
    try:
        # parse_float=Decimal: a rate like 25000.5 must stay exact (money never passes through float)
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{label}: cannot read JSON: {exc}")
        return None
    try:
        return OccupationsFile.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            location = list(error["loc"])
            if len(location) >= 2 and location[0] == "occupations":
                error["loc"] = tuple(location[2:])
                problems.append(f"{label}: occupation {location[1]}: {_describe_error(error)}")
            else:
                problems.append(f"{label}: {_describe_error(error)}")
        return None


# --- merging and whole-book checks --------------------------------------------------------------------

_T = TypeVar("_T")


def _merge(
    shipped: Iterable[_T],
    override: Iterable[_T],
    key: Callable[[_T], Hashable],
    where: Callable[[_T], str],
    problems: list[str],
) -> tuple[list[_T], set[Hashable]]:
    """Override items replace shipped items with the same key; a key twice within one origin is an
    error. Returns the merged items and the keys the shipped side defined."""
    merged: dict[Hashable, _T] = {}
    shipped_keys: set[Hashable] = set()
    for items, is_shipped in ((shipped, True), (override, False)):
        seen: dict[Hashable, _T] = {}
        for item in items:
            k = key(item)
            if k in seen:
                problems.append(f"{where(item)} repeats {where(seen[k])}: same id and effective_from")
                continue
            seen[k] = item
            merged[k] = item
            if is_shipped:
                shipped_keys.add(k)
    return list(merged.values()), shipped_keys


def _check_windows(
    items: Iterable[_T],
    ident: Callable[[_T], str],
    window: Callable[[_T], tuple[date, date | None]],
    where: Callable[[_T], str],
    problems: list[str],
) -> None:
    """Refuse overlapping windows for one id, so a date never has two answers."""
    groups: dict[str, list[_T]] = {}
    for item in items:
        groups.setdefault(ident(item), []).append(item)
    for group in groups.values():
        group.sort(key=lambda item: window(item)[0])
        # Compare each window with the one reaching furthest so far, which catches a long window
        # that spans several later ones, not only neighbours.
        furthest = group[0]
        furthest_end = window(furthest)[1]
        for item in group[1:]:
            start, end = window(item)
            if furthest_end is None or furthest_end >= start:
                problems.append(f"{where(item)} overlaps {where(furthest)}")
            if furthest_end is not None and (end is None or end > furthest_end):
                furthest, furthest_end = item, end


def _rule_where(loaded: LoadedRule) -> str:
    return f"rule {loaded.entry.id} {loaded.entry.window} ({loaded.file})"


def _merge_rules(shipped: _Directory, override: _Directory, problems: list[str]) -> list[LoadedRule]:
    shipped_kinds = {r.entry.id: r.entry.kind for r in shipped.rules}
    for loaded in override.rules:
        expected = shipped_kinds.get(loaded.entry.id)
        if expected is not None and loaded.entry.kind != expected:
            problems.append(f"{_rule_where(loaded)} is a {loaded.entry.kind} rule; the shipped rule is {expected}")
    merged, _ = _merge(
        shipped.rules, override.rules, lambda r: (r.entry.id, r.entry.effective_from), _rule_where, problems
    )
    kinds: dict[str, set[str]] = {}
    for loaded in merged:
        kinds.setdefault(loaded.entry.id, set()).add(loaded.entry.kind)
    for rule_id, found in sorted(kinds.items()):
        if len(found) > 1:
            problems.append(f"rule {rule_id} mixes value kinds across its windows: {', '.join(sorted(found))}")
    _check_windows(
        merged,
        lambda r: r.entry.id,
        lambda r: (r.entry.effective_from, r.entry.effective_to),
        _rule_where,
        problems,
    )
    return merged


# --- occupations --------------------------------------------------------------------------------------


def _dataset_where(declared: _Declared) -> str:
    return f"occupation dataset {declared.dataset.id} {declared.dataset.window} ({declared.declared_in})"


def _occupation_where(occupation: Occupation) -> str:
    return f"occupation {occupation.code} {occupation.window} ({occupation.file})"


def _load_occupations(
    shipped: _Directory, override: _Directory, problems: list[str]
) -> tuple[list[LoadedDataset], list[Occupation], list[LoadedFile]]:
    declared, shipped_keys = _merge(
        shipped.datasets,
        override.datasets,
        lambda d: (d.dataset.id, d.dataset.effective_from),
        _dataset_where,
        problems,
    )
    parsed: dict[Path, OccupationsFile | None] = {}

    def parse(directory: _Directory, path: Path) -> OccupationsFile | None:
        if path not in parsed:
            parsed[path] = _read_occupations_file(path, directory.label(path), problems)
        return parsed[path]

    # An override JSON no registry entry names describes its own window: from its effective_date.
    named = {d.dataset.file for d in declared}
    for name, path in sorted(override.jsons.items()):
        if name in named:
            continue
        header = parse(override, path)
        if header is not None:
            synthesised = _self_described(name, header, override.label(path), problems)
            if synthesised is not None:
                declared.append(_Declared(synthesised, Origin.override, override.label(path)))

    datasets: list[LoadedDataset] = []
    shipped_items: list[Occupation] = []
    override_items: list[Occupation] = []
    used_files: dict[str, LoadedFile] = {}
    for entry in declared:
        dataset = entry.dataset
        shipped_copy = shipped.jsons.get(dataset.file)
        override_copy = override.jsons.get(dataset.file)
        copies: list[tuple[_Directory, Path]] = []
        # The shipped file feeds a shipped window (even one re-described by an override entry); an
        # override file of the same name then replaces its codes one by one.
        is_shipped_window = (dataset.id, dataset.effective_from) in shipped_keys
        if shipped_copy is not None and (is_shipped_window or override_copy is None):
            copies.append((shipped, shipped_copy))
        if override_copy is not None:
            copies.append((override, override_copy))
        if not copies:
            problems.append(f"{_dataset_where(entry)}: file {dataset.file} is in neither data directory")
            continue
        for directory, path in copies:
            header = parse(directory, path)
            if header is None:
                continue
            label = directory.label(path)
            used_files[label] = LoadedFile(file=label, origin=directory.origin, content="occupations")
            target = shipped_items if directory.origin is Origin.shipped else override_items
            target.extend(_occupations_of(header, dataset, directory.origin, label, problems))
        datasets.append(
            LoadedDataset(dataset, entry.origin, tuple(directory.label(path) for directory, path in copies))
        )

    occupations, _ = _merge(
        shipped_items, override_items, lambda o: (o.code, o.effective_from), _occupation_where, problems
    )
    _check_windows(
        occupations,
        lambda o: o.code,
        lambda o: (o.effective_from, o.effective_to),
        _occupation_where,
        problems,
    )
    return datasets, occupations, list(used_files.values())


def _occupations_of(
    header: OccupationsFile, dataset: OccupationDataset, origin: Origin, label: str, problems: list[str]
) -> list[Occupation]:
    found: list[Occupation] = []
    for code, raw in header.occupations.items():
        if re.fullmatch(SOC_CODE_PATTERN, code) is None:
            problems.append(f"{label}: occupation code {code!r} is not 4 digits (SOC 2020 unit group)")
            continue
        try:
            found.append(build_occupation(code, raw, header, dataset, origin, label))
        except ValueError as exc:  # pydantic's ValidationError is a ValueError too
            problems.append(f"{label}: occupation {code}: {exc}")
    return found


def _self_described(name: str, header: OccupationsFile, label: str, problems: list[str]) -> OccupationDataset | None:
    slug = re.sub(r"[^a-z0-9]+", "_", Path(name).stem.lower()).strip("_") or "file"
    try:
        return OccupationDataset(
            id=f"occupations.{slug}",
            file=name,
            effective_from=header.effective_date,
            source=Source(url=header.source_url or "", title=f"{header.route or 'Occupations'} data in {name}"),
            status=RuleStatus.reported,
            note="No occupation_datasets entry names this file: its window starts on its effective_date.",
        )
    except ValidationError:
        problems.append(
            f"{label}: has no usable source_url; add an occupation_datasets entry (id, file, "
            "effective_from, source, status) for it"
        )
        return None

from __future__ import annotations

import re
from typing import Any

import pytest

from app.workflow import HIRE, LICENCE, Workflow, render

_ENTRY = re.compile(r"^    \[\*\] --> (\w+)$")
_EXIT = re.compile(r"^    (\w+) --> \[\*\]$")
_EDGE = re.compile(r"^    (\w+) --> (\w+) : (\w+)( \(system\))?$")


@pytest.mark.parametrize("workflow", [HIRE, LICENCE], ids=lambda w: w.name)
def test_diagram_draws_every_edge_of_the_definition_and_nothing_else(workflow: Workflow[Any]) -> None:
    lines = render(workflow).splitlines()
    assert lines[0] == "stateDiagram-v2"

    entries, exits, edges = [], [], []
    for line in lines[1:]:
        if entry := _ENTRY.match(line):
            entries.append(entry[1])
        elif exit_ := _EXIT.match(line):
            exits.append(exit_[1])
        elif edge := _EDGE.match(line):
            edges.append((edge[1], edge[2], edge[3], edge[4] is not None))
        else:
            pytest.fail(f"unexpected line in the diagram: {line!r}")

    assert entries == list(workflow.entry_states)
    assert sorted(exits) == sorted(s.name for s in workflow.states if s.terminal)
    assert sorted(edges) == sorted(
        (source, a.dest or source, a.name, a.system) for a in workflow.actions for source in a.sources
    )


def test_in_state_actions_are_self_loops() -> None:
    assert "    employed --> employed : record_absence" in render(HIRE).splitlines()
    assert "    suspended --> suspended : make_representations" in render(LICENCE).splitlines()

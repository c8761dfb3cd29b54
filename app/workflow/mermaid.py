"""Mermaid `stateDiagram-v2` drawn from the same definition the engine runs, so the picture cannot
drift from the behaviour."""

from __future__ import annotations

from typing import Any

from app.workflow.definitions import Workflow


def render(workflow: Workflow[Any]) -> str:
    """One edge per (source, destination, action); in-state actions are self-loops; system actions
    are labelled `(system)`; entry states come from `[*]` and terminal states lead to it."""
    lines = ["stateDiagram-v2"]
    lines += [f"    [*] --> {state}" for state in workflow.entry_states]
    for action in workflow.actions:
        label = f"{action.name} (system)" if action.system else action.name
        for source in action.sources:
            lines.append(f"    {source} --> {action.dest or source} : {label}")
    lines += [f"    {state.name} --> [*]" for state in workflow.states if state.terminal]
    return "\n".join(lines) + "\n"

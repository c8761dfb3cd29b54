"""The licence and hire workflows: definitions as data, pure guards, the engine, and diagrams."""

from app.workflow.definitions import HIRE, LICENCE, WORKFLOWS, Action, State, Workflow, describe
from app.workflow.engine import (
    ActionNotAvailable,
    ActionRefused,
    Applied,
    AvailableAction,
    Settlement,
    apply,
    available_actions,
    machine_for,
)
from app.workflow.guards import (
    Condition,
    Facts,
    Guard,
    GuardInput,
    HireSubject,
    Subject,
)
from app.workflow.mermaid import render

__all__ = [
    "HIRE",
    "LICENCE",
    "WORKFLOWS",
    "Action",
    "ActionNotAvailable",
    "ActionRefused",
    "Applied",
    "AvailableAction",
    "Condition",
    "Facts",
    "Guard",
    "GuardInput",
    "HireSubject",
    "Settlement",
    "State",
    "Subject",
    "Workflow",
    "apply",
    "available_actions",
    "describe",
    "machine_for",
    "render",
]
